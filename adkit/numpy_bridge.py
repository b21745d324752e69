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
)  # fmt: skip

_UFUNC_CALL_DEFAULTS = {"where": True, "subok": True, "signature": None, "sig": None,
                        "axes": None, "axis": None, "keepdims": False}  # fmt: skip
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
}  # fmt: skip


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
    return total / np.sum(mask, axis=axis, keepdims=kept)


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
        count = np.sum(mask, axis=axes, keepdims=True)
    if np.any(ddof >= count):
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
    centre = rules.sum(_masked(a, mask, 0.0), axes, True) / count if mean is _NoValue else mean
    centred = a - centre
    total = rules.sum(_masked(centred * centred, mask, 0.0), axes, kept)
    if mask is not None and not kept:
        count = np.sum(mask, axis=axes)
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
                                     "'complete'.")  # fmt: skip
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
                             f"x2.ndim={ndim_of(x2)}.")  # fmt: skip
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
                                    "prod(a.shape[:b.ndim])")  # fmt: skip
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
}  # fmt: skip
if hasattr(np.linalg, "svdvals"):
    ORDER_LIMITS[np.linalg.svdvals] = _VALUES
    ORDER_LIMITS[np.linalg.matrix_norm] = ORDER_LIMITS[np.linalg.norm]

_CONSTANT = ("its result is integers or booleans, which carry no derivative: call it on the plain values, "
             "adkit.primal(x)")  # fmt: skip
_IN_PLACE = ("it writes into an existing array, which cannot hold a traced value (adkit's values are "
             "immutable): build the result with np.where, np.concatenate or indexing")  # fmt: skip
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
}  # fmt: skip


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
        "float()/np.asarray(). Build arrays functionally instead: np.stack([x, y]), "
        "np.concatenate(...), np.where(mask, x, y); and use np.sin / adkit.sin, not math.sin. "
        "SciPy's functions that are not ufuncs convert their inputs this way too: for "
        "scipy.special.logsumexp use adkit.logsumexp, for scipy.linalg use np.linalg. "
        "To read the number itself, use adkit.primal(x) or x.value."
    )


def _on_primal(method: Callable) -> Callable:
    """An ndarray method whose result does not depend differentiably on the array (``argmax``, ``round``).

    Every argument goes to NumPy's own method on the primal value, so none is
    dropped; only a traced ``out=`` is refused.
    """
    signature = inspect.signature(method)

    @wraps(method)
    def on_primal(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "out" in signature.parameters:
            _no_out(method.__name__, primal_out(signature.bind(self, *args, **kwargs).arguments.get("out")))
        return method(np.asarray(primal(self)), *args, **kwargs)

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
    if name in _IN_PLACE:
        why = (f"x.{name}(...) changes an array in place, which a traced value cannot do: adkit values are "
               "immutable. Compute a new array instead (np.where, np.concatenate, indexing).")  # fmt: skip
    elif name in _MEMORY:
        why = (f"ndarray.{name} is about the memory of a NumPy array, and a traced value has none. For the "
               f"plain values (no derivative), use adkit.primal(x).{name}.")  # fmt: skip
    else:
        why = (f"adkit has no rule for ndarray.{name}. Write it with supported operations, register a "
               f"rule with @adkit.primitive, or use adkit.primal(x).{name} for the plain values (no "
               f"derivative). What adkit supports: {SUPPORTED}.")  # fmt: skip
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
    argpartition = MissingAttribute()
    choose = MissingAttribute()
    compress = MissingAttribute()
    cumprod = MissingAttribute()
    searchsorted = MissingAttribute()
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
