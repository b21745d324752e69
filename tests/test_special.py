"""scipy.special (issue 13, item 7): its ufuncs differentiated through NumPy's protocol, and logsumexp.

The rule-table test checks each rule against central differences in every
nesting; here the functions are called as a user calls them (``scipy.special.erf(x)``
on a traced ``x``), against JAX's ``jax.scipy.special`` in float64 to second
order, and ``adkit.logsumexp`` against SciPy's values over its parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

import adkit

special = pytest.importorskip("scipy.special")

RNG = np.random.default_rng(7)
#: scipy.special name -> points inside its domain
POINTS = {
    "erf": RNG.uniform(-2, 2, 5),
    "erfc": RNG.uniform(-2, 2, 5),
    "erfinv": RNG.uniform(-0.9, 0.9, 5),
    "ndtr": RNG.uniform(-3, 3, 5),
    "ndtri": RNG.uniform(0.05, 0.95, 5),
    "log_ndtr": RNG.uniform(-8, 3, 5),
    "expit": RNG.uniform(-4, 4, 5),
    "logit": RNG.uniform(0.05, 0.95, 5),
    "gammaln": RNG.uniform(0.2, 5, 5),
    "digamma": RNG.uniform(0.3, 5, 5),
    "gamma": RNG.uniform(0.3, 4, 5),
    "log_expit": RNG.uniform(-5, 5, 5),
}


@pytest.fixture(scope="module")
def jsp():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax, jax.scipy.special


def _second_derivatives(f, x):
    """d²/dx² of an elementwise f, by every nesting of adkit's two modes."""
    results = {}
    for outer in ("forward", "reverse"):
        for inner in ("forward", "reverse"):
            first = adkit.jacobian(f, mode=inner)
            second = adkit.jacobian(lambda v, first=first: np.diagonal(first(v)), mode=outer)
            results[outer, inner] = np.diagonal(second(x))
    return results


@pytest.mark.parametrize("name", list(POINTS))
def test_special_functions_agree_with_jax_to_second_order(name, jsp):
    jax, jsp = jsp
    ours, theirs, x = getattr(special, name), getattr(jsp, name, None), POINTS[name]
    if theirs is None:
        pytest.skip(f"jax.scipy.special has no {name}")
    d1 = jax.jit(jax.vmap(jax.grad(theirs)))(x)
    d2 = jax.jit(jax.vmap(jax.grad(jax.grad(theirs))))(x)
    np.testing.assert_allclose(adkit.primal(ours(adkit.Var(x))), ours(x), rtol=0)
    np.testing.assert_allclose(np.diagonal(adkit.jacobian(ours)(x)), d1, rtol=1e-10)
    for nesting, got in _second_derivatives(ours, x).items():
        np.testing.assert_allclose(got, d2, rtol=1e-8, atol=1e-12, err_msg=f"{name}, {nesting}")


def test_xlogy_and_xlog1py_agree_with_jax_in_both_arguments(jsp):
    jax, jsp = jsp
    x, y = RNG.uniform(-2, 2, 4), RNG.uniform(0.2, 3, 4)
    for name in ("xlogy", "xlog1py"):
        f, g = getattr(special, name), getattr(jsp, name)
        want = jax.jit(jax.hessian(lambda x, y, g=g: g(x, y).sum(), argnums=(0, 1)))(x, y)
        got = adkit.hessian(lambda x, y, f=f: f(x, y).sum(), argnums=(0, 1))(x, y)
        for i in range(2):
            for j in range(2):
                np.testing.assert_allclose(got[i][j], want[i][j], rtol=1e-10, atol=1e-14, err_msg=name)


def test_polygamma_differentiates_in_x_and_is_the_digamma_ladder():
    x = RNG.uniform(0.3, 3, 4)
    for n in range(3):
        d = np.diagonal(adkit.jacobian(lambda v, n=n: adkit.polygamma(n, v))(x))
        np.testing.assert_allclose(d, special.polygamma(n + 1, x), rtol=1e-12)
    np.testing.assert_allclose(
        adkit.derivative(special.gammaln, order=3)(1.5), special.polygamma(2, 1.5), rtol=1e-12
    )


def test_conventions_at_the_edges():
    """xlogy(0, y) = 0 for every y: d/dy is 0 there; logit's derivative is inf at 0 and 1."""
    assert adkit.grad(lambda y: special.xlogy(0.0, y))(2.0) == 0.0
    assert adkit.grad(lambda x: special.xlogy(x, 2.0))(0.0) == np.log(2.0)
    with np.errstate(divide="ignore"):
        assert adkit.grad(special.logit)(0.0) == np.inf
    # far in the tail φ/Φ is |x| (1 + 1/x² - 2/x⁴ ...), not 0/0
    assert adkit.grad(special.log_ndtr)(-30.0) == pytest.approx(30.0 * (1 + 1 / 900 - 2 / 810000), rel=1e-7)


def test_float32_stays_float32():
    x = np.linspace(0.2, 0.8, 4, dtype=np.float32)
    for f in (special.erf, special.logit, special.digamma, special.gammaln, special.log_ndtr):
        assert adkit.jacobian(f)(x).dtype == np.float32
        assert adkit.jacobian(f, mode="reverse")(x).dtype == np.float32


def test_other_scipy_ufuncs_and_functions_say_what_to_do():
    x = adkit.Var(np.ones(3))
    with pytest.raises(NotImplementedError, match=r"scipy\.special\.erfcx\. .*python -m adkit\.supported"):
        special.erfcx(x)
    with pytest.raises(NotImplementedError, match=r"scipy\.special\._zeta\. "):
        special.zeta(x, 2.0)  # a Python function calling a ufunc of its own
    with pytest.raises(TypeError, match=r"adkit\.logsumexp"):
        special.logsumexp(x)


# -- logsumexp: SciPy's values, the softmax as derivative ---------------------------------------------

A = RNG.normal(size=(3, 4))
LOGSUMEXP_CASES = [
    ({}, A),
    ({"axis": 1}, A),
    ({"axis": (0, 1), "keepdims": True}, A),
    ({"axis": 0, "b": RNG.random(4)}, A),
    ({"axis": 1, "b": RNG.normal(size=(3, 4)), "return_sign": True}, A),
    ({"b": 0.5}, A),
    ({}, np.array([1.0, 1.0, -np.inf])),
    ({}, np.array(2.0)),
    ({"axis": -1}, np.array([[3.0, 3.0, 1.0]])),
    ({"b": np.array([1.0, 0.0, 2.0])}, np.array([0.5, np.inf, -1.0])),  # a zero weight drops an infinity
    ({"return_sign": True, "b": np.array([1.0, -1.0])}, np.array([0.0, 0.0])),  # a zero sum: -inf
]


@pytest.mark.parametrize(("kw", "a"), LOGSUMEXP_CASES)
def test_logsumexp_gives_scipys_values(kw, a):
    want = special.logsumexp(a, **kw)
    with np.errstate(divide="ignore"):
        got = adkit.logsumexp(adkit.Var(a), **kw)
    for g, w in zip(got if kw.get("return_sign") else (got,), want if kw.get("return_sign") else (want,)):
        np.testing.assert_allclose(adkit.primal(g), w, rtol=1e-15)
        assert np.shape(adkit.primal(g)) == np.shape(w)


def test_logsumexp_derivatives_are_the_softmax_to_second_order():
    x = RNG.normal(size=5)
    p = np.exp(x - special.logsumexp(x))
    np.testing.assert_allclose(adkit.grad(adkit.logsumexp)(x), p, rtol=1e-14)
    np.testing.assert_allclose(adkit.hessian(adkit.logsumexp)(x), np.diag(p) - np.outer(p, p), atol=1e-15)
    tied = np.array([2.0, 2.0, 0.0])  # the largest terms apart, as SciPy: ties too are exact
    q = np.exp(tied - special.logsumexp(tied))
    np.testing.assert_allclose(adkit.hessian(adkit.logsumexp)(tied), np.diag(q) - np.outer(q, q), atol=1e-15)


def test_logsumexp_with_weights_agrees_with_jax(jsp):
    jax, jsp = jsp
    a, b = RNG.normal(size=(3, 4)), RNG.uniform(0.5, 2.0, size=(3, 4))
    f = lambda a, b: adkit.logsumexp(a, axis=1, b=b).sum()
    g = lambda a, b: jsp.logsumexp(a, axis=1, b=b).sum()
    want = jax.jit(jax.hessian(g, argnums=(0, 1)))(a, b)
    got = adkit.hessian(f, argnums=(0, 1))(a, b)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(got[i][j], want[i][j], rtol=1e-10, atol=1e-14)
