"""The one table of derivative rules.

Every elementary operation is declared here once: its NumPy implementation
(and a fast one for Python floats), how tangents go forward and cotangents go
back, the symbol graphs and traces show, and the domain its tests sample.
Both engines (``forward.py`` and ``reverse.py``) read these declarations; they
contain no derivative formula of their own.

Elementwise operations give their *partial derivatives* as functions of
``(out, *operands)`` (the DiffRules.jl form); the engines multiply tangents by
them going forward and cotangents going back, undoing broadcasting. Other
operations give one JVP and one VJP per operand (the JAX form). Rules use
adkit's own operations, so a derivative can itself be differentiated.

Tangents and cotangents may carry leading batch axes (many directions at
once); the helpers at the top keep those axes in front.

Conventions at kinks and edges (each tested in ``tests/test_conventions.py``):

* ``abs'(0) = 0`` and ``sign' = 0`` (the midpoint subgradient, as PyTorch and
  HIPS autograd);
* ``maximum``/``minimum`` at ties and ``max``/``min`` reductions over tied
  elements split the derivative evenly (as JAX);
* ``clip`` passes the derivative on the closed interval ``lo <= x <= hi``
  (as PyTorch);
* ``sqrt'(0) = inf``, ``log'(0) = inf``: values, not exceptions or warnings;
* ``where`` passes no tangent from the branch it did not select, and more
  generally selections select: ``max``/``min`` reductions,
  ``maximum``/``minimum``, ``clip``, ``where`` and indexing drop the tangent or
  cotangent of an element they do not select (:func:`select`; operations
  marked ``selects``), so an infinite or ``nan`` one there does not become
  ``nan`` (JAX's ``jacfwd`` of ``jnp.cbrt(x).max()`` with an unselected 0 is
  ``nan``; adkit's is the derivative at the maximum);
* an exactly zero tangent or cotangent times an infinite partial derivative
  is zero, not ``nan`` (operations marked ``singular``): the Jacobian of
  ``sqrt`` at a zero vector is ``inf`` on the diagonal and 0 elsewhere, and
  the gradient of ``np.where(x > 0, np.sqrt(x), 0)`` at 0 is 0, where JAX and
  PyTorch give ``nan``;
* ``norm'(0) = 0`` (the minimum-norm subgradient);
* ``det``'s first and second derivatives hold at every matrix, singular ones
  included (through the cofactor matrix, from the SVD); its third and higher
  derivatives are refused, with an error, where the matrix is ill-conditioned;
* ``copysign(x, y)``: d/dx = 0 at x = 0, as ``abs'(0)`` (PyTorch; JAX gives
  +-1), and d/dy = 0 (also at y = 0, where the sign flips);
* ``remainder``/``fmod`` at a jump (x / y an integer): the derivatives of the
  piece that starts there, with NumPy's own quotient (``floor_divide``);
* ``sort``, ``partition``, ``median`` and the quantiles at ties: each sorted
  position takes the tangent of one element, the one the *stable* argsort
  puts there (first occurrence first), as JAX's ``sort``: the derivative of
  ``np.median([2., 2., 2.])`` is ``[0, 1, 0]``. (``max`` splits evenly at a
  tie, so ``np.max(x)`` and ``np.sort(x)[-1]`` differ there.)
* ``prod`` and ``cumprod`` where entries are zero: exact at every order (the
  product of the other elements, from running products, no division);
* the nan-skipping reductions (``nansum``, ``nanmean``, ``nanmax`` ...
  ``nanquantile``): a nan element gets derivative 0, as does every element of
  an all-nan slice (whose value is nan, with NumPy's warning);
* ``logaddexp.reduce``: the softmax weights, 0 for ``-inf`` entries; it never
  overflows (shifted by the maximum, a constant).
* ``heaviside(x, h)``: d/dx = 0 (at the step too), d/dh = 1 where x = 0;
* ``sinc``'s derivatives of every order are exact at 0 (Maclaurin series),
  where the quotient sin(pi x)/(pi x) is 0/0.
* singular values and eigenvalues alone differentiate also where they repeat,
  along NumPy's vectors (exact for symmetric functions of a repeated group, as
  the nuclear norm); the spectral norm's ties (to rounding) share the
  derivative as ``max``'s do; singular vectors and eigenvectors raise
  ``NotDifferentiableError`` where their values repeat, QR where the rank is
  deficient; the extra columns of a full SVD or QR move by the smallest rotation;
* vector norms: ``ord=0`` counts (derivative 0), a negative order is 0 with
  derivative 0 where an element is 0; ``xlogy(0, y)`` has d/dy = 0.
"""

from __future__ import annotations

import builtins
import functools
import math
import operator
import warnings
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, NamedTuple

import numpy as np

from adkit.core import (
    Box,
    Case,
    Primitive,
    carries_derivative,
    is_array,
    is_float,
    ndim_of,
    primal,
    shape_of,
    size_of,
)

# -- applying a rule: how the engines turn the declarations below into tangents and cotangents ------
# The engines know no derivative: forward mode calls ``apply_jvp``, reverse
# mode ``apply_vjp`` (and, at first order on plain arrays, a primitive's
# ``fast_vjp``). Tangents and cotangents may carry leading batch axes (many
# directions at once); the helpers here keep those axes in front.

#: An operand's derivative is identically one / minus one / zero. Rules return
#: these markers so engines skip a multiplication (or the whole term).
ONE = 1
MINUS_ONE = -1
ZERO = 0


def apply_jvp(prim: Primitive, tangents: Sequence[Any], out: Any, primals: Sequence[Any],
              params: dict) -> Any:
    """The output tangent of ``prim`` from its operands' tangents (``None`` means zero), by its rules.

    Returns ``None`` when the output does not depend on any tangent.
    """
    total = None
    if prim.partials is not None:
        out_ndim = ndim_of(out)
        for i, t in enumerate(tangents):
            if t is None:
                continue
            rule = prim.partials[i]
            if rule is None:
                continue
            d = rule(out, *primals, **params)
            if type(d) is int and d == ZERO:
                continue
            t = align_batched(t, ndim_of(primals[i]), out_ndim)
            if type(d) is int and d == ONE:
                term = t
            elif type(d) is int and d == MINUS_ONE:
                term = -t
            elif prim.selects:
                term = select(t, d)
            else:
                term = scale_keeping_zeros(t, d) if prim.singular else t * d
            total = term if total is None else total + term
    elif callable(prim.jvps):
        total = prim.jvps(tangents, out, *primals, **params)
    elif prim.jvps is not None:
        for i, t in enumerate(tangents):
            if t is None or prim.jvps[i] is None:
                continue
            term = prim.jvps[i](t, out, *primals, **params)
            if term is None:
                continue
            total = term if total is None else total + term
    else:
        raise NotImplementedError(
            f"adkit has no forward-mode (JVP) rule for {prim.name!r}. Give it one with "
            f"adkit.primitive(...).defjvp(...), or use mode='reverse'."
        )
    if total is None:
        return None
    return fit_tangent(total, out)


def apply_vjp(prim: Primitive, i: int, cotangent: Any, out: Any, primals: Sequence[Any],
              params: dict) -> Any:
    """The cotangent of operand ``i`` of ``prim`` (``None`` for zero) from the output's, by its rules."""
    if prim.partials is not None:
        rule = prim.partials[i]
        if rule is None:
            return None
        d = rule(out, *primals, **params)
        return pull_back(cotangent, d, out, primals[i], prim.singular, prim.selects)
    if prim.vjps is None:
        raise NotImplementedError(
            f"adkit has no reverse-mode (VJP) rule for {prim.name!r}. Give it one with "
            f"adkit.primitive(...).defvjp(...), or use mode='forward'."
        )
    if callable(prim.vjps):
        return prim.vjps(i, cotangent, out, *primals, **params)
    rule = prim.vjps[i]
    if rule is None:
        return None
    return rule(cotangent, out, *primals, **params)


def pull_back(cotangent: Any, d: Any, out: Any, x: Any, singular: bool, selects: bool = False) -> Any:
    """An operand's cotangent from the output's and the local partial ``d``: ``unbroadcast(ct * d)``.

    ``d`` may be one of the markers ``ZERO`` (giving ``None``), ``ONE`` or
    ``MINUS_ONE``; ``singular`` asks for :func:`scale_keeping_zeros`,
    ``selects`` for :func:`select`.
    """
    if selects:
        ct = select(cotangent, d)
    elif type(d) is int:
        if d == ZERO:
            return None
        ct = cotangent if d == ONE else -cotangent if d == MINUS_ONE else cotangent * d
    else:
        ct = scale_keeping_zeros(cotangent, d) if singular else cotangent * d
    if type(ct) is np.ndarray and type(x) is np.ndarray and ct.shape == x.shape:
        return ct  # no broadcasting to undo (the common case)
    return unbroadcast(ct, shape_of(x), ndim_of(cotangent) - ndim_of(out))


def scale_keeping_zeros(t: Any, d: Any) -> Any:
    """``t * d``, except that an exactly zero ``t`` gives zero even where ``d`` is infinite.

    A zero tangent means "this input does not move in that direction" and a
    zero cotangent "this output does not matter"; either way the product is
    zero, not the nan of IEEE ``0 * inf``. This keeps the off-diagonal
    entries of ``jacobian(np.sqrt)(zeros)`` zero and the gradient through
    ``np.where(x > 0, np.sqrt(x), 0)`` at 0 finite.
    """
    if is_float(t) and is_float(d):
        return 0.0 if t == 0.0 else t * d
    with np.errstate(invalid="ignore"):
        product = t * d
        if np.isfinite(primal(d)).all():
            return product
        return where_p(primal(t) == 0, 0.0, product)


def select(t: Any, weight: Any) -> Any:
    """``t * weight`` for a selection weight: zero where the weight is, whatever ``t`` holds there.

    ``maximum``, ``clip`` and the ``max`` reduction pass a tangent or
    cotangent on where their operand is selected (weight 1, or its share at a
    tie) and drop it elsewhere. Multiplying by a 0/1 mask instead would turn
    an infinite or nan tangent of an unselected element into nan
    (``0 * inf``): the forward derivative of ``np.cbrt(x).max()`` where some
    unselected ``x`` is 0. The weight is a constant (a bool or float array or
    number, computed from primal values).
    """
    weight = primal(weight)
    if is_array(weight):
        kind = np.result_type(primal(t))
        if weight.dtype.kind == "f" and kind.kind == "f" and weight.dtype != kind:
            weight = weight.astype(kind)  # a float32 tangent stays float32
        if is_array(t):  # plain values (first order): the product, mended only if needed
            product = t * weight
            if np.isnan(product).any():  # 0 * inf or a nan: keep it only where selected
                product = np.where(weight != 0, product, 0.0)
            return product
        if weight.dtype == bool:
            return where_p(weight, t, 0.0)
        return where_p(weight != 0, t, 0.0) * weight
    if weight == 0:  # a constant zero of t's shape (Dual(5, 1) clipped to [0, 1] is Dual(1, 0))
        p = primal(t)
        return 0.0 if is_float(p) else np.zeros(np.shape(p), np.result_type(p))
    return t if weight == 1 else t * weight


def align_batched(t: Any, x_ndim: int, out_ndim: int) -> Any:
    """Insert unit axes after ``t``'s batch axes so it broadcasts like its primal.

    A tangent of shape ``(k, 3)`` for a primal of shape ``(3,)`` entering an
    operation whose output has shape ``(2, 3)`` becomes ``(k, 1, 3)``; without
    this, NumPy would align the batch axis ``k`` with the output's ``2``.
    """
    t_ndim = ndim_of(t)
    nb = t_ndim - x_ndim
    if nb == 0 or x_ndim >= out_ndim:
        return t
    shape = shape_of(t)
    return reshape_p(t, shape=shape[:nb] + (1,) * (out_ndim - x_ndim) + shape[nb:])


def fit_tangent(t: Any, out: Any) -> Any:
    """Broadcast a tangent to ``batch + out.shape`` when a term was smaller.

    Rules return terms whose shape is ``batch + s`` with ``s`` broadcastable
    to the output's shape and of the same length (batched terms are aligned
    by :func:`align_batched`), or any broadcastable shape when unbatched.
    """
    out_shape = shape_of(out)
    t_shape = shape_of(t)
    nb = builtins.max(0, len(t_shape) - len(out_shape))
    target = t_shape[:nb] + out_shape
    if t_shape == target:
        return t
    return broadcast_to_p(t, shape=target)


def unbroadcast(ct: Any, shape: tuple[int, ...], nb: int) -> Any:
    """Sum a cotangent over the axes that broadcasting added or stretched.

    ``ct`` has shape ``batch + out_shape`` with ``nb`` batch axes; the result
    has shape ``batch + shape``.
    """
    shape = tuple(shape)
    if type(ct) is np.ndarray:  # raw values (first order) where nothing was stretched: only added axes
        lead = ct.ndim - len(shape)
        if ct.shape[lead:] == shape and (shape or nb):  # (a full sum below keeps a 0-d array)
            return ct if lead == nb else np.add.reduce(ct, axis=tuple(range(nb, lead)))
    ct_shape = shape_of(ct)
    target = ct_shape[:nb] + shape
    if ct_shape == target:
        return ct
    ndim = len(ct_shape)
    extra = ndim - nb - len(shape)
    axes = tuple(range(nb, nb + extra))
    axes += tuple(nb + extra + i for i, n in enumerate(shape) if n == 1 and ct_shape[nb + extra + i] != 1)
    if type(ct) is np.ndarray:  # raw values: one reduction over all the axes, then the shape
        if axes:
            ct = np.add.reduce(ct, axis=axes, keepdims=True)
        return ct.reshape(target) if ct.shape != target else ct
    if axes:  # the primitives directly: the axes are already normalized (negative, sorted)
        ct = sum_p(ct, axis=tuple(a - ndim for a in axes), keepdims=True)
    return reshape_p(ct, shape=target) if shape_of(ct) != target else ct


def batch_ndim(t: Any, x: Any) -> int:
    """Number of leading batch axes of a tangent or cotangent ``t`` of ``x``."""
    return ndim_of(t) - ndim_of(x)


# -- first-order reverse rules on plain arrays ----------------------------------------
# A gradient's sweep runs the rules above on plain NumPy values, where their
# generality (nestable operations, batched cotangents) costs Python time per
# operation and buys nothing. ``fast_vjp`` is the same maths for that case:
# every operand at once, NumPy directly. Each falls back to the general rules
# when the cotangent carries batch axes, and tests check each against them.
# ``elementwise`` makes one from the partials; ``power``, ``tanh`` and
# ``matmul`` declare the ones written out here.


def _each_operand(prim: Primitive, ct: Any, out: Any, primals: Sequence[Any], params: dict,
                  parents: Sequence[int | None]) -> list[Any]:
    """The general rules, operand by operand (``None`` for constants)."""
    return [None if p is None else apply_vjp(prim, i, ct, out, primals, params)
            for i, p in enumerate(parents)]


def _partials_fast_vjp(partials: tuple, singular: bool, selects: bool) -> Callable[..., list[Any]]:
    """An elementwise operation's rule: each traced operand's partial, one call each."""

    def fast_vjp(ct: Any, out: Any, primals: Sequence[Any], params: dict,
                 parents: Sequence[int | None]) -> list[Any]:
        cts = []
        for i, parent in enumerate(parents):
            rule = partials[i]
            if parent is None or rule is None:
                cts.append(None)
            else:
                cts.append(pull_back(ct, rule(out, *primals), out, primals[i], singular, selects))
        return cts

    return fast_vjp


def _power_fast_vjp(ct: Any, out: Any, primals: Sequence[Any], params: dict,
                    parents: Sequence[int | None]) -> list[Any]:
    """``x ** c`` for a constant ``c`` (a square, most often): ``ct c x^(c-1)``."""
    x, y = primals
    if parents[1] is None and type(ct) is np.ndarray and type(x) is np.ndarray and ct.shape == x.shape:
        d = _power_dx.__wrapped__(out, x, y)  # the sweep already silences NumPy's warnings
        if type(d) is np.ndarray and np.logical_and.reduce(np.isfinite(d), axis=None):
            return [ct * d, None]  # else zero cotangents must stay zero where d is infinite: below
    return _each_operand(power, ct, out, primals, params, parents)


def _tanh_fast_vjp(ct: Any, out: Any, primals: Sequence[Any], params: dict,
                   parents: Sequence[int | None]) -> list[Any]:
    """``ct (1 - out²)`` in one buffer: what a hand-written backprop computes, without its temporaries."""
    if type(ct) is np.ndarray and type(out) is np.ndarray and ct.shape == out.shape:
        d = np.multiply(out, out)
        np.subtract(1.0, d, out=d)
        return [np.multiply(ct, d, out=d)]
    return _each_operand(tanh, ct, out, primals, params, parents)


def _matmul_fast_vjp(ct: Any, out: Any, primals: Sequence[Any], params: dict,
                     parents: Sequence[int | None]) -> list[Any]:
    """Matrices: ``ct bᵀ`` and ``aᵀ ct``; anything else (vectors, stacks, batches) by the general rule."""
    a, b = primals
    if type(ct) is np.ndarray and ct.ndim == 2 and type(a) is np.ndarray and a.ndim == 2 \
            and type(b) is np.ndarray and b.ndim == 2:
        return [None if parents[0] is None else np.matmul(ct, b.T),
                None if parents[1] is None else np.matmul(a.T, ct)]
    return _each_operand(matmul, ct, out, primals, params, parents)


# -- test domains: a union of intervals per operand ----------------------------

REAL = ((-3.0, 3.0),)
POSITIVE = ((0.2, 4.0),)
NONZERO = ((-3.0, -0.3), (0.3, 3.0))
OPEN_UNIT = ((-0.9, 0.9),)
ABOVE_ONE = ((1.2, 4.0),)
SMALL = ((-2.0, 2.0),)


# -- scalar implementations with NumPy's values instead of Python's exceptions --


def _numpy_semantics(math_fn: Callable[..., float], numpy_fn: Callable[..., Any]) -> Callable:
    """``math_fn`` on Python floats, falling back to NumPy's value where math raises.

    ``math.log(0.0)`` raises; ``np.log(0.0)`` is ``-inf``. adkit follows NumPy
    (without its warning, since Python floats have no warning channel of
    their own).
    """

    @wraps(math_fn)
    def scalar_impl(*xs: float) -> float:
        try:
            return math_fn(*xs)
        except RAISES:
            with np.errstate(all="ignore"):
                return float(numpy_fn(*xs))

    return scalar_impl


#: what math's functions raise where NumPy gives inf or nan
RAISES = (ValueError, OverflowError, ZeroDivisionError)


def _float_power(x: float, y: float) -> float:
    try:
        r = x**y
    except (ZeroDivisionError, OverflowError):
        with np.errstate(all="ignore"):
            return float(np.power(float(x), float(y)))
    # Python gives a complex number for a negative base and a fractional
    # exponent; NumPy gives nan.
    return math.nan if type(r) is complex else r


def _float_sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid(x: Any) -> Any:
    # 1 / (1 + exp(-x)) overflows for very negative x; this form does not.
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x)))[()]


def _float_softplus(x: float) -> float:
    return math.log1p(math.exp(-builtins.abs(x))) + builtins.max(x, 0.0)


def quietly(rule: Callable) -> Callable:
    """Evaluate a rule without NumPy's divide/invalid warnings.

    Used for rules whose value at a domain edge is a documented ``inf`` or
    ``nan`` (``sqrt'(0) = inf``), so that value arrives without a warning
    pointing into adkit's internals.
    """

    @wraps(rule)
    def quiet_rule(*args: Any, **params: Any) -> Any:
        if type(args[1]) is float:
            return rule(*args, **params)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return rule(*args, **params)

    return quiet_rule


# -- declaring elementwise operations -------------------------------------------


def elementwise(ufunc: Callable, scalar_impl: Callable | None, partials: Sequence[Callable | None], *,
                name: str | None = None, **declaration: Any) -> Primitive:
    """Declare an elementwise operation by its partial derivatives (the DiffRules.jl form).

    ``ufunc`` is the NumPy implementation (and names the primitive unless
    ``name`` does); ``scalar_impl`` the one for Python floats; ``partials``
    one function ``d(out, *operands)`` per operand. The first-order reverse
    rule on plain arrays, ``fast_vjp``, comes from the partials unless given.
    A scalar implementation made by :func:`_numpy_semantics` lends the raising
    ``math`` function it wraps (``__wrapped__``) to the scalar route
    (``float_impl``). Everything else is a field of :class:`~adkit.core.Primitive`.
    """
    declaration.setdefault("float_impl", getattr(scalar_impl, "__wrapped__", None))
    fast = declaration.pop("fast_vjp", None)
    singular, selects = declaration.get("singular", False), declaration.get("selects", False)
    return Primitive(
        name or ufunc.__name__, ufunc, scalar_impl=scalar_impl, partials=partials,
        fast_vjp=fast or _partials_fast_vjp(tuple(partials), singular, selects),
        numpy_name=getattr(ufunc, "__name__", name), **declaration,
    )


def _doc(maths: str, example: str, result: str) -> str:
    return f"""{maths}

Works on Python numbers, NumPy arrays, ``Dual`` and ``Var`` values alike.

>>> {example}
{result}
"""


# -- arithmetic -----------------------------------------------------------------

add = elementwise(np.add, operator.add, (lambda out, x, y: ONE, lambda out, x, y: ONE), domain=(REAL, REAL),
                  residuals=(), symbol="+", label="{0} + {1}", latex="{0} + {1}",
                  doc="Sum x + y; d/dx = 1, d/dy = 1.",
                  example=("adkit.add(adkit.Dual(2.0, 1.0), 3.0)", "Dual(5.000, 1.000)"))
subtract = elementwise(np.subtract, operator.sub, (lambda out, x, y: ONE, lambda out, x, y: MINUS_ONE),
                       domain=(REAL, REAL), residuals=(), symbol="-", label="{0} - {1}", latex="{0} - {1}",
                       doc="Difference x - y; d/dx = 1, d/dy = -1.",
                       example=("adkit.subtract(3.0, adkit.Dual(2.0, 1.0))", "Dual(1.000, -1.000)"))
multiply = elementwise(np.multiply, operator.mul, (lambda out, x, y: y, lambda out, x, y: x),
                       domain=(REAL, REAL), residuals=(0, 1), symbol="*", label="{0} * {1}",
                       latex=r"{0} \times {1}", doc="Product x y; d/dx = y, d/dy = x (the product rule).",
                       example=("adkit.multiply(adkit.Dual(2.0, 1.0), adkit.Dual(3.0, 0.0))",
                                "Dual(6.000, 3.000)"))


@quietly
def _divide_dx(out: Any, x: Any, y: Any) -> Any:
    if (type(y) is np.ndarray and y.dtype.kind != "f") or isinstance(y, (np.integer, np.bool_)):
        y = np.asarray(y, dtype=np.float64)  # NumPy's reciprocal of an integer is an integer: 1 // y
    return reciprocal(y)


@quietly
def _divide_dy(out: Any, x: Any, y: Any) -> Any:
    return -divide(out, y)


divide = elementwise(np.divide, _numpy_semantics(operator.truediv, np.divide), (_divide_dx, _divide_dy),
                     domain=(REAL, NONZERO), singular=True, flops=2.0, residuals=("out", 1), symbol="/",
                     label="{0} / {1}", latex="{0} / {1}",
                     doc="Quotient x / y; d/dx = 1/y, d/dy = -x/y^2 (the quotient rule).",
                     example=("adkit.divide(adkit.Dual(1.0, 1.0), 2.0)", "Dual(0.500, 0.500)"))


@quietly
def _power_dx(out: Any, x: Any, y: Any) -> Any:
    if type(y) is int or type(y) is float:
        # constant exponents: the common small ones without a general power
        if y == 0:
            return ZERO  # d/dx x**0 = 0 everywhere, also at x = 0
        if y == 1:
            return ONE
        if y == 2:
            return 2.0 * x
        if type(x) is float:  # a Python float: the same value without a dispatch
            return y * _float_power(x, y - 1)
    elif not carries_derivative(y) and not np.any(y):
        return ZERO
    return y * power(x, y - 1)


@quietly
def _power_dy(out: Any, x: Any, y: Any) -> Any:
    # x**y = exp(y log x); at x = 0 the limit of out * log(x) is 0 for y > 0.
    if type(x) is float:
        return 0.0 if x == 0.0 else out * log(x)
    return where(primal(x) == 0, 0.0, out * log(x))


power = elementwise(np.power, _float_power, (_power_dx, _power_dy), domain=(POSITIVE, SMALL), singular=True,
                    flops=20.0, residuals=("out", 0, 1), symbol="**", label="{0} ** {1}", latex="{0}^{{{1}}}",
                    float_partials=(_power_dx.__wrapped__, _power_dy.__wrapped__), fast_vjp=_power_fast_vjp,
                    doc="Power x ** y; d/dx = y x^(y-1), d/dy = x^y log x.",
                    example=("adkit.power(adkit.Dual(3.0, 1.0), 2)", "Dual(9.000, 6.000)"))
negative = elementwise(np.negative, operator.neg, (lambda out, x: MINUS_ONE,), domain=(REAL,), residuals=(),
                       symbol="neg", label="-{0}", latex="-{0}", doc="Negation -x; d/dx = -1.",
                       example=("adkit.negative(adkit.Dual(2.0, 1.0))", "Dual(-2.000, -1.000)"))
absolute = elementwise(np.absolute, abs, (lambda out, x: sign(x),), name="abs", domain=(NONZERO,),
                       residuals=(0,), label="|{0}|", latex="|{0}|",
                       doc="Absolute value ``|x|``; d/dx = sign(x), 0 at x = 0 by convention.",
                       example=("adkit.abs(adkit.Dual(-2.0, 1.0))", "Dual(2.000, -1.000)"))
abs = absolute
sign = elementwise(np.sign, lambda x: float((x > 0) - (x < 0)) if x == x else math.nan,
                   (lambda out, x: ZERO,), domain=(NONZERO,), residuals=(),
                   doc="Sign of x; its derivative is 0 wherever it exists.",
                   example=("adkit.sign(adkit.Dual(-2.0, 1.0))", "-1.0"))
square = elementwise(np.square, lambda x: x * x, (lambda out, x: 2 * x,), domain=(REAL,), residuals=(0,),
                     symbol="sq", label="{0}^2", latex="{0}^{{2}}", doc="Square x^2; d/dx = 2x.",
                     example=("adkit.square(adkit.Dual(3.0, 1.0))", "Dual(9.000, 6.000)"))
reciprocal = elementwise(np.reciprocal, _numpy_semantics(lambda x: 1.0 / x, lambda x: np.divide(1.0, x)),
                         (lambda out, x: -(out * out),), domain=(NONZERO,), singular=True, residuals=("out",),
                         symbol="1/x", label="1 / {0}", latex="1 / {0}", doc="Reciprocal 1/x; d/dx = -1/x^2.",
                         example=("adkit.reciprocal(adkit.Dual(2.0, 1.0))", "Dual(0.500, -0.250)"))

# -- remainders and signs: piecewise linear, so each partial is a piecewise constant
# computed on the primal values (its own derivative is zero between the jumps) -----

#: quotients away from integers (|x / y| between 2.09 and 2.95), so tests stay off the jumps
_DIVIDEND = ((-2.8, -2.2), (2.2, 2.8))
_DIVISOR = ((-1.05, -0.95), (0.95, 1.05))


def _floor_quotient(x: Any, y: Any) -> Any:
    """floor(x / y) as NumPy's ``floor_divide`` computes it (exact where x / y rounds to an integer)."""
    if type(x) is float and type(y) is float:
        try:
            return x // y  # the same algorithm as NumPy's for floats
        except ZeroDivisionError:
            pass
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.floor_divide(x, y)
    return float(q) if type(x) is float and type(y) is float else q


def _remainder_dy(out: Any, x: Any, y: Any) -> Any:
    return -_floor_quotient(primal(x), primal(y))


def _fmod_dy(out: Any, x: Any, y: Any) -> Any:
    px, py = primal(x), primal(y)
    if type(px) is float and type(py) is float:
        return -math.copysign(_floor_quotient(builtins.abs(px), builtins.abs(py)), px * py) if px else 0.0
    # trunc(x / y) = sign(x) sign(y) floor(|x| / |y|), with floor_divide's exactness
    return -(np.sign(px) * np.sign(py) * _floor_quotient(np.abs(px), np.abs(py)))


def _copysign_dx(out: Any, x: Any, y: Any) -> Any:
    px, py = primal(x), primal(y)
    if type(px) is float and type(py) is float:
        sign_x = 1.0 if px > 0 else -1.0 if px < 0 else 0.0 if px == 0 else math.nan
        return sign_x * math.copysign(1.0, py)
    return np.sign(px) * np.copysign(1.0, py)


remainder = elementwise(np.remainder, _numpy_semantics(operator.mod, np.remainder),
                        (lambda out, x, y: ONE, _remainder_dy), domain=(_DIVIDEND, _DIVISOR),
                        residuals=(0, 1), symbol="%", label="{0} % {1}",
                        doc="Remainder x % y = x - y floor(x / y) (the sign of y, as Python's %); d/dx = "
                            "1, d/dy = -floor(x / y) between the jumps.",
                        example=("adkit.remainder(adkit.Dual(7.5, 1.0), 2.0)", "Dual(1.500, 1.000)"))
mod = remainder
fmod = elementwise(np.fmod, _numpy_semantics(math.fmod, np.fmod), (lambda out, x, y: ONE, _fmod_dy),
                   domain=(_DIVIDEND, _DIVISOR), residuals=(0, 1),
                   doc="C's remainder fmod(x, y) = x - y trunc(x / y) (the sign of x); d/dx = 1, d/dy = "
                       "-trunc(x / y) between the jumps.",
                   example=("adkit.fmod(adkit.Dual(-7.5, 1.0), 2.0)", "Dual(-1.500, 1.000)"))
copysign = elementwise(np.copysign, math.copysign, (_copysign_dx, lambda out, x, y: ZERO),
                       domain=(NONZERO, NONZERO), residuals=(0, 1),
                       doc="``|x|`` with the sign of y (its sign bit: -0.0 counts as negative); d/dx = "
                           "sign(x) sign(y), 0 at x = 0 as abs'(0); d/dy = 0.",
                       example=("adkit.copysign(adkit.Dual(2.0, 1.0), -1.0)", "Dual(-2.000, -1.000)"))


# -- piecewise constant operations: traced results with derivative 0 -----------------------------
# As in PyTorch and JAX, floor(x) of a traced x is traced (``np.floor(v).backward()`` gives
# ``v.grad = 0``); comparisons, by contrast, give plain booleans, for Python's control flow.

#: away from the integers, where floor, ceil, trunc and rint are constant (the tests' domain)
BETWEEN_INTEGERS = ((-2.8, -2.2), (-1.8, -1.2), (-0.8, -0.2), (0.2, 0.8), (1.2, 1.8), (2.2, 2.8))


def _on_floats(ufunc: Callable) -> Callable[..., float]:
    """``ufunc`` on Python floats, as a Python float (NumPy's values: -0.0, inf and nan included)."""

    def scalar_impl(*xs: float) -> float:
        with np.errstate(all="ignore"):
            return float(ufunc(*xs))

    scalar_impl.__name__ = ufunc.__name__
    return scalar_impl


def _zero(out: Any, *operands: Any) -> int:
    return ZERO


floor = elementwise(np.floor, _on_floats(np.floor), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
                    label="⌊{0}⌋",
                    doc="Largest integer <= x; piecewise constant, derivative 0 between the jumps.",
                    example=("adkit.floor(adkit.Dual(2.5, 1.0))", "2.0"))
ceil = elementwise(np.ceil, _on_floats(np.ceil), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
                   label="⌈{0}⌉",
                   doc="Smallest integer >= x; piecewise constant, derivative 0 between the jumps.",
                   example=("adkit.ceil(adkit.Dual(2.5, 1.0))", "3.0"))
trunc = elementwise(np.trunc, _on_floats(np.trunc), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
                    doc="x rounded towards zero; piecewise constant, derivative 0 between the jumps.",
                    example=("adkit.trunc(adkit.Dual(-2.5, 1.0))", "-2.0"))
rint = elementwise(np.rint, _on_floats(np.rint), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
                   doc="x rounded to the nearest integer (halves to even); derivative 0 between the jumps.",
                   example=("adkit.rint(adkit.Dual(2.5, 1.0))", "2.0"))
floor_divide = elementwise(np.floor_divide, _numpy_semantics(operator.floordiv, np.floor_divide),
                           (_zero, _zero), domain=(_DIVIDEND, _DIVISOR), residuals=(), symbol="//",
                           label="{0} // {1}",
                           doc="Floor division x // y = floor(x / y); piecewise constant, derivative 0 "
                               "between the jumps.",
                           example=("adkit.floor_divide(adkit.Dual(7.5, 1.0), 2.0)", "3.0"))


def around(x: Any, decimals: int = 0) -> Any:
    """``x`` rounded to ``decimals`` places as NumPy rounds (scaled, then ``rint``): derivative 0.

    >>> adkit.around(adkit.Dual(2.345, 1.0), 2)
    2.35
    """
    decimals = operator.index(decimals)
    if decimals == 0:
        return rint(x)
    if decimals > 0:
        scale = 10.0**decimals
        return rint(x * scale) / scale
    scale = 10.0**-decimals
    return rint(x / scale) * scale


# -- exponentials and logarithms --------------------------------------------------

exp = elementwise(np.exp, _numpy_semantics(math.exp, np.exp), (lambda out, x: out,), domain=(REAL,),
                  flops=6.0, residuals=("out",), latex=r"\exp {0}", doc="Exponential e^x; d/dx = e^x.",
                  example=("adkit.exp(adkit.Dual(0.0, 1.0))", "Dual(1.000, 1.000)"))
expm1 = elementwise(np.expm1, _numpy_semantics(math.expm1, np.expm1), (lambda out, x: out + 1.0,),
                    domain=(REAL,), flops=8.0, residuals=("out",),
                    doc="e^x - 1, accurate near 0; d/dx = e^x.",
                    example=("adkit.expm1(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
log = elementwise(np.log, _numpy_semantics(math.log, np.log), (quietly(lambda out, x: reciprocal(x)),),
                  domain=(POSITIVE,), singular=True, flops=6.0, residuals=(0,), symbol="ln", label="ln({0})",
                  latex=r"\ln {0}", float_partials=(lambda out, x: 1.0 / x,),
                  doc="Natural logarithm ln x; d/dx = 1/x (inf at 0).",
                  example=("adkit.log(adkit.Dual(2.0, 1.0))", "Dual(0.693, 0.500)"))
log1p = elementwise(np.log1p, _numpy_semantics(math.log1p, np.log1p),
                    (quietly(lambda out, x: reciprocal(1.0 + x)),), domain=(POSITIVE,), singular=True,
                    flops=8.0, residuals=(0,), doc="ln(1 + x), accurate near 0; d/dx = 1/(1 + x).",
                    example=("adkit.log1p(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
log2 = elementwise(np.log2, _numpy_semantics(math.log2, np.log2),
                   (quietly(lambda out, x: reciprocal(x * math.log(2.0))),), domain=(POSITIVE,),
                   singular=True, flops=8.0, residuals=(0,), doc="Base-2 logarithm; d/dx = 1/(x ln 2).",
                   example=("adkit.log2(adkit.Dual(4.0, 1.0))", "Dual(2.000, 0.361)"))
log10 = elementwise(np.log10, _numpy_semantics(math.log10, np.log10),
                    (quietly(lambda out, x: reciprocal(x * math.log(10.0))),), domain=(POSITIVE,),
                    singular=True, flops=8.0, residuals=(0,), doc="Base-10 logarithm; d/dx = 1/(x ln 10).",
                    example=("adkit.log10(adkit.Dual(100.0, 1.0))", "Dual(2.000, 0.004)"))
sqrt = elementwise(np.sqrt, _numpy_semantics(math.sqrt, np.sqrt), (quietly(lambda out, x: divide(0.5, out)),),
                   domain=(POSITIVE,), singular=True, flops=2.0, residuals=("out",), label="sqrt({0})",
                   latex=r"\sqrt{{{0}}}", doc="Square root; d/dx = 1/(2 sqrt x), inf at 0 by convention.",
                   example=("adkit.sqrt(adkit.Dual(4.0, 1.0))", "Dual(2.000, 0.250)"))
cbrt = elementwise(np.cbrt, lambda x: float(np.cbrt(x)),
                   (quietly(lambda out, x: reciprocal(3.0 * out * out)),), domain=(NONZERO,), singular=True,
                   flops=15.0, residuals=("out",), doc="Cube root; d/dx = 1/(3 x^(2/3)).",
                   example=("adkit.cbrt(adkit.Dual(8.0, 1.0))", "Dual(2.000, 0.083)"))
logaddexp = elementwise(np.logaddexp, lambda x, y: float(np.logaddexp(x, y)),
                        (lambda out, x, y: exp(x - out), lambda out, x, y: exp(y - out)), domain=(REAL, REAL),
                        flops=20.0, residuals=("out", 0, 1),
                        doc="ln(e^x + e^y) without overflow; d/dx = e^(x - out).",
                        example=("adkit.logaddexp(adkit.Dual(0.0, 1.0), 0.0)", "Dual(0.693, 0.500)"))

# -- trigonometric and hyperbolic functions ---------------------------------------

sin = elementwise(np.sin, _numpy_semantics(math.sin, np.sin), (lambda out, x: cos(x),), domain=(REAL,),
                  flops=8.0, residuals=(0,), latex=r"\sin {0}", float_partials=(lambda out, x: math.cos(x),),
                  doc="Sine; d/dx sin x = cos x.",
                  example=("adkit.sin(adkit.Dual(1.0, 1.0))", "Dual(0.841, 0.540)"))
cos = elementwise(np.cos, _numpy_semantics(math.cos, np.cos), (lambda out, x: -sin(x),), domain=(REAL,),
                  flops=8.0, residuals=(0,), latex=r"\cos {0}", float_partials=(lambda out, x: -math.sin(x),),
                  doc="Cosine; d/dx cos x = -sin x.",
                  example=("adkit.cos(adkit.Dual(0.0, 1.0))", "Dual(1.000, -0.000)"))
tan = elementwise(np.tan, _numpy_semantics(math.tan, np.tan), (lambda out, x: 1.0 + out * out,),
                  domain=(((-1.3, 1.3),),), flops=10.0, residuals=("out",), latex=r"\tan {0}",
                  doc="Tangent; d/dx tan x = 1 + tan^2 x.",
                  example=("adkit.tan(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
arcsin = elementwise(np.arcsin, _numpy_semantics(math.asin, np.arcsin),
                     (quietly(lambda out, x: reciprocal(sqrt(1.0 - x * x))),), domain=(OPEN_UNIT,),
                     singular=True, flops=10.0, residuals=(0,), latex=r"\arcsin {0}",
                     doc="Inverse sine; d/dx = 1/sqrt(1 - x^2).",
                     example=("adkit.arcsin(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
arccos = elementwise(np.arccos, _numpy_semantics(math.acos, np.arccos),
                     (quietly(lambda out, x: -reciprocal(sqrt(1.0 - x * x))),), domain=(OPEN_UNIT,),
                     singular=True, flops=10.0, residuals=(0,), latex=r"\arccos {0}",
                     doc="Inverse cosine; d/dx = -1/sqrt(1 - x^2).",
                     example=("adkit.arccos(adkit.Dual(0.0, 1.0))", "Dual(1.571, -1.000)"))
arctan = elementwise(np.arctan, _numpy_semantics(math.atan, np.arctan),
                     (lambda out, x: reciprocal(1.0 + x * x),), domain=(REAL,), flops=10.0, residuals=(0,),
                     latex=r"\arctan {0}", doc="Inverse tangent; d/dx = 1/(1 + x^2).",
                     example=("adkit.arctan(adkit.Dual(1.0, 1.0))", "Dual(0.785, 0.500)"))


@quietly
def _arctan2_dy(out: Any, y: Any, x: Any) -> Any:
    return divide(x, x * x + y * y)


@quietly
def _arctan2_dx(out: Any, y: Any, x: Any) -> Any:
    return divide(-y, x * x + y * y)


arctan2 = elementwise(np.arctan2, _numpy_semantics(math.atan2, np.arctan2), (_arctan2_dy, _arctan2_dx),
                      domain=(NONZERO, NONZERO), singular=True, flops=15.0, residuals=(0, 1),
                      doc="Angle of the point (x, y), arctan2(y, x); d/dy = x/(x^2 + y^2), d/dx = -y/(x^2 "
                          "+ y^2).",
                      example=("adkit.arctan2(adkit.Dual(1.0, 1.0), 1.0)", "Dual(0.785, 0.500)"))


@quietly
def _hypot_dx(out: Any, x: Any, y: Any) -> Any:
    return divide(x, out)


@quietly
def _hypot_dy(out: Any, x: Any, y: Any) -> Any:
    return divide(y, out)


hypot = elementwise(np.hypot, _numpy_semantics(math.hypot, np.hypot), (_hypot_dx, _hypot_dy),
                    domain=(NONZERO, NONZERO), singular=True, flops=4.0, residuals=("out", 0, 1),
                    doc="sqrt(x^2 + y^2) without overflow; d/dx = x / hypot(x, y).",
                    example=("adkit.hypot(adkit.Dual(3.0, 1.0), 4.0)", "Dual(5.000, 0.600)"))
sinh = elementwise(np.sinh, _numpy_semantics(math.sinh, np.sinh), (lambda out, x: cosh(x),), domain=(REAL,),
                   flops=10.0, residuals=(0,), latex=r"\sinh {0}",
                   float_partials=(lambda out, x: math.cosh(x),), doc="Hyperbolic sine; d/dx = cosh x.",
                   example=("adkit.sinh(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
cosh = elementwise(np.cosh, _numpy_semantics(math.cosh, np.cosh), (lambda out, x: sinh(x),), domain=(REAL,),
                   flops=10.0, residuals=(0,), latex=r"\cosh {0}",
                   float_partials=(lambda out, x: math.sinh(x),), doc="Hyperbolic cosine; d/dx = sinh x.",
                   example=("adkit.cosh(adkit.Dual(0.0, 1.0))", "Dual(1.000, 0.000)"))
tanh = elementwise(np.tanh, math.tanh, (lambda out, x: 1.0 - out * out,), domain=(REAL,), flops=8.0,
                   residuals=("out",), latex=r"\tanh {0}", fast_vjp=_tanh_fast_vjp,
                   doc="Hyperbolic tangent; d/dx = 1 - tanh^2 x.",
                   example=("adkit.tanh(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
arcsinh = elementwise(np.arcsinh, math.asinh, (lambda out, x: reciprocal(sqrt(x * x + 1.0)),), domain=(REAL,),
                      flops=15.0, residuals=(0,), doc="Inverse hyperbolic sine; d/dx = 1/sqrt(x^2 + 1).",
                      example=("adkit.arcsinh(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
arccosh = elementwise(np.arccosh, _numpy_semantics(math.acosh, np.arccosh),
                      (quietly(lambda out, x: reciprocal(sqrt((x - 1.0) * (x + 1.0)))),), domain=(ABOVE_ONE,),
                      singular=True, flops=15.0, residuals=(0,),
                      doc="Inverse hyperbolic cosine; d/dx = 1/sqrt(x^2 - 1).",
                      example=("adkit.arccosh(adkit.Dual(2.0, 1.0))", "Dual(1.317, 0.577)"))
arctanh = elementwise(np.arctanh, _numpy_semantics(math.atanh, np.arctanh),
                      (quietly(lambda out, x: reciprocal((1.0 - x) * (1.0 + x))),), domain=(OPEN_UNIT,),
                      singular=True, flops=10.0, residuals=(0,),
                      doc="Inverse hyperbolic tangent; d/dx = 1/(1 - x^2).",
                      example=("adkit.arctanh(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"))
sigmoid = elementwise(_sigmoid, _float_sigmoid, (lambda out, x: out * (1.0 - out),), name="sigmoid",
                      domain=(REAL,), flops=12.0, residuals=("out",), symbol="σ", label="sigmoid({0})",
                      doc="Logistic sigmoid 1/(1 + e^-x); d/dx = s (1 - s).",
                      example=("adkit.sigmoid(adkit.Dual(0.0, 1.0))", "Dual(0.500, 0.250)"))
softplus = elementwise(lambda x: np.logaddexp(0.0, x), _float_softplus, (lambda out, x: sigmoid(x),),
                       name="softplus", domain=(REAL,), flops=20.0, residuals=(0,),
                       doc="Softplus ln(1 + e^x), without overflow; d/dx = sigmoid(x).",
                       example=("adkit.softplus(adkit.Dual(0.0, 1.0))", "Dual(0.693, 0.500)"))

# -- more exponentials, angles, steps and sinc (issue 13) ------------------------------------------

_LN2 = math.log(2.0)

exp2 = elementwise(np.exp2, _numpy_semantics(getattr(math, "exp2", lambda x: 2.0**x), np.exp2),
                   (lambda out, x: out * _LN2,), domain=(REAL,), flops=6.0, residuals=("out",),
                   label="2^{0}", latex="2^{{{0}}}", doc="Power of two 2^x; d/dx = 2^x ln 2.",
                   example=("adkit.exp2(adkit.Dual(3.0, 1.0))", "Dual(8.000, 5.545)"))
logaddexp2 = elementwise(np.logaddexp2, _on_floats(np.logaddexp2),
                         (lambda out, x, y: exp2(x - out), lambda out, x, y: exp2(y - out)),
                         domain=(REAL, REAL), flops=20.0, residuals=("out", 0, 1),
                         doc="log2(2^x + 2^y) without overflow; d/dx = 2^(x - out).",
                         example=("adkit.logaddexp2(adkit.Dual(0.0, 1.0), 0.0)", "Dual(1.000, 0.500)"))

#: NumPy's (and Python's) factors: deg2rad(x) = x * (pi / 180), rad2deg(x) = x * (180 / pi)
_RADIANS_PER_DEGREE = math.pi / 180.0
_DEGREES_PER_RADIAN = 180.0 / math.pi

deg2rad = elementwise(np.deg2rad, math.radians, (lambda out, x: _RADIANS_PER_DEGREE,), domain=(REAL,),
                      residuals=(), doc="Degrees to radians, x pi / 180 (``np.radians``); d/dx = pi / 180.",
                      example=("adkit.deg2rad(adkit.Dual(180.0, 1.0))", "Dual(3.142, 0.017)"))
rad2deg = elementwise(np.rad2deg, math.degrees, (lambda out, x: _DEGREES_PER_RADIAN,), domain=(REAL,),
                      residuals=(), doc="Radians to degrees, x 180 / pi (``np.degrees``); d/dx = 180 / pi.",
                      example=("adkit.rad2deg(adkit.Dual(1.0, 1.0))", "Dual(57.296, 57.296)"))


def _heaviside_dh(out: Any, x: Any, h: Any) -> Any:
    """The value at the step is ``h``: its derivative is 1 where x = 0 and 0 elsewhere (a selection)."""
    return primal(x) == 0


heaviside = elementwise(np.heaviside, _on_floats(np.heaviside), (None, _heaviside_dh),
                        domain=(NONZERO, REAL), selects=True, residuals=(0,), label="H({0}, {1})",
                        doc="Heaviside step: 0 for x < 0, h at x = 0, 1 for x > 0; d/dx = 0 wherever it "
                            "exists, d/dh = 1 at x = 0 (else 0).",
                        example=("adkit.heaviside(adkit.Dual(2.0, 1.0), 0.5)", "1.0"))


#: the Maclaurin series of sin(y)/y (and its derivatives) below this |y|, the recurrence above it
_SINC_SERIES_BELOW = 4.0
#: terms of the series: the next one is below 4^60 / 61! ~ 1e-48 of the first
_SINC_TERMS = 30


def _sinc_derivative_impl(x: Any, *, order: int) -> Any:
    """The ``order``-th derivative (``order`` >= 1) of sinc(x) = sin(pi x)/(pi x), without cancellation.

    It is pi^k g^(k)(pi x), g(y) = sin(y)/y: by the Maclaurin series
    sum_n (-1)^n y^(2n)/(2n+1)!, differentiated term by term, for |y| < 4
    (exact at y = 0, where the quotient is 0/0), and above by
    y g^(k) = sin^(k)(y) - k g^(k-1), which loses nothing there (each step
    multiplies errors by k/|y| < 1 for k < 4).
    """
    value = np.asarray(x)
    y = np.pi * value.astype(np.float64)
    small = np.abs(y) < _SINC_SERIES_BELOW
    ys = np.where(small, y, 0.0)
    series = np.zeros_like(y)
    for n in range((order + 1) // 2, _SINC_TERMS):  # the terms with 2n >= k
        coefficient = (-1.0) ** n * math.perm(2 * n, order) / math.factorial(2 * n + 1)
        series += coefficient * ys ** (2 * n - order)
    yl = np.where(small, 1.0, y)
    sine = (np.sin(yl), np.cos(yl), -np.sin(yl), -np.cos(yl))
    g = sine[0] / yl
    for k in range(1, order + 1):
        g = (sine[k % 4] - k * g) / yl
    out = np.pi**order * np.where(small, series, g)
    if value.dtype.kind == "f":
        out = out.astype(value.dtype)
    return float(out) if type(x) is float else out[()]


def _sinc_derivative_partial(out: Any, x: Any, *, order: int) -> Any:
    return sinc_derivative_p(x, order=order + 1)


sinc_derivative_p = Primitive(
    "sinc_derivative", _sinc_derivative_impl, partials=(_sinc_derivative_partial,), domain=(REAL,),
    cases=(Case(((),), {"order": 1}), Case(((2, 3),), {"order": 1}), Case(((4,),), {"order": 2}),
           Case(((3,),), {"order": 3})),
    flops=40.0, residuals=(0,), symbol="sinc'", label="sinc^({order})({0})",
    doc="The order-th derivative of sinc(x) = sin(pi x)/(pi x) (order >= 1); its derivative is the next "
        "order's, exact at every x, 0 included, and every order.",
)
sinc = elementwise(np.sinc, _on_floats(np.sinc), (lambda out, x: sinc_derivative_p(x, order=1),),
                   domain=(REAL,), flops=20.0, residuals=(0,),
                   doc="Normalized sinc sin(pi x)/(pi x), 1 at 0; d/dx = (cos(pi x) - sinc x)/x, 0 at 0. "
                       "Every derivative is exact at every point, 0 included (sinc''(0) = -pi^2/3).",
                   example=("adkit.sinc(adkit.Dual(0.5, 1.0))", "Dual(0.637, -1.273)"))


# -- piecewise operations -----------------------------------------------------------


def _tie_split(x: Any, y: Any, wins: Callable) -> Any:
    """1 where x wins, 1/2 at a tie, 0 where it loses (a constant mask)."""
    px, py = primal(x), primal(y)
    if type(px) is float and type(py) is float:
        return 1.0 if wins(px, py) else 0.5 if px == py else 0.0
    return np.where(wins(px, py), 1.0, np.where(px == py, 0.5, 0.0))


maximum = elementwise(np.maximum, lambda x, y: float(np.maximum(x, y)),
                      (lambda out, x, y: _tie_split(x, y, operator.gt), lambda out, x,
                       y: _tie_split(y, x, operator.gt)), domain=(REAL, REAL), selects=True, residuals=(0, 1),
                      symbol="max", label="max({0}, {1})",
                      doc="Elementwise maximum; the derivative goes to the larger operand, half each at a "
                          "tie.", example=("adkit.maximum(adkit.Dual(2.0, 1.0), 1.0)", "Dual(2.000, 1.000)"))
minimum = elementwise(np.minimum, lambda x, y: float(np.minimum(x, y)),
                      (lambda out, x, y: _tie_split(x, y, operator.lt), lambda out, x,
                       y: _tie_split(y, x, operator.lt)), domain=(REAL, REAL), selects=True, residuals=(0, 1),
                      symbol="min", label="min({0}, {1})",
                      doc="Elementwise minimum; the derivative goes to the smaller operand, half each at a "
                          "tie.", example=("adkit.minimum(adkit.Dual(0.5, 1.0), 1.0)", "Dual(0.500, 1.000)"))


def _clip_dx(out: Any, x: Any, lo: Any, hi: Any) -> Any:
    px, plo, phi = primal(x), primal(lo), primal(hi)
    return (plo <= px) & (px <= phi)


clip_p = elementwise(np.clip, lambda x, lo, hi: float(builtins.min(builtins.max(x, lo), hi)),
                     (_clip_dx, lambda out, x, lo, hi: primal(x) < primal(lo), lambda out, x, lo,
                      hi: primal(x) > primal(hi)), domain=(REAL, ((-2.0, -1.0),), ((1.0, 2.0),)),
                     selects=True, residuals=(0, 1, 2),
                     doc="Clip x to [lo, hi]; d/dx = 1 on the closed interval, d/dlo = 1 below it, d/dhi = "
                         "1 above.")


def clip(x: Any, lo: Any = None, hi: Any = None) -> Any:
    """Clip ``x`` to ``[lo, hi]``: d/dx = 1 where lo <= x <= hi, else 0.

    ``None`` for a bound means no bound (as ``np.clip``).

    >>> adkit.clip(adkit.Dual(5.0, 1.0), 0.0, 1.0)
    Dual(1.000, 0.000)
    """
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    return clip_p(x, lo, hi)


def _where_jvp(tangents: Sequence[Any], out: Any, cond: Any, x: Any, y: Any) -> Any:
    _, tx, ty = tangents
    out_ndim = ndim_of(out)
    tx = 0.0 if tx is None else align_batched(tx, ndim_of(x), out_ndim)
    ty = 0.0 if ty is None else align_batched(ty, ndim_of(y), out_ndim)
    # Select, never blend: a blend (tx * c + ty * (1 - c)) turns an inf
    # tangent in the branch not taken into nan.
    return where_p(cond, tx, ty)


def _where_vjp_x(ct: Any, out: Any, cond: Any, x: Any, y: Any) -> Any:
    return unbroadcast(where_p(cond, ct, 0.0), shape_of(x), batch_ndim(ct, out))


def _where_vjp_y(ct: Any, out: Any, cond: Any, x: Any, y: Any) -> Any:
    return unbroadcast(where_p(cond, 0.0, ct), shape_of(y), batch_ndim(ct, out))


def _where_impl(cond: Any, x: Any, y: Any) -> Any:
    return np.where(cond, x, y)[()]


where_p = Primitive("where", _where_impl, domain=(((0.0, 1.0),), REAL, REAL),
                    cases=(Case(((3,), (3,), (3,)), make=lambda rng: (rng.random(3) > 0.5, rng.normal(size=3),
                                                                      rng.normal(size=3))),
                           Case(((2, 3), (3,), ()), make=lambda rng: (rng.random((2, 3)) > 0.5,
                                                                      rng.normal(size=3), rng.normal()))),
                    residuals=(0,), label="where({0}, {1}, {2})", scalar_impl=lambda c, x, y: x if c else y,
                    jvps=_where_jvp, vjps=(None, _where_vjp_x, _where_vjp_y),
                    doc="Select x where the condition holds, y elsewhere; the tangent of the branch not "
                        "taken is dropped.")


def where(condition: Any, x: Any, y: Any) -> Any:
    """``x`` where ``condition`` holds, else ``y``; derivatives flow only from the branch taken.

    The condition is a constant (comparisons of traced values give plain
    boolean arrays).

    >>> import numpy as np
    >>> adkit.where(np.array([True, False]), adkit.Dual(np.array([1.0, 2.0]), np.ones(2)), 0.0)
    Dual(array([1., 0.]), array([1., 0.]))
    """
    return where_p(primal(condition), x, y)


# -- work estimates for the cost model of mode="auto" -------------------------------


def _input_size(out: Any, x: Any, **_: Any) -> float:
    """A reduction touches every input element once."""
    return float(size_of(x))


def _matmul_flops(out: Any, a: Any, b: Any) -> float:
    return 2.0 * size_of(out) * shape_of(a)[-1]


def _cubic(out: Any, a: Any, *_: Any) -> float:
    """LU-based linear algebra on an n-by-n matrix."""
    n = shape_of(a)[-1]
    return float(n**3 * (size_of(a) // (n * n)))


# -- shape helpers used by the rules -------------------------------------------------


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Normalize ``axis`` (None, int or tuple) to sorted negative axes.

    Negative axes count from the end, so they name the same axes of a tangent
    that carries extra leading batch axes.
    """
    if axis is None:
        return tuple(range(-ndim, 0))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    result = []
    for a in axis:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        result.append(a - ndim if a >= 0 else a)
    if len(set(result)) != len(result):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(result))


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    n = len(shape)
    return tuple(1 if (i - n) in axes else s for i, s in enumerate(shape))


def _restore_reduced(ct: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any, tuple[int, ...]]:
    """Put back the reduced axes of a batched cotangent as unit axes; also give the full shape."""
    x_shape = shape_of(x)
    nb = ndim_of(ct) - (len(x_shape) if keepdims else len(x_shape) - len(axes))
    batch = shape_of(ct)[:nb]
    if not keepdims:
        restored = batch + keepdims_shape(x_shape, axes)
        # raw values (first order) are reshaped by NumPy directly
        if isinstance(ct, Box):
            ct = reshape_p(ct, shape=restored)
        else:  # raw values (first order): NumPy directly
            ct = ct.reshape(restored) if type(ct) is np.ndarray else np.full(restored, ct)
    return ct, batch + x_shape


def _expand_reduced(ct: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """Put back the reduced axes of a batched cotangent, then broadcast to ``x``."""
    ct, shape = _restore_reduced(ct, x, axes, keepdims)
    return broadcast_to_p(ct, shape=shape) if isinstance(ct, Box) else np.broadcast_to(ct, shape)


def _swap_last(x: Any) -> Any:
    n = ndim_of(x)
    if n < 2:
        return x
    return transpose_p(x, axes=(*range(n - 2), n - 1, n - 2))


# -- reductions ------------------------------------------------------------------------


def _reduction(reduce: Callable) -> Callable:
    """The implementation of a reduction primitive: ``reduce`` with normalized axes."""
    method = getattr(np.ndarray, reduce.__name__, None)  # skips NumPy's Python wrappers
    # sums and means of float arrays: the ufunc NumPy's own methods end in (same values)
    adds = reduce is np.sum or reduce is np.mean
    mean = reduce is np.mean

    def impl(x: Any, *, axis: tuple, keepdims: bool) -> Any:
        if type(x) is np.ndarray:
            if adds and x.dtype == np.float64:
                total = np.add.reduce(x, axis=axis, keepdims=keepdims)
                return total / _count(x, axis) if mean else total
            if method is not None:
                return method(x, axis=axis, keepdims=keepdims)
        return reduce(x, axis=axis, keepdims=keepdims)

    impl.__name__ = f"{reduce.__name__}_impl"
    return impl


def _sum_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return _expand_reduced(ct, x, axis, keepdims)


_REDUCE_CASES = (
    Case(((4,),), {"axis": (-1,), "keepdims": False}),
    Case(((3, 4),), {"axis": (-2, -1), "keepdims": False}),
    Case(((3, 4),), {"axis": (-2,), "keepdims": True}),
    Case(((2, 3, 4),), {"axis": (-1,), "keepdims": False}),
)

sum_p = Primitive("sum", _reduction(np.sum), cases=_REDUCE_CASES, flops=_input_size, residuals=(), symbol="Σ",
                  label="sum({0})", latex=r"\sum {0}", linear=True, vjps=(_sum_vjp,),
                  doc="Sum over axes; linear, its transpose broadcasts back.")


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Sum of the elements over ``axis``: d/dx_i sum(x) = 1.

    >>> import numpy as np
    >>> adkit.sum(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
    Dual(3.000, 1.000)
    """
    return sum_p(x, axis=normalize_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def _count(x: Any, axes: tuple[int, ...]) -> int:
    shape = shape_of(x)
    return math.prod(shape[a] for a in axes)


def _float_type(x: Any) -> np.dtype:
    """The floating-point type of an operand (a Python float is float64)."""
    p = primal(x)
    return p.dtype if is_array(p) and p.dtype.kind == "f" else np.dtype(np.float64)


def _mean_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    if type(ct) is float or type(ct) is np.float64:  # the mean of all of x, first order (a loss)
        full = np.empty(shape_of(x), _float_type(x))
        full.fill(ct / full.size)
        return full
    ct, shape = _restore_reduced(ct, x, axis, keepdims)
    if isinstance(ct, Box):
        return broadcast_to_p(ct, shape=shape) / _count(x, axis)
    # raw values (first order): divide straight into the full shape, one ufunc call
    return np.divide(ct, _count(x, axis), out=np.empty(shape, np.result_type(ct, _float_type(x))))


mean_p = Primitive("mean", _reduction(np.mean), cases=_REDUCE_CASES, flops=_input_size, residuals=(),
                   linear=True, vjps=(_mean_vjp,), doc="Mean over axes; linear.")


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over ``axis``: d/dx_i mean(x) = 1/N.

    >>> import numpy as np
    >>> adkit.mean(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 0.0])))
    Dual(2.000, 0.500)
    """
    return mean_p(x, axis=normalize_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


@quietly
def _prod_partial(out: Any, x: Any, axis: tuple) -> Any:
    """d prod / d x_i = the product of the other elements, exact where some x_j = 0, at every order.

    Without zeros, ``out / x``; with them, the products before and after each element (running products
    from both ends, no division): their own derivatives hold too, so a second derivative where two
    elements are zero is the product of the rest, not 0.
    """
    if np.all(primal(x) != 0):
        return reshape_p(out, shape=keepdims_shape(shape_of(x), axis)) / x
    shape = shape_of(x)
    n = len(shape)
    order = [k for k in range(n) if k - n not in axis] + [a + n for a in axis]
    merged = reshape(transpose(x, order), tuple(shape[k] for k in order[: n - len(axis)]) + (-1,))
    before = _exclusive(cumprod_p(merged, axis=-1), -1)
    after = _reverse_along(_exclusive(cumprod_p(_reverse_along(merged, -1), axis=-1), -1), -1)
    others = reshape(before * after, tuple(shape[k] for k in order))
    return transpose(others, [int(k) for k in np.argsort(order)])


def _prod_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return sum_p(t * _prod_partial(out, x, axis), axis=axis, keepdims=keepdims)


def _prod_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return _expand_reduced(ct, x, axis, keepdims) * _prod_partial(out, x, axis)


_TWO_ZEROS = Case(((2, 5),), {"axis": (-1,), "keepdims": False}, make=lambda rng: _with_zeros(rng, (2, 5)))
prod_p = Primitive("prod", _reduction(np.prod), domain=(NONZERO,), cases=(*_REDUCE_CASES, _TWO_ZEROS),
                   flops=_input_size, residuals=("out", 0), symbol="Π", label="prod({0})", jvps=(_prod_jvp,),
                   vjps=(_prod_vjp,),
                   doc="Product over axes; d/dx_i = product of the others (exact with zeros too, at every "
                       "order).")


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis``: d/dx_i prod(x) = prod_{j != i} x_j.

    >>> import numpy as np
    >>> adkit.prod(adkit.Dual(np.array([2.0, 3.0]), np.array([1.0, 0.0])))
    Dual(6.000, 3.000)
    """
    return prod_p(x, axis=normalize_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def _extremum_mask(out: Any, x: Any, axis: tuple) -> np.ndarray:
    """Where ``x`` attains the extremum, 1/(number of ties); a constant."""
    px = primal(x)
    hit = px == np.reshape(primal(out), keepdims_shape(shape_of(x), axis))
    return hit / np.sum(hit, axis=axis, keepdims=True)


def _extremum_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return sum_p(select(t, _extremum_mask(out, x, axis)), axis=axis, keepdims=keepdims)


def _extremum_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return select(_expand_reduced(ct, x, axis, keepdims), _extremum_mask(out, x, axis))


max_p = Primitive("max", _reduction(np.max), cases=_REDUCE_CASES, flops=_input_size, residuals=("out", 0),
                  jvps=(_extremum_jvp,), vjps=(_extremum_vjp,),
                  doc="Maximum over axes; ties share the derivative evenly.")
min_p = Primitive("min", _reduction(np.min), cases=_REDUCE_CASES, flops=_input_size, residuals=("out", 0),
                  jvps=(_extremum_jvp,), vjps=(_extremum_vjp,),
                  doc="Minimum over axes; ties share the derivative evenly.")


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Maximum over ``axis``; the derivative goes to the maximal element (split at ties).

    >>> import numpy as np
    >>> adkit.max(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 2.0])))
    Dual(3.000, 2.000)
    """
    return max_p(x, axis=normalize_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Minimum over ``axis``; the derivative goes to the minimal element (split at ties).

    >>> import numpy as np
    >>> adkit.min(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 2.0])))
    Dual(1.000, 1.000)
    """
    return min_p(x, axis=normalize_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def _reverse_along(x: Any, axis: int) -> Any:
    return getitem_p(x, index=(Ellipsis, slice(None, None, -1)) + (slice(None),) * (-axis - 1))


def _cumsum_vjp(ct: Any, out: Any, x: Any, *, axis: int) -> Any:
    # The transpose of a running sum is the running sum taken from the end.
    return _reverse_along(cumsum_p(_reverse_along(ct, axis), axis=axis), axis)


def _cumsum_impl(x: Any, *, axis: int) -> Any:
    return np.cumsum(x, axis=axis)


cumsum_p = Primitive("cumsum", _cumsum_impl,
                     cases=(Case(((5,),), {"axis": -1}), Case(((3, 4),), {"axis": -2})), residuals=(),
                     linear=True, vjps=(_cumsum_vjp,),
                     doc="Running sum along an axis; linear, its transpose runs from the end.")


def cumsum(x: Any, axis: int | None = None) -> Any:
    """Running sum along ``axis`` (flattened when ``None``): d out_i / d x_j = [j <= i].

    >>> import numpy as np
    >>> adkit.cumsum(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
    Dual(array([1., 3.]), array([1., 1.]))
    """
    if axis is None:
        x = reshape(x, -1)
        axis = 0
    return cumsum_p(x, axis=normalize_axes(axis, ndim_of(x))[0])


# -- shape operations (all linear) ------------------------------------------------------


def _reshape_jvp(t: Any, out: Any, x: Any, *, shape: tuple, **_: Any) -> Any:
    return reshape_p(t, shape=shape_of(t)[: batch_ndim(t, x)] + shape_of(out))


def _reshape_vjp(ct: Any, out: Any, x: Any, *, shape: tuple, **_: Any) -> Any:
    return reshape_p(ct, shape=shape_of(ct)[: batch_ndim(ct, out)] + shape_of(x))


def _reshape_impl(x: Any, *, shape: tuple) -> Any:
    if type(x) is np.ndarray:
        return x.reshape(shape)  # the method: no trip through NumPy's Python wrappers
    return np.reshape(x, shape)


_RESHAPE_CASES = (Case(((2, 3),), {"shape": (6,)}), Case(((6,),), {"shape": (3, 2)}),
                  Case(((),), {"shape": (1, 1)}))

reshape_p = Primitive("reshape", _reshape_impl, cases=_RESHAPE_CASES, flops=0.0, residuals=(),
                      jvps=(_reshape_jvp,), vjps=(_reshape_vjp,), doc="Same elements, new shape; linear.")


def _resolve_shape(shape: Any, size: int) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return np.empty(size, dtype=np.int8).reshape(shape).shape if -1 in shape else shape


def memory_order(x: Any, order: Any, allowed: str, what: str) -> str:
    """``"C"`` or ``"F"`` for NumPy's ``order`` argument; ``"A"`` and ``"K"`` read the primal's memory layout.

    ``"K"`` comes back only for a primal that is neither C- nor F-contiguous
    (then the elements are read in the order of its strides).
    """
    order = "C" if order is None else order.upper() if isinstance(order, str) else order
    if order not in ("C", "F", "A", "K"):
        raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    if order not in allowed:
        raise ValueError(f"order {order!r} is not permitted for {what}")
    if order in ("C", "F"):
        return order
    value = primal(x)
    if not is_array(value) or value.flags.c_contiguous:
        return "C"
    if value.flags.f_contiguous:
        return "F"
    return "C" if order == "A" else "K"


def reshape(x: Any, shape: Any, *more: int, order: str = "C") -> Any:
    """``x`` with a new shape (one entry may be -1): a linear map, its transpose reshapes back.

    ``order="F"`` reads and writes the elements with the first index
    changing fastest (a reshape between two transposes); ``"A"`` is ``"F"``
    for a Fortran-contiguous primal, as in NumPy.

    >>> import numpy as np
    >>> adkit.reshape(adkit.Dual(np.arange(4.0), np.ones(4)), (2, 2)).shape
    (2, 2)
    >>> adkit.primal(adkit.reshape(adkit.Dual(np.arange(4.0), np.ones(4)), (2, 2), order="F"))
    array([[0., 2.],
           [1., 3.]])
    """
    if more:
        shape = (shape, *more)
    size = size_of(x)
    shape = _resolve_shape(shape, size)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape an array of size {size} into shape {shape}")
    if order != "C" and memory_order(x, order, "CFA", "reshaping") == "F":
        return transpose(reshape_p(transpose(x), shape=shape[::-1]))
    return reshape_p(x, shape=shape)


def _squeeze_impl(x: Any, *, shape: tuple) -> Any:
    return np.reshape(x, shape)


squeeze_p = Primitive("squeeze", _squeeze_impl, cases=(Case(((1, 3, 1),), {"shape": (3,)}),), flops=0.0,
                      residuals=(), jvps=(_reshape_jvp,), vjps=(_reshape_vjp,),
                      doc="Drop axes of length one; linear.")
expand_dims_p = Primitive("expand_dims", _squeeze_impl, cases=(Case(((3,),), {"shape": (1, 3)}),), flops=0.0,
                          residuals=(), jvps=(_reshape_jvp,), vjps=(_reshape_vjp,),
                          doc="Insert axes of length one; linear.")


def squeeze(x: Any, axis: Any = None) -> Any:
    """Drop axes of length one (all of them when ``axis`` is None).

    >>> import numpy as np
    >>> adkit.squeeze(adkit.Dual(np.ones((1, 3)), np.ones((1, 3)))).shape
    (3,)
    """
    shape = shape_of(x)
    if axis is None:
        axes = tuple(i for i, n in enumerate(shape) if n == 1)
    else:
        axes = tuple(a + len(shape) for a in normalize_axes(axis, len(shape)))
        for a in axes:
            if shape[a] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return squeeze_p(x, shape=tuple(n for i, n in enumerate(shape) if i not in axes))


def expand_dims(x: Any, axis: Any) -> Any:
    """Insert axes of length one at ``axis``.

    >>> import numpy as np
    >>> adkit.expand_dims(adkit.Dual(np.ones(3), np.ones(3)), 0).shape
    (1, 3)
    """
    return expand_dims_p(x, shape=np.expand_dims(np.empty(shape_of(x), dtype=np.int8), axis).shape)


def ravel(x: Any, order: str = "C") -> Any:
    """The elements of ``x`` as a 1-D array (a reshape), read in ``order`` as ``np.ravel`` reads them.

    >>> import numpy as np
    >>> adkit.ravel(adkit.Dual(np.ones((2, 2)), np.ones((2, 2)))).shape
    (4,)
    """
    resolved = memory_order(x, order, "CFAK", "ravelling")
    if resolved == "K":  # neither C- nor F-contiguous: the axes by decreasing stride, as NumPy reads them
        strides = primal(x).strides
        x = transpose(x, sorted(range(len(strides)), key=lambda a: -builtins.abs(strides[a])))
    elif resolved == "F":
        x = transpose(x)
    return reshape(x, -1)


def _transpose_jvp(t: Any, out: Any, x: Any, *, axes: tuple) -> Any:
    nb = batch_ndim(t, x)
    return transpose_p(t, axes=tuple(range(nb)) + tuple(nb + a for a in axes))


def _transpose_vjp(ct: Any, out: Any, x: Any, *, axes: tuple) -> Any:
    nb = batch_ndim(ct, out)
    inverse = tuple(np.argsort(axes))
    return transpose_p(ct, axes=tuple(range(nb)) + tuple(nb + int(a) for a in inverse))


def _transpose_impl(x: Any, *, axes: tuple) -> Any:
    if type(x) is np.ndarray:
        return x.transpose(axes)
    return np.transpose(x, axes)


transpose_p = Primitive("transpose", _transpose_impl,
                        cases=(Case(((2, 3),), {"axes": (1, 0)}), Case(((2, 3, 4),), {"axes": (2, 0, 1)})),
                        flops=0.0, residuals=(), symbol="T", label="{0}ᵀ", latex=r"{0}^{{\top}}",
                        jvps=(_transpose_jvp,), vjps=(_transpose_vjp,),
                        doc="Permute axes; linear, its transpose applies the inverse permutation.")


def _axis_list(axis: Any, ndim: int, what: str = "axis") -> list[int]:
    """Axes as non-negative ints, in the order given (NumPy's ``normalize_axis_tuple``)."""
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    result = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"repeated axis in `{what}` argument")
    return result


def transpose(x: Any, axes: Any = None) -> Any:
    """Permute the axes of ``x`` (reverse them when ``axes`` is None).

    >>> import numpy as np
    >>> adkit.transpose(adkit.Dual(np.ones((2, 3)), np.ones((2, 3)))).shape
    (3, 2)
    """
    n = ndim_of(x)
    if axes is None:
        axes = tuple(range(n))[::-1]
    else:
        if len(axes) != n:
            raise ValueError("axes don't match array")
        axes = tuple(_axis_list(axes, n, "axes"))
    if axes == tuple(range(n)):
        return x
    return transpose_p(x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """Exchange two axes (a transpose).

    >>> import numpy as np
    >>> adkit.swapaxes(adkit.Dual(np.ones((2, 3)), np.ones((2, 3))), 0, 1).shape
    (3, 2)
    """
    n = ndim_of(x)
    (a1,), (a2,) = _axis_list(axis1, n), _axis_list(axis2, n)
    axes = list(range(n))
    axes[a1], axes[a2] = axes[a2], axes[a1]
    return transpose(x, axes)


def moveaxis(x: Any, source: Any, destination: Any) -> Any:
    """Move axes to new positions (a transpose); ``source`` and ``destination`` are ints or sequences.

    >>> import numpy as np
    >>> adkit.moveaxis(adkit.Dual(np.ones((2, 3, 4)), np.ones((2, 3, 4))), 0, -1).shape
    (3, 4, 2)
    >>> adkit.moveaxis(adkit.Dual(np.ones((2, 3, 4)), np.ones((2, 3, 4))), (0, 1), (1, 0)).shape
    (3, 2, 4)
    """
    n = ndim_of(x)
    src = _axis_list(source, n, "source")
    dst = _axis_list(destination, n, "destination")
    if len(src) != len(dst):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    order = [a for a in range(n) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal ``x[..., i, i + offset]`` of the (axis1, axis2) planes, as ``np.diagonal``.

    The two axes are removed and the diagonal is appended as the last axis.
    Linear (an indexing), so its transpose scatters into zeros.

    >>> import numpy as np
    >>> adkit.diagonal(adkit.Dual(np.arange(9.0).reshape(3, 3), np.ones((3, 3))), offset=1)
    Dual(array([1., 5.]), array([1., 1.]))
    """
    n = ndim_of(x)
    if n < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    (a1,), (a2,) = _axis_list(axis1, n, "axis1"), _axis_list(axis2, n, "axis2")
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    planes = moveaxis(x, (a1, a2), (-2, -1))
    rows, cols = shape_of(planes)[-2:]
    offset = operator.index(offset)
    length = builtins.min(rows, cols - offset) if offset >= 0 else builtins.min(rows + offset, cols)
    length = builtins.max(0, length)
    i = np.arange(length) + builtins.max(0, -offset)
    return getitem_p(planes, index=(Ellipsis, i, i + offset))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Any:
    """Each element repeated ``repeats`` times along ``axis`` (flattened when None), as ``np.repeat``.

    Linear (an indexing with repeated indices), so its transpose adds the copies up.

    >>> import numpy as np
    >>> adkit.repeat(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), 2)
    Dual(array([1., 1., 2., 2.]), array([1., 1., 0., 0.]))
    """
    if isinstance(repeats, Box):
        raise TypeError("repeats must be integers, not a traced value")
    if axis is None:
        x, axis = ravel(x), 0
    n = ndim_of(x)
    (a,) = _axis_list(axis, n)
    index = np.repeat(np.arange(shape_of(x)[a]), repeats)
    return getitem_p(x, index=(slice(None),) * a + (index,))


def _broadcast_to_jvp(t: Any, out: Any, x: Any, *, shape: tuple) -> Any:
    nb = batch_ndim(t, x)
    t = align_batched(t, ndim_of(x), len(shape))
    return broadcast_to_p(t, shape=shape_of(t)[:nb] + shape)


def _broadcast_to_vjp(ct: Any, out: Any, x: Any, *, shape: tuple) -> Any:
    return unbroadcast(ct, shape_of(x), batch_ndim(ct, out))


def _broadcast_to_impl(x: Any, *, shape: tuple) -> Any:
    return np.broadcast_to(x, shape)


broadcast_to_p = Primitive("broadcast_to", _broadcast_to_impl,
                           cases=(Case(((3,),), {"shape": (2, 3)}), Case(((2, 1),), {"shape": (2, 4)}),
                                  Case(((),), {"shape": (3,)})), residuals=(), symbol="bcast",
                           label="broadcast({0})", jvps=(_broadcast_to_jvp,), vjps=(_broadcast_to_vjp,),
                           doc="Repeat along new or unit axes; linear, its transpose sums them.")


def broadcast_to(x: Any, shape: Any) -> Any:
    """``x`` repeated to ``shape`` by NumPy's broadcasting rules.

    >>> import numpy as np
    >>> adkit.broadcast_to(adkit.Dual(1.0, 1.0), (2,))
    Dual(array([1., 1.]), array([1., 1.]))
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return broadcast_to_p(x, shape=shape)


def _astype_vjp(ct: Any, out: Any, x: Any, *, dtype: np.dtype) -> Any:
    return astype_p(ct, dtype=_float_type(x))  # back in the operand's own type


def _astype_impl(x: Any, *, dtype: np.dtype) -> Any:
    return np.asarray(x).astype(dtype)[()]


astype_p = Primitive("astype", _astype_impl,
                     cases=(Case(((3,),), {"dtype": np.dtype(np.float64)}),
                            Case(((2, 3),), {"dtype": np.dtype(np.float64)})), flops=0.0, residuals=(),
                     label="{0}.astype({dtype})", linear=True, vjps=(_astype_vjp,),
                     doc="The values in another floating-point type; linear (tangents and cotangents are "
                         "cast likewise).")


def astype(x: Any, dtype: Any) -> Any:
    """``x`` in the floating-point type ``dtype`` (float32, float64 ...): d/dx = 1, rounded to ``dtype``.

    >>> import numpy as np
    >>> adkit.astype(adkit.Dual(np.ones(2), np.ones(2)), np.float32).value.dtype
    dtype('float32')
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"adkit.astype converts to floating-point types, got {dtype}")
    if np.result_type(primal(x)) == dtype:
        return x
    return astype_p(x, dtype=dtype)


def _zeros_for(tangents: Sequence[Any], operands: Sequence[Any]) -> list[Any]:
    """Tangents with explicit zeros for constants, of the right batch shape and of the type the constant
    and a tangent make (a float32 tangent beside a float32 constant stays float32)."""
    batch, kind = next((shape_of(t)[: batch_ndim(t, x)], primal(t))
                       for t, x in zip(tangents, operands) if t is not None)
    return [np.zeros(batch + shape_of(x), np.result_type(kind, primal(x))) if t is None else t
            for t, x in zip(tangents, operands)]


def _concatenate_jvp(tangents: Sequence[Any], out: Any, *xs: Any, axis: int) -> Any:
    return concatenate_p(*_zeros_for(tangents, xs), axis=axis)


def _concatenate_vjp(i: int, ct: Any, out: Any, *xs: Any, axis: int) -> Any:
    start = builtins.sum(shape_of(x)[axis] for x in xs[:i])
    stop = start + shape_of(xs[i])[axis]
    return getitem_p(ct, index=(Ellipsis, slice(start, stop)) + (slice(None),) * (-axis - 1))


def _concatenate_impl(*xs: Any, axis: int) -> Any:
    return np.concatenate(xs, axis=axis)


concatenate_p = Primitive("concatenate", _concatenate_impl,
                          cases=(Case(((2,), (3,)), {"axis": -1}),
                                 Case(((2, 3), (1, 3), (2, 3)), {"axis": -2})), residuals=(), symbol="concat",
                          jvps=_concatenate_jvp, vjps=_concatenate_vjp,
                          doc="Join arrays along an axis; linear, its transpose slices.")


def concatenate(arrays: Sequence[Any], axis: int = 0) -> Any:
    """Join ``arrays`` along an existing ``axis``.

    >>> import numpy as np
    >>> adkit.concatenate([adkit.Dual(np.ones(2), np.ones(2)), np.zeros(1)]).shape
    (3,)
    """
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    n = ndim_of(arrays[0])
    if n == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    return concatenate_p(*arrays, axis=normalize_axes(axis, n)[0])


def _stack_jvp(tangents: Sequence[Any], out: Any, *xs: Any, axis: int) -> Any:
    return stack_p(*_zeros_for(tangents, xs), axis=axis)


def _stack_vjp(i: int, ct: Any, out: Any, *xs: Any, axis: int) -> Any:
    return getitem_p(ct, index=(Ellipsis, i) + (slice(None),) * (-axis - 1))


def _stack_impl(*xs: Any, axis: int) -> Any:
    return np.stack(xs, axis=axis)


stack_p = Primitive("stack", _stack_impl,
                    cases=(Case(((), ()), {"axis": -1}), Case(((3,), (3,), (3,)), {"axis": -2}),
                           Case(((2, 3), (2, 3)), {"axis": -1})), residuals=(), jvps=_stack_jvp,
                    vjps=_stack_vjp,
                    doc="Join arrays along a new axis; linear, its transpose takes them apart.")


def stack(arrays: Sequence[Any], axis: int = 0) -> Any:
    """Join same-shaped ``arrays`` along a new ``axis``.

    The functional way to build an array from traced values (instead of
    assigning into ``np.zeros``).

    >>> x = adkit.Dual(2.0, 1.0)
    >>> adkit.stack([x, x * x])
    Dual(array([2., 4.]), array([1., 4.]))
    """
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    return stack_p(*arrays, axis=normalize_axes(axis, ndim_of(arrays[0]) + 1)[0])


# -- indexing -------------------------------------------------------------------------------


def _is_advanced(index: tuple) -> bool:
    return any(isinstance(i, (np.ndarray, list, bool)) for i in index)


def _expand_ellipsis(index: tuple, ndim: int) -> tuple:
    """Replace ``...`` by explicit slices so the index covers exactly ``ndim`` axes."""
    used = builtins.sum(
        (i.ndim if isinstance(i, np.ndarray) and i.dtype == bool else 1)
        for i in index
        if i is not None and i is not Ellipsis
    )
    if Ellipsis in [i for i in index if not isinstance(i, np.ndarray)]:
        at = next(k for k, i in enumerate(index) if i is Ellipsis and not isinstance(i, np.ndarray))
        return index[:at] + (slice(None),) * (ndim - used) + index[at + 1 :]
    return index + (slice(None),) * (ndim - used)


def normalize_index(index: Any) -> tuple:
    """An index as a tuple, with lists made arrays (NumPy's own reading of them)."""
    if not isinstance(index, tuple):
        index = (index,)
    result = []
    for i in index:
        if isinstance(i, Box):
            raise TypeError(
                "adkit cannot index with a traced value: indices must be constants "
                "(integers, slices, integer or boolean arrays). Use np.where to select by a "
                "traced condition."
            )
        result.append(np.asarray(i) if isinstance(i, list) else i)
    return tuple(result)


def _batch_last(t: Any, nb: int) -> Any:
    n = ndim_of(t)
    return transpose_p(t, axes=tuple(range(nb, n)) + tuple(range(nb)))


def _batch_first(t: Any, nb: int) -> Any:
    n = ndim_of(t)
    return transpose_p(t, axes=tuple(range(n - nb, n)) + tuple(range(n - nb)))


def _index_batched(t: Any, index: tuple, nb: int, x_ndim: int) -> Any:
    """``t[index]`` for ``t`` with ``nb`` leading batch axes in front of the indexed ones."""
    if nb == 0:
        return getitem_p(t, index=index)
    if not _is_advanced(index):
        return getitem_p(t, index=(slice(None),) * nb + index)
    # Advanced indices that are not adjacent move their axes to the front,
    # ahead of any batch axes; with the batch axes last they stay put.
    moved = getitem_p(_batch_last(t, nb), index=_expand_ellipsis(index, x_ndim) + (Ellipsis,))
    return _batch_first(moved, nb)


def _index_add_batched(ct: Any, index: tuple, shape: tuple, nb: int) -> Any:
    """Scatter-add ``ct`` (with ``nb`` batch axes) into zeros of ``batch + shape``."""
    batch = shape_of(ct)[:nb]
    if nb == 0:
        return index_add_p(ct, index=index, shape=shape)
    if not _is_advanced(index):
        return index_add_p(ct, index=(slice(None),) * nb + index, shape=batch + shape)
    moved = index_add_p(
        _batch_last(ct, nb), index=_expand_ellipsis(index, len(shape)) + (Ellipsis,),
        shape=shape + batch,
    )
    return _batch_first(moved, nb)


def _getitem_jvp(t: Any, out: Any, x: Any, *, index: tuple) -> Any:
    return _index_batched(t, index, batch_ndim(t, x), ndim_of(x))


def _getitem_vjp(ct: Any, out: Any, x: Any, *, index: tuple) -> Any:
    # Indexing's transpose adds into zeros; repeated integer indices add up.
    return _index_add_batched(ct, index, shape_of(x), batch_ndim(ct, out))


def _getitem_impl(x: Any, *, index: tuple) -> Any:
    return np.asarray(x)[index]


getitem_p = Primitive("getitem", _getitem_impl,
                      cases=(Case(((4,),), {"index": (1,)}), Case(((4,),), {"index": (slice(1, 3),)}),
                             Case(((3, 4),), {"index": (np.array([0, 2, 0]),)}),
                             Case(((3, 4, 5),), {"index": (np.array([0, 2]), slice(None), np.array([1, 3]))}),
                             Case(((3, 4),), {"index": (Ellipsis, None, 1)})), residuals=(), symbol="[]",
                      label="{0}[{index}]", jvps=(_getitem_jvp,), vjps=(_getitem_vjp,),
                      doc="Basic and integer-array indexing; linear, its transpose scatter-adds.")


def getitem(x: Any, index: Any) -> Any:
    """``x[index]``: a linear map whose transpose adds into zeros (``np.add.at``).

    >>> import numpy as np
    >>> adkit.getitem(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), 0)
    Dual(1.000, 1.000)
    """
    return getitem_p(x, index=normalize_index(index))


def _index_add_jvp(t: Any, out: Any, ct: Any, *, index: tuple, shape: tuple) -> Any:
    return _index_add_batched(t, index, shape, batch_ndim(t, ct))


def _index_add_vjp(c: Any, out: Any, ct: Any, *, index: tuple, shape: tuple) -> Any:
    return _index_batched(c, index, batch_ndim(c, out), len(shape))


def _index_add_impl(ct: Any, *, index: tuple, shape: tuple) -> Any:
    ct = np.asarray(ct)
    result = np.zeros(shape, dtype=ct.dtype if ct.dtype.kind == "f" else np.float64)
    if _is_advanced(index):
        np.add.at(result, index, ct)
    else:
        result[index] = ct
    return result


index_add_p = Primitive("index_add", _index_add_impl,
                        cases=(Case(((3,),), {"index": (np.array([0, 1, 0]),), "shape": (4,)}),
                               Case(((2,),), {"index": (slice(1, 3),), "shape": (4,)})), residuals=(),
                        symbol="+[]", label="zeros{shape}.at[{index}].add({0})", jvps=(_index_add_jvp,),
                        vjps=(_index_add_vjp,),
                        doc="Add into zeros of a shape at an index (the transpose of indexing); linear.")


# -- products ---------------------------------------------------------------------------------


def _as_matrices(a: Any, b: Any) -> tuple[bool, bool]:
    return ndim_of(a) == 1, ndim_of(b) == 1


def _matmul_jvp_a(t: Any, out: Any, a: Any, b: Any) -> Any:
    a_vec, b_vec = _as_matrices(a, b)
    if a_vec and ndim_of(b) == 2 and ndim_of(t) == 2:  # k directions of a vector: one matrix product
        return matmul(t, b)
    a2_ndim = builtins.max(ndim_of(a), 2)
    b2_ndim = builtins.max(ndim_of(b), 2)
    t2 = expand_dims_p(t, shape=shape_of(t)[:-1] + (1,) + shape_of(t)[-1:]) if a_vec else t
    b2 = reshape_p(b, shape=shape_of(b) + (1,)) if b_vec else b
    r = matmul(align_batched(t2, a2_ndim, builtins.max(a2_ndim, b2_ndim)), b2)
    return _drop_promoted(r, a_vec, b_vec)


def _matmul_jvp_b(t: Any, out: Any, a: Any, b: Any) -> Any:
    a_vec, b_vec = _as_matrices(a, b)
    if b_vec and ndim_of(a) == 2 and ndim_of(t) == 2:  # k directions of a vector: (A t_i)_i = T Aᵀ
        return matmul(t, transpose_p(a, axes=(1, 0)))
    a2_ndim = builtins.max(ndim_of(a), 2)
    b2_ndim = builtins.max(ndim_of(b), 2)
    a2 = reshape_p(a, shape=(1,) + shape_of(a)) if a_vec else a
    t2 = expand_dims_p(t, shape=shape_of(t) + (1,)) if b_vec else t
    r = matmul(a2, align_batched(t2, b2_ndim, builtins.max(a2_ndim, b2_ndim)))
    return _drop_promoted(r, a_vec, b_vec)


def _drop_promoted(r: Any, a_vec: bool, b_vec: bool) -> Any:
    shape = shape_of(r)
    if a_vec and b_vec:
        return reshape_p(r, shape=shape[:-2])
    if a_vec:
        return squeeze_p(r, shape=shape[:-2] + shape[-1:])
    if b_vec:
        return squeeze_p(r, shape=shape[:-1])
    return r


def _promote_ct(ct: Any, a_vec: bool, b_vec: bool) -> Any:
    shape = shape_of(ct)
    if a_vec and b_vec:
        return reshape_p(ct, shape=shape + (1, 1))
    if a_vec:
        return expand_dims_p(ct, shape=shape[:-1] + (1,) + shape[-1:])
    if b_vec:
        return expand_dims_p(ct, shape=shape + (1,))
    return ct


def _matmul_vjp_a(ct: Any, out: Any, a: Any, b: Any) -> Any:
    a_ndim, b_ndim, ct_ndim = ndim_of(a), ndim_of(b), ndim_of(ct)
    if a_ndim == b_ndim == ct_ndim == 2:  # matrices, one cotangent: the common case, directly
        return matmul(ct, transpose_p(b, axes=(1, 0)))
    if a_ndim == 1 and b_ndim == 2 and ct_ndim <= 2:  # a vector times a matrix: ct bᵀ, k cotangents at once
        return matmul(ct, transpose_p(b, axes=(1, 0)))
    a_vec, b_vec = a_ndim == 1, b_ndim == 1
    nb = ct_ndim - ndim_of(out)
    b2 = reshape_p(b, shape=shape_of(b) + (1,)) if b_vec else b
    ct_a = matmul(_promote_ct(ct, a_vec, b_vec), _swap_last(b2))
    a2_shape = (1,) + shape_of(a) if a_vec else shape_of(a)
    ct_a = unbroadcast(ct_a, a2_shape, nb)
    return reshape_p(ct_a, shape=shape_of(ct_a)[:nb] + shape_of(a)) if a_vec else ct_a


def _matmul_vjp_b(ct: Any, out: Any, a: Any, b: Any) -> Any:
    a_ndim, b_ndim, ct_ndim = ndim_of(a), ndim_of(b), ndim_of(ct)
    if a_ndim == b_ndim == ct_ndim == 2:  # matrices, one cotangent: the common case, directly
        return matmul(transpose_p(a, axes=(1, 0)), ct)
    if a_ndim == 2 and b_ndim == 1 and ct_ndim <= 2:  # a matrix times a vector: aᵀ ct = ct a, k at once
        return matmul(ct, a)
    a_vec, b_vec = a_ndim == 1, b_ndim == 1
    nb = ct_ndim - ndim_of(out)
    a2 = reshape_p(a, shape=(1,) + shape_of(a)) if a_vec else a
    ct_b = matmul(_swap_last(a2), _promote_ct(ct, a_vec, b_vec))
    b2_shape = shape_of(b) + (1,) if b_vec else shape_of(b)
    ct_b = unbroadcast(ct_b, b2_shape, nb)
    return reshape_p(ct_b, shape=shape_of(ct_b)[:nb] + shape_of(b)) if b_vec else ct_b


matmul = Primitive("matmul", np.matmul,
                   cases=(Case(((2, 3), (3, 4))), Case(((3,), (3, 4))), Case(((2, 3), (3,))),
                          Case(((3,), (3,))), Case(((2, 2, 3), (3, 4))), Case(((3, 4), (2, 4, 2))),
                          Case(((3,), (2, 3, 2))), Case(((2, 1, 2, 3), (3, 3, 2))), Case(((2, 2, 3), (3,)))),
                   flops=_matmul_flops, residuals=(0, 1), symbol="@", label="{0} @ {1}", latex=r"{0}\,{1}",
                   jvps=(_matmul_jvp_a, _matmul_jvp_b), vjps=(_matmul_vjp_a, _matmul_vjp_b),
                   fast_vjp=_matmul_fast_vjp,
                   doc="Matrix product a @ b; bilinear: d(a @ b) = da @ b + a @ db.",
                   example=("adkit.matmul(adkit.Dual(np.eye(2), np.eye(2)), np.ones(2))",
                            "Dual(array([1., 1.]), array([1., 1.]))"))


def dot(a: Any, b: Any) -> Any:
    """``np.dot``: a product for a scalar, a matrix product for up to two axes, else the sum over the last
    axis of ``a`` and the second-to-last of ``b`` (its only one, for a vector).

    >>> import numpy as np
    >>> adkit.dot(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), np.array([3.0, 4.0]))
    Dual(11.000, 3.000)
    """
    a_shape, b_shape = shape_of(a), shape_of(b)
    if not a_shape or not b_shape:
        return multiply(a, b)
    if len(a_shape) <= 2 and len(b_shape) <= 2:
        return matmul(a, b)
    k = -2 if len(b_shape) > 1 else -1
    if a_shape[-1] != b_shape[k]:
        raise ValueError(f"shapes {a_shape} and {b_shape} not aligned: {a_shape[-1]} (dim "
                         f"{len(a_shape) - 1}) != {b_shape[k]} (dim {len(b_shape) + k})")
    return tensordot(a, b, axes=([-1], [k]))


def outer(a: Any, b: Any) -> Any:
    """Outer product a_i b_j (of the flattened inputs), as a broadcast product.

    >>> import numpy as np
    >>> adkit.outer(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), np.array([3.0, 4.0]))
    Dual(array([[3., 4.],
           [6., 8.]]), array([[3., 4.],
           [0., 0.]]))
    """
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def inner(a: Any, b: Any) -> Any:
    """Inner product over the last axes, as ``np.inner``: out[i..., j...] = sum_k a[i..., k] b[j..., k].

    The result has shape ``a.shape[:-1] + b.shape[:-1]``; a scalar operand
    multiplies. Computed as one matrix product of the flattened leading axes.

    >>> import numpy as np
    >>> adkit.inner(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), np.array([3.0, 4.0]))
    Dual(11.000, 3.000)
    """
    a_shape, b_shape = shape_of(a), shape_of(b)
    if not a_shape or not b_shape:
        return multiply(a, b)
    if a_shape[-1] != b_shape[-1]:
        raise ValueError(
            f"shapes {a_shape} and {b_shape} not aligned: {a_shape[-1]} (dim {len(a_shape) - 1}) != "
            f"{b_shape[-1]} (dim {len(b_shape) - 1})"
        )
    if len(a_shape) == 1 and len(b_shape) == 1:
        return matmul(a, b)
    k = a_shape[-1]
    rows = reshape(a, (math.prod(a_shape[:-1]), k))
    cols = transpose(reshape(b, (math.prod(b_shape[:-1]), k)))
    return reshape(matmul(rows, cols), a_shape[:-1] + b_shape[:-1])


# -- linear algebra ------------------------------------------------------------------------------


def _inv_jvp(t: Any, out: Any, x: Any) -> Any:
    return -matmul(matmul(out, t), out)


def _inv_vjp(ct: Any, out: Any, x: Any) -> Any:
    out_t = _swap_last(out)
    return -matmul(matmul(out_t, ct), out_t)


def _well_conditioned(rng: np.random.Generator, n: int = 3, stack: tuple[int, ...] = ()) -> np.ndarray:
    """A test matrix (or stack) with condition number below 20, so finite differences of its
    second derivatives stay accurate (normal + 3 I alone is near singular once in a few thousand)."""
    while True:
        a = rng.normal(size=(*stack, n, n)) + 3.0 * np.eye(n)
        if np.all(np.linalg.cond(a) < 20.0):
            return a


#: square matrices, one and a stack of two (linear algebra broadcasts over leading axes)
_SQUARE_CASES = (Case(((3, 3),), make=lambda rng: (_well_conditioned(rng),)),
                 Case(((2, 3, 3),), make=lambda rng: (_well_conditioned(rng, stack=(2,)),)))


inv = Primitive("inv", np.linalg.inv, cases=_SQUARE_CASES, flops=_cubic, residuals=("out",), label="inv({0})",
                jvps=(_inv_jvp,), vjps=(_inv_vjp,), doc="Matrix inverse; d inv(X) = -inv(X) dX inv(X).",
                example=("adkit.inv(adkit.Dual(np.array([[2.0]]), np.array([[1.0]])))",
                         "Dual(array([[0.5]]), array([[-0.25]]))"))


def _frobenius(a: Any, b: Any) -> Any:
    """sum_ij a_ij b_ij over the last two axes."""
    return sum_p(a * b, axis=(-2, -1), keepdims=False)


# det's derivatives go through the cofactor matrix C(X) = adj(X)ᵀ, which is
# defined at every matrix (d det = <C, dX>), not through det(X) inv(X)ᵀ, which
# fails at singular ones. Both C and its derivative come from the SVD
# X = U diag(s) Vh: products of all singular values but one (or two) need no
# division, so they hold at rank n - 1 and below (as JAX's _cofactor_solve
# does with the LU factors).


def _all_but_one(r: np.ndarray) -> np.ndarray:
    """``p_i = prod_{j != i} r_j`` along the last axis, without dividing (zeros allowed)."""
    ones = np.ones(r.shape[:-1] + (1,), r.dtype)
    before = np.cumprod(np.concatenate([ones, r[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, r[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return before * after


def _svd_frame(x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x = u diag(s) vh`` and ``det(u) det(vh)`` (+1 or -1), for each matrix of a stack."""
    u, s, vh = np.linalg.svd(x)
    return u, s, vh, np.sign(np.linalg.det(u) * np.linalg.det(vh))[..., None, None]


def _cofactor_impl(x: Any) -> Any:
    x = np.asarray(x)
    if x.shape[-1] == 0:
        return np.zeros(x.shape, x.dtype)
    u, s, vh, sign = _svd_frame(x)
    # adj(u diag(s) vh) = adj(vh) adj(diag(s)) adj(u) and adj(q) = det(q) qᵀ for orthogonal q
    return sign * np.matmul(u * _all_but_one(s)[..., None, :], vh)


def _cofactor_jvp(t: Any, out: Any, x: Any) -> Any:
    return cofactor_jvp_p(x, t)


def _cofactor_vjp(ct: Any, out: Any, x: Any) -> Any:
    # <C', dC[E]> is det's second derivative, symmetric in E and C': the map is its own transpose
    return cofactor_jvp_p(x, ct)


cofactor_p = Primitive("cofactor", _cofactor_impl, cases=_SQUARE_CASES, flops=_cubic, residuals=(0,),
                       symbol="cof", label="cof({0})", jvps=(_cofactor_jvp,), vjps=(_cofactor_vjp,),
                       doc="The cofactor matrix C(X) = adj(X)ᵀ, the gradient of det, at every matrix; dC "
                           "is det's second derivative.")


def _cofactor_jvp_impl(x: Any, e: Any) -> Any:
    """``dC[E] = ± u (diag(P diag(Ẽ)) - P ∘ Ẽᵀ) vh``, ``Ẽ = uᵀ E vhᵀ``, ``P_ij = prod_{k != i, j} s_k``."""
    x = np.asarray(x)
    n = x.shape[-1]
    if n == 0:
        return np.zeros(np.broadcast_shapes(x.shape, np.shape(e)), np.result_type(x, e))
    u, s, vh, sign = _svd_frame(x)
    e_frame = np.matmul(np.matmul(np.swapaxes(u, -1, -2), e), np.swapaxes(vh, -1, -2))
    eye = np.eye(n, dtype=bool)
    pairs = np.where(eye, 0.0, _all_but_one(np.where(eye, 1.0, s[..., None, :])))
    diagonal = np.matmul(pairs, np.diagonal(e_frame, axis1=-2, axis2=-1)[..., None])
    m = np.where(eye, diagonal, -pairs * np.swapaxes(e_frame, -1, -2))
    return sign * np.matmul(np.matmul(u, m), vh)


#: above this condition number, third derivatives of det (by inv) would lose too many digits
HIGHER_ORDER_COND = 1e4


def _well_conditioned_inverse(x: Any) -> Any:
    cond = np.max(np.linalg.cond(primal(x)), initial=0.0)
    if not cond < HIGHER_ORDER_COND:
        raise NotImplementedError(
            f"adkit differentiates det twice at every matrix, but a third derivative only at a "
            f"well-conditioned one; this one has condition number {cond:.3g} (the limit is "
            f"{HIGHER_ORDER_COND:g}). Differentiate slogdet instead, or reformulate without det."
        )
    return inv(x)


def _trace_of_product(a: Any, b: Any) -> Any:
    """``tr(a b)`` of each matrix of a stack, with two unit axes kept."""
    return sum_p(a * _swap_last(b), axis=(-2, -1), keepdims=True)


def _cofactor_jvp_jvp_x(t: Any, out: Any, x: Any, e: Any) -> Any:
    """det's third derivative, from dC[E] = det(X) (tr(W E) Wᵀ - (W E W)ᵀ), W = inv(X), differentiated."""
    w = _well_conditioned_inverse(x)
    d = reshape_p(det(x), shape=shape_of(x)[:-2] + (1, 1))
    t = align_batched(t, ndim_of(x), ndim_of(out))
    wt, we = matmul(w, t), matmul(w, e)
    wew = matmul(we, w)
    return (_trace_of_product(w, t) * out
            - d * _trace_of_product(wt, we) * _swap_last(w)
            - d * _trace_of_product(w, e) * _swap_last(matmul(wt, w))
            + d * _swap_last(matmul(wt, wew) + matmul(wew, matmul(t, w))))


def _cofactor_jvp_vjp_x(ct: Any, out: Any, x: Any, e: Any) -> Any:
    """The transpose of :func:`_cofactor_jvp_jvp_x` in its tangent."""
    w = _well_conditioned_inverse(x)
    d = reshape_p(det(x), shape=shape_of(x)[:-2] + (1, 1))
    w_t, ct_t = _swap_last(w), _swap_last(ct)
    wew_t = _swap_last(matmul(matmul(w, e), w))
    ct_x = (sum_p(ct * out, axis=(-2, -1), keepdims=True) * w_t
            - d * sum_p(ct * w_t, axis=(-2, -1), keepdims=True) * wew_t
            - d * _trace_of_product(w, e) * matmul(matmul(w_t, ct_t), w_t)
            + d * (matmul(matmul(w_t, ct_t), wew_t) + matmul(matmul(wew_t, ct_t), w_t)))
    return unbroadcast(ct_x, shape_of(x), batch_ndim(ct, out))


def _cofactor_jvp_jvp_e(t: Any, out: Any, x: Any, e: Any) -> Any:
    return cofactor_jvp_p(x, align_batched(t, ndim_of(e), ndim_of(out)))


def _cofactor_jvp_vjp_e(ct: Any, out: Any, x: Any, e: Any) -> Any:
    return unbroadcast(cofactor_jvp_p(x, ct), shape_of(e), batch_ndim(ct, out))


def _tame(rng: np.random.Generator, stack: tuple[int, ...] = ()) -> np.ndarray:
    """Condition number about 2: the x-derivative below (by inv) loses digits with its square."""
    return 0.5 * rng.normal(size=(*stack, 3, 3)) + 3.0 * np.eye(3)


def _square_and_direction(rng: np.random.Generator, stack: tuple[int, ...] = ()) -> tuple[np.ndarray, ...]:
    return _tame(rng, stack), rng.normal(size=(*stack, 3, 3))


cofactor_jvp_p = Primitive("cofactor_jvp", _cofactor_jvp_impl,
                           cases=(Case(((3, 3), (3, 3)), make=_square_and_direction),
                                  Case(((2, 3, 3), (2, 3, 3)),
                                       make=lambda rng: _square_and_direction(rng, (2,))),
                                  Case(((2, 3, 3), (3, 3)),
                                       make=lambda rng: (_tame(rng, (2,)), rng.normal(size=(3, 3)))),
                                  Case(((3, 3), (2, 3, 3)),
                                       make=lambda rng: (_tame(rng), rng.normal(size=(2, 3, 3))))),
                           flops=_cubic, residuals=("out", 0, 1), symbol="dcof", label="dcof({0})[{1}]",
                           jvps=(_cofactor_jvp_jvp_x, _cofactor_jvp_jvp_e),
                           vjps=(_cofactor_jvp_vjp_x, _cofactor_jvp_vjp_e),
                           doc="The derivative of the cofactor matrix, dC(X)[E], linear in E: det's second "
                               "derivative at every matrix, its third (by inv) where X is well "
                               "conditioned.")


def _det_jvp(t: Any, out: Any, x: Any) -> Any:
    return _frobenius(cofactor_p(x), t)


def _det_vjp(ct: Any, out: Any, x: Any) -> Any:
    return reshape_p(ct, shape=shape_of(ct) + (1, 1)) * cofactor_p(x)


def _singular(rng: np.random.Generator, rank: int, stack: tuple[int, ...] = ()) -> tuple[np.ndarray]:
    """A 3 x 3 matrix (or a stack) of the given rank: det's derivatives must hold there too."""
    return (np.matmul(rng.normal(size=(*stack, 3, rank)), rng.normal(size=(*stack, rank, 3))),)


det = Primitive("det", np.linalg.det,
                cases=_SQUARE_CASES + (Case(((3, 3),), make=lambda rng: _singular(rng, 2)),
                                       Case(((2, 3, 3),), make=lambda rng: _singular(rng, 1, (2,))),
                                       Case(((3, 3),), make=lambda rng: (np.zeros((3, 3)),))),
                flops=_cubic, residuals=(0,), label="det({0})", jvps=(_det_jvp,), vjps=(_det_vjp,),
                doc="Determinant; d det(X) = <C(X), dX> with C the cofactor matrix (det(X) inv(X)ᵀ where X "
                    "is invertible, Jacobi's formula), at singular matrices too.",
                example=("adkit.det(adkit.Dual(2.0 * np.eye(2), np.eye(2)))", "Dual(4.000, 4.000)"))


def _logabsdet_jvp(t: Any, out: Any, x: Any) -> Any:
    return _frobenius(_swap_last(inv(x)), t)


def _logabsdet_vjp(ct: Any, out: Any, x: Any) -> Any:
    return reshape_p(ct, shape=shape_of(ct) + (1, 1)) * _swap_last(inv(x))


def _logabsdet_impl(x: Any) -> Any:
    return np.linalg.slogdet(x)[1]


logabsdet = Primitive("logabsdet", _logabsdet_impl, cases=_SQUARE_CASES, flops=_cubic, residuals=(0,),
                      symbol="log|det|", label="log|det({0})|", jvps=(_logabsdet_jvp,),
                      vjps=(_logabsdet_vjp,), doc="``ln |det X|``; d = tr(inv(X) dX).")


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)`` as ``np.linalg.slogdet`` returns it."""

    sign: Any
    logabsdet: Any


def slogdet(x: Any) -> SlogdetResult:
    """Sign and ``ln |det X|``; the sign is piecewise constant, ``d ln |det X| = tr(inv(X) dX)``.

    >>> import numpy as np
    >>> adkit.slogdet(adkit.Dual(2.0 * np.eye(2), np.eye(2))).logabsdet
    Dual(1.386, 1.000)
    """
    return SlogdetResult(np.linalg.slogdet(primal(x))[0], logabsdet(x))


def _column(x: Any, vector: bool) -> Any:
    """A vector right-hand side or solution (with any leading axes) as a column: ``shape + (1,)``."""
    return reshape_p(x, shape=shape_of(x) + (1,)) if vector else x


def _uncolumn(x: Any, vector: bool) -> Any:
    return reshape_p(x, shape=shape_of(x)[:-1]) if vector else x


# The solve rules work on columns (a vector b is an n x 1 matrix), so that every
# right-hand side they build is a stack of matrices; tangents are aligned to the
# solution's axes first, so their batch axes stay in front of the stacked axes
# that a or b carry (an inner differentiation's batch is such a stack).


def _solve_jvp_a(t: Any, out: Any, a: Any, b: Any) -> Any:
    vector = ndim_of(b) == 1
    x = _column(out, vector)
    t = align_batched(t, ndim_of(a), ndim_of(x))
    return -_uncolumn(solve_p(a, matmul(t, x)), vector)


def _solve_jvp_b(t: Any, out: Any, a: Any, b: Any) -> Any:
    vector = ndim_of(b) == 1
    t = align_batched(_column(t, vector), ndim_of(b) + vector, ndim_of(out) + vector)
    return _uncolumn(solve_p(a, t), vector)


def _solve_vjp_a(ct: Any, out: Any, a: Any, b: Any) -> Any:
    vector = ndim_of(b) == 1
    ct_b = solve_p(_swap_last(a), _column(ct, vector))
    ct_a = -matmul(ct_b, _swap_last(_column(out, vector)))
    return unbroadcast(ct_a, shape_of(a), batch_ndim(ct, out))


def _solve_vjp_b(ct: Any, out: Any, a: Any, b: Any) -> Any:
    vector = ndim_of(b) == 1
    ct_b = solve_p(_swap_last(a), _column(ct, vector))
    return _uncolumn(unbroadcast(ct_b, shape_of(b) + (1,) * vector, batch_ndim(ct, out)), vector)


def _solve_impl(a: Any, b: Any) -> Any:
    # NumPy 2 reads b as a vector exactly when it has one axis (NumPy 1 also when it has
    # one axis less than a); unit axes in front of a shorter b give the same, matrix
    # reading in both.
    a, b = np.asarray(a), np.asarray(b)
    vector = b.ndim == 1
    rhs = b[:, None] if vector else b
    if rhs.ndim < a.ndim:
        rhs = rhs.reshape((1,) * (a.ndim - rhs.ndim) + rhs.shape)
    x = np.linalg.solve(a, rhs)
    return x[..., 0] if vector else x


solve_p = Primitive(
    "solve", _solve_impl,
    cases=(Case(((3, 3), (3,)), make=lambda rng: (_well_conditioned(rng), rng.normal(size=3))),
           Case(((3, 3), (3, 2)), make=lambda rng: (_well_conditioned(rng), rng.normal(size=(3, 2)))),
           # stacks, as the rules of an inner differentiation make them: b's stack, a's stack, both
           Case(((3, 3), (2, 3, 2)), make=lambda rng: (_well_conditioned(rng), rng.normal(size=(2, 3, 2)))),
           Case(((2, 3, 3), (3,)), make=lambda rng: (_well_conditioned(rng, stack=(2,)), rng.normal(size=3))),
           Case(((2, 1, 3, 3), (2, 3, 1)),
                make=lambda rng: (_well_conditioned(rng, stack=(2, 1)), rng.normal(size=(2, 3, 1))))),
    flops=_cubic, residuals=("out", 0), label="solve({0}, {1})", jvps=(_solve_jvp_a, _solve_jvp_b),
    vjps=(_solve_vjp_a, _solve_vjp_b), doc="Solution of A x = b; dx = solve(A, db - dA x).",
)


#: NumPy 1 reads a b with one axis less than a as a stack of vectors; NumPy 2 (and adkit) as columns
_NUMPY1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"


def solve(a: Any, b: Any) -> Any:
    """The x with A x = b: dx = A⁻¹ (db - dA x).

    ``b`` is a vector when it has one axis, else a matrix of columns; stacks
    of systems broadcast over the leading axes, as in NumPy 2.

    >>> import numpy as np
    >>> adkit.solve(adkit.Dual(2.0 * np.eye(2), np.zeros((2, 2))), adkit.Dual(np.ones(2), np.ones(2)))
    Dual(array([0.5, 0.5]), array([0.5, 0.5]))
    """
    if _NUMPY1 and 2 <= ndim_of(b) == ndim_of(a) - 1:
        raise NotImplementedError(
            f"np.linalg.solve of a {shape_of(a)} stack and b of shape {shape_of(b)}: NumPy 1 reads "
            "this b as a stack of vectors, NumPy 2 and adkit as a matrix of columns. Write "
            "b[..., None] (and take [..., 0] of the result) for vectors, or b[None] for columns."
        )
    return solve_p(a, b)


@quietly
def _norm_ratio(x: Any, out: Any, axis: tuple) -> Any:
    out_k = reshape_p(out, shape=keepdims_shape(shape_of(x), axis))
    # At x = 0 every subgradient has norm <= 1; 0 is the one of least norm.
    return where_p(primal(out_k) == 0, 0.0, x / out_k)


def _norm_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return sum_p(t * _norm_ratio(x, out, axis), axis=axis, keepdims=keepdims)


def _norm_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return _expand_reduced(ct, x, axis, keepdims) * _norm_ratio(x, out, axis)


def _norm_impl(x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims))


norm_p = Primitive("norm", _norm_impl, domain=(NONZERO,), cases=_REDUCE_CASES, flops=_input_size,
                   residuals=("out", 0), symbol="‖·‖", label="‖{0}‖", jvps=(_norm_jvp,), vjps=(_norm_vjp,),
                   doc="Euclidean (Frobenius) norm over axes; d‖x‖ = <x, dx>/‖x‖, 0 at x = 0.")


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector or matrix norm as ``np.linalg.norm``, every ``ord``: d‖x‖₂ = <x, dx>/‖x‖₂.

    Vectors (one axis): ``ord`` 2 (the default), 1, ``inf``, ``-inf``, 0
    (the count of nonzero elements: piecewise constant, derivative 0) and any
    other p, negative ones included ((Σ|x|ᵖ)^(1/p); 0 with derivative 0 where
    an element is 0, for p < 0). Matrices (two axes): ``"fro"`` (the
    default), ``"nuc"`` (the sum of the singular values), 2 and -2 (the
    largest and smallest), 1, -1, ``inf``, ``-inf`` (extreme column and row
    sums of ``|x|``). At kinks: ``‖0‖₂' = 0``, ``abs'(0) = 0``, ties of max and
    min split evenly; the singular values' derivatives as :func:`svdvals`.

    >>> import numpy as np
    >>> adkit.norm(adkit.Dual(np.array([3.0, 4.0]), np.array([1.0, 0.0])))
    Dual(5.000, 0.600)
    >>> adkit.norm(adkit.Dual(np.diag([3.0, 1.0]), np.eye(2)), "nuc")
    Dual(4.000, 2.000)
    """
    n = ndim_of(x)
    if axis is None:
        if ord is None or (ord in ("f", "fro") and n == 2) or (ord == 2 and n == 1):
            return norm_p(x, axis=normalize_axes(None, n), keepdims=bool(keepdims))
        axis = tuple(range(n))
    elif not isinstance(axis, tuple):
        try:
            axis = (int(axis),)  # as NumPy: int(1.5) is 1
        except TypeError as error:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from error
    if len(axis) == 1:
        return _vector_norm(x, ord, normalize_axes(axis, n), bool(keepdims))
    if len(axis) == 2:
        rows, columns = _axis_list(axis[0], n), _axis_list(axis[1], n)
        if rows == columns:
            raise ValueError("Duplicate axes given.")
        result = _matrix_norm(x, ord, rows[0], columns[0])
        if keepdims:
            result = reshape(result, keepdims_shape(shape_of(x), normalize_axes(axis, n)))
        return result
    raise ValueError("Improper number of dimensions to norm.")


def _vector_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord is None or ord == 2:
        return norm_p(x, axis=axes, keepdims=keepdims)
    magnitude = absolute(x)
    if ord == math.inf:
        return max(magnitude, axis=axes, keepdims=keepdims)
    if ord == -math.inf:
        return min(magnitude, axis=axes, keepdims=keepdims)
    if ord == 0:  # the count of nonzero elements, traced with derivative 0
        return sum(where_p(primal(x) != 0, 1.0, 0.0 * x), axis=axes, keepdims=keepdims)
    if ord == 1:
        return sum(magnitude, axis=axes, keepdims=keepdims)
    if ord > 0:
        return power(sum(power(magnitude, ord), axis=axes, keepdims=keepdims), 1.0 / ord)
    # p < 0: an element 0 makes the norm 0 (Σ|x|ᵖ is infinite); it stays 0 nearby, derivative 0
    zero = primal(magnitude) == 0
    if not np.any(zero):
        return power(sum(power(magnitude, ord), axis=axes, keepdims=keepdims), 1.0 / ord)
    safe = where_p(zero, 1.0, magnitude)
    result = power(sum(power(safe, ord), axis=axes, keepdims=keepdims), 1.0 / ord)
    return where_p(np.any(zero, axis=axes, keepdims=keepdims), 0.0, result)


def _matrix_norm(x: Any, ord: Any, rows: int, columns: int) -> Any:
    """A matrix norm over the axes ``rows`` and ``columns`` (non-negative, distinct), without kept axes."""
    n = ndim_of(x)
    if ord in (2, -2, "nuc"):
        s = svdvals_p(moveaxis(x, (rows, columns), (-2, -1)))
        return sum(s, axis=-1) if ord == "nuc" else _extreme_singular_value(s, largest=ord == 2)
    if ord in (1, -1):
        extreme = max if ord == 1 else min
        sums = sum(absolute(x), axis=rows)
        return extreme(sums, axis=columns - 1 if columns > rows else columns)
    if ord in (math.inf, -math.inf):
        extreme = max if ord == math.inf else min
        sums = sum(absolute(x), axis=columns)
        return extreme(sums, axis=rows - 1 if rows > columns else rows)
    if ord in (None, "fro", "f"):
        return norm_p(x, axis=normalize_axes((rows, columns), n), keepdims=False)
    raise ValueError("Invalid norm order for matrices.")


def _extreme_singular_value(s: Any, largest: bool) -> Any:
    """The largest (smallest) singular value; singular values equal to it up to rounding are ties.

    Computed singular values are rarely exactly equal where the true ones are
    (an orthogonal matrix's are 1 up to rounding), so a tie is what is within
    rounding of the extreme one; ties share the derivative evenly, as for
    ``max``: ``‖Q‖₂`` of an orthogonal ``Q`` has the gradient ``Q / n``.
    """
    value = np.max(primal(s), axis=-1) if largest else np.min(primal(s), axis=-1)
    tied = np.abs(primal(s) - value[..., None]) <= _tolerance(primal(s))[..., None]
    if np.all(np.sum(tied, axis=-1) == 1):
        return max(s, axis=-1) if largest else min(s, axis=-1)
    shared = sum(where_p(tied, s, 0.0), axis=-1) / np.sum(tied, axis=-1)
    return shared - primal(shared) + value  # NumPy's value, the derivative split among the ties


def vector_norm(x: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """``np.linalg.vector_norm``: the norm of order ``ord`` over ``axis`` (any number of axes, flattened).

    >>> import numpy as np
    >>> adkit.vector_norm(adkit.Dual(np.array([[3.0], [4.0]]), np.ones((2, 1))))
    Dual(5.000, 1.400)
    """
    shape = shape_of(x)
    n = len(shape)
    if axis is None:
        flat, over = ravel(x), 0
    elif isinstance(axis, tuple):
        chosen = _axis_list(axis, n)
        rest = [i for i in range(n) if i not in chosen]
        flat = reshape(transpose(x, chosen + rest), (math.prod(shape[i] for i in chosen),) + tuple(
            shape[i] for i in rest))
        over = 0
    else:
        flat, over = x, axis
    result = norm(flat, ord, axis=over)
    if keepdims:
        kept = _axis_list(range(n) if axis is None else axis, n)
        result = reshape(result, tuple(1 if i in kept else s for i, s in enumerate(shape)))
    return result


def matrix_norm(x: Any, keepdims: bool = False, ord: Any = "fro") -> Any:
    """``np.linalg.matrix_norm``: the matrix norm of order ``ord`` of each matrix (the last two axes).

    >>> import numpy as np
    >>> adkit.matrix_norm(adkit.Dual(np.diag([3.0, 4.0]), np.eye(2)), ord=2)
    Dual(4.000, 1.000)
    """
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def vecdot(a: Any, b: Any, axis: int = -1) -> Any:
    """The dot product of vectors along ``axis``, broadcasting the others: Σ_k a_k b_k (real values).

    >>> import numpy as np
    >>> adkit.vecdot(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), np.array([3.0, 4.0]))
    Dual(11.000, 3.000)
    """
    shape_a, shape_b = shape_of(a), shape_of(b)
    (i,), (j,) = _axis_list(axis, len(shape_a)), _axis_list(axis, len(shape_b))
    if shape_a[i] != shape_b[j]:
        raise ValueError(f"vecdot: vectors of lengths {shape_a[i]} and {shape_b[j]} along axis {axis}")
    a, b = moveaxis(a, i, -1), moveaxis(b, j, -1)
    return sum(multiply(a, b), axis=-1)


def matvec(a: Any, v: Any) -> Any:
    """Matrix times vector over stacks, as ``np.matvec``: out_i = Σ_j a_ij v_j.

    >>> import numpy as np
    >>> adkit.matvec(np.eye(2), adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
    Dual(array([1., 2.]), array([1., 0.]))
    """
    return getitem_p(matmul(a, expand_dims(v, -1)), index=(Ellipsis, 0))


def vecmat(v: Any, a: Any) -> Any:
    """Vector times matrix over stacks, as ``np.vecmat``: out_j = Σ_i v_i a_ij (real values).

    >>> import numpy as np
    >>> adkit.vecmat(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), np.eye(2))
    Dual(array([1., 2.]), array([1., 0.]))
    """
    return getitem_p(matmul(expand_dims(v, -2), a), index=(Ellipsis, 0, slice(None)))


def matrix_trace(x: Any) -> Any:
    """Sum of the diagonal of a matrix (a sum of indexed elements).

    >>> import numpy as np
    >>> adkit.matrix_trace(adkit.Dual(np.eye(2), np.ones((2, 2))))
    Dual(2.000, 2.000)
    """
    n = builtins.min(shape_of(x)[-2:])
    diagonal = getitem_p(x, index=(Ellipsis, np.arange(n), np.arange(n)))
    return sum(diagonal, axis=-1)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over ``axis`` (built from mean and square).

    >>> import numpy as np
    >>> adkit.var(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 0.0])))
    Dual(1.000, -1.000)
    """
    axes = normalize_axes(axis, ndim_of(x))
    centred = x - mean(x, axis=axes, keepdims=True)
    total = sum(centred * centred, axis=axes, keepdims=keepdims)
    return total / (_count(x, axes) - ddof)


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Standard deviation over ``axis``: sqrt of :func:`var`.

    >>> import numpy as np
    >>> adkit.std(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 0.0])))
    Dual(1.000, -0.500)
    """
    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


# -- contractions: einsum, and the products written with it -------------------------------------------
# One primitive contracts operands named by subscripts, as JAX derives its rules: the JVP puts
# each operand's tangent in its place, and an operand's cotangent contracts the output's
# cotangent with the other operands; both are einsums, so they nest. Batch axes of tangents and
# cotangents get letters of their own. The primitive takes subscripts in a *normal form*: an
# explicit output, no ellipsis, no letter twice in one operand, and every letter of an operand
# also in another operand or in the output. Then each operand's cotangent is an einsum too.
# :func:`einsum` brings any subscripts NumPy accepts to it: ellipses become letters, diagonals
# (``ii``) are taken first by indexing, axes of length one are broadcast, and letters of one
# operand alone are summed first; with ``optimize``, the contraction runs pairwise in the order
# NumPy's ``einsum_path`` chooses, so the tape holds the intermediates and reverse mode costs
# what the forward contraction costs.

#: einsum's letters, in NumPy's order for sublist labels (0-25 are A-Z, 26-51 a-z)
EINSUM_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _einsum_terms(subscripts: str) -> tuple[list[str], str]:
    inputs, output = subscripts.split("->")
    return inputs.split(","), output


def _fresh_letters(used: str, count: int) -> str:
    """``count`` letters that ``used`` does not contain."""
    free = [c for c in EINSUM_LETTERS if c not in used]
    if len(free) < count:
        raise ValueError(
            f"einsum needs {len(used) + count} distinct subscript letters here (with the axes of "
            "ellipses and of batched derivatives), but there are only 52. Reshape operands to fewer axes."
        )
    return "".join(free[:count])


@functools.lru_cache(maxsize=512)
def _check_normal_form(subscripts: str) -> None:
    terms, output = _einsum_terms(subscripts)
    for term in terms:
        if len(set(term)) != len(term):
            raise ValueError(f"einsum_p takes no letter twice in one operand: {subscripts!r}; use "
                             "adkit.einsum")
        for c in term:
            if c not in output and builtins.sum(c in t for t in terms) < 2:
                raise ValueError(f"einsum_p: the letter {c!r} of {subscripts!r} is in one operand only; "
                                 "sum it first, or use adkit.einsum")


def _einsum_impl(*operands: Any, subscripts: str, optimize: bool) -> Any:
    _check_normal_form(subscripts)
    return np.einsum(subscripts, *operands, optimize=optimize)


def _einsum_jvp(tangents: Sequence[Any], out: Any, *operands: Any, subscripts: str, optimize: bool) -> Any:
    terms, output = _einsum_terms(subscripts)
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        batch = _fresh_letters(subscripts, ndim_of(t) - len(terms[i]))
        spec = ",".join(batch + s if k == i else s for k, s in enumerate(terms)) + "->" + batch + output
        term = einsum_p(*operands[:i], t, *operands[i + 1 :], subscripts=spec, optimize=optimize)
        total = term if total is None else total + term
    return total


def _einsum_vjp(i: int, ct: Any, out: Any, *operands: Any, subscripts: str, optimize: bool) -> Any:
    terms, output = _einsum_terms(subscripts)
    batch = _fresh_letters(subscripts, ndim_of(ct) - len(output))
    others = [s for k, s in enumerate(terms) if k != i]
    spec = ",".join([batch + output, *others]) + "->" + batch + terms[i]
    return einsum_p(ct, *operands[:i], *operands[i + 1 :], subscripts=spec, optimize=optimize)


def _einsum_flops(out: Any, *operands: Any, subscripts: str, optimize: bool) -> float:
    """A multiply and an add for every combination of the letters' values (per pair of operands)."""
    terms, _ = _einsum_terms(subscripts)
    sizes = {c: n for term, x in zip(terms, operands) for c, n in zip(term, shape_of(x))}
    return 2.0 * builtins.max(1, len(operands) - 1) * math.prod(sizes.values())


def _einsum_case(subscripts: str, *shapes: tuple[int, ...], optimize: bool = False) -> Case:
    return Case(shapes, {"subscripts": subscripts, "optimize": optimize})


einsum_p = Primitive(
    "einsum", _einsum_impl,
    cases=(_einsum_case("ij,jk->ik", (2, 3), (3, 4)),
           _einsum_case("ij,jk->ki", (2, 3), (3, 4), optimize=True),
           _einsum_case("i,j->ij", (3,), (2,)), _einsum_case("bij,bjk->bik", (2, 2, 3), (2, 3, 2)),
           _einsum_case("ij,jk,kl->li", (2, 3), (3, 2), (2, 2)), _einsum_case("ij,ij->", (2, 3), (2, 3)),
           _einsum_case(",ij->ji", (), (2, 3)), _einsum_case("ijk,kj->ik", (2, 3, 2), (2, 3))),
    flops=_einsum_flops, residuals=tuple(range(len(EINSUM_LETTERS))), label="einsum({subscripts}, {args})",
    jvps=_einsum_jvp, vjps=_einsum_vjp,
    doc="Contraction of operands named by subscripts in normal form (see adkit.einsum); multilinear: "
        "each operand's tangent and cotangent is an einsum of the same shape.",
)


def _letter_sizes(terms: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> dict[str, int]:
    """Each letter's length, axes of length one broadcasting against the others (as NumPy's einsum)."""
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise ValueError(f"einsum: the subscript {c!r} has length {sizes[c]} in one operand and {n} "
                                 f"in operand {k}; lengths must agree (or be 1, to broadcast)")
    return sizes


def _parse_einsum(subscripts: str, shapes: Sequence[tuple[int, ...]],
                 sum_ellipsis: bool = False) -> tuple[list[str], str]:
    """NumPy's einsum subscripts as explicit terms without ellipsis: ``("i...,i", [(2, 3), (2,)])`` gives
    ``(["iA", "i"], "A")``.

    An ellipsis becomes letters the subscripts do not use, one per broadcast axis (right-aligned, as
    NumPy broadcasts). Without ``->`` the output is the ellipsis' axes, then the letters used once, in
    alphabetical order (capitals first), as NumPy's implicit mode. ``sum_ellipsis``: an explicit output
    without ``...`` sums the ellipsis' axes (NumPy's einsum does so with ``optimize``, and refuses
    without).
    """
    spec = subscripts.replace(" ", "")
    for c in spec:
        if c not in EINSUM_LETTERS and c not in ",.->":
            raise ValueError(f"Character {c} is not a valid symbol.")
    if spec.count("->") > 1 or spec.replace("->", "").count("-") or spec.replace("->", "").count(">"):
        raise ValueError("Subscripts can only contain one '->'.")
    lhs, output = spec.split("->") if "->" in spec else (spec, None)
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the subscripts {subscripts!r} name {len(terms)} operands, but "
                         f"{len(shapes)} were given")
    for term in [*terms, output or ""]:
        if "." in term and (term.count(".") != 3 or "..." not in term):
            raise ValueError("Invalid Ellipses.")
    broadcast = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        extra = len(shape) - named if "..." in term else 0
        if extra < 0 or ("..." not in term and named != len(shape)):
            raise ValueError(f"einsum: operand {k} has {len(shape)} axes, but its subscripts {term!r} name "
                             f"{named}")
        broadcast.append(extra)
    width = builtins.max(broadcast, default=0)
    ellipsis = _fresh_letters(spec, width)
    terms = [term.replace("...", ellipsis[width - extra :]) for term, extra in zip(terms, broadcast)]
    letters = "".join(terms)
    if output is None:
        named = sorted(c for c in set(letters) if c not in ellipsis and letters.count(c) == 1)
        return terms, ellipsis + "".join(named)
    if "..." in output:
        output = output.replace("...", ellipsis)
    elif width and not sum_ellipsis:
        raise ValueError("output has more dimensions than subscripts given in einstein sum, but no '...' "
                         "ellipsis provided to broadcast the extra dimensions.")
    for c in output:
        if output.count(c) > 1:
            raise ValueError(f"einstein sum subscripts string includes output subscript '{c}' multiple times")
        if c not in letters:
            raise ValueError(f"einstein sum subscripts string included output subscript '{c}' which never "
                             "appeared in an input")
    return terms, output


def _take_diagonals(x: Any, term: str) -> tuple[Any, str]:
    """``x`` with the axes of a repeated letter replaced by their diagonal: ``iij`` -> ``ji``."""
    while True:
        repeated = next((c for c in term if term.count(c) > 1), None)
        if repeated is None:
            return x, term
        first = term.index(repeated)
        second = term.index(repeated, first + 1)
        n1, n2 = shape_of(x)[first], shape_of(x)[second]
        if n1 != n2:
            raise ValueError(f"dimensions in operand for collapsing index '{repeated}' don't match "
                             f"({n1} != {n2})")
        x = diagonal(x, 0, first, second)  # the two axes go, their diagonal comes last
        term = "".join(c for k, c in enumerate(term) if k not in (first, second)) + repeated


def _contract(operands: Sequence[Any], terms: Sequence[str], output: str, optimize: Any = False,
              path: Sequence[tuple[int, ...]] | None = None) -> Any:
    """The contraction ``terms -> output`` of explicit terms (no ellipsis), as :func:`einsum` computes it.

    Brings the terms to the primitive's normal form (diagonals, broadcasting, letters of one operand
    summed first), then contracts all at once, or pairwise along ``path`` (a list of tuples of operand
    positions, as ``np.einsum_path`` gives), keeping each intermediate's letters in NumPy's order.
    """
    operands, terms = list(operands), list(terms)
    for k in range(len(operands)):
        operands[k], terms[k] = _take_diagonals(operands[k], terms[k])
    sizes = _letter_sizes(terms, [shape_of(x) for x in operands])
    for k, (x, term) in enumerate(zip(operands, terms)):
        full = tuple(sizes[c] for c in term)
        if shape_of(x) != full:
            operands[k] = broadcast_to(x, full)
        lone = [j for j, c in enumerate(term) if c not in output and builtins.sum(c in t for t in terms) == 1]
        if lone:
            operands[k] = sum(operands[k], axis=tuple(lone))
            terms[k] = "".join(c for j, c in enumerate(term) if j not in lone)
    if path is None or len(operands) < 3:
        return _contract_normal(operands, terms, output, optimize is not False)
    for step, chosen in enumerate(path):
        picked = sorted(chosen, reverse=True)
        ops = [operands.pop(k) for k in picked]
        subs = [terms.pop(k) for k in picked]
        if step == len(path) - 1:
            result = output
        else:  # the letters still needed, ordered as NumPy orders them (by length, then letter)
            later = "".join(terms) + output
            kept = {c for s in subs for c in s if c in later}
            result = "".join(sorted(kept, key=lambda c: (sizes[c], c)))
        operands.append(_contract_normal(ops, subs, result, True))
        terms.append(result)
    return operands[0]


def _contract_normal(operands: Sequence[Any], terms: Sequence[str], output: str, optimize: bool) -> Any:
    if len(operands) == 1:  # every letter is in the output: a permutation
        (x,), (term,) = operands, terms
        return x if term == output else transpose(x, [term.index(c) for c in output])
    return einsum_p(*operands, subscripts=",".join(terms) + "->" + output, optimize=optimize)


def einsum(subscripts: str, *operands: Any, optimize: Any = False) -> Any:
    """Einstein summation, as ``np.einsum``: the sum over repeated letters of the products of the operands.

    ``optimize`` as NumPy's (``False``, ``True``, ``"greedy"``, ``"optimal"``, a path from
    ``np.einsum_path``): with it, three or more operands are contracted pairwise in the order NumPy
    chooses (or the path given), and the derivatives follow the same order. d einsum = the sum over
    operands of the einsum with that operand's tangent in its place.

    >>> import numpy as np
    >>> a = adkit.Dual(np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2))
    >>> adkit.einsum("ii", a)
    Dual(5.000, 2.000)
    >>> adkit.einsum("ij,j->i", a, np.ones(2))
    Dual(array([3., 7.]), array([1., 1.]))
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum's first argument is the subscripts, a string such as 'ij,jk->ik'")
    terms, output = _parse_einsum(subscripts, [shape_of(x) for x in operands], optimize is not False)
    path = None
    if optimize is not False and len(operands) > 2:
        path = np.einsum_path(subscripts, *(primal(x) for x in operands), optimize=optimize)[0][1:]
    return _contract(operands, terms, output, optimize, path)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum of products over the given axes, as ``np.tensordot``: the last ``axes`` of ``a`` with the first of
    ``b``, or the pairs ``(axes_a, axes_b)``. Bilinear, computed as an einsum.

    >>> import numpy as np
    >>> adkit.tensordot(adkit.Dual(np.ones((2, 3)), np.ones((2, 3))), np.ones((3, 4)), axes=1).shape
    (2, 4)
    """
    a_shape, b_shape = shape_of(a), shape_of(b)
    try:
        axes_a, axes_b = axes
    except TypeError:
        n = operator.index(axes)
        axes_a, axes_b = list(range(-n, 0)), list(range(n))
    axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
    axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    if len(axes_a) != len(axes_b) or any(
            a_shape[i] != b_shape[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError("shape-mismatch for sum")
    letters = EINSUM_LETTERS[: len(a_shape) + len(b_shape)]
    term_a = list(letters[: len(a_shape)])
    term_b = list(letters[len(a_shape) :])
    for i, j in zip(axes_a, axes_b):
        term_b[j] = term_a[i]
    contracted = {term_a[i] for i in axes_a}
    output = [c for c in term_a if c not in contracted] + [c for c in term_b if c not in contracted]
    return _contract((a, b), ("".join(term_a), "".join(term_b)), "".join(output), True)


def kron(a: Any, b: Any) -> Any:
    """Kronecker product, as ``np.kron``: blocks ``a[i, j] * b``. A product of interleaved axes, reshaped.

    >>> import numpy as np
    >>> adkit.kron(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), np.array([1.0, 10.0]))
    Dual(array([ 1., 10.,  2., 20.]), array([ 1., 10.,  0.,  0.]))
    """
    a_shape, b_shape = shape_of(a), shape_of(b)
    if not a_shape or not b_shape:
        return multiply(a, b)
    nd = builtins.max(len(a_shape), len(b_shape))
    a_shape = (1,) * (nd - len(a_shape)) + a_shape
    b_shape = (1,) * (nd - len(b_shape)) + b_shape
    a_axes = reshape(a, tuple(n for s in a_shape for n in (s, 1)))
    b_axes = reshape(b, tuple(n for s in b_shape for n in (1, s)))
    return reshape(multiply(a_axes, b_axes), tuple(m * n for m, n in zip(a_shape, b_shape)))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Any:
    """Cross product of 3-vectors (or 2-vectors, as NumPy) along the given axes, as ``np.cross``.

    Bilinear: built from indexing, products and differences.

    >>> import numpy as np
    >>> x = adkit.Dual(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    >>> adkit.cross(x, np.array([0.0, 1.0, 0.0]))
    Dual(array([0., 0., 1.]), array([0., 0., 0.]))
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    if ndim_of(a) < 1 or ndim_of(b) < 1:
        raise ValueError("At least one array has zero dimension")
    a = moveaxis(a, _axis_list(axisa, ndim_of(a), "axisa")[0], -1)
    b = moveaxis(b, _axis_list(axisb, ndim_of(b), "axisb")[0], -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    if na == 2 or nb == 2:
        warnings.warn("Arrays of 2-dimensional vectors are deprecated. Use arrays of 3-dimensional vectors "
                      "instead. (deprecated in NumPy 2.0)", DeprecationWarning, stacklevel=3)
    a0, a1, b0, b1 = (getitem(v, (Ellipsis, k)) for v, k in ((a, 0), (a, 1), (b, 0), (b, 1)))
    z = a0 * b1 - a1 * b0
    if na == 2 and nb == 2:
        return z
    a2 = getitem(a, (Ellipsis, 2)) if na == 3 else None
    b2 = getitem(b, (Ellipsis, 2)) if nb == 3 else None
    if a2 is None:
        x, y = a1 * b2, -(a0 * b2)
    elif b2 is None:
        x, y = -(a2 * b1), a2 * b0
    else:
        x, y = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2
    shape = np.broadcast_shapes(shape_of(x), shape_of(y), shape_of(z))
    result = stack([broadcast_to(v, shape) for v in (x, y, z)], axis=-1)
    return moveaxis(result, -1, _axis_list(axisc, len(shape) + 1, "axisc")[0])


def _chain_order(dims: Sequence[int]) -> list[list[int]]:
    """The cheapest order of a matrix chain (NumPy's ``multi_dot``: the textbook dynamic programme, the
    first best split at ties); ``split[i][j]`` is where the product of matrices i..j splits."""
    n = len(dims) - 1
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(arrays: Sequence[Any]) -> Any:
    """The product of a chain of matrices in the cheapest order, as ``np.linalg.multi_dot`` (the first
    may be a row vector, the last a column vector, each given as 1-D).

    >>> import numpy as np
    >>> adkit.multi_dot([adkit.Dual(np.ones(2), np.ones(2)), np.ones((2, 3)), np.ones(3)])
    Dual(6.000, 6.000)
    """
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    if len(arrays) == 2:
        return dot(arrays[0], arrays[1])
    first, last = ndim_of(arrays[0]), ndim_of(arrays[-1])
    if first == 1:
        arrays[0] = reshape(arrays[0], (1, -1))
    if last == 1:
        arrays[-1] = reshape(arrays[-1], (-1, 1))
    for x in arrays:
        if ndim_of(x) != 2:
            raise np.linalg.LinAlgError(f"{ndim_of(x)}-dimensional array given. Array must be "
                                        "two-dimensional")
    if len(arrays) == 3:
        (m, k), (_, n), (_, p) = (shape_of(x) for x in arrays)
        left_first = m * n * (k + p) < k * p * (m + n)  # (AB)C against A(BC)
        a, b, c = arrays
        result = matmul(matmul(a, b), c) if left_first else matmul(a, matmul(b, c))
    else:
        dims = [shape_of(x)[0] for x in arrays] + [shape_of(arrays[-1])[1]]
        split = _chain_order(dims)

        def product(i: int, j: int) -> Any:
            return arrays[i] if i == j else matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

        result = product(0, len(arrays) - 1)
    if first == 1 and last == 1:
        return getitem(result, (0, 0))
    if first == 1 or last == 1:
        return ravel(result)
    return result


# -- order statistics: sorting, and what selects by rank ----------------------------------------------
# Sorting is a permutation that depends on the values only through their order, so its derivative is
# the tangent permuted the same way: ``sort(x)`` is ``x`` indexed by ``argsort(x)``, a linear map
# (indexing; its transpose scatters back). Ties take the order of the *stable* argsort (first
# occurrence first), as JAX's sort: at a tie each sorted position gets the tangent of one element,
# not a share. ``partition``, ``median`` and the quantiles select by rank the same way.


def _sort_order(x: Any, axis: int = -1) -> np.ndarray:
    """The stable argsort of ``x``'s values along ``axis`` (nan last): the permutation ``sort`` applies."""
    return np.argsort(primal(x), axis=axis, kind="stable")


def _take_by_index(x: Any, picked: np.ndarray, axis: int = -1) -> Any:
    """``x``'s elements at the integer positions ``picked`` along ``axis`` (``np.take_along_axis``), by
    indexing: linear, its transpose scatter-adds. ``picked`` has ``x``'s shape except along ``axis``.
    """
    shape = shape_of(x)
    n = len(shape)
    axis = _axis_list(axis, n)[0]
    index = tuple(picked if k == axis else np.arange(shape[k]).reshape((-1,) + (1,) * (n - 1 - k))
                  for k in range(n))
    return getitem_p(x, index=index)


def sort(x: Any, axis: int | None = -1) -> Any:
    """``x`` sorted along ``axis`` (flattened when None): d sort(x) = dx permuted by the stable argsort.

    >>> import numpy as np
    >>> adkit.sort(adkit.Dual(np.array([3.0, 1.0, 2.0]), np.array([1.0, 0.0, 0.0])))
    Dual(array([1., 2., 3.]), array([0., 0., 1.]))
    """
    if axis is None:
        x, axis = ravel(x), -1
    return _take_by_index(x, _sort_order(x, axis), axis)


def partition(x: Any, kth: Any, axis: int | None = -1) -> Any:
    """``np.partition``'s arrangement of ``x``: the ``kth`` elements where sorting puts them, smaller ones
    before, larger after (NumPy's values). Differentiated as a permutation; the element at position ``k``
    gets the tangent ``sort`` gives it (ties in stable order).

    >>> import numpy as np
    >>> adkit.partition(adkit.Dual(np.array([3.0, 1.0, 2.0]), np.array([1.0, 0.0, 0.0])), 2)[2]
    Dual(3.000, 1.000)
    """
    if axis is None:
        x, axis = ravel(x), -1
    value = primal(x)
    arranged = np.partition(value, kth, axis=axis)
    # the permutation with x[perm] == arranged: matching ranks, ties in stable order on both sides
    perm = np.empty_like(_sort_order(value, axis))
    np.put_along_axis(perm, np.argsort(arranged, axis=axis, kind="stable"), _sort_order(value, axis), axis)
    return _take_by_index(x, perm, axis)


def _to_last_axis(x: Any, axis: Any) -> tuple[Any, tuple[int, ...], tuple[int, ...]]:
    """``x`` with the axes ``axis`` moved to the end and merged into one; also the other axes' shape and the
    normalized axes (for ``keepdims``)."""
    shape = shape_of(x)
    axes = normalize_axes(axis, len(shape))
    rest = [k for k in range(len(shape)) if k - len(shape) not in axes]
    moved = transpose(x, rest + [a + len(shape) for a in axes])
    kept = tuple(shape[k] for k in rest)
    return reshape(moved, kept + (math.prod(shape[a] for a in axes),)), kept, axes


def _reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[int, ...]:
    return keepdims_shape(shape, axes) if keepdims else tuple(
        n for k, n in enumerate(shape) if k - len(shape) not in axes)


def _nan_slices(y: np.ndarray, counts: Any) -> Any:
    """Slices (along the last axis) a plain median or quantile gives nan for: those holding a nan."""
    return np.isnan(y).any(axis=-1) if counts is None else counts == 0


def median(x: Any, axis: Any = None, keepdims: bool = False, *, skip_nan: bool = False) -> Any:
    """The median over ``axis``, as ``np.median`` (``np.nanmedian`` with ``skip_nan``): the middle element,
    or the mean of the two middle ones; its derivative goes to them (ties in stable sorted order).

    >>> import numpy as np
    >>> adkit.median(adkit.Dual(np.array([3.0, 1.0, 2.0, 4.0]), np.array([1.0, 0.0, 0.0, 0.0])))
    Dual(2.500, 0.500)
    """
    shape = shape_of(x)
    y, rest, axes = _to_last_axis(x, axis)
    value = primal(y)
    n = shape_of(y)[-1]
    order = _sort_order(value)
    counts = np.sum(~np.isnan(value), axis=-1) if skip_nan else None
    if n == 0:  # nothing to take the middle of: nan, as NumPy's mean of an empty slice
        warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=3)
        return np.full(_reduced_shape(shape, axes, keepdims), np.nan)
    count = np.full(rest, n) if counts is None else counts
    middle = np.stack([np.maximum(count - 1, 0) // 2, count // 2], axis=-1)  # the same element for odd counts
    picked = _take_by_index(y, np.take_along_axis(order, middle, axis=-1))
    result = mean(picked, axis=-1)
    missing = _nan_slices(value, counts)
    if np.any(missing):
        if skip_nan:
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
        result = where(missing, np.nan, result)
    return reshape(result, _reduced_shape(shape, axes, keepdims))


def _virtual_index(n: Any, q: Any, alpha: float, beta: float) -> Any:
    """Hyndman and Fan's position of the quantile ``q`` in ``n`` sorted values (0-based), NumPy's formula."""
    return n * q + (alpha + q * (1 - alpha - beta)) - 1


def _discrete_boundary(index: np.ndarray, take_previous: Callable[..., np.ndarray]) -> np.ndarray:
    """NumPy's discrete methods: the lower or the upper neighbour of a position, as ``take_previous`` says."""
    previous = np.floor(index)
    chosen = np.where(take_previous(index - previous, index), previous, previous + 1).astype(np.intp)
    return np.maximum(chosen, 0)


#: NumPy's quantile methods: (the position for counts n and probabilities q, how the interpolation weight
#: gamma is fixed; None: the position is an index, no interpolation). Continuous positions are written with
#: adkit's operations, so a traced q is differentiated too.
QUANTILE_METHODS: dict[str, tuple[Callable[[Any, Any], Any], Callable | None]] = {
    "inverted_cdf": (lambda n, q: _discrete_boundary(n * q - 1, lambda g, _: g == 0), None),
    "averaged_inverted_cdf": (lambda n, q: n * q - 1, lambda g, _: np.where(g == 0, 0.5, 1.0)),
    "closest_observation": (lambda n, q: _discrete_boundary(
        n * q - 1 - 0.5, lambda g, i: (g == 0) & (np.floor(i) % 2 == 1)), None),
    "interpolated_inverted_cdf": (lambda n, q: _virtual_index(n, q, 0, 1), lambda g, _: g),
    "hazen": (lambda n, q: _virtual_index(n, q, 0.5, 0.5), lambda g, _: g),
    "weibull": (lambda n, q: _virtual_index(n, q, 0, 0), lambda g, _: g),
    "linear": (lambda n, q: (n - 1) * q, lambda g, _: g),
    "median_unbiased": (lambda n, q: _virtual_index(n, q, 1 / 3.0, 1 / 3.0), lambda g, _: g),
    "normal_unbiased": (lambda n, q: _virtual_index(n, q, 3 / 8.0, 3 / 8.0), lambda g, _: g),
    "lower": (lambda n, q: np.floor((n - 1) * q).astype(np.intp), None),
    "higher": (lambda n, q: np.ceil((n - 1) * q).astype(np.intp), None),
    "midpoint": (lambda n, q: 0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q)),
                 lambda g, i: np.where(i % 1 == 0, 0.0, 0.5)),
    "nearest": (lambda n, q: np.around((n - 1) * q).astype(np.intp), None),
}
#: methods whose interpolation weight is the fractional part of the position: it varies with q
_CONTINUOUS = frozenset({"interpolated_inverted_cdf", "hazen", "weibull", "linear", "median_unbiased",
                         "normal_unbiased"})


def _lerp(a: Any, b: Any, t: Any, same: Any = False) -> Any:
    """``a + (b - a) t``, as NumPy's quantiles compute it (from ``b`` where ``t >= 0.5``).

    Where the weight is exactly 0 or 1 (and not traced), or ``a`` and ``b`` are the same element
    (``same``), the result selects one of them instead of blending: the other's derivative must not
    reach it, even when it is infinite (an unselected ``cbrt`` at 0 would give ``inf * 0 = nan``).
    """
    step = b - a
    blended = where(primal(t) >= 0.5, b - step * (1 - t), a + step * t)
    low = np.asarray(same) if isinstance(t, Box) else (np.asarray(t) == 0) | np.asarray(same)
    high = False if isinstance(t, Box) else (np.asarray(t) == 1) & ~low
    if not (np.any(low) or np.any(high)):
        return blended
    return where(low, a, where(high, b, blended))


def quantile(x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False, *,
             skip_nan: bool = False, weights: Any = None) -> Any:
    """The ``q``-quantiles over ``axis`` by one of NumPy's methods (``np.quantile``; ``np.nanquantile``
    with ``skip_nan``): the sorted values at the method's position, interpolated linearly between the two
    around it. d/dx goes to those two elements (weights 1 - g and g; ties in stable sorted order), d/dq is
    the slope between them for the continuous methods. ``weights`` (with ``method="inverted_cdf"``, as
    NumPy) weigh the elements; the result is piecewise constant in them (derivative 0).

    >>> import numpy as np
    >>> adkit.quantile(adkit.Dual(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4)), 0.5)
    Dual(2.500, 1.000)
    """
    if method not in QUANTILE_METHODS:
        raise ValueError(f"{method!r} is not a valid method. Use one of: {QUANTILE_METHODS.keys()}")
    q_value = np.asarray(primal(q))
    if q_value.ndim > 2:
        raise ValueError("q must be a scalar or 1d")
    if not (np.all(q_value >= 0) and np.all(q_value <= 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    shape = shape_of(x)
    y, rest, axes = _to_last_axis(x, axis)
    value = primal(y)
    n = shape_of(y)[-1]
    counts = np.sum(~np.isnan(value), axis=-1) if skip_nan else None
    count = n if counts is None else counts[..., None]  # positions are (slices...) + (len(q),) or (len(q),)
    flat_q = ravel(q) if isinstance(q, Box) else q_value.ravel()
    position, fix_gamma = QUANTILE_METHODS[method]
    if weights is not None:
        below = _weighted_position(weights, x, axis, value, counts, q_value, method)
        above = None
    elif fix_gamma is None or (method == "linear" and q_value.dtype.kind in "iub"):
        below = np.asarray(position(count, q_value.ravel()))
        above = None
    else:
        traced_q = isinstance(q, Box) and method in _CONTINUOUS
        index = position(count, flat_q if traced_q else q_value.ravel())
        where_at = np.asarray(primal(index))
        below = np.floor(where_at)
        above = below + 1
        top = where_at >= count - 1
        below, above = np.where(top, count - 1, below), np.where(top, count - 1, above)
        bottom = where_at < 0
        below, above = np.where(bottom, 0, below), np.where(bottom, 0, above)
        below, above = below.astype(np.intp), above.astype(np.intp)
        # NumPy's weight: the position less the (clipped) lower index, as numbers (top: -1 for n - 1)
        previous = np.where(top, -1, np.where(bottom, 0, np.floor(where_at)))
        gamma = index - previous if traced_q else fix_gamma(where_at - previous, where_at)
    order = _sort_order(value)
    width = (q_value.size,)
    below = np.broadcast_to(np.maximum(below, 0), rest + width)
    result = _take_by_index(y, np.take_along_axis(order, below, axis=-1))
    if above is not None:
        upper = _take_by_index(y, np.take_along_axis(order, np.broadcast_to(above, rest + width), axis=-1))
        if type(q) in (int, float) and np.size(gamma) == 1:  # a Python number: NumPy's weak promotion
            gamma = float(np.ravel(gamma)[0])
        result = _lerp(result, upper, gamma, same=np.broadcast_to(above == below, rest + width))
    missing = _nan_slices(value, counts)
    if np.any(missing):
        if skip_nan:
            warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
        result = where(missing[..., None], np.nan, result)
    # (slices...) + q's axes -> q's axes + the reduced shape
    result = reshape(result, rest + q_value.shape)
    result = moveaxis(result, tuple(range(len(rest), len(rest) + q_value.ndim)), tuple(range(q_value.ndim)))
    return reshape(result, q_value.shape + _reduced_shape(shape, axes, keepdims))


def _weighted_position(weights: Any, x: Any, axis: Any, value: np.ndarray, counts: Any, q: np.ndarray,
                       method: str) -> np.ndarray:
    """NumPy's weighted ``inverted_cdf``: per slice, the first sorted position whose share of the total
    weight reaches q (``value`` is ``x`` with the reduced axes last, merged)."""
    if method != "inverted_cdf":
        raise ValueError(f"Only method 'inverted_cdf' supports weights. Got: {method}.")
    shape = shape_of(x)
    w = np.asarray(primal(weights))
    if w.shape != shape:  # weights along the reduced axes only, in the order the axes were given
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        given = [operator.index(k) % len(shape) for k in ((axis,) if np.ndim(axis) == 0 else axis)]
        if w.shape != tuple(shape[k] for k in given):
            raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
        w = w.transpose(np.argsort(given)).reshape(tuple(n if k in given else 1 for k, n in enumerate(shape)))
    if np.any(w < 0):
        raise ValueError("Weights must be non-negative.")
    w = primal(_to_last_axis(np.broadcast_to(w, shape), axis)[0])
    if counts is not None:
        w = np.where(np.isnan(value), 0.0, w)  # nan and its weight are left out
    cdf = np.cumsum(np.take_along_axis(w, _sort_order(value), axis=-1), axis=-1, dtype=np.float64)
    with np.errstate(**({} if counts is None else {"divide": "ignore", "invalid": "ignore"})):
        cdf = cdf / cdf[..., -1:]  # (NumPy's warning for weights that are all zero, before its error)
    if np.isnan(cdf[..., -1] if counts is None else cdf[..., -1][counts > 0]).any():
        raise ValueError("Weights included NaN, inf or were all zero.")
    if q.dtype.kind == "f":
        cdf = cdf.astype(q.dtype)
    cdf[cdf == 0] = -1  # leading zero weights are never chosen, not even for q = 0
    chosen = np.sum(cdf[..., None, :] < q.ravel()[:, None], axis=-1)  # searchsorted, side="left"
    last = shape_of(value)[-1] - 1 if counts is None else np.maximum(counts - 1, 0)[..., None]
    return np.minimum(chosen, last)


def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Peak to peak, ``max(x) - min(x)`` over ``axis``; the derivative goes to the extreme elements.

    >>> import numpy as np
    >>> adkit.ptp(adkit.Dual(np.array([3.0, 1.0, 2.0]), np.array([1.0, 0.0, 0.0])))
    Dual(2.000, 1.000)
    """
    return max(x, axis, keepdims) - min(x, axis, keepdims)


# -- running products ------------------------------------------------------------------------------
# cumprod's derivative without dividing (exact where entries are zero): the product rule gives the
# linear recurrences  d out_i = x_i d out_{i-1} + t_i out_{i-1}  (forward) and
# s_j = ct_j + x_{j+1} s_{j+1}, ct_x_j = out_{j-1} s_j  (backward), solved in log2(n) doubling steps
# of adkit's operations (as an associative scan), so they nest.


def _shifted(x: Any, by: int, axis: int) -> Any:
    """``x`` moved ``by`` places forward along ``axis`` (negative), zeros coming in at the start."""
    shape = shape_of(x)
    n = shape[axis]
    after = (slice(None),) * (-axis - 1)
    body = getitem_p(x, index=(Ellipsis, slice(0, n - by)) + after)
    return index_add_p(body, index=(Ellipsis, slice(by, n)) + after, shape=shape)


def _head(n: int, by: int, axis: int) -> np.ndarray:
    """True at the first ``by`` positions along ``axis``, shaped to broadcast."""
    return (np.arange(n) < by).reshape((n,) + (1,) * (-axis - 1))


def _linear_recurrence(a: Any, b: Any, axis: int) -> Any:
    """``h`` with ``h_i = a_i h_{i-1} + b_i`` along ``axis`` (negative), ``h_{-1} = 0``, in log2(n) steps.

    Each step composes every element with the one ``by`` places before it (Hillis and Steele's scan of
    affine maps); the elements that have reached the start keep their values (selected, not multiplied).
    """
    n = shape_of(b)[axis]
    by = 1
    while by < n:
        head = _head(n, by, axis)
        b = where(head, b, b + a * _shifted(b, by, axis))
        if 2 * by < n:
            a = where(head, a, a * _shifted(a, by, axis))
        by *= 2
    return b


def _exclusive(out: Any, axis: int) -> Any:
    """The products before each position: ``out`` shifted by one, 1 at the start."""
    return where(_head(shape_of(out)[axis], 1, axis), 1.0, _shifted(out, 1, axis))


def _cumprod_jvp(t: Any, out: Any, x: Any, *, axis: int) -> Any:
    return _linear_recurrence(x, t * _exclusive(out, axis), axis)


def _cumprod_vjp(ct: Any, out: Any, x: Any, *, axis: int) -> Any:
    following = _shifted(_reverse_along(x, axis), 1, axis)  # x_{j+1}, read from the end
    s = _reverse_along(_linear_recurrence(following, _reverse_along(ct, axis), axis), axis)
    return s * _exclusive(out, axis)


def _cumprod_impl(x: Any, *, axis: int) -> Any:
    return np.cumprod(x, axis=axis)


def _with_zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray]:
    x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    x.flat[:: 3] = 0.0  # every third entry zero: the derivatives are exact there too
    return (x,)


cumprod_p = Primitive("cumprod", _cumprod_impl,
                      cases=(Case(((5,),), {"axis": -1}), Case(((3, 4),), {"axis": -2}),
                             Case(((6,),), {"axis": -1}, make=lambda rng: _with_zeros(rng, (6,))),
                             Case(((2, 5),), {"axis": -1}, make=lambda rng: _with_zeros(rng, (2, 5)))),
                      domain=(NONZERO,), flops=_input_size, residuals=("out", 0), symbol="cumprod",
                      jvps=(_cumprod_jvp,), vjps=(_cumprod_vjp,),
                      doc="Running product along an axis; d out_i = sum_{j <= i} dx_j prod_{k <= i, k != j} "
                          "x_k, computed without dividing (exact where entries are zero).")


def cumprod(x: Any, axis: int | None = None) -> Any:
    """Running product along ``axis`` (flattened when None): d out_i / d x_j = prod_{k <= i, k != j} x_k.

    Exact where entries are zero (no division).

    >>> import numpy as np
    >>> adkit.cumprod(adkit.Dual(np.array([2.0, 0.0, 3.0]), np.array([0.0, 1.0, 0.0])))
    Dual(array([2., 0., 0.]), array([0., 2., 6.]))
    """
    if axis is None:
        x, axis = reshape(x, -1), 0
    return cumprod_p(x, axis=normalize_axes(axis, ndim_of(x))[0])
# -- linear algebra: decompositions --------------------------------------------------------------
# svd, eigh, qr and cholesky give several arrays. Each is one primitive whose output packs them into
# one array (U, V and the singular values as rows of one stack of matrices), unpacked by indexing, so
# that each keeps one JVP and one VJP and the engines need nothing new. The rules read the packed
# output, so second derivatives flow through U, s and V themselves. Where a derivative does not exist
# (repeated singular values or eigenvalues for the vectors, rank deficiency), the rules raise
# NotDifferentiableError naming the condition, instead of returning inf or nan.


class NotDifferentiableError(np.linalg.LinAlgError):
    """The derivative asked for does not exist at this matrix (repeated eigenvalues, a deficient rank).

    A ``numpy.linalg.LinAlgError`` (so also a ``ValueError``), raised by the
    rules of :func:`svd`, :func:`eigh` and :func:`qr` where their conditions
    fail; the message names the condition and what to differentiate instead.

    >>> import numpy as np
    >>> adkit.grad(lambda a: np.linalg.eigh(a)[1][0, 0])(np.eye(2))
    Traceback (most recent call last):
    ...
    adkit.rules.NotDifferentiableError: the eigenvectors of np.linalg.eigh have a derivative only where ...
    """


def _eps(x: Any) -> float:
    return float(np.finfo(_float_type(x)).eps)


def _where_in_stack(bad: np.ndarray) -> str:
    """`` (matrix [i, j] of the stack)`` for the first bad matrix of a stack; nothing for one matrix."""
    if bad.ndim == 0:
        return ""
    return f" (matrix {[int(i) for i in np.argwhere(bad)[0]]} of the stack)"


def _first(values: np.ndarray, bad: np.ndarray) -> np.ndarray:
    return values if bad.ndim == 0 else values[tuple(np.argwhere(bad)[0])]


def _tolerance(values: np.ndarray) -> np.ndarray:
    """Below this, a gap between computed eigen- or singular values is rounding (LAPACK's error bound)."""
    k = builtins.max(values.shape[-1], 1)
    return 16 * k * _eps(values) * np.max(np.abs(values), axis=-1, initial=0.0)


def _require_distinct(values: Any, what: str, instead: str, nonzero: bool = False) -> None:
    """Raise NotDifferentiableError where two sorted ``values`` (..., k) are equal to rounding.

    ``nonzero`` also refuses a zero value (a non-square matrix's singular vectors need full rank).
    """
    # The test reads the values with NumPy operations only, so that adkit.compile stages it as a guard;
    # the message below converts them (a staged program that meets a tie runs eagerly, to raise this).
    v = primal(values)
    tol = _tolerance(v)
    bad = np.any(np.abs(v[..., 1:] - v[..., :-1]) <= tol[..., None], axis=-1)  # np.diff, by slices
    if nonzero:
        bad = bad | (np.min(np.abs(v), axis=-1, initial=np.inf) <= tol)
    if not np.any(bad):
        return
    v, bad = np.asarray(v), np.asarray(bad)
    shown = np.array2string(_first(v, bad), precision=6)
    condition = "distinct and nonzero" if nonzero else "distinct"
    raise NotDifferentiableError(
        f"the {what} have a derivative only where the values are {condition}; this matrix"
        f"{_where_in_stack(bad)} has {shown} (equal to rounding), where they are not determined (any "
        f"rotation of the vectors of a repeated value is as good). {instead}"
    )


def _rows(x: Any, start: int, stop: int) -> Any:
    return getitem_p(x, index=(Ellipsis, slice(start, stop), slice(None)))


def _row(x: Any, i: int) -> Any:
    return getitem_p(x, index=(Ellipsis, i, slice(None)))


def _as_row(v: Any) -> Any:
    """``v[..., None, :]``."""
    shape = shape_of(v)
    return reshape_p(v, shape=shape[:-1] + (1,) + shape[-1:])


def _as_column(v: Any) -> Any:
    """``v[..., :, None]``."""
    return reshape_p(v, shape=shape_of(v) + (1,))


def _eye(n: int, x: Any) -> np.ndarray:
    return np.eye(n, dtype=_float_type(x))


def _diagonal_of(x: Any) -> Any:
    """The diagonals of a stack of square matrices, ``(..., k, k) -> (..., k)``."""
    k = shape_of(x)[-1]
    return getitem_p(x, index=(Ellipsis, np.arange(k), np.arange(k)))


def _diagonal_matrix(v: Any) -> Any:
    """``(..., k) -> (..., k, k)`` with ``v`` on the diagonal."""
    return _as_column(v) * _eye(shape_of(v)[-1], v)


def _inverse_gaps(values: Any) -> Any:
    """``F[..., i, j] = 1 / (values_j - values_i)`` off the diagonal, 0 on it (the values are distinct)."""
    eye = _eye(shape_of(values)[-1], values)
    return reciprocal(_as_row(values) - _as_column(values) + eye) - eye


def _is_zero(x: Any) -> bool:
    """A plain array of zeros (an output nobody used): its terms can be skipped."""
    return type(x) is np.ndarray and not x.any()


def _masks(n: int, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    """The triangle NumPy reads (diagonal included) and its strict part."""
    tri = np.tril(np.ones((n, n), bool)) if lower else np.triu(np.ones((n, n), bool))
    return tri, tri & ~np.eye(n, dtype=bool)


def _symmetric_from(t: Any, lower: bool) -> Any:
    """The symmetric matrix NumPy's eigh and cholesky see: one triangle of ``t``, mirrored."""
    tri, strict = _masks(shape_of(t)[-1], lower)
    return where_p(tri, t, 0.0) + _swap_last(where_p(strict, t, 0.0))


def _symmetric_from_transpose(g: Any, lower: bool) -> Any:
    """The transpose of :func:`_symmetric_from`: what a cotangent of the mirrored matrix gives ``t``."""
    tri, strict = _masks(shape_of(g)[-1], lower)
    return where_p(tri, g, 0.0) + where_p(strict, _swap_last(g), 0.0)


def _decomposition_flops(factor: float) -> Callable[..., float]:
    def flops(out: Any, a: Any, *_: Any, **__: Any) -> float:
        m, n = shape_of(a)[-2:]
        return factor * m * n * builtins.min(m, n) * (size_of(a) // builtins.max(m * n, 1))

    return flops


def _orthonormal_columns(rng: np.random.Generator, rows: int, cols: int, stack: tuple) -> np.ndarray:
    return np.linalg.qr(rng.normal(size=(*stack, rows, cols)))[0]


def _spread_values(rng: np.random.Generator, k: int, stack: tuple[int, ...], low: float) -> np.ndarray:
    """k values from ``low`` up, at least 0.4 apart (distinct, so vectors have derivatives)."""
    return low + np.arange(k)[::-1] + 0.6 * rng.random((*stack, k))


def _with_singular_values(rng: np.random.Generator, m: int, n: int, stack: tuple[int, ...] = ()) -> tuple:
    k = builtins.min(m, n)
    u, v = _orthonormal_columns(rng, m, k, stack), _orthonormal_columns(rng, n, k, stack)
    s = _spread_values(rng, k, stack, 0.8)
    return (np.matmul(u * s[..., None, :], np.swapaxes(v, -1, -2)),)


# svd -----------------------------------------------------------------------------------------------

_SVD_INSTEAD = ("Functions of the singular values alone (np.linalg.svd(a, compute_uv=False), "
                "np.linalg.norm(a, 'nuc')) have first derivatives there.")


def _svd_impl(a: Any, *, full_matrices: bool) -> np.ndarray:
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    return np.concatenate([u[..., :k], np.swapaxes(vh[..., :k, :], -1, -2), s[..., None, :]], axis=-2)


def _svd_parts(packed: Any, m: int, n: int) -> tuple[Any, Any, Any]:
    """``U (..., m, k)``, ``V (..., n, k)`` and ``s (..., k)`` from the packed output ``[U; V; s]``."""
    return _rows(packed, 0, m), _rows(packed, m, m + n), _row(packed, m + n)


def _require_svd_vectors(s: Any, m: int, n: int) -> None:
    _require_distinct(s, "singular vectors of np.linalg.svd", _SVD_INSTEAD, nonzero=m != n)


def _svd_jvp(t: Any, out: Any, a: Any, *, full_matrices: bool) -> Any:
    """dU = U (F ∘ (dS S + S dSᵀ)) (+ (I - UUᵀ) dA V S⁻¹), dV likewise, ds = diag(dS), dS = Uᵀ dA V."""
    m, n = shape_of(a)[-2:]
    u, v, s = _svd_parts(out, m, n)
    _require_svd_vectors(s, m, n)
    ds = matmul(matmul(_swap_last(u), t), v)
    f = _inverse_gaps(s * s)
    s_row, s_column = _as_row(s), _as_column(s)
    dss, sds = ds * s_row, s_column * ds
    du = matmul(u, f * (dss + _swap_last(dss)))
    dv = matmul(v, f * (sds + _swap_last(sds)))
    if m > n:
        dav = matmul(t, v)
        du = du + (dav - matmul(u, matmul(_swap_last(u), dav))) / s_row
    elif n > m:
        dau = matmul(_swap_last(t), u)
        dv = dv + (dau - matmul(v, matmul(_swap_last(v), dau))) / s_row
    return concatenate_p(du, dv, _as_row(_diagonal_of(ds)), axis=-2)


def _svd_vjp(ct: Any, out: Any, a: Any, *, full_matrices: bool) -> Any:
    """Ā = U (diag(s̄) + (J + Jᵀ) S + S (K + Kᵀ)) Vᵀ (+ the parts off the span), J = F ∘ UᵀŪ, K = F ∘ VᵀV̄."""
    m, n = shape_of(a)[-2:]
    u, v, s = _svd_parts(out, m, n)
    cu, cv, cs = _svd_parts(ct, m, n)
    g = _diagonal_matrix(cs)
    if not (_is_zero(cu) and _is_zero(cv)):  # only s was used: its rule needs no distinct values
        _require_svd_vectors(s, m, n)
        f = _inverse_gaps(s * s)
        j = f * matmul(_swap_last(u), cu)
        k = f * matmul(_swap_last(v), cv)
        g = g + (j + _swap_last(j)) * _as_row(s) + _as_column(s) * (k + _swap_last(k))
    ca = matmul(matmul(u, g), _swap_last(v))
    if m > n and not _is_zero(cu):
        ca = ca + matmul((cu - matmul(u, matmul(_swap_last(u), cu))) / _as_row(s), _swap_last(v))
    elif n > m and not _is_zero(cv):
        ca = ca + matmul(u, _swap_last((cv - matmul(v, matmul(_swap_last(v), cv))) / _as_row(s)))
    return ca


_SVD_CASES = (Case(((3, 3),), {"full_matrices": False}, make=lambda rng: _with_singular_values(rng, 3, 3)),
              Case(((4, 3),), {"full_matrices": False}, make=lambda rng: _with_singular_values(rng, 4, 3)),
              Case(((3, 4),), {"full_matrices": True}, make=lambda rng: _with_singular_values(rng, 3, 4)),
              Case(((2, 4, 2),), {"full_matrices": False},
                   make=lambda rng: _with_singular_values(rng, 4, 2, (2,))))

svd_p = Primitive("svd", _svd_impl, cases=_SVD_CASES, flops=_decomposition_flops(12.0), residuals=("out",),
                  label="svd({0})", jvps=(_svd_jvp,), vjps=(_svd_vjp,),
                  doc="The singular value decomposition A = U diag(s) Vᵀ (the first min(m, n) singular "
                      "vectors), packed as the rows [U; V; s]. The vectors' derivative needs distinct "
                      "singular values (and nonzero ones when A is not square): NotDifferentiableError "
                      "where they are not.")


def _svdvals_impl(a: Any) -> np.ndarray:
    return np.linalg.svd(a, compute_uv=False)


def _singular_vectors(a: Any) -> tuple[Any, Any]:
    m, n = shape_of(a)[-2:]
    u, v, _ = _svd_parts(svd_p(a, full_matrices=False), m, n)
    return u, v


def _svdvals_jvp(t: Any, out: Any, a: Any) -> Any:
    u, v = _singular_vectors(a)
    return sum_p(u * matmul(t, v), axis=(-2,), keepdims=False)  # diag(Uᵀ dA V)


def _svdvals_vjp(ct: Any, out: Any, a: Any) -> Any:
    u, v = _singular_vectors(a)
    return matmul(u * _as_row(ct), _swap_last(v))


svdvals_p = Primitive("svdvals", _svdvals_impl,
                      cases=(Case(((3, 3),), make=lambda rng: _with_singular_values(rng, 3, 3)),
                             Case(((3, 5),), make=lambda rng: _with_singular_values(rng, 3, 5)),
                             Case(((2, 4, 3),), make=lambda rng: _with_singular_values(rng, 4, 3, (2,)))),
                      flops=_decomposition_flops(4.0), residuals=(0,), symbol="σ", label="svdvals({0})",
                      jvps=(_svdvals_jvp,), vjps=(_svdvals_vjp,),
                      doc="Singular values, largest first; ds_i = u_iᵀ dA v_i. Where singular values "
                          "repeat, each one alone has no derivative; adkit gives the one along NumPy's "
                          "singular vectors, exact for every symmetric function of a repeated group (their "
                          "sum, the nuclear norm). Second derivatives need distinct values.")


class SVDResult(NamedTuple):
    """``(U, S, Vh)`` as ``np.linalg.svd`` returns them."""

    U: Any
    S: Any
    Vh: Any


def _complement(q: Any, basis: np.ndarray) -> Any:
    """The columns completing ``q`` to an orthogonal matrix: NumPy's ``basis`` here, carried along smoothly.

    They are not determined by the matrix (any orthonormal basis of the
    complement is as good), so adkit takes NumPy's at this point and moves it
    with ``q``: the projection of ``basis`` onto the complement of ``q``'s
    columns, orthonormalized (Cholesky). Its first derivative is the smallest
    rotation, ``-q dqᵀ basis``; every function of the complement as a whole
    (the projector ``I - q qᵀ``) is exact at every order.
    """
    if not isinstance(q, Box) or shape_of(basis)[-1] == 0:
        return basis
    m = basis - matmul(q, matmul(_swap_last(q), basis))
    chol = cholesky_p(matmul(_swap_last(m), m), upper=False)
    moved = _swap_last(solve_p(chol, _swap_last(m)))
    return moved - primal(moved) + basis  # NumPy's values exactly, the derivative of `moved`


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """Singular value decomposition ``A = U diag(S) Vh``, as ``np.linalg.svd``, on a matrix or a stack.

    Maths: ``dS = diag(Uᵀ dA V)``; ``dU = U (F ∘ (Uᵀ dA V S + S Vᵀ dAᵀ U)) + (I - U Uᵀ) dA V S⁻¹`` with
    ``F_ij = 1 / (s_j² - s_i²)``, and ``dV`` likewise.

    Conditions: the singular vectors have a derivative where the singular
    values are distinct (and nonzero, for a non-square matrix), else
    :class:`NotDifferentiableError`; the singular values alone (``compute_uv=False``)
    have first derivatives everywhere (see :func:`svdvals`). The signs of the
    vectors are NumPy's; functions that do not depend on them
    (``U diag(S) Vh``, ``u uᵀ``) are what to differentiate. With
    ``full_matrices=True`` and a non-square matrix, the extra columns of ``U``
    (rows of ``Vh``) are any orthonormal basis of the complement: adkit
    carries NumPy's along (:func:`_complement`), so functions of that
    subspace as a whole are exact, the columns themselves a convention.
    ``hermitian=True`` reads the lower triangle and decomposes with ``eigh``,
    as NumPy does.

    >>> import numpy as np
    >>> a = adkit.Dual(np.diag([3.0, 1.0]), np.array([[1.0, 0.0], [0.0, 0.0]]))
    >>> adkit.svd(a, compute_uv=False)
    Dual(array([3., 1.]), array([1., 0.]))
    """
    if hermitian:
        return _svd_hermitian(a, compute_uv)
    if not compute_uv:
        return svdvals_p(a)
    m, n = shape_of(a)[-2:]
    u, v, s = _svd_parts(svd_p(a, full_matrices=bool(full_matrices)), m, n)
    if full_matrices and m != n:
        u_full, _, vh_full = np.linalg.svd(primal(a), full_matrices=True)
        k = builtins.min(m, n)
        if m > n:
            u = concatenate_p(u, _complement(u, u_full[..., k:]), axis=-1)
        else:
            v = concatenate_p(v, _complement(v, np.swapaxes(vh_full[..., k:, :], -1, -2)), axis=-1)
    return SVDResult(u, s, _swap_last(v))


def _take_along_last(x: Any, order: np.ndarray) -> Any:
    """``np.take_along_axis`` on the last axis, one ``order`` per vector (per matrix: its columns)."""
    stack = order.shape[:-1]
    grids = np.meshgrid(*(np.arange(n) for n in stack), indexing="ij") if stack else []
    if ndim_of(x) == order.ndim:
        return getitem_p(x, index=tuple(g[..., None] for g in grids) + (order,))
    rows = np.arange(shape_of(x)[-2])[:, None]
    return getitem_p(x, index=tuple(g[..., None, None] for g in grids) + (rows, order[..., None, :]))


def _svd_hermitian(a: Any, compute_uv: bool) -> Any:
    """NumPy's ``svd(a, hermitian=True)``: from ``eigh``, singular values ``|w|`` largest first."""
    if not compute_uv:
        s = absolute(eigvalsh(a))
        return _take_along_last(s, np.argsort(primal(s), axis=-1)[..., ::-1])
    w, u = eigh(a)
    order = np.argsort(np.abs(primal(w)), axis=-1)[..., ::-1]
    signs = np.take_along_axis(np.sign(primal(w)), order, axis=-1)
    s = _take_along_last(absolute(w), order)
    u = _take_along_last(u, order)
    return SVDResult(u, s, _swap_last(u * signs[..., None, :]))


def svdvals(x: Any) -> Any:
    """The singular values of a matrix or a stack, largest first: ``ds_i = u_iᵀ dA v_i``.

    At repeated singular values each one alone is not differentiable; the
    derivative given is the one along NumPy's singular vectors, which is exact
    for every symmetric function of the repeated group (their sum, as in the
    nuclear norm; their maximum splits evenly, as ``max`` does at ties).

    >>> import numpy as np
    >>> adkit.svdvals(adkit.Dual(np.diag([3.0, 1.0]), np.eye(2)))
    Dual(array([3., 1.]), array([1., 1.]))
    """
    return svdvals_p(x)


# eigh ----------------------------------------------------------------------------------------------

_EIGH_INSTEAD = ("Functions of the eigenvalues alone (np.linalg.eigvalsh, np.trace) have first "
                 "derivatives there.")


def _eigh_impl(a: Any, *, lower: bool) -> np.ndarray:
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return np.concatenate([v, w[..., None, :]], axis=-2)


def _eigh_parts(packed: Any, n: int) -> tuple[Any, Any]:
    """Eigenvalues ``(..., n)`` and eigenvectors ``(..., n, n)`` from the packed ``[V; w]``."""
    return _row(packed, n), _rows(packed, 0, n)


def _eigh_jvp(t: Any, out: Any, a: Any, *, lower: bool) -> Any:
    """dw = diag(Vᵀ dA V), dV = V (F ∘ Vᵀ dA V) with F_ij = 1 / (w_j - w_i), dA the mirrored triangle."""
    n = shape_of(a)[-1]
    w, v = _eigh_parts(out, n)
    _require_distinct(w, "eigenvectors of np.linalg.eigh", _EIGH_INSTEAD)
    vdv = matmul(matmul(_swap_last(v), _symmetric_from(t, lower)), v)
    return concatenate_p(matmul(v, _inverse_gaps(w) * vdv), _as_row(_diagonal_of(vdv)), axis=-2)


def _eigh_vjp(ct: Any, out: Any, a: Any, *, lower: bool) -> Any:
    n = shape_of(a)[-1]
    w, v = _eigh_parts(out, n)
    cw, cv = _eigh_parts(ct, n)
    g = _diagonal_matrix(cw)
    if not _is_zero(cv):
        _require_distinct(w, "eigenvectors of np.linalg.eigh", _EIGH_INSTEAD)
        g = g + _inverse_gaps(w) * matmul(_swap_last(v), cv)
    return _symmetric_from_transpose(matmul(matmul(v, g), _swap_last(v)), lower)


def _with_eigenvalues(rng: np.random.Generator, n: int = 3, stack: tuple[int, ...] = ()) -> tuple:
    q = _orthonormal_columns(rng, n, n, stack)
    w = _spread_values(rng, n, stack, -1.2)
    return (np.matmul(q * w[..., None, :], np.swapaxes(q, -1, -2)),)


def _eigenvalues_off_zero(rng: np.random.Generator, n: int = 3) -> tuple:
    """A symmetric matrix with eigenvalues of both signs, each at least 0.8 from zero (small inverse)."""
    q = _orthonormal_columns(rng, n, n, ())
    w = _spread_values(rng, n, (), 0.8) * (-1.0) ** np.arange(n)
    return (np.matmul(q * w[..., None, :], np.swapaxes(q, -1, -2)),)


_EIGH_CASES = (Case(((3, 3),), {"lower": True}, make=_with_eigenvalues),
               Case(((3, 3),), {"lower": False}, make=_with_eigenvalues),
               Case(((2, 3, 3),), {"lower": True},
                    make=lambda rng: _with_eigenvalues(rng, 3, (2,))))

eigh_p = Primitive("eigh", _eigh_impl, cases=_EIGH_CASES, flops=_decomposition_flops(9.0), residuals=("out",),
                   label="eigh({0})", jvps=(_eigh_jvp,), vjps=(_eigh_vjp,),
                   doc="Eigenvalues and eigenvectors of a symmetric matrix (the triangle NumPy reads, "
                       "mirrored), packed as the rows [V; w]. The eigenvectors' derivative needs distinct "
                       "eigenvalues: NotDifferentiableError where they repeat.")


def _eigvalsh_impl(a: Any, *, lower: bool) -> np.ndarray:
    return np.linalg.eigvalsh(a, UPLO="L" if lower else "U")


def _eigenvectors(a: Any, lower: bool) -> Any:
    return _eigh_parts(eigh_p(a, lower=lower), shape_of(a)[-1])[1]


def _eigvalsh_jvp(t: Any, out: Any, a: Any, *, lower: bool) -> Any:
    v = _eigenvectors(a, lower)
    return sum_p(v * matmul(_symmetric_from(t, lower), v), axis=(-2,), keepdims=False)


def _eigvalsh_vjp(ct: Any, out: Any, a: Any, *, lower: bool) -> Any:
    v = _eigenvectors(a, lower)
    return _symmetric_from_transpose(matmul(v * _as_row(ct), _swap_last(v)), lower)


eigvalsh_p = Primitive("eigvalsh", _eigvalsh_impl, cases=_EIGH_CASES, flops=_decomposition_flops(4.0),
                       residuals=(0,), symbol="λ", label="eigvalsh({0})", jvps=(_eigvalsh_jvp,),
                       vjps=(_eigvalsh_vjp,),
                       doc="Eigenvalues of a symmetric matrix, ascending; dw_i = v_iᵀ dA v_i. Where "
                           "eigenvalues repeat, each alone has no derivative; adkit gives the one along "
                           "NumPy's eigenvectors, exact for every symmetric function of a repeated group. "
                           "Second derivatives need distinct eigenvalues.")


class EighResult(NamedTuple):
    """``(eigenvalues, eigenvectors)`` as ``np.linalg.eigh`` returns them."""

    eigenvalues: Any
    eigenvectors: Any


def _lower(uplo: str) -> bool:
    if uplo not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return uplo == "L"


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix or stack, as ``np.linalg.eigh``.

    Maths: ``dw = diag(Vᵀ dA V)``, ``dV = V (F ∘ Vᵀ dA V)`` with ``F_ij = 1 / (w_j - w_i)``.

    Only the triangle ``UPLO`` names is read (the other is ignored, as by
    NumPy), so the derivative with respect to the other triangle is zero and
    an off-diagonal element of the read one counts twice. The eigenvectors
    have a derivative where the eigenvalues are distinct, else
    :class:`NotDifferentiableError`; their signs are NumPy's, so
    differentiate functions that do not depend on them (``v vᵀ``,
    ``V diag(w) Vᵀ``).

    >>> import numpy as np
    >>> adkit.eigh(adkit.Dual(np.diag([1.0, 2.0]), np.diag([1.0, 0.0]))).eigenvalues
    Dual(array([1., 2.]), array([1., 0.]))
    """
    n = shape_of(a)[-1]
    w, v = _eigh_parts(eigh_p(a, lower=_lower(UPLO)), n)
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """Eigenvalues of a symmetric matrix or stack, ascending: ``dw_i = v_iᵀ dA v_i``.

    Reads one triangle, as :func:`eigh`. Where eigenvalues repeat, each one
    alone is not differentiable; the derivative given is the one along
    NumPy's eigenvectors, exact for symmetric functions of the group.

    >>> import numpy as np
    >>> adkit.eigvalsh(adkit.Dual(np.diag([1.0, 2.0]), np.eye(2)))
    Dual(array([1., 2.]), array([1., 1.]))
    """
    return eigvalsh_p(a, lower=_lower(UPLO))


# cholesky ------------------------------------------------------------------------------------------


def _lower_half(x: Any) -> Any:
    """Φ(X): the strict lower triangle and half the diagonal (a constant mask)."""
    n = shape_of(x)[-1]
    mask = np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)
    return x * mask.astype(_float_type(x))


def _cholesky_jvp(t: Any, out: Any, a: Any, *, upper: bool) -> Any:
    """dL = L Φ(L⁻¹ dA L⁻ᵀ)."""
    chol = _swap_last(out) if upper else out
    e = _symmetric_from(t, lower=not upper)
    x = solve_p(chol, _swap_last(solve_p(chol, e)))
    dl = matmul(chol, _lower_half(x))
    return _swap_last(dl) if upper else dl


def _cholesky_vjp(ct: Any, out: Any, a: Any, *, upper: bool) -> Any:
    """Ā = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹, given back to the triangle NumPy reads."""
    chol = _swap_last(out) if upper else out
    cl = _swap_last(ct) if upper else ct
    y = solve_p(_swap_last(chol), _lower_half(matmul(_swap_last(chol), cl)))
    return _symmetric_from_transpose(_swap_last(solve_p(_swap_last(chol), _swap_last(y))), lower=not upper)


def _positive_definite(rng: np.random.Generator, n: int = 3, stack: tuple[int, ...] = ()) -> tuple:
    b = rng.normal(size=(*stack, n, n))
    return (np.matmul(b, np.swapaxes(b, -1, -2)) + n * np.eye(n),)


def _cholesky_impl(a: Any, *, upper: bool) -> np.ndarray:
    return np.linalg.cholesky(a, upper=True) if upper else np.linalg.cholesky(a)


cholesky_p = Primitive("cholesky", _cholesky_impl,
                       cases=(Case(((3, 3),), {"upper": False}, make=_positive_definite),
                              Case(((3, 3),), {"upper": True}, make=_positive_definite),
                              Case(((2, 3, 3),), {"upper": False},
                                   make=lambda rng: _positive_definite(rng, 3, (2,)))),
                       flops=_decomposition_flops(1.0 / 3.0), residuals=("out",), label="cholesky({0})",
                       jvps=(_cholesky_jvp,), vjps=(_cholesky_vjp,),
                       doc="Cholesky factor of a symmetric positive definite matrix (the triangle NumPy "
                           "reads); dL = L Φ(L⁻¹ dA L⁻ᵀ), Φ the lower triangle with half the diagonal.")


def cholesky(a: Any, upper: bool = False) -> Any:
    """The Cholesky factor ``L`` with ``A = L Lᵀ`` (``upper=True``: ``R = Lᵀ``), as ``np.linalg.cholesky``.

    Maths: ``dL = L Φ(L⁻¹ dA L⁻ᵀ)``, Φ the strictly lower triangle plus half the diagonal.

    Reads the lower triangle (the upper one with ``upper=True``), as NumPy;
    defined and differentiable wherever ``A`` is positive definite.

    >>> import numpy as np
    >>> adkit.cholesky(adkit.Dual(np.array([[4.0]]), np.array([[1.0]])))
    Dual(array([[2.]]), array([[0.25]]))
    """
    return cholesky_p(a, upper=bool(upper))


# qr ------------------------------------------------------------------------------------------------


def _qr_impl(a: Any, *, complete: bool) -> np.ndarray:
    q, r = np.linalg.qr(a, mode="complete" if complete else "reduced")
    m, n = np.shape(a)[-2:]
    k = builtins.min(m, n)
    return np.concatenate([np.swapaxes(q[..., :, :k], -1, -2), r[..., :k, :]], axis=-1)


def _qr_parts(packed: Any, m: int) -> tuple[Any, Any]:
    """``Q (..., m, k)`` and ``R (..., k, n)`` from the packed ``[Qᵀ | R]``."""
    return (_swap_last(getitem_p(packed, index=(Ellipsis, slice(0, m)))),
            getitem_p(packed, index=(Ellipsis, slice(m, None))))


def _require_full_rank(r: Any, m: int, n: int) -> None:
    diagonal = np.abs(np.diagonal(primal(r), axis1=-2, axis2=-1))  # NumPy operations: a guard when staged
    small = np.min(diagonal, axis=-1, initial=np.inf) <= _tolerance(diagonal)
    if np.any(small):
        diagonal, small = np.asarray(diagonal), np.asarray(small)
        rank = "full column rank" if m >= n else f"its first {m} columns independent"
        raise NotDifferentiableError(
            f"np.linalg.qr has a derivative only for a matrix with {rank}; this one{_where_in_stack(small)} "
            f"has R's diagonal {np.array2string(_first(diagonal, small), precision=6)} (a zero, to rounding)."
        )


def _right_solve(x: Any, r: Any) -> Any:
    """``x r⁻¹``."""
    return _swap_last(solve_p(_swap_last(r), _swap_last(x)))


def _qr_square_jvp(q: Any, r: Any, t: Any) -> tuple[Any, Any]:
    """dQ, dR of A = QR, R square (m >= n): C = dA R⁻¹, Z = Qᵀ C, Ω = tril(Z, -1) - tril(Z, -1)ᵀ."""
    c = _right_solve(t, r)
    z = matmul(_swap_last(q), c)
    below = where_p(np.tril(np.ones(shape_of(r)[-2:], bool), -1), z, 0.0)
    omega = below - _swap_last(below)
    return matmul(q, omega - z) + c, matmul(z - omega, r)


def _qr_square_vjp(q: Any, r: Any, cq: Any, cr: Any) -> Any:
    """Ā = (Q̄ + Q W) R⁻ᵀ with M = QᵀQ̄ - R̄Rᵀ and W = tril(M - Mᵀ, -1) - M."""
    m = matmul(_swap_last(q), cq) - matmul(cr, _swap_last(r))
    w = where_p(np.tril(np.ones(shape_of(r)[-2:], bool), -1), m - _swap_last(m), 0.0) - m
    return _swap_last(solve_p(r, _swap_last(cq + matmul(q, w))))


def _qr_jvp(t: Any, out: Any, a: Any, *, complete: bool) -> Any:
    m, n = shape_of(a)[-2:]
    q, r = _qr_parts(out, m)
    _require_full_rank(r, m, n)
    if m >= n:
        dq, dr = _qr_square_jvp(q, r, t)
    else:  # A = [A1 A2] = Q [R1 R2]: Q and R1 from A1, R2 = Qᵀ A2
        left, right = (Ellipsis, slice(0, m)), (Ellipsis, slice(m, None))
        dq, dr1 = _qr_square_jvp(q, getitem_p(r, index=left), getitem_p(t, index=left))
        a2 = getitem_p(a, index=right)
        dr2 = matmul(_swap_last(dq), a2) + matmul(_swap_last(q), getitem_p(t, index=right))
        dr = concatenate_p(dr1, dr2, axis=-1)
    return concatenate_p(_swap_last(dq), dr, axis=-1)


def _qr_vjp(ct: Any, out: Any, a: Any, *, complete: bool) -> Any:
    m, n = shape_of(a)[-2:]
    q, r = _qr_parts(out, m)
    cq, cr = _qr_parts(ct, m)
    _require_full_rank(r, m, n)
    if m >= n:
        return _qr_square_vjp(q, r, cq, cr)
    left, right = (Ellipsis, slice(0, m)), (Ellipsis, slice(m, None))
    cr2 = getitem_p(cr, index=right)
    cq = cq + matmul(getitem_p(a, index=right), _swap_last(cr2))
    ca1 = _qr_square_vjp(q, getitem_p(r, index=left), cq, getitem_p(cr, index=left))
    return concatenate_p(ca1, matmul(q, cr2), axis=-1)


def _full_rank(rng: np.random.Generator, m: int, n: int, stack: tuple[int, ...] = ()) -> tuple:
    return (rng.normal(size=(*stack, m, n)) + 2.0 * np.eye(m, n),)


qr_p = Primitive("qr", _qr_impl,
                 cases=(Case(((3, 3),), {"complete": False}, make=lambda rng: _full_rank(rng, 3, 3)),
                        Case(((4, 3),), {"complete": False}, make=lambda rng: _full_rank(rng, 4, 3)),
                        Case(((4, 3),), {"complete": True}, make=lambda rng: _full_rank(rng, 4, 3)),
                        Case(((3, 5),), {"complete": False}, make=lambda rng: _full_rank(rng, 3, 5)),
                        Case(((2, 4, 2),), {"complete": False},
                             make=lambda rng: _full_rank(rng, 4, 2, (2,)))),
                 flops=_decomposition_flops(4.0), residuals=("out", 0), label="qr({0})", jvps=(_qr_jvp,),
                 vjps=(_qr_vjp,),
                 doc="QR decomposition A = QR (the first min(m, n) columns of Q and rows of R), packed as "
                     "[Qᵀ | R]; needs full column rank (the first m columns independent when A is wide): "
                     "NotDifferentiableError where R has a zero on its diagonal.")


class QRResult(NamedTuple):
    """``(Q, R)`` as ``np.linalg.qr`` returns them."""

    Q: Any
    R: Any


def qr(a: Any, mode: str = "reduced") -> Any:
    """The QR decomposition ``A = QR`` of a matrix or a stack, as ``np.linalg.qr``.

    Maths (``m >= n``): with ``C = dA R⁻¹``, ``Z = Qᵀ C`` and ``Ω = tril(Z, -1) - tril(Z, -1)ᵀ``:
    ``dQ = Q (Ω - Z) + C``, ``dR = (Z - Ω) R``; a wide ``A = [A1 A2]`` factors ``A1`` and ``R2 = Qᵀ A2``.

    ``mode`` is ``"reduced"``, ``"complete"`` or ``"r"``; the condition is full
    rank (else :class:`NotDifferentiableError`). R's signs are NumPy's (not
    necessarily positive). ``"complete"`` on a tall matrix adds columns to Q
    that are any basis of the complement: NumPy's here, carried along as in
    :func:`svd`. ``"raw"`` (LAPACK's Householder reflectors) is refused.

    >>> import numpy as np
    >>> adkit.qr(adkit.Dual(np.array([[2.0]]), np.array([[1.0]]))).R
    Dual(array([[2.]]), array([[1.]]))
    """
    if mode in ("f", "full"):
        warnings.warn("The 'full' option is deprecated in favor of 'reduced'.\nFor backward compatibility "
                      "let mode default.", DeprecationWarning, stacklevel=3)  # NumPy's warning
        mode = "reduced"
    if mode not in ("reduced", "complete", "r", "raw", "e", "economic"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    if mode in ("raw", "e", "economic"):
        raise NotImplementedError(
            f"adkit does not differentiate np.linalg.qr(a, mode={mode!r}): its result is LAPACK's internal "
            "form (Householder reflectors), not a function with a derivative to speak of. Use "
            "mode='reduced' or 'complete'."
        )
    m, n = shape_of(a)[-2:]
    complete = mode == "complete"
    q, r = _qr_parts(qr_p(a, complete=complete), m)
    if mode == "r":
        return r
    if complete and m > n:
        q_full = np.linalg.qr(primal(a), mode="complete")[0]
        q = concatenate_p(q, _complement(q, q_full[..., n:]), axis=-1)
        zeros = np.zeros(shape_of(r)[:-2] + (m - n, n), _float_type(r))
        r = concatenate_p(r, zeros, axis=-2)
    return QRResult(q, r)


# pseudo-inverse and least squares --------------------------------------------------------------------


def _pinv_impl(a: Any, *, rcond: Any, hermitian: bool) -> np.ndarray:
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian)


def _read(a: Any, hermitian: bool) -> Any:
    """The matrix NumPy's pinv sees: with ``hermitian`` only the lower triangle, mirrored."""
    return _symmetric_from(a, lower=True) if hermitian else a


def _pinv_jvp(t: Any, out: Any, a: Any, *, rcond: Any, hermitian: bool) -> Any:
    """dA⁺ = -A⁺ dA A⁺ + A⁺ A⁺ᵀ dAᵀ (I - A A⁺) + (I - A⁺ A) dAᵀ A⁺ᵀ A⁺ (Golub and Pereyra)."""
    p, a, t = out, _read(a, hermitian), _read(t, hermitian)
    tt = _swap_last(t)
    return (-matmul(matmul(p, t), p)
            + matmul(matmul(p, _swap_last(p)), tt - matmul(matmul(tt, a), p))
            + matmul(tt - matmul(p, matmul(a, tt)), matmul(_swap_last(p), p)))


def _pinv_vjp(ct: Any, out: Any, a: Any, *, rcond: Any, hermitian: bool) -> Any:
    p, a, ctt = out, _read(a, hermitian), _swap_last(ct)
    ca = (-matmul(matmul(_swap_last(p), ct), _swap_last(p))
          + matmul(ctt - matmul(a, matmul(p, ctt)), matmul(p, _swap_last(p)))
          + matmul(matmul(_swap_last(p), p), ctt - matmul(matmul(ctt, p), a)))
    return _symmetric_from_transpose(ca, lower=True) if hermitian else ca


pinv_p = Primitive("pinv", _pinv_impl,
                   cases=(Case(((3, 3),), {"rcond": 1e-15, "hermitian": False},
                               make=lambda rng: _with_singular_values(rng, 3, 3)),
                          Case(((4, 3),), {"rcond": 1e-15, "hermitian": False},
                               make=lambda rng: _with_singular_values(rng, 4, 3)),
                          Case(((2, 3, 4),), {"rcond": 1e-15, "hermitian": False},
                               make=lambda rng: _with_singular_values(rng, 3, 4, (2,))),
                          Case(((3, 3),), {"rcond": 1e-15, "hermitian": True}, make=_eigenvalues_off_zero)),
                   flops=_decomposition_flops(14.0), residuals=("out", 0), symbol="A⁺", label="pinv({0})",
                   jvps=(_pinv_jvp,), vjps=(_pinv_vjp,),
                   doc="Moore-Penrose pseudo-inverse (singular values at or below rcond times the largest "
                       "count as zero; with hermitian, of the lower triangle mirrored); the derivative of "
                       "Golub and Pereyra, exact where the rank does not change (no singular value at the "
                       "cutoff).")


def pinv(a: Any, rcond: Any = 1e-15, hermitian: bool = False) -> Any:
    """The pseudo-inverse ``A⁺`` of a matrix or a stack, as ``np.linalg.pinv``.

    Maths: ``dA⁺ = -A⁺ dA A⁺ + A⁺ A⁺ᵀ dAᵀ (I - A A⁺) + (I - A⁺ A) dAᵀ A⁺ᵀ A⁺``.

    Singular values at or below ``rcond`` times the largest are treated as
    zero, as by NumPy. Where those are zero (to rounding: full rank, or a
    rank-deficient matrix), the formula above is the derivative (for changes
    small enough that the dropped singular values stay below the cutoff); a
    cutoff that drops nonzero singular values makes ``A⁺`` a function of the
    leading singular vectors, differentiated through :func:`svd` (distinct
    singular values needed there). ``hermitian=True`` reads the lower
    triangle, as NumPy.

    >>> import numpy as np
    >>> adkit.pinv(adkit.Dual(np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]])))
    Dual(array([[0.5],
           [0. ]]), array([[-0.25],
           [ 0.  ]]))
    """
    if isinstance(a, Box) and _drops_nonzero(_read(primal(a), hermitian), rcond):
        return _pinv_by_svd(a, rcond, hermitian)
    return pinv_p(a, rcond=rcond, hermitian=bool(hermitian))


def _drops_nonzero(a: np.ndarray, rcond: Any) -> bool:
    """Whether the cutoff ``rcond`` times the largest singular value drops one that is not zero."""
    s = np.linalg.svd(a, compute_uv=False)
    cutoff = np.asarray(rcond)[..., None] * np.max(s, axis=-1, keepdims=True, initial=0.0)
    return bool(np.any((s <= cutoff) & (s > _tolerance(s)[..., None])))


def _pinv_by_svd(a: Any, rcond: Any, hermitian: bool) -> Any:
    """NumPy's own computation of the truncated pseudo-inverse, ``V diag(1/s) Uᵀ`` over the kept values."""
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    kept = primal(s) > np.asarray(rcond)[..., None] * np.max(primal(s), axis=-1, keepdims=True)
    inverse = where_p(kept, reciprocal(where_p(kept, s, 1.0)), 0.0)
    return matmul(_swap_last(vh), _as_column(inverse) * _swap_last(u))


def _lstsq_impl(a: Any, b: Any, *, rcond: Any) -> np.ndarray:
    return np.linalg.lstsq(a, b, rcond=rcond)[0]


def _lstsq_pieces(out: Any, a: Any, b: Any, rcond: Any) -> tuple[Any, Any, Any, bool]:
    """``A⁺``, the solution and the residual ``b - A x`` as columns, and whether b is a vector."""
    vector = ndim_of(b) == 1
    x = _column(out, vector)
    return _lstsq_pinv(a, rcond), x, _column(b, vector) - matmul(a, x), vector


def _lstsq_pinv(a: Any, rcond: Any) -> Any:
    """``A⁺`` with lstsq's cutoff (by default the precision times the larger dimension)."""
    if rcond is None:
        rcond = _eps(a) * builtins.max(shape_of(a)[-2:])
    return pinv_p(a, rcond=rcond, hermitian=False)


def _lstsq_jvp_a(t: Any, out: Any, a: Any, b: Any, *, rcond: Any) -> Any:
    """dx = dA⁺ b = -A⁺ dA x + A⁺ A⁺ᵀ dAᵀ r + (I - A⁺ A) dAᵀ A⁺ᵀ x, with r = b - A x."""
    p, x, r, vector = _lstsq_pieces(out, a, b, rcond)
    tt = _swap_last(t)
    y = matmul(tt, matmul(_swap_last(p), x))
    dx = (-matmul(p, matmul(t, x)) + matmul(matmul(p, _swap_last(p)), matmul(tt, r))
          + y - matmul(p, matmul(a, y)))
    return _uncolumn(dx, vector)


def _lstsq_jvp_b(t: Any, out: Any, a: Any, b: Any, *, rcond: Any) -> Any:
    vector = ndim_of(b) == 1
    return _uncolumn(matmul(_lstsq_pinv(a, rcond), _column(t, vector)), vector)


def _lstsq_vjp_a(ct: Any, out: Any, a: Any, b: Any, *, rcond: Any) -> Any:
    p, x, r, vector = _lstsq_pieces(out, a, b, rcond)
    c = _column(ct, vector)
    ct_t = _swap_last(c)
    return (-matmul(matmul(_swap_last(p), c), _swap_last(x))
            + matmul(matmul(r, ct_t), matmul(p, _swap_last(p)))
            + matmul(matmul(_swap_last(p), x), ct_t - matmul(matmul(ct_t, p), a)))


def _lstsq_vjp_b(ct: Any, out: Any, a: Any, b: Any, *, rcond: Any) -> Any:
    vector = ndim_of(b) == 1
    return _uncolumn(matmul(_swap_last(_lstsq_pinv(a, rcond)), _column(ct, vector)), vector)


def _system(rng: np.random.Generator, m: int, n: int, rhs: tuple[int, ...]) -> tuple:
    return _with_singular_values(rng, m, n) + (rng.normal(size=rhs),)


lstsq_p = Primitive("lstsq", _lstsq_impl,
                    cases=(Case(((4, 3), (4,)), {"rcond": None}, make=lambda rng: _system(rng, 4, 3, (4,))),
                           Case(((4, 3), (4, 2)), {"rcond": None},
                                make=lambda rng: _system(rng, 4, 3, (4, 2))),
                           Case(((3, 4), (3,)), {"rcond": 1e-10}, make=lambda rng: _system(rng, 3, 4, (3,)))),
                    flops=_decomposition_flops(14.0), residuals=("out", 0, 1), label="lstsq({0}, {1})",
                    jvps=(_lstsq_jvp_a, _lstsq_jvp_b), vjps=(_lstsq_vjp_a, _lstsq_vjp_b),
                    doc="The least-squares solution of A x = b of least norm, x = A⁺ b (NumPy's values); "
                        "its derivative is that of A⁺ b, where the rank does not change.")


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, int, Any]:
    """``(x, residuals, rank, s)`` as ``np.linalg.lstsq``: ``x = A⁺ b``, ``dx = dA⁺ b + A⁺ db``.

    ``x`` and its derivative are those of :func:`pinv` (singular values at
    or below ``rcond`` times the largest count as zero); ``residuals`` (the
    squared norms of ``b - A x``, when A has full column rank and more rows
    than columns) and ``s`` (:func:`svdvals`) are traced too; ``rank`` is an
    integer.

    >>> import numpy as np
    >>> adkit.lstsq(np.ones((2, 1)), adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 0.0])))[0]
    Dual(array([2.]), array([0.5]))
    """
    if ndim_of(a) != 2 or ndim_of(b) not in (1, 2):
        raise np.linalg.LinAlgError(f"{ndim_of(a) if ndim_of(a) != 2 else ndim_of(b)}-dimensional array "
                                    "given. Array must be two-dimensional")
    x_np, residuals_np, rank, _ = np.linalg.lstsq(primal(a), primal(b), rcond=rcond)
    m, n = shape_of(a)
    cutoff = _eps(a) * builtins.max(m, n) if rcond is None else rcond
    if isinstance(a, Box) and _drops_nonzero(primal(a), cutoff):  # a truncation through the svd
        x = _column(b, ndim_of(b) == 1)
        x = _uncolumn(matmul(_pinv_by_svd(a, cutoff, False), x), ndim_of(b) == 1)
        x = x - primal(x) + x_np  # NumPy's values, the derivative of the truncated A⁺ b
    else:
        x = lstsq_p(a, b, rcond=rcond)
    if rank == n and m > n:
        vector = ndim_of(b) == 1
        r = _column(b, vector) - matmul(a, _column(x, vector))
        residuals = sum_p(r * r, axis=(-2,), keepdims=False)
    else:
        residuals = residuals_np
    return x, residuals, int(rank), svdvals_p(a)


# powers, condition numbers --------------------------------------------------------------------------


def matrix_power(a: Any, n: int) -> Any:
    """``A`` to the integer power ``n`` (``inv(A)`` to ``-n`` when negative), by NumPy's own products.

    The products are those of ``np.linalg.matmul_power`` (binary powers), so
    values match NumPy's bit for bit; ``n = 0`` gives the identity, a
    constant.

    >>> import numpy as np
    >>> adkit.matrix_power(adkit.Dual(np.array([[2.0]]), np.array([[1.0]])), 3)
    Dual(array([[8.]]), array([[12.]]))
    """
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    try:
        n = operator.index(n)
    except TypeError as error:
        raise TypeError("exponent must be an integer") from error
    if n == 0:
        return np.broadcast_to(_eye(shape[-1], a), shape).copy()
    if n < 0:
        a, n = inv(a), -n
    if n <= 3:
        return a if n == 1 else matmul(a, a) if n == 2 else matmul(matmul(a, a), a)
    z = result = None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def cond(x: Any, p: Any = None) -> Any:
    """The condition number of a matrix or a stack, as ``np.linalg.cond``: ``‖A‖ ‖A⁻¹‖`` in the norm ``p``.

    ``p`` None, 2 or -2: the ratio of extreme singular values (:func:`svdvals`);
    other orders: ``norm(A, p) * norm(inv(A), p)`` (:func:`norm`).

    >>> import numpy as np
    >>> adkit.cond(adkit.Dual(np.diag([4.0, 2.0]), np.diag([1.0, 0.0])))
    Dual(2.000, 0.500)
    """
    if size_of(x) == 0:
        raise np.linalg.LinAlgError("cond is not defined on empty arrays")
    if p is None or p in (2, -2):
        s = svdvals_p(x)
        first, last = _last_axis(s, 0), _last_axis(s, -1)
        return last / first if p == -2 else first / last
    shape = shape_of(x)
    if shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


def _last_axis(x: Any, i: int) -> Any:
    return getitem_p(x, index=(Ellipsis, i))


# -- special functions (scipy.special) --------------------------------------------------------------
# SciPy is optional: these primitives compute with scipy.special, imported when first evaluated (a
# user who calls scipy.special.erf on a traced value has imported it already). Their values are
# SciPy's own; NumPy's protocol brings scipy.special's ufuncs here (numpy_bridge.SPECIAL_UFUNCS).


def _special() -> Any:
    """``scipy.special``, imported on first use."""
    try:
        import scipy.special
    except ImportError:  # pragma: no cover (SciPy is in the test extra)
        raise ImportError(
            "adkit's special functions (erf, gammaln, logit ...) compute with SciPy, which is not "
            "installed: pip install scipy"
        ) from None
    return scipy.special


def _scipy(name: str) -> tuple[Callable[..., Any], Callable[..., float]]:
    """scipy.special's ``name`` for arrays, and for Python floats (a Python float back)."""

    def impl(*xs: Any) -> Any:
        return getattr(_special(), name)(*xs)

    def scalar_impl(*xs: float) -> float:
        with np.errstate(all="ignore"):
            return float(getattr(_special(), name)(*xs))

    impl.__name__ = scalar_impl.__name__ = name
    return impl, scalar_impl


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LOG_SQRT_TWO_PI = 0.5 * math.log(2.0 * math.pi)
_UNIT = ((0.05, 0.95),)
_ORDERS = ((0.5, 3.5),)  # polygamma's order n, an integer in the tests' cases


def _special_doc(maths: str, call: str, result: str) -> dict[str, Any]:
    return {"doc": f"{maths} (scipy.special's values; SciPy needed).", "example": (call, result)}


erf = elementwise(*_scipy("erf"), (lambda out, x: _TWO_OVER_SQRT_PI * exp(-(x * x)),), name="erf",
                  domain=(REAL,), flops=20.0, residuals=(0,),
                  **_special_doc("Error function erf x; d/dx = 2/sqrt(pi) exp(-x^2)",
                                 "adkit.erf(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.128)"))
erfc = elementwise(*_scipy("erfc"), (lambda out, x: -_TWO_OVER_SQRT_PI * exp(-(x * x)),), name="erfc",
                   domain=(REAL,), flops=20.0, residuals=(0,),
                   **_special_doc("Complementary error function 1 - erf x; d/dx = -2/sqrt(pi) exp(-x^2)",
                                  "adkit.erfc(adkit.Dual(0.0, 1.0))", "Dual(1.000, -1.128)"))
erfinv = elementwise(*_scipy("erfinv"), (lambda out, x: (0.5 * math.sqrt(math.pi)) * exp(out * out),),
                     name="erfinv", domain=(OPEN_UNIT,), flops=30.0, residuals=("out",),
                     **_special_doc("Inverse error function; d/dx = sqrt(pi)/2 exp(erfinv(x)^2)",
                                    "adkit.erfinv(adkit.Dual(0.0, 1.0))", "Dual(0.000, 0.886)"))
ndtr = elementwise(*_scipy("ndtr"), (lambda out, x: exp(-0.5 * (x * x) - _LOG_SQRT_TWO_PI),), name="ndtr",
                   domain=(REAL,), flops=20.0, residuals=(0,),
                   **_special_doc("Standard normal CDF Φ(x); d/dx = φ(x) = exp(-x^2/2)/sqrt(2 pi)",
                                  "adkit.ndtr(adkit.Dual(0.0, 1.0))", "Dual(0.500, 0.399)"))
ndtri = elementwise(*_scipy("ndtri"), (lambda out, x: exp(0.5 * (out * out) + _LOG_SQRT_TWO_PI),),
                    name="ndtri", domain=(_UNIT,), flops=30.0, residuals=("out",),
                    **_special_doc("Inverse of the standard normal CDF; d/dx = 1/φ(ndtri(x))",
                                   "adkit.ndtri(adkit.Dual(0.5, 1.0))", "Dual(0.000, 2.507)"))
log_ndtr = elementwise(*_scipy("log_ndtr"), (lambda out, x: exp(-0.5 * (x * x) - _LOG_SQRT_TWO_PI - out),),
                       name="log_ndtr", domain=(((-6.0, 3.0),),), flops=30.0, residuals=("out", 0),
                       **_special_doc("log Φ(x), accurate far into the lower tail; d/dx = φ(x)/Φ(x), "
                                      "computed as exp(log φ(x) - log Φ(x))",
                                      "adkit.log_ndtr(adkit.Dual(0.0, 1.0))", "Dual(-0.693, 0.798)"))
expit = elementwise(*_scipy("expit"), (lambda out, x: out * (1.0 - out),), name="expit", domain=(REAL,),
                    flops=12.0, residuals=("out",),
                    **_special_doc("Logistic sigmoid 1/(1 + e^-x); d/dx = s (1 - s)",
                                   "adkit.expit(adkit.Dual(0.0, 1.0))", "Dual(0.500, 0.250)"))
log_expit = elementwise(*_scipy("log_expit"), (lambda out, x: expit(-x),), name="log_expit", domain=(REAL,),
                        flops=20.0, residuals=(0,),
                        **_special_doc("log expit(x) = -log(1 + e^-x); d/dx = expit(-x)",
                                       "adkit.log_expit(adkit.Dual(0.0, 1.0))", "Dual(-0.693, 0.500)"))
logit = elementwise(*_scipy("logit"), (quietly(lambda out, x: reciprocal(x * (1.0 - x))),), name="logit",
                    domain=(_UNIT,), singular=True, flops=10.0, residuals=(0,),
                    **_special_doc("log(p / (1 - p)), the inverse of expit; d/dp = 1/(p (1 - p)), inf at 0 "
                                   "and 1", "adkit.logit(adkit.Dual(0.5, 1.0))", "Dual(0.000, 4.000)"))


def _polygamma_dx(out: Any, n: Any, x: Any) -> Any:
    return polygamma(n + 1, x)


def _polygamma_impl(n: Any, x: Any) -> Any:
    """SciPy's ``polygamma`` (a Python function, in float64) in ``x``'s own floating type."""
    return np.asarray(_special().polygamma(n, x), dtype=_float_type(x))[()]


polygamma = elementwise(_polygamma_impl, _scipy("polygamma")[1], (None, _polygamma_dx), name="polygamma",
                        domain=(_ORDERS, POSITIVE), flops=60.0, residuals=(0, 1),
                        cases=(Case(((3,), (3,)), make=lambda rng: (np.array([0, 1, 3]),
                                                                    rng.uniform(0.3, 3.0, 3))),
                               Case(((), (2, 2)), make=lambda rng: (2, rng.uniform(0.3, 3.0, (2, 2))))),
                        **_special_doc("The n-th derivative of the digamma function (n an integer, not "
                                       "differentiated); d/dx = polygamma(n + 1, x)",
                                       "adkit.polygamma(1, adkit.Dual(1.0, 1.0))", "Dual(1.645, -2.404)"))
digamma = elementwise(*_scipy("digamma"), (lambda out, x: polygamma(1, x),), name="digamma",
                      domain=(POSITIVE,), flops=40.0, residuals=(0,),
                      **_special_doc("Digamma function ψ(x) = d/dx ln Γ(x); d/dx = polygamma(1, x)",
                                     "adkit.digamma(adkit.Dual(1.0, 1.0))", "Dual(-0.577, 1.645)"))
gammaln = elementwise(*_scipy("gammaln"), (lambda out, x: digamma(x),), name="gammaln", domain=(POSITIVE,),
                      flops=40.0, residuals=(0,),
                      **_special_doc("``ln |Γ(x)|``; d/dx = ψ(x) (digamma)",
                                     "adkit.gammaln(adkit.Dual(1.0, 1.0))", "Dual(0.000, -0.577)"))
gamma = elementwise(*_scipy("gamma"), (lambda out, x: out * digamma(x),), name="gamma", domain=(POSITIVE,),
                    flops=40.0, residuals=("out", 0),
                    **_special_doc("Gamma function Γ(x); d/dx = Γ(x) ψ(x)",
                                   "adkit.gamma(adkit.Dual(1.0, 1.0))", "Dual(1.000, -0.577)"))


@quietly
def _x_over(out: Any, x: Any, y: Any, shift: float = 0.0) -> Any:
    """``x / (y + shift)``, and 0 where ``x`` is 0 (where ``xlogy`` is 0 whatever ``y``)."""
    if type(x) is float and type(y) is float:  # the float route: NumPy's inf where y + shift is 0
        with np.errstate(all="ignore"):
            return 0.0 if x == 0.0 else float(np.divide(x, y + shift))
    return where_p(primal(x) == 0, 0.0, x / (y + shift))


xlogy = elementwise(*_scipy("xlogy"), (quietly(lambda out, x, y: log(y)), _x_over), name="xlogy",
                    domain=(REAL, POSITIVE), singular=True, flops=10.0, residuals=(0, 1),
                    **_special_doc("x log y, 0 where x = 0; d/dx = log y, d/dy = x / y (0 where x = 0)",
                                   "adkit.xlogy(adkit.Dual(2.0, 1.0), 1.0)", "Dual(0.000, 0.000)"))
xlog1py = elementwise(*_scipy("xlog1py"), (quietly(lambda out, x, y: log1p(y)),
                                           lambda out, x, y: _x_over(out, x, y, 1.0)),
                      name="xlog1py", domain=(REAL, POSITIVE), singular=True, flops=10.0, residuals=(0, 1),
                      **_special_doc("x log(1 + y), 0 where x = 0; d/dx = log1p(y), d/dy = x / (1 + y)",
                                     "adkit.xlog1py(adkit.Dual(2.0, 1.0), 0.0)", "Dual(0.000, 0.000)"))
psi = digamma


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """``log Σ b e^a`` as ``scipy.special.logsumexp`` (which is not a ufunc, so NumPy's protocol cannot bring
    it here: call this one): d/da_i = b_i e^(a_i - out), the softmax.

    SciPy's algorithm and values (the largest terms apart, ``log1p`` of the
    rest), with the shift taken as a constant, so every derivative is exact;
    SciPy is not needed. ``b`` weights the terms (``b = 0`` drops one, even an
    infinite one), ``return_sign`` gives ``(log |Σ b e^a|, sign)``.

    >>> import numpy as np
    >>> adkit.logsumexp(adkit.Dual(np.zeros(2), np.array([1.0, 0.0])))
    Dual(0.693, 0.500)
    """
    if b is not None:
        shape = np.broadcast_shapes(shape_of(a), shape_of(b))
        a = a if shape_of(a) == shape else broadcast_to(a, shape)
        b = b if shape_of(b) == shape else broadcast_to(b, shape)
    if ndim_of(a) == 0:
        a = reshape_p(a, shape=(1,))
        b = None if b is None else reshape_p(b, shape=(1,))
    axes = normalize_axes(axis, ndim_of(a))
    kept = keepdims_shape(shape_of(a), axes)
    result_shape = kept if keepdims else tuple(n for i, n in enumerate(kept) if i - len(kept) not in axes)
    if size_of(a) == 0:
        out = np.full(result_shape, -np.inf, _float_type(a))
        return (out, np.sign(out)) if return_sign else out
    if b is not None:
        a = where_p(primal(b) == 0, -np.inf, a)  # SciPy's: a zero weight drops the term
    with np.errstate(invalid="ignore"):
        shift = np.max(primal(a), axis=axes, keepdims=True)  # a constant: the derivative is untouched
        at_max = primal(a) == shift
        terms = exp(a - shift) if b is None else b * exp(a - shift)
        m = sum(where_p(at_max, terms, 0.0), axis=axes, keepdims=True)
        s = sum(where_p(at_max, 0.0, terms), axis=axes, keepdims=True)
        s = where_p(primal(s) == 0, s, s / m)
        sign = np.sign(primal(s) + 1) * np.sign(primal(m))
        s = where_p(primal(s) < -1, -s - 2.0, s)
        out = log1p(s) + log(absolute(m)) + shift
    if not np.all(np.isfinite(primal(out))):  # SciPy's: where infinite, the direct computation
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            total = sum(exp(a) if b is None else b * exp(a), axis=axes, keepdims=True)
            direct = log(absolute(total))
        finite = np.isfinite(primal(out))
        out = where_p(finite, out, direct)
        sign = np.where(finite, sign, np.sign(primal(total)))
    out = reshape_p(out, shape=result_shape)
    return (out, np.reshape(sign, result_shape)[()]) if return_sign else out


# -- the table, for the engines' fast paths, the NumPy bridge and the tests -------------------------

#: Every primitive, by name. Tests iterate over it, so a rule added here is tested.
PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in (
        add, subtract, multiply, divide, power, negative, absolute, sign, square, reciprocal,
        remainder, fmod, copysign, floor, ceil, trunc, rint, floor_divide,
        exp, expm1, log, log1p, log2, log10, sqrt, cbrt, logaddexp,
        sin, cos, tan, arcsin, arccos, arctan, arctan2, hypot,
        sinh, cosh, tanh, arcsinh, arccosh, arctanh, sigmoid, softplus,
        maximum, minimum, clip_p, where_p,
        sum_p, mean_p, prod_p, max_p, min_p, cumsum_p,
        reshape_p, squeeze_p, expand_dims_p, transpose_p, broadcast_to_p, concatenate_p, stack_p,
        astype_p, getitem_p, index_add_p,
        matmul, inv, det, cofactor_p, cofactor_jvp_p, logabsdet, solve_p, norm_p,
        einsum_p, cumprod_p,
        exp2, logaddexp2, deg2rad, rad2deg, heaviside, sinc, sinc_derivative_p,
    )
}
PRIMITIVES.update((p.name, p) for p in (svd_p, svdvals_p, eigh_p, eigvalsh_p, cholesky_p, qr_p, pinv_p,
                                         lstsq_p))
#: the special functions, computed by scipy.special (SciPy is optional)
SPECIAL: dict[str, Primitive] = {
    p.name: p for p in (erf, erfc, erfinv, ndtr, ndtri, log_ndtr, expit, log_expit, logit, polygamma, digamma,
                        gammaln, gamma, xlogy, xlog1py)
}
PRIMITIVES.update(SPECIAL)

#: Docstrings of the primitives, collected so that doctest runs their examples.
__test__ = {name: p.__doc__ for name, p in PRIMITIVES.items() if ">>>" in (p.__doc__ or "")}
