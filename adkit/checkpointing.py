"""Checkpointing: recompute in the backward sweep what the tape would otherwise keep.

Reverse mode keeps every intermediate value of the forward pass on its tape
until the backward sweep has used it: memory grows with the length of the
computation. ``checkpoint(g)`` trades time for memory: ``g`` runs without a
tape in the forward pass, and its tape is made again, from its inputs, when
the backward sweep reaches it (a primitive whose reverse rule re-runs ``g``,
the rematerialization of JAX's ``jax.checkpoint`` and PyTorch's
``torch.utils.checkpoint``).

For a loop of ``T`` steps ``x_{t+1} = step(x_t, *params)``,
``checkpoint(step, steps=T, snapshots=s)`` keeps at most ``s`` states (``x_0``
among them) and reverses the loop with the binomial schedule of Griewank's
*revolve* (Griewank and Walther, ACM TOMS 26, 2000): with ``s`` snapshots,
``β(s, r) = C(s + r, s)`` steps can be reversed evaluating each at most
``r + 1`` times, and no schedule with ``s`` snapshots does fewer
evaluations. The forward pass stores the snapshots of the schedule's first
descent and the last state; the backward sweep restores a snapshot,
advances from it (recomputation), and sweeps one step's tape at a time.
:func:`schedule` counts it without running anything, :func:`tradeoff` plots
memory against recomputation for several ``s``.

>>> import numpy as np, adkit
>>> step = lambda x, a: np.sin(x) * a + x
>>> loop = adkit.checkpoint(step, steps=100, snapshots=5)
>>> x0 = np.linspace(0.0, 1.0, 3)
>>> with_checkpoints = adkit.grad(lambda x: loop(x, 0.1).sum())(x0)
>>> every_step_taped = adkit.grad(lambda x: loop.plain(x, 0.1).sum())(x0)
>>> np.allclose(with_checkpoints, every_step_taped, rtol=1e-13), loop.recomputed
(True, 217)
>>> schedule(100, 5)
Schedule(steps=100, snapshots=5, repetitions=4, recomputed=217, peak_states=6)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from adkit.api import jvp, vjp
from adkit.core import Box, Primitive, bind, primal, shape_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Checkpointed", "CheckpointedLoop", "Schedule", "Tradeoff", "checkpoint", "schedule", "tradeoff"]


# -- the binomial schedule ----------------------------------------------------------------------------


def beta(s: int, r: int) -> int:
    """``C(s + r, s)``: the most steps ``s`` snapshots reverse, each evaluated at most ``r + 1`` times.

    >>> beta(10, 4), beta(10, 3)     # 10 snapshots: 1,001 steps with each step evaluated 5 times at most
    (1001, 286)
    """
    return math.comb(s + r, s) if r >= 0 else 0


def repetitions(steps: int, snapshots: int) -> int:
    """The fewest ``r`` with ``β(snapshots, r) >= steps``: how often, at most, a step is evaluated again.

    >>> repetitions(1000, 10), repetitions(1000, 1000)
    (4, 1)
    """
    r = 0
    while beta(snapshots, r) < steps:
        r += 1
    return r


def split(length: int, free: int) -> int:
    """Where to put the next snapshot in a range of ``length`` steps with ``free`` slots left (``>= 1``).

    The left part (reversed later with the same slots) gets ``j`` steps, the
    right part ``length - j`` (one slot fewer); every ``j`` in
    ``[max(β(s, r-2), l - β(s-1, r)), min(β(s, r-1), l - β(s-1, r-1))]``
    with ``s = free + 1`` snapshots and ``r`` the repetition number minimizes
    the evaluations (checked against the dynamic programme in the tests).
    This takes the largest.

    >>> split(10, 9), split(1000, 9)     # enough slots: one step; few: a long left part
    (1, 286)
    """
    s = free + 1
    r = repetitions(length, s)
    return max(1, min(beta(s, r - 1), length - beta(s - 1, r - 1), length - 1))


def _first_descent(steps: int, snapshots: int) -> list[int]:
    """The snapshots the forward pass takes: the split points on the way to the last step."""
    taken, a, free = [], 0, snapshots - 1
    while steps - a > 1 and free > 0:
        a += split(steps - a, free)
        taken.append(a)
        free -= 1
    return taken


def _ignore(count: int) -> None:
    pass


def _run(
    steps: int,
    snapshots: int,
    states: dict[int, Any],
    advance: Callable[[Any, int], Any],
    taped: Callable[[int, Any], None],
    live: Callable[[int], None] = _ignore,
) -> None:
    """Reverse ``steps`` steps with ``snapshots`` slots; ``states``: ``x_0`` and what the forward pass kept.

    ``advance(x, k)`` runs ``k`` plain steps from ``x``; ``taped(t, x_t)``
    sweeps step ``t`` back (from ``steps - 1`` down to 0); ``live(k)`` is told
    how many states are held at each moment. A loop over an explicit stack
    of tasks (``snapshots = steps`` nests ``steps`` deep).
    """
    tasks: list[tuple] = [("reverse", 0, steps, snapshots - 1)]
    while tasks:
        task = tasks.pop()
        if task[0] == "release":
            states.pop(task[1], None)
            continue
        _, a, b, free = task
        if b - a == 1:
            live(len(states))
            taped(a, states[a])
            continue
        if free == 0:  # no slot left: from x_a to each state, the last first
            for t in range(b - 1, a - 1, -1):
                if t != a and t in states:  # the forward pass's last state
                    x = states.pop(t)
                    live(len(states) + 1)
                else:
                    x = advance(states[a], t - a)
                    live(len(states) + (t != a))
                taped(t, x)
            continue
        m = a + split(b - a, free)
        if m not in states:
            states[m] = advance(states[a], m - a)
        tasks += [("reverse", a, m, free), ("release", m), ("reverse", m, b, free - 1)]


@dataclass(frozen=True)
class Schedule:
    """What reversing ``steps`` steps with ``snapshots`` stored states costs, counted by running the schedule.

    ``recomputed``: plain steps evaluated again in the backward sweep (the
    forward pass's ``steps`` and the ``steps`` taped ones not counted);
    ``peak_states``: the most states held at once (snapshots, ``x_0`` and
    the working state), besides one step's tape.

    ``repetitions`` is revolve's ``r``: the smallest with
    ``C(s + r, s) >= T`` (:func:`repetitions`), here ``C(9, 5) = 126 >= 100``:

    >>> schedule(100, 5)
    Schedule(steps=100, snapshots=5, repetitions=4, recomputed=217, peak_states=6)
    """

    steps: int
    snapshots: int
    repetitions: int
    recomputed: int
    peak_states: int


@functools.lru_cache(maxsize=256)
def schedule(steps: int, snapshots: int) -> Schedule:
    """The binomial schedule's counts for a loop of ``steps`` steps and ``snapshots`` stored states.

    >>> schedule(10_000, 10).recomputed, schedule(10_000, 10_000).recomputed
    (47625, 0)
    """
    steps, snapshots = _check_counts(steps, snapshots)
    if steps == 0:
        return Schedule(0, snapshots, 0, 0, 1)
    states = {0: 0, **{k: k for k in _first_descent(steps, snapshots)}, steps - 1: steps - 1}
    counts = {"advanced": 0, "peak": len(states)}

    def advance(x: int, k: int) -> int:
        counts["advanced"] += k
        return x + k

    def live(k: int) -> None:
        counts["peak"] = max(counts["peak"], k)

    _run(steps, snapshots, states, advance, lambda t, x: None, live)
    return Schedule(steps, snapshots, repetitions(steps, snapshots), counts["advanced"], counts["peak"])


def _check_counts(steps: Any, snapshots: Any) -> tuple[int, int]:
    for name, value, least in (("steps", steps, 0), ("snapshots", snapshots, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ValueError(
                f"{name} must be an integer >= {least}, got {value!r}: "
                "checkpoint(step, steps=T, snapshots=s) with whole numbers T >= 0, s >= 1"
            )
    return int(steps), int(snapshots)


@dataclass(frozen=True)
class Tradeoff:
    """Schedules of one loop for several numbers of snapshots: memory against recomputation.

    >>> tradeoff(100, [2, 5, 100])
     snapshots  peak states  recomputed steps  per step
             2            3               746      7.46
             5            6               217      2.17
           100          100                 0      0.00
    """

    schedules: tuple[Schedule, ...]

    def __repr__(self) -> str:
        rows = [f"{'snapshots':>10} {'peak states':>12} {'recomputed steps':>17} {'per step':>9}"]
        rows += [
            f"{s.snapshots:>10} {s.peak_states:>12} {s.recomputed:>17} {s.recomputed / s.steps:>9.2f}"
            for s in self.schedules
        ]
        return "\n".join(rows)

    def plot(self, ax: Axes | None = None, measured: dict[int, tuple[float, float]] | None = None) -> Axes:
        """States held at once (log) against steps recomputed per step of the loop, a point per ``s``.

        ``measured`` (optional) maps a number of snapshots to a measured
        ``(peak bytes / bytes of a state, steps recomputed)``, drawn beside
        the schedule's counts (a measured peak also holds one step's tape and
        the sweep's own arrays).

        >>> ax = tradeoff(100, [2, 5, 100]).plot(measured={5: (7.5, 217)})
        >>> [line.get_label() for line in ax.lines]
        ['binomial schedule (counted)', 'measured peak (tracemalloc), in states']
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 3.6))
        steps = max(self.schedules[0].steps, 1)
        x = [s.recomputed / steps for s in self.schedules]
        y = [s.peak_states for s in self.schedules]
        ax.plot(x, y, "o-", color="#0072B2", label="binomial schedule (counted)")
        for s, xi, yi in zip(self.schedules, x, y):
            ax.annotate(f"s = {s.snapshots}", (xi, yi), textcoords="offset points", xytext=(6, 5), fontsize=8)
        if measured:
            ax.plot(
                [r / steps for _, r in measured.values()],
                [p for p, _ in measured.values()],
                "x",
                color="#D55E00",
                ms=9,
                mew=2,
                label="measured peak (tracemalloc), in states",
            )
        ax.set_yscale("log")
        ax.set_xlabel("steps recomputed per step of the loop")
        ax.set_ylabel("states held at once")
        ax.set_title(f"Checkpointing a loop of {steps:,} steps: memory against time", fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
        ax.spines[["top", "right"]].set_visible(False)
        return ax


def tradeoff(steps: int, snapshots: Iterable[int]) -> Tradeoff:
    """:func:`schedule` for each number of ``snapshots``.

    >>> tradeoff(1000, [2, 10, 1000]).schedules[1].recomputed
    2637
    """
    return Tradeoff(tuple(schedule(steps, s) for s in snapshots))


# -- the primitives ------------------------------------------------------------------------------------------


def _check_output(out: Any, name: str) -> Any:
    value = primal(out)
    if not isinstance(value, (float, int, np.ndarray, np.generic)):
        raise TypeError(
            f"checkpoint({name}): {name} must return one number or array, got a "
            f"{type(value).__name__}; stack several results into one array"
        )
    return out


def _same(recomputed: Any, out: Any, name: str) -> None:
    """Refuse a recomputation that differs from the forward pass: a function that is not deterministic."""
    a, b = np.asarray(primal(recomputed), dtype=float), np.asarray(primal(out), dtype=float)
    if a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-300, equal_nan=True):
        return
    raise RuntimeError(
        f"checkpoint({name}): recomputing {name} in the backward sweep gave another result than the forward "
        f"pass did, so the derivative would be that of another computation. {name} is not deterministic "
        "(random numbers drawn inside, a global it reads or changes): make it a pure function of its "
        "arguments, passing random draws in as arguments."
    )


class Checkpointed(Primitive):
    """``checkpoint(g)``: ``g`` as one primitive whose reverse rule re-runs it on a fresh tape.

    Calling it evaluates ``g`` on plain values (nothing recorded inside); a
    reverse-mode tape gets one entry, holding ``g``'s arguments and result.
    The backward sweep re-runs ``g`` on a tape of its own, sweeps that tape
    and drops it. Forward mode differentiates ``g`` directly. ``g`` must be
    deterministic (checked: a recomputation that differs raises).

    >>> import numpy as np, adkit
    >>> block = adkit.checkpoint(np.sin)
    >>> block
    <adkit primitive checkpoint(sin)>
    >>> adkit.grad(lambda x: block(x) * x)(1.0)      # cos 1 + sin 1
    1.3817732906760363
    """

    def __init__(self, g: Callable, name: str):
        self.g = g
        super().__init__(
            f"checkpoint({name})",
            self._evaluate,
            jvps=self._jvp,
            vjps=self._vjp,
            fast_vjp=self._vjp_all,
            label=f"checkpoint({name})" + "({args})",
            doc=f"{name}, recomputed in the backward sweep (adkit.checkpoint).",
        )
        self.function_name = name

    def __call__(self, *args: Any, **params: Any) -> Any:
        """``g(*args, **params)``, on the tape as one entry (see the class).

        >>> import numpy as np, adkit
        >>> float(adkit.checkpoint(np.sin)(0.5)), float(np.sin(0.5))
        (0.479425538604203, 0.479425538604203)
        """
        return bind(self, args, params)

    def _evaluate(self, *args: Any, **params: Any) -> Any:
        return _check_output(self.g(*args, **params), self.function_name)

    def _jvp(self, tangents: Any, out: Any, *args: Any, **params: Any) -> Any:
        filled = _fill(tangents, args)
        return jvp(lambda *a: self.g(*a, **params), args, filled)[1]

    def _pullback(self, ct: Any, out: Any, args: tuple, params: dict, positions: list[int]) -> tuple:
        def of_traced(*traced: Any) -> Any:
            full = list(args)
            for k, x in zip(positions, traced):
                full[k] = x
            return self.g(*full, **params)

        recomputed, pullback = vjp(of_traced, *[args[k] for k in positions])
        _same(recomputed, out, self.function_name)
        return pullback(ct)

    def _vjp(self, i: int, ct: Any, out: Any, *args: Any, **params: Any) -> Any:
        return self._pullback(ct, out, args, params, [i])[0]

    def _vjp_all(self, ct: Any, out: Any, primals: tuple, params: dict, parents: tuple) -> list[Any]:
        positions = [k for k, p in enumerate(parents) if p is not None]
        cts = iter(self._pullback(ct, out, tuple(primals), params, positions))
        return [next(cts) if p is not None else None for p in parents]


def _fill(tangents: Any, args: tuple) -> tuple:
    """Tangents with zeros (of the same batch shape) for the constant arguments."""
    given = [(t, x) for t, x in zip(tangents, args) if t is not None]
    t0, x0 = given[0]
    batch = shape_of(t0)[: len(shape_of(t0)) - len(shape_of(x0))]
    return tuple(t if t is not None else np.zeros(batch + shape_of(x)) for t, x in zip(tangents, args))


class _Snapshots(dict):
    """The states the forward pass of a checkpointed loop kept for its backward sweep (on the tape)."""

    def __repr__(self) -> str:
        return f"<{len(self)} snapshots>"


class CheckpointedLoop(Primitive):
    """``checkpoint(step, steps=T, snapshots=s)``: ``T`` steps reversed by the binomial schedule.

    Calling it with ``(x0, *params)`` runs ``x_{t+1} = step(x_t, *params)``
    ``T`` times on plain values and returns ``x_T``; the forward pass keeps
    the first descent's snapshots and the last state. The reverse rule runs
    the schedule: at most ``snapshots`` states held at once and one step's
    tape. ``plain(x0, *params)`` is the same loop without checkpointing.
    ``recomputed`` counts the plain steps the last backward sweep evaluated
    again (:func:`schedule` predicts it).

    >>> import numpy as np, adkit
    >>> loop = adkit.checkpoint(lambda x: x + 0.1 * np.sin(x), steps=100, snapshots=5)
    >>> x = np.array([0.5, 1.0])
    >>> g = adkit.grad(lambda x: loop(x).sum())(x)
    >>> np.allclose(g, adkit.grad(lambda x: loop.plain(x).sum())(x)), loop.recomputed
    (True, 217)
    """

    def __init__(self, step: Callable, steps: int, snapshots: int, name: str):
        self.step, self.steps, self.snapshots, self.function_name = step, steps, snapshots, name
        super().__init__(
            f"checkpoint({name}, steps={steps}, snapshots={snapshots})",
            self._evaluate,
            jvps=self._jvp,
            vjps=self._vjp,
            fast_vjp=self._vjp_all,
            label=f"{name}^{steps}" + "({args})",
            doc=f"{steps} steps of {name}, reversed with {snapshots} snapshots (adkit.checkpoint).",
        )
        #: the plain steps the last backward sweep evaluated again
        self.recomputed = 0

    def __call__(self, x0: Any, *params: Any, **kwargs: Any) -> Any:
        """``x_T``: ``step`` applied ``T`` times to ``x0`` (with ``params``), one entry on a tape.

        >>> import numpy as np, adkit
        >>> adkit.checkpoint(lambda x: 2.0 * x, steps=3)(np.ones(2))
        array([8., 8.])
        """
        return bind(self, (x0, *params), {"kwargs": kwargs, "store": _Snapshots()})

    def plain(self, x0: Any, *params: Any, **kwargs: Any) -> Any:
        """The same loop, every step on the tape (what checkpointing saves memory against).

        >>> import numpy as np, adkit
        >>> tape = adkit.Tape()
        >>> with tape:
        ...     out = adkit.checkpoint(np.sin, steps=4).plain(tape.leaf(1.0))
        >>> len(tape.nodes)           # the input and four sin
        5
        """
        return self._advance(x0, params, kwargs, self.steps)

    def _advance(self, x: Any, params: tuple, kwargs: dict, k: int) -> Any:
        for _ in range(k):
            x = _check_output(self.step(x, *params, **kwargs), self.function_name)
        return x

    def _evaluate(self, x0: Any, *params: Any, kwargs: dict, store: _Snapshots) -> Any:
        if self.steps == 0:
            return x0
        keep = set(_first_descent(self.steps, self.snapshots)) | {self.steps - 1}
        x = x0
        for t in range(1, self.steps):
            x = self._advance(x, params, kwargs, 1)
            if t in keep:
                store[t] = x
        store.setdefault(self.steps - 1, x0)  # one step: the last state is x_0
        return self._advance(x, params, kwargs, 1)

    def _jvp(self, tangents: Any, out: Any, x0: Any, *params: Any, kwargs: dict, store: _Snapshots) -> Any:
        filled = _fill(tangents, (x0, *params))
        return jvp(lambda x, *p: self.plain(x, *p, **kwargs), (x0, *params), filled)[1]

    def _reverse(
        self, ct: Any, x0: Any, params: tuple, kwargs: dict, store: _Snapshots, positions: list[int]
    ) -> list[Any]:
        """Cotangents of the arguments at ``positions`` (0: x0, k: params[k - 1]) by the binomial schedule."""
        if self.steps == 0:
            return [ct if k == 0 else None for k in positions]
        # The forward pass's snapshots hold plain values: right for a first-order sweep; under nesting
        # (x0 a traced value) they would lack their derivative parts, so then everything is recomputed.
        states: dict[int, Any] = {0: x0}
        if not isinstance(x0, Box) and not any(isinstance(p, Box) for p in params):
            states.update(store)
        store.clear()  # the sweep owns them now, and drops each when the schedule is done with it
        traced_params = [k - 1 for k in positions if k > 0]
        param_cts: dict[int, Any] = {}
        carried = {"ct": ct, "recomputed": 0}

        def advance(x: Any, k: int) -> Any:
            carried["recomputed"] += k
            return self._advance(x, params, kwargs, k)

        def taped(t: int, x: Any) -> None:
            def one_step(state: Any, *traced: Any) -> Any:
                full = list(params)
                for k, p in zip(traced_params, traced):
                    full[k] = p
                return self.step(state, *full, **kwargs)

            _, pullback = vjp(one_step, x, *[params[k] for k in traced_params])
            cts = pullback(carried["ct"])
            carried["ct"] = cts[0]
            for k, c in zip(traced_params, cts[1:]):
                param_cts[k] = c if k not in param_cts else param_cts[k] + c

        _run(self.steps, self.snapshots, states, advance, taped)
        self.recomputed = carried["recomputed"]
        return [carried["ct"] if k == 0 else param_cts.get(k - 1) for k in positions]

    def _vjp(self, i: int, ct: Any, out: Any, x0: Any, *params: Any, kwargs: dict, store: _Snapshots) -> Any:
        return self._reverse(ct, x0, params, kwargs, store, [i])[0]

    def _vjp_all(self, ct: Any, out: Any, primals: tuple, params: dict, parents: tuple) -> list[Any]:
        positions = [k for k, p in enumerate(parents) if p is not None]
        cts = iter(
            self._reverse(ct, primals[0], tuple(primals[1:]), params["kwargs"], params["store"], positions)
        )
        return [next(cts) if p is not None else None for p in parents]


def _name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def checkpoint(g: Callable, *, steps: int | None = None, snapshots: int | None = None) -> Any:
    """``g`` recomputed in the backward sweep instead of kept on the tape; ``steps=T``: a checkpointed loop.

    ``checkpoint(g)(*args)`` equals ``g(*args)``, and so do its derivatives;
    a reverse-mode tape holds only ``g``'s arguments and result, and the
    backward sweep re-runs ``g`` to get the rest: memory of one ``g`` at a
    time instead of all of them, for one more evaluation of ``g``. ``g``
    takes numbers or arrays (and keywords, passed through as constants) and
    returns one number or array; it must be deterministic.

    With ``steps=T``, the result is the loop ``x ↦ g^T(x)``: called as
    ``loop(x0, *params)``, it runs ``x_{t+1} = g(x_t, *params)`` ``T`` times
    and is reversed with the binomial (revolve) schedule, holding at most
    ``snapshots`` states (default ``⌈√T⌉``) and one step's tape
    (:func:`schedule` gives the counts).

    >>> import numpy as np, adkit
    >>> block = adkit.checkpoint(lambda x: np.tanh(np.sin(x) * 2.0))
    >>> x = np.array([0.1, 0.2])
    >>> adkit.grad(lambda x: block(x).sum())(x)
    array([1.91273488, 1.680551  ])
    >>> (1 - np.tanh(2 * np.sin(x)) ** 2) * 2 * np.cos(x)      # by hand
    array([1.91273488, 1.680551  ])
    """
    if not callable(g):
        raise TypeError(f"adkit.checkpoint needs a function, got {type(g).__name__}")
    if steps is None:
        if snapshots is not None:
            raise ValueError("snapshots= is for a loop: checkpoint(step, steps=T, snapshots=s)")
        wrapped = Checkpointed(g, _name(g))
    else:
        steps, _ = _check_counts(steps, 1)
        steps, snapshots = _check_counts(
            steps, max(1, math.isqrt(max(steps, 1) - 1) + 1) if snapshots is None else snapshots
        )
        wrapped = CheckpointedLoop(g, steps, snapshots, _name(g))
    wrapped.__wrapped__ = g
    return wrapped
