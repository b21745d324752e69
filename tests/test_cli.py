"""The command line: ``adkit diff FORMULA --at NAME=VALUE,... [--mode] [--trace]``.

- the running example prints the value and gradient of the closed forms and the mode;
- forward and reverse mode print the same gradient; --at order does not matter;
- every malformed or hostile input exits 2 with one line on stderr and nothing
  on stdout (in-process through ``main(argv)``, and through real processes);
- help, version, and the --trace switch (real trace skipped while adkit.trace
  does not exist).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import adkit
from adkit.cli import main, number
from adkit.expression import MAX_LENGTH

RUNNING = ["diff", "ln(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5"]
X1, X2 = 2.0, 5.0
VALUE = math.log(X1) + X1 * X2 - math.sin(X2)
GRADIENT = (1 / X1 + X2, X1 - math.cos(X2))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv, prog="adkit")
    out, err = capsys.readouterr()
    return status, out, err


def fields(out: str) -> dict[str, str]:
    """The 'label  value' lines of the output, by label."""
    table = {}
    for line in out.splitlines():
        label, _, rest = line.partition(" ")
        table[label] = rest.strip()
    return table


# -- the running example --------------------------------------------------------------------


def test_running_example(capsys):
    status, out, err = run(RUNNING, capsys)
    assert status == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "f(x1, x2) = ln(x1) + x1*x2 - sin(x2)"
    assert lines[1] == "at x1 = 2, x2 = 5"
    shown = fields(out)
    # 6 significant digits: 11.6521, 5.5, 1.71634
    for label, exact in [("value", VALUE), ("df/dx1", GRADIENT[0]), ("df/dx2", GRADIENT[1])]:
        assert shown[label] == format(exact, ".6g")
        assert float(shown[label]) == pytest.approx(exact, rel=5e-6)
    assert [line.split()[0] for line in lines[2:]] == ["value", "df/dx1", "df/dx2", "mode", "why"]
    choice = adkit.diff(adkit.expression.parse(RUNNING[1]), argnums=(0, 1)).explain(X1, X2)
    assert shown["mode"] == choice.mode
    assert shown["why"] == choice.reason


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_forward_and_reverse_print_the_same_gradient(mode, capsys):
    status, out, _ = run([*RUNNING, "--mode", mode], capsys)
    assert status == 0
    shown = fields(out)
    assert (shown["df/dx1"], shown["df/dx2"]) == (format(GRADIENT[0], ".6g"), format(GRADIENT[1], ".6g"))
    assert shown["mode"] == mode
    assert shown["why"] == f"mode={mode!r} was requested"


@pytest.mark.parametrize(
    "at", [["x2=5,x1=2"], ["x1=2", "--at", "x2=5"], [" x1 = 2 , x2 = 5, "], ["x1=4/2,x2=atan2(5, 1)*0+5"]]
)
def test_gradient_lines_follow_the_formula_whatever_the_order_of_at(at, capsys):
    status, out, _ = run([*RUNNING[:3], *at], capsys)
    assert status == 0
    assert out == run(RUNNING, capsys)[1]


def test_values_may_be_constant_formulas(capsys):
    status, out, _ = run(["diff", "sin(x)**2", "--at", "x=pi/4"], capsys)
    assert status == 0
    assert fields(out)["df/dx"] == number(2 * math.sin(math.pi / 4) * math.cos(math.pi / 4))


def test_a_formula_starting_with_minus_after_double_dash(capsys):
    status, out, _ = run(["diff", "--at", "x=3", "--", "-x**2"], capsys)
    assert status == 0
    assert fields(out)["df/dx"] == "-6"


def test_a_non_finite_result_is_printed_with_a_note(capsys):
    status, out, err = run(["diff", "abs(sqrt(x)) + ln(x)", "--at", "x=0"], capsys)
    assert status == 0
    assert fields(out)["value"] == "-inf"
    assert err.count("\n") == 1  # the note, and no NumPy warning
    assert err.startswith("adkit: note: a result is inf or nan")


@pytest.mark.parametrize(
    ("argv", "undefined"),
    [
        (["diff", "log(x)", "--at", "x=-1"], "log(-1) is nan"),  # the chain rule alone gives 1/x = -1
        (["diff", "sqrt(x) + y", "--at", "x=-4,y=1"], "sqrt(-4) is nan"),  # and here df/dy = 1
        (["diff", "2*asin(x)", "--at", "x=2"], "arcsin(2) is nan"),
    ],
)
def test_outside_the_domain_the_derivatives_are_nan_and_the_note_says_where(argv, undefined, capsys):
    status, out, err = run(argv, capsys)
    assert status == 0
    shown = fields(out)
    assert shown["value"] == "nan"
    derivatives = [value for label, value in shown.items() if label.startswith("df/d")]
    assert derivatives and all(value == "nan  (f is undefined here)" for value in derivatives)
    note = f"adkit: note: the point is outside the domain of f ({undefined}): its value is nan, and so are"
    assert err == note + " its derivatives\n"


def test_inside_the_domain_nothing_is_marked(capsys):
    status, out, err = run(["diff", "log(x)", "--at", "x=0.5"], capsys)
    assert (status, err) == (0, "")
    assert fields(out)["df/dx"] == "2"


@pytest.mark.parametrize(
    ("x", "shown"),
    [
        (11.652071455, "11.6521"),
        (5.5, "5.5"),
        (1.7163378145, "1.71634"),
        (-0.0, "0"),
        (1234567.0, "1.23457e+06"),
        (1e-12, "1e-12"),
        (math.inf, "inf"),
        (math.nan, "nan"),
    ],
)
def test_number_format(x, shown):
    assert number(x) == shown


# -- refused input: exit 2, one line on stderr, nothing on stdout ------------------------------

HUGE = "x" * (10 * 2**20)

REFUSED = [
    # hostile formulas
    (["diff", "__import__('os')", "--at", "x=1"], "unknown function '__import__'"),
    (["diff", "__import__('os').system('echo hacked')", "--at", "x=1"], "bare name"),
    (["diff", "x.__class__", "--at", "x=1"], "attribute access"),
    (["diff", "x[0]", "--at", "x=1"], "indexing"),
    (["diff", "lambda: x", "--at", "x=1"], "lambda"),
    (["diff", "[x for x in x]", "--at", "x=1"], "comprehensions"),
    (["diff", "sin(x=x)", "--at", "x=1"], "keyword arguments"),
    (["diff", "sin(*x)", "--at", "x=1"], "starred arguments"),
    (["diff", "x < 1", "--at", "x=1"], "comparisons"),
    (["diff", "x or x", "--at", "x=1"], "'and' / 'or'"),
    (["diff", "f'{x}'", "--at", "x=1"], "f-strings"),
    (["diff", "'x'", "--at", "x=1"], "strings"),
    (["diff", "(y := x)", "--at", "x=1"], "assignment expressions"),
    (["diff", "frob(x)", "--at", "x=1"], "unknown function 'frob'"),
    (["diff", "sin(x, x)", "--at", "x=1"], "sin takes 1 argument, got 2"),
    (["diff", "hypot(x)", "--at", "x=1"], "hypot takes 2 arguments, got 1"),
    (["diff", "9**9**9", "--at", "x=1"], "constant exponents are limited"),
    (["diff", "x**1e308", "--at", "x=1"], "constant exponents are limited"),
    (["diff", "(" * 4000 + "x" + ")" * 4000, "--at", "x=1"], "nested too deeply"),
    (["diff", "--at", "x=1", "--", "-" * 9000 + "x"], "nested too deeply"),
    (["diff", "x" + "*x" * 4000, "--at", "x=1"], "nested too deeply"),
    (["diff", HUGE, "--at", "x=1"], f"limit is {MAX_LENGTH:,}"),
    (["diff", "", "--at", "x=1"], "empty"),
    (["diff", "x +* 2", "--at", "x=1"], "syntax error"),
    (["diff", "x\x00", "--at", "x=1"], "null bytes"),
    (["diff", "x + '\x1b[2J'", "--at", "x=1"], "strings"),
    (["diff", "2 + 3", "--at", "x=1"], "no variables"),
    # malformed --at
    (["diff", "x1 + x2", "--at", "x1=abc,x2=1"], "'abc' is not a number"),
    (["diff", "x1 + x2", "--at", "x1,x2=1"], "has no value"),
    (["diff", "x1 + x2", "--at", "x1=,x2=1"], "has no value"),
    (["diff", "x1 + x2", "--at", "=1,x2=1"], "has no name"),
    (["diff", "x1 + x2", "--at", "1x=1,x2=1"], "not a variable name"),
    (["diff", "x1 + x2", "--at", "x1=1,x1=2,x2=1"], "gives x1 twice"),
    (["diff", "x1 + x2", "--at", "x1=1", "--at", "x1=2"], "gives x1 twice"),
    (["diff", "x1 + x2", "--at", "x1=1"], "no value for x2"),
    (["diff", "x1 + x2", "--at", "x1=1,x2=2,x3=3"], "no variable x3"),
    (["diff", "x1 + x2", "--at", "x1=1,x2=2,pi=3"], "pi is the constant 3.14159"),
    (["diff", "x1 + x2", "--at", "x1=inf,x2=1"], "must be a finite number"),
    (["diff", "x1 + x2", "--at", "x1=nan,x2=1"], "must be a finite number"),
    (["diff", "x1 + x2", "--at", "x1=1e999,x2=1"], "must be a finite number"),
    (["diff", "x1 + x2", "--at", "x1=exp(1000),x2=1"], "must be a finite number"),
    (["diff", "x1 + x2", "--at", "x1=__import__('os'),x2=1"], "is not a number"),
    (["diff", "x1 + x2", "--at", "x1=" + "1" * MAX_LENGTH], "--at is longer than"),
    # the command line itself
    (["diff", "x"], "required: --at"),
    (["diff", "x", "--at", "x=1", "--mode", "sideways"], "invalid choice: 'sideways'"),
    (["diff", "-x", "--at", "x=1"], "needs '--' before it"),
    (["diff", "x", "--at", "x=1", "surplus"], "unrecognized arguments: surplus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize(("argv", "reason"), REFUSED, ids=[repr(a[1:])[:40] for a, _ in REFUSED])
def test_refused_with_one_line_on_stderr(argv, reason, capsys):
    status, out, err = run(argv, capsys)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err.startswith(("adkit: error: ", "adkit diff: error: "))
    assert reason in err
    assert "Traceback" not in err and "\x1b" not in err


def test_no_arguments_prints_help_and_exits_2(capsys):
    status, out, err = run([], capsys)
    assert status == 2
    assert out == ""
    assert err.startswith("usage: adkit")
    assert "diff" in err


def test_trace_prints_what_adkit_trace_returns(monkeypatch, capsys):
    calls = []

    class FakeTrace:
        def __str__(self) -> str:
            return "v1 | ln(x1)\nv2 | x1 * x2"

    def fake_trace(f, *args, seed=None, cotangent=None):
        calls.append((f, args))
        return FakeTrace()

    monkeypatch.setattr(adkit, "trace", fake_trace, raising=False)
    status, out, _ = run([*RUNNING, "--trace"], capsys)
    assert status == 0
    assert out.endswith("\n\nv1 | ln(x1)\nv2 | x1 * x2\n")
    [(f, args)] = calls
    assert args == (X1, X2)
    assert f(*args) == pytest.approx(VALUE)


def test_a_trace_that_fails_prints_only_the_error(monkeypatch, capsys):
    def refusing_trace(f, *args, seed=None, cotangent=None):
        raise ValueError("the output does not depend on the arguments")

    monkeypatch.setattr(adkit, "trace", refusing_trace, raising=False)
    status, out, err = run([*RUNNING, "--trace"], capsys)
    assert (status, out) == (2, "")
    assert (
        err == "adkit: error: the trace view cannot show this formula: the output does not depend on "
        "the arguments\n"
    )


@pytest.mark.skipif(not hasattr(adkit, "trace"), reason="adkit.trace (the trace view) does not exist yet")
def test_trace_prints_the_real_trace(capsys):
    status, out, _ = run([*RUNNING, "--trace"], capsys)
    assert status == 0
    trace = adkit.trace(adkit.expression.parse(RUNNING[1]), X1, X2)
    assert out.endswith(f"\n\n{trace}\n")


def test_help(capsys):
    status, out, _ = run(["--help"], capsys)
    assert status == 0
    assert "diff" in out and "Exit status" in out
    status, out, _ = run(["diff", "--help"], capsys)
    assert status == 0
    for expected in [
        "--at",
        "--mode",
        "--trace",
        "asin/arcsin",
        "atan2/arctan2",
        "10,000 characters",
        "100 levels",
        "±1000",
        "6 significant digits",
        'adkit diff "ln(x1)',
    ]:
        assert expected in out


def test_version(capsys):
    status, out, _ = run(["--version"], capsys)
    assert (status, out) == (0, f"adkit {adkit.__version__}\n")


# -- real processes ----------------------------------------------------------------------------


def python_m_adkit(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adkit", *argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_python_m_adkit_running_example():
    done = python_m_adkit(*RUNNING)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert fields(done.stdout)["value"] == format(VALUE, ".6g")


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("__import__('os').system('echo hacked')", "bare name"),
        ("9**9**9", "exponent"),
        ("(" * 3000 + "x" + ")" * 3000, "nested too deeply"),
        ("-" * 9000 + "x", "nested too deeply"),
        ("x" * 100_000, "limit is 10,000"),
        ("x.__class__", "attribute access"),
    ],
    ids=["import", "power tower", "parentheses", "minus signs", "long", "attribute"],
)
def test_python_m_adkit_refuses_with_one_line(formula, reason):
    done = python_m_adkit("diff", "--at", "x=1", "--", formula)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("python -m adkit: error: ")
    assert reason in done.stderr
    assert "hacked" not in done.stdout


def test_python_m_adkit_without_arguments():
    done = python_m_adkit()
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m adkit")


def test_console_script():
    script = Path(sys.executable).with_name("adkit")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable} (adkit is not installed there)")
    done = subprocess.run(
        [script, *RUNNING, "--mode", "reverse"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert fields(done.stdout)["df/dx2"] == format(GRADIENT[1], ".6g")
    done = subprocess.run(
        [script, "diff", "x.__class__", "--at", "x=1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("adkit: error: attribute access")
