"""Choosing between forward and reverse mode, and saying why.

The full Jacobian of ``f: R^n -> R^m`` takes ``n`` tangent directions in
forward mode and ``m`` cotangents in reverse mode. adkit carries all of them
at once (vector mode, vectorized sweeps), so each mode costs a part per
operation of ``f`` (Python dispatch; reverse mode also records and replays
a tape) and a part that grows with the number of directions (NumPy work).
The model prices both from one recorded evaluation of ``f``: its number of
operations and its flop-equivalents (each rule declares an estimate):

    cost = per_call + per_op · ops + per_flop · flops + per_direction_flop · k · linear
           + per_seed_entry · k² + per_jacobian_entry · n m

with k = n directions forward and k = m cotangents in reverse, ``linear``
the flops of one direction through the linearized computation, and the
seed and Jacobian terms for the identity seeds and the assembled result. The
constants (``FORWARD`` and ``REVERSE``) were fitted by ``benchmarks/calibrate_modes.py`` (least squares
on relative error over dense layers, elementwise maps, reductions and long
chains, n and m from 1 to 10,000), single-threaded, on this project's
reference machine; rerun it and paste its output here when the engines
change. Fixed weights such as CasADi's and ADOL-C's 2:1 ignore the per-op
part, which dominates for small arrays in Python.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adkit.core import size_of
from adkit.formatting import duration
from adkit.pytree import flatten


@dataclass(frozen=True)
class Costs:
    """Seconds per unit of each part of a mode's work (fitted by benchmarks/calibrate_modes.py)."""

    per_call: float  # the front end: checking inputs, seeding, assembling
    per_op: float  # Python dispatch per operation (and recording/replaying it in reverse mode)
    per_flop: float  # NumPy work per primal flop-equivalent
    per_direction_flop: float  # per direction, per flop of the linearized computation
    per_seed_entry: float  # the identity seed: n^2 entries forward, m^2 reverse
    per_jacobian_entry: float  # assembling the m-by-n result


# Fitted by benchmarks/calibrate_modes.py on 2026-11-22 (Intel Xeon, x86_64, Python 3.11.7,
# NumPy 2.4.6 with OpenBLAS, one thread, pinned to one CPU): median relative error of the
# fit 15%; on the calibration grid the model's choice was never slower than 1.13x the faster mode.
FORWARD = Costs(
    per_call=6.9e-05,
    per_op=4.33e-06,
    per_flop=3.3e-10,
    per_direction_flop=5.31e-11,
    per_seed_entry=2.93e-09,
    per_jacobian_entry=9.08e-09,
)
REVERSE = Costs(
    per_call=8.85e-05,
    per_op=4.27e-06,
    per_flop=1.28e-10,
    per_direction_flop=7.18e-11,
    per_seed_entry=3.89e-09,
    per_jacobian_entry=4.7e-09,
)


@dataclass(frozen=True)
class Workload:
    """What one evaluation of a function costs, read off its tape.

    ``ops``: operations; ``flops``: flop-equivalents of the primal
    computation; ``linear``: flops of pushing one direction through the
    linearized computation (one multiply-add per element for an elementwise
    operation, the full product for ``matmul``).
    """

    ops: int
    flops: float
    linear: float


def workload_of(tape: Any) -> Workload:
    """The workload of the computation recorded on ``tape`` (inputs excluded).

    >>> import numpy as np
    >>> from adkit.reverse import Tape
    >>> tape = Tape(); x = tape.leaf(np.ones(3))
    >>> _ = np.sin(x) * 2.0
    >>> workload_of(tape)
    Workload(ops=2, flops=27.0, linear=6.0)
    """
    ops, flops, linear = 0, 0.0, 0.0
    for node in tape.nodes:
        prim = node.primitive
        if prim is None:
            continue
        ops += 1
        work = prim.work(node.value, node.operands, node.params)
        flops += work
        if type(node.value) is float:  # an operation on Python floats: one multiply-add per direction
            linear += 1.0
        elif prim.elementwise:
            traced = sum(p is not None for p in node.inputs)
            linear += traced * size_of(node.value)
        else:
            linear += work
    return Workload(ops, flops, linear)


#: A typical small function (a few operations on arrays of a few hundred
#: elements), for estimates made without a recorded evaluation.
TYPICAL = Workload(ops=6, flops=20_000.0, linear=5_000.0)


def estimate(n: int, m: int, work: Workload = TYPICAL) -> tuple[float, float]:
    """Estimated seconds for the full Jacobian in forward and in reverse mode.

    >>> fwd, rev = estimate(1000, 1)
    >>> rev < fwd
    True
    """

    def cost(c: Costs, directions: int) -> float:
        return (
            c.per_call
            + c.per_op * work.ops
            + c.per_flop * work.flops
            + c.per_direction_flop * directions * work.linear
            + c.per_seed_entry * directions**2
            + c.per_jacobian_entry * n * m
        )

    return cost(FORWARD, n), cost(REVERSE, m)


#: The largest number of inputs :func:`reverse_wins_from` looks at.
CROSSOVER_LIMIT = 2**40


def reverse_wins_from(m: int, work: Workload = TYPICAL) -> int | None:
    """The fewest inputs n at which the model prices reverse mode below forward mode.

    ``min {n : forward(n, m) > reverse(n, m)}`` for a function with ``m``
    outputs and ``work`` per evaluation, from :func:`estimate`; ``None`` when
    forward mode stays cheaper up to ``CROSSOVER_LIMIT``. Every term of the
    model that grows with n grows faster in forward mode (n directions)
    than in reverse mode (a wider Jacobian to assemble), so the difference
    grows with n and the first n where reverse is cheaper is found by
    doubling and then bisecting.

    >>> work = Workload(ops=5, flops=17.0, linear=5.0)
    >>> n = reverse_wins_from(1, work)
    >>> [fwd > rev for fwd, rev in (estimate(n - 1, 1, work), estimate(n, 1, work))]
    [False, True]
    """

    def reverse_cheaper(n: int) -> bool:
        fwd, rev = estimate(n, m, work)
        return rev < fwd

    if reverse_cheaper(1):
        return 1
    low, high = 1, 2  # forward is cheaper at low; doubling finds a high where reverse is cheaper
    while not reverse_cheaper(high):
        if high >= CROSSOVER_LIMIT:
            return None
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if reverse_cheaper(mid) else (mid, high)
    return high


@dataclass(frozen=True)
class ModeChoice:
    """The mode ``diff(f, mode="auto")`` picks for given inputs, and why.

    Costs are the model's estimates in seconds (see :func:`estimate`).
    ``reverse_from`` is the number of inputs from which the model has reverse
    mode cheaper, for the same number of outputs and the same work per
    evaluation (:func:`reverse_wins_from`; ``None``: never, up to 2⁴⁰).

    >>> f = lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2)
    >>> choice = adkit.diff(f, argnums=(0, 1)).explain(2.0, 5.0)
    >>> choice.mode, choice.n, choice.m, choice.reverse_from > 2
    ('forward', 2, 1, True)
    """

    mode: str
    n: int
    m: int
    cost_forward: float
    cost_reverse: float
    reason: str
    ops: int = 0
    flops: float = 0.0
    reverse_from: int | None = None

    @property
    def ratio(self) -> float:
        """How many times cheaper the chosen mode is estimated to be."""
        slow, fast = sorted((self.cost_forward, self.cost_reverse), reverse=True)
        return slow / fast if fast > 0 else float("inf")

    def __repr__(self) -> str:
        return (
            f"ModeChoice(mode={self.mode!r}, n={self.n}, m={self.m}, "
            f"cost_forward={duration(self.cost_forward)}, cost_reverse={duration(self.cost_reverse)})\n"
            f"  {self.reason}"
        )

    def _repr_html_(self) -> str:
        crossover = "never" if self.reverse_from is None else f"n = {self.reverse_from}"
        cells = (
            self.mode,
            self.n,
            self.m,
            duration(self.cost_forward),
            duration(self.cost_reverse),
            crossover,
        )
        row = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        return (
            "<table><tr><th>mode</th><th>n (inputs)</th><th>m (outputs)</th>"
            "<th>est. forward</th><th>est. reverse</th><th>reverse cheaper from</th></tr>"
            f"<tr>{row}</tr></table><p>{html.escape(self.reason)}</p>"
        )


def _count(k: int, word: str) -> str:
    """``1 output``, ``2 outputs``, ``1000 inputs``."""
    return f"{k} {word}{'s' * (k != 1)}"


def decide(n: int, m: int, work: Workload, requested: str = "auto") -> ModeChoice:
    """The mode for a Jacobian of size m x n of a function with this workload, and why in words.

    The reason says what each mode would do here (n tangent directions in one
    forward pass; a tape recorded, then m cotangents swept back), which one
    the model prices cheaper and by how much, and from how many inputs
    reverse mode would win (:func:`reverse_wins_from`): for small functions
    the fixed cost of recording and sweeping a tape can outweigh a few
    directions of forward mode, even for a gradient.

    >>> import textwrap
    >>> print(textwrap.fill(decide(2, 1, Workload(ops=5, flops=17.0, linear=5.0)).reason, 100))
    ... # doctest: +ELLIPSIS
    forward mode, about 1.2x cheaper (estimated ... µs against ... µs for reverse mode). f has n = 2
    inputs and m = 1 output: reverse mode would get the gradient in one sweep, but it first records the
    5 operations on a tape and then sweeps it back, and for a function this small (5 operations, 17
    flops per evaluation) that costs more than carrying 2 tangent directions through one forward pass.
    With this much work per evaluation and m = 1, reverse mode is cheaper from n = ... inputs on.
    """
    fwd, rev = estimate(n, m, work)
    crossover = reverse_wins_from(m, work)
    if requested in ("forward", "reverse"):
        reason = f"mode={requested!r} was requested"
        return ModeChoice(requested, n, m, fwd, rev, reason, work.ops, work.flops, crossover)
    mode = "forward" if fwd <= rev else "reverse"
    ratio = max(fwd, rev) / max(min(fwd, rev), 1e-12)
    other = "reverse" if mode == "forward" else "forward"
    head = (
        f"{mode} mode, about {ratio:.2g}x cheaper (estimated {duration(min(fwd, rev))} against "
        f"{duration(max(fwd, rev))} for {other} mode). f has n = {_count(n, 'input')} and "
        f"m = {_count(m, 'output')}: "
    )
    operations = _count(work.ops, "operation")
    size = f"{operations}, {work.flops:.3g} flops per evaluation"
    if mode == "reverse":
        directions = _count(n, "tangent direction")
        body = (
            f"reverse mode records the {operations} on a tape and sweeps it back with "
            f"{_count(m, 'cotangent')}, where forward mode would carry {directions}."
        )
    elif n == 1:
        back = "" if m == 1 else f" and sweep {m} cotangents back"
        body = (
            f"one forward pass with one tangent direction gives every derivative, where reverse mode "
            f"would first record a tape{back}."
        )
    elif m < n:
        what = "the gradient in one sweep" if m == 1 else f"the Jacobian in {m} sweeps"
        body = (
            f"reverse mode would get {what}, but it first records the {operations} on a tape and "
            f"then sweeps it back, and for a function this small ({size}) that costs more than "
            f"carrying {n} tangent directions through one forward pass."
        )
    else:
        body = (
            f"forward mode carries {_count(n, 'tangent direction')} through one pass, where reverse mode "
            f"would record a tape and sweep back {_count(m, 'cotangent')}."
        )
    if crossover is None:
        tail = f" With this much work per evaluation and m = {m}, forward mode stays cheaper at any n."
    else:
        tail = (
            f" With this much work per evaluation and m = {m}, reverse mode is cheaper from "
            f"n = {_count(crossover, 'input')} on."
        )
    return ModeChoice(mode, n, m, fwd, rev, head + body + tail, work.ops, work.flops, crossover)


def probe(f: Callable, inputs: Any, record: Callable, requested: str = "auto") -> tuple[ModeChoice, Any]:
    """Evaluate ``f`` once on a tape and decide; the tape is returned for reuse."""
    tape, out = record(f, inputs)
    m = sum(size_of(y) for y in flatten(out)[0])
    return decide(inputs.n, m, workload_of(tape), requested), (tape, out)
