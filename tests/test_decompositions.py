"""Linear algebra beyond solve, inv and det (issue 13, item 6): decompositions, pseudo-inverses, norms.

The rule-table test (tests/test_rules.py) checks every primitive against central
differences in every nesting; here the functions are checked as a user calls
them: against the matrix cookbook's closed forms (Petersen and Pedersen) on
random well-conditioned inputs, against JAX in float64 where it is installed,
at their conventions, and where their derivatives do not exist (a clear error).
Singular vectors and eigenvectors have arbitrary signs (and the extra columns of
a full decomposition are any basis of a subspace), so, as JAX's own tests do,
what is compared are the functions that do not depend on that choice:
reconstructions, projectors, absolute values.
"""

from __future__ import annotations

import hashlib
import inspect

import numpy as np
import pytest

import adkit
from adkit.rules import NotDifferentiableError

RNG = np.random.default_rng(1313)


def orthogonal(n, rng=RNG):
    return np.linalg.qr(rng.normal(size=(n, n)))[0]


def with_singular_values(m, n, s, rng=RNG):
    k = len(s)
    return orthogonal(m, rng)[:, :k] @ np.diag(s) @ orthogonal(n, rng)[:k, :]


A = RNG.normal(size=(3, 3)) + 3.0 * np.eye(3)  # well conditioned, not symmetric
TALL = with_singular_values(5, 3, [3.0, 1.7, 0.6])
WIDE = with_singular_values(3, 5, [2.5, 1.4, 0.5])
SYM = orthogonal(3) @ np.diag([-1.9, 0.4, 1.3]) @ orthogonal(3).T
SYM = (SYM + SYM.T) / 2
SPD = SYM + 3.0 * np.eye(3)
STACK = RNG.normal(size=(2, 3, 3)) + 3.0 * np.eye(3)
E = RNG.normal(size=(3, 3))  # a direction


def central(f, x, h=1e-6):
    """Central differences of f at x, shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype=float)
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        jac[(...,) + idx] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * h)
    return jac


def all_modes(f, x):
    """The derivative of f at x by forward mode, reverse mode, and both nested (the Jacobian of a JVP)."""
    forward, reverse = adkit.jacobian(f, mode="forward")(x), adkit.jacobian(f, mode="reverse")(x)
    np.testing.assert_allclose(reverse, forward, rtol=1e-11, atol=1e-12)
    return forward


# -- the matrix cookbook's closed forms --------------------------------------------------------------


def test_singular_values_gradient_is_u_v_transposed():
    """∂σ_i/∂A = u_i v_iᵀ."""
    for a in (A, TALL, WIDE):
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        jac = all_modes(lambda x: np.linalg.svd(x, compute_uv=False), a)
        np.testing.assert_allclose(jac, np.einsum("ik,kj->kij", u, vh), atol=1e-12)
        np.testing.assert_allclose(adkit.jacobian(np.linalg.svdvals)(a), jac, atol=1e-14)


@pytest.mark.parametrize("a", [A, TALL, WIDE], ids=["square", "tall", "wide"])
def test_nuclear_and_spectral_norm_gradients(a):
    """∂‖A‖_* = U Vᵀ (full rank); ∂‖A‖₂ = u₁ v₁ᵀ; ∂‖A‖_F = A / ‖A‖_F; ∂‖A‖₋₂ = u_k v_kᵀ."""
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    cases = {
        "nuc": u @ vh,
        2: np.outer(u[:, 0], vh[0]),
        -2: np.outer(u[:, -1], vh[-1]),
        "fro": a / np.linalg.norm(a),
    }
    for ord, want in cases.items():
        np.testing.assert_allclose(all_modes(lambda x, o=ord: np.linalg.norm(x, o), a), want, atol=1e-12)
        np.testing.assert_allclose(
            adkit.grad(lambda x, o=ord: np.linalg.matrix_norm(x, ord=o))(a), want, atol=1e-12
        )


def test_eigenvalue_gradient_is_v_v_transposed():
    """∂λ_i/∂A = v_i v_iᵀ for a symmetric A (here A = B + Bᵀ, so ∂/∂B = 2 v_i v_iᵀ)."""
    v = np.linalg.eigh(SYM)[1]
    for f in (lambda b: np.linalg.eigvalsh(b + b.T), lambda b: np.linalg.eigh(b + b.T)[0]):
        np.testing.assert_allclose(all_modes(f, SYM / 2), 2 * np.einsum("ik,jk->kij", v, v), atol=1e-12)


def test_eigenvector_derivative_is_the_perturbation_series():
    """dv_i = Σ_{j≠i} v_j (v_jᵀ dA v_i) / (λ_i - λ_j), for a symmetric direction."""
    w, v = np.linalg.eigh(SYM)
    direction = E + E.T
    want = np.stack(
        [
            sum(v[:, j] * (v[:, j] @ direction @ v[:, i]) / (w[i] - w[j]) for j in range(3) if j != i)
            for i in range(3)
        ],
        axis=1,
    )
    _, tangent = adkit.jvp(lambda a: np.linalg.eigh(a)[1], (SYM,), (direction,))
    np.testing.assert_allclose(tangent, want, atol=1e-12)


def test_inverse_trace_and_power_closed_forms():
    """∂ tr(B X⁻¹ C) = -(X⁻¹ C B X⁻¹)ᵀ, ∂ tr(Xⁿ) = n (Xⁿ⁻¹)ᵀ, ∂ ln|det X| = X⁻ᵀ, on a stack too."""
    b, c = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))
    inv = np.linalg.inv(A)
    np.testing.assert_allclose(
        all_modes(lambda x: np.trace(b @ np.linalg.inv(x) @ c), A), -(inv @ c @ b @ inv).T, atol=1e-12
    )
    for n in (2, 3, 5, 6):
        np.testing.assert_allclose(
            all_modes(lambda x, n=n: np.trace(np.linalg.matrix_power(x, n)), A),
            n * np.linalg.matrix_power(A, n - 1).T,
            rtol=1e-12,
        )
    np.testing.assert_allclose(
        all_modes(lambda x: np.trace(np.linalg.matrix_power(x, -2)), A),
        -2 * np.linalg.matrix_power(A, -3).T,
        rtol=1e-11,
    )
    np.testing.assert_allclose(
        all_modes(lambda x: np.linalg.slogdet(x)[1].sum(), STACK),
        np.linalg.inv(STACK).transpose(0, 2, 1),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        all_modes(lambda x: np.linalg.det(x), STACK),
        np.einsum(
            "ab,bij->abij",
            np.eye(2),
            np.linalg.det(STACK)[:, None, None] * np.linalg.inv(STACK).transpose(0, 2, 1),
        ),
        rtol=1e-12,
    )


def test_pseudo_inverse_of_full_rank_is_the_normal_equations():
    """A⁺ = (AᵀA)⁻¹Aᵀ (full column rank) and Aᵀ(AAᵀ)⁻¹ (full row rank): the same derivative either way."""
    normal_tall = adkit.jacobian(lambda a: np.linalg.inv(a.T @ a) @ a.T)(TALL)
    np.testing.assert_allclose(all_modes(np.linalg.pinv, TALL), normal_tall, rtol=1e-10, atol=1e-12)
    normal_wide = adkit.jacobian(lambda a: a.T @ np.linalg.inv(a @ a.T))(WIDE)
    np.testing.assert_allclose(all_modes(np.linalg.pinv, WIDE), normal_wide, rtol=1e-10, atol=1e-12)
    b = RNG.normal(size=5)
    normal = adkit.jacobian(lambda a: np.linalg.solve(a.T @ a, a.T @ b))(TALL)
    np.testing.assert_allclose(all_modes(lambda a: np.linalg.lstsq(a, b)[0], TALL), normal, rtol=1e-10)
    np.testing.assert_allclose(
        adkit.grad(lambda b: np.linalg.lstsq(TALL, b)[1][0])(b),
        2 * (b - TALL @ np.linalg.pinv(TALL) @ b),
        rtol=1e-10,
    )


def test_pseudo_inverse_at_a_rank_deficient_matrix_along_its_rank():
    """At rank 2, A⁺'s derivative holds for changes that keep the rank: A = B C with B 4x2, C 2x3."""
    b, c = RNG.normal(size=(4, 2)), RNG.normal(size=(2, 3))
    f = lambda b: np.linalg.pinv(b @ c)
    np.testing.assert_allclose(all_modes(f, b), central(f, b), rtol=1e-6, atol=1e-8)
    g = lambda c: np.linalg.lstsq(b @ c, np.arange(4.0))[0]
    np.testing.assert_allclose(all_modes(g, c), central(g, c), rtol=1e-6, atol=1e-8)


def test_cholesky_derivative_is_murrays_formula():
    """dL = L Φ(L⁻¹ dA L⁻ᵀ) (Φ: lower triangle, half the diagonal), for a symmetric direction."""
    chol = np.linalg.cholesky(SPD)
    direction = E + E.T
    inner = np.linalg.solve(chol, np.linalg.solve(chol, direction).T)
    want = chol @ (np.tril(inner, -1) + 0.5 * np.diag(np.diag(inner)))
    for upper in (False, True):
        _, tangent = adkit.jvp(lambda a, u=upper: np.linalg.cholesky(a, upper=u), (SPD,), (direction,))
        np.testing.assert_allclose(tangent, want.T if upper else want, atol=1e-12)


def test_qr_derivative_keeps_q_orthonormal_and_r_upper_triangular():
    for a in (TALL, A, WIDE):
        _, (dq, dr) = adkit.jvp(lambda x: tuple(np.linalg.qr(x)), (a,), (RNG.normal(size=a.shape),))
        q = np.linalg.qr(a)[0]
        skew = q.T @ dq
        np.testing.assert_allclose(skew + skew.T, 0.0, atol=1e-12)  # d(QᵀQ) = 0
        np.testing.assert_allclose(np.tril(dr, -1), 0.0, atol=1e-12)


# -- the functions as NumPy computes them: values, stacks, gauges --------------------------------------


def reconstruction(a, **kw):
    u, s, vh = np.linalg.svd(a, **kw)
    k = s.shape[-1]
    return (u[..., :k] * s[..., None, :]) @ vh[..., :k, :]


def projectors(a, **kw):
    """u_i u_iᵀ and v_i v_iᵀ of every singular pair, and the projectors on the extra columns (full)."""
    u, s, vh = np.linalg.svd(a, **kw)
    v, k = np.swapaxes(vh, -1, -2), s.shape[-1]
    pieces = [w[..., :, i, None] * w[..., None, :, i] for w in (u, v) for i in range(k)]
    pieces += [w[..., k:] @ np.swapaxes(w[..., k:], -1, -2) for w in (u, v)]  # only the whole is determined
    return np.concatenate([np.ravel(p) for p in pieces])


@pytest.mark.parametrize(
    "a",
    [A, TALL, WIDE, STACK, with_singular_values(4, 2, [2.0, 1.0])],
    ids=["square", "tall", "wide", "stack", "narrow"],
)
@pytest.mark.parametrize("full", [False, True])
def test_svd_values_and_invariant_derivatives_to_second_order(a, full):
    for f in (lambda x: reconstruction(x, full_matrices=full), lambda x: projectors(x, full_matrices=full)):
        np.testing.assert_array_equal(adkit.primal(f(adkit.Var(a))), f(a))
        np.testing.assert_allclose(all_modes(f, a), central(f, a), rtol=1e-6, atol=1e-8)
    adkit.check_grads(lambda x: projectors(x, full_matrices=full), a, order=2, eps=1e-5, rtol=1e-5)


def test_the_extra_columns_of_a_full_svd_move_by_the_smallest_rotation():
    """U's extra columns U2 are NumPy's here; dU2 = -U1 dU1ᵀ U2, so U2ᵀ dU2 = 0."""
    direction = RNG.normal(size=TALL.shape)
    _, du = adkit.jvp(lambda x: np.linalg.svd(x)[0], (TALL,), (direction,))
    u = np.linalg.svd(TALL)[0]
    np.testing.assert_allclose(u[:, 3:].T @ du[:, 3:], 0.0, atol=1e-12)
    np.testing.assert_allclose(u.T @ du + du.T @ u, 0.0, atol=1e-12)  # U stays orthogonal


def test_svd_signs_are_numpys_and_their_derivative_follows_them():
    """u_i itself (not only u_i u_iᵀ) against NumPy's differences: LAPACK's signs do not flip nearby."""
    f = lambda x: np.linalg.svd(x)[0]
    np.testing.assert_allclose(all_modes(f, A), central(f, A), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_reads_one_triangle_as_numpy(uplo):
    skewed = SYM + (np.triu if uplo == "L" else np.tril)(E, 1 if uplo == "L" else -1)
    f = lambda a: np.concatenate(
        [np.linalg.eigh(a, UPLO=uplo)[0], np.ravel(np.abs(np.linalg.eigh(a, UPLO=uplo)[1]))]
    )
    jac = all_modes(f, skewed)
    np.testing.assert_allclose(jac, central(f, skewed), rtol=1e-6, atol=1e-8)
    unread = np.triu(np.ones((3, 3), bool), 1) if uplo == "L" else np.tril(np.ones((3, 3), bool), -1)
    assert not np.any(jac[..., unread])


def test_decompositions_of_stacks_are_those_of_each_matrix():
    spd = STACK @ STACK.transpose(0, 2, 1)
    for f, x in [
        (lambda a: np.linalg.cholesky(a), spd),
        (lambda a: np.linalg.eigvalsh(a), spd),
        (lambda a: np.linalg.qr(a)[1], STACK),
        (lambda a: np.linalg.pinv(a), STACK),
        (lambda a: reconstruction(a), STACK),
        (lambda a: np.linalg.norm(a, "nuc", axis=(-2, -1)), STACK),
    ]:
        jac = all_modes(f, x)
        for i in range(2):
            np.testing.assert_allclose(jac[i, ..., i, :, :], adkit.jacobian(f)(x[i]), atol=1e-12)


@pytest.mark.parametrize("hermitian", [False, True])
def test_pinv_and_svd_with_hermitian_read_the_lower_triangle(hermitian):
    skewed = SYM + np.triu(E, 1)
    for f in (
        lambda a: np.linalg.pinv(a, hermitian=hermitian),
        lambda a: reconstruction(a, hermitian=hermitian),
        lambda a: np.linalg.svd(a, compute_uv=False, hermitian=hermitian),
    ):
        np.testing.assert_array_equal(adkit.primal(f(adkit.Dual(skewed, E))), f(skewed))
        np.testing.assert_allclose(all_modes(f, skewed), central(f, skewed), rtol=1e-6, atol=1e-8)


def test_a_cutoff_that_drops_nonzero_singular_values_differentiates_the_truncation():
    """pinv(a, rcond) dropping 0.6 < 0.3 * 3: the derivative of the truncated inverse, through the svd."""
    f = lambda a: np.linalg.pinv(a, rcond=0.3)
    np.testing.assert_array_equal(adkit.primal(f(adkit.Var(TALL))), f(TALL))
    np.testing.assert_allclose(all_modes(f, TALL), central(f, TALL), rtol=1e-6, atol=1e-8)
    g = lambda a: np.linalg.lstsq(a, np.arange(5.0), rcond=0.3)[0]
    np.testing.assert_array_equal(adkit.primal(g(adkit.Var(TALL))), g(TALL))
    np.testing.assert_allclose(all_modes(g, TALL), central(g, TALL), rtol=1e-6, atol=1e-8)


# -- norms of every order, and their conventions at kinks --------------------------------------------

VECTOR_ORDS = [None, 1, 2, 3, 0.5, np.inf, -np.inf, -1, -2.5, 0]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
def test_vector_norms_of_every_order(ord):
    x = RNG.normal(size=(3, 4))
    f = lambda a: np.linalg.norm(a, ord, axis=1)
    np.testing.assert_allclose(adkit.primal(f(adkit.Var(x))), f(x), rtol=1e-15)
    np.testing.assert_allclose(all_modes(f, x), central(f, x), rtol=1e-6, atol=1e-8)
    g = lambda a: np.linalg.vector_norm(a, ord=2 if ord is None else ord, axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(all_modes(g, x[None]), central(g, x[None]), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=str)
def test_matrix_norms_of_every_order_over_any_two_axes(ord):
    x = RNG.normal(size=(3, 2, 4))
    f = lambda a: np.linalg.norm(a, ord, axis=(2, 0), keepdims=True)
    np.testing.assert_allclose(adkit.primal(f(adkit.Var(x))), f(x), rtol=1e-14)
    np.testing.assert_allclose(all_modes(f, x), central(f, x), rtol=1e-6, atol=1e-8)


def test_norm_conventions_at_kinks():
    """ord 0 counts (derivative 0); a zero element makes a negative-order norm 0 with derivative 0."""
    x = np.array([0.0, 2.0, -3.0])
    assert adkit.grad(lambda a: np.linalg.norm(a, 0))(x).tolist() == [0.0, 0.0, 0.0]
    for p in (-1, -2.5, -np.inf):
        with np.errstate(divide="ignore"):
            assert np.linalg.norm(x, p) == 0.0
        np.testing.assert_array_equal(adkit.grad(lambda a, p=p: np.linalg.norm(a, p))(x), 0.0)
    tied = np.array([1.0, -3.0, 3.0])  # a tie shares the derivative, as max does
    np.testing.assert_array_equal(adkit.grad(lambda a: np.linalg.norm(a, np.inf))(tied), [0.0, -0.5, 0.5])
    np.testing.assert_array_equal(adkit.grad(lambda a: np.linalg.norm(a, 2))(np.zeros(3)), 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_spectral_norm_at_a_repeated_largest_singular_value_splits_evenly(seed):
    """‖Q‖₂ of an orthogonal Q: the singular values tie (to rounding), and share the derivative, as at a tie
    of max: (1/n) Σ u_i v_iᵀ = Q / n, whatever vectors LAPACK picks; the smallest likewise."""
    q = orthogonal(3, np.random.default_rng(seed))
    for ord in (2, -2):
        np.testing.assert_allclose(adkit.grad(lambda a, o=ord: np.linalg.norm(a, o))(q), q / 3, atol=1e-12)
        assert adkit.primal(np.linalg.norm(adkit.Var(q), ord)) == np.linalg.norm(q, ord)
    np.testing.assert_allclose(adkit.grad(lambda a: np.linalg.norm(a, "nuc"))(q), q, atol=1e-12)


# -- where a derivative does not exist: an error that says so ------------------------------------------


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_singular_vectors_at_repeated_singular_values_are_refused(mode):
    f = lambda a: np.linalg.svd(a)[0]
    with pytest.raises(NotDifferentiableError, match=r"singular vectors of np\.linalg\.svd .* distinct"):
        adkit.jacobian(f, mode=mode)(np.eye(3))
    with pytest.raises(NotDifferentiableError, match=r"matrix \[1\] of the stack"):
        adkit.jacobian(f, mode=mode)(np.stack([A, np.diag([2.0, 1.0, 2.0])]))
    with pytest.raises(np.linalg.LinAlgError):  # what a user who catches LinAlgError catches
        adkit.jacobian(f, mode=mode)(np.eye(3))
    rank_one = np.outer([1.0, 2.0, 3.0, 4.0], [1.0, -1.0])
    with pytest.raises(NotDifferentiableError, match="distinct and nonzero"):
        adkit.jacobian(lambda a: np.linalg.svd(a, full_matrices=False)[0], mode=mode)(rank_one)


def test_singular_values_alone_have_derivatives_where_they_repeat():
    """sum(s) at the identity: U Vᵀ = I, by compute_uv=False and also from a full svd in reverse mode."""
    for f in (lambda a: np.sum(np.linalg.svd(a, compute_uv=False)), lambda a: np.sum(np.linalg.svd(a)[1])):
        np.testing.assert_allclose(adkit.grad(f)(np.eye(3)), np.eye(3), atol=1e-12)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_eigenvectors_at_repeated_eigenvalues_and_qr_of_deficient_rank_are_refused(mode):
    with pytest.raises(NotDifferentiableError, match=r"eigenvectors of np\.linalg\.eigh .* distinct"):
        adkit.jacobian(lambda a: np.linalg.eigh(a)[1], mode=mode)(np.diag([1.0, 2.0, 1.0]))
    np.testing.assert_allclose(adkit.jacobian(np.linalg.eigvalsh, mode=mode)(np.eye(2)).sum(), 2.0)
    deficient = np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])
    with pytest.raises(NotDifferentiableError, match="full column rank"):
        adkit.jacobian(lambda a: np.linalg.qr(a)[0], mode=mode)(deficient)
    with pytest.raises(NotDifferentiableError, match="first 2 columns independent"):
        adkit.jacobian(lambda a: np.linalg.qr(a)[1], mode=mode)(deficient.T)


def test_second_derivatives_of_singular_values_need_them_distinct():
    with pytest.raises(NotDifferentiableError, match="distinct"):
        adkit.hessian(lambda a: np.sum(np.linalg.svd(a, compute_uv=False)))(np.eye(3))


def test_eig_is_refused_with_the_reason():
    for f in (np.linalg.eig, np.linalg.eigvals):
        with pytest.raises(NotImplementedError, match=r"complex eigenvalues.* np\.linalg\.eig(h|valsh)\."):
            adkit.grad(lambda a, f=f: np.sum(f(a)))(A)


# -- JAX in float64 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _programs(xp):
    """Functions written once for NumPy and jax.numpy, each independent of the decompositions' gauges."""
    la = xp.linalg

    def svd_projector(a):
        u, s, vh = la.svd(a, full_matrices=False)
        return xp.sum(u[:, :1] * u[:, :1].T * s[0]) + xp.sum(vh[1] ** 2 * a[0])

    def eigh_projector(a):
        w, v = la.eigh(a + a.T)
        return xp.sum(v[:, 0:1] * v[:, 0:1].T * a) + w[2]

    def qr_product(a):
        q, r = la.qr(a)
        return xp.sum(q * q[::-1]) + xp.sum(r * a[:3])

    return {
        "svd": (svd_projector, TALL),
        "eigh": (eigh_projector, SYM / 2 + np.eye(3) * 0.1),
        "qr": (qr_product, TALL),
        "cholesky": (lambda a: xp.sum(la.cholesky(a @ a.T + 3 * xp.eye(3)) ** 3), A),
        "pinv": (lambda a: xp.sum(la.pinv(a) * a.T**2), WIDE),
        "lstsq": (lambda a: xp.sum(la.lstsq(a, xp.arange(5.0), rcond=None)[0] ** 3), TALL),
        "matrix_power": (lambda a: xp.sum(la.matrix_power(a, 5) ** 2) * 1e-4, A / 3),
        "slogdet": (lambda a: xp.sum(la.slogdet(a)[1] * a[..., 0, 0]), STACK),
        "nuclear": (lambda a: la.norm(a, "nuc") * la.norm(a, -2), WIDE),
        "cond": (lambda a: la.cond(a), A),
    }


def jax_answers(name, jax, cache):
    """JAX's value, gradient and Hessian of a program, kept in pytest's cache (JAX compiles for seconds),
    keyed by the programs' source and the input."""
    f, x = _programs(jax.numpy)[name]
    key = hashlib.sha256(inspect.getsource(_programs).encode() + np.asarray(x).tobytes()).hexdigest()[:16]
    path = None if cache is None else cache / f"{name}-{key}.npz"
    if path is not None and path.exists():
        with np.load(path) as stored:
            return stored["value"], stored["grad"], stored["hessian"]
    answers = f(x), jax.jit(jax.grad(f))(x), jax.jit(jax.hessian(f))(x)
    if path is not None:
        np.savez(path, value=answers[0], grad=answers[1], hessian=answers[2])
    return answers


@pytest.fixture(scope="module")
def jax_cache(request):
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    return None if cache is None else cache.mkdir("adkit-decompositions-jax")


@pytest.mark.parametrize("name", list(_programs(np)))
def test_gradients_and_hessians_agree_with_jax(name, jax, jax_cache):
    f, x = _programs(np)[name]
    value, grad, want = jax_answers(name, jax, jax_cache)
    np.testing.assert_allclose(f(x), value, rtol=1e-12)
    np.testing.assert_allclose(adkit.grad(f)(x), grad, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(adkit.hessian(f)(x), want, rtol=1e-8, atol=1e-10)
    inner = adkit.jacobian(f, mode="forward")
    np.testing.assert_allclose(adkit.jacobian(inner, mode="forward")(x), want, rtol=1e-8, atol=1e-10)
