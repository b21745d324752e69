"""Formulas typed as text, checked and evaluated with adkit's operations.

``parse("ln(x1) + x1*x2 - sin(x2)")`` reads a formula with Python's
:mod:`ast`, checks every node against a whitelist, and returns an
:class:`Expression`: a function of the formula's variables, in the order they
first appear, that runs on numbers, ``Dual`` and ``Var`` values alike, so
``adkit.diff`` differentiates it. Python only builds the syntax tree: no
code object is compiled and nothing goes to ``eval`` or ``exec``. The
checked tree becomes a short program for a stack machine (each step pushes a
number or a variable, or applies an adkit operation to the values on top of
the stack) which :class:`Expression` runs in a loop.

What a formula may contain:

* numbers (integer and float literals, all read as floats) and the constants
  ``pi`` and ``e``;
* variables: any other name;
* ``+ - * / **``, unary ``-`` and ``+``, parentheses;
* calls by bare name of the functions in :data:`FUNCTIONS` (``sin``,
  ``ln``, ``atan2``, ``max``, ...) with their number of arguments.

Limits, so that no input costs much time or memory:

* :data:`MAX_LENGTH` characters, checked before anything else;
* :data:`MAX_DEPTH` levels of nesting (a sum of n terms nests n - 1 levels),
  checked without recursion. Python's own parser gives up on much deeper
  input (at a depth that depends on the caller's stack); that is reported as
  the same error;
* constant exponents (``x**2000``, ``9**9**9``) of absolute value at most
  :data:`MAX_EXPONENT`. Every number is a float, so nothing ever builds a
  huge integer; a large exponent computed from variables overflows to inf.

Anything else raises :class:`ExpressionError` with one line naming the
problem; :func:`parse` raises nothing else.

>>> f = parse("ln(x1) + x1*x2 - sin(x2)")
>>> f.variables
('x1', 'x2')
>>> adkit.diff(f, argnums=(0, 1))(2.0, 5.0)
(5.5, 1.7163378145367738)
"""

from __future__ import annotations

import ast
import difflib
import inspect
import keyword
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adkit import rules
from adkit.formatting import snippet

#: Longest formula accepted, in characters.
MAX_LENGTH = 10_000
#: Deepest nesting accepted: operations inside operations (``((x + 1) * 2) ** 3`` is 3 deep).
MAX_DEPTH = 100
#: Largest absolute value of a constant exponent (``x**1000`` is accepted, ``x**1001`` is not).
MAX_EXPONENT = 1000.0

#: Functions a formula may call: name -> (adkit function, number of arguments).
#: Several names share a function (``ln`` and ``log``, ``asin`` and ``arcsin``).
#: ``min`` and ``max`` take two arguments (adkit's ``minimum`` / ``maximum``).
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "sin": (rules.sin, 1),
    "cos": (rules.cos, 1),
    "tan": (rules.tan, 1),
    "asin": (rules.arcsin, 1),
    "arcsin": (rules.arcsin, 1),
    "acos": (rules.arccos, 1),
    "arccos": (rules.arccos, 1),
    "atan": (rules.arctan, 1),
    "arctan": (rules.arctan, 1),
    "sinh": (rules.sinh, 1),
    "cosh": (rules.cosh, 1),
    "tanh": (rules.tanh, 1),
    "asinh": (rules.arcsinh, 1),
    "arcsinh": (rules.arcsinh, 1),
    "acosh": (rules.arccosh, 1),
    "arccosh": (rules.arccosh, 1),
    "atanh": (rules.arctanh, 1),
    "arctanh": (rules.arctanh, 1),
    "exp": (rules.exp, 1),
    "expm1": (rules.expm1, 1),
    "log": (rules.log, 1),
    "ln": (rules.log, 1),
    "log1p": (rules.log1p, 1),
    "log2": (rules.log2, 1),
    "log10": (rules.log10, 1),
    "sqrt": (rules.sqrt, 1),
    "cbrt": (rules.cbrt, 1),
    "abs": (rules.absolute, 1),
    "sigmoid": (rules.sigmoid, 1),
    "softplus": (rules.softplus, 1),
    "atan2": (rules.arctan2, 2),
    "arctan2": (rules.arctan2, 2),
    "hypot": (rules.hypot, 2),
    "min": (rules.minimum, 2),
    "minimum": (rules.minimum, 2),
    "max": (rules.maximum, 2),
    "maximum": (rules.maximum, 2),
}

#: Names that stand for numbers, not variables.
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_HINT = "use numbers, variables, + - * / **, parentheses and calls such as sin(x)"

#: Python syntax a formula may not use, with how to name it in a message.
_REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "indexing (a[i])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons (<, ==, ...)",
    ast.BoolOp: "'and' / 'or'",
    ast.IfExp: "conditional expressions (a if c else b)",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.JoinedStr: "f-strings",
    ast.Starred: "starred arguments (*a)",
    ast.Tuple: "tuples (a, b)",
    ast.List: "lists [a, b]",
    ast.Set: "sets {a, b}",
    ast.Dict: "dicts {a: b}",
    ast.Slice: "slices (a:b)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}

# Binding strength, for writing a formula back as text with only the parentheses it needs.
_ADD, _MUL, _PREFIX, _POW, _ATOM = 1, 2, 3, 4, 5

#: Binary operators: ast class -> (adkit function, symbol, binding strength).
_BINARY: dict[type, tuple[Callable[..., Any], str, int]] = {
    ast.Add: (rules.add, "+", _ADD),
    ast.Sub: (rules.subtract, "-", _ADD),
    ast.Mult: (rules.multiply, "*", _MUL),
    ast.Div: (rules.divide, "/", _MUL),
    ast.Pow: (rules.power, "**", _POW),
}

_OPERATOR_NAMES: dict[type, str] = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^ (for powers write **)",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Not: "not",
    ast.Invert: "~",
}


class ExpressionError(ValueError):
    """A formula (or a value for it) that adkit refuses; the message is one line saying why and what to do.

    >>> parse("x.__class__")
    Traceback (most recent call last):
    ...
    adkit.expression.ExpressionError: attribute access (a.b) cannot be used in a formula: 'x.__class__'; ...
    """


@dataclass(frozen=True)
class _Step:
    """One instruction of the stack machine.

    ``kind`` is ``"number"`` (push ``value``), ``"variable"`` (push argument
    ``index``) or ``"apply"`` (pop ``arity`` values, push ``function`` of
    them). ``symbol`` and ``strength`` say how the step is written as text.
    """

    kind: str
    symbol: str
    value: float = 0.0
    index: int = 0
    function: Callable[..., Any] | None = None
    arity: int = 0
    strength: int = _ATOM


class Expression:
    """A checked formula as a function of its variables: ``f(*values)``.

    Made by :func:`parse`. ``variables`` are the names in the order they
    first appear in the formula, which is also the order of the arguments
    (and the parameters of its signature, which ``adkit.trace`` shows).
    ``str(f)`` is the formula written back with only the parentheses it needs.

    >>> f = parse("x**2 * y")
    >>> f(3.0, 2.0), f.variables, str(f)
    (18.0, ('x', 'y'), 'x**2*y')
    >>> adkit.grad(f, argnums=(0, 1))(3.0, 2.0)
    (12.0, 9.0)
    """

    __name__ = "f"  # how adkit's messages and the command line call it

    def __init__(self, steps: tuple[_Step, ...], variables: tuple[str, ...]):
        self._steps = steps
        self.variables = variables
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY) for name in variables]
        )

    def __call__(self, *values: Any) -> Any:
        """Evaluate the formula with one value (a number, ``Dual`` or ``Var``) per variable."""
        if len(values) != len(self.variables):
            raise TypeError(
                f"{self!r} takes {len(self.variables)} argument(s) ({', '.join(self.variables)}), "
                f"got {len(values)}"
            )
        stack: list[Any] = []
        for step in self._steps:
            if step.kind == "number":
                stack.append(step.value)
            elif step.kind == "variable":
                stack.append(values[step.index])
            else:
                start = len(stack) - step.arity
                operands = stack[start:]
                del stack[start:]
                stack.append(step.function(*operands))
        return stack[0]

    def __str__(self) -> str:
        stack: list[tuple[str, int]] = []  # (text, binding strength)
        for step in self._steps:
            if step.kind != "apply":
                stack.append((step.symbol, _ATOM))
                continue
            start = len(stack) - step.arity
            operands = stack[start:]
            del stack[start:]
            stack.append((_write(step, operands), step.strength))
        return stack[0][0]

    def __repr__(self) -> str:
        return f"Expression({str(self)!r})"


def _write(step: _Step, operands: list[tuple[str, int]]) -> str:
    if step.strength == _ATOM:  # a call
        return f"{step.symbol}({', '.join(text for text, _ in operands)})"
    if step.strength == _PREFIX:
        text, strength = operands[0]
        return step.symbol + (f"({text})" if strength < _PREFIX else text)
    (left, left_strength), (right, right_strength) = operands
    if step.strength == _POW:  # right-associative: a**b**c is a**(b**c)
        left = f"({left})" if left_strength <= _POW else left
        right = f"({right})" if right_strength < _POW else right
        return f"{left}**{right}"
    left = f"({left})" if left_strength < step.strength else left
    right = f"({right})" if right_strength <= step.strength else right
    return f"{left} {step.symbol} {right}" if step.strength == _ADD else f"{left}{step.symbol}{right}"


def parse(text: str) -> Expression:
    """Check a formula and return it as an :class:`Expression` (see the module docstring).

    Args:
        text: the formula, e.g. ``"ln(x1) + x1*x2 - sin(x2)"``.

    Returns:
        An :class:`Expression`, callable with one value per variable.

    Raises:
        ExpressionError: for anything that is not a formula adkit accepts
            (and for nothing else).

    >>> parse("atan2(y, x) + pi").variables
    ('y', 'x')
    >>> parse("__import__('os')")
    Traceback (most recent call last):
    ...
    adkit.expression.ExpressionError: unknown function '__import__'; known: abs, acos, ...
    """
    if not isinstance(text, str):
        raise ExpressionError(f"the formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the formula is {len(text):,} characters long; the limit is {MAX_LENGTH:,}")
    text = text.strip()
    if not text:
        raise ExpressionError("the formula is empty; write one, e.g. 'x**2 + sin(y)'")
    try:
        # The parser warns about some odd literals ("\d", "1if"); the checks
        # below refuse those formulas with a clearer message than the warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        if "too many nested parentheses" in str(error.msg):
            raise _too_deep() from None
        product = _implicit_product(text)
        if product is not None:
            written, meant = product
            raise ExpressionError(
                f"'{snippet(written)}' is not a formula: a product needs '*' (write {snippet(meant)})"
            ) from None
        rest = error.text[error.offset - 1 :] if error.text and error.offset else ""
        near = f", near '{snippet(rest, 20)}'" if rest.strip() else ""
        raise ExpressionError(f"syntax error: {snippet(str(error.msg), 80)}{near}") from None
    except (RecursionError, MemoryError):
        raise _too_deep() from None
    except ValueError as error:  # e.g. a lone surrogate that cannot be encoded
        raise ExpressionError(f"the formula cannot be read: {snippet(str(error), 80)}") from None
    return _compile(tree.body, text)


_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NAME = r"[A-Za-z_]\w*"
# what mathematics writes side by side and Python does not read: 2x, 2 x, 2.5e3y, x y, x 2
_SIDE_BY_SIDE = (
    re.compile(rf"(?<![\w.])({_NUMBER})(\s*)({_NAME})"),
    re.compile(rf"(?<![\w.])({_NAME}|{_NUMBER})(\s+)({_NAME}|{_NUMBER})"),
)


def _implicit_product(text: str) -> tuple[str, str] | None:
    """The first product written without ``*`` in a formula Python could not read: (as written, as meant).

    >>> _implicit_product("2x + 1"), _implicit_product("3 sin(x)"), _implicit_product("x + 1")
    (('2x', '2*x'), ('3 sin', '3*sin'), None)
    """
    for pattern in _SIDE_BY_SIDE:
        for match in pattern.finditer(text):
            left, space, right = match.groups()
            if not (keyword.iskeyword(left) or keyword.iskeyword(right)):
                return left + space + right, f"{left}*{right}"
    return None


def _too_deep() -> ExpressionError:
    return ExpressionError(f"the formula is nested too deeply; the limit is {MAX_DEPTH} levels")


def _compile(root: ast.expr, text: str) -> Expression:
    """Check the tree and turn it into stack-machine steps, without recursion.

    Nodes are checked on the way down (so the first problem reported is the
    leftmost outermost one) and emitted on the way back up (post-order).
    Alongside the steps runs a stack of the constant value of each finished
    node (``None`` when it depends on a variable), which is how constant
    exponents such as ``9**9**9`` are found before anything is computed
    with them.
    """
    steps: list[_Step] = []
    variables: dict[str, int] = {}
    constants: list[float | None] = []
    todo: list[tuple[ast.expr, int, bool]] = [(root, 0, False)]
    while todo:
        node, depth, children_done = todo.pop()
        if children_done:
            step = _emit(node, text, variables, constants)
            if step is not None:  # a unary plus has no step of its own
                steps.append(step)
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        children = _check(node, text)
        todo.append((node, depth, True))
        todo.extend((child, depth + 1, False) for child in reversed(children))
    return Expression(tuple(steps), tuple(variables))


def _check(node: ast.expr, text: str) -> list[ast.expr]:
    """Refuse ``node`` unless the whitelist allows it; return its children."""
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _refuse(f"the operator {_OPERATOR_NAMES[type(node.op)]}", node, text)
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _refuse(f"the operator {_OPERATOR_NAMES[type(node.op)]}", node, text)
        return [node.operand]
    if isinstance(node, ast.Call):
        return _check_call(node, text)
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise ExpressionError(f"{node.id} is a function: call it, as in {node.id}(x)")
        return []
    if isinstance(node, ast.Constant):
        _number(node, text)
        return []
    raise _refuse(_REFUSED.get(type(node), f"the Python syntax {type(node).__name__}"), node, text)


def _source(node: ast.expr, text: str) -> str:
    """The part of the formula ``node`` was read from, shortened to show in a message."""
    return snippet(ast.get_source_segment(text, node) or type(node).__name__)


def _refuse(what: str, node: ast.expr, text: str) -> ExpressionError:
    return ExpressionError(f"{what} cannot be used in a formula: '{_source(node, text)}'; {_HINT}")


def _check_call(node: ast.Call, text: str) -> list[ast.expr]:
    if (
        isinstance(node.func, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Call))
        and len(node.args) == 1
        and (not node.keywords)
    ):
        # 2(x + 1), (x + 1)(x - 1): a product written as in mathematics
        factor, argument = _source(node.func, text), _source(node.args[0], text)
        if isinstance(node.func, (ast.BinOp, ast.UnaryOp)):
            factor = f"({factor})"
        raise ExpressionError(
            f"'{_source(node, text)}' is not a formula: a product needs '*' (write {factor}*({argument}))"
        )
    if not isinstance(node.func, ast.Name):
        raise ExpressionError(f"call functions by their bare name, as in sin(x), not '{_source(node, text)}'")
    name = node.func.id
    # x(y + 1) may be a product written as in mathematics (not __import__('os'))
    product = None
    if len(node.args) == 1 and not name.startswith("_") and not isinstance(node.args[0], ast.Constant):
        product = f"{name}*({_source(node.args[0], text)})"
    if name in CONSTANTS:
        hint = f" (for a product write {product})" if product else ""
        raise ExpressionError(f"{name} is a constant, not a function: '{_source(node, text)}'{hint}")
    if name not in FUNCTIONS:
        close = difflib.get_close_matches(name, FUNCTIONS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        hint = f"for a product write {snippet(product)}; " if product and not close else hint
        raise ExpressionError(
            f"unknown function '{snippet(name)}'; {hint}known: {', '.join(sorted(FUNCTIONS))}"
        )
    if node.keywords:
        raise ExpressionError(
            f"keyword arguments cannot be used in a formula: '{_source(node, text)}'; pass values by position"
        )
    arity = FUNCTIONS[name][1]
    if len(node.args) != arity:
        raise ExpressionError(
            f"{name} takes {arity} argument{'s' * (arity > 1)}, got {len(node.args)}: '{_source(node, text)}'"
        )
    return list(node.args)


def _number(node: ast.Constant, text: str) -> float:
    """The float value of a literal; only finite int and float literals are numbers."""
    if type(node.value) is str:
        raise _refuse("strings", node, text)
    if type(node.value) not in (int, float):
        raise ExpressionError(f"'{_source(node, text)}' is not a real number; {_HINT}")
    try:
        value = float(node.value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ExpressionError(f"the number '{_source(node, text)}' is too large to be a float")
    return value


def _emit(
    node: ast.expr, text: str, variables: dict[str, int], constants: list[float | None]
) -> _Step | None:
    """The step for a checked node whose children are already emitted (``None``: no step)."""
    if isinstance(node, ast.Constant):
        value = _number(node, text)
        constants.append(value)
        return _Step("number", repr(value) if type(node.value) is float else str(node.value), value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            constants.append(CONSTANTS[node.id])
            return _Step("number", node.id, CONSTANTS[node.id])
        constants.append(None)
        index = variables.setdefault(node.id, len(variables))
        return _Step("variable", node.id, index=index)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.UAdd):
            return None  # the operand's value and constant stay on the stacks
        return _apply(rules.negative, 1, "-", _PREFIX, constants)
    if isinstance(node, ast.BinOp):
        function, symbol, strength = _BINARY[type(node.op)]
        exponent = constants[-1]
        if symbol == "**" and exponent is not None and abs(exponent) > MAX_EXPONENT:
            raise ExpressionError(
                f"the exponent '{_source(node.right, text)}' = {exponent:.6g} is too large; "
                f"constant exponents are limited to ±{MAX_EXPONENT:g}"
            )
        return _apply(function, 2, symbol, strength, constants)
    assert isinstance(node, ast.Call)  # _check let nothing else through
    function, arity = FUNCTIONS[node.func.id]
    return _apply(function, arity, node.func.id, _ATOM, constants)


def _apply(
    function: Callable[..., Any], arity: int, symbol: str, strength: int, constants: list[float | None]
) -> _Step:
    operands = constants[len(constants) - arity :]
    del constants[len(constants) - arity :]
    value = None
    if all(x is not None for x in operands):
        # Floats only (every literal is a float), so this is cheap and never
        # builds a huge integer; out-of-domain values come back as nan or inf.
        try:
            value = float(function(*operands))
        except (ArithmeticError, ValueError):
            value = math.nan
    constants.append(value)
    return _Step("apply", symbol, function=function, arity=arity, strength=strength)


__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "Expression",
    "ExpressionError",
    "parse",
]
