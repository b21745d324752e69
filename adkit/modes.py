"""Choosing between forward and reverse mode, and saying why.

The full Jacobian of ``f: R^n -> R^m`` costs ``n`` tangent directions in
forward mode and ``m`` cotangents in reverse mode. adkit carries all of them
at once (vector mode, vectorized sweeps), so the cost of each mode is a
fixed part (one evaluation, plus taping in reverse mode) and a part that
grows with the number of directions. The constants below are measured on
adkit's own engines (see ``benchmarks/``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adkit.core import shape_of
from adkit.pytree import flatten

#: Cost of one evaluation of f with k forward directions, in units of a plain
#: evaluation: FORWARD_BASE + FORWARD_PER_DIRECTION * k.
FORWARD_BASE = 1.6
FORWARD_PER_DIRECTION = 0.5
#: Cost of recording f on a tape and sweeping back m cotangents:
#: REVERSE_BASE + REVERSE_PER_COTANGENT * m.
REVERSE_BASE = 2.5
REVERSE_PER_COTANGENT = 0.5


@dataclass(frozen=True)
class ModeChoice:
    """The mode ``diff(f, mode="auto")`` picks for given inputs, and why."""

    mode: str
    n: int
    m: int
    cost_forward: float
    cost_reverse: float
    reason: str

    def __repr__(self) -> str:
        return (
            f"ModeChoice(mode={self.mode!r}, n={self.n}, m={self.m}, "
            f"cost_forward={self.cost_forward:.3g}, cost_reverse={self.cost_reverse:.3g})\n"
            f"  {self.reason}"
        )

    def _repr_html_(self) -> str:
        return (
            "<table><tr><th>mode</th><th>n (inputs)</th><th>m (outputs)</th>"
            "<th>est. forward</th><th>est. reverse</th></tr>"
            f"<tr><td><b>{self.mode}</b></td><td>{self.n}</td><td>{self.m}</td>"
            f"<td>{self.cost_forward:.3g}</td><td>{self.cost_reverse:.3g}</td></tr></table>"
            f"<p>{html.escape(self.reason)}</p>"
        )


def estimate(n: int, m: int) -> tuple[float, float]:
    """Estimated costs of the full Jacobian in forward and reverse mode (in evaluations of f)."""
    return FORWARD_BASE + FORWARD_PER_DIRECTION * n, REVERSE_BASE + REVERSE_PER_COTANGENT * m


def choose_mode(
    f: Callable, inputs: Any, record: Callable, requested: str = "auto"
) -> tuple[ModeChoice, Any]:
    """Pick a mode from n and m; returns the choice and the recorded tape (to reuse)."""
    n = inputs.n
    tape, out = record(f, inputs)
    m = sum(int(_size(y)) for y in flatten(out)[0])
    cost_f, cost_r = estimate(n, m)
    if requested in ("forward", "reverse"):
        return ModeChoice(requested, n, m, cost_f, cost_r, f"mode={requested!r} was requested"), (tape, out)
    mode = "forward" if cost_f <= cost_r else "reverse"
    reason = (
        f"{mode} mode: n = {n} input(s), m = {m} output(s); forward costs about "
        f"{cost_f:.3g} evaluations of f, reverse about {cost_r:.3g}"
    )
    return ModeChoice(mode, n, m, cost_f, cost_r, reason), (tape, out)


def _size(x: Any) -> int:
    s = 1
    for d in shape_of(x):
        s *= d
    return s
