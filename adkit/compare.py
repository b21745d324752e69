"""Measuring the modes: what a full Jacobian costs in forward mode, reverse mode and by differences.

For ``f: Rⁿ → Rᵐ`` the full Jacobian takes ``n`` tangent directions in
forward mode and ``m`` cotangents in reverse mode, so forward mode wins when
``n < m`` and reverse mode when ``n > m``: that is the folklore.
:func:`compare_modes` measures it, on adkit's engines, for each shape of a
grid, and :class:`ModeComparison` shows it (a table, cost curves, a heatmap
of the winner, the crossover line with ``mode="auto"``'s decision boundary).

The methods measured (``METHODS``):

==================  =================================================  =======  ============
method              how                                                passes   flops
==================  =================================================  =======  ============
``forward``         ``adkit.jacobian(f, mode="forward")``: one          1       F·(1 + n)
                    vector-mode pass carrying all n directions
``forward_passes``  ``adkit.jvp`` once per input (n passes)             n       2n·F
``reverse``         ``adkit.jacobian(f, mode="reverse")``: record       2       F·(1 + m)
                    once, one sweep carrying all m cotangents
``reverse_sweeps``  ``adkit.vjp`` once, its pullback once per output    1 + m   F·(1 + m)
``central``         central differences in plain NumPy                  2n      2n·F
``auto``            ``adkit.jacobian(f, mode="auto")``, one object      1 or 2  as chosen
                    reused (its first call probes, not timed)
==================  =================================================  =======  ============

``F`` is the flop-equivalents of one evaluation of ``f``: the estimate
each rule of the table declares, summed over the operations recorded on a
tape (:func:`operation_count`, :func:`adkit.modes.workload_of`, the same
workload ``mode="auto"`` prices). Each primitive's derivative rule is linear
in the tangents (cotangents) and costs about what the primitive costs, once
per direction: hence the column above. The *operations* of a record are the
primitive operations of ``f`` times the passes: they count the Python-level
steps, which is what small functions pay for.

Each record also holds the median wall time over ``repeats`` runs
(``time.perf_counter``, garbage collector on), the median time of one plain
evaluation of ``f`` (``eval_time``), the workload of one evaluation
(``workload``: :class:`adkit.modes.Workload` as a dict), the seconds :func:`adkit.modes.estimate`
predicts for the forward and reverse records (``estimate``), the peak
memory of one run (``tracemalloc``: the tape and the adjoints in reverse
mode, the tangents in forward mode), and the largest difference from
the reverse-mode Jacobian (``error``: 0 for the AD modes up to round-off,
about 1e-10 for central differences).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import html
import inspect
import math
import numbers
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adkit import numerical
from adkit.api import diff, jacobian, jvp, vjp
from adkit.core import size_of
from adkit.formatting import duration
from adkit.modes import Workload, estimate, workload_of
from adkit.reverse import Tape

METHODS = ("forward", "forward_passes", "reverse", "reverse_sweeps", "central", "auto")

#: How each method reads in a legend or a table.
LABELS = {
    "forward": "forward (vector mode)",
    "forward_passes": "forward (n passes)",
    "reverse": "reverse (vectorized)",
    "reverse_sweeps": "reverse (m sweeps)",
    "central": "central differences",
    "auto": "auto",
}
COLORS = {
    "forward": "C0",
    "forward_passes": "#7fb3e0",
    "reverse": "C3",
    "reverse_sweeps": "#f08c8c",
    "central": "0.45",
    "auto": "C2",
}

#: The fields of every record, in table order.
RECORD_FIELDS = (
    "family",
    "n",
    "m",
    "method",
    "time",
    "eval_time",
    "repeats",
    "ops",
    "passes",
    "flops",
    "memory",
    "error",
    "chosen",
    "estimate",
    "workload",
)

DEFAULT_SIZES = (2, 8, 32, 128)

# -- the families ------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """Functions of growing size to compare the modes on.

    ``make(*sizes)`` returns ``(f, x)``: a function written with plain NumPy
    and a point to differentiate it at. ``sizes`` names which of the sizes
    ``"n"`` (inputs) and ``"m"`` (outputs) ``make`` takes, in order: the
    dense family takes both, ``make(n, m)``; the elementwise family only
    ``n`` (its m is n); the broadcast family only ``m`` (its n is 1). The n
    and m recorded are always those of ``x`` and ``f(x)``.
    """

    name: str
    make: Callable[..., tuple[Callable[[Any], Any], Any]]
    sizes: tuple[str, ...] = ("n",)
    description: str = ""

    def __post_init__(self) -> None:
        if not callable(self.make):
            raise TypeError(f"Family.make must be callable, got {type(self.make).__name__}")
        if self.sizes not in (("n",), ("m",), ("n", "m")):
            raise ValueError(f"Family.sizes must be ('n',), ('m',) or ('n', 'm'), got {self.sizes!r}")

    def __call__(self, *sizes: int) -> tuple[Callable[[Any], Any], Any]:
        out = self.make(*sizes)
        if not (isinstance(out, tuple) and len(out) == 2 and callable(out[0])):
            raise TypeError(
                f"family {self.name!r}: make{sizes} must return (f, x), a function and the point to "
                f"differentiate it at; got {type(out).__name__} {out!r:.60}"
            )
        f, x = out
        if isinstance(x, (bool, np.bool_)) or not (
            isinstance(x, numbers.Real) or (isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.number))
        ):
            raise TypeError(
                f"family {self.name!r}: make{sizes} returned a point of type {type(x).__name__}; "
                "it must be a float or a NumPy array of floats"
            )
        return f, x


def dense(hidden: int = 32, seed: int = 0) -> Family:
    """Dense layers ``x ↦ tanh(W₂ tanh(W₁ x))``, ``Rⁿ → Rᵐ``, hidden width fixed: a full Jacobian.

    >>> f, x = dense(hidden=4)(3, 2)
    >>> f(x).shape
    (2,)
    """
    if not isinstance(hidden, (int, np.integer)) or hidden < 1:
        raise ValueError(f"hidden must be a positive integer, got {hidden!r}")

    def make(n: int, m: int) -> tuple[Callable[[Any], Any], Any]:
        rng = np.random.default_rng(seed)
        w1 = rng.normal(size=(hidden, n)) / math.sqrt(n)
        w2 = rng.normal(size=(m, hidden)) / math.sqrt(hidden)

        def dense_layers(x: Any) -> Any:
            return np.tanh(w2 @ np.tanh(w1 @ x))

        return dense_layers, rng.normal(size=n)

    return Family("dense", make, ("n", "m"), f"x ↦ tanh(W₂ tanh(W₁ x)), hidden width {hidden}")


def elementwise(seed: int = 0) -> Family:
    """Elementwise map ``x ↦ sin(x)·x``, ``Rⁿ → Rⁿ``: a diagonal Jacobian (m = n).

    >>> f, x = elementwise()(3)
    >>> f(x).shape
    (3,)
    """

    def make(n: int) -> tuple[Callable[[Any], Any], Any]:
        def sin_times_x(x: Any) -> Any:
            return np.sin(x) * x

        return sin_times_x, np.random.default_rng(seed).normal(size=n)

    return Family("elementwise", make, ("n",), "x ↦ sin(x)·x, m = n (a diagonal Jacobian)")


def reduction(seed: int = 0) -> Family:
    """Reduction ``x ↦ Σ xᵢ²``, ``Rⁿ → R``: one output (m = 1).

    >>> f, x = reduction()(3)
    >>> np.ndim(f(x))
    0
    """

    def make(n: int) -> tuple[Callable[[Any], Any], Any]:
        def sum_of_squares(x: Any) -> Any:
            return np.sum(x**2)

        return sum_of_squares, np.random.default_rng(seed).normal(size=n)

    return Family("reduction", make, ("n",), "x ↦ Σ xᵢ², m = 1 (one output)")


def broadcast(seed: int = 0) -> Family:
    """Broadcast (outer) map ``t ↦ sin(t·a)`` with ``a ∈ Rᵐ``, ``R → Rᵐ``: one input (n = 1).

    >>> f, t = broadcast()(3)
    >>> f(t).shape
    (3,)
    """

    def make(m: int) -> tuple[Callable[[Any], Any], Any]:
        a = np.random.default_rng(seed).normal(size=m)

        def sin_of_t_a(t: Any) -> Any:
            return np.sin(t * a)

        return sin_of_t_a, 0.5

    return Family("broadcast", make, ("m",), "t ↦ sin(t·a), a ∈ Rᵐ, n = 1 (one input)")


#: The built-in families by name (``"outer"`` is another name for ``"broadcast"``).
FAMILIES: dict[str, Family] = {
    "dense": dense(),
    "elementwise": elementwise(),
    "reduction": reduction(),
    "broadcast": broadcast(),
}
_ALIASES = {"outer": "broadcast"}


def get_family(family: str | Family | Callable[..., Any]) -> Family:
    """A :class:`Family` from a name, a Family, or a function of one size returning ``(f, x)``.

    >>> get_family("dense").sizes
    ('n', 'm')
    >>> get_family(lambda n: (np.sin, np.ones(n))).sizes
    ('n',)
    """
    if isinstance(family, Family):
        return family
    if isinstance(family, str):
        key = _ALIASES.get(family, family)
        if key not in FAMILIES:
            raise ValueError(
                f"unknown family {family!r}; the built-in ones are {', '.join(map(repr, FAMILIES))} "
                "(or pass a function of a size n returning (f, x), or an adkit.compare.Family)"
            )
        return FAMILIES[key]
    if callable(family):
        try:
            params = inspect.signature(family).parameters.values()
            positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            required = [p for p in params if p.default is p.empty and p.kind in positional]
        except (TypeError, ValueError):  # builtins without a signature
            required = [None]
        if len(required) != 1:
            raise TypeError(
                "compare_modes takes a function of ONE size n returning (f, x), e.g. "
                "lambda n: (f, np.ones(n)); for a function of n and m use "
                "adkit.compare.Family(name, make, sizes=('n', 'm'))"
            )
        return Family(getattr(family, "__name__", "user function"), family, ("n",), "a user function")
    raise TypeError(
        f"compare_modes needs a family name, an adkit.compare.Family or a function of a size; "
        f"got {type(family).__name__}"
    )


# -- counting operations -----------------------------------------------------------------


@dataclass(frozen=True)
class OperationCount:
    """One evaluation of ``f`` on a tape: its primitive operations and flop-equivalents."""

    ops: int
    flops: float
    by_primitive: dict[str, int] = field(default_factory=dict)
    #: the :class:`adkit.modes.Workload` that ``mode="auto"`` prices
    workload: Workload | None = None


def operation_count(f: Callable[[Any], Any], x: Any) -> OperationCount:
    """Record ``f`` once on a tape: the number of primitive operations and ``F``, their flops.

    ``F`` is the flop-equivalents the rule table declares for each recorded
    operation (:func:`adkit.modes.workload_of`, what ``mode="auto"`` prices).

    >>> count = operation_count(lambda x: np.sum(np.sin(x) * x), np.ones(10))
    >>> count.ops, count.by_primitive
    (3, {'sin': 1, 'multiply': 1, 'sum': 1})
    """
    if not callable(f):
        raise TypeError(f"operation_count needs a function, got {type(f).__name__}")
    tape = Tape()
    f(tape.leaf(x))
    work = workload_of(tape)
    by_primitive: dict[str, int] = {}
    for node in tape.nodes:
        if not node.is_input:
            by_primitive[node.primitive.name] = by_primitive.get(node.primitive.name, 0) + 1
    return OperationCount(work.ops, float(work.flops), by_primitive, work)


# -- the methods -------------------------------------------------------------------------


def _unit_vectors(x: Any) -> list[Any]:
    """The unit vectors shaped like ``x`` (``[1.0]`` for a scalar)."""
    if np.ndim(x) == 0:
        return [1.0]
    eye = np.eye(size_of(x))
    return [row.reshape(np.shape(x)) for row in eye]


def _forward(f: Callable, x: Any) -> Any:
    return jacobian(f, mode="forward")(x)


def _forward_passes(f: Callable, x: Any) -> Any:
    return np.stack([np.ravel(jvp(f, (x,), (e,))[1]) for e in _unit_vectors(x)], axis=1)


def _reverse(f: Callable, x: Any) -> Any:
    return jacobian(f, mode="reverse")(x)


def _reverse_sweeps(f: Callable, x: Any) -> Any:
    out, pullback = vjp(f, x)
    return np.stack([np.ravel(pullback(e)[0]) for e in _unit_vectors(out)], axis=0)


def _central(f: Callable, x: Any) -> Any:
    return numerical.jacobian(f, x, method="central")


def _auto(f: Callable, x: Any) -> Any:
    return jacobian(f, mode="auto")(x)


_RUN = {
    "forward": _forward,
    "forward_passes": _forward_passes,
    "reverse": _reverse,
    "reverse_sweeps": _reverse_sweeps,
    "central": _central,
    "auto": _auto,
}


def _passes(method: str, n: int, m: int) -> int:
    passes = {"forward": 1, "forward_passes": n, "reverse": 2, "reverse_sweeps": 1 + m, "central": 2 * n}
    return passes[method]


def _flops(method: str, flops_f: float, n: int, m: int) -> float:
    return {
        "forward": flops_f * (1 + n),
        "forward_passes": 2 * n * flops_f,
        "reverse": flops_f * (1 + m),
        "reverse_sweeps": flops_f * (1 + m),
        "central": 2 * n * flops_f,
    }[method]


def _median_time(run: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_memory(run: Callable[[], Any]) -> tuple[int, Any]:
    """Peak bytes allocated while ``run()`` runs (``tracemalloc``), and its result."""
    was_tracing = tracemalloc.is_tracing()
    gc.collect()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = run()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(int(peak), 0), result


# -- compare_modes -----------------------------------------------------------------------


def _sizes(values: Any, name: str) -> tuple[int, ...]:
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = (values,)
    try:
        sizes = tuple(values)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of positive integers, got {values!r}") from None
    if not sizes or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise ValueError(f"{name} must be a non-empty sequence of positive integers, got {values!r}")
    return tuple(int(s) for s in sizes)


def _grid(family: Family, ns: Any, ms: Any) -> list[tuple[int, ...]]:
    given = {"n": ns, "m": ms}
    for size in ("n", "m"):
        if size not in family.sizes and given[size] is not None:
            fixed = {"elementwise": "m = n", "reduction": "m = 1", "broadcast": "n = 1"}.get(family.name)
            raise ValueError(
                f"the {family.name!r} family has no free {size} ({fixed or f'it takes {family.sizes}'}); "
                f"pass only {' and '.join(s + 's' for s in family.sizes)}"
            )
    axes = [_sizes(DEFAULT_SIZES if given[s] is None else given[s], s + "s") for s in family.sizes]
    if len(axes) == 1:
        return [(a,) for a in axes[0]]
    return [(a, b) for b in axes[1] for a in axes[0]]


def compare_modes(
    f_or_family: str | Family | Callable[[int], tuple[Callable[[Any], Any], Any]] = "dense",
    ns: Sequence[int] | None = None,
    ms: Sequence[int] | None = None,
    repeats: int = 3,
    methods: Sequence[str] = METHODS,
    memory: bool = True,
    progress: Callable[[int, int], Any] | None = None,
) -> ModeComparison:
    """Measure the cost of the full Jacobian of ``f: Rⁿ → Rᵐ`` by each method, for each shape (n, m).

    Forward mode costs about ``n`` evaluations of ``f``, reverse mode about
    ``m``; this measures it. See the module docstring for the methods and
    what a record holds.

    Args:
        f_or_family: ``"dense"`` (a full Jacobian, both n and m free),
            ``"elementwise"`` (diagonal, m = n), ``"reduction"`` (m = 1),
            ``"broadcast"`` or ``"outer"`` (n = 1); an :class:`Family`
            (e.g. ``adkit.compare.dense(hidden=64)``); or your own function
            of a size ``n`` returning ``(f, x)``:
            ``compare_modes(lambda n: (f, np.ones(n)), ns=[10, 100])``.
        ns, ms: the sizes to try (default ``(2, 8, 32, 128)`` each); only
            those the family takes (``ms`` alone for the broadcast family).
        repeats: timed runs per method and shape; the median is kept.
        methods: a subset of :data:`METHODS`.
        memory: measure the peak memory (one extra run under ``tracemalloc``).
        progress: called as ``progress(done, total)`` after each measurement.

    Returns:
        a :class:`ModeComparison`: ``.records``, ``.to_markdown()``, ``.plot(kind)``.

    >>> result = compare_modes("dense", ns=[2], ms=[3], repeats=1, methods=["forward", "auto"])
    >>> [(r["n"], r["m"], r["method"], r["chosen"]) for r in result.records]
    [(2, 3, 'forward', None), (2, 3, 'auto', 'forward')]
    """
    family = get_family(f_or_family)
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {unknown or methods!r}")
    if not isinstance(repeats, (int, np.integer)) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    grid = _grid(family, ns, ms)
    total = len(grid) * len(methods)
    records: list[dict[str, Any]] = []
    done = 0
    for sizes in grid:
        f, x = family(*sizes)
        count = operation_count(f, x)
        out = f(x)
        n, m = size_of(x), size_of(out)
        eval_time = _median_time(lambda f=f, x=x: f(x), max(repeats, 3))
        reference = None
        for method in methods:
            if method == "auto":
                # one Derivative reused, as a user's loop would: its first call (the
                # probe that learns m) happens before the timed runs
                derivative = jacobian(f, mode="auto")
                call = lambda derivative=derivative, x=x: derivative(x)
            else:
                run = _RUN[method]
                call = lambda run=run, f=f, x=x: run(f, x)
            peak, jac = _peak_memory(call) if memory else (None, call())
            jac = np.reshape(np.asarray(jac, dtype=float), (m, n))
            if reference is None:
                reference = jac if method in ("forward", "reverse", "auto") else _reverse(f, x)
                reference = np.reshape(np.asarray(reference, dtype=float), (m, n))
            chosen = diff(f).explain(x).mode if method == "auto" else None
            counted = chosen or method
            model = dict(zip(("forward", "reverse"), estimate(n, m, count.workload)))
            records.append(
                {
                    "family": family.name,
                    "n": n,
                    "m": m,
                    "method": method,
                    "time": _median_time(call, int(repeats)),
                    "eval_time": eval_time,
                    "repeats": int(repeats),
                    "ops": count.ops * _passes(counted, n, m),
                    "passes": _passes(counted, n, m),
                    "flops": _flops(counted, count.flops, n, m),
                    "memory": peak,
                    "error": float(np.max(np.abs(jac - reference))) if jac.size else 0.0,
                    "chosen": chosen,
                    "estimate": model.get(counted) if method in ("forward", "reverse", "auto") else None,
                    "workload": dataclasses.asdict(count.workload),
                }
            )
            done += 1
            if progress is not None:
                progress(done, total)
    return ModeComparison(records, family=family.name)


# -- the result --------------------------------------------------------------------------


def _fmt_time(s: float | None) -> str:
    return "–" if s is None or not math.isfinite(s) else duration(s)


def _fmt_bytes(b: float | None) -> str:
    if b is None:
        return "–"
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{int(b)} B"


def _fmt_count(c: float | None) -> str:
    if c is None:
        return "–"
    return f"{c:.3g}" if c >= 1e5 else f"{round(c)}"


_COLUMNS = (
    ("n", lambda r: str(r["n"])),
    ("m", lambda r: str(r["m"])),
    ("method", lambda r: LABELS.get(r["method"], r["method"]) + (f" → {r['chosen']}" if r["chosen"] else "")),
    ("time", lambda r: _fmt_time(r["time"])),
    ("model", lambda r: _fmt_time(r.get("estimate"))),
    ("× f", lambda r: f"{r['time'] / r['eval_time']:.3g}" if r.get("eval_time") else "–"),
    ("ops", lambda r: _fmt_count(r["ops"])),
    ("flops", lambda r: _fmt_count(r["flops"])),
    ("peak memory", lambda r: _fmt_bytes(r["memory"])),
    ("error", lambda r: "–" if r["error"] is None else f"{r['error']:.1e}"),
)


class ModeComparison:
    """The measurements of :func:`compare_modes`: one record (a dict) per shape and method.

    Build one from stored records (``ModeComparison(records)``) to plot or
    tabulate them again without measuring.

    >>> rec = dict(family="demo", n=4, m=1, method="forward", time=2e-4, eval_time=1e-5, repeats=3,
    ...            ops=3, passes=1, flops=60, memory=1000, error=0.0, chosen=None)
    >>> comparison = ModeComparison([rec, {**rec, "method": "reverse", "time": 1e-4}])
    >>> comparison.winner(4, 1)
    ('reverse', 2.0)
    """

    def __init__(self, records: Iterable[Mapping[str, Any]], family: str | None = None):
        self._records = []
        for i, r in enumerate(records):
            if not isinstance(r, Mapping):
                raise TypeError(f"record {i} is a {type(r).__name__}, not a dict")
            missing = [k for k in ("n", "m", "method", "time") if k not in r]
            if missing:
                raise ValueError(f"record {i} lacks the field(s) {missing}; records need n, m, method, time")
            self._records.append({k: r.get(k) for k in RECORD_FIELDS} | dict(r))
        if not self._records:
            raise ValueError("a ModeComparison needs at least one record")
        self.family = family if family is not None else self._records[0].get("family")

    @property
    def records(self) -> list[dict[str, Any]]:
        """The measurements as plain data: a list of dicts with the keys :data:`RECORD_FIELDS`."""
        return [dict(r) for r in self._records]

    @property
    def methods(self) -> list[str]:
        """The methods measured, in the order of :data:`METHODS`."""
        present = {r["method"] for r in self._records}
        return [m for m in METHODS if m in present] + sorted(present - set(METHODS))

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """The (n, m) shapes measured."""
        return sorted({(r["n"], r["m"]) for r in self._records})

    def time(self, method: str, n: int, m: int) -> float:
        """The median time of ``method`` at shape ``(n, m)``."""
        for r in self._records:
            if (r["method"], r["n"], r["m"]) == (method, n, m):
                return float(r["time"])
        raise KeyError(f"no record of method {method!r} at n = {n}, m = {m}")

    def winner(self, n: int, m: int, methods: tuple[str, str] = ("forward", "reverse")) -> tuple[str, float]:
        """The faster of two methods at ``(n, m)`` and by what factor (≥ 1)."""
        a, b = (self.time(meth, n, m) for meth in methods)
        return (methods[0], b / a) if a <= b else (methods[1], a / b)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return (
            f"<ModeComparison: {self.family} family, {len(self.shapes)} shape(s) × "
            f"{len(self.methods)} method(s); .records, .to_markdown(), .plot(kind)>"
        )

    def to_markdown(self) -> str:
        """The records as a Markdown table (times as medians, memory as the peak of one run)."""
        head = [name for name, _ in _COLUMNS]
        lines = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---:" if h not in ("method",) else ":---" for h in head) + "|",
        ]
        for r in self._sorted():
            lines.append("| " + " | ".join(cell(r) for _, cell in _COLUMNS) + " |")
        return "\n".join(lines)

    def _sorted(self) -> list[dict[str, Any]]:
        order = {m: i for i, m in enumerate(self.methods)}
        return sorted(self._records, key=lambda r: (r["m"], r["n"], order[r["method"]]))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in _COLUMNS)
        rows = []
        for r in self._sorted():
            best = r["method"] in ("forward", "reverse") and self._is_winner(r)
            cells = "".join(
                f"<td>{'<b>' if best and name == 'time' else ''}{html.escape(cell(r))}"
                f"{'</b>' if best and name == 'time' else ''}</td>"
                for name, cell in _COLUMNS
            )
            rows.append(f"<tr>{cells}</tr>")
        return (
            f"<p><b>adkit.compare_modes</b>: {html.escape(str(self.family))} family, "
            f"{len(self.shapes)} shape(s); median wall time, the faster of forward and reverse in bold</p>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table>"
        )

    def _is_winner(self, r: Mapping[str, Any]) -> bool:
        try:
            return self.winner(r["n"], r["m"])[0] == r["method"]
        except KeyError:
            return False

    # -- plots -------------------------------------------------------------------------

    def plot(self, kind: str = "curves", ax: Any = None, **options: Any) -> Any:
        """Draw the measurements; returns the matplotlib Figure.

        * ``"curves"``: time against n at fixed m (``m=`` to choose; against m
          for the broadcast family, or with ``against="m"``), log-log, with
          the O(n) and O(m) slopes; ``quantity="flops" | "ops" | "memory"``
          draws another column.
        * ``"heatmap"``: over (n, m), which of forward and reverse wins and
          by what factor (``methods=("forward_passes", "reverse_sweeps")``
          compares two others); auto's wrong picks are outlined.
        * ``"crossover"``: the (n, m) plane with the measured winner at each
          shape, the measured line where forward and reverse cost the same,
          and auto's decision boundary (where :func:`adkit.modes.estimate`
          gives equal costs).
        """
        kinds = {
            "curves": self._plot_curves,
            "heatmap": self._plot_heatmap,
            "crossover": self._plot_crossover,
        }
        if kind not in kinds:
            raise ValueError(f"kind must be one of {', '.join(map(repr, kinds))}, got {kind!r}")
        from matplotlib.figure import Figure

        if ax is None:
            fig = Figure(figsize=(6.4, 4.6), layout="constrained")
            ax = fig.add_subplot()
        return kinds[kind](ax, **options)

    def _plot_curves(
        self,
        ax: Any,
        m: int | None = None,
        n: int | None = None,
        against: str | None = None,
        quantity: str = "time",
    ) -> Any:
        if quantity not in ("time", "flops", "ops", "memory"):
            raise ValueError(f"quantity must be 'time', 'flops', 'ops' or 'memory', got {quantity!r}")
        ns = sorted({r["n"] for r in self._records})
        ms = sorted({r["m"] for r in self._records})
        if against is None:
            against = "m" if len(ns) == 1 and len(ms) > 1 else "n"
        if against not in ("n", "m"):
            raise ValueError(f"against must be 'n' or 'm', got {against!r}")
        other = "m" if against == "n" else "n"
        fixed = m if against == "n" else n
        rows = self._records
        if fixed is None and not self._moves_together():
            fixed = min(r[other] for r in rows)
        if fixed is not None:
            rows = [r for r in rows if r[other] == fixed]
            if not rows:
                values = sorted({r[other] for r in self._records})
                raise ValueError(f"no records with {other} = {fixed}; measured {other} = {values}")
        for method in self.methods:
            pts = sorted(
                (r[against], r[quantity]) for r in rows if r["method"] == method and r[quantity] is not None
            )
            if not pts:
                continue
            xs, ys = zip(*pts)
            style = dict(
                color=COLORS.get(method),
                marker="o",
                ms=4,
                lw=1.6 if method in ("forward", "reverse") else 1.1,
                ls="--" if method == "auto" else "-",
                label=LABELS.get(method, method),
            )
            ax.loglog(xs, ys, **style)
            if method == "auto":
                for r in rows:
                    if r["method"] == "auto" and r["chosen"]:
                        ax.annotate(
                            r["chosen"][0].upper(),
                            (r[against], r[quantity]),
                            fontsize=7,
                            color="C2",
                            xytext=(3, 3),
                            textcoords="offset points",
                        )
        self._slopes(ax, rows, against, quantity)
        what = {
            "time": "median time (s)",
            "flops": "estimated flops",
            "ops": "primitive operations",
            "memory": "peak memory (bytes)",
        }[quantity]
        ax.set_xlabel(f"{against} ({'inputs' if against == 'n' else 'outputs'})")
        ax.set_ylabel(what)
        where = f", {other} = {fixed}" if fixed is not None else (", m = n" if self._moves_together() else "")
        ax.set_title(f"{self.family}: cost of the full Jacobian{where}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
        return ax.figure

    def _moves_together(self) -> bool:
        return all(r["n"] == r["m"] for r in self._records) and len(self.shapes) > 1

    @staticmethod
    def _slopes(ax: Any, rows: list[dict[str, Any]], against: str, quantity: str) -> None:
        """The theoretical slopes: forward ∝ n (one pass per input), reverse ∝ m (one sweep per output)."""
        xs = sorted({r[against] for r in rows})
        if len(xs) < 2:
            return
        lo, hi = xs[0], xs[-1]
        anchors = (
            ("n", ("forward_passes", "forward"), dict(color="C0")),
            ("m", ("reverse_sweeps", "reverse"), dict(color="C3")),
        )
        for size, anchor_methods, style in anchors:
            anchor = next((meth for meth in anchor_methods if any(r["method"] == meth for r in rows)), None)
            if anchor is None:
                continue
            pts = sorted((r[against], r[quantity]) for r in rows if r["method"] == anchor and r[quantity])
            if not pts:
                continue
            x_end, y_end = pts[-1]
            grows = size == against or all(r["n"] == r["m"] for r in rows)
            ys = [y_end * (x / x_end) for x in (lo, hi)] if grows else [y_end, y_end]
            label = f"O({size})" + ("" if grows else f": flat in {against}")
            ax.loglog([lo, hi], ys, ":", lw=1.2, alpha=0.8, label=label, **style)

    def _ratio_grid(self, methods: tuple[str, str]) -> tuple[list[int], list[int], np.ndarray]:
        ns = sorted({r["n"] for r in self._records if r["method"] in methods})
        ms = sorted({r["m"] for r in self._records if r["method"] in methods})
        ratio = np.full((len(ms), len(ns)), np.nan)
        for i, mm in enumerate(ms):
            for j, nn in enumerate(ns):
                with contextlib.suppress(KeyError):
                    ratio[i, j] = self.time(methods[0], nn, mm) / self.time(methods[1], nn, mm)
        if np.all(np.isnan(ratio)):
            raise ValueError(
                f"the heatmap and the crossover need records of both {methods[0]!r} and {methods[1]!r}"
            )
        return ns, ms, ratio

    def _auto_choices(self) -> dict[tuple[int, int], str]:
        return {(r["n"], r["m"]): r["chosen"] for r in self._records if r["method"] == "auto" and r["chosen"]}

    def _plot_heatmap(self, ax: Any, methods: tuple[str, str] = ("forward", "reverse")) -> Any:
        ns, ms, ratio = self._ratio_grid(tuple(methods))
        logr = np.log10(ratio)
        vmax = max(float(np.nanmax(np.abs(logr))), math.log10(2.0))
        image = ax.imshow(logr, origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
        ticks = [t for t in (-2, -1, 0, 1, 2) if abs(t) <= vmax] or [0]
        bar = ax.figure.colorbar(image, ax=ax, ticks=ticks)
        bar.ax.set_yticklabels([f"{10.0**t:g}" for t in ticks])
        bar.set_label(f"time {LABELS[methods[0]]} / {LABELS[methods[1]]}", fontsize=8)
        auto = self._auto_choices()
        short = {
            methods[0]: "F" if "forward" in methods[0] else methods[0][:1].upper(),
            methods[1]: "R" if "reverse" in methods[1] else methods[1][:1].upper(),
        }
        from matplotlib.patches import Rectangle

        for i, mm in enumerate(ms):
            for j, nn in enumerate(ns):
                r = ratio[i, j]
                if not np.isfinite(r):
                    continue
                win = methods[0] if r <= 1 else methods[1]
                factor = 1 / r if r <= 1 else r
                text = f"{short[win]} {factor:.2g}×" if factor < 10 else f"{short[win]} {factor:.0f}×"
                chosen = auto.get((nn, mm))
                if chosen:
                    text += f"\nauto: {chosen[0].upper()}"
                dark = abs(logr[i, j]) > 0.6 * vmax
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
                wrong = chosen and methods == ("forward", "reverse") and chosen != win and factor > 1.2
                if wrong:
                    ax.add_patch(Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, lw=1.5, ec="k"))
        ax.set_xticks(range(len(ns)), [str(v) for v in ns])
        ax.set_yticks(range(len(ms)), [str(v) for v in ms])
        ax.set_xlabel("n (inputs)")
        ax.set_ylabel("m (outputs)")
        note = "\n(outlined: auto chose the slower one by > 1.2×)" if auto else ""
        ax.set_title(f"{self.family}: which mode wins, and by what factor{note}", fontsize=10)
        return ax.figure

    def _model_margin(self, gn: np.ndarray, gm: np.ndarray) -> np.ndarray:
        """Forward minus reverse cost by :func:`adkit.modes.estimate` over a grid of (n, m).

        The model prices a function by its workload (operations and flops of
        one evaluation), which changes with n and m; between the measured
        shapes it is fitted as ``a + b·n + c·m + d·n·m`` (exact for dense
        layers and elementwise maps). Records without a workload use the
        model's typical function.
        """
        known = {(r["n"], r["m"]): r["workload"] for r in self._records if r.get("workload")}
        if known:
            nm = np.array(list(known), dtype=float)
            basis = np.column_stack([np.ones(len(nm)), nm[:, 0], nm[:, 1], nm[:, 0] * nm[:, 1]])
            names = list(next(iter(known.values())))
            values = np.array([[float(w[k]) for k in names] for w in known.values()])
            coefficients = np.linalg.lstsq(basis, values, rcond=None)[0]  # one column per field

            def cost(n: float, m: float) -> tuple[float, float]:
                fitted = np.maximum(np.array([1.0, n, m, n * m]) @ coefficients, 0.0)
                work = dict(zip(names, fitted.tolist()))
                if "ops" in work:
                    work["ops"] = max(round(work["ops"]), 1)
                return estimate(n, m, Workload(**work))
        else:

            def cost(n: float, m: float) -> tuple[float, float]:
                return estimate(n, m)

        margin = np.empty(gn.shape)
        for index, n in np.ndenumerate(gn):
            fwd, rev = cost(float(n), float(gm[index]))
            margin[index] = fwd - rev
        return margin

    def _plot_crossover(
        self, ax: Any, methods: tuple[str, str] = ("forward", "reverse"), resolution: int = 200
    ) -> Any:
        from matplotlib.lines import Line2D

        ns, ms, ratio = self._ratio_grid(tuple(methods))
        lo = min(min(ns), min(ms)) / 1.6
        hi = max(max(ns), max(ms)) * 1.6
        grid = np.geomspace(lo, hi, resolution)
        gn, gm = np.meshgrid(grid, grid)
        margin = self._model_margin(gn, gm)
        handles = []
        ax.contourf(gn, gm, margin, levels=[-np.inf, 0, np.inf], colors=["#dbe9f6", "#f9dede"], alpha=0.8)
        if np.nanmin(margin) < 0 < np.nanmax(margin):
            ax.contour(gn, gm, margin, levels=[0], colors="C2", linewidths=2, linestyles="--")
            handles.append(
                Line2D([], [], color="C2", lw=2, ls="--", label="auto's boundary: estimate(n, m) equal")
            )
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
        ax.annotate(
            "n = m", (lo * 2.5, lo * 2.5), fontsize=7, color="0.4", rotation=45, ha="center", va="bottom"
        )
        nn, mm = np.meshgrid(ns, ms)
        finite = np.isfinite(ratio)
        logr = np.log10(np.where(finite, ratio, 1.0))
        if len(ns) > 1 and len(ms) > 1 and np.nanmin(logr[finite]) < 0 < np.nanmax(logr[finite]):
            ax.contour(nn, mm, np.where(finite, logr, np.nan), levels=[0], colors="k", linewidths=1.5)
            handles.append(Line2D([], [], color="k", lw=1.5, label="measured: forward = reverse"))
        for win, color, marker in ((True, "C0", "o"), (False, "C3", "s")):
            sel = finite & ((ratio <= 1) == win)
            if np.any(sel):
                sizes = 20 + 60 * np.minimum(np.abs(logr[sel]), 1.5)
                ax.scatter(
                    nn[sel],
                    mm[sel],
                    s=sizes,
                    c=color,
                    marker=marker,
                    edgecolors="k",
                    linewidths=0.5,
                    zorder=3,
                )
                label = f"measured: {LABELS[methods[0] if win else methods[1]]} faster"
                handles.append(Line2D([], [], color=color, marker=marker, ls="", mec="k", label=label))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("n (inputs)")
        ax.set_ylabel("m (outputs)")
        ax.set_title(
            f"{self.family}: where forward and reverse cost the same\n"
            "(shaded: auto picks forward in blue, reverse in red)",
            fontsize=10,
        )
        ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        return ax.figure


__all__ = [
    "FAMILIES",
    "LABELS",
    "METHODS",
    "RECORD_FIELDS",
    "Family",
    "ModeComparison",
    "OperationCount",
    "broadcast",
    "compare_modes",
    "dense",
    "elementwise",
    "get_family",
    "operation_count",
    "reduction",
]
