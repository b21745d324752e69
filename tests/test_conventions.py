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


# -- selections select: a tangent or cotangent of an unselected element never leaks --------------
# max/min reductions, maximum/minimum, clip, where and indexing pass derivatives on where an
# element is selected (its share at a tie) and drop them elsewhere. Multiplying by a 0/1 mask
# instead turns an infinite or nan tangent there into nan (0 * inf). Each case: the function,
# its primal arguments, tangents that are inf or nan where unselected, the tangent out.

INF, NAN = math.inf, math.nan
SELECTIONS = {
    "max reduction": (
        lambda x: np.max(x, axis=0),
        ([[1.057], [1.043], [0.0]],),
        ([[1.0], [INF], [NAN]],),
        [1.0],
    ),
    "max reduction, tie": (lambda x: np.max(x), ([3.0, 1.0, 3.0],), ([2.0, NAN, 4.0],), 3.0),
    "min reduction": (
        lambda x: np.min(x, axis=-1),
        ([[0.0, 2.0], [5.0, -1.0]],),
        ([[1.0, -INF], [NAN, 2.0]],),
        [1.0, 2.0],
    ),
    "maximum": (
        np.maximum,
        ([2.0, 0.0, 1.0], [1.0, 3.0, 1.0]),
        ([1.0, INF, 2.0], [NAN, 5.0, 4.0]),
        [1.0, 5.0, 3.0],
    ),
    "minimum": (np.minimum, ([2.0, 0.0], 1.0), ([INF, 2.0], 3.0), [3.0, 2.0]),
    "clip": (
        lambda x: np.clip(x, 0.0, 1.0),
        ([-2.0, 0.5, 3.0, 1.0, 0.0],),
        ([INF, 2.0, NAN, 3.0, 4.0],),
        [0.0, 2.0, 0.0, 3.0, 4.0],
    ),
    "clip, traced bounds": (
        np.clip,
        ([-2.0, 0.5, 3.0], -1.0, 1.0),
        ([INF, 1.0, NAN], INF, NAN),
        [INF, 1.0, NAN],
    ),
    "where": (
        lambda x, y: np.where(np.array([True, False]), x, y),
        ([1.0, 2.0], [3.0, 4.0]),
        ([1.0, INF], [NAN, 2.0]),
        [1.0, 2.0],
    ),
    "indexing": (lambda x: x[np.array([0, 2])], ([1.0, 2.0, 3.0],), ([1.0, NAN, 2.0],), [1.0, 2.0]),
}


def _arrays(values):
    return tuple(np.array(v) if isinstance(v, list) else v for v in values)


@pytest.mark.parametrize("name", SELECTIONS)
def test_selections_drop_infinite_and_nan_tangents_of_unselected_elements(name):
    f, primals, tangents, want = SELECTIONS[name]
    _, got = adkit.jvp(f, _arrays(primals), _arrays(tangents))
    np.testing.assert_array_equal(got, want)
    # two directions at once (vector mode): the second is finite everywhere
    batched = tuple(np.stack([t, np.ones_like(t)]) for t in map(np.asarray, _arrays(tangents)))
    _, got = adkit.jvp(f, tuple(np.asarray(p, dtype=float) for p in _arrays(primals)), batched)
    np.testing.assert_array_equal(got[0], want)
    assert np.isfinite(got[1]).all()


@pytest.mark.parametrize("name", SELECTIONS)
@pytest.mark.parametrize("cotangent", [INF, NAN])
def test_selections_give_unselected_elements_a_zero_cotangent(name, cotangent):
    f, primals, _, _ = SELECTIONS[name]
    primals = _arrays(primals)
    out, pullback = adkit.vjp(f, *primals)
    jac = adkit.jacobian(f, mode="forward", argnums=tuple(range(len(primals))))(*primals)
    for got, block in zip(pullback(np.full(np.shape(out), cotangent)), jac):
        # an input the output depends on gets the cotangent; every other one exactly 0
        block = np.reshape(block, (np.size(out), -1))
        expected = np.where(np.any(block != 0, axis=0), cotangent, 0.0).reshape(np.shape(got))
        np.testing.assert_array_equal(got, expected)


CBRT_AT_ZERO = np.array([[1.057], [1.043], [0.0]])  # cbrt has an infinite derivative at the unselected 0
NESTINGS = [("forward", "forward"), ("forward", "reverse"), ("reverse", "forward"), ("reverse", "reverse")]


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_the_max_of_cbrt_with_an_unselected_zero(mode):
    """Issue 11, item 6: the forward derivative was nan (JAX's jacfwd gives nan too; its jacrev 0)."""
    want = np.zeros((1, 3, 1))
    want[0, 0, 0] = 1.0 / (3.0 * 1.057 ** (2.0 / 3.0))
    got = adkit.jacobian(lambda x: np.cbrt(x).max(axis=0), mode=mode)(CBRT_AT_ZERO)
    np.testing.assert_allclose(got, want, rtol=1e-14)


SECOND_ORDER = {  # g and the one nonzero second derivative, at x = 1.057 in CBRT_AT_ZERO's first row
    "max reduction": lambda x: np.max(np.cbrt(x)),
    "min reduction": lambda x: -np.min(-np.cbrt(x)),
    "maximum": lambda x: np.maximum(np.cbrt(x[0, 0]), np.cbrt(x[2, 0])) + 0.0 * x[1, 0],
    "clip": lambda x: np.cbrt(x[0, 0]) + np.sum(np.clip(np.cbrt(x[1:]) + 2.0, 0.0, 1.0)),
    "where": lambda x: np.sum(np.where(x > 0.5, np.cbrt(x), 0.0)) - np.cbrt(x[1, 0]),
    # order statistics at an exact position: the neighbour (cbrt(0) + 3, infinite slope) has weight 0
    "sort": lambda x: np.sort(np.cbrt(x), axis=0)[2, 0],
    "median": lambda x: np.median(np.stack([np.cbrt(x[0, 0]), np.cbrt(x[0, 0]), np.cbrt(x[2, 0]) + 3.0])),
    "quantile": lambda x: np.quantile(np.stack([np.cbrt(x[0, 0]), np.cbrt(x[2, 0]) + 3.0]), 0.0),
    "quantile at the top": lambda x: np.quantile(np.stack([np.cbrt(x[0, 0]), np.cbrt(x[2, 0]) - 3.0]), 1.0),
    "percentile": lambda x: np.percentile(np.stack([np.cbrt(x[0, 0]), np.cbrt(x[2, 0]) + 3.0]), 0.0),
}


@pytest.mark.parametrize("method", adkit.rules.QUANTILE_METHODS)
@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_quantiles_at_an_exact_position_select_and_do_not_blend(method, q):
    """Where NumPy's interpolation weight is 0 or 1, or both neighbours are one element (q = 1), the
    quantile selects: an infinite slope next to it (cbrt at 0) does not reach it as inf * 0 = nan."""
    x = np.array([0.0, -1.0, -2.0])
    f = lambda x: np.quantile(np.cbrt(x), q, method=method)
    values, step = np.cbrt(x), 1e-6
    weights = [  # the quantile's weight on each value (central differences: it is linear between ties)
        (np.quantile(values + step * e, q, method=method) - np.quantile(values - step * e, q, method=method))
        / (2 * step)
        for e in np.eye(3)
    ]
    slopes = np.array([INF, 1 / 3, 1 / (3 * 2 ** (2 / 3))])  # cbrt' at 0, -1, -2
    want = [w * slope if round(w, 6) != 0 else 0.0 for w, slope in zip(weights, slopes)]
    for mode in MODES:
        np.testing.assert_allclose(adkit.diff(f, mode=mode)(x), want, rtol=1e-9, err_msg=mode)


@pytest.mark.parametrize("name", SECOND_ORDER)
@pytest.mark.parametrize(("outer", "inner"), NESTINGS)
def test_selections_select_at_second_order(name, outer, inner):
    want = np.zeros((3, 1, 3, 1))
    want[0, 0, 0, 0] = -2.0 / 9.0 * 1.057 ** (-5.0 / 3.0)  # cbrt''
    g = SECOND_ORDER[name]
    got = adkit.jacobian(adkit.jacobian(g, mode=inner, chunk=2), mode=outer, chunk=2)(CBRT_AT_ZERO)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("mode", MODES)
def test_an_infinite_cotangent_reaches_only_the_selected_element(mode):
    # sqrt'(0) = inf arrives at max's output; only the maximal element receives it
    g = adkit.diff(lambda x: np.sqrt(np.max(x)), mode=mode)(np.array([0.0, -1.0, -2.0]))
    np.testing.assert_array_equal(g, [INF, 0.0, 0.0])


SAME_AS_JAX = {  # where JAX's convention is adkit's (ties split evenly, the interior of clip)
    "max reduction with ties": (
        lambda np_: lambda x: np_.max(x, axis=0),
        np.array([[1.0, 2.0, 0.5], [1.0, -1.0, 0.5], [0.2, 2.0, 0.5]]),
    ),
    "maximum with ties": (
        lambda np_: lambda x: np_.maximum(x[0], x[1] ** 2),
        np.array([[1.0, 4.0], [1.0, 2.0]]),
    ),
    "minimum": (lambda np_: lambda x: np_.minimum(x, 0.3), np.array([0.1, 0.7, -2.0])),
    "clip": (lambda np_: lambda x: np_.clip(x**3, -1.0, 1.0), np.array([0.5, -2.0, 0.9, 2.0])),
    "where": (lambda np_: lambda x: np_.where(x > 0, np_.sqrt(np_.abs(x)), x**2), np.array([4.0, -1.0])),
}


@pytest.mark.parametrize("name", SAME_AS_JAX)
def test_selections_agree_with_jax_where_the_conventions_agree(name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    make, x = SAME_AS_JAX[name]
    want = jax.jit(jax.jacfwd(make(jax.numpy)))(x)  # jit: one compilation instead of one per operation
    want_h = jax.jit(jax.hessian(lambda x: jax.numpy.sum(make(jax.numpy)(x) ** 2)))(x)
    f = make(np)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(adkit.jacobian(f, mode=mode)(x), want, rtol=1e-14, err_msg=mode)
    np.testing.assert_allclose(adkit.hessian(lambda x: np.sum(f(x) ** 2))(x), want_h, rtol=1e-13)


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


# -- order statistics at ties: each sorted position takes one element's tangent, in stable order -----------

TIES = {  # f, x with ties, the Jacobian the stable order gives
    "sort": (lambda x: np.sort(x), [1.0, 0.0, 1.0], [[0, 1, 0], [1, 0, 0], [0, 0, 1]]),
    "median, odd": (np.median, [2.0, 2.0, 2.0], [0.0, 1.0, 0.0]),
    "median, even": (np.median, [2.0, 2.0, 1.0, 2.0], [0.5, 0.5, 0.0, 0.0]),
    "partition": (lambda x: np.partition(x, 1)[1], [3.0, 1.0, 1.0], [0.0, 0.0, 1.0]),
    "quantile": (lambda x: np.quantile(x, 0.5, method="lower"), [5.0, 5.0, 5.0, 5.0], [0.0, 1.0, 0.0, 0.0]),
    "max at the same tie": (np.max, [1.0, 0.0, 1.0], [0.5, 0.0, 0.5]),
}


@pytest.mark.parametrize("name", TIES)
@pytest.mark.parametrize("mode", MODES)
def test_order_statistics_at_ties_take_the_stable_order(name, mode):
    f, x, want = TIES[name]
    np.testing.assert_array_equal(adkit.jacobian(f, mode=mode)(np.array(x)), want)


@pytest.mark.parametrize("name", ["sort", "median, odd", "median, even", "quantile"])
def test_order_statistics_at_ties_agree_with_jax(name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    programs = {
        "sort": lambda xp: xp.sort,
        "median, odd": lambda xp: xp.median,
        "median, even": lambda xp: xp.median,
        "quantile": lambda xp: lambda x: xp.quantile(x, 0.5, method="lower"),
    }
    x = np.array(TIES[name][1])
    want = jax.jacfwd(programs[name](jnp))(x)
    for mode in MODES:
        np.testing.assert_array_equal(adkit.jacobian(programs[name](np), mode=mode)(x), want)


ZEROS = np.array([2.0, 0.0, 3.0, 0.0, -1.5])  # two zeros: second derivatives between them are not 0


@pytest.mark.parametrize("name", ["cumprod", "prod"])
def test_products_are_exact_where_entries_are_zero_at_every_order(name):
    f = {"cumprod": lambda x: np.cumprod(x), "prod": lambda x: np.prod(x)}[name]
    jac = adkit.jacobian(f, mode="reverse")(ZEROS)
    hess = adkit.jacobian(adkit.jacobian(f, mode="forward"), mode="reverse")(ZEROS)
    others = np.array([np.prod(np.delete(ZEROS, i)) for i in range(5)])
    pairs = np.array(
        [[0.0 if i == j else np.prod(np.delete(ZEROS, [i, j])) for j in range(5)] for i in range(5)]
    )
    if name == "prod":
        np.testing.assert_array_equal(jac, others)
        np.testing.assert_array_equal(hess, pairs)  # d²/dx1 dx3 = 2 * 3 * -1.5: both zeros left out
    else:
        np.testing.assert_array_equal(jac[-1], others)
        np.testing.assert_array_equal(hess[-1], pairs)
        np.testing.assert_array_equal(jac[2], [0.0, 6.0, 0.0, 0.0, 0.0])  # d(2 x1 3)/dx1 = 6, exactly


def test_products_at_zeros_agree_with_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    for f in (lambda xp: xp.cumprod, lambda xp: xp.prod):
        want = jax.hessian(lambda x, f=f: jax.numpy.sum(f(jax.numpy)(x) ** 2))(ZEROS)
        got = adkit.hessian(lambda x, f=f: np.sum(f(np)(x) ** 2))(ZEROS)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("mode", MODES)
def test_nan_skipping_reductions_give_nan_elements_derivative_zero(mode):
    x = np.array([1.0, np.nan, 3.0, 2.0])
    for f in (
        np.nansum,
        np.nanmean,
        np.nanmax,
        np.nanmin,
        np.nanvar,
        np.nanstd,
        np.nanprod,
        np.nanmedian,
        lambda x: np.nanquantile(x, 0.3),
        lambda x: np.nancumsum(x)[-1],
        lambda x: np.nancumprod(x)[-1],
    ):
        d = adkit.jacobian(f, mode=mode)(x)
        assert d[1] == 0.0 and np.all(np.isfinite(d))


@pytest.mark.parametrize("mode", MODES)
def test_logaddexp_reduce_gives_softmax_weights_and_zero_at_minus_inf(mode):
    x = np.array([0.0, np.log(3.0), -np.inf])
    d = adkit.jacobian(np.logaddexp.reduce, mode=mode)(x)
    np.testing.assert_allclose(d, [0.25, 0.75, 0.0], rtol=1e-15)


# -- issue 13: sinc at 0 and the Heaviside step --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_sinc_derivatives_at_zero_are_exact_to_every_order(mode):
    """sin(pi x)/(pi x) is 0/0 at 0; its k-th derivative there is pi^k (-1)^(k/2)/(k + 1) (odd k: 0)."""
    d = np.sinc
    for k in range(5):
        got = d(0.0)
        d = adkit.diff(d, mode=mode)
        want = 0.0 if k % 2 else math.pi**k * (-1) ** (k // 2) / (k + 1)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), k


def test_sinc_derivatives_near_zero_agree_with_sympy():
    """The series below |pi x| = 4 and the recurrence above it meet without a seam (sympy, 80 digits)."""
    sympy = pytest.importorskip("sympy")
    s = sympy.Symbol("x")
    for k in range(1, 5):
        dk = sympy.diff(sympy.sin(sympy.pi * s) / (sympy.pi * s), s, k)
        for x in (1e-8, 0.01, 4 / math.pi - 1e-9, 4 / math.pi + 1e-9, -2.7):
            want = float(dk.subs(s, sympy.Float(x, 80)).evalf(80))
            got = adkit.rules.sinc_derivative_p(x, order=k)
            assert got == pytest.approx(want, rel=1e-11, abs=1e-12), (k, x)


@pytest.mark.parametrize("mode", MODES)
def test_heaviside_passes_the_derivative_to_its_value_at_the_step(mode):
    """heaviside(x, h) is 0, h, 1: d/dx = 0 wherever it exists, d/dh = 1 exactly where x = 0."""
    step = adkit.diff(lambda x, h: np.heaviside(x, h), mode=mode, argnums=(0, 1))
    dx, dh = step(np.array([-1.0, 0.0, 2.0]), np.full(3, 0.5))
    np.testing.assert_array_equal(dx, np.zeros((3, 3)))
    np.testing.assert_array_equal(dh, np.diag([0.0, 1.0, 0.0]))
