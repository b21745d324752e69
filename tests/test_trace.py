"""The evaluation trace: rows, numbering and numbers against closed forms, formats, errors.

The running example is Baydin et al. 2018 (Tables 2 and 3): f(x1, x2) =
ln x1 + x1 x2 - sin x2 at (2, 5). Every expected number below is computed
from its closed form (2 - cos 5 ...), never copied from adkit's output.
"""

from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

import adkit
from adkit.views import Trace, TraceRow, trace


def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


X1, X2 = 2.0, 5.0

# (name, definition, primal, tangent along e1, adjoint of y): the survey's Tables 2 and 3, in closed form
SURVEY = [
    ("v-1", "x1", X1, 1.0, 1 / X1 + X2),
    ("v0", "x2", X2, 0.0, X1 - math.cos(X2)),
    ("v1", "ln(v-1)", math.log(X1), 1 / X1, 1.0),
    ("v2", "v-1 * v0", X1 * X2, X2, 1.0),
    ("v3", "sin(v0)", math.sin(X2), 0.0, -1.0),
    ("v4", "v1 + v2", math.log(X1) + X1 * X2, 1 / X1 + X2, 1.0),
    ("v5", "v4 - v3", math.log(X1) + X1 * X2 - math.sin(X2), 1 / X1 + X2, 1.0),
    ("y", "v5", math.log(X1) + X1 * X2 - math.sin(X2), 1 / X1 + X2, 1.0),
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def check_rows(t: Trace, expected: list[tuple]) -> None:
    assert [(r.name, r.definition) for r in t] == [(n, d) for n, d, *_ in expected]
    for row, (name, _, value, tangent, adjoint) in zip(t, expected):
        assert row.value == pytest.approx(value, rel=1e-12, abs=1e-12), name
        assert row.tangent == pytest.approx(tangent, rel=1e-12, abs=1e-12), name
        assert row.adjoint == pytest.approx(adjoint, rel=1e-12, abs=1e-12), name


# -- the worked examples ------------------------------------------------------------------


def test_running_example_matches_the_survey_tables():
    t = trace(running_example, X1, X2)
    check_rows(t, SURVEY)
    assert [r.kind for r in t] == ["input"] * 2 + ["intermediate"] * 5 + ["output"]
    assert [r.layer for r in t][:7] == [0, 0, 1, 1, 1, 2, 3]


def test_running_example_rounded_as_printed_in_the_survey():
    t = trace(running_example, X1, X2)
    primal = {r.name: round(r.value, 3) for r in t}
    assert primal == {
        "v-1": 2,
        "v0": 5,
        "v1": 0.693,
        "v2": 10,
        "v3": -0.959,
        "v4": 10.693,
        "v5": 11.652,
        "y": 11.652,
    }
    assert [round(t[f"v{i}"].tangent, 3) for i in range(1, 6)] == [0.5, 5, 0, 5.5, 5.5]
    assert [round(t[f"v{i}"].adjoint, 3) for i in (5, 4, 3, 2, 1, 0, -1)] == [1, 1, -1, 1, 1, 1.716, 5.5]


def test_numbering_is_by_generation_not_by_python_evaluation_order():
    # Python evaluates ln, *, +, sin, -: sin would be v4 in evaluation order
    t = trace(running_example, X1, X2)
    assert t[3].definition == "sin(v0)"
    assert t[4].definition == "v1 + v2"
    for row in t:
        if row.kind == "intermediate":
            operands = [int(n) for n in re.findall(r"v(-?\d+)", row.definition)]
            assert all(n < row.number for n in operands)
            assert all(t[n].layer < row.layer for n in operands)


def test_second_seed_direction_gives_the_other_partial():
    # dot-product check: the tangent along e2 equals the adjoint of x2
    t = trace(running_example, X1, X2, seed=(0.0, 1.0))
    assert t["y"].tangent == pytest.approx(X1 - math.cos(X2), rel=1e-12)
    assert t["v-1"].tangent == 0.0 and t["v0"].tangent == 1.0


def test_difference_of_squares():
    x, y = 3.0, 2.0
    t = trace(lambda x, y: (x + y) * (x - y), x, y)
    check_rows(
        t,
        [
            ("v-1", "x", x, 1.0, 2 * x),
            ("v0", "y", y, 0.0, -2 * y),
            ("v1", "v-1 + v0", x + y, 1.0, x - y),
            ("v2", "v-1 - v0", x - y, 1.0, x + y),
            ("v3", "v1 * v2", x * x - y * y, 2 * x, 1.0),
            ("out", "v3", x * x - y * y, 2 * x, 1.0),  # "y" is an input: the output is "out"
        ],
    )


def test_quadratic_with_a_constant():
    x, y = 3.0, 2.0
    t = trace(lambda x, y: x * x + x * y + 2, x, y)
    check_rows(
        t,
        [
            ("v-1", "x", x, 1.0, 2 * x + y),
            ("v0", "y", y, 0.0, x),
            ("v1", "v-1 * v-1", x * x, 2 * x, 1.0),
            ("v2", "v-1 * v0", x * y, y, 1.0),
            ("v3", "v1 + v2", x * x + x * y, 2 * x + y, 1.0),
            ("v4", "v3 + 2", x * x + x * y + 2, 2 * x + y, 1.0),
            ("out", "v4", x * x + x * y + 2, 2 * x + y, 1.0),
        ],
    )


def test_input_names_come_from_the_signature_or_default_to_x1_xn():
    assert [r.definition for r in trace(lambda a, b: a * b, 1.0, 2.0)][:2] == ["a", "b"]
    assert [r.definition for r in trace(np.multiply, 1.0, 2.0)][:2] == ["x1", "x2"]
    assert trace(np.sin, 1.0)[0].definition == "x"
    assert [r.definition for r in trace(lambda *xs: xs[0] * xs[1], 1.0, 2.0)][:2] == ["x1", "x2"]


def test_several_outputs_and_an_output_that_is_an_input():
    x, y = 3.0, 2.0
    t = trace(lambda x, y: (x * y, x + y, x), x, y)
    outputs = [r for r in t if r.kind == "output"]
    assert [(r.name, r.definition) for r in outputs] == [("y1", "v1"), ("y2", "v2"), ("y3", "v-1")]
    # default cotangent: ones for every output, so adjoints of y1 + y2 + y3
    assert t["v-1"].adjoint == pytest.approx(y + 1 + 1)
    assert t["v0"].adjoint == pytest.approx(x + 1)
    t = trace(lambda x, y: (x * y, x + y), x, y, cotangent=(1.0, 0.0))
    assert t["v-1"].adjoint == pytest.approx(y)


@pytest.mark.parametrize(
    ("f", "args", "outputs"),
    [
        (lambda x, y: x * y, (2.0, 3.0), ["out"]),
        (lambda x, y, out: x * y * out, (2.0, 3.0, 4.0), ["result"]),
        (lambda a, y2: (a * y2, a + y2), (2.0, 3.0), ["out1", "out2"]),
        (lambda y, out, result, output: y * out + result * output, (1.0, 2.0, 3.0, 4.0), ["y_out"]),
        (lambda a, b: a * b, (2.0, 3.0), ["y"]),
    ],
)
def test_output_names_never_repeat_an_input_name(f, args, outputs):
    t = trace(f, *args)
    inputs = [r.definition for r in t if r.kind == "input"]
    assert [r.name for r in t if r.kind == "output"] == outputs
    assert not set(inputs) & set(outputs)
    g = adkit.graph(f, *args)
    assert repr(g).endswith(f"inputs {', '.join(inputs)}; outputs {', '.join(outputs)}>")
    assert t[outputs[0]].kind == "output"


def test_the_tour_numbers_the_tape_as_the_trace_and_graph_do():
    """``python -m adkit.tour`` names the tape's entries v-1 .. v5 as the trace does (not v0 = input)."""
    from adkit.tour import running_example as tour_example
    from adkit.tour import tour

    lines = [line for line in tour() if re.match(r"  t\d", line)]
    named = {re.match(r"\s*t(\d+)\s+(v-?\d+) = (\S+(?: \S+ \S+)?)\s+value", line).groups() for line in lines}
    t = trace(tour_example, X1, X2)
    expected = {(str(v.tape_index), v.name, t[v.name].definition) for v in t.computation.variables}
    assert named == expected
    assert [name for _, name, _ in sorted(named, key=lambda n: int(n[0]))] == [
        "v-1",
        "v0",
        "v1",
        "v2",
        "v4",
        "v3",
        "v5",
    ]  # evaluation order; the survey numbers by generation
    assert not any("input" in line for line in lines)


def test_a_variable_nothing_reads_keeps_its_row_with_zero_adjoint():
    def f(x):
        unused = np.exp(x)  # noqa: F841
        return x * 3.0

    t = trace(f, 1.0)
    assert [r.definition for r in t] == ["x", "exp(v0)", "v0 * 3", "v2"]
    assert t["v1"].value == pytest.approx(math.e)
    assert t["v1"].adjoint == 0.0
    assert t["v0"].adjoint == 3.0


# -- arrays ----------------------------------------------------------------------------------


def test_array_variables_show_shape_and_summary():
    x = np.array([0.5, 1.0, 2.0])
    t = trace(lambda x: np.sum(np.sin(x) * x), x)
    assert [r.definition for r in t] == ["x", "sin(v0)", "v1 * v0", "sum(v2)", "v3"]
    np.testing.assert_allclose(t["v0"].adjoint, np.sin(x) + x * np.cos(x), rtol=1e-12)
    np.testing.assert_allclose(t["v2"].tangent, [np.sin(0.5) + 0.5 * np.cos(0.5), 0, 0], rtol=1e-12)
    assert t["y"].tangent == pytest.approx(np.sin(0.5) + 0.5 * np.cos(0.5), rel=1e-12)
    text = t.to_text()
    assert "(3,) [0.5 1 2]" in text
    big = trace(lambda w: np.tanh(w).sum(), np.linspace(-1.0, 1.0, 12).reshape(3, 4))
    assert "(3, 4) range [-1, 1]" in big.to_text()
    assert "(3, 4) range [-0.762, 0.762]" in big.to_text()


def test_array_definitions_show_indices_and_axes():
    t = trace(lambda x: np.sum(x[0, 1:], axis=0) + x.sum(axis=0)[0], np.ones((2, 3)))
    definitions = [r.definition for r in t]
    assert "v0[0, 1:]" in definitions
    assert "sum(v0, axis=-2)" in definitions
    assert "sum(v1)" in definitions  # a reduction over every axis says nothing more


def test_array_output_gets_ones_as_default_cotangent():
    x = np.array([1.0, 2.0])
    t = trace(lambda x: x * x, x)
    np.testing.assert_allclose(t["v0"].adjoint, 2 * x)
    t = trace(lambda x: x * x, x, cotangent=np.array([1.0, 0.0]))
    np.testing.assert_allclose(t["v0"].adjoint, [2.0, 0.0])


def test_seed_for_array_input_and_per_input_seed_tuple():
    x = np.array([1.0, 2.0])
    t = trace(lambda x: x[0] * x[1], x, seed=[0.0, 1.0])
    assert t["y"].tangent == pytest.approx(1.0)
    t = trace(lambda x, s: x[0] * s, x, 3.0, seed=(np.zeros(2), 1.0))
    assert t["y"].tangent == pytest.approx(1.0)
    t = trace(lambda x, s: x[0] * s, x, 3.0)  # e1: the first entry of the first input
    np.testing.assert_array_equal(t["v-1"].tangent, [1.0, 0.0])
    assert t["y"].tangent == pytest.approx(3.0)


# -- the formats -----------------------------------------------------------------------------


def test_text_is_aligned_and_print_shows_it(capsys):
    t = trace(running_example, X1, X2)
    print(t)
    printed = capsys.readouterr().out.rstrip("\n")
    assert printed == t.to_text() == repr(t)
    lines = printed.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("variable"))
    table = lines[header:]
    assert len(table) == 1 + len(t)
    # definition column starts at the same place in every row; numbers end at the same place
    starts = {line.index(row.definition, len(row.name)) for line, row in zip(table[1:], t)}
    assert starts == {table[0].index("definition")}
    ends = {len(line) for line in table}
    assert ends == {len(table[0])}
    assert "ẋ = (1, 0)" in lines[1] and "ȳ = 1" in lines[1]


def test_markdown():
    md = trace(running_example, X1, X2).to_markdown()
    lines = md.splitlines()
    assert len(lines) == 2 + 8
    assert all(line.count("|") == 6 for line in lines)
    assert r"| $v_{1}$ | $\ln v_{-1}$ | 0.69315 | 0.5 | 1 |" in lines
    assert r"| $v_{2}$ | $v_{-1} \times v_{0}$ | 10 | 5 | 1 |" in lines


def test_markdown_escapes_pipes():
    md = trace(lambda x: np.abs(x), -2.0).to_markdown()
    assert r"$\vert v_{0}\vert $" in md
    assert all(line.count("|") - line.count(r"\|") == 6 for line in md.splitlines())


def test_latex():
    tex = trace(running_example, X1, X2).to_latex()
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    assert r"$v_{3}$ & $\sin v_{0}$ & $-0.95892$ & $0$ & $-1$ \\" in tex
    assert r"$v_{-1}$ & $x_{1}$ & $2$ & $1$ & $5.5$ \\" in tex
    rows = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 1 + 8  # header and rows
    # no raw underscore outside a subscript or an escaped \_
    assert not re.search(r"[^\\{}a-z]_(?!\{)", tex)


def test_latex_of_an_operation_without_a_template_is_escaped():
    tex = trace(lambda x: np.sum(x[1:], axis=0), np.ones(3)).to_latex()
    assert r"$v_{0}\texttt{[1:]}$" in tex


def test_html_table():
    t = trace(running_example, X1, X2)
    page = t._repr_html_()
    assert page.startswith('<table class="adkit-trace"')
    assert page.count("<tr") == 1 + len(t)
    assert "v<sub>−1</sub>" in page and "x<sub>1</sub>" in page
    assert "ln(v<sub>−1</sub>)" in page


def test_draw_renders_a_table():
    t = trace(running_example, X1, X2)
    ax = t.draw()
    table = ax.tables[0]
    cells = table.get_celld()
    assert len(cells) == (len(t) + 1) * 5
    assert cells[(3, 1)].get_text().get_text() == r"$\ln v_{-1}$"
    assert cells[(0, 0)].get_text().get_text() == "variable"


def test_rows_by_name_and_number():
    t = trace(running_example, X1, X2)
    assert t["v3"] is t[3] or t["v3"] == t[3]
    assert isinstance(t["y"], TraceRow) and t["y"].kind == "output"
    with pytest.raises(KeyError, match=r"no row 'v9'.*v-1, v0"):
        t["v9"]
    assert t.seed == (1.0, 0.0) and t.cotangent == (1.0,)


def test_missing_jvp_rule_shows_no_tangents():
    @adkit.primitive
    def cube(x):
        return x**3

    cube.defvjp(lambda ct, out, x: ct * 3 * x**2)
    t = trace(lambda x: cube(x) + x, 2.0)
    assert all(r.tangent is None for r in t)
    assert t["v0"].adjoint == pytest.approx(3 * 4 + 1)
    assert "n/a" in t.to_text() and "no tangents" in t.to_text()


def test_trace_is_the_public_adkit_trace():
    assert adkit.trace is trace and adkit.Trace is Trace


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: trace(3.0, 1.0), TypeError, r"needs the function to trace.*Example"),
        (lambda: trace(np.sin), TypeError, r"needs the point to evaluate"),
        (lambda: trace(np.sin, "1.0"), TypeError, r"argument 0 of .* is a str.*number or a NumPy array"),
        (lambda: trace(np.sin, True), TypeError, r"is a bool"),
        (lambda: trace(np.sin, 1j), TypeError, r"complex"),
        (lambda: trace(np.sin, adkit.Dual(1.0, 1.0)), TypeError, r"traced value.*adkit.primal"),
        (lambda: trace(lambda x: "y", 1.0), TypeError, r"is a str.*return a number, an array"),
        (lambda: trace(lambda x: None, 1.0), TypeError, r"is a NoneType"),
        (lambda: trace(lambda x: 3.0, 1.0), ValueError, r"does not depend on the arguments"),
        (lambda: trace(lambda x: (x, 2.0), 1.0), ValueError, r"output 1 of .* does not depend"),
        (lambda: trace(lambda x: (), 1.0), TypeError, r"empty tuple"),
        (lambda: trace(lambda x: np.array([x, x]), 1.0), TypeError, r"np.stack"),  # the core's message
        (
            lambda: trace(running_example, 2.0, 5.0, seed=(1.0,)),
            ValueError,
            r"seed.*does not fit.*one value per input.*x1: \(\), x2: \(\).*seed=\(1.0, 0.0\)",
        ),
        (
            lambda: trace(running_example, 2.0, 5.0, seed=(1.0, [0.0, 1.0])),
            ValueError,
            r"seed for x2 has shape \(2,\), but x2 has shape \(\)",
        ),
        (lambda: trace(lambda x: x.sum(), np.ones(3), seed=np.ones(2)), ValueError, r"x: \(3,\)"),
        (lambda: trace(running_example, 2.0, 5.0, seed=("a", 1.0)), TypeError, r"seed must be a number"),
        (
            lambda: trace(lambda x: x * x, np.ones(2), cotangent=1.0),
            ValueError,
            r"cotangent.*one value per output.*y: \(2,\)",
        ),
        (lambda: trace(lambda x: (x, x), 1.0, cotangent=1.0), ValueError, r"y1: \(\), y2: \(\)"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_value_from_another_tape_is_refused():
    with adkit.Tape():
        outside = adkit.Var(1.0)
    with pytest.raises(ValueError, match="another tape"):
        trace(lambda x: outside * 2.0, 1.0)
