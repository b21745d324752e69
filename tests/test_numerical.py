"""adkit.numerical: finite differences, the complex step, and the truncation/round-off trade-off."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
import pytest
from matplotlib.testing.compare import compare_images

import adkit
from adkit import numerical
from adkit.numerical import EPS, StepErrors, error_vs_step

BASELINE = Path(__file__).parent / "baseline"
UPDATE = os.environ.get("ADKIT_UPDATE_BASELINES") == "1"  # write the baselines instead of comparing


def check_image(fig, name: str, tmp_path: Path, tol: float = 3.0) -> None:
    """Compare a figure with tests/baseline/NAME (RMS tolerance ``tol``, in grey levels)."""
    actual = tmp_path / name
    fig.savefig(actual, dpi=72)
    expected = BASELINE / name
    if UPDATE:
        expected.write_bytes(actual.read_bytes())
    assert expected.exists(), f"no baseline {expected}; run with ADKIT_UPDATE_BASELINES=1 to create it"
    diff = compare_images(str(expected), str(actual), tol=tol)
    assert diff is None, diff


SMOOTH = [(np.exp, 1.0), (np.sin, 1.0), (np.exp, 0.5), (lambda x: x**3 + np.exp(x), 1.0)]


@pytest.mark.parametrize(("f", "x"), SMOOTH)
def test_optimal_steps_are_near_the_roots_of_machine_epsilon(f, x):
    study = error_vs_step(f, x)
    # central differences: h* ≈ ∛ε ≈ 6e-6; forward differences: h* ≈ √ε ≈ 1.5e-8
    assert EPS ** (1 / 3) / 4 < study.optimal_step["central"] < EPS ** (1 / 3) * 4
    assert np.sqrt(EPS) / 6 < study.optimal_step["forward"] < np.sqrt(EPS) * 6
    # and even there digits are lost: about half (forward), a third (central); none for the complex step
    assert 1e-11 < study.min_error("forward") < 1e-7
    assert 1e-14 < study.min_error("central") < 1e-10
    assert study.min_error("complex") <= 2 * EPS * abs(study.exact)


def test_the_error_curve_has_the_truncation_and_round_off_slopes():
    study = error_vs_step(np.exp, 1.0, steps=[1e-2, 1e-3, 1e-13, 1e-14])
    assert study.steps.tolist() == [1e-14, 1e-13, 1e-3, 1e-2]  # sorted
    forward, central = study.errors["forward"], study.errors["central"]
    assert forward[3] / forward[2] == pytest.approx(10, rel=0.1)  # truncation O(h)
    assert central[3] / central[2] == pytest.approx(100, rel=0.1)  # truncation O(h²)
    assert central[0] > 1e3 * central[2]  # round-off grows as h shrinks


def test_the_reference_is_adkit_unless_given():
    study = error_vs_step(np.sin, 0.3, steps=[1e-3, 1e-4])
    assert study.exact == adkit.derivative(np.sin)(0.3)
    wrong = error_vs_step(np.sin, 0.3, steps=[1e-3, 1e-4], exact=0.0)
    assert wrong.errors["central"][0] == pytest.approx(np.cos(0.3), rel=1e-6)


@pytest.mark.parametrize("method", ["forward", "central", "complex"])
def test_jacobians_agree_with_adkit(method):
    def f(x):
        return np.stack([np.sin(x[0]) * x[1], np.exp(x[1] / 4), x[0] * x[1] * x[2]])

    x = np.array([0.3, 1.2, -0.7])
    exact = adkit.jacobian(f)(x)
    approx = numerical.jacobian(f, x, method=method)
    assert approx.shape == (3, 3)
    tol = {"forward": 1e-6, "central": 1e-9, "complex": 1e-14}[method]
    np.testing.assert_allclose(approx, exact, atol=tol)


def test_shapes_follow_adkit():
    assert isinstance(numerical.central_difference(np.sin, 0.0), float)
    assert numerical.forward_difference(lambda x: np.sum(x**2), np.ones((2, 3))).shape == (2, 3)
    assert numerical.complex_step(lambda t: np.array([t, t * t]), 2.0).tolist() == [1.0, 4.0]
    assert numerical.central_difference(np.exp, 1.0, h=1e-3) == pytest.approx(np.e * (1 + 1e-6 / 6), rel=1e-9)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: numerical.jacobian(np.sin, 1.0, method="backward"), ValueError, "method must be one of"),
        (lambda: numerical.jacobian(np.sin, 1.0, h=-1e-3), ValueError, "positive finite"),
        (lambda: numerical.jacobian(np.sin, 1.0, h=0.0), ValueError, "positive finite"),
        (lambda: numerical.jacobian("sin", 1.0), TypeError, "needs a function"),
        (lambda: numerical.jacobian(np.sin, "one"), TypeError, "real number"),
        (lambda: numerical.jacobian(np.sin, 1j), TypeError, "real number"),
        (lambda: numerical.jacobian(lambda x: x * 1j, 1.0), TypeError, "complex value"),
        (lambda: error_vs_step(np.sin, np.ones(2)), TypeError, "scalar point"),
        (lambda: error_vs_step(np.sin, 1.0, steps=[1e-3]), ValueError, "at least two"),
        (lambda: error_vs_step(np.sin, 1.0, steps=[1e-3, -1.0]), ValueError, "positive"),
        (lambda: error_vs_step(np.sin, 1.0, methods="central"), TypeError, "sequence"),
        (lambda: error_vs_step(np.sin, 1.0, methods=["spline"]), ValueError, "method must be one of"),
    ],
)
def test_bad_input_is_explained(call, error, match):
    with pytest.raises(error, match=match):
        call()


def synthetic_study() -> StepErrors:
    """The model curves, with no floating-point luck: |error| = truncation + round-off."""
    h = np.logspace(-16, 0, 161)
    errors = {
        "forward": np.e * h / 2 + 2 * EPS * np.e / h,
        "central": np.e * h**2 / 6 + EPS * np.e / h,
        "complex": np.maximum(np.e * h**2 / 6, EPS * np.e),
    }
    return StepErrors(1.0, h, errors, exact=np.e, name="exp")


def test_plot_matches_its_baseline(tmp_path):
    with matplotlib.style.context("default"):
        fig = synthetic_study().plot()
        ax = fig.axes[0]
        assert ax.get_xscale() == ax.get_yscale() == "log"
        check_image(fig, "numerical_error_vs_step.png", tmp_path)


def test_optimal_step_of_the_model_curves():
    study = synthetic_study()
    assert study.optimal_step["forward"] == pytest.approx(2 * np.sqrt(EPS), rel=0.1)
    assert study.optimal_step["central"] == pytest.approx((3 * EPS) ** (1 / 3), rel=0.1)
    # the complex step: the largest step whose error is at the floor
    # (√(6ε) ≈ 3.6e-8, less the quarter decade of the envelope)
    assert 1e-8 < study.optimal_step["complex"] < np.sqrt(6 * EPS)
    assert "central: h* = 7.9e-06 (error 1.0e-10)" in repr(study)


def test_error_vs_step_leaves_out_steps_outside_the_domain():
    # sin^3 + cos^3 < 0 for large steps beyond x = 1.5: sqrt gives nan there
    f = lambda x: np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)
    study = adkit.numerical.error_vs_step(f, 1.5)
    assert not np.isfinite(study.errors["central"]).all()
    assert 1e-9 < study.optimal_step["forward"] < 1e-7
    with pytest.raises(ValueError, match="not finite"):
        adkit.numerical.error_vs_step(lambda x: np.sqrt(x), -1.0)
