"""How plain NumPy code reaches adkit: operators, methods and NumPy's protocols.

A user's function is written with ``import numpy as np``. When it meets a
``Dual`` or a ``Var``, NumPy hands the call to ``__array_ufunc__`` (for
ufuncs such as ``np.sin`` and ``np.add``) or ``__array_function__`` (for
functions such as ``np.sum`` and ``np.linalg.solve``); the tables below map
each to the rule-table operation. Anything not in the tables is refused with
an error that names it and says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from adkit import rules
from adkit.core import primal

# -- ufuncs -----------------------------------------------------------------------

#: NumPy ufunc -> the adkit operation that differentiates it.
UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: rules.add,
    np.subtract: rules.subtract,
    np.multiply: rules.multiply,
    np.divide: rules.divide,
    np.power: rules.power,
    np.float_power: rules.power,
    np.negative: rules.negative,
    np.positive: lambda x: x,
    np.conjugate: lambda x: x,  # of a real value (complex ones are refused where they appear)
    np.absolute: rules.absolute,
    np.fabs: rules.absolute,
    np.sign: rules.sign,
    np.square: rules.square,
    np.reciprocal: rules.reciprocal,
    np.exp: rules.exp,
    np.expm1: rules.expm1,
    np.log: rules.log,
    np.log1p: rules.log1p,
    np.log2: rules.log2,
    np.log10: rules.log10,
    np.sqrt: rules.sqrt,
    np.cbrt: rules.cbrt,
    np.logaddexp: rules.logaddexp,
    np.sin: rules.sin,
    np.cos: rules.cos,
    np.tan: rules.tan,
    np.arcsin: rules.arcsin,
    np.arccos: rules.arccos,
    np.arctan: rules.arctan,
    np.arctan2: rules.arctan2,
    np.hypot: rules.hypot,
    np.sinh: rules.sinh,
    np.cosh: rules.cosh,
    np.tanh: rules.tanh,
    np.arcsinh: rules.arcsinh,
    np.arccosh: rules.arccosh,
    np.arctanh: rules.arctanh,
    np.maximum: rules.maximum,
    np.minimum: rules.minimum,
    np.fmax: rules.maximum,
    np.fmin: rules.minimum,
    np.matmul: rules.matmul,
}

#: Ufuncs whose result is piecewise constant or boolean: computed on the
#: primal values, they carry no derivative (as in JAX and PyTorch).
CONSTANT_UFUNCS = frozenset(
    {
        np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
        np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
        np.isnan, np.isinf, np.isfinite, np.signbit, np.floor, np.ceil, np.trunc, np.rint,
        np.floor_divide, np.remainder,
    }
)  # fmt: skip

_REDUCTIONS = {np.add: rules.sum, np.maximum: rules.max, np.minimum: rules.min}


def _no_rule_message(name: str) -> str:
    return (
        f"adkit has no derivative rule for numpy.{name}. Rewrite the expression with "
        f"supported operations, or register your own with @adkit.primitive and give it "
        f".defjvp / .defvjp rules (see adkit.primitive's docstring)."
    )


def array_ufunc(ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """Route a NumPy ufunc call on traced values to the rule table."""
    if kwargs.get("out") is not None:
        raise TypeError(
            f"numpy.{ufunc.__name__}(..., out=...) writes into an existing array, which cannot "
            "hold a traced value. Use the returned value instead."
        )
    kwargs.pop("out", None)
    if ufunc in CONSTANT_UFUNCS:
        return getattr(ufunc, method)(*(primal(x) for x in inputs), **kwargs)
    if method == "reduce" and ufunc in _REDUCTIONS and not kwargs.keys() - {"axis", "keepdims"}:
        reduce = _REDUCTIONS[ufunc]
        return reduce(inputs[0], axis=kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False))
    if method != "__call__":
        raise NotImplementedError(_no_rule_message(f"{ufunc.__name__}.{method}"))
    op = UFUNCS.get(ufunc)
    if op is None:
        raise NotImplementedError(_no_rule_message(ufunc.__name__))
    unsupported = kwargs.keys() - {"dtype", "casting"}
    if unsupported:
        names = ", ".join(sorted(unsupported))
        raise TypeError(f"adkit does not support numpy.{ufunc.__name__}(..., {names}=...)")
    return op(*inputs)


# -- array functions ---------------------------------------------------------------


def _constant(func: Callable) -> Callable:
    """A NumPy function whose result does not depend differentiably on its inputs."""

    def on_primals(*args: Any, **kwargs: Any) -> Any:
        return func(*(primal(a) for a in args), **{k: primal(v) for k, v in kwargs.items()})

    return on_primals


def _reduction(op: Callable) -> Callable:
    def handler(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = False,
                **kwargs: Any) -> Any:  # fmt: skip
        if out is not None:
            raise TypeError("out= cannot hold a traced value; use the returned value")
        if kwargs.get("initial", np._NoValue) is not np._NoValue or kwargs.get("where", True) is not True:
            raise NotImplementedError("adkit reductions do not support initial= or where=")
        return op(a, axis=axis, keepdims=bool(keepdims) if keepdims is not np._NoValue else False)

    return handler


def _hstack(tup: Any, **_: Any) -> Any:
    arrays = [rules.reshape(a, (1,)) if np.ndim(primal(a)) == 0 else a for a in tup]
    return rules.concatenate(arrays, axis=0 if np.ndim(primal(arrays[0])) == 1 else 1)


def _vstack(tup: Any, **_: Any) -> Any:
    arrays = [rules.reshape(a, (1, -1)) if np.ndim(primal(a)) < 2 else a for a in tup]
    return rules.concatenate(arrays, axis=0)


def _atleast_1d(*arys: Any) -> Any:
    out = [rules.reshape(a, (1,)) if np.ndim(primal(a)) == 0 else a for a in arys]
    return out[0] if len(out) == 1 else out


def _copy(a: Any, *_: Any, **__: Any) -> Any:
    return a


#: NumPy function -> adkit implementation (same signature as NumPy's, for the
#: arguments adkit supports).
FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    np.sum: _reduction(rules.sum),
    np.mean: _reduction(rules.mean),
    np.prod: _reduction(rules.prod),
    np.max: _reduction(rules.max),
    np.min: _reduction(rules.min),
    np.amax: _reduction(rules.max),
    np.amin: _reduction(rules.min),
    np.cumsum: lambda a, axis=None, dtype=None, out=None: rules.cumsum(a, axis),
    np.var: lambda a, axis=None, dtype=None, out=None, ddof=0, keepdims=False: rules.var(
        a, axis, keepdims, ddof
    ),
    np.std: lambda a, axis=None, dtype=None, out=None, ddof=0, keepdims=False: rules.std(
        a, axis, keepdims, ddof
    ),
    np.dot: lambda a, b, out=None: rules.dot(a, b),
    np.vdot: lambda a, b: rules.sum(rules.multiply(rules.ravel(a), rules.ravel(b))),
    np.inner: rules.inner,
    np.outer: lambda a, b, out=None: rules.outer(a, b),
    np.trace: lambda a, offset=0, axis1=0, axis2=1, dtype=None, out=None: rules.matrix_trace(a),
    np.transpose: lambda a, axes=None: rules.transpose(a, axes),
    np.swapaxes: rules.swapaxes,
    np.moveaxis: rules.moveaxis,
    np.reshape: lambda a, shape=None, order="C", **kw: rules.reshape(a, kw.get("newshape", shape)),
    np.ravel: lambda a, order="C": rules.ravel(a),
    np.squeeze: lambda a, axis=None: rules.squeeze(a, axis),
    np.expand_dims: rules.expand_dims,
    np.broadcast_to: lambda array, shape, subok=False: rules.broadcast_to(array, shape),
    np.concatenate: lambda arrays, axis=0, out=None, **kw: rules.concatenate(arrays, axis),
    np.stack: lambda arrays, axis=0, out=None, **kw: rules.stack(arrays, axis),
    np.hstack: _hstack,
    np.vstack: _vstack,
    np.atleast_1d: _atleast_1d,
    np.where: lambda condition, x=None, y=None: rules.where(condition, x, y),
    np.clip: lambda a, a_min=None, a_max=None, out=None, **kw: rules.clip(
        a, kw.get("min", a_min), kw.get("max", a_max)
    ),
    np.linalg.inv: rules.inv,
    np.linalg.det: rules.det,
    np.linalg.slogdet: rules.slogdet,
    np.linalg.solve: rules.solve,
    np.linalg.norm: rules.norm,
    np.copy: _copy,
    np.real: lambda val: val.real,
    np.imag: lambda val: val.imag,
    np.shape: _constant(np.shape),
    np.ndim: _constant(np.ndim),
    np.size: _constant(np.size),
    np.result_type: _constant(np.result_type),
    np.zeros_like: _constant(np.zeros_like),
    np.ones_like: _constant(np.ones_like),
    np.empty_like: _constant(np.empty_like),
    np.full_like: lambda a, fill_value, *args, **kw: np.full_like(primal(a), primal(fill_value), *args, **kw),
    np.isclose: _constant(np.isclose),
    np.allclose: _constant(np.allclose),
    np.array_equal: _constant(np.array_equal),
    np.argmax: _constant(np.argmax),
    np.argmin: _constant(np.argmin),
    np.argsort: _constant(np.argsort),
    np.round: _constant(np.round),
    np.iscomplexobj: _constant(np.iscomplexobj),
    np.isrealobj: _constant(np.isrealobj),
}


def array_function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """Route a NumPy function call on traced values to the rule table."""
    handler = FUNCTIONS.get(func)
    if handler is None:
        raise NotImplementedError(_no_rule_message(_qualified_name(func)))
    return handler(*args, **kwargs)


def _qualified_name(func: Callable) -> str:
    module = getattr(func, "__module__", "") or ""
    name = getattr(func, "__name__", repr(func))
    return f"linalg.{name}" if "linalg" in module else name


# -- the array-like behaviour of Dual and Var -----------------------------------------


def _refuse_conversion(what: str) -> TypeError:
    return TypeError(
        f"adkit cannot convert a traced value to {what}: the derivative would be lost. "
        "This happens when a traced value is stored into a plain NumPy array "
        "(a = np.zeros(3); a[0] = x), passed to math.sin instead of np.sin, or given to "
        "float()/np.asarray(). Build arrays functionally instead: np.stack([x, y]), "
        "np.concatenate(...), np.where(mask, x, y); and use np.sin / adkit.sin, not math.sin. "
        "To read the number itself, use adkit.primal(x) or x.value."
    )


class ArrayOps:
    """Operators, NumPy methods and protocols for traced values (``Dual`` and ``Var``).

    Everything here forwards to the rule table; comparisons look at primal
    values only (derivatives do not change control flow).
    """

    __slots__ = ()
    # NumPy asks objects with a higher priority to handle mixed operations.
    __array_priority__ = 1000

    # -- NumPy protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if not kwargs and method == "__call__":  # the common case, first
            op = UFUNCS.get(ufunc)
            if op is not None:
                return op(*inputs)
        return array_ufunc(ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        return array_function(func, args, kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise _refuse_conversion("a NumPy array")

    def __float__(self) -> float:
        raise _refuse_conversion("a float")

    def __int__(self) -> int:
        raise _refuse_conversion("an int")

    def __complex__(self) -> complex:
        raise _refuse_conversion("a complex number")

    def __index__(self) -> int:
        raise _refuse_conversion("an index")

    def item(self) -> Any:
        raise _refuse_conversion("a Python number with .item()")

    def tolist(self) -> Any:
        raise _refuse_conversion("a list with .tolist()")

    # -- arithmetic
    def __add__(self, other: Any) -> Any:
        return rules.add(self, other)

    def __radd__(self, other: Any) -> Any:
        return rules.add(other, self)

    def __sub__(self, other: Any) -> Any:
        return rules.subtract(self, other)

    def __rsub__(self, other: Any) -> Any:
        return rules.subtract(other, self)

    def __mul__(self, other: Any) -> Any:
        return rules.multiply(self, other)

    def __rmul__(self, other: Any) -> Any:
        return rules.multiply(other, self)

    def __truediv__(self, other: Any) -> Any:
        return rules.divide(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return rules.divide(other, self)

    def __pow__(self, other: Any) -> Any:
        return rules.power(self, other)

    def __rpow__(self, other: Any) -> Any:
        return rules.power(other, self)

    def __matmul__(self, other: Any) -> Any:
        return rules.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return rules.matmul(other, self)

    def __neg__(self) -> Any:
        return rules.negative(self)

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return rules.absolute(self)

    # -- comparisons look at the primal values
    def __lt__(self, other: Any) -> Any:
        return primal(self) < primal(other)

    def __le__(self, other: Any) -> Any:
        return primal(self) <= primal(other)

    def __gt__(self, other: Any) -> Any:
        return primal(self) > primal(other)

    def __ge__(self, other: Any) -> Any:
        return primal(self) >= primal(other)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return primal(self) == primal(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return primal(self) != primal(other)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return bool(primal(self))

    # -- array attributes and methods
    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(primal(self))

    @property
    def ndim(self) -> int:
        return np.ndim(primal(self))

    @property
    def size(self) -> int:
        return int(np.size(primal(self)))

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(primal(self))

    def __len__(self) -> int:
        return len(primal(self))

    def __iter__(self) -> Iterator[Any]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d traced value")
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: Any) -> Any:
        return rules.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "adkit values are immutable: x[i] = v cannot be traced. Build the array "
            "functionally: np.where(mask, v, x), np.concatenate([...]), np.stack([...])."
        )

    @property
    def T(self) -> Any:
        return rules.transpose(self)

    @property
    def mT(self) -> Any:
        return rules.swapaxes(self, -1, -2)

    def transpose(self, *axes: Any) -> Any:
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return rules.transpose(self, axes or None)

    def reshape(self, *shape: Any, order: str = "C") -> Any:
        if len(shape) == 1:
            shape = shape[0]
        return rules.reshape(self, shape)

    def ravel(self) -> Any:
        return rules.ravel(self)

    flatten = ravel

    def squeeze(self, axis: Any = None) -> Any:
        return rules.squeeze(self, axis)

    def sum(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return rules.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return rules.mean(self, axis, keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return rules.prod(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return rules.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        return rules.min(self, axis, keepdims)

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, **kwargs: Any) -> Any:
        return rules.var(self, axis, keepdims, ddof)

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, **kwargs: Any) -> Any:
        return rules.std(self, axis, keepdims, ddof)

    def cumsum(self, axis: Any = None) -> Any:
        return rules.cumsum(self, axis)

    def dot(self, other: Any) -> Any:
        return rules.dot(self, other)

    def clip(self, min: Any = None, max: Any = None) -> Any:
        return rules.clip(self, min, max)

    def copy(self) -> Any:
        return self

    # -- real and imaginary parts: traced values are real (complex ones are refused where they appear)
    @property
    def real(self) -> Any:
        """``x.real`` of a real array is ``x``: the derivative passes through unchanged."""
        return self

    @property
    def imag(self) -> Any:
        """``x.imag`` of a real array is zero, a constant."""
        value = primal(self)
        return np.zeros(np.shape(value), np.result_type(value)) if np.ndim(value) else 0.0

    def conj(self) -> Any:
        """The complex conjugate of a real value: the value itself."""
        return self

    conjugate = conj

    def astype(self, dtype: Any, **kwargs: Any) -> Any:
        if np.issubdtype(np.dtype(dtype), np.floating):
            return self
        raise TypeError(f"adkit cannot cast a traced value to {dtype}: only floating dtypes keep derivatives")


__all__ = ["CONSTANT_UFUNCS", "FUNCTIONS", "UFUNCS", "ArrayOps", "array_function", "array_ufunc"]
