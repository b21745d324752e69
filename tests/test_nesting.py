"""Derivatives of derivatives in every combination of modes, without perturbation confusion."""

import itertools
import math

import numpy as np
import pytest

import adkit

MODES = ["forward", "reverse"]


def d(f, mode):
    return adkit.diff(f, mode=mode)


@pytest.mark.parametrize(("outer", "inner"), list(itertools.product(MODES, MODES)))
def test_perturbation_confusion(outer, inner):
    # d/dx [x * d/dy (x + y)] at x = 1 is 1: the inner derivative is 1 for every x.
    # A confused implementation lets x's perturbation leak into d/dy and gives 2.
    result = d(lambda x: x * d(lambda y: x + y, inner)(1.0), outer)(1.0)
    assert result == 1.0


@pytest.mark.parametrize(("outer", "inner"), list(itertools.product(MODES, MODES)))
def test_nested_derivative_that_depends_on_the_outer_variable(outer, inner):
    # d/dx [d/dy (x y^2)]_{y=x} ... written as g(x) = d/dy (x * y * y) at y = 3 = 6 x; g' = 6
    g = lambda x: d(lambda y: x * y * y, inner)(3.0)
    assert d(g, outer)(2.0) == pytest.approx(6.0)


@pytest.mark.parametrize("modes", list(itertools.product(MODES, repeat=3)))
def test_third_derivative_in_every_combination(modes):
    f = lambda x: np.sin(x) * np.exp(x)
    for mode in modes:
        f = d(f, mode)
    x = 0.4
    expected = 2**1.5 * math.exp(x) * math.sin(x + 3 * math.pi / 4)
    assert f(x) == pytest.approx(expected, rel=1e-12)


def test_hessian_all_nestings_agree_and_hvp_matches():
    def f(x):
        return np.sum(np.tanh(x) ** 2) + x[0] * x[1] * x[2]

    x = np.array([0.3, -0.7, 1.1])
    h = adkit.hessian(f)(x)  # forward over reverse
    ff = adkit.jacobian(adkit.jacobian(f, mode="forward"), mode="forward")(x)
    rr = adkit.jacobian(adkit.grad(f), mode="reverse")(x)
    rf = adkit.jacobian(adkit.jacobian(f, mode="forward"), mode="reverse")(x)
    for other in (ff, rr, rf):
        np.testing.assert_allclose(h, other, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(h, h.T, rtol=1e-13, atol=1e-14)
    v = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(adkit.hvp(f)(x, v), h @ v, rtol=1e-13)


def test_hand_built_nested_duals():
    # x + ε1 + ε2 with distinct tags: the ε1 ε2 coefficient is the second derivative
    inner = adkit.Dual(0.5, 1.0)
    x = adkit.Dual(inner, adkit.Dual(1.0, 0.0))
    y = np.sin(x)
    assert y.tangent.tangent == pytest.approx(-math.sin(0.5))
    assert y.value.tangent == pytest.approx(math.cos(0.5))


def test_check_grads_reaches_third_order_on_a_composite_function():
    f = lambda x, y: np.sum(np.exp(-x * y) * np.log1p(x**2)) / (1 + y @ y)
    adkit.check_grads(
        f,
        np.array([0.3, 0.9]),
        np.array([1.2, -0.4]),
        modes=("forward", "reverse", "auto"),
        order=3,
        eps=1e-4,
        rtol=1e-4,
        atol=1e-6,
    )
