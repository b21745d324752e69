"""The symbolic baseline: derivatives with sympy, and why their expressions swell.

Symbolic differentiation applies the rules of calculus to an *expression*
and returns another expression: exact, and printable, but an expression is
a tree, so a value used twice is written out twice. Differentiate the
logistic map ``l_{k+1} = 4 l_k (1 - l_k)`` k times over and the derivative's
tree grows like ``2^k`` (*expression swell*), while AD records about three
operations per step, ``3k``, and its sweep visits each once. Eliminating
common subexpressions (``sympy.cse``) recovers a linear size: AD is, in a
sense, symbolic differentiation that never forgets shared values.

sympy is optional: it is imported when a function here is called, and a
clear error says how to install it when it is missing.

>>> import numpy as np
>>> symbolic_derivative(lambda x: np.sin(x) * x)
x*cos(x) + sin(x)
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from adkit.reverse import Tape


def _sympy() -> Any:
    """The sympy module, or an ImportError saying how to get it."""
    try:
        import sympy
    except ImportError:
        raise ImportError(
            "adkit.symbolic needs sympy, an optional dependency of adkit: install it with "
            "`pip install sympy` (or `pip install 'adkit[compare]'`)"
        ) from None
    return sympy


# NumPy ufunc name -> how to write it with sympy.
_UFUNCS: dict[str, Callable[..., Any]] = {
    "add": lambda sp, a, b: a + b,
    "subtract": lambda sp, a, b: a - b,
    "multiply": lambda sp, a, b: a * b,
    "divide": lambda sp, a, b: a / b,
    "true_divide": lambda sp, a, b: a / b,
    "power": lambda sp, a, b: a**b,
    "negative": lambda sp, a: -a,
    "positive": lambda sp, a: a,
    "square": lambda sp, a: a**2,
    "reciprocal": lambda sp, a: 1 / a,
    "absolute": lambda sp, a: sp.Abs(a),
    "sqrt": lambda sp, a: sp.sqrt(a),
    "cbrt": lambda sp, a: sp.cbrt(a),
    "exp": lambda sp, a: sp.exp(a),
    "expm1": lambda sp, a: sp.exp(a) - 1,
    "log": lambda sp, a: sp.log(a),
    "log1p": lambda sp, a: sp.log(1 + a),
    "log2": lambda sp, a: sp.log(a, 2),
    "log10": lambda sp, a: sp.log(a, 10),
    "sin": lambda sp, a: sp.sin(a),
    "cos": lambda sp, a: sp.cos(a),
    "tan": lambda sp, a: sp.tan(a),
    "arcsin": lambda sp, a: sp.asin(a),
    "arccos": lambda sp, a: sp.acos(a),
    "arctan": lambda sp, a: sp.atan(a),
    "arctan2": lambda sp, a, b: sp.atan2(a, b),
    "sinh": lambda sp, a: sp.sinh(a),
    "cosh": lambda sp, a: sp.cosh(a),
    "tanh": lambda sp, a: sp.tanh(a),
    "arcsinh": lambda sp, a: sp.asinh(a),
    "arccosh": lambda sp, a: sp.acosh(a),
    "arctanh": lambda sp, a: sp.atanh(a),
    "hypot": lambda sp, a, b: sp.sqrt(a**2 + b**2),
}


class _Symbolic:
    """A sympy expression that plain NumPy code can compute with (scalar operations only)."""

    __slots__ = ("expr",)
    __array_priority__ = 1000

    def __init__(self, expr: Any):
        self.expr = expr

    @staticmethod
    def _unwrap(x: Any) -> Any:
        if isinstance(x, _Symbolic):
            return x.expr
        if isinstance(x, np.ndarray) and x.ndim == 0:
            x = x.item()
        if isinstance(x, (numbers.Number, np.generic)):
            return _sympy().sympify(x.item() if isinstance(x, np.generic) else x)
        raise TypeError(
            f"symbolic differentiation handles scalar functions; got a {type(x).__name__} operand"
        )

    def _op(self, name: str, *operands: Any) -> _Symbolic:
        return _Symbolic(_UFUNCS[name](_sympy(), *(self._unwrap(x) for x in operands)))

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs or ufunc.__name__ not in _UFUNCS:
            raise TypeError(
                f"adkit.symbolic cannot translate np.{ufunc.__name__} to sympy; it knows "
                f"{', '.join(sorted(_UFUNCS))}"
            )
        return self._op(ufunc.__name__, *inputs)

    def __add__(self, other: Any) -> _Symbolic:
        return self._op("add", self, other)

    def __radd__(self, other: Any) -> _Symbolic:
        return self._op("add", other, self)

    def __sub__(self, other: Any) -> _Symbolic:
        return self._op("subtract", self, other)

    def __rsub__(self, other: Any) -> _Symbolic:
        return self._op("subtract", other, self)

    def __mul__(self, other: Any) -> _Symbolic:
        return self._op("multiply", self, other)

    def __rmul__(self, other: Any) -> _Symbolic:
        return self._op("multiply", other, self)

    def __truediv__(self, other: Any) -> _Symbolic:
        return self._op("divide", self, other)

    def __rtruediv__(self, other: Any) -> _Symbolic:
        return self._op("divide", other, self)

    def __pow__(self, other: Any) -> _Symbolic:
        return self._op("power", self, other)

    def __rpow__(self, other: Any) -> _Symbolic:
        return self._op("power", other, self)

    def __neg__(self) -> _Symbolic:
        return self._op("negative", self)

    def __pos__(self) -> _Symbolic:
        return self

    def __abs__(self) -> _Symbolic:
        return self._op("absolute", self)

    def __bool__(self) -> bool:
        raise TypeError(
            "a symbolic value has no truth value: symbolic differentiation cannot follow an `if` "
            "on the input (AD can: it differentiates the branch taken)"
        )

    # Comparing a symbol with a number only ever feeds an `if`: say so at the comparison.
    def __lt__(self, other: Any) -> bool:
        return self.__bool__()

    __le__ = __gt__ = __ge__ = __lt__


def _variables(f: Callable[..., Any]) -> list[str]:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # NumPy ufuncs and builtins: one argument
        return ["x"]
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if not positional:
        raise TypeError("symbolic differentiation needs a function of at least one positional argument")
    return [p.name for p in positional]


def to_sympy(f: Callable[..., Any]) -> Any:
    """The sympy expression of a scalar function written with NumPy: ``f ↦ f(x)`` with ``x`` a symbol.

    The symbols are named after ``f``'s parameters, and are real (adkit
    differentiates real functions: ``d|x|/dx = sign(x)``).

    >>> import numpy as np
    >>> to_sympy(lambda x, y: np.exp(x) * y)
    y*exp(x)
    """
    sp = _sympy()
    if not callable(f):
        raise TypeError(f"to_sympy needs a function, got {type(f).__name__}")
    symbols = [sp.Symbol(name, real=True) for name in _variables(f)]
    out = f(*(_Symbolic(s) for s in symbols))
    return _Symbolic._unwrap(out)


def symbolic_derivative(f_or_expression: Any, wrt: Any = None, simplify: bool = False) -> Any:
    """The derivative by the rules of calculus on an expression: ``d/dx f(x)`` with sympy.

    Args:
        f_or_expression: a scalar function written with NumPy (``np.sin``,
            ``*``, ``**``, ...; its parameters name the symbols), or a sympy
            expression.
        wrt: the variable (a sympy Symbol or its name); by default the only
            one. For a function of several variables without ``wrt``, the
            tuple of partial derivatives (the gradient).
        simplify: apply ``sympy.simplify`` to the result.

    Returns:
        a sympy expression (a tuple of them for a gradient).

    >>> import numpy as np
    >>> symbolic_derivative(lambda x: x ** 3)
    3*x**2
    >>> symbolic_derivative(lambda x, y: x * np.sin(y))
    (sin(y), x*cos(y))
    """
    sp = _sympy()
    if isinstance(f_or_expression, sp.Basic):
        expr = f_or_expression
        variables = sorted(expr.free_symbols, key=lambda s: s.name)
    elif callable(f_or_expression):
        expr = to_sympy(f_or_expression)
        variables = [sp.Symbol(name, real=True) for name in _variables(f_or_expression)]
    else:
        raise TypeError(
            "symbolic_derivative needs a function written with NumPy or a sympy expression, "
            f"got {type(f_or_expression).__name__}"
        )
    finish = sp.simplify if simplify else (lambda e: e)
    if wrt is not None:
        symbol = wrt
        if isinstance(wrt, str):
            symbol = next((v for v in variables if v.name == wrt), sp.Symbol(wrt, real=True))
        if not isinstance(symbol, sp.Symbol):
            raise TypeError(f"wrt must be a sympy Symbol or a name, got {type(wrt).__name__}")
        if variables and symbol not in variables:
            raise ValueError(f"wrt={symbol} is not a variable of the expression (its variables: {variables})")
        return finish(sp.diff(expr, symbol))
    if not variables:
        return sp.Integer(0)
    derivatives = tuple(finish(sp.diff(expr, v)) for v in variables)
    return derivatives[0] if len(derivatives) == 1 else derivatives


def expression_size(expr: Any) -> int:
    """The size of an expression tree: ``sympy.count_ops`` (a shared subexpression counts each time).

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> expression_size(4 * x * (1 - x))
    3
    """
    return int(_sympy().count_ops(expr))


def logistic_map(k: int) -> Callable[[Any], Any]:
    """The k-th iterate of the logistic map: ``l₀ = x``, ``l_{i+1} = 4 lᵢ (1 - lᵢ)``.

    >>> logistic_map(2)(0.25)
    0.75
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")

    def logistic(x: Any) -> Any:
        l = x
        for _ in range(k):
            l = 4 * l * (1 - l)
        return l

    logistic.__name__ = f"logistic_map_{k}"
    return logistic


@dataclass
class SwellStudy:
    """What :func:`expression_swell` measured, one entry per k.

    Attributes:
        ks: the sizes k.
        expression: size of the expression of f_k (``count_ops``).
        derivative: size of sympy's derivative of f_k (``count_ops``, unsimplified).
        derivative_chars: length of the printed derivative.
        derivative_cse: size of the derivative after common subexpression elimination.
        ad_ops: primitive operations AD records for f_k (its sweep visits each once).
    """

    ks: list[int]
    expression: list[int]
    derivative: list[int]
    derivative_chars: list[int]
    derivative_cse: list[int]
    ad_ops: list[int]
    name: str = "f_k"

    def to_markdown(self) -> str:
        """The sizes as a Markdown table."""
        lines = [
            "| k | expression | derivative | printed length | derivative after cse | AD operations |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for row in zip(
            self.ks, self.expression, self.derivative, self.derivative_chars, self.derivative_cse, self.ad_ops
        ):
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
        return "\n".join(lines)

    def plot(self, ax: Any = None) -> Any:
        """Sizes against k on a log scale: the symbolic derivative swells, AD grows linearly."""
        from matplotlib.figure import Figure

        fig = ax.figure if ax is not None else Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = ax if ax is not None else fig.add_subplot()
        ax.semilogy(self.ks, self.derivative, "o-", color="C3", label="sympy derivative (count_ops)")
        ax.semilogy(self.ks, self.expression, "s--", color="C1", ms=4, label="sympy expression of f_k")
        ax.semilogy(self.ks, self.derivative_cse, "^-", color="C4", ms=4, label="derivative after sympy.cse")
        ax.semilogy(self.ks, self.ad_ops, "D-", color="C0", label="AD: operations on the tape")
        ax.set_xlabel("k")
        ax.set_ylabel("size (operations)")
        ax.set_title(f"Expression swell: {self.name}", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(True, which="major", alpha=0.3)
        return fig


def expression_swell(
    f_k: Callable[[int], Callable[[Any], Any]] = logistic_map, ks: Iterable[int] = range(1, 8)
) -> SwellStudy:
    """Size of the symbolic derivative of ``f_k`` against the operations AD records, as k grows.

    ``f_k(k)`` returns a scalar function of a scalar (by default the k-th
    logistic iterate, whose derivative tree grows like ``2^k`` while AD
    records ``3k`` operations).

    >>> study = expression_swell(ks=[1, 2, 3, 4])
    >>> study.ad_ops, study.derivative
    ([3, 6, 9, 12], [2, 21, 82, 264])
    """
    sp = _sympy()
    if not callable(f_k):
        raise TypeError(f"f_k must be a function of k returning a function, got {type(f_k).__name__}")
    ks = list(ks)
    if not ks or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of integers, got {ks!r}")
    study = SwellStudy([], [], [], [], [], [], name=getattr(f_k, "__name__", "f_k"))
    for k in ks:
        f = f_k(int(k))
        if not callable(f):
            raise TypeError(f"f_k({k}) must return a function, got {type(f).__name__}")
        expr = to_sympy(f)
        x = sorted(expr.free_symbols, key=lambda s: s.name)
        derivative = sp.diff(expr, x[0]) if x else sp.Integer(0)
        replacements, reduced = sp.cse(derivative)
        tape = Tape()
        f(tape.leaf(0.3))
        study.ks.append(int(k))
        study.expression.append(expression_size(expr))
        study.derivative.append(expression_size(derivative))
        study.derivative_chars.append(len(str(derivative)))
        cse_size = sum(expression_size(v) for _, v in replacements) + expression_size(reduced[0])
        study.derivative_cse.append(cse_size)
        study.ad_ops.append(sum(1 for node in tape.nodes if not node.is_input))
    return study


__all__ = [
    "SwellStudy",
    "expression_size",
    "expression_swell",
    "logistic_map",
    "symbolic_derivative",
    "to_sympy",
]
