"""Make the running example's pictures for the docs and the README: ``python docs/make_figures.py``.

Writes, from f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5) (Baydin et al.
2018, Tables 2 and 3):

* ``docs/_static/running_example_graph.png``: the computational graph with
  primal values, adjoints flowing back and local partials on the edges;
* ``docs/_static/running_example_trace.png``: the evaluation trace table
  (primal, tangent along e1, adjoint).

The output is deterministic: matplotlib's default style with fixed fonts,
the Agg backend, and no software version or date in the PNG metadata, so
running it again on the same versions rewrites identical bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

import adkit

STATIC = Path(__file__).resolve().parent / "_static"
STYLE = {"font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans", "text.hinting": "none"}
DPI = 110


def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def save(fig: plt.Figure, name: str) -> Path:
    path = STATIC / name
    fig.savefig(
        path, dpi=DPI, metadata={"Software": None}, facecolor="white", bbox_inches="tight", pad_inches=0.1
    )
    plt.close(fig)
    return path


def main() -> int:
    STATIC.mkdir(exist_ok=True)
    written = []
    with matplotlib.style.context("default"), matplotlib.rc_context(STYLE):
        graph = adkit.graph(running_example, 2.0, 5.0)
        ax = graph.draw(show=("value", "adjoint", "partial"))
        written.append(save(ax.figure, "running_example_graph.png"))
        ax = adkit.trace(running_example, 2.0, 5.0).draw()
        written.append(save(ax.figure, "running_example_trace.png"))
    for path in written:
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
