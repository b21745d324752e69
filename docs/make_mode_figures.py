"""Draw the figures of the docs that come from measurements.

* ``docs/_static/mode_heatmap.png``: which of forward and reverse mode wins
  on dense layers ``x ↦ tanh(W₂ tanh(W₁ x))`` over a grid of (n, m), and by
  what factor (``adkit.compare_modes``, measured on this machine);
* ``docs/_static/error_vs_step.png``: the error of forward, central and
  complex-step differences of ``exp`` at 1 against the step
  (``adkit.numerical.error_vs_step``).

Run from the repository root: ``.venv/bin/python docs/make_mode_figures.py``
(about half a minute). Timings differ between machines and runs; the
picture's shape does not.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

from adkit.compare import compare_modes
from adkit.numerical import error_vs_step

STATIC = Path(__file__).resolve().parent / "_static"
SIZES = (1, 4, 16, 64, 256, 1024)


def main() -> None:
    STATIC.mkdir(exist_ok=True)
    comparison = compare_modes(
        "dense", ns=SIZES, ms=SIZES, repeats=5, methods=("forward", "reverse", "auto"), memory=False
    )
    comparison.plot("heatmap").savefig(STATIC / "mode_heatmap.png", dpi=110)
    print(comparison.to_markdown())
    error_vs_step(np.exp, 1.0).plot().savefig(STATIC / "error_vs_step.png", dpi=110)
    print(f"wrote {STATIC / 'mode_heatmap.png'} and {STATIC / 'error_vs_step.png'}")


if __name__ == "__main__":
    main()
