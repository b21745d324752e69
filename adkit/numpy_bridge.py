"""How plain NumPy code reaches adkit: operators, methods and NumPy's protocols.

A user's function is written with ``import numpy as np``. When it meets a
``Dual`` or a ``Var``, NumPy hands the call to ``__array_ufunc__`` (for
ufuncs such as ``np.sin`` and ``np.add``) or ``__array_function__`` (for
functions such as ``np.sum`` and ``np.linalg.solve``); the tables below map
each to the rule-table operation. Anything not in the tables is refused with
an error that names it and says what to do.

The parameter contract: every handler in :data:`FUNCTIONS` is a named
function with NumPy's own parameter names and defaults, and every parameter
is either implemented (``np.trace(a, offset=1)``, ``x.sum(where=mask)``) or
refused by name with :class:`UnsupportedParameterError`; none is dropped.
``tests/test_parameters.py`` checks each one against NumPy's signature and
fails for a handler or a parameter it has no example for.
"""

from __future__ import annotations

import inspect
import math
import operator
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import wraps
from typing import Any, NoReturn

import numpy as np

from adkit import rules
from adkit.core import Box, ndim_of, primal, shape_of

#: NumPy's marker for "not given", which its signatures show as ``<no value>``
_NoValue = np._NoValue


class UnsupportedParameterError(NotImplementedError, TypeError):
    """A NumPy parameter adkit does not implement: refused by name instead of dropped.

    Both a ``NotImplementedError`` (adkit has no rule for it) and a
    ``TypeError`` (an argument the call cannot take), so either catches it.

    >>> import numpy as np
    >>> adkit.grad(lambda x: np.sin(x, where=x > 0).sum())(np.ones(2))
    Traceback (most recent call last):
    ...
    adkit.numpy_bridge.UnsupportedParameterError: adkit does not support sin(..., where=...): ...
    """


def _refuse(what: str, parameter: str, why: str) -> NoReturn:
    raise UnsupportedParameterError(f"adkit does not support {what}(..., {parameter}=...): {why}")


def _no_out(what: str, out: Any) -> None:
    """Refuse ``out=``: NumPy would write into an existing array, which cannot hold a traced value."""
    if out is None or (type(out) is tuple and all(o is None for o in out)):
        return
    _refuse(what, "out", "it writes into an existing array, which cannot hold a traced value. "
                         "Use the returned value instead.")  # fmt: skip


def _check_dtype(what: str, dtype: Any, *values: Any) -> None:
    """Accept ``dtype=`` naming the type the result has anyway; refuse a cast."""
    if dtype is None:
        return
    want = np.dtype(dtype)
    have = np.result_type(*(primal(v) for v in values))
    if want != have:
        _refuse(what, "dtype", f"the values are {have} and adkit computes in their own type; it does "
                               f"not cast to {want}. Leave dtype out, or cast the inputs first.")  # fmt: skip


def _same_as_numpy(what: str, numpy_call: Callable[..., Any], natural: Any, **checked: Any) -> None:
    """Let NumPy check ``dtype``/``casting``/``order`` on the primal values, then refuse a changed dtype.

    ``casting`` only allows or forbids a call and ``order`` only lays out
    memory, so once NumPy accepts them the values adkit computes are NumPy's.
    """
    if not checked:
        return
    with np.errstate(all="ignore"):
        asked = numpy_call(**checked)
    if np.result_type(asked) != np.result_type(natural):
        have, want = np.result_type(natural), np.result_type(asked)
        _refuse(what, "dtype", f"the result would be {want} instead of {have}; adkit computes in the "
                               "values' own type.")  # fmt: skip


def _keepdims(keepdims: Any) -> bool:
    return False if keepdims is _NoValue else bool(keepdims)


def _where_mask(where: Any, a: Any) -> np.ndarray | None:
    """A reduction's ``where=`` as a boolean mask of ``a``'s shape (as NumPy broadcasts it); None for all."""
    if where is _NoValue or where is True:
        return None
    mask = np.asarray(primal(where))
    if mask.dtype != bool:
        raise TypeError(f"where= must be a boolean mask, got an array of dtype {mask.dtype}")
    return np.broadcast_to(mask, shape_of(a))


def _count_of(mask: np.ndarray, a: Any, **reduction: Any) -> np.ndarray:
    """How many elements ``mask`` selects, in ``a``'s floating type (so that dividing by it keeps float32)."""
    kind = np.result_type(primal(a))
    return np.sum(mask, **reduction).astype(kind if kind.kind == "f" else np.float64)


def _masked(a: Any, mask: np.ndarray | None, fill: float) -> Any:
    """``a`` where the mask holds, the reduction's identity ``fill`` elsewhere (which gets no derivative)."""
    return a if mask is None else rules.where(mask, a, fill)


def _no_rule_message(name: str) -> str:
    return (
        f"adkit has no derivative rule for numpy.{name}. Rewrite the expression with "
        f"supported operations, or register your own with @adkit.primitive and give it "
        f".defjvp / .defvjp rules (see adkit.primitive's docstring)."
    )


# -- ufuncs -----------------------------------------------------------------------


def _identity(x: Any) -> Any:
    """``np.positive`` and ``np.conjugate`` of a real value: the value itself."""
    return x


def _fmax(x: Any, y: Any) -> Any:
    """``np.fmax``: the maximum, ignoring a nan operand (selected, so the other gets the derivative)."""
    return rules.where(np.isnan(primal(y)), x, rules.where(np.isnan(primal(x)), y, rules.maximum(x, y)))


def _fmin(x: Any, y: Any) -> Any:
    """``np.fmin``: the minimum, ignoring a nan operand."""
    return rules.where(np.isnan(primal(y)), x, rules.where(np.isnan(primal(x)), y, rules.minimum(x, y)))


def _divmod(x: Any, y: Any) -> tuple[Any, Any]:
    """``np.divmod`` and Python's ``divmod``: the floor quotient (a constant) and the remainder."""
    return rules.floor_divide(x, y), rules.remainder(x, y)


#: NumPy ufunc -> the adkit operation that differentiates it.
UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: rules.add,
    np.subtract: rules.subtract,
    np.multiply: rules.multiply,
    np.divide: rules.divide,
    np.power: rules.power,
    np.float_power: rules.power,
    np.negative: rules.negative,
    np.positive: _identity,
    np.conjugate: _identity,
    np.absolute: rules.absolute,
    np.fabs: rules.absolute,
    np.sign: rules.sign,
    np.square: rules.square,
    np.reciprocal: rules.reciprocal,
    np.remainder: rules.remainder,
    np.fmod: rules.fmod,
    np.copysign: rules.copysign,
    np.divmod: _divmod,
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
    np.fmax: _fmax,
    np.fmin: _fmin,
    np.matmul: rules.matmul,
    # piecewise constant: traced results with derivative 0, as in PyTorch and JAX
    np.floor: rules.floor,
    np.ceil: rules.ceil,
    np.trunc: rules.trunc,
    np.rint: rules.rint,
    np.floor_divide: rules.floor_divide,
}

#: Ufuncs whose result is piecewise constant, boolean or integer-valued: computed
#: on the primal values, they carry no derivative (as in JAX and PyTorch).
#: ``tests/test_parameters.py`` checks numerically that each is constant between
#: its jumps; ``remainder``, ``fmod`` and ``copysign`` are not, and have rules.
CONSTANT_UFUNCS = frozenset(
    {
        np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
        np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
        np.isnan, np.isinf, np.isfinite, np.signbit, np.spacing,
    }
)  # fmt: skip

_UFUNC_CALL_DEFAULTS = {"where": True, "subok": True, "signature": None, "sig": None,
                        "axes": None, "axis": None, "keepdims": False}  # fmt: skip
_UFUNC_REFUSALS = {
    "where": "np.sin(x, where=mask) leaves the masked-out elements uninitialised; "
             "write np.where(mask, np.sin(x), fill) instead.",
    "subok": "traced values are not ndarray subclasses; leave subok out.",
    "signature": "adkit computes in the values' own type; leave the loop signature out.",
    "sig": "adkit computes in the values' own type; leave the loop signature out.",
    "axes": "matmul over other axes: move them with np.moveaxis first.",
    "axis": "matmul over other axes: move them with np.moveaxis first.",
    "keepdims": "matmul with kept axes: reshape the result instead.",
}  # fmt: skip


def _ufunc_keywords(what: str, numpy_call: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Check a ufunc call's keywords: refuse by name what adkit does not implement.

    ``dtype``, ``casting`` and ``order`` are checked by NumPy itself on the
    primal values (``numpy_call``); a ``dtype`` that changes the result's type
    is refused.
    """
    checked = {}
    for key, value in kwargs.items():
        if key in ("dtype", "casting", "order"):
            checked[key] = value
        elif key in _UFUNC_CALL_DEFAULTS:
            if value is not _UFUNC_CALL_DEFAULTS[key]:
                _refuse(what, key, _UFUNC_REFUSALS[key])
        else:
            raise TypeError(f"{what}() got an unexpected keyword argument {key!r}")
    if checked:
        with np.errstate(all="ignore"):
            natural = _first(numpy_call())
        _same_as_numpy(what, lambda **kw: _first(numpy_call(**kw)), natural, **checked)


def _first(result: Any) -> Any:
    return result[0] if type(result) is tuple else result


def _outer_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """``ufunc.outer(a, b)`` is ``ufunc(a[..., None, ..., None], b)``: out[i.., j..] = f(a[i..], b[j..])."""
    return rules.reshape(a, shape_of(a) + (1,) * ndim_of(b)), b


def _add_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                initial: Any = _NoValue, where: Any = True) -> Any:  # fmt: skip
    """``np.add.reduce``: :func:`_sum` with the ufunc's default ``axis=0``."""
    return _sum(array, axis, dtype, out, keepdims, initial, where)


def _multiply_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                     initial: Any = _NoValue, where: Any = True) -> Any:  # fmt: skip
    """``np.multiply.reduce``: :func:`_prod` with the ufunc's default ``axis=0``."""
    return _prod(array, axis, dtype, out, keepdims, initial, where)


def _maximum_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                    initial: Any = _NoValue, where: Any = True) -> Any:  # fmt: skip
    """``np.maximum.reduce``: :func:`_max` with the ufunc's default ``axis=0``."""
    _check_dtype("maximum.reduce", dtype, array)
    return _max(array, axis, out, keepdims, initial, where)


def _minimum_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                    initial: Any = _NoValue, where: Any = True) -> Any:  # fmt: skip
    """``np.minimum.reduce``: :func:`_min` with the ufunc's default ``axis=0``."""
    _check_dtype("minimum.reduce", dtype, array)
    return _min(array, axis, out, keepdims, initial, where)


def _add_accumulate(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None) -> Any:
    """``np.add.accumulate``: the running sum along ``axis``."""
    return _cumsum(array, axis, dtype, out)


#: (method, ufunc) -> handler, with the method's NumPy signature, for the methods adkit differentiates
UFUNC_METHODS: dict[tuple[str, np.ufunc], Callable[..., Any]] = {
    ("reduce", np.add): _add_reduce,
    ("reduce", np.multiply): _multiply_reduce,
    ("reduce", np.maximum): _maximum_reduce,
    ("reduce", np.minimum): _minimum_reduce,
    ("accumulate", np.add): _add_accumulate,
}


def array_ufunc(ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """Route a NumPy ufunc call on traced values to the rule table."""
    what = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
    _no_out(what, kwargs.pop("out", None))
    if method == "at":
        raise UnsupportedParameterError(
            f"numpy.{what} changes an array in place, which a traced value cannot do: adkit values are "
            "immutable. Build the result functionally (np.where, np.concatenate, indexing)."
        )
    if ufunc in CONSTANT_UFUNCS:
        kwargs = {k: primal(v) for k, v in kwargs.items()}
        return getattr(ufunc, method)(*(primal(x) for x in inputs), **kwargs)
    if method in ("__call__", "outer"):
        op = UFUNCS.get(ufunc)
        if op is None:
            raise NotImplementedError(_no_rule_message(what))
        if kwargs:
            primals = [primal(x) for x in inputs]
            _ufunc_keywords(what, lambda **kw: getattr(ufunc, method)(*primals, **kw), kwargs)
        if method == "outer":
            if ufunc.nin != 2:
                raise ValueError("outer product only supported for binary functions")
            inputs = _outer_operands(*inputs)
        return op(*inputs)
    handler = UFUNC_METHODS.get((method, ufunc))
    if handler is None:
        raise NotImplementedError(_no_rule_message(what))
    return handler(*inputs, **kwargs)


# -- array functions ---------------------------------------------------------------

#: NumPy function -> adkit's handler, a function with NumPy's parameter names and defaults.
FUNCTIONS: dict[Callable, Callable[..., Any]] = {}


def implements(*numpy_functions: Callable) -> Callable[[Callable], Callable]:
    """Register a handler for NumPy functions (its parameters are NumPy's, each implemented or refused)."""

    def register(handler: Callable) -> Callable:
        for function in numpy_functions:
            FUNCTIONS[function] = handler
        return handler

    return register


def _constant(func: Callable) -> Callable:
    """A NumPy function whose result does not depend differentiably on its inputs.

    Every argument goes to NumPy itself, on the primal values, so no parameter
    is dropped; only a traced ``out=`` is refused (NumPy would write into it).
    """
    signature = inspect.signature(func)
    takes_out = "out" in signature.parameters

    @wraps(func)
    def on_primals(*args: Any, **kwargs: Any) -> Any:
        if takes_out:
            out = signature.bind(*args, **kwargs).arguments.get("out")
            if isinstance(out, Box):
                _no_out(func.__name__, out)
        return func(*(primal(a) for a in args), **{k: primal(v) for k, v in kwargs.items()})

    return on_primals


for _func in (np.shape, np.ndim, np.size, np.result_type, np.zeros_like, np.ones_like, np.empty_like,
              np.isclose, np.allclose, np.array_equal, np.argmax, np.argmin, np.argsort,
              np.iscomplexobj, np.isrealobj):  # fmt: skip
    FUNCTIONS[_func] = _constant(_func)


# reductions


@implements(np.sum)
def _sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
         initial: Any = _NoValue, where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.sum``: ``where=`` sums ``where(mask, a, 0)``; ``initial=`` is added."""
    if dtype is None and out is None and initial is _NoValue and where is _NoValue:  # the common case, first
        return rules.sum(a, axis, False if keepdims is _NoValue else bool(keepdims))
    _no_out("sum", out)
    _check_dtype("sum", dtype, a)
    total = rules.sum(_masked(a, _where_mask(where, a), 0.0), axis, _keepdims(keepdims))
    return total if initial is _NoValue else total + initial


@implements(np.prod)
def _prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
          initial: Any = _NoValue, where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.prod``: ``where=`` multiplies ``where(mask, a, 1)``; ``initial=`` multiplies the result."""
    _no_out("prod", out)
    _check_dtype("prod", dtype, a)
    product = rules.prod(_masked(a, _where_mask(where, a), 1.0), axis, _keepdims(keepdims))
    return product if initial is _NoValue else product * initial


@implements(np.mean)
def _mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue, *,
          where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.mean``: ``where=`` divides the masked sum by the number of selected elements."""
    if dtype is None and out is None and where is _NoValue:  # the common case, first
        return rules.mean(a, axis, False if keepdims is _NoValue else bool(keepdims))
    _no_out("mean", out)
    _check_dtype("mean", dtype, a)
    kept = _keepdims(keepdims)
    mask = _where_mask(where, a)
    if mask is None:
        return rules.mean(a, axis, kept)
    total = rules.sum(rules.where(mask, a, 0.0), axis, kept)
    return total / _count_of(mask, a, axis=axis, keepdims=kept)


def _extremum(what: str, reduce: Callable, pick: Callable, fill: float, a: Any, axis: Any, out: Any,
              keepdims: Any, initial: Any, where: Any) -> Any:  # fmt: skip
    """``max``/``min``: ``where=`` fills with -inf/inf; ``initial=`` takes part as one more element."""
    if out is None and initial is _NoValue and where is _NoValue:  # the common case, first
        return reduce(a, axis, False if keepdims is _NoValue else bool(keepdims))
    _no_out(what, out)
    mask = _where_mask(where, a)
    if mask is not None and initial is _NoValue:
        raise ValueError(f"reduction operation '{pick.__name__}' does not have an identity, so to use a "
                         "where mask one has to specify 'initial'")  # fmt: skip
    kept = _keepdims(keepdims)
    if initial is not _NoValue:
        axes = rules.normalize_axes(axis, ndim_of(a))
        shape = shape_of(a)
        if math.prod(shape[i] for i in axes) == 0:  # nothing to reduce: initial everywhere
            result_shape = rules.keepdims_shape(shape, axes) if kept else tuple(
                n for i, n in enumerate(shape) if i - len(shape) not in axes)  # fmt: skip
            if isinstance(initial, Box):
                return rules.broadcast_to(initial, result_shape)
            return np.full(result_shape, initial, dtype=np.result_type(primal(a)))
    result = reduce(_masked(a, mask, fill), axis, kept)
    return result if initial is _NoValue else pick(result, initial)


@implements(np.max, np.amax)
def _max(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
         where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.max``: ``max(x, initial=v)`` is ``maximum(max(x), v)``; ``where=`` leaves elements out."""
    return _extremum("max", rules.max, rules.maximum, -math.inf, a, axis, out, keepdims, initial, where)


@implements(np.min, np.amin)
def _min(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
         where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.min``: ``min(x, initial=v)`` is ``minimum(min(x), v)``; ``where=`` leaves elements out."""
    return _extremum("min", rules.min, rules.minimum, math.inf, a, axis, out, keepdims, initial, where)


def _variance(what: str, a: Any, axis: Any, dtype: Any, out: Any, ddof: Any, keepdims: Any, where: Any,
              mean: Any, correction: Any) -> Any:  # fmt: skip
    """``var``: the mean of squared deviations (from ``mean=`` when given), over ``count - ddof``."""
    _no_out(what, out)
    _check_dtype(what, dtype, a)
    if correction is not _NoValue:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    kept = _keepdims(keepdims)
    mask = _where_mask(where, a)
    axes = rules.normalize_axes(axis, ndim_of(a))
    if mask is None:
        count = math.prod(shape_of(a)[i] for i in axes)
        if mean is _NoValue and ddof < count:
            return rules.var(a, axes, kept, ddof)
    else:
        count = _count_of(mask, a, axis=axes, keepdims=True)
        a = rules.where(mask, a, 0.0)  # a nan or inf left out must not meet a zero cotangent (0 * nan)
    if np.any(ddof >= count):
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
    centre = rules.sum(_masked(a, mask, 0.0), axes, True) / count if mean is _NoValue else mean
    centred = a - centre
    total = rules.sum(_masked(centred * centred, mask, 0.0), axes, kept)
    if mask is not None and not kept:
        count = _count_of(mask, a, axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):  # NumPy's value: inf or nan, after its warning above
        return total / np.maximum(count - ddof, 0)


@implements(np.var)
def _var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
         keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
         correction: Any = _NoValue) -> Any:  # fmt: skip
    """``np.var``: ``where=`` selects elements, ``mean=`` is the centre, ``correction`` is ``ddof``."""
    return _variance("var", a, axis, dtype, out, ddof, keepdims, where, mean, correction)


@implements(np.std)
def _std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
         keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
         correction: Any = _NoValue) -> Any:  # fmt: skip
    """``np.std``: the square root of :func:`_var`, with the same parameters."""
    return rules.sqrt(_variance("std", a, axis, dtype, out, ddof, keepdims, where, mean, correction))


@implements(np.cumsum)
def _cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.cumsum``: the running sum along ``axis`` (of the flattened array when None)."""
    _no_out("cumsum", out)
    _check_dtype("cumsum", dtype, a)
    return rules.cumsum(a, axis)


@implements(np.trace)
def _trace(a: Any, offset: Any = 0, axis1: Any = 0, axis2: Any = 1, dtype: Any = None,
           out: Any = None) -> Any:  # fmt: skip
    """``np.trace``: the sum of :func:`rules.diagonal` with the same ``offset``, ``axis1``, ``axis2``."""
    _no_out("trace", out)
    _check_dtype("trace", dtype, a)
    return rules.sum(rules.diagonal(a, offset, axis1, axis2), axis=-1)


@implements(np.round)
def _round(a: Any, decimals: Any = 0, out: Any = None) -> Any:
    """``np.round``: NumPy's rounding (scaled, then ``rint``); piecewise constant, derivative 0."""
    _no_out("round", out)
    return rules.around(a, decimals)


@implements(np.around)
def _around(a: Any, decimals: Any = 0, out: Any = None) -> Any:
    """``np.around``, the same as ``np.round``."""
    _no_out("around", out)
    return rules.around(a, decimals)


# products


@implements(np.dot)
def _dot(a: Any, b: Any, out: Any = None) -> Any:
    """``np.dot`` (arrays of up to two axes)."""
    _no_out("dot", out)
    return rules.dot(a, b)


@implements(np.vdot)
def _vdot(a: Any, b: Any, /) -> Any:
    """``np.vdot`` of real values: the sum of the products of the flattened arrays."""
    return rules.sum(rules.multiply(rules.ravel(a), rules.ravel(b)))


@implements(np.inner)
def _inner(a: Any, b: Any, /) -> Any:
    """``np.inner``: contracts the last axes."""
    return rules.inner(a, b)


@implements(np.outer)
def _outer(a: Any, b: Any, out: Any = None) -> Any:
    """``np.outer`` of the flattened arrays."""
    _no_out("outer", out)
    return rules.outer(a, b)


# shapes


@implements(np.transpose)
def _transpose(a: Any, axes: Any = None) -> Any:
    return rules.transpose(a, axes)


@implements(np.swapaxes)
def _swapaxes(a: Any, axis1: Any, axis2: Any) -> Any:
    return rules.swapaxes(a, axis1, axis2)


@implements(np.moveaxis)
def _moveaxis(a: Any, source: Any, destination: Any) -> Any:
    return rules.moveaxis(a, source, destination)


@implements(np.diagonal)
def _diagonal(a: Any, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Any:
    return rules.diagonal(a, offset, axis1, axis2)


@implements(np.repeat)
def _repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    return rules.repeat(a, repeats, axis)


def _copy_flag(what: str, copy: Any) -> None:
    if copy is False:
        _refuse(what, "copy", "copy=False asks for a view of the same memory, and a traced value has none "
                              "to share (its values cannot change anyway). Leave copy out.")  # fmt: skip


@implements(np.reshape)
def _reshape(a: Any, /, shape: Any, order: Any = "C", *, copy: Any = None) -> Any:
    """``np.reshape``: ``order="F"``/``"A"`` as NumPy; ``copy=True`` changes nothing for immutable values."""
    _copy_flag("reshape", copy)
    return rules.reshape(a, shape, order=order)


@implements(np.ravel)
def _ravel(a: Any, order: Any = "C") -> Any:
    return rules.ravel(a, order)


@implements(np.squeeze)
def _squeeze(a: Any, axis: Any = None) -> Any:
    return rules.squeeze(a, axis)


@implements(np.expand_dims)
def _expand_dims(a: Any, axis: Any) -> Any:
    return rules.expand_dims(a, axis)


@implements(np.broadcast_to)
def _broadcast_to(array: Any, shape: Any, subok: Any = False) -> Any:
    """``np.broadcast_to``; ``subok`` concerns ndarray subclasses, which traced values are not."""
    return rules.broadcast_to(array, shape)


def _stacking_checks(what: str, numpy_function: Callable, arrays: Sequence[Any], dtype: Any, casting: Any,
                     **params: Any) -> None:  # fmt: skip
    """``dtype``/``casting`` of ``concatenate`` and friends: NumPy checks them; a cast is refused."""
    checked = {k: v for k, v in (("dtype", dtype), ("casting", casting)) if v is not None and
               not (k == "casting" and v == "same_kind")}  # fmt: skip
    if checked:
        primals = [primal(x) for x in arrays]
        _same_as_numpy(what, lambda **kw: numpy_function(primals, **params, **kw),
                       np.result_type(*primals), **checked)  # fmt: skip


@implements(np.concatenate)
def _concatenate(arrays: Any, /, axis: Any = 0, out: Any = None, *, dtype: Any = None,
                 casting: Any = "same_kind") -> Any:  # fmt: skip
    """``np.concatenate``; ``axis=None`` joins the flattened arrays."""
    _no_out("concatenate", out)
    arrays = list(arrays)
    _stacking_checks("concatenate", np.concatenate, arrays, dtype, casting, axis=axis)
    if axis is None:
        arrays, axis = [rules.ravel(x) for x in arrays], 0
    return rules.concatenate(arrays, axis)


@implements(np.stack)
def _stack(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None,
           casting: Any = "same_kind") -> Any:  # fmt: skip
    _no_out("stack", out)
    arrays = list(arrays)
    _stacking_checks("stack", np.stack, arrays, dtype, casting, axis=axis)
    return rules.stack(arrays, axis)


@implements(np.hstack)
def _hstack(tup: Any, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """``np.hstack``: along the first axis for 1-D arrays, the second otherwise."""
    arrays = [rules.reshape(x, (1,)) if ndim_of(x) == 0 else x for x in tup]
    _stacking_checks("hstack", np.hstack, arrays, dtype, casting)
    return rules.concatenate(arrays, axis=1 if arrays and ndim_of(arrays[0]) != 1 else 0)


@implements(np.vstack)
def _vstack(tup: Any, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """``np.vstack``: along the first axis, 1-D arrays as rows."""
    arrays = [rules.reshape(x, (1, -1)) if ndim_of(x) < 2 else x for x in tup]
    _stacking_checks("vstack", np.vstack, arrays, dtype, casting)
    return rules.concatenate(arrays, axis=0)


@implements(np.atleast_1d)
def _atleast_1d(*arys: Any) -> Any:
    out = tuple(rules.reshape(x, (1,)) if ndim_of(x) == 0 else x for x in arys)
    return out[0] if len(out) == 1 else out


# selections


@implements(np.where)
def _where(condition: Any, x: Any = None, y: Any = None, /) -> Any:
    """``np.where``: with ``x`` and ``y`` a selection; with the condition alone its nonzero indices."""
    if x is None and y is None:
        return np.nonzero(primal(condition))
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    return rules.where(condition, x, y)


def _clip_values(what: str, a: Any, lower: Any, upper: Any, out: Any, kwargs: dict[str, Any]) -> Any:
    _no_out(what, out)
    if kwargs:
        bounds = [primal(b) for b in (lower, upper)]
        _ufunc_keywords(what, lambda **kw: np.clip(primal(a), *bounds, **kw), kwargs)
    return rules.clip(a, lower, upper)


@implements(np.clip)
def _clip(a: Any, a_min: Any = _NoValue, a_max: Any = _NoValue, out: Any = None, *, min: Any = _NoValue,
          max: Any = _NoValue, **kwargs: Any) -> Any:  # fmt: skip
    """``np.clip``: bounds as ``a_min``/``a_max`` or ``min``/``max``; ``**kwargs`` are ufunc keywords."""
    if a_min is _NoValue and a_max is _NoValue:
        a_min = None if min is _NoValue else min
        a_max = None if max is _NoValue else max
    elif a_min is _NoValue or a_max is _NoValue:
        missing = "a_min" if a_min is _NoValue else "a_max"
        raise TypeError(f"clip() missing 1 required positional argument: '{missing}'")
    elif min is not _NoValue or max is not _NoValue:
        raise ValueError("Passing `min` or `max` keyword argument when `a_min` and `a_max` are provided is "
                         "forbidden.")  # fmt: skip
    return _clip_values("clip", a, a_min, a_max, out, kwargs)


# linear algebra


@implements(np.linalg.inv)
def _inv(a: Any) -> Any:
    return rules.inv(a)


@implements(np.linalg.det)
def _det(a: Any) -> Any:
    return rules.det(a)


@implements(np.linalg.slogdet)
def _slogdet(a: Any) -> Any:
    return rules.slogdet(a)


@implements(np.linalg.solve)
def _solve(a: Any, b: Any) -> Any:
    return rules.solve(a, b)


@implements(np.linalg.norm)
def _norm(x: Any, ord: Any = None, axis: Any = None, keepdims: Any = False) -> Any:
    return rules.norm(x, ord, axis, keepdims)


# values that are the argument itself


@implements(np.copy)
def _copy(a: Any, order: Any = "K", subok: Any = False) -> Any:
    """``np.copy``: traced values are immutable, so the value itself; ``order`` lays out memory only."""
    rules.memory_order(a, order, "CFAK", "copying")
    return a


@implements(np.full_like)
def _full_like(a: Any, fill_value: Any, dtype: Any = None, order: Any = "K", subok: Any = True,
               shape: Any = None, *, device: Any = None) -> Any:  # fmt: skip
    """``np.full_like``: a traced ``fill_value`` is broadcast (its derivative flows); ``a`` gives a shape."""
    filled = np.full_like(primal(a), primal(fill_value), dtype, order, subok, shape, device=device)
    if not isinstance(fill_value, Box):
        return filled
    if filled.dtype != np.result_type(primal(fill_value)):
        _refuse("full_like", "dtype", f"the result would be {filled.dtype}, which cannot carry the "
                                      "derivative of a traced fill_value; leave dtype out.")  # fmt: skip
    return rules.broadcast_to(fill_value, filled.shape)


@implements(np.real)
def _real(val: Any) -> Any:
    """``np.real`` of a real traced value: the value itself (complex values are refused where they appear)."""
    return val.real


@implements(np.imag)
def _imag(val: Any) -> Any:
    """``np.imag`` of a real traced value: zeros, a constant."""
    return val.imag


# contractions: einsum and the products written with it (rules.einsum, rules.tensordot ...)

_EINSUM_KEYWORDS = ("dtype", "order", "casting")


def _einsum_subscripts(operands: Sequence[Any]) -> tuple[str, list[Any]]:
    """np.einsum's two forms, as subscripts and arrays: ``("ij,jk", a, b)`` or ``(a, [0, 1], b, [1, 2])``
    (sublists of integers 0-51 and ``...``, an output sublist last; NumPy names 0 ``A``, 26 ``a``)."""
    if not operands:
        raise ValueError("No input operands")
    if isinstance(operands[0], str):
        return operands[0], list(operands[1:])
    args = list(operands)
    output = args.pop() if len(args) % 2 else None

    def letters(sublist: Any) -> str:
        named = ""
        for label in sublist:
            if label is Ellipsis:
                named += "..."
                continue
            k = operator.index(label)
            if not 0 <= k < len(rules.EINSUM_LETTERS):
                raise ValueError(f"subscript is not within the valid range [0, {len(rules.EINSUM_LETTERS)})")
            named += rules.EINSUM_LETTERS[k]
        return named

    subscripts = ",".join(letters(s) for s in args[1::2])
    return subscripts + ("" if output is None else "->" + letters(output)), args[0::2]


@implements(np.einsum)
def _einsum(*operands: Any, out: Any = None, optimize: Any = False, **kwargs: Any) -> Any:
    """``np.einsum`` in both forms; ``optimize`` chooses the contraction order as NumPy does (and the
    derivatives follow it); ``dtype``, ``order`` and ``casting`` are checked by NumPy on the primal values."""
    _no_out("einsum", out)
    subscripts, arrays = _einsum_subscripts(operands)
    for key in kwargs:
        if key not in _EINSUM_KEYWORDS:
            raise TypeError(f"einsum() got an unexpected keyword argument {key!r}")
    if kwargs:
        primals = [primal(x) for x in arrays]
        natural = np.einsum(subscripts, *primals, optimize=optimize)
        _same_as_numpy("einsum", lambda **kw: np.einsum(subscripts, *primals, optimize=optimize, **kw),
                       natural, **kwargs)  # fmt: skip
    return rules.einsum(subscripts, *arrays, optimize=optimize)


@implements(np.tensordot)
def _tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """``np.tensordot``: ``axes`` an int (the last of ``a`` with the first of ``b``) or a pair of lists."""
    return rules.tensordot(a, b, axes)


@implements(np.kron)
def _kron(a: Any, b: Any) -> Any:
    return rules.kron(a, b)


@implements(np.cross)
def _cross(a: Any, b: Any, axisa: Any = -1, axisb: Any = -1, axisc: Any = -1, axis: Any = None) -> Any:
    """``np.cross``: vectors along ``axisa``/``axisb``, the result's along ``axisc`` (``axis``: all three)."""
    return rules.cross(a, b, axisa, axisb, axisc, axis)


@implements(np.linalg.multi_dot)
def _multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """``np.linalg.multi_dot``: the chain in NumPy's cheapest order."""
    _no_out("multi_dot", out)
    return rules.multi_dot(arrays)


FUNCTIONS[np.einsum_path] = _constant(np.einsum_path)  # the order of a contraction: computed from shapes


if hasattr(np.linalg, "tensordot"):  # NumPy 2's array-API spellings

    @implements(np.linalg.tensordot)
    def _linalg_tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
        return rules.tensordot(x1, x2, axes)

    @implements(np.linalg.outer)
    def _linalg_outer(x1: Any, x2: Any, /) -> Any:
        """``np.linalg.outer``: of vectors only."""
        if ndim_of(x1) != 1 or ndim_of(x2) != 1:
            raise ValueError(f"Input arrays must be one-dimensional, but they are x1.ndim={ndim_of(x1)} and "
                             f"x2.ndim={ndim_of(x2)}.")  # fmt: skip
        return rules.outer(x1, x2)

    @implements(np.linalg.cross)
    def _linalg_cross(x1: Any, x2: Any, /, *, axis: Any = -1) -> Any:
        """``np.linalg.cross``: of 3-vectors only."""
        n1, n2 = shape_of(x1)[axis], shape_of(x2)[axis]
        if n1 != 3 or n2 != 3:
            raise ValueError(f"Both input arrays must be (arrays of) 3-dimensional vectors, but they are "
                             f"{n1} and {n2} dimensional instead.")  # fmt: skip
        return rules.cross(x1, x2, axis=axis)

    @implements(np.linalg.matmul)
    def _linalg_matmul(x1: Any, x2: Any, /) -> Any:
        return rules.matmul(x1, x2)


def _matvec(x1: Any, x2: Any) -> Any:
    """``np.matvec``: matrices times vectors, over broadcast stacks."""
    return rules.einsum("...ij,...j->...i", x1, x2, optimize=True)


def _vecmat(x1: Any, x2: Any) -> Any:
    """``np.vecmat``: vectors (conjugated: real here) times matrices, over broadcast stacks."""
    return rules.einsum("...j,...jk->...k", x1, x2, optimize=True)


for _name, _op in (("matvec", _matvec), ("vecmat", _vecmat)):  # NumPy 2.2's generalized ufuncs
    if hasattr(np, _name):
        UFUNCS[getattr(np, _name)] = _op


# order statistics: sorting, partitions, medians and quantiles (rules' "order statistics")


def _sort_checks(what: str, a: Any, kind: Any, order: Any, **more: Any) -> None:
    """``kind`` (and ``stable``) are checked by NumPy itself; they cannot change the sorted values, whose
    derivative follows the stable order at ties. ``order`` names fields, which traced values lack."""
    if order is not None:
        _refuse(what, "order", "it sorts by the fields of a structured array, and traced values have none. "
                               "Sort by the values (leave order out).")  # fmt: skip
    value = np.asarray(primal(a))
    function = np.sort if what == "sort" else lambda v, **kw: np.partition(v, 0, **kw)
    function(np.zeros(1, value.dtype), kind=kind, **more)


@implements(np.sort)
def _sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    """``np.sort``: the derivative is the tangent permuted by the stable argsort, whatever ``kind``."""
    _sort_checks("sort", a, kind, order, stable=stable)
    return rules.sort(a, axis)


@implements(np.partition)
def _partition(a: Any, kth: Any, axis: Any = -1, kind: Any = "introselect", order: Any = None) -> Any:
    """``np.partition``: NumPy's arrangement, differentiated as the permutation it is."""
    _sort_checks("partition", a, kind, order)
    return rules.partition(a, kth, axis)


@implements(np.median)
def _median(a: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
            keepdims: Any = False) -> Any:  # fmt: skip
    """``np.median``; ``overwrite_input`` lets NumPy scramble its input, which a traced value never is."""
    _no_out("median", out)
    return rules.median(a, axis, bool(keepdims))


@implements(np.nanmedian)
def _nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
               keepdims: Any = _NoValue) -> Any:  # fmt: skip
    """``np.nanmedian``: the median of the values that are not nan."""
    _no_out("nanmedian", out)
    return rules.median(a, axis, _keepdims(keepdims), skip_nan=True)


def _quantiles(what: str, a: Any, q: Any, axis: Any, out: Any, method: Any, keepdims: Any, weights: Any,
               skip_nan: bool, percent: bool) -> Any:  # fmt: skip
    _no_out(what, out)
    if percent:
        if not (np.all(np.asarray(primal(q)) >= 0) and np.all(np.asarray(primal(q)) <= 100)):
            raise ValueError("Percentiles must be in the range [0, 100]")
        q = rules.divide(q, 100) if isinstance(q, Box) else np.true_divide(q, 100) if np.ndim(q) else q / 100
    return rules.quantile(a, q, axis, method, _keepdims(keepdims), skip_nan=skip_nan,
                          weights=None if weights is None else primal(weights))  # fmt: skip


@implements(np.quantile)
def _quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
              method: Any = "linear", keepdims: Any = False, *, weights: Any = None) -> Any:  # fmt: skip
    """``np.quantile`` by any of NumPy's methods; ``weights`` (with ``inverted_cdf``) are constants."""
    return _quantiles("quantile", a, q, axis, out, method, keepdims, weights, False, False)


@implements(np.percentile)
def _percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
                method: Any = "linear", keepdims: Any = False, *, weights: Any = None) -> Any:  # fmt: skip
    """``np.percentile``: :func:`_quantile` of ``q / 100``."""
    return _quantiles("percentile", a, q, axis, out, method, keepdims, weights, False, True)


@implements(np.nanquantile)
def _nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
                 method: Any = "linear", keepdims: Any = _NoValue, *,
                 weights: Any = None) -> Any:  # fmt: skip
    """``np.nanquantile``: the quantiles of the values that are not nan."""
    return _quantiles("nanquantile", a, q, axis, out, method, keepdims, weights, True, False)


@implements(np.nanpercentile)
def _nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
                   method: Any = "linear", keepdims: Any = _NoValue, *,
                   weights: Any = None) -> Any:  # fmt: skip
    """``np.nanpercentile``: the percentiles of the values that are not nan."""
    return _quantiles("nanpercentile", a, q, axis, out, method, keepdims, weights, True, True)


@implements(np.ptp)
def _ptp(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue) -> Any:
    """``np.ptp``: ``max - min``; the derivative goes to the extremes (shared at ties)."""
    _no_out("ptp", out)
    return rules.ptp(a, axis, _keepdims(keepdims))


for _func in (np.argpartition, np.nanargmax, np.nanargmin, np.searchsorted):  # positions: constants
    FUNCTIONS[_func] = _constant(_func)


# weighted means, running products, and the reductions that skip nan


def _axes_in_order(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (an int or a sequence) as non-negative axes in the order given (checked as NumPy checks)."""
    rules.normalize_axes(axis, ndim)
    return tuple(operator.index(k) % ndim for k in ((axis,) if isinstance(axis, (int, np.integer)) else axis))


@implements(np.average)
def _average(a: Any, axis: Any = None, weights: Any = None, returned: Any = False, *,
             keepdims: Any = _NoValue) -> Any:  # fmt: skip
    """``np.average``: ``sum(a w) / sum(w)`` over ``axis``, differentiated in ``a`` and in ``w``;
    ``returned`` adds ``sum(w)`` (the count without weights), broadcast to the average's shape."""
    kept = _keepdims(keepdims)
    shape = shape_of(a)
    axes = None if axis is None else _axes_in_order(axis, len(shape))
    if weights is None:
        avg = rules.mean(a, axis, kept)
        scale = np.result_type(primal(avg)).type(math.prod(shape) / max(1, math.prod(shape_of(avg))))
    else:
        w = weights
        if shape_of(w) != shape:
            if axes is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            if shape_of(w) != tuple(shape[k] for k in axes):
                raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
            w = rules.transpose(w, [int(k) for k in np.argsort(axes)])
            w = rules.reshape(w, tuple(n if k in axes else 1 for k, n in enumerate(shape)))
        scale = rules.sum(w, axis, kept)
        if np.any(primal(scale) == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = rules.sum(rules.multiply(a, w), axis, kept) / scale
    if not returned:
        return avg
    if shape_of(scale) != shape_of(avg):
        scale = rules.broadcast_to(scale, shape_of(avg)) if isinstance(scale, Box) else np.full(
            shape_of(avg), scale)  # fmt: skip
    return avg, scale


@implements(np.cumprod)
def _cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.cumprod``: exact derivatives where entries are zero (no division)."""
    _no_out("cumprod", out)
    _check_dtype("cumprod", dtype, a)
    return rules.cumprod(a, axis)


def _cumulative(what: str, running: Callable, identity: float, x: Any, axis: Any, dtype: Any, out: Any,
                include_initial: Any) -> Any:  # fmt: skip
    """NumPy 2's ``cumulative_sum``/``cumulative_prod``: ``axis`` needed above one axis; ``include_initial``
    puts the identity first."""
    _no_out(what, out)
    _check_dtype(what, dtype, x)
    if ndim_of(x) == 0:
        x = rules.reshape(x, (1,))
    if axis is None:
        if ndim_of(x) > 1:
            raise ValueError("For arrays which have more than one dimension ``axis`` argument is required.")
        axis = 0
    result = running(x, axis)
    if not include_initial:
        return result
    axis = rules.normalize_axes(axis, ndim_of(x))[0]
    shape = list(shape_of(result))
    n = shape[axis]
    shape[axis] += 1
    after = (slice(None),) * (-axis - 1)
    padded = rules.index_add_p(result, index=(Ellipsis, slice(1, n + 1)) + after, shape=tuple(shape))
    if identity == 0:
        return padded
    first = (np.arange(n + 1) == 0).reshape((n + 1,) + (1,) * (-axis - 1))
    return rules.where(first, identity, padded)


if hasattr(np, "cumulative_sum"):  # NumPy 2.1

    @implements(np.cumulative_sum)
    def _cumulative_sum(x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None,
                        include_initial: Any = False) -> Any:  # fmt: skip
        return _cumulative("cumulative_sum", rules.cumsum, 0.0, x, axis, dtype, out, include_initial)

    @implements(np.cumulative_prod)
    def _cumulative_prod(x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None,
                         include_initial: Any = False) -> Any:  # fmt: skip
        return _cumulative("cumulative_prod", rules.cumprod, 1.0, x, axis, dtype, out, include_initial)


def _not_nan(a: Any) -> np.ndarray:
    return ~np.isnan(np.asarray(primal(a)))


def _nan_filled(a: Any, fill: float) -> Any:
    """``a`` with its nan replaced by ``fill`` (selected away: they get no derivative)."""
    keep = _not_nan(a)
    return a if keep.all() else rules.where(keep, a, fill)


def _combined_mask(a: Any, where: Any) -> np.ndarray:
    """The elements that are not nan, and selected by ``where=`` if given."""
    mask = _where_mask(where, a)
    keep = _not_nan(a)
    return keep if mask is None else keep & mask


@implements(np.nansum)
def _nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
            initial: Any = _NoValue, where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.nansum``: nan counts as zero."""
    return _sum(_nan_filled(a, 0.0), axis, dtype, out, keepdims, initial, where)


@implements(np.nanprod)
def _nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
             initial: Any = _NoValue, where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.nanprod``: nan counts as one."""
    return _prod(_nan_filled(a, 1.0), axis, dtype, out, keepdims, initial, where)


@implements(np.nancumsum)
def _nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    return _cumsum(_nan_filled(a, 0.0), axis, dtype, out)


@implements(np.nancumprod)
def _nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    return _cumprod(_nan_filled(a, 1.0), axis, dtype, out)


@implements(np.nanmean)
def _nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue, *,
             where: Any = _NoValue) -> Any:  # fmt: skip
    """``np.nanmean``: the mean of the values that are not nan (nan, with NumPy's warning, if none)."""
    _no_out("nanmean", out)
    _check_dtype("nanmean", dtype, a)
    mask = _combined_mask(a, where)
    kept = _keepdims(keepdims)
    count = _count_of(mask, a, axis=axis, keepdims=kept)
    if np.any(count == 0):
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=3)
    total = rules.sum(rules.where(mask, a, 0.0), axis, kept)
    with np.errstate(divide="ignore", invalid="ignore"):
        return total / count


def _nan_extremum(what: str, reduce: Callable, fill: float, a: Any, axis: Any, out: Any, keepdims: Any,
                  initial: Any, where: Any) -> Any:  # fmt: skip
    """``nanmax``/``nanmin``: the extremum of the values that are not nan; an all-nan slice gives nan
    (with NumPy's warning) unless ``initial`` is given."""
    result = reduce(_nan_filled(a, fill), axis, out, keepdims, initial, where)
    if initial is not _NoValue:
        return result
    mask = _combined_mask(a, where)
    empty = ~np.any(mask, axis=axis, keepdims=_keepdims(keepdims))
    if np.any(empty):
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
        result = rules.where(empty, np.nan, result)
    return result


@implements(np.nanmax)
def _nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
            where: Any = _NoValue) -> Any:  # fmt: skip
    return _nan_extremum("nanmax", _max, -math.inf, a, axis, out, keepdims, initial, where)


@implements(np.nanmin)
def _nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
            where: Any = _NoValue) -> Any:  # fmt: skip
    return _nan_extremum("nanmin", _min, math.inf, a, axis, out, keepdims, initial, where)


def _nan_variance(what: str, a: Any, axis: Any, dtype: Any, out: Any, ddof: Any, keepdims: Any, where: Any,
                  mean: Any, correction: Any) -> Any:  # fmt: skip
    """``nanvar``/``nanstd``: :func:`_variance` over the values that are not nan (and ``where=``)."""
    mask = _combined_mask(a, where)
    with warnings.catch_warnings():  # NumPy's nanvar says it with a full stop: below
        warnings.filterwarnings("ignore", "Degrees of freedom", RuntimeWarning)
        result = _variance(what, a, axis, dtype, out, ddof, keepdims, mask, mean, correction)
    ddof = ddof if correction is _NoValue else correction
    if np.any(np.sum(mask, axis=axis) - ddof <= 0):
        warnings.warn("Degrees of freedom <= 0 for slice.", RuntimeWarning, stacklevel=3)
    return result


@implements(np.nanvar)
def _nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
            correction: Any = _NoValue) -> Any:  # fmt: skip
    return _nan_variance("nanvar", a, axis, dtype, out, ddof, keepdims, where, mean, correction)


@implements(np.nanstd)
def _nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
            correction: Any = _NoValue) -> Any:  # fmt: skip
    return rules.sqrt(_nan_variance("nanstd", a, axis, dtype, out, ddof, keepdims, where, mean, correction))


def _multiply_accumulate(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None) -> Any:
    """``np.multiply.accumulate``: the running product along ``axis``."""
    return _cumprod(array, axis, dtype, out)


def _logaddexp_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                      initial: Any = _NoValue, where: Any = True) -> Any:  # fmt: skip
    """``np.logaddexp.reduce``: ``log(sum(exp(x)))`` over ``axis``, shifted by the (constant) maximum so
    that nothing overflows; its derivative is the softmax. ``where=`` leaves elements out (as ``-inf``,
    the identity); ``initial`` takes part as one more element."""
    _no_out("logaddexp.reduce", out)
    _check_dtype("logaddexp.reduce", dtype, array)
    kept = bool(keepdims)
    x = _masked(array, _where_mask(where, array), -math.inf)
    value = np.asarray(primal(x))
    axes = rules.normalize_axes(axis, value.ndim)
    with np.errstate(invalid="ignore"):
        peak = np.max(value, axis=axes, keepdims=True, initial=-math.inf)
    peak = np.where(np.isfinite(peak), peak, 0.0)  # all -inf (or an inf): no shift
    with np.errstate(divide="ignore"):
        total = rules.log(rules.sum(rules.exp(x - peak), axes, True)) + peak
    result = rules.reshape(total, rules.keepdims_shape(value.shape, axes) if kept else tuple(
        n for k, n in enumerate(value.shape) if k - value.ndim not in axes))  # fmt: skip
    return result if initial is _NoValue else rules.logaddexp(result, initial)


UFUNC_METHODS[("accumulate", np.multiply)] = _multiply_accumulate
UFUNC_METHODS[("reduce", np.logaddexp)] = _logaddexp_reduce


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


def _on_primal(method: Callable) -> Callable:
    """An ndarray method whose result does not depend differentiably on the array (``argmax``, ``round``).

    Every argument goes to NumPy's own method on the primal values (``x.searchsorted(v)`` of a traced
    ``v`` too), so none is dropped; only a traced ``out=`` is refused.
    """
    signature = inspect.signature(method)

    @wraps(method)
    def on_primal(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "out" in signature.parameters:
            _no_out(method.__name__, primal_out(signature.bind(self, *args, **kwargs).arguments.get("out")))
        plain = {k: primal(v) for k, v in kwargs.items()}
        return method(np.asarray(primal(self)), *map(primal, args), **plain)

    return on_primal


def primal_out(out: Any) -> Any:
    """``out=`` is refused only when it is traced (NumPy would write into it); a plain array is fine."""
    return out if isinstance(out, Box) else None


#: the public names of NumPy arrays; a traced value lacking one says so (ArrayOps.__getattr__)
NDARRAY_NAMES = frozenset(name for name in dir(np.ndarray) if not name.startswith("_"))

_IN_PLACE = frozenset({"fill", "put", "resize", "setfield", "setflags", "sort", "partition", "byteswap",
                       "itemset"})  # fmt: skip
_MEMORY = frozenset({"base", "ctypes", "data", "flags", "strides", "itemsize", "nbytes", "dump", "dumps",
                     "tobytes", "tofile", "view", "getfield", "device", "to_device", "flat"})  # fmt: skip


def _missing_attribute(kind: str, name: str) -> str:
    """What to say when a traced value lacks the ndarray attribute ``name``."""
    if name in ("sort", "partition"):
        why = (f"x.{name}(...) {name}s an array in place, which a traced value cannot do: adkit values are "
               f"immutable. Use y = np.{name}(x{', kth' if name == 'partition' else ''}, ...) instead, which "
               "returns a new array and is differentiated.")  # fmt: skip
    elif name in _IN_PLACE:
        why = (f"x.{name}(...) changes an array in place, which a traced value cannot do: adkit values are "
               "immutable. Compute a new array instead (np.where, np.concatenate, indexing).")  # fmt: skip
    elif name in _MEMORY:
        why = (f"ndarray.{name} is about the memory of a NumPy array, and a traced value has none. For the "
               f"plain values (no derivative), use adkit.primal(x).{name}.")  # fmt: skip
    else:
        why = (f"adkit has no rule for ndarray.{name}. Write it with supported operations, register a "
               f"rule with @adkit.primitive, or use adkit.primal(x).{name} for the plain values (no "
               "derivative).")  # fmt: skip
    return f"{kind} has no attribute {name!r}: {why}"


class MissingAttribute:
    """An ndarray attribute a traced value lacks: reading it raises an ``AttributeError`` saying what to do.

    A class attribute rather than a ``__getattr__`` fallback: a type with
    ``__getattr__`` loses CPython's specialized attribute access, which cost
    every operation on a traced value about a fifth of its time (W1).
    ``hasattr`` and ``getattr(x, name, default)`` behave as for a missing name.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        kind = f"A traced value ({type(obj).__name__})" if obj is not None else owner.__name__
        raise AttributeError(_missing_attribute(kind, self.name))


class ArrayOps:
    """Operators, NumPy methods and protocols for traced values (``Dual`` and ``Var``).

    Everything here forwards to the rule table; comparisons look at primal
    values only (derivatives do not change control flow). Methods take
    NumPy's parameters and implement or refuse each (``tests/test_parameters.py``);
    an ndarray attribute a traced value lacks raises an ``AttributeError``
    that names it and says what to do.
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

    # -- ndarray attributes a traced value does not have (each says what to do instead)
    # in place:
    byteswap = MissingAttribute()
    fill = MissingAttribute()
    partition = MissingAttribute()
    put = MissingAttribute()
    resize = MissingAttribute()
    setfield = MissingAttribute()
    setflags = MissingAttribute()
    sort = MissingAttribute()
    # about memory:
    base = MissingAttribute()
    ctypes = MissingAttribute()
    data = MissingAttribute()
    device = MissingAttribute()
    dump = MissingAttribute()
    dumps = MissingAttribute()
    flags = MissingAttribute()
    flat = MissingAttribute()
    getfield = MissingAttribute()
    itemsize = MissingAttribute()
    nbytes = MissingAttribute()
    strides = MissingAttribute()
    to_device = MissingAttribute()
    tobytes = MissingAttribute()
    tofile = MissingAttribute()
    view = MissingAttribute()
    # no rule yet:
    choose = MissingAttribute()
    compress = MissingAttribute()
    take = MissingAttribute()

    def item(self, *args: Any) -> Any:
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

    def __floordiv__(self, other: Any) -> Any:
        return rules.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return rules.floor_divide(other, self)

    def __mod__(self, other: Any) -> Any:
        return rules.remainder(self, other)

    def __rmod__(self, other: Any) -> Any:
        return rules.remainder(other, self)

    def __divmod__(self, other: Any) -> tuple[Any, Any]:
        return _divmod(self, other)

    def __rdivmod__(self, other: Any) -> tuple[Any, Any]:
        return _divmod(other, self)

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

    def reshape(self, *shape: Any, order: Any = "C", copy: Any = None) -> Any:
        if copy is not None:
            _copy_flag("reshape", copy)
        if len(shape) == 1:
            shape = shape[0]
        return rules.reshape(self, shape, order=order)

    def ravel(self, order: Any = "C") -> Any:
        return rules.ravel(self, order)

    def flatten(self, order: Any = "C") -> Any:
        return rules.ravel(self, order)

    def squeeze(self, axis: Any = None) -> Any:
        return rules.squeeze(self, axis)

    def swapaxes(self, axis1: Any, axis2: Any) -> Any:
        return rules.swapaxes(self, axis1, axis2)

    def diagonal(self, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Any:
        return rules.diagonal(self, offset, axis1, axis2)

    def repeat(self, repeats: Any, axis: Any = None) -> Any:
        return rules.repeat(self, repeats, axis)

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
            initial: Any = _NoValue, where: Any = _NoValue) -> Any:  # fmt: skip
        return _sum(self, axis, dtype, out, keepdims, initial, where)

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue, *,
             where: Any = _NoValue) -> Any:  # fmt: skip
        return _mean(self, axis, dtype, out, keepdims, where=where)

    def prod(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
             initial: Any = _NoValue, where: Any = _NoValue) -> Any:  # fmt: skip
        return _prod(self, axis, dtype, out, keepdims, initial, where)

    def max(self, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
            where: Any = _NoValue) -> Any:  # fmt: skip
        return _max(self, axis, out, keepdims, initial, where)

    def min(self, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
            where: Any = _NoValue) -> Any:  # fmt: skip
        return _min(self, axis, out, keepdims, initial, where)

    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue) -> Any:  # fmt: skip
        return _variance("var", self, axis, dtype, out, ddof, keepdims, where, mean, _NoValue)

    def std(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue) -> Any:  # fmt: skip
        return rules.sqrt(_variance("std", self, axis, dtype, out, ddof, keepdims, where, mean, _NoValue))

    def cumsum(self, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
        return _cumsum(self, axis, dtype, out)

    def cumprod(self, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
        return _cumprod(self, axis, dtype, out)

    def trace(self, offset: Any = 0, axis1: Any = 0, axis2: Any = 1, dtype: Any = None,
              out: Any = None) -> Any:  # fmt: skip
        return _trace(self, offset, axis1, axis2, dtype, out)

    def dot(self, other: Any, /, out: Any = None) -> Any:
        return _dot(self, other, out)

    def clip(self, min: Any = None, max: Any = None, out: Any = None, **kwargs: Any) -> Any:
        return _clip_values("clip", self, min, max, out, kwargs)

    def copy(self, order: Any = "C") -> Any:
        return _copy(self, order)

    def conj(self) -> Any:
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

    conjugate = conj

    # piecewise constant or integer results: NumPy's own method on the primal value
    def round(self, decimals: Any = 0, out: Any = None) -> Any:
        _no_out("round", out)
        return rules.around(self, decimals)

    argmax = _on_primal(np.ndarray.argmax)
    argmin = _on_primal(np.ndarray.argmin)
    argsort = _on_primal(np.ndarray.argsort)
    argpartition = _on_primal(np.ndarray.argpartition)
    searchsorted = _on_primal(np.ndarray.searchsorted)
    nonzero = _on_primal(np.ndarray.nonzero)
    all = _on_primal(np.ndarray.all)
    any = _on_primal(np.ndarray.any)

    def astype(self, dtype: Any, order: Any = "K", casting: Any = "unsafe", subok: Any = True,
               copy: Any = True) -> Any:  # fmt: skip
        """``x.astype(dtype)``: to a floating type the derivative follows (cast too); to an integer or
        bool type the result is piecewise constant, a plain array (derivative 0, as JAX's float0).

        ``casting`` is checked as NumPy does; ``order``, ``subok`` and ``copy`` concern memory
        only (traced values are immutable and no subclass).
        """
        value = primal(self)
        target = np.dtype(dtype)
        if not np.can_cast(np.result_type(value), target, casting):
            raise TypeError(f"Cannot cast array data from {np.result_type(value)!r} to {target!r} according "
                            f"to the rule {casting!r}")  # fmt: skip
        rules.memory_order(self, order, "CFAK", "astype")
        if target.kind == "f":
            return rules.astype(self, target)
        if target.kind in "biu":
            return np.asarray(value).astype(target, order=order, copy=True)
        _refuse("astype", "dtype", f"a traced value cannot become {target}: adkit differentiates real "
                                   "functions (floating-point types carry the derivative; integer and bool "
                                   "types give constants).")  # fmt: skip


__all__ = ["CONSTANT_UFUNCS", "FUNCTIONS", "NDARRAY_NAMES", "UFUNCS", "UFUNC_METHODS", "ArrayOps",
           "UnsupportedParameterError", "array_function", "array_ufunc", "implements"]  # fmt: skip
