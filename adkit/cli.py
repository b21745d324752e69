"""The command line, ``adkit`` (also ``python -m adkit``).

``adkit diff "ln(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5`` prints the value of
the formula, its gradient (one line per variable, in the order the variables
first appear in the formula, whatever the order of ``--at``), and the mode
``adkit.diff`` chose with its reason. Numbers are printed with 6 significant
digits (Python's ``format(x, ".6g")``: ``11.6521``, ``5.5``, ``1.71634``).
``--trace`` adds the evaluation trace (``adkit.trace``).

The formula is read by :func:`adkit.expression.parse` (a whitelist over
Python's ``ast``; never ``eval``). Anything the command cannot use (a
formula outside the whitelist, a bad ``--at``, a wrong option) gives one line
on stderr and exit status 2; a computed result is exit status 0, also when
it is inf or nan (then a note on stderr says so).
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

import adkit
from adkit import formatting
from adkit.expression import (
    CONSTANTS,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    Expression,
    ExpressionError,
    parse,
)
from adkit.formatting import snippet

#: Significant digits of every number printed.
DIGITS = 6
#: Exit status for input the command cannot use (as argparse uses for its own errors).
USAGE_ERROR = 2


def number(x: float) -> str:
    """A number as the command line prints it: 6 significant digits, no ``-0``.

    >>> number(11.652071455), number(5.5), number(1.7163378145), number(-0.0), number(1e-12)
    ('11.6521', '5.5', '1.71634', '0', '1e-12')
    """
    return formatting.number(x, DIGITS)


def parse_at(specs: Sequence[str]) -> dict[str, float]:
    """The values of ``--at`` options: ``["x1=2,x2=5"]`` -> ``{"x1": 2.0, "x2": 5.0}``.

    Entries are ``name=value`` separated by commas (or given as several
    ``--at``); a value is a number or a formula without variables
    (``pi/4``). Values must be finite; a name may be given once.

    Raises:
        ExpressionError: for a malformed entry, with what to write instead.

    >>> parse_at(["x1=2, x2=5", "y=pi/2"])
    {'x1': 2.0, 'x2': 5.0, 'y': 1.5707963267948966}
    >>> parse_at(["x1=abc"])
    Traceback (most recent call last):
    ...
    adkit.expression.ExpressionError: --at x1=abc: 'abc' is not a number; write a number ...
    """
    if sum(len(spec) for spec in specs) > MAX_LENGTH:
        raise ExpressionError(f"--at is longer than {MAX_LENGTH:,} characters")
    values: dict[str, float] = {}
    for spec in specs:
        for entry in _split_top_level(spec):
            if not entry.strip():
                continue  # tolerate "x=1," and "x=1,,y=2"
            name, equals, text = (part.strip() for part in entry.partition("="))
            if not equals or not text:
                raise ExpressionError(
                    f"--at entry '{snippet(entry)}' has no value: write name=value, as in --at x1=2,x2=5"
                )
            if not name:
                raise ExpressionError(f"--at entry '{snippet(entry)}' has no name: write name=value")
            if not name.isidentifier():
                raise ExpressionError(
                    f"--at entry '{snippet(entry)}': '{snippet(name)}' is not a variable name"
                )
            if name in values:
                raise ExpressionError(f"--at gives {name} twice; give each variable one value")
            values[name] = _value(name, text)
    return values


def _split_top_level(spec: str) -> list[str]:
    """Split at the commas outside parentheses (``x=atan2(1, 2),y=3`` is two entries)."""
    entries, depth, start = [], 0, 0
    for i, char in enumerate(spec):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth <= 0:
            entries.append(spec[start:i])
            start = i + 1
    entries.append(spec[start:])
    return entries


def _value(name: str, text: str) -> float:
    shown = f"--at {name}={snippet(text)}"
    try:
        value = float(text)
    except ValueError:
        try:
            formula = parse(text)
        except ExpressionError:
            formula = None
        if formula is None or formula.variables:
            raise ExpressionError(
                f"{shown}: '{snippet(text)}' is not a number; write a number or a formula without "
                "variables, as in 2.5 or pi/4"
            ) from None
        value = float(formula())
    if not math.isfinite(value):
        raise ExpressionError(f"{shown}: the value must be a finite number")
    return value


def _arguments(formula: Expression, values: dict[str, float]) -> tuple[float, ...]:
    """The values in the order of ``formula.variables``; every variable exactly once."""
    for name in values:
        if name in formula.variables:
            continue
        if name in CONSTANTS:
            raise ExpressionError(
                f"--at gives {name}, but {name} is the constant {number(CONSTANTS[name])} in a formula, "
                "not a variable; rename the variable"
            )
        raise ExpressionError(
            f"--at gives {name}, but the formula has no variable {name} "
            f"(its variables: {snippet(', '.join(formula.variables), 60)})"
        )
    missing = [name for name in formula.variables if name not in values]
    if missing:
        wanted = ",".join(f"{name}=..." for name in formula.variables)
        raise ExpressionError(
            f"--at gives no value for {snippet(', '.join(missing), 60)}; give every variable a value: "
            f"--at {snippet(wanted, 60)}"
        )
    return tuple(values[name] for name in formula.variables)


def diff_command(args: argparse.Namespace) -> int:
    """``adkit diff``: print the value, the gradient, the mode and, with ``--trace``, the trace."""
    formula = parse(args.formula)
    if not formula.variables:
        raise ExpressionError(
            f"the formula '{snippet(str(formula))}' has no variables: nothing to differentiate"
        )
    point = _arguments(formula, parse_at(args.at))
    derivative = adkit.diff(formula, mode=args.mode, argnums=tuple(range(len(point))))
    # Outside a function's domain NumPy may warn (0 * inf in the chain rule) from
    # deep inside adkit; the results show inf / nan and the note below says why.
    with np.errstate(all="ignore"):
        choice = derivative.explain(*point)
        gradient = derivative(*point)
        value = formula(*point)
        table = _trace_table(formula, point) if args.trace else None

    names = ", ".join(formula.variables)
    labels = [f"df/d{name}" for name in formula.variables]
    width = max(len(label) for label in ["value", "mode", "why", *labels]) + 2
    # Where f is undefined (its value is nan), so are its derivatives, whatever the chain rule's
    # arithmetic gives there (1/x for ln x at x = -1 is -1): print nan, and say why.
    undefined = math.isnan(value)
    derivatives = ["nan  (f is undefined here)" if undefined else number(g) for g in gradient]
    lines = [
        f"f({names}) = {formula}",
        "at " + ", ".join(f"{name} = {number(x)}" for name, x in zip(formula.variables, point)),
        f"{'value':<{width}}{number(value)}",
        *(f"{label:<{width}}{shown}" for label, shown in zip(labels, derivatives)),
        f"{'mode':<{width}}{choice.mode}",
        f"{'why':<{width}}{choice.reason}",
    ]
    if table is not None:
        lines += ["", table]
    print("\n".join(lines))
    if undefined:
        where = _first_undefined(formula, point)
        print(
            f"adkit: note: the point is outside the domain of f{where}: its value is nan, and so are "
            "its derivatives",
            file=sys.stderr,
        )
    elif not all(math.isfinite(x) for x in (value, *gradient)):
        print(
            "adkit: note: a result is inf or nan: the point is at the edge of the domain of a function "
            "in the formula, or a number overflows",
            file=sys.stderr,
        )
    return 0


def _first_undefined(formula: Expression, point: tuple[float, ...]) -> str:
    """``" (log(-1) is nan)"``: the first operation that makes nan from numbers; ``""`` if none is found."""
    try:
        with np.errstate(all="ignore"):
            computation = adkit.trace(formula, *point).computation
    except (TypeError, ValueError):  # what adkit.trace documents for input it cannot show
        return ""
    for v in computation.variables:
        operands = [float(x) for x in v.operands if np.ndim(x) == 0]
        if (
            not v.is_input
            and np.isnan(v.value)
            and len(operands) == len(v.operands)
            and all(math.isfinite(x) for x in operands)
        ):
            return f" ({v.primitive.name}({', '.join(number(x) for x in operands)}) is nan)"
    return ""


def _trace_table(formula: Expression, point: tuple[float, ...]) -> str:
    """``adkit.trace`` as text, made before anything is printed (so a failure prints only the error)."""
    try:
        return str(adkit.trace(formula, *point))
    except (TypeError, ValueError) as error:  # what adkit.trace documents for input it cannot show
        raise ExpressionError(f"the trace view cannot show this formula: {error}") from None


def _function_list() -> str:
    """FUNCTIONS grouped by function, aliases joined by '/': 'asin/arcsin'."""
    groups: dict[Any, list[str]] = {}
    for name, (function, _) in FUNCTIONS.items():
        groups.setdefault(function, []).append(name)
    one = " ".join("/".join(names) for names in groups.values() if FUNCTIONS[names[0]][1] == 1)
    two = " ".join("/".join(names) for names in groups.values() if FUNCTIONS[names[0]][1] == 2)
    return "\n".join(
        textwrap.wrap(one, 76, initial_indent="    ", subsequent_indent="    ")
        + [f"  and of two arguments: {two}"]
    )


DIFF_HELP = f"""\
formula:
  numbers (2, 0.5, 1e-3), the constants pi and e, variables (any other name),
  + - * / ** (power), unary - and +, parentheses, and calls of these functions
  of one argument:
{_function_list()}
  (atan2(y, x) is the angle of the point (x, y).)
  Limits: {MAX_LENGTH:,} characters, {MAX_DEPTH} levels of nesting (a sum of n terms nests
  n - 1 levels), constant exponents up to ±{MAX_EXPONENT:g}.
  A formula that starts with '-' needs '--' before it: adkit diff --at x=1 -- -x**2

output:
  the formula and the point, the value, then one line df/dv per variable v in
  the order the variables first appear in the formula, then the mode (auto
  picks the cheaper from n inputs and m outputs) and why. Numbers have
  {DIGITS} significant digits. Exit status 0 for a result (a note on stderr if
  it is inf or nan), 2 with one line on stderr for input adkit cannot use.

examples:
  adkit diff "ln(x1) + x1*x2 - sin(x2)" --at x1=2,x2=5
  adkit diff "sin(x)**2" --at x=pi/4 --mode reverse
  adkit diff "hypot(x, y)" --at x=3 --at y=4 --trace
"""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        if "required: FORMULA" in message:  # argparse takes "-x**2" for an option
            message += " (a formula that starts with '-' needs '--' before it)"
        self.exit(USAGE_ERROR, f"{self.prog}: error: {snippet(message, 200)}; see {self.prog} --help\n")


class _Version(argparse.Action):
    """``--version``: argparse's, but the version is read (from the installed metadata) only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(f"adkit {adkit.__version__}")
        parser.exit()


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The ``adkit`` argument parser, with one sub-command per job (``diff``).

    >>> build_parser("adkit").parse_args(["diff", "x**2", "--at", "x=3"]).mode
    'auto'
    """
    parser = _Parser(
        prog=prog,
        description="adkit: automatic differentiation you can see. Differentiate a formula "
        "at a point from the command line.",
        epilog="Run 'adkit diff --help' for the formula syntax and examples. Exit status: 0 "
        "for a result, 2 for input adkit cannot use.",
    )
    parser.add_argument("--version", action=_Version, help="show adkit's version and exit")
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    diff = commands.add_parser(
        "diff",
        help="value, gradient and mode of a formula at a point",
        description="Print the value of FORMULA at the point given by --at, its gradient, and\n"
        "the mode (forward or reverse) adkit.diff chose, with the reason.",
        epilog=DIFF_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("formula", metavar="FORMULA", help='the function, e.g. "ln(x1) + x1*x2 - sin(x2)"')
    diff.add_argument(
        "--at",
        action="append",
        required=True,
        metavar="NAME=VALUE,...",
        help="the point: a value for every variable, e.g. x1=2,x2=5 (values may be constant "
        "formulas such as pi/4; --at may be repeated)",
    )
    diff.add_argument(
        "--mode",
        choices=("auto", "forward", "reverse"),
        default="auto",
        help="forward mode (dual numbers), reverse mode (a tape), or auto: the cheaper (default)",
    )
    diff.add_argument("--trace", action="store_true", help="also print the evaluation trace table")
    diff.set_defaults(run=diff_command)
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line; returns the exit status (the ``adkit`` console script).

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).
        prog: the program name shown in help and errors (default from ``sys.argv[0]``).

    >>> main(["diff", "x**2", "--at", "x=3"], prog="adkit")
    f(x) = x**2
    at x = 3
    value  9
    df/dx  6
    mode   forward
    why    ...
    0
    >>> main(["diff", "x.__class__", "--at", "x=3"], prog="adkit")  # the message goes to stderr
    2
    """
    parser = build_parser(prog)
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        parser.print_help(sys.stderr)
        return USAGE_ERROR
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version and argparse's own errors: already printed
        return done.code if isinstance(done.code, int) else USAGE_ERROR
    try:
        return args.run(args)
    except ExpressionError as error:
        print(f"{parser.prog}: error: {snippet(str(error), 1000)}", file=sys.stderr)
        return USAGE_ERROR
