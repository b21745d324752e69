"""Conventions at kinks and domain edges, the same in every mode (see adkit/rules.py)."""

import math
import warnings

import numpy as np
import pytest

import adkit

MODES = ["forward", "reverse"]


@pytest.mark.parametrize("mode", MODES)
def test_abs_has_derivative_zero_at_zero(mode):
    assert adkit.diff(np.abs, mode=mode)(0.0) == 0.0
    assert adkit.diff(np.abs, mode=mode)(-2.0) == -1.0
    np.testing.assert_array_equal(adkit.diff(lambda x: np.sum(np.abs(x)), mode=mode)(np.zeros(2)), [0, 0])


@pytest.mark.parametrize("mode", MODES)
def test_maximum_and_minimum_split_evenly_at_ties(mode):
    dx, dy = adkit.diff(np.maximum, mode=mode, argnums=(0, 1))(1.0, 1.0)
    assert (dx, dy) == (0.5, 0.5)
    dx, dy = adkit.diff(np.minimum, mode=mode, argnums=(0, 1))(2.0, 1.0)
    assert (dx, dy) == (0.0, 1.0)


@pytest.mark.parametrize("mode", MODES)
def test_max_reduction_splits_evenly_among_tied_elements(mode):
    g = adkit.diff(np.max, mode=mode)(np.array([3.0, 1.0, 3.0, 3.0]))
    np.testing.assert_allclose(g, [1 / 3, 0.0, 1 / 3, 1 / 3])


@pytest.mark.parametrize("mode", MODES)
def test_clip_passes_the_derivative_on_the_closed_interval(mode):
    d = adkit.diff(lambda x: np.clip(x, 0.0, 1.0), mode=mode)
    assert [d(v) for v in (-0.5, 0.0, 0.5, 1.0, 1.5)] == [0.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [0.0, np.zeros(3)])
def test_sqrt_and_log_derivatives_at_zero_are_inf_without_warning(mode, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d_sqrt = adkit.diff(np.sqrt, mode=mode)(x)
        d_log = adkit.diff(np.log, mode=mode)(x) if np.ndim(x) == 0 else None
    if np.ndim(x) == 0:
        assert d_sqrt == math.inf and d_log == math.inf
    else:  # inf on the diagonal; a zero direction times inf stays zero off it
        np.testing.assert_array_equal(d_sqrt, np.where(np.eye(3) == 1, np.inf, 0.0))


def test_where_passes_no_tangent_from_the_branch_not_taken():
    # forward: the sqrt branch has an infinite tangent at 0, which must not leak
    f = lambda x: np.where(x > 0, np.sqrt(x), 0.0)
    _, tangent = adkit.jvp(f, (np.array([0.0, 4.0]),), (np.ones(2),))
    np.testing.assert_array_equal(tangent, [0.0, 0.25])
    # reverse: where's own VJP gives the unselected branch a zero cotangent
    _, pullback = adkit.vjp(lambda a, b: np.where(np.array([True, False]), a, b), np.ones(2), np.ones(2))
    ct_a, ct_b = pullback(np.array([2.0, 3.0]))
    np.testing.assert_array_equal(ct_a, [2.0, 0.0])
    np.testing.assert_array_equal(ct_b, [0.0, 3.0])
    # and the famous nan of reverse mode through where (0 * inf) does not happen
    g = adkit.grad(lambda x: np.sum(f(x)))(np.array([0.0, 4.0]))
    np.testing.assert_array_equal(g, [0.0, 0.25])


@pytest.mark.parametrize("mode", MODES)
def test_norm_has_the_zero_subgradient_at_zero(mode):
    np.testing.assert_array_equal(adkit.diff(np.linalg.norm, mode=mode)(np.zeros(3)), np.zeros(3))


@pytest.mark.parametrize("mode", MODES)
def test_prod_derivative_is_exact_with_a_zero(mode):
    g = adkit.diff(np.prod, mode=mode)(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])
    g = adkit.diff(np.prod, mode=mode)(np.array([0.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])


def test_power_with_zero_exponent_and_zero_base():
    assert adkit.diff(lambda x: x**0)(0.0) == 0.0
    assert adkit.diff(lambda y: 0.0**y, mode="reverse")(2.0) == 0.0  # lim out * log(x) = 0


@pytest.mark.parametrize("mode", MODES)
def test_copysign_has_derivative_zero_at_zero_and_none_in_the_sign(mode):
    d = adkit.diff(np.copysign, mode=mode, argnums=(0, 1))
    assert d(0.0, -1.0) == (0.0, 0.0)
    assert d(2.0, -0.0) == (-1.0, 0.0)  # the sign bit of -0.0 counts
    assert d(-2.0, 3.0) == (-1.0, 0.0)


@pytest.mark.parametrize("mode", MODES)
def test_remainder_at_a_jump_takes_the_piece_that_starts_there(mode):
    d = adkit.diff(np.remainder, mode=mode, argnums=(0, 1))
    assert d(6.0, 3.0) == (1.0, -2.0)  # remainder(x, 3) = x - 6 on [6, 9)
    assert d(-6.0, 3.0) == (1.0, 2.0)
    d = adkit.diff(np.fmod, mode=mode, argnums=(0, 1))
    assert d(-6.0, 3.0) == (1.0, 2.0)  # fmod(x, 3) = x + 6 on (-9, -6]
