"""adkit.symbolic: sympy derivatives of NumPy code, and expression swell against AD."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
import pytest
from matplotlib.testing.compare import compare_images

import adkit
from adkit import symbolic
from adkit.symbolic import expression_swell, logistic_map, symbolic_derivative, to_sympy

sympy = pytest.importorskip("sympy")
BASELINE = Path(__file__).parent / "baseline"
UPDATE = os.environ.get("ADKIT_UPDATE_BASELINES") == "1"  # write the baselines instead of comparing
x, y = sympy.symbols("x y", real=True)

FUNCTIONS = [
    (lambda x: np.sin(x) * x, x * sympy.cos(x) + sympy.sin(x)),
    (lambda x: np.exp(-(x**2)) / (1 + x), None),
    (lambda x: np.tanh(np.log1p(x * x)) ** 3, None),
    (lambda x: np.sqrt(np.arctan(x) + 2.0) - abs(x), None),
    (logistic_map(3), None),
]


@pytest.mark.parametrize(("f", "expected"), FUNCTIONS)
def test_symbolic_derivative_agrees_with_adkit(f, expected):
    d = symbolic_derivative(f)
    if expected is not None:
        assert sympy.simplify(d - expected) == 0
    numeric = sympy.lambdify(x, d, "numpy")
    for point in (0.3, 0.7, 1.9):
        assert float(numeric(point)) == pytest.approx(adkit.derivative(f)(point), rel=1e-12)


def test_gradients_wrt_and_expressions():
    assert symbolic_derivative(lambda x, y: x * np.sin(y)) == (sympy.sin(y), x * sympy.cos(y))
    assert symbolic_derivative(lambda x, y: x * np.sin(y), wrt="y") == x * sympy.cos(y)
    assert symbolic_derivative(x**2 * y, wrt=y) == x**2
    assert symbolic_derivative(sympy.exp(2 * x)) == 2 * sympy.exp(2 * x)
    assert symbolic_derivative(sympy.Integer(3)) == 0
    assert symbolic_derivative(lambda x: (1 - x) * (1 + x), simplify=True) == -2 * x
    t = sympy.Symbol("t", real=True)
    assert to_sympy(lambda t: 4 * t * (1 - t)) == 4 * t * (1 - t)
    assert to_sympy(np.exp) == sympy.exp(x)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: symbolic_derivative(3.0), TypeError, "function written with NumPy or a sympy expression"),
        (lambda: symbolic_derivative(lambda x: np.floor(x)), TypeError, "cannot translate np.floor"),
        (lambda: symbolic_derivative(lambda x: x if x else 0.0), TypeError, "no truth value"),
        (lambda: symbolic_derivative(lambda x: x * np.ones(2)), TypeError, "scalar functions"),
        (lambda: symbolic_derivative(lambda: 1.0), TypeError, "at least one positional argument"),
        (lambda: symbolic_derivative(x**2, wrt=y), ValueError, "not a variable"),
        (lambda: symbolic_derivative(x**2, wrt=3), TypeError, "Symbol or a name"),
        (lambda: expression_swell(ks=[]), ValueError, "non-empty"),
        (lambda: expression_swell(f_k=3), TypeError, "f_k must be a function"),
        (lambda: expression_swell(f_k=lambda k: k), TypeError, "must return a function"),
        (lambda: logistic_map(-1), ValueError, "non-negative"),
    ],
)
def test_bad_input_is_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_missing_sympy_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "sympy", None)  # `import sympy` now raises ImportError
    with pytest.raises(ImportError, match="pip install sympy"):
        symbolic_derivative(np.sin)
    with pytest.raises(ImportError, match="pip install sympy"):
        expression_swell(ks=[1])


def test_expression_swell_of_the_logistic_map():
    study = expression_swell(ks=range(1, 8))
    assert study.ks == [1, 2, 3, 4, 5, 6, 7]
    assert study.ad_ops == [3 * k for k in study.ks]  # AD: three operations a step
    growth = np.array(study.derivative[3:]) / np.array(study.derivative[2:-1])
    assert np.all(growth > 2)  # the derivative's tree at least doubles with each step
    assert study.derivative[-1] > 100 * study.ad_ops[-1]
    assert study.derivative_cse[-1] < study.derivative[-1] / 20  # shared subexpressions remove the swell
    assert study.derivative_chars[-1] > study.derivative[-1]
    table = study.to_markdown().splitlines()
    assert table[0].startswith("| k |") and table[-1] == "| 7 | 318 | 5472 | 21435 | 123 | 21 |"


def test_swell_of_a_user_family():
    study = expression_swell(lambda k: lambda t: t**k * np.exp(t), ks=[1, 2])
    assert study.ad_ops == [3, 3] and study.name == "<lambda>"


def test_swell_plot_matches_its_baseline(tmp_path):
    with matplotlib.style.context("default"):
        fig = expression_swell(ks=range(1, 7)).plot()
    assert fig.axes[0].get_yscale() == "log"
    actual = tmp_path / "symbolic_swell.png"
    fig.savefig(actual, dpi=72)
    expected = BASELINE / "symbolic_swell.png"
    if UPDATE:
        expected.write_bytes(actual.read_bytes())
    assert compare_images(str(expected), str(actual), tol=3.0) is None


def test_module_is_reachable_from_adkit():
    assert adkit.symbolic is symbolic


def test_a_branch_on_the_input_is_explained_at_the_comparison():
    with pytest.raises(TypeError, match="no truth value"):
        adkit.symbolic.symbolic_derivative(lambda x: x * x if x > 0 else -x)
