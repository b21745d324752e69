"""User-side regressions of issue 11's items 1-2 and its missing methods, each against NumPy or JAX's values."""

import numpy as np
import pytest

import adkit

MODES = ["forward", "reverse"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("divisor", [np.array([2, 4, 8]), np.int64(2), np.array([True, True, True])])
def test_dividing_by_integers_keeps_the_derivative(mode, divisor):
    """np.reciprocal of an integer is an integer (1 // y): the quotient rule must not use it."""
    g = adkit.diff(lambda x: np.sum(x / divisor), mode=mode)(np.array([1.0, 5.0, 3.0]))
    np.testing.assert_allclose(g, np.ones(3) / divisor)
