"""The sweeps, one variable at a time: what is known after each step, forward or reverse.

The **forward sweep** evaluates the variables in trace order ``v_{1-n} .. v_l``;
at each step the active variable gets its primal value and its tangent
``v̇_j = Σ_i (∂v_j/∂v_i) v̇_i`` from variables already known.

The **reverse sweep** (after the forward pass has computed every primal)
visits the variables in the opposite order, starting from the outputs'
cotangents ``ȳ``. When it reaches ``v_j`` its adjoint is complete, since every
variable that reads ``v_j`` comes later in the trace and was visited before;
it then adds ``v̄_j ∂v_j/∂v_i`` to the adjoint of each operand ``v_i``.
Adjoints not yet complete are shown as partial sums ("so far").

A :class:`SweepStep` is plain data read off a recorded
:class:`~adkit.views.record.Computation`; the trace shows one as its table
(:meth:`adkit.Trace.to_html`), the scene as a drawing, and
:mod:`adkit.views.player` plays them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adkit.views.record import Computation, definition, format_value

__all__ = ["SweepStep", "check_mode", "partial_sums", "sweep_steps"]

MODES = ("forward", "reverse")
DOT, BAR = "\u0307", "\u0304"  # combining dot and bar: v̇, v̄


@dataclass(frozen=True)
class SweepStep:
    """The state of a sweep after its ``index``-th step (0-based) out of ``total``.

    ``values`` and ``tangents`` hold the numbers of the variables whose primal
    and tangent are known; ``adjoints`` the adjoints accumulated so far
    (partial sums), of which those in ``final`` are complete. ``edges`` are
    the ``(source, target)`` pairs along which something flows at this step.

    >>> step = adkit.graph(lambda x: np.sin(x) * x, 1.0).sweep_steps("reverse")[0]
    >>> step.active, sorted(step.final), round(step.adjoints[0], 4)   # v̄0 so far: v1 = sin 1
    (2, [2], 0.8415)
    """

    mode: str
    index: int
    total: int
    active: int
    values: frozenset[int]
    tangents: frozenset[int]
    adjoints: dict[int, Any]
    final: frozenset[int]
    edges: tuple[tuple[int, int], ...]
    caption: str


def check_mode(mode: Any) -> str:
    """``mode`` if it names a sweep (``"forward"`` or ``"reverse"``), else a ValueError that says so.

    >>> check_mode("reverse")
    'reverse'
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'forward' or 'reverse', got {mode!r}")
    return mode


def sweep_steps(comp: Computation, mode: str = "forward") -> list[SweepStep]:
    """The steps of the forward or reverse sweep over a recorded computation, one per variable.

    >>> g = adkit.graph(lambda x1, x2: x1 * x2, 2.0, 5.0)
    >>> [s.caption for s in g.sweep_steps("reverse")]  # doctest: +NORMALIZE_WHITESPACE
    ['step 1/3: v̄1 = 1 (the output cotangent ȳ); v̄-1 += 5 · v̄1 = 5, v̄0 += 2 · v̄1 = 2',
     'step 2/3: v̄0 = 2 is complete (∂y/∂x2)',
     'step 3/3: v̄-1 = 5 is complete (∂y/∂x1)']
    """
    check_mode(mode)
    variables = comp.variables
    total = len(variables)
    numbers = [v.number for v in variables]
    steps = []
    if mode == "forward":
        tangents_known = comp.has_tangents
        for k, n in enumerate(numbers):
            known = frozenset(numbers[: k + 1])
            edges = tuple((e.source, e.target) for e in comp.edges_into(n))
            text = f"step {k + 1}/{total}: " + _forward_text(comp, n)
            tangents = known if tangents_known else frozenset()
            steps.append(SweepStep(mode, k, total, n, known, tangents, {}, frozenset(), edges, text))
        return steps
    everything = frozenset(numbers)
    adjoints: dict[int, Any] = {}
    seeded = set()
    for number, cotangent in zip(comp.outputs, comp.cotangent):
        adjoints[number] = cotangent if number not in adjoints else adjoints[number] + cotangent
        seeded.add(number)
    final: set[int] = set()
    for k, n in enumerate(reversed(numbers)):
        v = comp.variable(n)
        if n not in adjoints:  # nothing reads it: its adjoint is zero
            adjoints[n] = np.zeros(v.shape) if v.shape else 0.0
        final.add(n)
        sent = []
        for e in comp.edges_into(n):
            adjoints[e.source] = e.adjoint if e.source not in adjoints else adjoints[e.source] + e.adjoint
            sent.append(e)
        text = f"step {k + 1}/{total}: " + _reverse_text(comp, n, adjoints[n], n in seeded, sent, adjoints)
        steps.append(
            SweepStep(
                mode,
                k,
                total,
                n,
                everything,
                frozenset(),
                dict(adjoints),
                frozenset(final),
                tuple((e.source, e.target) for e in sent),
                text,
            )
        )
    return steps


def _name(number: int, accent: str = "") -> str:
    return f"v{accent}{number}"


def _forward_text(comp: Computation, n: int) -> str:
    v = comp.variable(n)
    value = format_value(v.value)
    if v.is_input:
        text = f"{v.name} = {v.input_name} = {value}"
        if v.tangent is not None:
            text += f"; {_name(n, DOT)} = {format_value(v.tangent)} (the seed)"
        return text
    text = f"{v.name} = {definition(v, 'text')} = {value}"
    if v.tangent is None:
        return text
    edges = comp.edges_into(n)
    if edges and all(e.partial is not None and np.ndim(e.partial) == 0 for e in edges):
        sum_ = ""
        for k, e in enumerate(edges):
            sign = ("-" if k == 0 else " - ") if e.partial < 0 else ("" if k == 0 else " + ")
            sum_ += f"{sign}{format_value(abs(e.partial))} · {_name(e.source, DOT)}"
        return text + f"; {_name(n, DOT)} = {sum_} = {format_value(v.tangent)}"
    return text + f"; {_name(n, DOT)} = {format_value(v.tangent)}"


def _reverse_text(comp: Computation, n: int, adjoint: Any, seeded: bool, sent: list, adjoints: dict) -> str:
    v = comp.variable(n)
    head = f"{_name(n, BAR)} = {format_value(adjoint)}"
    if seeded:
        head += " (the output cotangent ȳ)" if len(comp.outputs) == 1 else " (an output cotangent)"
    if v.is_input:
        return head + (f" is complete (∂y/∂{v.input_name})" if len(comp.outputs) == 1 else " is complete")
    pushes = []
    for e in sent:
        if e.partial is not None and np.ndim(e.partial) == 0:
            pushes.append(
                f"{_name(e.source, BAR)} += {format_value(e.partial)} · {_name(n, BAR)} = "
                f"{format_value(adjoints[e.source])}"
            )
        else:
            pushes.append(f"{_name(e.source, BAR)} += {format_value(e.adjoint)}")
    return head + ("; " + ", ".join(pushes) if pushes else "")


def partial_sums(comp: Computation) -> dict[int, list[Any]]:
    """Every value each adjoint takes during the reverse sweep, in order (as :func:`sweep_steps` adds).

    >>> comp = adkit.trace(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0).computation
    >>> partial_sums(comp)[-1]   # v̄-1: 1 from v2 = v1 + v-1, then + 5 from v1 = v-1 * v0
    [1.0, 6.0]
    """
    running: dict[int, Any] = {}
    sums: dict[int, list[Any]] = {}

    def add(number: int, term: Any) -> None:
        running[number] = term if number not in running else running[number] + term
        sums.setdefault(number, []).append(running[number])

    for number, cotangent in zip(comp.outputs, comp.cotangent):
        add(number, cotangent)
    for v in reversed(comp.variables):
        for e in comp.edges_into(v.number):
            add(e.source, e.adjoint)
    return sums
