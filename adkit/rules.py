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
  cotangent of an element they do not select (``core.select``; operations
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
  piece that starts there, with NumPy's own quotient (``floor_divide``).
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, NamedTuple

import numpy as np

from adkit.core import (
    MINUS_ONE,
    ONE,
    ZERO,
    Box,
    Case,
    Primitive,
    align_batched,
    batch_ndim,
    carries_derivative,
    is_array,
    ndim_of,
    primal,
    pull_back,
    select,
    shape_of,
    unbroadcast,
)

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

    scalar_impl.raising = math_fn  # type: ignore[attr-defined]  # the float short path's float_impl
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


def elementwise(
    name: str,
    ufunc: Callable,
    scalar_impl: Callable | None,
    partials: Sequence[Callable | None],
    *,
    domain: Sequence[Sequence[tuple[float, float]]],
    symbol: str | None = None,
    label: str | None = None,
    doc: str = "",
    singular: bool = False,
    selects: bool = False,
    flops: float = 1.0,
    residuals: Sequence[int | str] | None = None,
    float_partials: Sequence[Callable | None] | None = None,
) -> Primitive:
    """Declare an elementwise operation by its partial derivatives.

    ``float_partials``: the partials for Python floats with plain ``math``
    calls, allowed to raise where the general ones give NumPy's inf or nan.
    """
    prim = Primitive(
        name,
        ufunc,
        scalar_impl=scalar_impl,
        partials=partials,
        symbol=symbol,
        label=label,
        domain=domain,
        doc=doc,
        numpy_name=getattr(ufunc, "__name__", name),
        singular=singular,
        selects=selects,
        flops=flops,
        residuals=residuals,
    )
    prim.float_impl = getattr(scalar_impl, "raising", scalar_impl)
    if float_partials is not None:
        prim.float_partials = tuple(float_partials)
    return prim


def _doc(maths: str, example: str, result: str) -> str:
    return f"""{maths}

Works on Python numbers, NumPy arrays, ``Dual`` and ``Var`` values alike.

>>> {example}
{result}
"""


# -- arithmetic -----------------------------------------------------------------

add = elementwise(
    "add", np.add, operator.add, (lambda out, x, y: ONE, lambda out, x, y: ONE),
    domain=(REAL, REAL), residuals=(), symbol="+", label="{0} + {1}",
    doc=_doc("Sum x + y; d/dx = 1, d/dy = 1.",
             "adkit.add(adkit.Dual(2.0, 1.0), 3.0)", "Dual(5.000, 1.000)"),
)  # fmt: skip
subtract = elementwise(
    "subtract", np.subtract, operator.sub, (lambda out, x, y: ONE, lambda out, x, y: MINUS_ONE),
    domain=(REAL, REAL), residuals=(), symbol="-", label="{0} - {1}",
    doc=_doc("Difference x - y; d/dx = 1, d/dy = -1.",
             "adkit.subtract(3.0, adkit.Dual(2.0, 1.0))", "Dual(1.000, -1.000)"),
)  # fmt: skip
multiply = elementwise(
    "multiply", np.multiply, operator.mul, (lambda out, x, y: y, lambda out, x, y: x),
    domain=(REAL, REAL), residuals=(0, 1), symbol="*", label="{0} * {1}",
    doc=_doc("Product x y; d/dx = y, d/dy = x (the product rule).",
             "adkit.multiply(adkit.Dual(2.0, 1.0), adkit.Dual(3.0, 0.0))", "Dual(6.000, 3.000)"),
)  # fmt: skip


@quietly
def _divide_dx(out: Any, x: Any, y: Any) -> Any:
    if (type(y) is np.ndarray and y.dtype.kind != "f") or isinstance(y, (np.integer, np.bool_)):
        y = np.asarray(y, dtype=np.float64)  # NumPy's reciprocal of an integer is an integer: 1 // y
    return reciprocal(y)


@quietly
def _divide_dy(out: Any, x: Any, y: Any) -> Any:
    return -divide(out, y)


divide = elementwise(
    "divide", np.divide, _numpy_semantics(operator.truediv, np.divide),
    (_divide_dx, _divide_dy),
    domain=(REAL, NONZERO), singular=True, flops=2.0, residuals=("out", 1), symbol="/", label="{0} / {1}",
    doc=_doc("Quotient x / y; d/dx = 1/y, d/dy = -x/y^2 (the quotient rule).",
             "adkit.divide(adkit.Dual(1.0, 1.0), 2.0)", "Dual(0.500, 0.500)"),
)  # fmt: skip


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
        if type(x) is float:  # the float short path of reverse mode: same value, no dispatch
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


power = elementwise(
    "power", np.power, _float_power, (_power_dx, _power_dy),
    float_partials=(_power_dx.__wrapped__, _power_dy.__wrapped__),
    domain=(POSITIVE, SMALL), singular=True, flops=20.0,
    residuals=("out", 0, 1), symbol="**", label="{0} ** {1}",
    doc=_doc("Power x ** y; d/dx = y x^(y-1), d/dy = x^y log x.",
             "adkit.power(adkit.Dual(3.0, 1.0), 2)", "Dual(9.000, 6.000)"),
)  # fmt: skip
negative = elementwise(
    "negative", np.negative, operator.neg, (lambda out, x: MINUS_ONE,),
    domain=(REAL,), residuals=(), symbol="neg", label="-{0}",
    doc=_doc("Negation -x; d/dx = -1.", "adkit.negative(adkit.Dual(2.0, 1.0))",
             "Dual(-2.000, -1.000)"),
)  # fmt: skip
absolute = elementwise(
    "abs", np.absolute, abs, (lambda out, x: sign(x),),
    domain=(NONZERO,), residuals=(0,), symbol="abs", label="|{0}|",
    doc=_doc("Absolute value ``|x|``; d/dx = sign(x), 0 at x = 0 by convention.",
             "adkit.abs(adkit.Dual(-2.0, 1.0))", "Dual(2.000, -1.000)"),
)  # fmt: skip
abs = absolute
sign = elementwise(
    "sign", np.sign, lambda x: float((x > 0) - (x < 0)) if x == x else math.nan,
    (lambda out, x: ZERO,), domain=(NONZERO,), residuals=(), symbol="sign",
    doc=_doc("Sign of x; its derivative is 0 wherever it exists.",
             "adkit.sign(adkit.Dual(-2.0, 1.0))", "-1.0"),
)  # fmt: skip
square = elementwise(
    "square", np.square, lambda x: x * x, (lambda out, x: 2 * x,),
    domain=(REAL,), residuals=(0,), symbol="sq", label="{0}^2",
    doc=_doc("Square x^2; d/dx = 2x.", "adkit.square(adkit.Dual(3.0, 1.0))",
             "Dual(9.000, 6.000)"),
)  # fmt: skip
reciprocal = elementwise(
    "reciprocal", np.reciprocal, _numpy_semantics(lambda x: 1.0 / x, lambda x: np.divide(1.0, x)),
    (lambda out, x: -(out * out),), domain=(NONZERO,), singular=True,
    residuals=("out",), symbol="1/x", label="1 / {0}",
    doc=_doc("Reciprocal 1/x; d/dx = -1/x^2.", "adkit.reciprocal(adkit.Dual(2.0, 1.0))",
             "Dual(0.500, -0.250)"),
)  # fmt: skip

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


remainder = elementwise(
    "remainder", np.remainder, _numpy_semantics(operator.mod, np.remainder),
    (lambda out, x, y: ONE, _remainder_dy),
    domain=(_DIVIDEND, _DIVISOR), residuals=(0, 1), symbol="%", label="{0} % {1}",
    doc=_doc("Remainder x % y = x - y floor(x / y) (the sign of y, as Python's %); "
             "d/dx = 1, d/dy = -floor(x / y) between the jumps.",
             "adkit.remainder(adkit.Dual(7.5, 1.0), 2.0)", "Dual(1.500, 1.000)"),
)  # fmt: skip
mod = remainder
fmod = elementwise(
    "fmod", np.fmod, _numpy_semantics(math.fmod, np.fmod), (lambda out, x, y: ONE, _fmod_dy),
    domain=(_DIVIDEND, _DIVISOR), residuals=(0, 1), symbol="fmod",
    doc=_doc("C's remainder fmod(x, y) = x - y trunc(x / y) (the sign of x); "
             "d/dx = 1, d/dy = -trunc(x / y) between the jumps.",
             "adkit.fmod(adkit.Dual(-7.5, 1.0), 2.0)", "Dual(-1.500, 1.000)"),
)  # fmt: skip
copysign = elementwise(
    "copysign", np.copysign, math.copysign, (_copysign_dx, lambda out, x, y: ZERO),
    domain=(NONZERO, NONZERO), residuals=(0, 1), symbol="copysign",
    doc=_doc("``|x|`` with the sign of y (its sign bit: -0.0 counts as negative); "
             "d/dx = sign(x) sign(y), 0 at x = 0 as abs'(0); d/dy = 0.",
             "adkit.copysign(adkit.Dual(2.0, 1.0), -1.0)", "Dual(-2.000, -1.000)"),
)  # fmt: skip


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


floor = elementwise(
    "floor", np.floor, _on_floats(np.floor), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
    symbol="floor", label="⌊{0}⌋",
    doc=_doc("Largest integer <= x; piecewise constant, derivative 0 between the jumps.",
             "adkit.floor(adkit.Dual(2.5, 1.0))", "2.0"),
)  # fmt: skip
ceil = elementwise(
    "ceil", np.ceil, _on_floats(np.ceil), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
    symbol="ceil", label="⌈{0}⌉",
    doc=_doc("Smallest integer >= x; piecewise constant, derivative 0 between the jumps.",
             "adkit.ceil(adkit.Dual(2.5, 1.0))", "3.0"),
)  # fmt: skip
trunc = elementwise(
    "trunc", np.trunc, _on_floats(np.trunc), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
    symbol="trunc",
    doc=_doc("x rounded towards zero; piecewise constant, derivative 0 between the jumps.",
             "adkit.trunc(adkit.Dual(-2.5, 1.0))", "-2.0"),
)  # fmt: skip
rint = elementwise(
    "rint", np.rint, _on_floats(np.rint), (_zero,), domain=(BETWEEN_INTEGERS,), residuals=(),
    symbol="rint",
    doc=_doc("x rounded to the nearest integer (halves to even); derivative 0 between the jumps.",
             "adkit.rint(adkit.Dual(2.5, 1.0))", "2.0"),
)  # fmt: skip
floor_divide = elementwise(
    "floor_divide", np.floor_divide, _numpy_semantics(operator.floordiv, np.floor_divide),
    (_zero, _zero), domain=(_DIVIDEND, _DIVISOR), residuals=(), symbol="//", label="{0} // {1}",
    doc=_doc("Floor division x // y = floor(x / y); piecewise constant, derivative 0 between the jumps.",
             "adkit.floor_divide(adkit.Dual(7.5, 1.0), 2.0)", "3.0"),
)  # fmt: skip


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

exp = elementwise(
    "exp", np.exp, _numpy_semantics(math.exp, np.exp), (lambda out, x: out,),
    domain=(REAL,), flops=6.0, residuals=("out",), symbol="exp",
    doc=_doc("Exponential e^x; d/dx = e^x.", "adkit.exp(adkit.Dual(0.0, 1.0))",
             "Dual(1.000, 1.000)"),
)  # fmt: skip
expm1 = elementwise(
    "expm1", np.expm1, _numpy_semantics(math.expm1, np.expm1), (lambda out, x: out + 1.0,),
    domain=(REAL,), flops=8.0, residuals=("out",), symbol="expm1",
    doc=_doc("e^x - 1, accurate near 0; d/dx = e^x.", "adkit.expm1(adkit.Dual(0.0, 1.0))",
             "Dual(0.000, 1.000)"),
)  # fmt: skip
log = elementwise(
    "log", np.log, _numpy_semantics(math.log, np.log), (quietly(lambda out, x: reciprocal(x)),),
    float_partials=(lambda out, x: 1.0 / x,),
    domain=(POSITIVE,), singular=True, flops=6.0, residuals=(0,), symbol="ln", label="ln({0})",
    doc=_doc("Natural logarithm ln x; d/dx = 1/x (inf at 0).",
             "adkit.log(adkit.Dual(2.0, 1.0))", "Dual(0.693, 0.500)"),
)  # fmt: skip
log1p = elementwise(
    "log1p", np.log1p, _numpy_semantics(math.log1p, np.log1p),
    (quietly(lambda out, x: reciprocal(1.0 + x)),), domain=(POSITIVE,), singular=True, flops=8.0,
    residuals=(0,), symbol="log1p",
    doc=_doc("ln(1 + x), accurate near 0; d/dx = 1/(1 + x).",
             "adkit.log1p(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"),
)  # fmt: skip
log2 = elementwise(
    "log2", np.log2, _numpy_semantics(math.log2, np.log2),
    (quietly(lambda out, x: reciprocal(x * math.log(2.0))),), domain=(POSITIVE,), singular=True,
    flops=8.0, residuals=(0,), symbol="log2",
    doc=_doc("Base-2 logarithm; d/dx = 1/(x ln 2).", "adkit.log2(adkit.Dual(4.0, 1.0))",
             "Dual(2.000, 0.361)"),
)  # fmt: skip
log10 = elementwise(
    "log10", np.log10, _numpy_semantics(math.log10, np.log10),
    (quietly(lambda out, x: reciprocal(x * math.log(10.0))),), domain=(POSITIVE,),
    singular=True, flops=8.0, residuals=(0,), symbol="log10",
    doc=_doc("Base-10 logarithm; d/dx = 1/(x ln 10).", "adkit.log10(adkit.Dual(100.0, 1.0))",
             "Dual(2.000, 0.004)"),
)  # fmt: skip
sqrt = elementwise(
    "sqrt", np.sqrt, _numpy_semantics(math.sqrt, np.sqrt),
    (quietly(lambda out, x: divide(0.5, out)),), domain=(POSITIVE,), singular=True, flops=2.0,
    residuals=("out",), symbol="sqrt",
    label="sqrt({0})",
    doc=_doc("Square root; d/dx = 1/(2 sqrt x), inf at 0 by convention.",
             "adkit.sqrt(adkit.Dual(4.0, 1.0))", "Dual(2.000, 0.250)"),
)  # fmt: skip
cbrt = elementwise(
    "cbrt", np.cbrt, lambda x: float(np.cbrt(x)),
    (quietly(lambda out, x: reciprocal(3.0 * out * out)),), domain=(NONZERO,), singular=True, flops=15.0,
    residuals=("out",), symbol="cbrt",
    doc=_doc("Cube root; d/dx = 1/(3 x^(2/3)).", "adkit.cbrt(adkit.Dual(8.0, 1.0))",
             "Dual(2.000, 0.083)"),
)  # fmt: skip
logaddexp = elementwise(
    "logaddexp", np.logaddexp, lambda x, y: float(np.logaddexp(x, y)),
    (lambda out, x, y: exp(x - out), lambda out, x, y: exp(y - out)),
    domain=(REAL, REAL), flops=20.0, residuals=("out", 0, 1), symbol="logaddexp",
    doc=_doc("ln(e^x + e^y) without overflow; d/dx = e^(x - out).",
             "adkit.logaddexp(adkit.Dual(0.0, 1.0), 0.0)", "Dual(0.693, 0.500)"),
)  # fmt: skip

# -- trigonometric and hyperbolic functions ---------------------------------------

sin = elementwise(
    "sin", np.sin, _numpy_semantics(math.sin, np.sin), (lambda out, x: cos(x),),
    float_partials=(lambda out, x: math.cos(x),),
    domain=(REAL,), flops=8.0, residuals=(0,), symbol="sin",
    doc=_doc("Sine; d/dx sin x = cos x.", "adkit.sin(adkit.Dual(1.0, 1.0))",
             "Dual(0.841, 0.540)"),
)  # fmt: skip
cos = elementwise(
    "cos", np.cos, _numpy_semantics(math.cos, np.cos), (lambda out, x: -sin(x),),
    float_partials=(lambda out, x: -math.sin(x),),
    domain=(REAL,), flops=8.0, residuals=(0,), symbol="cos",
    doc=_doc("Cosine; d/dx cos x = -sin x.", "adkit.cos(adkit.Dual(0.0, 1.0))",
             "Dual(1.000, -0.000)"),
)  # fmt: skip
tan = elementwise(
    "tan", np.tan, _numpy_semantics(math.tan, np.tan), (lambda out, x: 1.0 + out * out,),
    domain=(((-1.3, 1.3),),), flops=10.0, residuals=("out",), symbol="tan",
    doc=_doc("Tangent; d/dx tan x = 1 + tan^2 x.", "adkit.tan(adkit.Dual(0.0, 1.0))",
             "Dual(0.000, 1.000)"),
)  # fmt: skip
arcsin = elementwise(
    "arcsin", np.arcsin, _numpy_semantics(math.asin, np.arcsin),
    (quietly(lambda out, x: reciprocal(sqrt(1.0 - x * x))),), domain=(OPEN_UNIT,),
    singular=True, flops=10.0, residuals=(0,), symbol="arcsin",
    doc=_doc("Inverse sine; d/dx = 1/sqrt(1 - x^2).", "adkit.arcsin(adkit.Dual(0.0, 1.0))",
             "Dual(0.000, 1.000)"),
)  # fmt: skip
arccos = elementwise(
    "arccos", np.arccos, _numpy_semantics(math.acos, np.arccos),
    (quietly(lambda out, x: -reciprocal(sqrt(1.0 - x * x))),), domain=(OPEN_UNIT,),
    singular=True, flops=10.0, residuals=(0,), symbol="arccos",
    doc=_doc("Inverse cosine; d/dx = -1/sqrt(1 - x^2).", "adkit.arccos(adkit.Dual(0.0, 1.0))",
             "Dual(1.571, -1.000)"),
)  # fmt: skip
arctan = elementwise(
    "arctan", np.arctan, _numpy_semantics(math.atan, np.arctan),
    (lambda out, x: reciprocal(1.0 + x * x),), domain=(REAL,), flops=10.0, residuals=(0,), symbol="arctan",
    doc=_doc("Inverse tangent; d/dx = 1/(1 + x^2).", "adkit.arctan(adkit.Dual(1.0, 1.0))",
             "Dual(0.785, 0.500)"),
)  # fmt: skip


@quietly
def _arctan2_dy(out: Any, y: Any, x: Any) -> Any:
    return divide(x, x * x + y * y)


@quietly
def _arctan2_dx(out: Any, y: Any, x: Any) -> Any:
    return divide(-y, x * x + y * y)


arctan2 = elementwise(
    "arctan2", np.arctan2, _numpy_semantics(math.atan2, np.arctan2), (_arctan2_dy, _arctan2_dx),
    domain=(NONZERO, NONZERO), singular=True, flops=15.0, residuals=(0, 1), symbol="arctan2",
    doc=_doc("Angle of the point (x, y), arctan2(y, x); d/dy = x/(x^2 + y^2), "
             "d/dx = -y/(x^2 + y^2).",
             "adkit.arctan2(adkit.Dual(1.0, 1.0), 1.0)", "Dual(0.785, 0.500)"),
)  # fmt: skip


@quietly
def _hypot_dx(out: Any, x: Any, y: Any) -> Any:
    return divide(x, out)


@quietly
def _hypot_dy(out: Any, x: Any, y: Any) -> Any:
    return divide(y, out)


hypot = elementwise(
    "hypot", np.hypot, _numpy_semantics(math.hypot, np.hypot), (_hypot_dx, _hypot_dy),
    domain=(NONZERO, NONZERO), singular=True, flops=4.0, residuals=("out", 0, 1), symbol="hypot",
    doc=_doc("sqrt(x^2 + y^2) without overflow; d/dx = x / hypot(x, y).",
             "adkit.hypot(adkit.Dual(3.0, 1.0), 4.0)", "Dual(5.000, 0.600)"),
)  # fmt: skip
sinh = elementwise(
    "sinh", np.sinh, _numpy_semantics(math.sinh, np.sinh), (lambda out, x: cosh(x),),
    float_partials=(lambda out, x: math.cosh(x),),
    domain=(REAL,), flops=10.0, residuals=(0,), symbol="sinh",
    doc=_doc("Hyperbolic sine; d/dx = cosh x.", "adkit.sinh(adkit.Dual(0.0, 1.0))",
             "Dual(0.000, 1.000)"),
)  # fmt: skip
cosh = elementwise(
    "cosh", np.cosh, _numpy_semantics(math.cosh, np.cosh), (lambda out, x: sinh(x),),
    float_partials=(lambda out, x: math.sinh(x),),
    domain=(REAL,), flops=10.0, residuals=(0,), symbol="cosh",
    doc=_doc("Hyperbolic cosine; d/dx = sinh x.", "adkit.cosh(adkit.Dual(0.0, 1.0))",
             "Dual(1.000, 0.000)"),
)  # fmt: skip
tanh = elementwise(
    "tanh", np.tanh, math.tanh, (lambda out, x: 1.0 - out * out,),
    domain=(REAL,), flops=8.0, residuals=("out",), symbol="tanh",
    doc=_doc("Hyperbolic tangent; d/dx = 1 - tanh^2 x.", "adkit.tanh(adkit.Dual(0.0, 1.0))",
             "Dual(0.000, 1.000)"),
)  # fmt: skip
arcsinh = elementwise(
    "arcsinh", np.arcsinh, math.asinh, (lambda out, x: reciprocal(sqrt(x * x + 1.0)),),
    domain=(REAL,), flops=15.0, residuals=(0,), symbol="arcsinh",
    doc=_doc("Inverse hyperbolic sine; d/dx = 1/sqrt(x^2 + 1).",
             "adkit.arcsinh(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"),
)  # fmt: skip
arccosh = elementwise(
    "arccosh", np.arccosh, _numpy_semantics(math.acosh, np.arccosh),
    (quietly(lambda out, x: reciprocal(sqrt((x - 1.0) * (x + 1.0)))),), domain=(ABOVE_ONE,),
    singular=True, flops=15.0, residuals=(0,), symbol="arccosh",
    doc=_doc("Inverse hyperbolic cosine; d/dx = 1/sqrt(x^2 - 1).",
             "adkit.arccosh(adkit.Dual(2.0, 1.0))", "Dual(1.317, 0.577)"),
)  # fmt: skip
arctanh = elementwise(
    "arctanh", np.arctanh, _numpy_semantics(math.atanh, np.arctanh),
    (quietly(lambda out, x: reciprocal((1.0 - x) * (1.0 + x))),), domain=(OPEN_UNIT,),
    singular=True, flops=10.0, residuals=(0,), symbol="arctanh",
    doc=_doc("Inverse hyperbolic tangent; d/dx = 1/(1 - x^2).",
             "adkit.arctanh(adkit.Dual(0.0, 1.0))", "Dual(0.000, 1.000)"),
)  # fmt: skip
sigmoid = elementwise(
    "sigmoid", _sigmoid, _float_sigmoid, (lambda out, x: out * (1.0 - out),),
    domain=(REAL,), flops=12.0, residuals=("out",), symbol="σ", label="sigmoid({0})",
    doc=_doc("Logistic sigmoid 1/(1 + e^-x); d/dx = s (1 - s).",
             "adkit.sigmoid(adkit.Dual(0.0, 1.0))", "Dual(0.500, 0.250)"),
)  # fmt: skip
softplus = elementwise(
    "softplus", lambda x: np.logaddexp(0.0, x), _float_softplus, (lambda out, x: sigmoid(x),),
    domain=(REAL,), flops=20.0, residuals=(0,), symbol="softplus",
    doc=_doc("Softplus ln(1 + e^x), without overflow; d/dx = sigmoid(x).",
             "adkit.softplus(adkit.Dual(0.0, 1.0))", "Dual(0.693, 0.500)"),
)  # fmt: skip

# -- piecewise operations -----------------------------------------------------------


def _tie_split(x: Any, y: Any, wins: Callable) -> Any:
    """1 where x wins, 1/2 at a tie, 0 where it loses (a constant mask)."""
    px, py = primal(x), primal(y)
    if type(px) is float and type(py) is float:
        return 1.0 if wins(px, py) else 0.5 if px == py else 0.0
    return np.where(wins(px, py), 1.0, np.where(px == py, 0.5, 0.0))


maximum = elementwise(
    "maximum", np.maximum, lambda x, y: float(np.maximum(x, y)),
    (lambda out, x, y: _tie_split(x, y, operator.gt), lambda out, x, y: _tie_split(y, x, operator.gt)),
    domain=(REAL, REAL), selects=True, residuals=(0, 1), symbol="max", label="max({0}, {1})",
    doc=_doc("Elementwise maximum; the derivative goes to the larger operand, half each at a tie.",
             "adkit.maximum(adkit.Dual(2.0, 1.0), 1.0)", "Dual(2.000, 1.000)"),
)  # fmt: skip
minimum = elementwise(
    "minimum", np.minimum, lambda x, y: float(np.minimum(x, y)),
    (lambda out, x, y: _tie_split(x, y, operator.lt), lambda out, x, y: _tie_split(y, x, operator.lt)),
    domain=(REAL, REAL), selects=True, residuals=(0, 1), symbol="min", label="min({0}, {1})",
    doc=_doc("Elementwise minimum; the derivative goes to the smaller operand, half each at a tie.",
             "adkit.minimum(adkit.Dual(0.5, 1.0), 1.0)", "Dual(0.500, 1.000)"),
)  # fmt: skip


def _clip_dx(out: Any, x: Any, lo: Any, hi: Any) -> Any:
    px, plo, phi = primal(x), primal(lo), primal(hi)
    return (plo <= px) & (px <= phi)


clip_p = elementwise(
    "clip", np.clip, lambda x, lo, hi: float(builtins.min(builtins.max(x, lo), hi)),
    (_clip_dx, lambda out, x, lo, hi: primal(x) < primal(lo),
     lambda out, x, lo, hi: primal(x) > primal(hi)),
    domain=(REAL, ((-2.0, -1.0),), ((1.0, 2.0),)), selects=True, residuals=(0, 1, 2), symbol="clip",
    doc="Clip x to [lo, hi]; d/dx = 1 on the closed interval, d/dlo = 1 below it, d/dhi = 1 above.",
)  # fmt: skip


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


where_p = Primitive(
    "where", _where_impl, scalar_impl=lambda c, x, y: x if c else y,
    jvps=_where_jvp, vjps=(None, _where_vjp_x, _where_vjp_y),
    residuals=(0,), symbol="where", label="where({0}, {1}, {2})",
    domain=(((0.0, 1.0),), REAL, REAL),
    cases=(Case(((3,), (3,), (3,)), make=lambda rng: (rng.random(3) > 0.5, rng.normal(size=3),
                                                      rng.normal(size=3))),
           Case(((2, 3), (3,), ()), make=lambda rng: (rng.random((2, 3)) > 0.5,
                                                      rng.normal(size=3), rng.normal()))),
    doc="Select x where the condition holds, y elsewhere; the tangent of the branch not taken "
        "is dropped.",
)  # fmt: skip


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


def _size(x: Any) -> int:
    size = 1
    for n in shape_of(x):
        size *= n
    return size


def _input_size(out: Any, x: Any, **_: Any) -> float:
    """A reduction touches every input element once."""
    return float(_size(x))


def _matmul_flops(out: Any, a: Any, b: Any) -> float:
    return 2.0 * _size(out) * shape_of(a)[-1]


def _cubic(out: Any, a: Any, *_: Any) -> float:
    """LU-based linear algebra on an n-by-n matrix."""
    n = shape_of(a)[-1]
    return float(n**3 * (_size(a) // (n * n)))


# -- shape helpers used by the rules -------------------------------------------------


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
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


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    n = len(shape)
    return tuple(1 if (i - n) in axes else s for i, s in enumerate(shape))


def _restore_reduced(ct: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> tuple[Any, tuple[int, ...]]:
    """Put back the reduced axes of a batched cotangent as unit axes; also give the full shape."""
    x_shape = shape_of(x)
    nb = ndim_of(ct) - (len(x_shape) if keepdims else len(x_shape) - len(axes))
    batch = shape_of(ct)[:nb]
    if not keepdims:
        restored = batch + _keepdims_shape(x_shape, axes)
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


def _sum_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return sum_p(t, axis=axis, keepdims=keepdims)


def _sum_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return _expand_reduced(ct, x, axis, keepdims)


_REDUCE_CASES = (
    Case(((4,),), {"axis": (-1,), "keepdims": False}),
    Case(((3, 4),), {"axis": (-2, -1), "keepdims": False}),
    Case(((3, 4),), {"axis": (-2,), "keepdims": True}),
    Case(((2, 3, 4),), {"axis": (-1,), "keepdims": False}),
)

sum_p = Primitive(
    "sum", _reduction(np.sum), jvps=(_sum_jvp,), vjps=(_sum_vjp,), flops=_input_size,
    residuals=(), symbol="Σ",
    label="sum({0})",
    cases=_REDUCE_CASES, doc="Sum over axes; linear, its transpose broadcasts back.",
)  # fmt: skip


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Sum of the elements over ``axis``: d/dx_i sum(x) = 1.

    >>> import numpy as np
    >>> adkit.sum(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
    Dual(3.000, 1.000)
    """
    return sum_p(x, axis=_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def _count(x: Any, axes: tuple[int, ...]) -> int:
    shape = shape_of(x)
    return math.prod(shape[a] for a in axes)


def _mean_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return mean_p(t, axis=axis, keepdims=keepdims)


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


mean_p = Primitive(
    "mean", _reduction(np.mean), jvps=(_mean_jvp,), vjps=(_mean_vjp,), flops=_input_size,
    residuals=(), symbol="mean",
    cases=_REDUCE_CASES, doc="Mean over axes; linear.",
)  # fmt: skip


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over ``axis``: d/dx_i mean(x) = 1/N.

    >>> import numpy as np
    >>> adkit.mean(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 0.0])))
    Dual(2.000, 0.500)
    """
    return mean_p(x, axis=_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


@quietly
def _prod_partial(out: Any, x: Any, axis: tuple) -> Any:
    """d prod / d x_i = product of the other elements, also where some x_j = 0."""
    px = primal(x)
    is_zero = px == 0
    zeros = np.sum(is_zero, axis=axis, keepdims=True)
    out_k = reshape_p(out, shape=_keepdims_shape(shape_of(x), axis))
    if not np.any(zeros):
        return out_k / x
    others = prod_p(where_p(is_zero, 1.0, x), axis=axis, keepdims=True)
    safe_x = where_p(is_zero, 1.0, x)
    return where_p(zeros == 0, out_k / safe_x, where_p(is_zero & (zeros == 1), others, 0.0))


def _prod_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return sum_p(t * _prod_partial(out, x, axis), axis=axis, keepdims=keepdims)


def _prod_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return _expand_reduced(ct, x, axis, keepdims) * _prod_partial(out, x, axis)


prod_p = Primitive(
    "prod", _reduction(np.prod), jvps=(_prod_jvp,), vjps=(_prod_vjp,), flops=_input_size,
    residuals=("out", 0), symbol="Π",
    label="prod({0})",
    cases=_REDUCE_CASES, domain=(NONZERO,),
    doc="Product over axes; d/dx_i = product of the others (exact with zeros too).",
)  # fmt: skip


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Product over ``axis``: d/dx_i prod(x) = prod_{j != i} x_j.

    >>> import numpy as np
    >>> adkit.prod(adkit.Dual(np.array([2.0, 3.0]), np.array([1.0, 0.0])))
    Dual(6.000, 3.000)
    """
    return prod_p(x, axis=_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def _extremum_mask(out: Any, x: Any, axis: tuple) -> np.ndarray:
    """Where ``x`` attains the extremum, 1/(number of ties); a constant."""
    px = primal(x)
    hit = px == np.reshape(primal(out), _keepdims_shape(shape_of(x), axis))
    return hit / np.sum(hit, axis=axis, keepdims=True)


def _extremum_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return sum_p(select(t, _extremum_mask(out, x, axis)), axis=axis, keepdims=keepdims)


def _extremum_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return select(_expand_reduced(ct, x, axis, keepdims), _extremum_mask(out, x, axis))


max_p = Primitive(
    "max", _reduction(np.max), jvps=(_extremum_jvp,), vjps=(_extremum_vjp,), flops=_input_size,
    residuals=("out", 0), symbol="max",
    cases=_REDUCE_CASES, doc="Maximum over axes; ties share the derivative evenly.",
)  # fmt: skip
min_p = Primitive(
    "min", _reduction(np.min), jvps=(_extremum_jvp,), vjps=(_extremum_vjp,), flops=_input_size,
    residuals=("out", 0), symbol="min",
    cases=_REDUCE_CASES, doc="Minimum over axes; ties share the derivative evenly.",
)  # fmt: skip


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Maximum over ``axis``; the derivative goes to the maximal element (split at ties).

    >>> import numpy as np
    >>> adkit.max(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 2.0])))
    Dual(3.000, 2.000)
    """
    return max_p(x, axis=_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Minimum over ``axis``; the derivative goes to the minimal element (split at ties).

    >>> import numpy as np
    >>> adkit.min(adkit.Dual(np.array([1.0, 3.0]), np.array([1.0, 2.0])))
    Dual(1.000, 1.000)
    """
    return min_p(x, axis=_axes(axis, ndim_of(x)), keepdims=bool(keepdims))


def _cumsum_jvp(t: Any, out: Any, x: Any, *, axis: int) -> Any:
    return cumsum_p(t, axis=axis)


def _reverse_along(x: Any, axis: int) -> Any:
    return getitem_p(x, index=(Ellipsis, slice(None, None, -1)) + (slice(None),) * (-axis - 1))


def _cumsum_vjp(ct: Any, out: Any, x: Any, *, axis: int) -> Any:
    # The transpose of a running sum is the running sum taken from the end.
    return _reverse_along(cumsum_p(_reverse_along(ct, axis), axis=axis), axis)


def _cumsum_impl(x: Any, *, axis: int) -> Any:
    return np.cumsum(x, axis=axis)


cumsum_p = Primitive(
    "cumsum", _cumsum_impl, jvps=(_cumsum_jvp,), vjps=(_cumsum_vjp,), residuals=(), symbol="cumsum",
    cases=(Case(((5,),), {"axis": -1}), Case(((3, 4),), {"axis": -2})),
    doc="Running sum along an axis; linear, its transpose runs from the end.",
)  # fmt: skip


def cumsum(x: Any, axis: int | None = None) -> Any:
    """Running sum along ``axis`` (flattened when ``None``): d out_i / d x_j = [j <= i].

    >>> import numpy as np
    >>> adkit.cumsum(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])))
    Dual(array([1., 3.]), array([1., 1.]))
    """
    if axis is None:
        x = reshape(x, -1)
        axis = 0
    return cumsum_p(x, axis=_axes(axis, ndim_of(x))[0])


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
                  Case(((),), {"shape": (1, 1)}))  # fmt: skip

reshape_p = Primitive(
    "reshape", _reshape_impl, jvps=(_reshape_jvp,), vjps=(_reshape_vjp,), flops=0.0,
    residuals=(), symbol="reshape",
    cases=_RESHAPE_CASES, doc="Same elements, new shape; linear.",
)  # fmt: skip


def _resolve_shape(shape: Any, size: int) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return np.empty(size, dtype=np.int8).reshape(shape).shape if -1 in shape else shape


def _memory_order(x: Any, order: Any, allowed: str, what: str) -> str:
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
    size = math.prod(shape_of(x))
    shape = _resolve_shape(shape, size)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape an array of size {size} into shape {shape}")
    if order != "C" and _memory_order(x, order, "CFA", "reshaping") == "F":
        return transpose(reshape_p(transpose(x), shape=shape[::-1]))
    return reshape_p(x, shape=shape)


def _squeeze_impl(x: Any, *, shape: tuple) -> Any:
    return np.reshape(x, shape)


squeeze_p = Primitive(
    "squeeze", _squeeze_impl, jvps=(_reshape_jvp,), vjps=(_reshape_vjp,), flops=0.0,
    residuals=(), symbol="squeeze",
    cases=(Case(((1, 3, 1),), {"shape": (3,)}),), doc="Drop axes of length one; linear.",
)  # fmt: skip
expand_dims_p = Primitive(
    "expand_dims", _squeeze_impl, jvps=(_reshape_jvp,), vjps=(_reshape_vjp,),
    flops=0.0, residuals=(), symbol="expand_dims", cases=(Case(((3,),), {"shape": (1, 3)}),),
    doc="Insert axes of length one; linear.",
)  # fmt: skip


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
        axes = tuple(a + len(shape) for a in _axes(axis, len(shape)))
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
    resolved = _memory_order(x, order, "CFAK", "ravelling")
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


transpose_p = Primitive(
    "transpose", _transpose_impl, jvps=(_transpose_jvp,), vjps=(_transpose_vjp,),
    flops=0.0, residuals=(), symbol="T", label="{0}ᵀ",
    cases=(Case(((2, 3),), {"axes": (1, 0)}), Case(((2, 3, 4),), {"axes": (2, 0, 1)})),
    doc="Permute axes; linear, its transpose applies the inverse permutation.",
)  # fmt: skip


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


broadcast_to_p = Primitive(
    "broadcast_to", _broadcast_to_impl, jvps=(_broadcast_to_jvp,), vjps=(_broadcast_to_vjp,),
    residuals=(), symbol="bcast", label="broadcast({0})",
    cases=(Case(((3,),), {"shape": (2, 3)}), Case(((2, 1),), {"shape": (2, 4)}),
           Case(((),), {"shape": (3,)})),
    doc="Repeat along new or unit axes; linear, its transpose sums them.",
)  # fmt: skip


def broadcast_to(x: Any, shape: Any) -> Any:
    """``x`` repeated to ``shape`` by NumPy's broadcasting rules.

    >>> import numpy as np
    >>> adkit.broadcast_to(adkit.Dual(1.0, 1.0), (2,))
    Dual(array([1., 1.]), array([1., 1.]))
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return broadcast_to_p(x, shape=shape)


def _astype_jvp(t: Any, out: Any, x: Any, *, dtype: np.dtype) -> Any:
    return astype_p(t, dtype=dtype)


def _astype_vjp(ct: Any, out: Any, x: Any, *, dtype: np.dtype) -> Any:
    return astype_p(ct, dtype=_float_type(x))  # back in the operand's own type


def _astype_impl(x: Any, *, dtype: np.dtype) -> Any:
    return np.asarray(x).astype(dtype)[()]


astype_p = Primitive(
    "astype", _astype_impl, jvps=(_astype_jvp,), vjps=(_astype_vjp,), flops=0.0, residuals=(),
    symbol="astype", label="{0}.astype({dtype})",
    cases=(Case(((3,),), {"dtype": np.dtype(np.float64)}), Case(((2, 3),), {"dtype": np.dtype(np.float64)})),
    doc="The values in another floating-point type; linear (tangents and cotangents are cast likewise).",
)  # fmt: skip


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
    """Tangents with explicit zeros (of the right batch shape) for constants."""
    batch = next(shape_of(t)[: batch_ndim(t, x)] for t, x in zip(tangents, operands) if t is not None)
    return [np.zeros(batch + shape_of(x)) if t is None else t for t, x in zip(tangents, operands)]


def _concatenate_jvp(tangents: Sequence[Any], out: Any, *xs: Any, axis: int) -> Any:
    return concatenate_p(*_zeros_for(tangents, xs), axis=axis)


def _concatenate_vjp(i: int, ct: Any, out: Any, *xs: Any, axis: int) -> Any:
    start = builtins.sum(shape_of(x)[axis] for x in xs[:i])
    stop = start + shape_of(xs[i])[axis]
    return getitem_p(ct, index=(Ellipsis, slice(start, stop)) + (slice(None),) * (-axis - 1))


def _concatenate_impl(*xs: Any, axis: int) -> Any:
    return np.concatenate(xs, axis=axis)


concatenate_p = Primitive(
    "concatenate", _concatenate_impl, jvps=_concatenate_jvp, vjps=_concatenate_vjp,
    residuals=(), symbol="concat",
    cases=(Case(((2,), (3,)), {"axis": -1}), Case(((2, 3), (1, 3), (2, 3)), {"axis": -2})),
    doc="Join arrays along an axis; linear, its transpose slices.",
)  # fmt: skip


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
    return concatenate_p(*arrays, axis=_axes(axis, n)[0])


def _stack_jvp(tangents: Sequence[Any], out: Any, *xs: Any, axis: int) -> Any:
    return stack_p(*_zeros_for(tangents, xs), axis=axis)


def _stack_vjp(i: int, ct: Any, out: Any, *xs: Any, axis: int) -> Any:
    return getitem_p(ct, index=(Ellipsis, i) + (slice(None),) * (-axis - 1))


def _stack_impl(*xs: Any, axis: int) -> Any:
    return np.stack(xs, axis=axis)


stack_p = Primitive(
    "stack", _stack_impl, jvps=_stack_jvp, vjps=_stack_vjp, residuals=(), symbol="stack",
    cases=(Case(((), ()), {"axis": -1}), Case(((3,), (3,), (3,)), {"axis": -2}),
           Case(((2, 3), (2, 3)), {"axis": -1})),
    doc="Join arrays along a new axis; linear, its transpose takes them apart.",
)  # fmt: skip


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
    return stack_p(*arrays, axis=_axes(axis, ndim_of(arrays[0]) + 1)[0])


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


getitem_p = Primitive(
    "getitem", _getitem_impl, jvps=(_getitem_jvp,), vjps=(_getitem_vjp,), residuals=(), symbol="[]",
    label="{0}[{index}]",
    cases=(Case(((4,),), {"index": (1,)}), Case(((4,),), {"index": (slice(1, 3),)}),
           Case(((3, 4),), {"index": (np.array([0, 2, 0]),)}),
           Case(((3, 4, 5),), {"index": (np.array([0, 2]), slice(None), np.array([1, 3]))}),
           Case(((3, 4),), {"index": (Ellipsis, None, 1)})),
    doc="Basic and integer-array indexing; linear, its transpose scatter-adds.",
)  # fmt: skip


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


index_add_p = Primitive(
    "index_add", _index_add_impl, jvps=(_index_add_jvp,), vjps=(_index_add_vjp,),
    residuals=(), symbol="+[]", label="zeros{shape}.at[{index}].add({0})",
    cases=(Case(((3,),), {"index": (np.array([0, 1, 0]),), "shape": (4,)}),
           Case(((2,),), {"index": (slice(1, 3),), "shape": (4,)})),
    doc="Add into zeros of a shape at an index (the transpose of indexing); linear.",
)  # fmt: skip


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


matmul = Primitive(
    "matmul", np.matmul, jvps=(_matmul_jvp_a, _matmul_jvp_b),
    vjps=(_matmul_vjp_a, _matmul_vjp_b), flops=_matmul_flops, residuals=(0, 1), symbol="@", label="{0} @ {1}",
    cases=(Case(((2, 3), (3, 4))), Case(((3,), (3, 4))), Case(((2, 3), (3,))), Case(((3,), (3,))),
           Case(((2, 2, 3), (3, 4))), Case(((3, 4), (2, 4, 2))), Case(((3,), (2, 3, 2))),
           Case(((2, 1, 2, 3), (3, 3, 2))), Case(((2, 2, 3), (3,)))),
    doc=_doc("Matrix product a @ b; bilinear: d(a @ b) = da @ b + a @ db.",
             "adkit.matmul(adkit.Dual(np.eye(2), np.eye(2)), np.ones(2))",
             "Dual(array([1., 1.]), array([1., 1.]))"),
)  # fmt: skip


def dot(a: Any, b: Any) -> Any:
    """``np.dot`` for arrays of at most two axes (a product or a matrix product).

    >>> import numpy as np
    >>> adkit.dot(adkit.Dual(np.array([1.0, 2.0]), np.array([1.0, 0.0])), np.array([3.0, 4.0]))
    Dual(11.000, 3.000)
    """
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return multiply(a, b)
    if ndim_of(a) > 2 or ndim_of(b) > 2:
        raise NotImplementedError(
            "adkit's dot handles arrays of at most two axes; for stacks of matrices use "
            "np.matmul (the @ operator), which broadcasts over the leading axes."
        )
    return matmul(a, b)


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
    return rng.normal(size=(*stack, n, n)) + 3.0 * np.eye(n)


#: square matrices, one and a stack of two (linear algebra broadcasts over leading axes)
_SQUARE_CASES = (Case(((3, 3),), make=lambda rng: (_well_conditioned(rng),)),
                 Case(((2, 3, 3),), make=lambda rng: (_well_conditioned(rng, stack=(2,)),)))  # fmt: skip


inv = Primitive(
    "inv", np.linalg.inv, jvps=(_inv_jvp,), vjps=(_inv_vjp,), flops=_cubic,
    residuals=("out",), symbol="inv", label="inv({0})",
    cases=_SQUARE_CASES,
    doc=_doc("Matrix inverse; d inv(X) = -inv(X) dX inv(X).",
             "adkit.inv(adkit.Dual(np.array([[2.0]]), np.array([[1.0]])))",
             "Dual(array([[0.5]]), array([[-0.25]]))"),
)  # fmt: skip


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


cofactor_p = Primitive(
    "cofactor", _cofactor_impl, jvps=(_cofactor_jvp,), vjps=(_cofactor_vjp,), flops=_cubic,
    residuals=(0,), symbol="cof", label="cof({0})", cases=_SQUARE_CASES,
    doc="The cofactor matrix C(X) = adj(X)ᵀ, the gradient of det, at every matrix; "
        "dC is det's second derivative.",
)  # fmt: skip


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
            + d * _swap_last(matmul(wt, wew) + matmul(wew, matmul(t, w))))  # fmt: skip


def _cofactor_jvp_vjp_x(ct: Any, out: Any, x: Any, e: Any) -> Any:
    """The transpose of :func:`_cofactor_jvp_jvp_x` in its tangent."""
    w = _well_conditioned_inverse(x)
    d = reshape_p(det(x), shape=shape_of(x)[:-2] + (1, 1))
    w_t, ct_t = _swap_last(w), _swap_last(ct)
    wew_t = _swap_last(matmul(matmul(w, e), w))
    ct_x = (sum_p(ct * out, axis=(-2, -1), keepdims=True) * w_t
            - d * sum_p(ct * w_t, axis=(-2, -1), keepdims=True) * wew_t
            - d * _trace_of_product(w, e) * matmul(matmul(w_t, ct_t), w_t)
            + d * (matmul(matmul(w_t, ct_t), wew_t) + matmul(matmul(wew_t, ct_t), w_t)))  # fmt: skip
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


cofactor_jvp_p = Primitive(
    "cofactor_jvp", _cofactor_jvp_impl, jvps=(_cofactor_jvp_jvp_x, _cofactor_jvp_jvp_e),
    vjps=(_cofactor_jvp_vjp_x, _cofactor_jvp_vjp_e), flops=_cubic, residuals=("out", 0, 1),
    symbol="dcof", label="dcof({0})[{1}]",
    cases=(Case(((3, 3), (3, 3)), make=_square_and_direction),
           Case(((2, 3, 3), (2, 3, 3)), make=lambda rng: _square_and_direction(rng, (2,))),
           Case(((2, 3, 3), (3, 3)), make=lambda rng: (_tame(rng, (2,)), rng.normal(size=(3, 3)))),
           Case(((3, 3), (2, 3, 3)), make=lambda rng: (_tame(rng), rng.normal(size=(2, 3, 3))))),
    doc="The derivative of the cofactor matrix, dC(X)[E], linear in E: det's second derivative "
        "at every matrix, its third (by inv) where X is well conditioned.",
)  # fmt: skip


def _det_jvp(t: Any, out: Any, x: Any) -> Any:
    return _frobenius(cofactor_p(x), t)


def _det_vjp(ct: Any, out: Any, x: Any) -> Any:
    return reshape_p(ct, shape=shape_of(ct) + (1, 1)) * cofactor_p(x)


def _singular(rng: np.random.Generator, rank: int, stack: tuple[int, ...] = ()) -> tuple[np.ndarray]:
    """A 3 x 3 matrix (or a stack) of the given rank: det's derivatives must hold there too."""
    return (np.matmul(rng.normal(size=(*stack, 3, rank)), rng.normal(size=(*stack, rank, 3))),)


det = Primitive(
    "det", np.linalg.det, jvps=(_det_jvp,), vjps=(_det_vjp,), flops=_cubic,
    residuals=(0,), symbol="det", label="det({0})",
    cases=_SQUARE_CASES + (Case(((3, 3),), make=lambda rng: _singular(rng, 2)),
                           Case(((2, 3, 3),), make=lambda rng: _singular(rng, 1, (2,))),
                           Case(((3, 3),), make=lambda rng: (np.zeros((3, 3)),))),
    doc=_doc("Determinant; d det(X) = <C(X), dX> with C the cofactor matrix (det(X) inv(X)ᵀ "
             "where X is invertible, Jacobi's formula), at singular matrices too.",
             "adkit.det(adkit.Dual(2.0 * np.eye(2), np.eye(2)))", "Dual(4.000, 4.000)"),
)  # fmt: skip


def _logabsdet_jvp(t: Any, out: Any, x: Any) -> Any:
    return _frobenius(_swap_last(inv(x)), t)


def _logabsdet_vjp(ct: Any, out: Any, x: Any) -> Any:
    return reshape_p(ct, shape=shape_of(ct) + (1, 1)) * _swap_last(inv(x))


def _logabsdet_impl(x: Any) -> Any:
    return np.linalg.slogdet(x)[1]


logabsdet = Primitive(
    "logabsdet", _logabsdet_impl, jvps=(_logabsdet_jvp,), vjps=(_logabsdet_vjp,),
    flops=_cubic, residuals=(0,), symbol="log|det|", label="log|det({0})|",
    cases=_SQUARE_CASES,
    doc="``ln |det X|``; d = tr(inv(X) dX).",
)  # fmt: skip


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
    "solve", _solve_impl, jvps=(_solve_jvp_a, _solve_jvp_b), vjps=(_solve_vjp_a, _solve_vjp_b),
    flops=_cubic, residuals=("out", 0), symbol="solve", label="solve({0}, {1})",
    cases=(Case(((3, 3), (3,)), make=lambda rng: (_well_conditioned(rng), rng.normal(size=3))),
           Case(((3, 3), (3, 2)), make=lambda rng: (_well_conditioned(rng), rng.normal(size=(3, 2)))),
           # stacks, as the rules of an inner differentiation make them: b's stack, a's stack, both
           Case(((3, 3), (2, 3, 2)), make=lambda rng: (_well_conditioned(rng), rng.normal(size=(2, 3, 2)))),
           Case(((2, 3, 3), (3,)), make=lambda rng: (_well_conditioned(rng, stack=(2,)), rng.normal(size=3))),
           Case(((2, 1, 3, 3), (2, 3, 1)),
                make=lambda rng: (_well_conditioned(rng, stack=(2, 1)), rng.normal(size=(2, 3, 1))))),
    doc="Solution of A x = b; dx = solve(A, db - dA x).",
)  # fmt: skip


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
    out_k = reshape_p(out, shape=_keepdims_shape(shape_of(x), axis))
    # At x = 0 every subgradient has norm <= 1; 0 is the one of least norm.
    return where_p(primal(out_k) == 0, 0.0, x / out_k)


def _norm_jvp(t: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return sum_p(t * _norm_ratio(x, out, axis), axis=axis, keepdims=keepdims)


def _norm_vjp(ct: Any, out: Any, x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return _expand_reduced(ct, x, axis, keepdims) * _norm_ratio(x, out, axis)


def _norm_impl(x: Any, *, axis: tuple, keepdims: bool) -> Any:
    return np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims))


norm_p = Primitive(
    "norm", _norm_impl, jvps=(_norm_jvp,), vjps=(_norm_vjp,), flops=_input_size,
    residuals=("out", 0), symbol="‖·‖", label="‖{0}‖",
    cases=_REDUCE_CASES, domain=(NONZERO,),
    doc="Euclidean (Frobenius) norm over axes; d‖x‖ = <x, dx>/‖x‖, 0 at x = 0.",
)  # fmt: skip


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector or matrix norm as ``np.linalg.norm``: d‖x‖₂ = <x, dx>/‖x‖₂.

    The 2-norm of vectors and the Frobenius norm of matrices are primitives;
    vector norms of other orders are built from ``abs``, ``sum`` and ``max``.

    >>> import numpy as np
    >>> adkit.norm(adkit.Dual(np.array([3.0, 4.0]), np.array([1.0, 0.0])))
    Dual(5.000, 0.600)
    """
    n = ndim_of(x)
    axes = _axes(axis, n)
    vector = len(axes) == 1 or (axis is None and n == 1)
    if ord is None or (ord == 2 and vector) or (ord == "fro" and not vector):
        if axis is None and n > 2 and ord is not None:
            raise ValueError("Improper number of dimensions to norm.")
        return norm_p(x, axis=axes, keepdims=bool(keepdims))
    if (vector and ord in (1, np.inf, -np.inf)) or (vector and isinstance(ord, (int, float)) and ord > 0):
        magnitude = absolute(x)
        if ord == np.inf:
            return max(magnitude, axis=axes, keepdims=keepdims)
        if ord == -np.inf:
            return min(magnitude, axis=axes, keepdims=keepdims)
        if ord == 1:
            return sum(magnitude, axis=axes, keepdims=keepdims)
        return power(sum(power(magnitude, ord), axis=axes, keepdims=keepdims), 1.0 / ord)
    raise NotImplementedError(
        f"adkit has no rule for np.linalg.norm with ord={ord!r} over axis={axis!r}; supported: "
        "the 2-norm and other p-norms of vectors, and the Frobenius norm of matrices. Register "
        "your own with adkit.primitive."
    )


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
    axes = _axes(axis, ndim_of(x))
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


# -- first-order reverse rules on plain arrays ----------------------------------------
# A gradient's sweep runs the rules above on plain NumPy values, where their
# generality (nestable operations, batched cotangents) costs Python time per
# operation and buys nothing. ``fast_vjp`` is the same maths for that case:
# every operand at once, NumPy directly. Each falls back to the general rules
# when the cotangent carries batch axes, and tests check each against them.
# The elementwise operations not written out here get theirs from their
# partials (after the table, below).


def _each_operand(prim: Primitive, ct: Any, out: Any, primals: Sequence[Any], params: dict,
                  parents: Sequence[int | None]) -> list[Any]:  # fmt: skip
    """The general rules, operand by operand (``None`` for constants)."""
    return [None if p is None else prim.vjp(i, ct, out, primals, params) for i, p in enumerate(parents)]


def _partials_fast_vjp(prim: Primitive) -> Callable[..., list[Any]]:
    """An elementwise operation's rule: each traced operand's partial, one call each."""
    partials, singular, selects = prim.partials, prim.singular, prim.selects
    assert partials is not None

    def fast_vjp(ct: Any, out: Any, primals: Sequence[Any], params: dict,
                 parents: Sequence[int | None]) -> list[Any]:  # fmt: skip
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
                    parents: Sequence[int | None]) -> list[Any]:  # fmt: skip
    """``x ** c`` for a constant ``c`` (a square, most often): ``ct c x^(c-1)``."""
    x, y = primals
    if parents[1] is None and type(ct) is np.ndarray and type(x) is np.ndarray and ct.shape == x.shape:
        d = _power_dx.__wrapped__(out, x, y)  # the sweep already silences NumPy's warnings
        if type(d) is np.ndarray and np.logical_and.reduce(np.isfinite(d), axis=None):
            return [ct * d, None]  # else zero cotangents must stay zero where d is infinite: below
    return _power_partials_vjp(ct, out, primals, params, parents)


def _tanh_fast_vjp(ct: Any, out: Any, primals: Sequence[Any], params: dict,
                   parents: Sequence[int | None]) -> list[Any]:  # fmt: skip
    """``ct (1 - out²)`` in one buffer: what a hand-written backprop computes, without its temporaries."""
    if type(ct) is np.ndarray and type(out) is np.ndarray and ct.shape == out.shape:
        d = np.multiply(out, out)
        np.subtract(1.0, d, out=d)
        return [np.multiply(ct, d, out=d)]
    return _each_operand(tanh, ct, out, primals, params, parents)


def _matmul_fast_vjp(ct: Any, out: Any, primals: Sequence[Any], params: dict,
                     parents: Sequence[int | None]) -> list[Any]:  # fmt: skip
    """Matrices: ``ct bᵀ`` and ``aᵀ ct``; anything else (vectors, stacks, batches) by the general rule."""
    a, b = primals
    if type(ct) is np.ndarray and ct.ndim == 2 and type(a) is np.ndarray and a.ndim == 2 \
            and type(b) is np.ndarray and b.ndim == 2:  # fmt: skip
        return [None if parents[0] is None else np.matmul(ct, b.T),
                None if parents[1] is None else np.matmul(a.T, ct)]  # fmt: skip
    return _each_operand(matmul, ct, out, primals, params, parents)


_power_partials_vjp = _partials_fast_vjp(power)
power.fast_vjp = _power_fast_vjp
tanh.fast_vjp = _tanh_fast_vjp
matmul.fast_vjp = _matmul_fast_vjp


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
    )
}  # fmt: skip

# every other elementwise primitive pulls back through its partials at first order
for _prim in PRIMITIVES.values():
    if _prim.partials is not None and _prim.fast_vjp is None:
        _prim.fast_vjp = _partials_fast_vjp(_prim)

#: Docstrings of the primitives, collected so that doctest runs their examples.
__test__ = {name: p.__doc__ for name, p in PRIMITIVES.items() if ">>>" in (p.__doc__ or "")}
