"""Edges of the front end: empty arrays, deeply nested pytrees."""

from __future__ import annotations

import numpy as np
import pytest

import adkit

# -- empty arrays: the empty Jacobian, of shape f(x).shape + x.shape (as JAX) ---------------------

EMPTY = {
    "empty in, scalar out": (lambda x: np.sum(x**2), np.zeros(0)),
    "empty in, empty out": (lambda x: 2.0 * x, np.zeros((3, 0))),
    "empty in, vector out": (lambda x: np.sum(x) + np.ones(2), np.zeros(0)),
    "vector in, empty out": (lambda x: 2.0 * x[:0], np.ones(3)),
    "vector in, empty matrix out": (lambda x: np.outer(x, x)[:, :0], np.ones(3)),
}


@pytest.mark.parametrize("name", EMPTY)
@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("chunk", [None, 2])
def test_jacobian_with_an_empty_input_or_output(name, mode, chunk):
    """Issue 11: raised ``range() arg 3 must not be zero``."""
    f, x = EMPTY[name]
    jac = adkit.jacobian(f, mode=mode, chunk=chunk)(x)
    assert isinstance(jac, np.ndarray) and jac.dtype == np.float64
    assert jac.shape == np.shape(f(x)) + x.shape


@pytest.mark.parametrize("shape", [(0,), (2, 0)])
def test_hessian_of_an_empty_input(shape):
    hessian = adkit.hessian(lambda x: np.sum(x**2))(np.zeros(shape))
    assert hessian.shape == shape + shape


def test_jacobian_with_one_empty_argument_among_others():
    dx, dy = adkit.jacobian(lambda x, y: np.sum(x) * y, argnums=(0, 1))(np.zeros(0), np.ones(2))
    assert dx.shape == (2, 0)
    np.testing.assert_array_equal(dy, np.zeros((2, 2)))  # the sum of nothing is 0
