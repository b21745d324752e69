"""Differential test: random array programs, every mode and nesting, against an independent oracle.

Each program is built from its id (seeded): one or two input arrays, then a
few random operations (elementwise functions on their domains, broadcasting
arithmetic, matmul, reductions with their parameters, indexing and slicing,
reshapes, concatenation and stacking, a little linear algebra on
well-conditioned matrices), sometimes reduced to a scalar. A program is
written once as a function of an array module ``xp``: adkit runs it with
``numpy`` on its traced values, the oracle with ``jax.numpy`` in float64.
Without JAX, the oracle is central differences of the program on plain NumPy.

adkit computes the first derivatives in forward, reverse and auto mode
(``jacobian``, ``jvp``, ``vjp``, ``grad`` for scalar outputs) and the second
derivatives in every nesting (``jacobian`` of ``jacobian``, forward and reverse
over forward and reverse, auto over auto, ``hessian`` for scalar outputs); all
must agree with the oracle, and so must the value. An operation adkit refuses
with ``NotImplementedError`` (a parameter it does not implement) is not a
wrong answer: that check is skipped.

Programs that fail today because of bugs being fixed elsewhere are listed in
``KNOWN_FAILURES`` with the reason and the issue item, as strict xfails: a fix
makes its entries XPASS, and the test then says to remove them.

JAX compiles one function per program, about 0.2 s of CPU each, so a first
run takes about a minute; the oracle's answers are then kept in pytest's cache
and later runs take seconds. ``python tests/test_differential.py 17 42`` prints
programs and what adkit gets wrong on them; ``--failing`` lists the failing ids.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import adkit
from adkit.pytree import flatten

if "jax" not in sys.modules:  # compile the oracle's small programs quickly: it runs each once
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    )
try:  # the independent oracle, when installed (the test extra has it)
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - exercised where JAX is missing
    jax = jnp = None

ORACLE = "jax" if jax is not None else "central differences"
SEED = 20240611
N_PROGRAMS = 300
MAX_SIZE = 12  # entries of any value: keeps Hessians (out x n x n) small


# -- the operations: each a function of the array module and the operands -------------------------


def _matrix(xp: Any, a: Any, k: int, batch: int = 0) -> Any:
    """A well-conditioned k x k matrix (or a stack of ``batch``) from the first entries of ``a``.

    ``2.5 I + 0.5 tanh(P)``: the perturbation has 2-norm at most ``0.5 k <= 1.5``,
    so the eigenvalues' moduli lie in [1, 4].
    """
    count = k * k * max(batch, 1)
    shape = (batch, k, k) if batch else (k, k)
    p = xp.reshape(xp.ravel(a)[:count], shape)
    return 2.5 * xp.eye(k) + 0.5 * xp.tanh(p)


def _column(xp: Any, b: Any, k: int, columns: int = 0) -> Any:
    """A right-hand side from the first entries of ``b``: a vector of k, or k x columns."""
    flat = xp.ravel(b)
    return flat[:k] if not columns else xp.reshape(flat[: k * columns], (k, columns))


def _ufunc(name: str) -> tuple[Callable[..., Any], str]:
    def apply(xp: Any, a: Any) -> Any:
        return getattr(xp, name)(a)

    return apply, f"xp.{name}({{0}})"


def _reduction(name: str, method: bool) -> tuple[Callable[..., Any], str]:
    """``xp.name(a, **kw)`` or the method ``a.name(**kw)``."""

    def function(xp: Any, a: Any, **kw: Any) -> Any:
        return getattr(xp, name)(a, **kw)

    def as_method(xp: Any, a: Any, **kw: Any) -> Any:
        # JAX's function for JAX: in JAX 0.10, x.sum(initial=c) ignores c (jnp.sum does not)
        return getattr(a, name)(**kw) if xp is np else getattr(xp, name)(a, **kw)

    return (as_method, f"{{0}}.{name}({{kw}})") if method else (function, f"xp.{name}({{0}}, {{kw}})")


UFUNCS = (
    "sin",
    "cos",
    "tanh",
    "arctan",
    "arcsinh",
    "exp",
    "expm1",
    "sinh",
    "cosh",
    "log",
    "log1p",
    "sqrt",
    "cbrt",
    "reciprocal",
    "square",
    "negative",
    "abs",
    "arcsin",
    "arccos",
    "arctanh",
    "log2",
    "log10",
    "tan",
)
REDUCTIONS = ("sum", "mean", "prod", "max", "min", "var", "std")

#: name -> (function of xp, the operands and the params; the source it stands for, a format of both)
OPS: dict[str, tuple[Callable[..., Any], str]] = {
    # elementwise, one operand
    **{name: _ufunc(name) for name in UFUNCS},
    "power_const": (lambda xp, a, p: a**p, "{0} ** {p}"),
    "rpower_const": (lambda xp, a, p: p**a, "{p} ** {0}"),
    "neg_op": (lambda xp, a: -a, "-{0}"),
    # elementwise, two operands, or one and a constant c (broadcasting both ways)
    "add": (lambda xp, a, b: a + b, "{0} + {1}"),
    "subtract": (lambda xp, a, b: a - b, "{0} - {1}"),
    "multiply": (lambda xp, a, b: a * b, "{0} * {1}"),
    "divide": (lambda xp, a, b: a / b, "{0} / {1}"),
    "power": (lambda xp, a, b: a**b, "{0} ** {1}"),
    "maximum": (lambda xp, a, b: xp.maximum(a, b), "xp.maximum({0}, {1})"),
    "minimum": (lambda xp, a, b: xp.minimum(a, b), "xp.minimum({0}, {1})"),
    "arctan2": (lambda xp, a, b: xp.arctan2(a, b), "xp.arctan2({0}, {1})"),
    "hypot": (lambda xp, a, b: xp.hypot(a, b), "xp.hypot({0}, {1})"),
    "logaddexp": (lambda xp, a, b: xp.logaddexp(a, b), "xp.logaddexp({0}, {1})"),
    "absorb": (lambda xp, a, b: a + xp.sum(b), "{0} + xp.sum({1})"),
    "add_c": (lambda xp, a, c: a + c, "{0} + {c}"),
    "rsub_c": (lambda xp, a, c: c - a, "{c} - {0}"),
    "mul_c": (lambda xp, a, c: c * a, "{c} * {0}"),
    "rdiv_c": (lambda xp, a, c: c / a, "{c} / {0}"),
    "div_c": (lambda xp, a, c: a / c, "{0} / {c}"),
    "maximum_c": (lambda xp, a, c: xp.maximum(a, c), "xp.maximum({0}, {c})"),
    # selections
    "where": (lambda xp, a, b, t: xp.where(a > t, a, b), "xp.where({0} > {t}, {0}, {1})"),
    "where_c": (lambda xp, a, t, c: xp.where(a > t, c, a), "xp.where({0} > {t}, {c}, {0})"),
    "clip": (lambda xp, a, lo, hi: xp.clip(a, lo, hi), "xp.clip({0}, {lo}, {hi})"),
    # products
    "matmul_c": (lambda xp, a, c: a @ c, "{0} @ {c}"),
    "rmatmul_c": (lambda xp, a, c: c @ a, "{c} @ {0}"),
    "matmul": (lambda xp, a, b: a @ b, "{0} @ {1}"),
    "dot": (lambda xp, a, b: xp.dot(a, b), "xp.dot({0}, {1})"),
    "outer": (lambda xp, a, b: xp.outer(a, b), "xp.outer({0}, {1})"),
    "inner": (lambda xp, a, b: xp.inner(a, b), "xp.inner({0}, {1})"),
    "gram": (lambda xp, a: a @ a.T, "{0} @ {0}.T"),
    "trace": (
        lambda xp, a, offset, axis1, axis2: xp.trace(a, offset=offset, axis1=axis1, axis2=axis2),
        "xp.trace({0}, offset={offset}, axis1={axis1}, axis2={axis2})",
    ),
    # reductions, as functions and as methods
    **{f"{name}_f": _reduction(name, method=False) for name in REDUCTIONS},
    **{f"{name}_m": _reduction(name, method=True) for name in REDUCTIONS},
    "cumsum": (lambda xp, a, axis: xp.cumsum(a, axis=axis), "xp.cumsum({0}, axis={axis})"),
    "norm": (lambda xp, a, axis: xp.linalg.norm(a, axis=axis), "xp.linalg.norm({0}, axis={axis})"),
    # indexing and shapes
    "index": (lambda xp, a, index: a[index], "{0}[{index}]"),
    "reshape": (
        lambda xp, a, shape, order: xp.reshape(a, shape, order=order),
        "xp.reshape({0}, {shape}, order={order})",
    ),
    "reshape_m": (lambda xp, a, shape: a.reshape(shape), "{0}.reshape({shape})"),
    "ravel": (lambda xp, a: xp.ravel(a), "xp.ravel({0})"),
    "transpose": (lambda xp, a, axes: xp.transpose(a, axes), "xp.transpose({0}, {axes})"),
    "T": (lambda xp, a: a.T, "{0}.T"),
    "swapaxes": (
        lambda xp, a, axis1, axis2: xp.swapaxes(a, axis1, axis2),
        "xp.swapaxes({0}, {axis1}, {axis2})",
    ),
    "moveaxis": (
        lambda xp, a, source, destination: xp.moveaxis(a, source, destination),
        "xp.moveaxis({0}, {source}, {destination})",
    ),
    "expand_dims": (lambda xp, a, axis: xp.expand_dims(a, axis), "xp.expand_dims({0}, {axis})"),
    "squeeze": (lambda xp, a: xp.squeeze(a), "xp.squeeze({0})"),
    "broadcast_to": (lambda xp, a, shape: xp.broadcast_to(a, shape), "xp.broadcast_to({0}, {shape})"),
    # joining
    "concatenate": (
        lambda xp, a, b, axis: xp.concatenate([a, b], axis=axis),
        "xp.concatenate([{0}, {1}], axis={axis})",
    ),
    "stack": (lambda xp, a, b, axis: xp.stack([a, b], axis=axis), "xp.stack([{0}, {1}], axis={axis})"),
    "hstack": (lambda xp, a, b: xp.hstack([a, b]), "xp.hstack([{0}, {1}])"),
    "vstack": (lambda xp, a, b: xp.vstack([a, b]), "xp.vstack([{0}, {1}])"),
    # linear algebra on well-conditioned matrices made from the operands
    "solve": (
        lambda xp, a, b, k, columns: xp.linalg.solve(_matrix(xp, a, k), _column(xp, b, k, columns)),
        "xp.linalg.solve(_matrix(xp, {0}, {k}), _column(xp, {1}, {k}, {columns}))",
    ),
    "inv": (
        lambda xp, a, k, batch: xp.linalg.inv(_matrix(xp, a, k, batch)),
        "xp.linalg.inv(_matrix(xp, {0}, {k}, {batch}))",
    ),
    "det": (
        lambda xp, a, k, batch: xp.linalg.det(_matrix(xp, a, k, batch)),
        "xp.linalg.det(_matrix(xp, {0}, {k}, {batch}))",
    ),
    "logabsdet": (
        lambda xp, a, k: xp.linalg.slogdet(_matrix(xp, a, k))[1],
        "xp.linalg.slogdet(_matrix(xp, {0}, {k}))[1]",
    ),
}


# -- programs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """``values.append(OPS[op](xp, *values[args], **params))``."""

    op: str
    args: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def apply(self, xp: Any, values: list[Any]) -> Any:
        return OPS[self.op][0](xp, *(values[i] for i in self.args), **self.params)

    def source(self, names: list[str]) -> str:
        template = OPS[self.op][1]
        shown = {k: _show(v) for k, v in self.params.items()}
        if isinstance(self.params.get("index"), tuple):  # x[a, b], not x[(a, b)]
            shown["index"] = ", ".join(_show(v) for v in self.params["index"])
        kw = ", ".join(f"{k}={shown[k]}" for k in self.params)
        return template.format(*(names[i] for i in self.args), kw=kw, **shown)


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.dtype == bool or value.dtype.kind == "i":
            return f"np.array({value.tolist()})"
        return f"np.array({np.round(value, 3).tolist()})"
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, slice):
        parts = ["" if p is None else str(p) for p in (value.start, value.stop, value.step)]
        return ":".join(parts).rstrip(":") or ":"
    if value is Ellipsis:
        return "..."
    if isinstance(value, float):
        return repr(round(value, 4))
    return repr(value)


@dataclass(frozen=True)
class Program:
    """A random array program: inputs, then steps, the last value is the output."""

    pid: int
    inputs: tuple[np.ndarray, ...]
    steps: tuple[Step, ...]

    def __call__(self, xp: Any, *inputs: Any) -> Any:
        values = list(inputs)
        for step in self.steps:
            values.append(step.apply(xp, values))
        return values[-1]

    def source(self) -> str:
        names = [f"x{i}" for i in range(len(self.inputs))]
        lines = [f"def program(xp, {', '.join(names)}):  # program {self.pid}"]
        for k, step in enumerate(self.steps):
            lines.append(f"    v{k} = {step.source(names)}")
            names.append(f"v{k}")
        lines.append(f"    return {names[-1]}")
        inputs = ", ".join(_show(x) for x in self.inputs)
        return "\n".join(lines) + f"\ninputs = ({inputs},)"


# -- building a program from its id -----------------------------------------------------------------

INPUT_SHAPES = [(3,), (4,), (2, 3), (3, 2), (2, 2), (3, 3), (2, 2, 2), (1, 3), (2, 1, 3), (5,)]


class Rejected(Exception):
    """A proposed step that does not fit the values (shapes, domain): propose another."""


def _pick(rng: np.random.Generator, items: list) -> Any:
    return items[int(rng.integers(len(items)))]


def _margin(values: np.ndarray, bad: float | np.ndarray, gap: float = 0.05) -> None:
    if np.min(np.abs(values - bad)) < gap:
        raise Rejected("too close to a kink or a singular point")


def _axis_choices(ndim: int) -> list[Any]:
    axes: list[Any] = [None] + list(range(-ndim, ndim))
    if ndim >= 2:
        axes += [(0, ndim - 1), (-1, 0)] if ndim == 2 else [(0, 2), (1, -1)]
    return axes


def _broadcastable(s: tuple, t: tuple) -> bool:
    try:
        np.broadcast_shapes(s, t)
        return True
    except ValueError:
        return False


def _constant_like(rng: np.random.Generator, shape: tuple, low: float = -1.5, high: float = 1.5) -> Any:
    """A constant that broadcasts against ``shape``: a scalar, the trailing axes, or with unit axes."""
    kind = int(rng.integers(4))
    if kind == 0 or not shape:
        return round(float(rng.uniform(low, high)), 3)
    if kind == 1:
        target = shape[1:] if len(shape) > 1 else shape
    elif kind == 2:
        target = tuple(1 if rng.random() < 0.5 else n for n in shape)
    else:
        target = shape
    return np.round(rng.uniform(low, high, size=target), 3)


def _inside(bound: float) -> Callable[[np.ndarray], None]:
    return lambda a: _require(np.all(np.abs(a) < bound))


UNARY_DOMAIN: dict[str, Callable[[np.ndarray], None]] = {
    "sin": lambda a: None,
    "cos": lambda a: None,
    "tanh": lambda a: None,
    "arctan": lambda a: None,
    "arcsinh": lambda a: None,
    "square": lambda a: None,
    "negative": lambda a: None,
    "neg_op": lambda a: None,
    "exp": lambda a: _require(np.all(a < 3)),
    "expm1": lambda a: _require(np.all(a < 3)),
    "sinh": _inside(3),
    "cosh": _inside(3),
    "arcsin": _inside(0.9),
    "arccos": _inside(0.9),
    "arctanh": _inside(0.9),
    "tan": _inside(1.2),
    "log": lambda a: _require(np.all(a > 0.1)),
    "log2": lambda a: _require(np.all(a > 0.1)),
    "log10": lambda a: _require(np.all(a > 0.1)),
    "log1p": lambda a: _require(np.all(a > -0.9)),
    "sqrt": lambda a: _require(np.all(a > 0.1)),
    "cbrt": lambda a: _margin(a, 0.0, 0.1),
    "reciprocal": lambda a: _margin(a, 0.0, 0.3),
    "abs": lambda a: _margin(a, 0.0),
}


def _require(ok: Any) -> None:
    if not ok:
        raise Rejected("outside the domain")


def _propose(rng: np.random.Generator, values: list[np.ndarray]) -> Step:
    """One random step on the values so far (recent values preferred), or ``Rejected``."""
    n = len(values)
    i = n - 1 if rng.random() < 0.6 else int(rng.integers(n))
    a = values[i]
    j = int(rng.integers(n))
    b = values[j]
    family = _pick(rng, FAMILIES)
    return family(rng, a, i, b, j)


def _unary(rng, a, i, b, j):
    name = _pick(rng, list(UNARY_DOMAIN))
    UNARY_DOMAIN[name](a)
    if name == "negative" and rng.random() < 0.5:
        name = "neg_op"
    return Step(name, (i,))


def _power(rng, a, i, b, j):
    if rng.random() < 0.5:
        p = _pick(rng, [2, 3, 0.5, -1, 1.5, 2.5])
        if p != int(p) or p < 0:
            _require(np.all(a > 0.1))
        return Step("power_const", (i,), {"p": p})
    _require(np.all(np.abs(a) < 3))
    return Step("rpower_const", (i,), {"p": _pick(rng, [2.0, 0.5, 1.5])})


def _binary(rng, a, i, b, j):
    if not _broadcastable(a.shape, b.shape):
        raise Rejected("shapes do not broadcast")
    name = _pick(
        rng,
        [
            "add",
            "subtract",
            "multiply",
            "divide",
            "power",
            "maximum",
            "minimum",
            "arctan2",
            "hypot",
            "logaddexp",
        ],
    )
    if name == "divide":
        _margin(b, 0.0, 0.3)
    if name == "power":
        _require(np.all(a > 0.2) and np.all(np.abs(b) < 2.5))
    if name in ("maximum", "minimum"):
        if i == j:
            raise Rejected("a tie everywhere")
        _margin(a - b, 0.0)
    if name in ("arctan2", "hypot"):
        _require(np.all(a**2 + b**2 > 0.05))
    return Step(name, (i, j))


def _with_constant(rng, a, i, b, j):
    name = _pick(rng, ["add_c", "rsub_c", "mul_c", "rdiv_c", "div_c", "maximum_c"])
    c = _constant_like(rng, a.shape)
    if name == "rdiv_c":
        _margin(a, 0.0, 0.3)
    if name == "div_c":
        _margin(np.asarray(c), 0.0, 0.3)
    if name == "maximum_c":
        _margin(a - c, 0.0)
    return Step(name, (i,), {"c": c})


def _selection(rng, a, i, b, j):
    kind = _pick(rng, ["where", "where_c", "clip"])
    if kind == "clip":
        lo, hi = sorted(np.round(rng.uniform(a.min() - 0.3, a.max() + 0.3, size=2), 3))
        _margin(a, lo)
        _margin(a, hi)
        return Step("clip", (i,), {"lo": float(lo), "hi": float(hi)})
    t = round(float(rng.uniform(a.min(), a.max())), 3) if a.size > 1 else round(float(a.ravel()[0]) - 0.5, 3)
    _margin(a, t)
    if kind == "where_c":
        return Step("where_c", (i,), {"t": t, "c": _constant_like(rng, a.shape)})
    if not _broadcastable(a.shape, b.shape) or np.broadcast_shapes(a.shape, b.shape) != a.shape:
        raise Rejected("where: the other branch must broadcast to the first")
    return Step("where", (i, j), {"t": t})


def _products(rng, a, i, b, j):
    kind = _pick(rng, ["matmul_c", "rmatmul_c", "matmul", "dot", "outer", "inner", "gram", "trace"])
    if kind == "matmul_c":
        _require(a.ndim >= 1)
        return Step(kind, (i,), {"c": np.round(rng.normal(size=(a.shape[-1], int(rng.integers(1, 4)))), 3)})
    if kind == "rmatmul_c":
        _require(a.ndim >= 1)
        rows = a.shape[-2] if a.ndim >= 2 else a.shape[0]
        return Step(kind, (i,), {"c": np.round(rng.normal(size=(int(rng.integers(1, 4)), rows)), 3)})
    if kind in ("matmul", "dot"):
        _require(a.ndim >= 1 and b.ndim >= 1 and a.ndim <= 2 and b.ndim <= 2)
        _require(a.shape[-1] == (b.shape[-2] if b.ndim == 2 else b.shape[0]))
        return Step(kind, (i, j))
    if kind == "outer":
        _require(a.size * b.size <= MAX_SIZE and a.ndim == 1 and b.ndim == 1)
        return Step(kind, (i, j))
    if kind == "inner":
        _require(a.ndim >= 1 and b.ndim >= 1 and a.shape[-1] == b.shape[-1])
        return Step(kind, (i, j))
    if kind == "gram":
        _require(a.ndim == 2)
        return Step(kind, (i,))
    _require(a.ndim >= 2)
    axis1, axis2 = (0, 1) if a.ndim == 2 or rng.random() < 0.4 else rng.permutation(a.ndim)[:2].tolist()
    return Step("trace", (i,), {"offset": _pick(rng, [0, 0, 1, -1]), "axis1": axis1, "axis2": axis2})


def _reduction(rng, a, i, b, j):
    name = _pick(rng, ["sum", "sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "norm"])
    axis = _pick(rng, _axis_choices(a.ndim))
    if name == "cumsum":
        return Step("cumsum", (i,), {"axis": axis if not isinstance(axis, tuple) else -1})
    if name == "norm":
        axis = axis if not isinstance(axis, tuple) or a.ndim == 2 else None
        _require(np.all(np.linalg.norm(a, axis=axis) > 0.1) and (axis is not None or a.ndim <= 2))
        return Step("norm", (i,), {"axis": axis})
    kw: dict[str, Any] = {"axis": axis}
    if rng.random() < 0.4:
        kw["keepdims"] = True
    if name in ("var", "std") and rng.random() < 0.5:
        kw["ddof"] = 1
    count = a.size if axis is None else math.prod(a.shape[k] for k in np.atleast_1d(axis))
    if name in ("var", "std"):
        _require(count > kw.get("ddof", 0))
        if name == "std":
            _require(np.all(np.var(a, axis=axis, ddof=kw.get("ddof", 0)) > 0.01))
    if name in ("max", "min") and count > 1:  # no ties between the top two (or bottom two) of a slice
        ordered = np.sort(_slices(a, axis), axis=-1)
        _require(np.min(ordered[..., -1] - ordered[..., -2]) > 0.05)
        _require(np.min(ordered[..., 1] - ordered[..., 0]) > 0.05)
    if name == "prod":
        _require(np.all(np.abs(a) < 2))
    if name in ("sum", "prod", "max", "min") and rng.random() < 0.15:
        kw["initial"] = round(float(rng.uniform(-1.0, 1.0)), 3)
        if name in ("max", "min"):  # no tie with the initial value either
            _margin(a, kw["initial"])
    if name in ("sum", "mean") and rng.random() < 0.15:
        kw["where"] = rng.random(a.shape) < 0.7
        _require(np.all(np.sum(kw["where"], axis=axis) > 0) and not np.all(kw["where"]))  # no empty mean
    form = "_m" if rng.random() < 0.4 else "_f"
    return Step(name + form, (i,), kw)


def _slices(a: np.ndarray, axis: Any) -> np.ndarray:
    """The slices a reduction over ``axis`` reduces, as the last axis."""
    axes = tuple(range(a.ndim)) if axis is None else tuple(k % a.ndim for k in np.atleast_1d(axis))
    kept = [k for k in range(a.ndim) if k not in axes]
    moved = np.transpose(a, kept + list(axes))
    return moved.reshape(tuple(a.shape[k] for k in kept) + (-1,))


def _indexing(rng, a, i, b, j):
    _require(a.ndim >= 1)
    n0 = a.shape[0]
    choices = [
        lambda: int(rng.integers(-n0, n0)),
        lambda: slice(1, None),
        lambda: slice(None, None, -1),
        lambda: slice(None, None, 2),
        lambda: np.array(rng.integers(0, n0, size=int(rng.integers(1, 4)))),  # repeats allowed
        lambda: (Ellipsis, int(rng.integers(a.shape[-1]))),
        lambda: (slice(None), None),
        lambda: None,
        lambda: rng.random(a.shape) < 0.6,  # a boolean mask
    ]
    if a.ndim >= 2:
        n1 = a.shape[1]
        choices += [
            lambda: (slice(None), np.array(rng.integers(0, n1, size=2))),
            lambda: (slice(1, None), slice(None, None, -1)),
            lambda: (np.array(rng.integers(0, n0, size=2)), np.array(rng.integers(0, n1, size=2))),
            lambda: (int(rng.integers(n0)), slice(None, -1) if n1 > 1 else slice(None)),
        ]
    if a.ndim >= 3:  # advanced indices apart: their axis goes first
        n2 = a.shape[2]
        choices.append(lambda: (np.array([0, n0 - 1]), slice(None), np.array(rng.integers(0, n2, size=2))))
    index = _pick(rng, choices)()
    if isinstance(index, np.ndarray) and index.dtype == bool and not index.any():
        raise Rejected("an empty mask")
    if np.size(a[index]) == 0:
        raise Rejected("empty")
    return Step("index", (i,), {"index": index})


def _shapes(rng, a, i, b, j):
    kind = _pick(
        rng,
        [
            "reshape",
            "reshape_m",
            "ravel",
            "transpose",
            "T",
            "swapaxes",
            "moveaxis",
            "expand_dims",
            "squeeze",
            "broadcast_to",
        ],
    )
    if kind in ("reshape", "reshape_m"):
        size = a.size
        shape = _pick(
            rng,
            [
                s
                for s in [(size,), (-1,), (1, size), (size, 1)]
                + [(d, size // d) for d in range(2, size) if size % d == 0]
                + [(d, -1) for d in range(2, size) if size % d == 0]
            ],
        )
        if kind == "reshape_m":
            return Step(kind, (i,), {"shape": shape})
        return Step(kind, (i,), {"shape": shape, "order": "F" if rng.random() < 0.3 else "C"})
    if kind == "ravel":
        return Step(kind, (i,))
    if kind == "T":
        return Step(kind, (i,))
    if kind == "transpose":
        axes = tuple(rng.permutation(a.ndim).tolist()) if rng.random() < 0.6 else None
        return Step(kind, (i,), {"axes": axes})
    if kind in ("swapaxes", "moveaxis"):
        _require(a.ndim >= 2)
        p, q = (int(x) for x in rng.choice(np.arange(-a.ndim, a.ndim), size=2))
        if kind == "swapaxes":
            return Step(kind, (i,), {"axis1": p, "axis2": q})
        return Step(kind, (i,), {"source": p, "destination": q})
    if kind == "expand_dims":
        _require(a.ndim < 3)
        return Step(kind, (i,), {"axis": int(rng.integers(-a.ndim - 1, a.ndim + 1))})
    if kind == "squeeze":
        _require(1 in a.shape)
        return Step(kind, (i,))
    _require(a.size * 2 <= MAX_SIZE and a.ndim < 3)
    return Step("broadcast_to", (i,), {"shape": (2,) + a.shape})


def _joining(rng, a, i, b, j):
    kind = _pick(rng, ["concatenate", "concatenate", "stack", "hstack", "vstack"])
    _require(a.ndim >= 1 and a.ndim == b.ndim and a.size + b.size <= MAX_SIZE)
    if kind == "concatenate":
        axis = _pick(rng, list(range(-a.ndim, a.ndim)) + [None])
        if axis is not None:
            _require(all(p == q for k, (p, q) in enumerate(zip(a.shape, b.shape)) if k != axis % a.ndim))
        return Step(kind, (i, j), {"axis": axis})
    if kind == "stack":
        _require(a.shape == b.shape)
        return Step(kind, (i, j), {"axis": int(rng.integers(-a.ndim - 1, a.ndim + 1))})
    if kind == "hstack":
        _require(a.shape[1:] == b.shape[1:] if a.ndim > 1 else True)
        return Step(kind, (i, j))
    _require(a.shape[1:] == b.shape[1:] if a.ndim > 1 else a.shape == b.shape)
    return Step(kind, (i, j))


def _linalg(rng, a, i, b, j):
    kind = _pick(rng, ["solve", "solve", "inv", "det", "logabsdet"])
    k = _pick(rng, [2, 2, 3])
    _require(a.size >= k * k)
    if kind == "solve":
        columns = _pick(rng, [0, 0, 2])
        _require(b.size >= k * max(columns, 1))
        return Step(kind, (i, j), {"k": k, "columns": columns})
    if kind == "logabsdet":
        return Step(kind, (i,), {"k": k})
    batch = 2 if a.size >= 2 * k * k and rng.random() < 0.3 else 0
    return Step(kind, (i,), {"k": k, "batch": batch})


FAMILIES = [_unary] * 4 + [
    _power,
    _binary,
    _binary,
    _with_constant,
    _with_constant,
    _selection,
    _products,
    _products,
    _reduction,
    _reduction,
    _indexing,
    _indexing,
    _shapes,
    _shapes,
    _joining,
    _linalg,
]


def build(pid: int) -> Program:
    """Program ``pid``: the same program on every machine (seeded by SEED and pid)."""
    rng = np.random.default_rng([SEED, pid])
    inputs = []
    for _ in range(1 if rng.random() < 0.6 else 2):
        shape = _pick(rng, INPUT_SHAPES)
        inputs.append(np.round(rng.uniform(-1.5, 1.5, size=shape), 3))
    values = list(inputs)
    steps: list[Step] = []
    target = int(rng.integers(2, 7))
    attempts = 0
    while len(steps) < target and attempts < 200:
        attempts += 1
        try:
            step = _propose(rng, values)
            with np.errstate(all="raise"):
                out = np.asarray(step.apply(np, values), dtype=float)
        except (Rejected, FloatingPointError, ValueError, IndexError, np.linalg.LinAlgError):
            continue
        if not (1 <= out.size <= MAX_SIZE and out.ndim <= 3 and np.all(np.abs(out) < 20)):
            continue
        steps.append(step)
        values.append(out)
    used = {k for step in steps for k in step.args}
    for k in range(len(inputs), len(values) - 1):  # every step reaches the output
        if k not in used:
            steps.append(Step("absorb", (len(values) - 1, k)))
            values.append(values[-1] + np.sum(values[k]))
    if rng.random() < 0.4:  # a scalar output: grad and hessian too
        last = values[-1]
        output = len(values) - 1
        closing = _pick(
            rng,
            [
                Step("sum_f", (output,), {"axis": None}),
                Step("mean_m", (output,)),
                Step("norm", (output,), {"axis": None}),
            ],
        )
        if closing.op != "norm" or (last.ndim <= 2 and np.linalg.norm(last) > 0.1):
            steps.append(closing)
    return Program(pid, tuple(inputs), tuple(steps))


# -- the oracle ---------------------------------------------------------------------------------------


def _flat_function(program: Program, xp: Any) -> tuple[Callable[[Any], Any], np.ndarray]:
    """The program as a function of one flat vector of all its inputs, returning a flat vector."""
    shapes = [x.shape for x in program.inputs]
    sizes = [x.size for x in program.inputs]
    offsets = np.cumsum([0] + sizes)

    def flat(z: Any) -> Any:
        parts = [xp.reshape(z[offsets[k] : offsets[k + 1]], shapes[k]) for k in range(len(shapes))]
        return xp.ravel(program(xp, *parts))

    return flat, np.concatenate([x.ravel() for x in program.inputs]).astype(float)


@dataclass(frozen=True)
class Expected:
    """The oracle's value (flat), Jacobian (m x n) and second derivatives (m x n x n) of a program."""

    value: np.ndarray
    jacobian: np.ndarray
    hessian: np.ndarray
    rtol: float
    atol: float  # relative to the size of the values compared, below


def oracle(program: Program, cache: Path | None = None) -> Expected:
    """JAX's value, Jacobian and second derivatives of the program (or central differences without JAX).

    JAX compiles one function per program (eager JAX would compile every
    operation for every new shape, which is slower still), forward mode over
    forward mode, which XLA compiles fastest; the results are
    kept in ``cache`` (pytest's cache directory), keyed by the program, the
    code of its operations and JAX's version, so only the first run pays for
    compiling.
    """
    if jax is not None:
        path = None
        if cache is not None:
            what = (program.inputs, program.steps, jax.__version__, _oracle_source())
            key = hashlib.sha256(pickle.dumps(what)).hexdigest()
            path = cache / f"{program.pid}-{key[:16]}.npz"
            if path.exists():
                with np.load(path) as stored:
                    return Expected(stored["value"], stored["jacobian"], stored["hessian"], *JAX_TOLERANCES)
        f, z = _flat_function(program, jnp)

        def value_twice(z: Any) -> tuple[Any, Any]:
            y = f(z)
            return y, y

        def jacobian_with_value(z: Any) -> tuple[Any, Any]:
            jac, value = jax.jacfwd(value_twice, has_aux=True)(z)
            return jac, (value, jac)

        # forward over forward: the smallest program for XLA to compile, which is most of the time here
        all_three = jax.jit(jax.jacfwd(jacobian_with_value, has_aux=True))
        hess, (value, jac) = all_three(z)
        value, jac, hess = np.asarray(value), np.asarray(jac), np.asarray(hess)
        if path is not None:
            np.savez(path, value=value, jacobian=jac, hessian=hess)
        return Expected(value, jac, hess, *JAX_TOLERANCES)
    f, z = _flat_function(program, np)
    value = f(z)
    n = z.size
    h1, h2 = 1e-6, 1e-4
    eye = np.eye(n)
    jac = np.stack([(f(z + h1 * eye[a]) - f(z - h1 * eye[a])) / (2 * h1) for a in range(n)], axis=-1)
    hess = np.empty(value.shape + (n, n))
    for a in range(n):
        for c in range(a, n):
            da, dc = h2 * eye[a], h2 * eye[c]
            second = (f(z + da + dc) - f(z + da - dc) - f(z - da + dc) + f(z - da - dc)) / (4 * h2 * h2)
            hess[:, a, c] = hess[:, c, a] = second
    return Expected(value, jac, hess, rtol=1e-4, atol=1e-5)


JAX_TOLERANCES = (1e-8, 1e-10)  # rtol, atol (relative to the largest entry, at least 1)


@functools.cache
def _oracle_source() -> str:
    """What JAX's answer depends on besides the program: the operations' code and the oracle's."""
    functions = [fn for fn, _ in OPS.values()]
    functions += [_matrix, _column, _ufunc, _reduction, Step.apply, _flat_function, oracle]
    return "".join(inspect.getsource(fn) for fn in functions)


# -- adkit's answers, as flat arrays ------------------------------------------------------------------


def _flat_jacobian(blocks: Any, m: int) -> np.ndarray:
    """``jacobian(..., argnums=(0, 1))`` blocks (out + x_i) side by side: m x n."""
    leaves = flatten(blocks)[0]
    return np.concatenate([np.reshape(b, (m, -1)) for b in leaves], axis=1)


def _flat_second(blocks: Any, program: Program, m: int) -> np.ndarray:
    """Nested Jacobian blocks ``H[i][j]`` (out + x_i + x_j) into m x n x n."""
    sizes = [x.size for x in program.inputs]
    offsets = np.cumsum([0] + sizes)
    leaves = flatten(blocks)[0]
    k = len(sizes)
    out = np.zeros((m, offsets[-1], offsets[-1]))
    for i in range(k):
        for j in range(k):
            block = np.reshape(leaves[i * k + j], (m, sizes[i], sizes[j]))
            out[:, offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] = block
    return out


Check = Callable[[Expected], tuple[np.ndarray, np.ndarray]]


def checks(program: Program) -> dict[str, Check]:
    """Each way adkit computes the program's derivatives: name -> (adkit's answer, the oracle's), flat."""
    f = lambda *xs: program(np, *xs)
    xs = program.inputs
    argnums = tuple(range(len(xs)))
    out_shape = np.shape(program(np, *xs))
    m = math.prod(out_shape)
    rng = np.random.default_rng([SEED, program.pid, 1])
    vs = tuple(rng.normal(size=x.shape) for x in xs)
    v = np.concatenate([np.ravel(x) for x in vs])
    u = rng.normal(size=out_shape)

    def first(derivative: Callable[..., Any]) -> Check:
        return lambda e: (_flat_jacobian(derivative(*xs), m), e.jacobian)

    def second(derivative: Callable[..., Any]) -> Check:
        return lambda e: (_flat_second(derivative(*xs), program, m), e.hessian)

    out: dict[str, Check] = {
        f"jacobian(mode={mode!r})": first(adkit.jacobian(f, mode=mode, argnums=argnums))
        for mode in ("forward", "reverse", "auto")
    }
    out["jvp"] = lambda e: (np.ravel(adkit.jvp(f, xs, vs)[1]), e.jacobian @ v)
    out["vjp"] = lambda e: (
        np.concatenate([np.ravel(c) for c in adkit.vjp(f, *xs)[1](u)]),
        np.ravel(u) @ e.jacobian,
    )
    out["value"] = lambda e: (np.ravel(adkit.jvp(f, xs, vs)[0]), e.value)
    for outer, inner in [
        ("forward", "forward"),
        ("forward", "reverse"),
        ("reverse", "forward"),
        ("reverse", "reverse"),
        ("auto", "auto"),
    ]:
        inside = adkit.jacobian(f, mode=inner, argnums=argnums)
        out[f"jacobian(jacobian(mode={inner!r}), mode={outer!r})"] = second(
            adkit.jacobian(inside, mode=outer, argnums=argnums)
        )
    if out_shape == ():
        out["grad"] = first(adkit.grad(f, argnums=argnums))
        out["hessian"] = second(adkit.hessian(f, argnums=argnums))
    return out


def disagreements(program: Program, expected: Expected) -> list[str]:
    """What adkit gets wrong on ``program``: one line per check, empty when all agree."""
    problems = []
    for name, check in checks(program).items():
        try:
            got, want = check(expected)
        except NotImplementedError:
            continue  # refused by name: not a wrong answer
        except Exception as err:  # a crash is a finding too, reported with its type
            problems.append(f"{name}: raised {type(err).__name__}: {str(err).splitlines()[0][:160]}")
            continue
        got = np.asarray(got, dtype=float)
        if got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape}, expected {want.shape}")
            continue
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
        error = np.abs(got - want)
        bad = ~(error <= expected.atol * scale + expected.rtol * np.abs(want))  # nan is bad too
        if bad.any():
            k = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(bad, error, -1.0))), got.shape))
            problems.append(
                f"{name}: {int(bad.sum())} of {got.size} entries wrong, e.g. at {k}: "
                f"{got[k]:.6g} instead of {want[k]:.6g}"
            )
    return problems


# -- the test -----------------------------------------------------------------------------------------

#: program id -> (why it fails, the issue item). Strict xfails: when a fix lands, the test XPASSes
#: and says to remove the entry. The ids belong to this generator: a change to it makes other
#: programs; list the failing ones again with ``python tests/test_differential.py --failing``.
#: (Empty since issue 11's fixes: np.trace's parameters, concatenate(axis=None), order="F",
#: prod/sum(initial=), and solve's second derivatives under batched tangents.)
KNOWN_FAILURES: dict[int, tuple[str, str]] = {}


def _params() -> list[Any]:
    params = []
    for pid in range(N_PROGRAMS):
        if pid in KNOWN_FAILURES:
            reason, item = KNOWN_FAILURES[pid]
            mark = pytest.mark.xfail(strict=True, reason=f"{reason} (issue 11, {item})")
            params.append(pytest.param(pid, marks=mark, id=str(pid)))
        else:
            params.append(pytest.param(pid, id=str(pid)))
    return params


@pytest.fixture(scope="module")
def oracle_cache(request) -> Path | None:
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    return None if cache is None or jax is None else cache.mkdir("adkit-differential-oracle")


@pytest.mark.parametrize("pid", _params())
def test_program_agrees_with_the_oracle(pid, oracle_cache):
    program = build(pid)
    expected = oracle(program, oracle_cache)
    with np.errstate(all="ignore"):
        plain = np.ravel(program(np, *program.inputs))
    np.testing.assert_allclose(
        plain,
        expected.value,
        rtol=1e-12,
        atol=1e-12,
        err_msg="the program differs between numpy and the oracle's xp",
    )
    problems = disagreements(program, expected)
    assert not problems, f"against {ORACLE}:\n" + "\n".join(problems) + "\n" + program.source()


def test_the_programs_cover_what_they_should():
    """The generator is worth its name: every operation appears, scalar and vector outputs, 1 and 2 inputs."""
    programs = [build(pid) for pid in range(N_PROGRAMS)]
    used = {step.op for p in programs for step in p.steps}
    missing = set(OPS) - used
    assert not missing, f"operations no program uses: {sorted(missing)}"
    scalar = sum(np.ndim(p(np, *p.inputs)) == 0 for p in programs)
    two_inputs = sum(len(p.inputs) == 2 for p in programs)
    assert 0.2 * N_PROGRAMS < scalar < 0.8 * N_PROGRAMS
    assert 0.2 * N_PROGRAMS < two_inputs < 0.8 * N_PROGRAMS
    assert np.mean([len(p.steps) for p in programs]) > 3


def test_a_planted_bug_is_found(monkeypatch, oracle_cache):
    """The test can fail: a sine whose derivative is off by a relative 1e-6 fails the programs using it.

    (1e-3 against central differences, whose tolerance is wider.)
    """
    factor = 1.0 + (1e-6 if jax is not None else 1e-3)
    off = (lambda out, x: adkit.rules.cos(x) * factor,)
    monkeypatch.setattr(adkit.rules.sin, "partials", off)
    monkeypatch.setattr(adkit.rules.sin, "float_partials", off)
    monkeypatch.setattr(adkit.rules.sin, "fast_vjp", None)  # the first-order rule made from the partials
    using_sine = [
        p
        for p in map(build, range(N_PROGRAMS))
        if p.pid not in KNOWN_FAILURES and any(step.op == "sin" for step in p.steps)
    ]
    assert len(using_sine) >= 5
    for program in using_sine[:5]:
        problems = disagreements(program, oracle(program, oracle_cache))
        assert any(p.startswith("jacobian(mode='forward')") for p in problems), program.source()
        assert any(p.startswith("jacobian(mode='reverse')") for p in problems), program.source()


def _main(args: list[str]) -> None:
    """``PID ...``: print each program and what adkit gets wrong; ``--failing``: the ids failing now."""
    if args == ["--failing"]:
        for pid in range(N_PROGRAMS):
            problems = disagreements(build(pid), oracle(build(pid)))
            if problems:
                print(pid, "known" if pid in KNOWN_FAILURES else "NEW", problems[0][:100], flush=True)
        return
    for arg in args or ["0"]:
        program = build(int(arg))
        print(program.source())
        print("\n".join(disagreements(program, oracle(program))) or "all agree", end="\n\n")


if __name__ == "__main__":
    _main(sys.argv[1:])
