"""Linear algebra from the user's side: nested vector-mode derivatives, stacks, singular matrices.

The rule-table test (tests/test_rules.py) checks every rule in every nesting;
these are the reported cases, written as a user meets them, against central
differences and, where it is installed, JAX in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import adkit
import adkit.rules

RNG = np.random.default_rng(11)
A = RNG.normal(size=(3, 3)) + 3.0 * np.eye(3)
B = RNG.normal(size=3)


def solve_first(a):
    return np.linalg.solve(a, B)[0]


def central_hessian(f, x, h=1e-5):
    """Central differences of adkit's gradient (first order, checked against differences elsewhere)."""
    g = adkit.grad(f)
    out = np.zeros(x.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        out[(...,) + idx] = (g(x + step) - g(x - step)) / (2 * h)
    return out


@pytest.mark.parametrize("chunk", [None, 1, 2, 4, 8])
def test_forward_over_forward_jacobian_of_solve_is_the_hessian(chunk):
    """Issue 11, item 5: wrong with chunk=None, a broadcasting ValueError with 2 and 4."""
    want = central_hessian(solve_first, A)
    inner = adkit.jacobian(solve_first, mode="forward", chunk=chunk)
    got = adkit.jacobian(inner, mode="forward", chunk=chunk)(A)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(adkit.hessian(solve_first)(A), want, rtol=1e-7, atol=1e-8)


def test_batched_jvp_over_a_forward_jacobian_of_solve():
    directions = RNG.normal(size=(2, 3, 3))
    _, got = adkit.jvp(adkit.jacobian(solve_first, mode="forward"), (A,), (directions,))
    want = np.einsum("ijkl,bkl->bij", central_hessian(solve_first, A), directions)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)


def test_solve_second_derivatives_agree_with_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    want = jax.jit(jax.hessian(lambda a, b: jnp.linalg.solve(a, b)[0], argnums=(0, 1)))(A, B)
    f = lambda a, b: np.linalg.solve(a, b)[0]
    for outer in ("forward", "reverse"):
        for inner in ("forward", "reverse"):
            got = adkit.jacobian(
                adkit.jacobian(f, mode=inner, argnums=(0, 1), chunk=2), mode=outer, argnums=(0, 1), chunk=3
            )(A, B)
            for i in range(2):
                for j in range(2):
                    np.testing.assert_allclose(
                        got[i][j],
                        want[i][j],
                        rtol=1e-10,
                        atol=1e-12,
                        err_msg=f"{outer} over {inner}, d{i} d{j}",
                    )


STACKS = [((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 2)), ((3, 3), (4, 3, 1)), ((2, 1, 3, 3), (4, 3, 2))]


@pytest.mark.parametrize(("a_shape", "b_shape"), STACKS)
def test_solve_of_stacks_gives_numpys_values_and_derivatives(a_shape, b_shape):
    a = RNG.normal(size=a_shape) + 3.0 * np.eye(3)
    b = RNG.normal(size=b_shape)
    f = lambda a, b: np.linalg.solve(a, b)
    out, _ = adkit.jvp(f, (a, b), (np.zeros_like(a), np.zeros_like(b)))
    np.testing.assert_array_equal(out, np.linalg.solve(a, b))
    adkit.check_grads(f, a, b, order=2, eps=1e-5, rtol=1e-5, atol=1e-7)


def test_solve_refuses_what_numpy_1_would_read_otherwise(monkeypatch):
    monkeypatch.setattr(adkit.rules, "_NUMPY1", True)
    a = np.stack([A, A])
    with pytest.raises(NotImplementedError, match="NumPy 1 reads this b as a stack of vectors"):
        adkit.jacobian(lambda a: np.linalg.solve(a, np.ones((3, 2))))(a)
    adkit.jacobian(lambda a: np.linalg.solve(a, np.ones(3)))(a)  # unambiguous: a vector


# -- det at singular matrices: the cofactor matrix, not det(X) inv(X)ᵀ ----------------------------

SINGULAR = {
    "rank 2": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    "rank 1": np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0]),
    "zero": np.zeros((3, 3)),
    "rank 2, diagonal": np.diag([2.0, 3.0, 0.0]),
}
DIRECTION = RNG.normal(size=(3, 3))


def cofactors_by_minors(a):
    n = a.shape[0]
    return np.array(
        [
            [(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) for j in range(n)]
            for i in range(n)
        ]
    )


def det_along(a, e):
    """det(a + t e) is a cubic in t: its exact coefficients c_0..c_3 (by a fit through 7 points)."""
    ts = np.linspace(-1.0, 1.0, 7)
    return np.polynomial.polynomial.polyfit(ts, [np.linalg.det(a + t * e) for t in ts], 3)


@pytest.mark.parametrize("name", SINGULAR)
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix(name, mode):
    """Issue 11: the gradient raised LinAlgError (the rule used inv)."""
    a = SINGULAR[name]
    np.testing.assert_allclose(adkit.diff(np.linalg.det, mode=mode)(a), cofactors_by_minors(a), atol=1e-12)
    stack = np.stack([a, A])  # a stack with a singular and a regular matrix
    want = np.stack([cofactors_by_minors(a), cofactors_by_minors(A)])
    np.testing.assert_allclose(adkit.grad(lambda x: np.sum(np.linalg.det(x)))(stack), want, atol=1e-12)


@pytest.mark.parametrize("name", SINGULAR)
def test_det_second_derivative_at_a_singular_matrix(name):
    a = SINGULAR[name]
    c = det_along(a, DIRECTION)
    for order in (1, 2):
        got = adkit.derivative(lambda t: np.linalg.det(a + t * DIRECTION), order=order)(0.0)
        np.testing.assert_allclose(got, math.factorial(order) * c[order], atol=1e-9)
    hessian = adkit.hessian(np.linalg.det)(a)
    np.testing.assert_allclose(np.einsum("ijkl,ij,kl->", hessian, DIRECTION, DIRECTION), 2 * c[2], atol=1e-9)
    for outer, inner in [("forward", "forward"), ("reverse", "forward"), ("reverse", "reverse")]:
        other = adkit.jacobian(adkit.jacobian(np.linalg.det, mode=inner), mode=outer, chunk=4)(a)
        np.testing.assert_allclose(other, hessian, atol=1e-12, err_msg=f"{outer} over {inner}")


def test_det_derivatives_at_singular_matrices_agree_with_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    grad, hessian = jax.jit(jax.grad(jax.numpy.linalg.det)), jax.jit(jax.hessian(jax.numpy.linalg.det))
    for name, a in SINGULAR.items():
        np.testing.assert_allclose(adkit.grad(np.linalg.det)(a), grad(a), atol=1e-12, err_msg=name)
        np.testing.assert_allclose(adkit.hessian(np.linalg.det)(a), hessian(a), atol=1e-12, err_msg=name)


def test_det_third_derivative_where_well_conditioned_and_a_clear_error_where_singular():
    c = det_along(A, DIRECTION)
    got = adkit.derivative(lambda t: np.linalg.det(A + t * DIRECTION), order=3)(0.0)
    np.testing.assert_allclose(got, 6 * c[3], rtol=1e-9)  # 6 det(E), whatever A
    with pytest.raises(NotImplementedError, match="third derivative only at a well-conditioned"):
        adkit.derivative(lambda t: np.linalg.det(SINGULAR["rank 2"] + t * DIRECTION), order=3)(0.0)
