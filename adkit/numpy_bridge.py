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

import functools
import inspect
import math
import operator
import sys
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
                         "Use the returned value instead.")


def _check_dtype(what: str, dtype: Any, *values: Any) -> None:
    """Accept ``dtype=`` naming the type the result has anyway; refuse a cast."""
    if dtype is None:
        return
    want = np.dtype(dtype)
    have = np.result_type(*(primal(v) for v in values))
    if want != have:
        _refuse(what, "dtype", f"the values are {have} and adkit computes in their own type; it does "
                               f"not cast to {want}. Leave dtype out, or cast the inputs first.")


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
                               "values' own type.")


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


#: where a user reads what adkit supports (the page is generated from these tables by the docs build)
SUPPORTED = "`python -m adkit.supported`, or the documentation's page docs/supported.md"


def _no_rule_message(name: str, module: str = "numpy") -> str:
    return (
        f"adkit has no derivative rule for {module}.{name}. Rewrite the expression with "
        f"supported operations, or register your own with @adkit.primitive and give it "
        f".defjvp / .defvjp rules (see adkit.primitive's docstring). What adkit supports: {SUPPORTED}."
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
)

_UFUNC_CALL_DEFAULTS = {"where": True, "subok": True, "signature": None, "sig": None,
                        "axes": None, "axis": None, "keepdims": False}
_UFUNC_REFUSALS = {
    "where": "np.sin(x, where=mask) leaves the masked-out elements uninitialised; "
             "write np.where(mask, np.sin(x), fill) instead.",
    "subok": "traced values are not ndarray subclasses; leave subok out.",
    "signature": "adkit computes in the values' own type; leave the loop signature out.",
    "sig": "adkit computes in the values' own type; leave the loop signature out.",
    "axes": "matmul (vecdot, matvec, vecmat) over other axes: move them with np.moveaxis first.",
    "axis": "matmul (vecdot, matvec, vecmat) over other axes: move them with np.moveaxis first "
            "(np.linalg.vecdot takes axis=).",
    "keepdims": "matmul with kept axes: reshape the result instead.",
}


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
                initial: Any = _NoValue, where: Any = True) -> Any:
    """``np.add.reduce``: :func:`_sum` with the ufunc's default ``axis=0``."""
    return _sum(array, axis, dtype, out, keepdims, initial, where)


def _multiply_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                     initial: Any = _NoValue, where: Any = True) -> Any:
    """``np.multiply.reduce``: :func:`_prod` with the ufunc's default ``axis=0``."""
    return _prod(array, axis, dtype, out, keepdims, initial, where)


def _maximum_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                    initial: Any = _NoValue, where: Any = True) -> Any:
    """``np.maximum.reduce``: :func:`_max` with the ufunc's default ``axis=0``."""
    _check_dtype("maximum.reduce", dtype, array)
    return _max(array, axis, out, keepdims, initial, where)


def _minimum_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                    initial: Any = _NoValue, where: Any = True) -> Any:
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
            op = special_rule(ufunc)
        if op is None:
            raise NotImplementedError(_no_rule_message(what, _ufunc_module(ufunc)))
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
        raise NotImplementedError(_no_rule_message(what, _ufunc_module(ufunc)))
    return handler(*inputs, **kwargs)


# scipy.special's ufuncs: NumPy's protocol brings them here like NumPy's own. SciPy is optional and
# never imported by adkit: a user who calls scipy.special.erf has imported it, so it is looked up in
# sys.modules, and the functions are matched by identity, not by name.

#: scipy.special ufunc name -> the adkit operation that differentiates it
SPECIAL_UFUNCS: dict[str, Callable[..., Any]] = {
    "erf": rules.erf, "erfc": rules.erfc, "erfinv": rules.erfinv, "ndtr": rules.ndtr, "ndtri": rules.ndtri,
    "log_ndtr": rules.log_ndtr, "expit": rules.expit, "log_expit": rules.log_expit, "logit": rules.logit,
    "digamma": rules.digamma, "psi": rules.digamma, "gammaln": rules.gammaln, "gamma": rules.gamma,
    "xlogy": rules.xlogy, "xlog1py": rules.xlog1py,
}


def special_rule(ufunc: np.ufunc) -> Callable[..., Any] | None:
    """The adkit operation for a scipy.special ufunc, or None (also when SciPy was never imported)."""
    special = sys.modules.get("scipy.special")
    return None if special is None else _special_rules(special).get(ufunc)


@functools.cache
def _special_rules(special: Any) -> dict[np.ufunc, Callable[..., Any]]:
    return {getattr(special, name): op for name, op in SPECIAL_UFUNCS.items() if hasattr(special, name)}


def _ufunc_module(ufunc: np.ufunc) -> str:
    """Where a ufunc lives, for messages: ``numpy`` or ``scipy.special``."""
    name = ufunc.__name__
    if getattr(np, name, None) is not ufunc:
        for module in ("scipy.special", "scipy.special._ufuncs"):  # (scipy.special.zeta calls _ufuncs._zeta)
            if getattr(sys.modules.get(module), name, None) is ufunc:
                return "scipy.special"
    return "numpy"


# NumPy 2's generalized ufuncs of vectors (the axis= and axes= keywords are refused, as for matmul)
for _name, _op in (("vecdot", rules.vecdot), ("matvec", rules.matvec), ("vecmat", rules.vecmat)):
    if isinstance(getattr(np, _name, None), np.ufunc):
        UFUNCS[getattr(np, _name)] = _op


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
              np.iscomplexobj, np.isrealobj):
    FUNCTIONS[_func] = _constant(_func)


# reductions


@implements(np.sum)
def _sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
         initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    """``np.sum``: ``where=`` sums ``where(mask, a, 0)``; ``initial=`` is added."""
    if dtype is None and out is None and initial is _NoValue and where is _NoValue:  # the common case, first
        return rules.sum(a, axis, False if keepdims is _NoValue else bool(keepdims))
    _no_out("sum", out)
    _check_dtype("sum", dtype, a)
    total = rules.sum(_masked(a, _where_mask(where, a), 0.0), axis, _keepdims(keepdims))
    return total if initial is _NoValue else total + initial


@implements(np.prod)
def _prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
          initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    """``np.prod``: ``where=`` multiplies ``where(mask, a, 1)``; ``initial=`` multiplies the result."""
    _no_out("prod", out)
    _check_dtype("prod", dtype, a)
    product = rules.prod(_masked(a, _where_mask(where, a), 1.0), axis, _keepdims(keepdims))
    return product if initial is _NoValue else product * initial


@implements(np.mean)
def _mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue, *,
          where: Any = _NoValue) -> Any:
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
              keepdims: Any, initial: Any, where: Any) -> Any:
    """``max``/``min``: ``where=`` fills with -inf/inf; ``initial=`` takes part as one more element."""
    if out is None and initial is _NoValue and where is _NoValue:  # the common case, first
        return reduce(a, axis, False if keepdims is _NoValue else bool(keepdims))
    _no_out(what, out)
    mask = _where_mask(where, a)
    if mask is not None and initial is _NoValue:
        raise ValueError(f"reduction operation '{pick.__name__}' does not have an identity, so to use a "
                         "where mask one has to specify 'initial'")
    kept = _keepdims(keepdims)
    if initial is not _NoValue:
        axes = rules.normalize_axes(axis, ndim_of(a))
        shape = shape_of(a)
        if math.prod(shape[i] for i in axes) == 0:  # nothing to reduce: initial everywhere
            result_shape = rules.keepdims_shape(shape, axes) if kept else tuple(
                n for i, n in enumerate(shape) if i - len(shape) not in axes)
            if isinstance(initial, Box):
                return rules.broadcast_to(initial, result_shape)
            return np.full(result_shape, initial, dtype=np.result_type(primal(a)))
    result = reduce(_masked(a, mask, fill), axis, kept)
    return result if initial is _NoValue else pick(result, initial)


@implements(np.max, np.amax)
def _max(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
         where: Any = _NoValue) -> Any:
    """``np.max``: ``max(x, initial=v)`` is ``maximum(max(x), v)``; ``where=`` leaves elements out."""
    return _extremum("max", rules.max, rules.maximum, -math.inf, a, axis, out, keepdims, initial, where)


@implements(np.min, np.amin)
def _min(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
         where: Any = _NoValue) -> Any:
    """``np.min``: ``min(x, initial=v)`` is ``minimum(min(x), v)``; ``where=`` leaves elements out."""
    return _extremum("min", rules.min, rules.minimum, math.inf, a, axis, out, keepdims, initial, where)


def _variance(what: str, a: Any, axis: Any, dtype: Any, out: Any, ddof: Any, keepdims: Any, where: Any,
              mean: Any, correction: Any) -> Any:
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
         correction: Any = _NoValue) -> Any:
    """``np.var``: ``where=`` selects elements, ``mean=`` is the centre, ``correction`` is ``ddof``."""
    return _variance("var", a, axis, dtype, out, ddof, keepdims, where, mean, correction)


@implements(np.std)
def _std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
         keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
         correction: Any = _NoValue) -> Any:
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
           out: Any = None) -> Any:
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
                              "to share (its values cannot change anyway). Leave copy out.")


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
                     **params: Any) -> None:
    """``dtype``/``casting`` of ``concatenate`` and friends: NumPy checks them; a cast is refused."""
    checked = {k: v for k, v in (("dtype", dtype), ("casting", casting)) if v is not None and
               not (k == "casting" and v == "same_kind")}
    if checked:
        primals = [primal(x) for x in arrays]
        _same_as_numpy(what, lambda **kw: numpy_function(primals, **params, **kw),
                       np.result_type(*primals), **checked)


@implements(np.concatenate)
def _concatenate(arrays: Any, /, axis: Any = 0, out: Any = None, *, dtype: Any = None,
                 casting: Any = "same_kind") -> Any:
    """``np.concatenate``; ``axis=None`` joins the flattened arrays."""
    _no_out("concatenate", out)
    arrays = [_array_like(x) for x in arrays]  # (lists holding traced values too)
    _stacking_checks("concatenate", np.concatenate, arrays, dtype, casting, axis=axis)
    if axis is None:
        arrays, axis = [rules.ravel(x) for x in arrays], 0
    return rules.concatenate(arrays, axis)


@implements(np.stack)
def _stack(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None,
           casting: Any = "same_kind") -> Any:
    _no_out("stack", out)
    arrays = [_array_like(x) for x in arrays]
    _stacking_checks("stack", np.stack, arrays, dtype, casting, axis=axis)
    return rules.stack(arrays, axis)


@implements(np.hstack)
def _hstack(tup: Any, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """``np.hstack``: along the first axis for 1-D arrays, the second otherwise."""
    arrays = [rules.reshape(x, (1,)) if ndim_of(x) == 0 else x for x in map(_array_like, tup)]
    _stacking_checks("hstack", np.hstack, arrays, dtype, casting)
    return rules.concatenate(arrays, axis=1 if arrays and ndim_of(arrays[0]) != 1 else 0)


@implements(np.vstack)
def _vstack(tup: Any, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """``np.vstack``: along the first axis, 1-D arrays as rows."""
    arrays = [rules.reshape(x, (1, -1)) if ndim_of(x) < 2 else x for x in map(_array_like, tup)]
    _stacking_checks("vstack", np.vstack, arrays, dtype, casting)
    return rules.concatenate(arrays, axis=0)


@implements(np.atleast_1d)
def _atleast_1d(*arys: Any) -> Any:
    out = tuple(rules.reshape(x, (1,)) if ndim_of(x) == 0 else x for x in map(_array_like, arys))
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
          max: Any = _NoValue, **kwargs: Any) -> Any:
    """``np.clip``: bounds as ``a_min``/``a_max`` or ``min``/``max``; ``**kwargs`` are ufunc keywords."""
    if a_min is _NoValue and a_max is _NoValue:
        a_min = None if min is _NoValue else min
        a_max = None if max is _NoValue else max
    elif a_min is _NoValue or a_max is _NoValue:
        missing = "a_min" if a_min is _NoValue else "a_max"
        raise TypeError(f"clip() missing 1 required positional argument: '{missing}'")
    elif min is not _NoValue or max is not _NoValue:
        raise ValueError("Passing `min` or `max` keyword argument when `a_min` and `a_max` are provided is "
                         "forbidden.")
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
    """``np.linalg.norm``: every ``ord`` of vectors and matrices, over ``axis``."""
    return rules.norm(x, ord, axis, keepdims)


# linear algebra: decompositions, norms and the array API's names


@implements(np.linalg.svd)
def _svd(a: Any, full_matrices: Any = True, compute_uv: Any = True, hermitian: Any = False) -> Any:
    """``np.linalg.svd``: the vectors need distinct singular values (else NotDifferentiableError); the
    extra columns of a full decomposition of a non-square matrix are NumPy's, carried along."""
    return rules.svd(a, full_matrices, compute_uv, hermitian)


@implements(np.linalg.eigh)
def _eigh(a: Any, UPLO: Any = "L") -> Any:
    """``np.linalg.eigh``: reads the triangle ``UPLO``; the vectors need distinct eigenvalues."""
    return rules.eigh(a, UPLO)


@implements(np.linalg.eigvalsh)
def _eigvalsh(a: Any, UPLO: Any = "L") -> Any:
    """``np.linalg.eigvalsh``: reads the triangle ``UPLO``; first derivatives also at repeated eigenvalues."""
    return rules.eigvalsh(a, UPLO)


@implements(np.linalg.qr)
def _qr(a: Any, mode: Any = "reduced") -> Any:
    """``np.linalg.qr``: ``mode`` reduced, complete or r; needs full rank (NotDifferentiableError)."""
    if mode in ("raw", "e", "economic"):
        _refuse("linalg.qr", "mode", f"mode={mode!r} gives LAPACK's Householder reflectors, an internal "
                                     "form with no derivative to speak of. Use mode='reduced' or "
                                     "'complete'.")
    return rules.qr(a, mode)


@implements(np.linalg.matrix_power)
def _matrix_power(a: Any, n: Any) -> Any:
    """``np.linalg.matrix_power``: NumPy's products (binary powers), ``inv`` for a negative ``n``."""
    return rules.matrix_power(a, n)


@implements(np.linalg.lstsq)
def _lstsq(a: Any, b: Any, rcond: Any = None) -> Any:
    """``np.linalg.lstsq``: ``x = pinv(a) b`` with lstsq's cutoff ``rcond``; residuals and s traced too."""
    return rules.lstsq(a, b, primal(rcond))


@implements(np.linalg.cond)
def _cond(x: Any, p: Any = None) -> Any:
    """``np.linalg.cond``: extreme singular values for ``p`` None, 2, -2; else ``norm(x) norm(inv(x))``."""
    return rules.cond(x, p)


if hasattr(np.linalg, "vector_norm"):  # NumPy 2: the array API's names

    @implements(np.linalg.cholesky)
    def _cholesky(a: Any, /, *, upper: Any = False) -> Any:
        """``np.linalg.cholesky``: reads the lower triangle (the upper one with ``upper=True``)."""
        return rules.cholesky(a, upper)

    @implements(np.linalg.pinv)
    def _pinv(a: Any, rcond: Any = None, hermitian: Any = False, *, rtol: Any = _NoValue) -> Any:
        """``np.linalg.pinv``: the cutoff from ``rcond`` or ``rtol`` as NumPy; exact where the rank holds."""
        if rcond is None:
            if rtol is _NoValue:
                rcond = 1e-15
            elif rtol is None:
                rcond = max(shape_of(a)[-2:]) * np.finfo(np.result_type(primal(a))).eps
            else:
                rcond = rtol
        elif rtol is not _NoValue:
            raise ValueError("`rtol` and `rcond` can't be both set.")
        return rules.pinv(a, primal(rcond), hermitian)

    @implements(np.linalg.svdvals)
    def _svdvals(x: Any, /) -> Any:
        """``np.linalg.svdvals``: first derivatives also at repeated singular values (symmetric functions)."""
        return rules.svdvals(x)

    @implements(np.linalg.vector_norm)
    def _vector_norm(x: Any, /, *, axis: Any = None, keepdims: Any = False, ord: Any = 2) -> Any:
        """``np.linalg.vector_norm``: every ``ord``, over any axes."""
        return rules.vector_norm(x, axis, keepdims, ord)

    @implements(np.linalg.matrix_norm)
    def _matrix_norm(x: Any, /, *, keepdims: Any = False, ord: Any = "fro") -> Any:
        """``np.linalg.matrix_norm``: every ``ord`` (fro, nuc, 1, 2, inf and their negatives)."""
        return rules.matrix_norm(x, keepdims, ord)

    @implements(np.linalg.trace)
    def _linalg_trace(x: Any, /, *, offset: Any = 0, dtype: Any = None) -> Any:
        """``np.linalg.trace``: the trace of each matrix of a stack (the last two axes)."""
        return _trace(x, offset, -2, -1, dtype)

    @implements(np.linalg.diagonal)
    def _linalg_diagonal(x: Any, /, *, offset: Any = 0) -> Any:
        """``np.linalg.diagonal``: the diagonal of each matrix of a stack (the last two axes)."""
        return rules.diagonal(x, offset, -2, -1)

    @implements(np.linalg.vecdot)
    def _linalg_vecdot(x1: Any, x2: Any, /, *, axis: Any = -1) -> Any:
        """``np.linalg.vecdot``: Σ x1 x2 along ``axis``, broadcasting the other axes."""
        return rules.vecdot(x1, x2, axis)

    @implements(np.linalg.matmul)
    def _linalg_matmul(x1: Any, x2: Any, /) -> Any:
        """``np.linalg.matmul``: ``x1 @ x2``."""
        return rules.matmul(x1, x2)

    @implements(np.linalg.matrix_transpose)
    def _matrix_transpose(x: Any, /) -> Any:
        """``np.linalg.matrix_transpose``: the last two axes swapped."""
        return rules.swapaxes(x, -1, -2)

    @implements(np.linalg.outer)
    def _linalg_outer(x1: Any, x2: Any, /) -> Any:
        """``np.linalg.outer`` of two vectors."""
        if ndim_of(x1) != 1 or ndim_of(x2) != 1:
            raise ValueError(f"Input arrays must be one-dimensional, but they are x1.ndim={ndim_of(x1)} and "
                             f"x2.ndim={ndim_of(x2)}.")
        return rules.outer(x1, x2)


@implements(np.linalg.tensorinv)
def _tensorinv(a: Any, ind: Any = 2) -> Any:
    """``np.linalg.tensorinv``: ``inv`` of ``a`` reshaped to a square matrix, reshaped back."""
    shape = shape_of(a)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    rows = math.prod(shape[ind:])
    return rules.reshape(rules.inv(rules.reshape(a, (rows, -1))), shape[ind:] + shape[:ind])


@implements(np.linalg.tensorsolve)
def _tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """``np.linalg.tensorsolve``: ``solve`` of ``a`` reshaped to a square matrix and ``b`` flattened."""
    n = ndim_of(a)
    if axes is not None:
        order = list(range(n))
        for k in axes:
            order.remove(k)
            order.insert(n, k)
        a = rules.transpose(a, order)
    shape = shape_of(a)[-(n - ndim_of(b)):]
    size = math.prod(shape)
    if math.prod(shape_of(a)) != size**2:
        raise np.linalg.LinAlgError("Input arrays must satisfy the requirement prod(a.shape[b.ndim:]) == "
                                    "prod(a.shape[:b.ndim])")
    return rules.reshape(rules.solve(rules.reshape(a, (size, size)), rules.ravel(b)), shape)


FUNCTIONS[np.linalg.matrix_rank] = _constant(np.linalg.matrix_rank)
if hasattr(np, "matrix_transpose"):
    FUNCTIONS[np.matrix_transpose] = _matrix_transpose

_VECTORS = "any where the values are distinct (NotDifferentiableError where they repeat)"
_VALUES = "1 everywhere, 2 and higher where the values are distinct"
#: where higher derivatives stop, for the page of what adkit supports (others: any order)
ORDER_LIMITS: dict[Callable, str] = {
    np.linalg.det: "2 at every matrix; 3 and higher where the condition number is below 1e4",
    np.linalg.svd: f"vectors: {_VECTORS}; values alone: {_VALUES}",
    np.linalg.eigh: f"vectors: {_VECTORS}; values alone: {_VALUES}",
    np.linalg.eigvalsh: _VALUES, np.linalg.cond: _VALUES,
    np.linalg.norm: f"ord 2, -2, 'nuc': {_VALUES}; others any",
    np.linalg.qr: "any at full rank (NotDifferentiableError elsewhere)",
    np.linalg.pinv: "any where the rank does not change",
    np.linalg.lstsq: "any where the rank does not change",
}
if hasattr(np.linalg, "svdvals"):
    ORDER_LIMITS[np.linalg.svdvals] = _VALUES
    ORDER_LIMITS[np.linalg.matrix_norm] = ORDER_LIMITS[np.linalg.norm]

_CONSTANT = ("its result is integers or booleans, which carry no derivative: call it on the plain values, "
             "adkit.primal(x)")
_IN_PLACE = ("it writes into an existing array, which cannot hold a traced value (adkit's values are "
             "immutable): build the result with np.where, np.concatenate or indexing")
_COMPLEX = "its values are complex, and adkit differentiates real functions"
_TEXT = "it writes text or files, not numbers: use adkit.primal(x)"
_DATES = "it works on dates, not real numbers"

#: NumPy functions adkit refuses on purpose, with the reason its error gives
REFUSALS: dict[Callable, str] = {
    np.linalg.eig: "a non-symmetric matrix can have complex eigenvalues and eigenvectors, and adkit "
                   "differentiates real functions. For a symmetric matrix use np.linalg.eigh.",
    np.linalg.eigvals: "a non-symmetric matrix can have complex eigenvalues, and adkit differentiates real "
                       "functions. For a symmetric matrix use np.linalg.eigvalsh.",
    **{f: _CONSTANT for f in (np.all, np.any, np.argpartition, np.argwhere, np.array_equiv, np.bincount,
                              np.can_cast, np.common_type, np.count_nonzero, np.digitize, np.flatnonzero,
                              np.iscomplex, np.isin, np.isneginf, np.isposinf, np.isreal, np.lexsort,
                              np.may_share_memory, np.min_scalar_type, np.nanargmax, np.nanargmin,
                              np.nonzero, np.searchsorted, np.shares_memory, np.unravel_index,
                              np.ravel_multi_index, np.diag_indices_from, np.tril_indices_from,
                              np.triu_indices_from, np.packbits, np.unpackbits)},
    **{f: _IN_PLACE for f in (np.copyto, np.place, np.put, np.put_along_axis, np.putmask, np.fill_diagonal)},
    **{f: _COMPLEX for f in (np.angle, np.sort_complex, np.real_if_close, *(
        getattr(np.fft, n) for n in dir(np.fft) if hasattr(getattr(np.fft, n), "_implementation")))},
    **{f: _TEXT for f in (np.save, np.savez, np.savez_compressed, np.savetxt, np.array2string, np.array_repr,
                          np.array_str)},
    **{f: _DATES for f in (np.busday_count, np.busday_offset, np.is_busday, np.datetime_as_string)},
}


# values that are the argument itself


@implements(np.copy)
def _copy(a: Any, order: Any = "K", subok: Any = False) -> Any:
    """``np.copy``: traced values are immutable, so the value itself; ``order`` lays out memory only."""
    rules.memory_order(a, order, "CFAK", "copying")
    return a


@implements(np.full_like)
def _full_like(a: Any, fill_value: Any, dtype: Any = None, order: Any = "K", subok: Any = True,
               shape: Any = None, *, device: Any = None) -> Any:
    """``np.full_like``: a traced ``fill_value`` is broadcast (its derivative flows); ``a`` gives a shape."""
    filled = np.full_like(primal(a), primal(fill_value), dtype, order, subok, shape, device=device)
    if not isinstance(fill_value, Box):
        return filled
    if filled.dtype != np.result_type(primal(fill_value)):
        _refuse("full_like", "dtype", f"the result would be {filled.dtype}, which cannot carry the "
                                      "derivative of a traced fill_value; leave dtype out.")
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
                       natural, **kwargs)
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
                             f"x2.ndim={ndim_of(x2)}.")
        return rules.outer(x1, x2)

    @implements(np.linalg.cross)
    def _linalg_cross(x1: Any, x2: Any, /, *, axis: Any = -1) -> Any:
        """``np.linalg.cross``: of 3-vectors only."""
        n1, n2 = shape_of(x1)[axis], shape_of(x2)[axis]
        if n1 != 3 or n2 != 3:
            raise ValueError(f"Both input arrays must be (arrays of) 3-dimensional vectors, but they are "
                             f"{n1} and {n2} dimensional instead.")
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
                               "Sort by the values (leave order out).")
    dtype = np.result_type(primal(a))  # (the dtype only: a staged value's numbers are not read)
    function = np.sort if what == "sort" else lambda v, **kw: np.partition(v, 0, **kw)
    function(np.zeros(1, dtype), kind=kind, **more)


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
            keepdims: Any = False) -> Any:
    """``np.median``; ``overwrite_input`` lets NumPy scramble its input, which a traced value never is."""
    _no_out("median", out)
    return rules.median(a, axis, bool(keepdims))


@implements(np.nanmedian)
def _nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
               keepdims: Any = _NoValue) -> Any:
    """``np.nanmedian``: the median of the values that are not nan."""
    _no_out("nanmedian", out)
    return rules.median(a, axis, _keepdims(keepdims), skip_nan=True)


def _quantiles(what: str, a: Any, q: Any, axis: Any, out: Any, method: Any, keepdims: Any, weights: Any,
               skip_nan: bool, percent: bool) -> Any:
    _no_out(what, out)
    if percent:
        if not (np.all(np.asarray(primal(q)) >= 0) and np.all(np.asarray(primal(q)) <= 100)):
            raise ValueError("Percentiles must be in the range [0, 100]")
        q = rules.divide(q, 100) if isinstance(q, Box) else np.true_divide(q, 100) if np.ndim(q) else q / 100
    return rules.quantile(a, q, axis, method, _keepdims(keepdims), skip_nan=skip_nan,
                          weights=None if weights is None else primal(weights))


@implements(np.quantile)
def _quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
              method: Any = "linear", keepdims: Any = False, *, weights: Any = None) -> Any:
    """``np.quantile`` by any of NumPy's methods; ``weights`` (with ``inverted_cdf``) are constants."""
    return _quantiles("quantile", a, q, axis, out, method, keepdims, weights, False, False)


@implements(np.percentile)
def _percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
                method: Any = "linear", keepdims: Any = False, *, weights: Any = None) -> Any:
    """``np.percentile``: :func:`_quantile` of ``q / 100``."""
    return _quantiles("percentile", a, q, axis, out, method, keepdims, weights, False, True)


@implements(np.nanquantile)
def _nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
                 method: Any = "linear", keepdims: Any = _NoValue, *,
                 weights: Any = None) -> Any:
    """``np.nanquantile``: the quantiles of the values that are not nan."""
    return _quantiles("nanquantile", a, q, axis, out, method, keepdims, weights, True, False)


@implements(np.nanpercentile)
def _nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: Any = False,
                   method: Any = "linear", keepdims: Any = _NoValue, *,
                   weights: Any = None) -> Any:
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
             keepdims: Any = _NoValue) -> Any:
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
            shape_of(avg), scale)
    return avg, scale


@implements(np.cumprod)
def _cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """``np.cumprod``: exact derivatives where entries are zero (no division)."""
    _no_out("cumprod", out)
    _check_dtype("cumprod", dtype, a)
    return rules.cumprod(a, axis)


def _cumulative(what: str, running: Callable, identity: float, x: Any, axis: Any, dtype: Any, out: Any,
                include_initial: Any) -> Any:
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
                        include_initial: Any = False) -> Any:
        return _cumulative("cumulative_sum", rules.cumsum, 0.0, x, axis, dtype, out, include_initial)

    @implements(np.cumulative_prod)
    def _cumulative_prod(x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None,
                         include_initial: Any = False) -> Any:
        return _cumulative("cumulative_prod", rules.cumprod, 1.0, x, axis, dtype, out, include_initial)


def _not_nan(a: Any) -> np.ndarray:
    return ~np.isnan(primal(a))  # (NumPy operations: adkit.compile stages them)


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
            initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    """``np.nansum``: nan counts as zero."""
    return _sum(_nan_filled(a, 0.0), axis, dtype, out, keepdims, initial, where)


@implements(np.nanprod)
def _nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
             initial: Any = _NoValue, where: Any = _NoValue) -> Any:
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
             where: Any = _NoValue) -> Any:
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
                  initial: Any, where: Any) -> Any:
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
            where: Any = _NoValue) -> Any:
    return _nan_extremum("nanmax", _max, -math.inf, a, axis, out, keepdims, initial, where)


@implements(np.nanmin)
def _nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
            where: Any = _NoValue) -> Any:
    return _nan_extremum("nanmin", _min, math.inf, a, axis, out, keepdims, initial, where)


def _nan_variance(what: str, a: Any, axis: Any, dtype: Any, out: Any, ddof: Any, keepdims: Any, where: Any,
                  mean: Any, correction: Any) -> Any:
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
            correction: Any = _NoValue) -> Any:
    return _nan_variance("nanvar", a, axis, dtype, out, ddof, keepdims, where, mean, correction)


@implements(np.nanstd)
def _nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
            correction: Any = _NoValue) -> Any:
    return rules.sqrt(_nan_variance("nanstd", a, axis, dtype, out, ddof, keepdims, where, mean, correction))


def _multiply_accumulate(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None) -> Any:
    """``np.multiply.accumulate``: the running product along ``axis``."""
    return _cumprod(array, axis, dtype, out)


def _logaddexp_reduce(array: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: Any = False,
                      initial: Any = _NoValue, where: Any = True) -> Any:
    """``np.logaddexp.reduce``: ``log(sum(exp(x)))`` over ``axis``, shifted by the (constant) maximum so
    that nothing overflows; its derivative is the softmax. ``where=`` leaves elements out (as ``-inf``,
    the identity); ``initial`` takes part as one more element."""
    _no_out("logaddexp.reduce", out)
    _check_dtype("logaddexp.reduce", dtype, array)
    kept = bool(keepdims)
    x = _masked(array, _where_mask(where, array), -math.inf)
    value = primal(x)  # read with NumPy operations only (adkit.compile stages them)
    shape = shape_of(x)
    axes = rules.normalize_axes(axis, len(shape))
    with np.errstate(invalid="ignore"):
        peak = np.max(value, axis=axes, keepdims=True, initial=-math.inf)
    peak = np.where(np.isfinite(peak), peak, 0.0)  # all -inf (or an inf): no shift
    with np.errstate(divide="ignore"):
        total = rules.log(rules.sum(rules.exp(x - peak), axes, True)) + peak
    result = rules.reshape(total, rules.keepdims_shape(shape, axes) if kept else tuple(
        n for k, n in enumerate(shape) if k - len(shape) not in axes))
    return result if initial is _NoValue else rules.logaddexp(result, initial)


UFUNC_METHODS[("accumulate", np.multiply)] = _multiply_accumulate
UFUNC_METHODS[("reduce", np.logaddexp)] = _logaddexp_reduce


# -- building arrays from traced values (issue 13) ------------------------------------------------
# np.array([x, y]) with traced x, y cannot return a traced value: np.array is NumPy's C constructor,
# which consults no protocol unless it is given like= (NEP 35), and builds a plain ndarray from
# each element's __array__. An ndarray can hold a traced value only as an object array, which
# NumPy then computes with element by element, outside adkit (and the API would read it as a
# constant). So __array__ refuses, saying to write adkit.array([x, y]) (this handler), np.stack,
# or np.array([x, y], like=x), which reaches it through the protocol.


def _holds_box(obj: Any) -> bool:
    """Whether ``obj`` is traced or a (nested) list, tuple or object array holding a traced value."""
    pending = [obj]
    while pending:
        x = pending.pop()
        if isinstance(x, Box):
            return True
        if isinstance(x, (list, tuple)):
            pending.extend(x)
        elif type(x) is np.ndarray and x.dtype.kind == "O":  # a = np.empty(2, dtype=object); a[0] = x
            pending.extend(x.ravel().tolist())
    return False


def _nested(obj: Any) -> Any:
    """An object array as the nested lists of its elements (which may be traced); anything else as it is."""
    return obj.tolist() if type(obj) is np.ndarray and obj.dtype.kind == "O" else obj


def _primals(obj: Any) -> Any:
    """``obj`` with every traced value replaced by its plain value (lists stay lists, tuples tuples)."""
    obj = _nested(obj)
    if isinstance(obj, list):
        return [_primals(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_primals(x) for x in obj)
    return primal(obj)


def _assemble(obj: Any, dtype: np.dtype | None = None) -> Any:
    """A (nested) list or tuple mixing traced values and numbers as one traced array, stacked by levels.

    With a floating ``dtype`` each element is cast before it is stacked, so that a float32 element
    of a float32 result gets float32 cotangents back.
    """
    obj = _nested(obj)
    if isinstance(obj, Box) or not isinstance(obj, (list, tuple)) or not _holds_box(obj):
        leaf = obj if isinstance(obj, Box) else np.asarray(obj)
        return leaf if dtype is None else _in_type(leaf, dtype)
    parts = [_assemble(x, dtype) for x in obj]
    shapes = {shape_of(p) for p in parts}
    if len(shapes) > 1:
        raise ValueError(f"setting an array element with a sequence. The requested array has an "
                         f"inhomogeneous shape: its elements have the shapes {sorted(shapes)}")
    return rules.stack(parts)


def _array_like(x: Any, dtype: np.dtype | None = None) -> Any:
    """A traced value itself; a list or tuple holding traced ones assembled (:func:`array`); else NumPy's.

    With ``dtype``, in that floating type (NumPy casting the values it writes into an array).
    """
    if isinstance(x, Box) or _holds_box(x):
        return _assemble(x, dtype)
    return np.asanyarray(x) if dtype is None else np.asarray(x, dtype)


def _in_type(x: Any, dtype: np.dtype) -> Any:
    """``x`` (traced, or a plain array) in the floating type ``dtype``: NumPy casts values it writes into
    an array of that type; casting them before they are joined keeps float32 cotangents float32."""
    if np.result_type(primal(x)) == dtype:
        return x
    return rules.astype(x, dtype) if isinstance(x, Box) else np.asarray(x, dtype)


def _as_numpy_gives(what: str, result: Any, plain: np.ndarray) -> Any:
    """``result`` in the type NumPy's own ``plain`` result has: a float type carries the derivative (cast);
    an integer or bool one is piecewise constant (NumPy's values, no derivative, as ``astype``)."""
    kind = plain.dtype.kind
    if kind in "biu":
        return plain
    if kind != "f":
        _refuse(what, "dtype", f"the result would be {plain.dtype}; adkit differentiates real-valued "
                               "functions (floating types carry the derivative, integer types give "
                               "constants).")
    if np.result_type(primal(result)) != plain.dtype:
        return rules.astype(result, plain.dtype)
    return result


@implements(np.array)
def array(object: Any, dtype: Any = None, *, copy: Any = True, order: Any = "K", subok: Any = False,
          ndmin: Any = 0, ndmax: Any = 0, like: Any = None) -> Any:
    """``np.array`` for values that may be traced: nested lists and tuples mixing traced values and numbers.

    The parts are stacked level by level, so the result is traced and its
    derivative is the parts' derivatives, side by side: d array([x, y]) =
    [dx, dy]. Plain NumPy's ``np.array([x, y])`` cannot do this (it builds
    a plain array without asking adkit); ``np.array([x, y], like=x)`` with a
    traced ``x`` comes here. Every parameter is NumPy's: ``dtype`` of a
    floating type casts (the derivative too), of an integer type gives a
    constant; ``ndmin`` adds leading axes; ``ndmax`` is checked by NumPy;
    ``order``, ``subok`` and ``copy`` concern memory (a traced value is
    immutable: ``copy=False`` gives it back itself).

    >>> x = adkit.Dual(2.0, 1.0)
    >>> adkit.array([[x, 1.0], [x * x, 0.0]])
    Dual(array([[2., 1.],
           [4., 0.]]), array([[1., 0.],
           [4., 0.]]))
    """
    more = {"ndmax": ndmax} if ndmax else {}  # (NumPy 2.4's)
    if not _holds_box(object):
        return np.array(object, dtype, copy=copy, order=order, subok=subok, ndmin=ndmin, **more)
    # NumPy's own checks, type and shape, from the plain values
    plain = np.array(_primals(object), dtype, copy=copy, order=order, subok=subok, ndmin=ndmin, **more)
    if plain.dtype.kind == "O":  # (``object`` is NumPy's parameter here, not the builtin)
        _refuse("array", "dtype", "the result would be an object array of traced values, which NumPy "
                                  "computes with outside adkit, one element at a time. Leave dtype "
                                  "out.")
    result = _assemble(object, plain.dtype if dtype is not None and plain.dtype.kind == "f" else None)
    result = _as_numpy_gives("array", result, plain)
    if isinstance(result, Box) and shape_of(result) != plain.shape:  # ndmin's leading unit axes
        result = rules.reshape(result, plain.shape)
    return result


@implements(np.asarray)
def _asarray(a: Any, dtype: Any = None, order: Any = None, *, device: Any = None, copy: Any = None,
             like: Any = None) -> Any:
    """``np.asarray(..., like=x)``: :func:`array` without a copy (``device`` is checked by NumPy)."""
    np.asarray(_primals(a), dtype, order, device=device, copy=copy)  # NumPy's checks
    return array(a, dtype, copy=copy, order="K" if order is None else order)


@implements(np.asanyarray)
def _asanyarray(a: Any, dtype: Any = None, order: Any = None, *, device: Any = None, copy: Any = None,
                like: Any = None) -> Any:
    """``np.asanyarray(..., like=x)``: traced values are no ndarray subclass, so :func:`_asarray`."""
    return _asarray(a, dtype, order, device=device, copy=copy)


@implements(np.ascontiguousarray)
def _ascontiguousarray(a: Any, dtype: Any = None, *, like: Any = None) -> Any:
    """``np.ascontiguousarray(..., like=x)``: at least one axis, as NumPy (memory layout does not matter)."""
    return array(a, dtype, copy=None, ndmin=1)


@implements(np.asfortranarray)
def _asfortranarray(a: Any, dtype: Any = None, *, like: Any = None) -> Any:
    """``np.asfortranarray(..., like=x)``: at least one axis, as NumPy (memory layout does not matter)."""
    return array(a, dtype, copy=None, order="F", ndmin=1)


# -- shape and structure (issue 13) ----------------------------------------------------------------
# Functions that only move elements (pad, roll, tile, insert, delete, take, block ...) are computed
# by asking NumPy itself where each element goes: the same function applied to integer *positions*
# (labels) says, for every place of the result, which element of the inputs lands there, and the
# result gathers those elements (one indexing, linear, whose transpose adds back, so an element
# copied twice gets both cotangents). NumPy thereby also checks every parameter and raises its own
# errors, and its conventions (pad's corners, insert's broadcasting) hold by construction.


def _positions(shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
    return offset + np.arange(math.prod(shape), dtype=np.intp).reshape(shape)


def _gather(source: Any, labels: Any) -> Any:
    """``source.ravel()[labels]``, traced: a linear map whose transpose adds back into zeros."""
    return rules.getitem(rules.ravel(source), np.asarray(labels, dtype=np.intp))


def _rearranged(place: Callable[..., Any], *sources: Any) -> Any:
    """What ``place`` (NumPy moving elements around) does to ``sources``, with derivatives.

    ``place`` gets one integer array per source, the positions of its
    elements among all sources' (flattened, joined); it returns an array of
    positions, or a list of them (``split``).
    """
    sources = tuple(_array_like(s) for s in sources)
    labels, offset = [], 0
    for s in sources:
        labels.append(_positions(shape_of(s), offset))
        offset += labels[-1].size
    where_from = place(*labels)
    joined = sources[0] if len(sources) == 1 else rules.concatenate([rules.ravel(s) for s in sources])
    if isinstance(where_from, (list, tuple)):
        return type(where_from)(_gather(joined, w) for w in where_from)
    return _gather(joined, where_from)


def _permuted(place: Callable[[np.ndarray], np.ndarray], a: Any) -> Any:
    """``a`` with its axes permuted as ``place`` (``np.rollaxis`` ...) permutes them: a transpose.

    ``place`` gets a stand-in array without memory whose axes have distinct
    lengths, so the shape it returns names the permutation.
    """
    n = ndim_of(a)
    stand_in = np.lib.stride_tricks.as_strided(np.empty(1), shape=tuple(range(2, n + 2)), strides=(0,) * n)
    return rules.transpose(a, tuple(length - 2 for length in place(stand_in).shape))


def _constant_indices(what: str, indices: Any) -> Any:
    if _holds_box(indices):
        raise TypeError(f"{what}: the indices must be constants (integers or integer arrays), not traced "
                        "values; select by a traced condition with np.where.")
    return indices


def _one_or_tuple(results: list[Any]) -> Any:
    return results[0] if len(results) == 1 else tuple(results)


@implements(np.diag)
def _diag(v: Any, k: Any = 0) -> Any:
    """``np.diag``: the k-th diagonal of a matrix, or a square matrix with ``v`` on its k-th diagonal."""
    n = ndim_of(v)
    if n == 2:
        return rules.diagonal(v, k)
    if n != 1:
        raise ValueError("Input must be 1- or 2-d.")
    k = int(np.asarray(k))
    i = np.arange(shape_of(v)[0])
    size = i.size + abs(k)
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return rules.index_add_p(v, index=(rows, cols), shape=(size, size))


@implements(np.diagflat)
def _diagflat(v: Any, k: Any = 0) -> Any:
    """``np.diagflat``: :func:`_diag` of the flattened input."""
    return _diag(rules.ravel(_array_like(v)), k)


@implements(np.tril)
def _tril(m: Any, k: Any = 0) -> Any:
    """``np.tril``: zeros above the k-th diagonal of the last two axes (a selection)."""
    return rules.where(np.tri(*shape_of(m)[-2:], k=k, dtype=bool), m, 0.0)


@implements(np.triu)
def _triu(m: Any, k: Any = 0) -> Any:
    """``np.triu``: zeros below the k-th diagonal of the last two axes (a selection)."""
    return rules.where(np.tri(*shape_of(m)[-2:], k=k - 1, dtype=bool), 0.0, m)


@implements(np.tile)
def _tile(A: Any, reps: Any) -> Any:
    return _rearranged(lambda p: np.tile(p, _constant_indices("tile", reps)), A)


@implements(np.roll)
def _roll(a: Any, shift: Any, axis: Any = None) -> Any:
    return _rearranged(lambda p: np.roll(p, _constant_indices("roll", shift), axis), a)


@implements(np.rot90)
def _rot90(m: Any, k: Any = 1, axes: Any = (0, 1)) -> Any:
    return _rearranged(lambda p: np.rot90(p, k, axes), m)


@implements(np.flip)
def _flip(m: Any, axis: Any = None) -> Any:
    """``np.flip``: the elements in reverse order along ``axis`` (all axes when None), by slicing."""
    n = ndim_of(m)
    axes = range(n) if axis is None else [a + n for a in rules.normalize_axes(axis, n)]
    return rules.getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(n)))


@implements(np.fliplr)
def _fliplr(m: Any) -> Any:
    if ndim_of(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return _flip(m, 1)


@implements(np.flipud)
def _flipud(m: Any) -> Any:
    if ndim_of(m) < 1:
        raise ValueError("Input must be >= 1-d.")
    return _flip(m, 0)


@implements(np.rollaxis)
def _rollaxis(a: Any, axis: Any, start: Any = 0) -> Any:
    return _permuted(lambda p: np.rollaxis(p, axis, start), a)


@implements(np.split)
def _split(ary: Any, indices_or_sections: Any, axis: Any = 0) -> Any:
    return _rearranged(lambda p: np.split(p, indices_or_sections, axis), ary)


@implements(np.array_split)
def _array_split(ary: Any, indices_or_sections: Any, axis: Any = 0) -> Any:
    return _rearranged(lambda p: np.array_split(p, indices_or_sections, axis), ary)


@implements(np.hsplit)
def _hsplit(ary: Any, indices_or_sections: Any) -> Any:
    return _rearranged(lambda p: np.hsplit(p, indices_or_sections), ary)


@implements(np.vsplit)
def _vsplit(ary: Any, indices_or_sections: Any) -> Any:
    return _rearranged(lambda p: np.vsplit(p, indices_or_sections), ary)


@implements(np.dsplit)
def _dsplit(ary: Any, indices_or_sections: Any) -> Any:
    return _rearranged(lambda p: np.dsplit(p, indices_or_sections), ary)


@implements(np.unstack)
def _unstack(x: Any, /, *, axis: Any = 0) -> Any:
    return _rearranged(lambda p: np.unstack(p, axis=axis), x)


@implements(np.insert)
def _insert(arr: Any, obj: Any, values: Any, axis: Any = None) -> Any:
    """``np.insert``: values take ``arr``'s type, as in NumPy (a traced ``values`` in an integer ``arr`` is
    truncated: a constant)."""
    arr, values = _array_like(arr), _array_like(values)
    obj = _constant_indices("insert", obj)
    plain = np.insert(primal(arr), obj, primal(values), axis)
    if plain.dtype.kind != "f":
        return plain
    values = _array_like(values, plain.dtype)  # cast before joining: each keeps its cotangents' type
    return _rearranged(lambda a, v: np.insert(a, obj, v, axis), _in_type(arr, plain.dtype), values)


@implements(np.delete)
def _delete(arr: Any, obj: Any, axis: Any = None) -> Any:
    return _rearranged(lambda p: np.delete(p, _constant_indices("delete", obj), axis), arr)


@implements(np.append)
def _append(arr: Any, values: Any, axis: Any = None) -> Any:
    """``np.append``: a concatenation (of the flattened arrays when ``axis`` is None)."""
    arr, values = _array_like(arr), _array_like(values)
    if axis is None:
        arr = arr if ndim_of(arr) == 1 else rules.ravel(arr)
        values, axis = rules.ravel(values), ndim_of(arr) - 1
    return rules.concatenate([arr, values], axis)


@implements(np.take)
def _take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: Any = "raise") -> Any:
    """``np.take``: indexing along an axis, with NumPy's ``mode`` (raise, wrap, clip) for the indices."""
    _no_out("take", out)
    indices = _constant_indices("take", indices)
    return _rearranged(lambda p: np.take(p, indices, axis, mode=mode), a)


@implements(np.take_along_axis)
def _take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    indices = _constant_indices("take_along_axis", indices)
    return _rearranged(lambda p: np.take_along_axis(p, indices, axis), arr)


@implements(np.block)
def _block(arrays: Any) -> Any:
    """``np.block``: NumPy assembles the blocks' positions (and checks the nesting), adkit gathers."""
    leaves: list[Any] = []

    def collect(x: Any) -> Any:
        if type(x) is list:
            return [collect(e) for e in x]
        if isinstance(x, tuple):
            return x  # NumPy refuses tuples in a block, with its own message
        leaves.append(_array_like(x))
        return leaves[-1]

    tree = collect(arrays)
    return _rearranged(lambda *labels: np.block(_replace_leaves(tree, iter(labels))), *leaves)


def _replace_leaves(tree: Any, labels: Iterator[np.ndarray]) -> Any:
    if type(tree) is list:
        return [_replace_leaves(e, labels) for e in tree]
    return tree if isinstance(tree, tuple) else next(labels)


@implements(np.pad)
def _pad(array: Any, pad_width: Any, mode: Any = "constant", **kwargs: Any) -> Any:
    """``np.pad`` with the modes that place copies of elements or constants: constant (traced
    ``constant_values`` too), edge, reflect and symmetric (``reflect_type="even"``), wrap.

    NumPy pads the positions of the elements (and of the constant values), so its corners and
    its reading of ``pad_width`` and ``constant_values`` hold as they are.
    """
    if callable(mode) or mode not in _PAD_MODES:
        named = ", ".join(f"{k}=" for k in kwargs)
        raise UnsupportedParameterError(
            f"adkit does not support pad(..., mode={mode!r}{', ' + named if named else ''}): that mode "
            f"computes the padding from the values or leaves it uninitialised; adkit pads with copies of "
            f"elements or constants (mode={', '.join(map(repr, _PAD_MODES))}). Write other padding with "
            "np.concatenate."
        )
    if kwargs.get("reflect_type", "even") != "even":
        _refuse("pad", "reflect_type", "reflect_type='odd' pads with 2 * edge - mirrored values; adkit pads "
                                       "with copies (reflect_type='even'). Write the odd reflection with "
                                       "np.concatenate.")
    array = _array_like(array)
    if mode != "constant":
        return _rearranged(lambda p: np.pad(p, pad_width, mode, **kwargs), array)
    values = kwargs.pop("constant_values", 0)
    plain = np.pad(primal(array), pad_width, mode, constant_values=_primals(values), **kwargs)
    if plain.dtype.kind != "f":
        return plain
    # the constant values' positions go into NumPy's padding as the constants themselves
    values = _array_like(values, plain.dtype)
    return _rearranged(lambda v, p: np.pad(p, pad_width, mode, constant_values=v, **kwargs), values, array)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@implements(np.column_stack)
def _column_stack(tup: Any) -> Any:
    """``np.column_stack``: 1-D arrays (and numbers) as columns, joined along the second axis."""
    arrays = [_array_like(x) for x in tup]
    return rules.concatenate([rules.reshape(x, (-1, 1)) if ndim_of(x) < 2 else x for x in arrays], axis=1)


@implements(np.dstack)
def _dstack(tup: Any) -> Any:
    """``np.dstack``: joined along the third axis, after :func:`_atleast_3d`."""
    arrays = _atleast_3d(*tup)
    return rules.concatenate(list(arrays) if isinstance(arrays, tuple) else [arrays], axis=2)


def _at_least(x: Any, shape_for: Callable[[tuple[int, ...]], tuple[int, ...]], numpy_function: Callable
              ) -> Any:
    if not isinstance(x, Box) and not _holds_box(x):
        return numpy_function(x)
    x = _array_like(x)
    shape = shape_of(x)
    return rules.reshape(x, shape_for(shape)) if len(shape_for(shape)) != len(shape) else x


@implements(np.atleast_2d)
def _atleast_2d(*arys: Any) -> Any:
    """``np.atleast_2d``: a number becomes (1, 1), a vector a row (1, n)."""
    return _one_or_tuple([_at_least(x, lambda s: (1,) * (2 - len(s)) + s if len(s) < 2 else s, np.atleast_2d)
                          for x in arys])


def _three_axes(shape: tuple[int, ...]) -> tuple[int, ...]:
    return {0: (1, 1, 1), 1: (1, *shape, 1), 2: (*shape, 1)}.get(len(shape), shape)


@implements(np.atleast_3d)
def _atleast_3d(*arys: Any) -> Any:
    """``np.atleast_3d``: a number becomes (1, 1, 1), a vector (1, n, 1), a matrix (m, n, 1)."""
    return _one_or_tuple([_at_least(x, _three_axes, np.atleast_3d) for x in arys])


@implements(np.broadcast_arrays)
def _broadcast_arrays(*args: Any, subok: Any = False) -> Any:
    """``np.broadcast_arrays``: each one broadcast to the common shape (``subok`` concerns subclasses)."""
    arrays = [_array_like(a) for a in args]
    shape = np.broadcast_shapes(*(shape_of(a) for a in arrays))
    return tuple(a if shape_of(a) == shape else rules.broadcast_to(a, shape) if isinstance(a, Box)
                 else np.broadcast_to(a, shape) for a in arrays)


@implements(np.select)
def _select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """``np.select``: nested selections, the first condition that holds winning (conditions are constants)."""
    conditions = [primal(c) for c in condlist]
    choices = [_array_like(c) for c in choicelist]
    default = _array_like(default)
    plain = np.select(conditions, [primal(c) for c in choices], primal(default))  # NumPy's checks and type
    if plain.dtype.kind != "f":
        return plain
    result = default
    for condition, choice in zip(reversed(conditions), reversed(choices)):
        result = rules.where(condition, choice, result)
    if shape_of(result) != plain.shape:
        result = rules.broadcast_to(result, plain.shape)
    return _as_numpy_gives("select", result, plain)


@implements(np.diff)
def _diff(a: Any, n: Any = 1, axis: Any = -1, prepend: Any = _NoValue, append: Any = _NoValue) -> Any:
    """``np.diff``: the n-th differences along ``axis``, after joining ``prepend`` and ``append``."""
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    a = _array_like(a)
    nd = ndim_of(a)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = rules.normalize_axes(axis, nd)[0] + nd
    combined = []
    for extra in (prepend, None, append):
        if extra is None:
            combined.append(a)
        elif extra is not _NoValue:
            extra = _array_like(extra)
            if ndim_of(extra) == 0:
                shape = list(shape_of(a))
                shape[axis] = 1
                extra = rules.broadcast_to(extra, tuple(shape)) if isinstance(extra, Box) else \
                    np.broadcast_to(extra, tuple(shape))
            combined.append(extra)
    if len(combined) > 1:
        a = rules.concatenate(combined, axis)
    before = (slice(None),) * axis
    for _ in range(n):
        a = rules.getitem(a, before + (slice(1, None),)) - rules.getitem(a, before + (slice(None, -1),))
    return a


@implements(np.gradient)
def _gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: Any = 1) -> Any:
    """``np.gradient``: second-order central differences inside, one-sided ones (of ``edge_order``) at the
    ends, as NumPy computes them; spacings may be traced too (they enter through the same formulas)."""
    f = _array_like(f)
    plain = np.gradient(primal(f), *(_primals(v) for v in varargs), axis=axis, edge_order=edge_order)
    n = ndim_of(f)
    # (checked by NumPy above; in the order given, as NumPy returns them)
    axes = list(range(n)) if axis is None else [operator.index(a) % n for a in np.atleast_1d(axis)]
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and ndim_of(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    else:
        spacings = list(varargs)
    results = [_gradient_along(f, k, _spacing(s), edge_order) for k, s in zip(axes, spacings)]
    if isinstance(plain, np.ndarray):
        return _as_numpy_gives("gradient", results[0], plain)
    return tuple(_as_numpy_gives("gradient", r, p) for r, p in zip(results, plain))


def _spacing(s: Any) -> Any:
    """A spacing: a number, or the differences of coordinates (one number when they are all equal and
    constant, as NumPy takes them)."""
    if ndim_of(s) == 0:
        return s
    s = _array_like(s)
    if not isinstance(s, Box) and s.dtype.kind in "iu":
        s = s.astype(np.float64)
    d = rules.getitem(s, slice(1, None)) - rules.getitem(s, slice(None, -1))
    if not isinstance(d, Box) and (d == d[0]).all():
        return d[0]
    return d


def _gradient_along(f: Any, axis: int, dx: Any, edge_order: int) -> Any:
    """One axis of :func:`_gradient`, term by term NumPy's formulas (so the values are NumPy's)."""
    n = ndim_of(f)

    def at(i: int) -> Any:  # f[..., i, ...] along the axis, the axis kept
        return rules.getitem(f, (slice(None),) * axis + (slice(i, i + 1 or None),))

    def within(start: int | None, stop: int | None) -> Any:
        return rules.getitem(f, (slice(None),) * axis + (slice(start, stop),))

    def lined_up(c: Any) -> Any:  # coefficients of the interior points, along the axis
        return rules.reshape(c, (-1,) + (1,) * (n - 1 - axis))

    uniform = ndim_of(dx) == 0
    if uniform:
        inside = (within(2, None) - within(None, -2)) / (2.0 * dx)
    else:
        dx1, dx2 = rules.getitem(dx, slice(None, -1)), rules.getitem(dx, slice(1, None))
        a = -(dx2) / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
        inside = lined_up(a) * within(None, -2) + lined_up(b) * within(1, -1) + lined_up(c) * within(2, None)

    def step(i: int) -> Any:
        return dx if uniform else rules.getitem(dx, i)

    if edge_order == 1:
        start = (at(1) - at(0)) / step(0)
        end = (at(-1) - at(-2)) / step(-1)
    else:
        if uniform:
            a, b, c = -1.5 / dx, 2.0 / dx, -0.5 / dx
        else:
            dx1, dx2 = step(0), step(1)
            a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
            b = (dx1 + dx2) / (dx1 * dx2)
            c = -dx1 / (dx2 * (dx1 + dx2))
        start = a * at(0) + b * at(1) + c * at(2)
        if uniform:
            a, b, c = 0.5 / dx, -2.0 / dx, 1.5 / dx
        else:
            dx1, dx2 = step(-2), step(-1)
            a = dx2 / (dx1 * (dx1 + dx2))
            b = -(dx2 + dx1) / (dx1 * dx2)
            c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
        end = a * at(-3) + b * at(-2) + c * at(-1)
    return rules.concatenate([start, inside, end], axis)


@implements(np.linspace)
def _linspace(start: Any, stop: Any, num: Any = 50, endpoint: Any = True, retstep: Any = False,
              dtype: Any = None, axis: Any = 0, *, device: Any = None) -> Any:
    """``np.linspace`` with traced endpoints: start + i (stop - start) / div, the last one ``stop`` itself
    (with ``endpoint``), computed as NumPy computes it."""
    start, stop = _array_like(start), _array_like(stop)
    plain = np.linspace(primal(start), primal(stop), num, endpoint, retstep, dtype, axis, device=device)
    values = plain[0] if retstep else plain
    if values.dtype.kind != "f":  # an integer dtype: floored, piecewise constant
        return plain
    num = int(num)
    div = (num - 1) if endpoint else num
    dt = np.result_type(primal(start), primal(stop), 1.0)
    delta = stop - start
    if not isinstance(delta, Box) or np.result_type(primal(delta)) != dt:
        delta = rules.astype(delta, dt) if isinstance(delta, Box) else np.asarray(delta, dt)
    steps = np.arange(0, num, dtype=dt).reshape((-1,) + (1,) * ndim_of(delta))
    if div > 0:
        step = delta / div
        y = steps / div * delta if np.any(primal(step) == 0) else steps * step
    else:
        step, y = math.nan, steps * delta
    y = y + start
    if endpoint and num > 1:
        last = rules.reshape(rules.broadcast_to(_in_type(stop, dt), shape_of(y)[1:]), (1,) + shape_of(y)[1:])
        y = rules.concatenate([rules.getitem(y, slice(None, -1)), last], axis=0)
    if axis != 0:
        y = rules.moveaxis(y, 0, axis)
    y = _as_numpy_gives("linspace", y, values)
    return (y, step) if retstep else y


# -- elementwise functions (issue 13) --------------------------------------------------------------

UFUNCS.update({
    np.exp2: rules.exp2, np.logaddexp2: rules.logaddexp2, np.heaviside: rules.heaviside,
    np.deg2rad: rules.deg2rad, np.radians: rules.deg2rad,
    np.rad2deg: rules.rad2deg, np.degrees: rules.rad2deg,
})


def _modf(x: Any) -> tuple[Any, Any]:
    """``np.modf``: the fractional part (d/dx = 1 between the integers) and the integral part (piecewise
    constant: traced, derivative 0), with NumPy's values: the fraction has x's sign (-0.0 too), ±0 at ±inf."""
    whole = rules.trunc(x)
    value = primal(x)
    negative = np.signbit(value)  # x - whole, written so that a zero fraction keeps the sign of x
    with np.errstate(invalid="ignore"):  # inf - inf, replaced below
        fraction = rules.where(negative, -(whole - x), x - whole)
    if np.isinf(value).any():
        fraction = rules.where(np.isinf(value), np.copysign(0.0, value), fraction)
    return fraction, whole


UFUNCS[np.modf] = _modf


@implements(np.sinc)
def _sinc(x: Any) -> Any:
    return rules.sinc(x)


@implements(np.nan_to_num)
def _nan_to_num(x: Any, copy: Any = True, nan: Any = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    """``np.nan_to_num``: nan, inf and -inf replaced (selections; traced replacements carry derivatives)."""
    if not copy:
        _refuse("nan_to_num", "copy", "copy=False replaces the values in place, and a traced value cannot "
                                      "change. Use the returned value (leave copy out).")
    value = primal(x)
    dtype = np.result_type(value)
    if dtype.kind != "f":
        return np.nan_to_num(value, copy=True, nan=primal(nan), posinf=primal(posinf), neginf=primal(neginf))
    info = np.finfo(dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    result = x
    for mask, replacement in ((np.isnan(value), nan), (np.isposinf(value), posinf),
                              (np.isneginf(value), neginf)):
        if mask.any() or isinstance(replacement, Box):
            result = rules.where(mask, replacement, result)
    if isinstance(result, Box) and np.result_type(primal(result)) != dtype:
        result = rules.astype(result, dtype)  # NumPy writes the replacements into x's own type
    return result


@implements(np.real_if_close)
def _real_if_close(a: Any, tol: Any = 100) -> Any:
    """``np.real_if_close`` of a real traced value: the value itself (``tol`` concerns imaginary parts)."""
    np.real_if_close(primal(a), tol)  # NumPy's checks
    return a


for _func in (np.iscomplex, np.isreal, np.angle):  # of real values: constants
    FUNCTIONS[_func] = _constant(_func)


def array_function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """Route a NumPy function call on traced values to the rule table."""
    handler = FUNCTIONS.get(func)
    if handler is None:
        if func in REFUSALS:
            raise NotImplementedError(
                f"adkit does not differentiate numpy.{_qualified_name(func)}: {REFUSALS[func].rstrip('.')}. "
                f"(A function of your own can have a rule: @adkit.primitive with .defjvp / .defvjp.) What "
                f"adkit supports: {SUPPORTED}."
            )
        raise NotImplementedError(_no_rule_message(_qualified_name(func)))
    return handler(*args, **kwargs)


def _qualified_name(func: Callable) -> str:
    module = getattr(func, "__module__", "") or ""
    name = getattr(func, "__name__", repr(func))
    for namespace in ("linalg", "fft"):
        if namespace in module.split("."):
            return f"{namespace}.{name}"
    return name


# -- the array-like behaviour of Dual and Var -----------------------------------------


def _refuse_conversion(what: str) -> TypeError:
    return TypeError(
        f"adkit cannot convert a traced value to {what}: the derivative would be lost. "
        "This happens when a traced value is stored into a plain NumPy array "
        "(a = np.zeros(3); a[0] = x), passed to math.sin instead of np.sin, or given to "
        "float()/np.asarray(). Build arrays functionally instead: adkit.array([x, y]), np.stack([x, y]), "
        "np.concatenate(...), np.where(mask, x, y); and use np.sin / adkit.sin, not math.sin. "
        "SciPy's functions that are not ufuncs convert their inputs this way too: for "
        "scipy.special.logsumexp use adkit.logsumexp, for scipy.linalg use np.linalg. "
        "To read the number itself, use adkit.primal(x) or x.value."
    )


#: what ``np.array([x, y])``, ``np.asarray(x)`` and ``np.zeros(3)[0] = x`` say for a traced ``x`` (NumPy
#: calls ``__array__``, which cannot return a traced value: see "building arrays" above)
_ARRAY_REFUSAL = (
    "adkit cannot convert a traced value to a NumPy array: the derivative would be lost. np.array([x, y]) "
    "and np.asarray(x) build a plain NumPy array without asking adkit. Write adkit.array([x, y]) instead "
    "(nested lists mixing traced values and numbers, with np.array's parameters), np.stack([x, y]), or "
    "np.array([x, y], like=x); x itself is already an array (leave np.asarray(x) out). A plain array "
    "cannot hold a traced value either (a = np.zeros(3); a[0] = x): build the array functionally "
    "(adkit.array, np.where(mask, x, a), np.concatenate). SciPy's functions that are not ufuncs convert "
    "their inputs this way too: for scipy.special.logsumexp use adkit.logsumexp, for scipy.linalg use "
    "np.linalg. "
    "To read the number itself, use adkit.primal(x)."
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
                       "itemset"})
_MEMORY = frozenset({"base", "ctypes", "data", "flags", "strides", "itemsize", "nbytes", "dump", "dumps",
                     "tobytes", "tofile", "view", "getfield", "device", "to_device", "flat"})


def _missing_attribute(kind: str, name: str) -> str:
    """What to say when a traced value lacks the ndarray attribute ``name``."""
    if name in ("sort", "partition"):
        why = (f"x.{name}(...) {name}s an array in place, which a traced value cannot do: adkit values are "
               f"immutable. Use y = np.{name}(x{', kth' if name == 'partition' else ''}, ...) instead, which "
               "returns a new array and is differentiated.")
    elif name in _IN_PLACE:
        why = (f"x.{name}(...) changes an array in place, which a traced value cannot do: adkit values are "
               "immutable. Compute a new array instead (np.where, np.concatenate, indexing).")
    elif name in _MEMORY:
        why = (f"ndarray.{name} is about the memory of a NumPy array, and a traced value has none. For the "
               f"plain values (no derivative), use adkit.primal(x).{name}.")
    else:
        why = (f"adkit has no rule for ndarray.{name}. Write it with supported operations, register a "
               f"rule with @adkit.primitive, or use adkit.primal(x).{name} for the plain values (no "
               f"derivative). What adkit supports: {SUPPORTED}.")
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
        raise TypeError(_ARRAY_REFUSAL)

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

    def take(self, indices: Any, axis: Any = None, out: Any = None, mode: Any = "raise") -> Any:
        return _take(self, indices, axis, out, mode)

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
            initial: Any = _NoValue, where: Any = _NoValue) -> Any:
        return _sum(self, axis, dtype, out, keepdims, initial, where)

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue, *,
             where: Any = _NoValue) -> Any:
        return _mean(self, axis, dtype, out, keepdims, where=where)

    def prod(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
             initial: Any = _NoValue, where: Any = _NoValue) -> Any:
        return _prod(self, axis, dtype, out, keepdims, initial, where)

    def max(self, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
            where: Any = _NoValue) -> Any:
        return _max(self, axis, out, keepdims, initial, where)

    def min(self, axis: Any = None, out: Any = None, keepdims: Any = _NoValue, initial: Any = _NoValue,
            where: Any = _NoValue) -> Any:
        return _min(self, axis, out, keepdims, initial, where)

    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue) -> Any:
        return _variance("var", self, axis, dtype, out, ddof, keepdims, where, mean, _NoValue)

    def std(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
            keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue) -> Any:
        return rules.sqrt(_variance("std", self, axis, dtype, out, ddof, keepdims, where, mean, _NoValue))

    def cumsum(self, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
        return _cumsum(self, axis, dtype, out)

    def cumprod(self, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
        return _cumprod(self, axis, dtype, out)

    def trace(self, offset: Any = 0, axis1: Any = 0, axis2: Any = 1, dtype: Any = None,
              out: Any = None) -> Any:
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
               copy: Any = True) -> Any:
        """``x.astype(dtype)``: to a floating type the derivative follows (cast too); to an integer or
        bool type the result is piecewise constant, a plain array (derivative 0, as JAX's float0).

        ``casting`` is checked as NumPy does; ``order``, ``subok`` and ``copy`` concern memory
        only (traced values are immutable and no subclass).
        """
        value = primal(self)
        target = np.dtype(dtype)
        if not np.can_cast(np.result_type(value), target, casting):
            raise TypeError(f"Cannot cast array data from {np.result_type(value)!r} to {target!r} according "
                            f"to the rule {casting!r}")
        rules.memory_order(self, order, "CFAK", "astype")
        if target.kind == "f":
            return rules.astype(self, target)
        if target.kind in "biu":
            return np.asarray(value).astype(target, order=order, copy=True)
        _refuse("astype", "dtype", f"a traced value cannot become {target}: adkit differentiates real "
                                   "functions (floating-point types carry the derivative; integer and bool "
                                   "types give constants).")


__all__ = ["CONSTANT_UFUNCS", "FUNCTIONS", "NDARRAY_NAMES", "UFUNCS", "UFUNC_METHODS", "ArrayOps",
           "UnsupportedParameterError", "array_function", "array_ufunc", "implements"]
