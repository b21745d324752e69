"""Order statistics and reductions (issue 13, item 4): sort, partition, median, quantiles, ptp, average,
cumprod, the nan-skipping reductions, var/std with every parameter, logaddexp.reduce.

As in ``test_contractions.py``: each program is written once for an array module ``xp`` and checked for
its value against NumPy's, every nesting of the modes to second order against central differences,
second derivatives with batched directions, and derivatives against JAX in float64 (where JAX has the
function). Arguments are random, so there are no ties; ``test_conventions.py`` pins the ties.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from test_contractions import (
    assert_derivatives_are_jaxs,
    assert_second_derivatives_batched,
    assert_value_is_numpys,
    jax_numpy,
)

import adkit

rng = np.random.default_rng(4)
X = rng.normal(size=(3, 4))
C = rng.normal(size=(2, 3, 5))
W = rng.uniform(0.5, 2.0, size=4)
Z = np.array([[1.5, 0.0, -2.0, 0.7], [0.0, 0.0, 1.1, -0.4], [0.9, -1.3, 0.6, 0.0]])  # zeros: cumprod
MASK = np.array([[True, False, True, True], [True, True, True, False], [False, True, True, True]])
Q = np.array([0.13, 0.47, 0.88])  # off the kinks (n - 1) q = integer for n = 3, 4, 5


def with_nan(xp: Any, a: Any) -> Any:
    """``a`` with a nan where MASK is False (every row and column keeps three values)."""
    return xp.where(MASK, a, xp.nan)


#: name -> (the program for an array module, its arguments, whether JAX has the same function)
PROGRAMS: dict[str, tuple[Any, tuple, bool]] = {
    "sort": (lambda xp: lambda a: xp.sort(a * a, axis=0) * xp.arange(1.0, 5.0), (X,), True),
    "sort, flattened": (lambda xp: lambda a: xp.sort(xp.sin(a), axis=None), (X,), True),
    "sort, 3-D": (lambda xp: lambda c: xp.sort(c, axis=1)[:, 0].sum() * xp.sort(c)[..., -1], (C,), True),
    "partition, kth": (lambda xp: lambda a: xp.partition(a * a, 2, axis=1)[:, 2], (X,), True),
    "partition, two kth": (lambda xp: lambda a: xp.sum(xp.partition(a, [0, 2], axis=0)[0] ** 2), (X,), False),
    "median": (lambda xp: lambda a: xp.median(a * a, axis=1), (X,), True),
    "median, even count": (lambda xp: lambda a: xp.median(a, axis=0) * xp.median(a), (X,), True),
    "median, axes and keepdims": (lambda xp: lambda c: xp.median(c, axis=(0, 2), keepdims=True), (C,), True),
    "nanmedian": (lambda xp: lambda a: xp.nanmedian(with_nan(xp, a * a), axis=1), (X,), True),
    "quantile": (lambda xp: lambda a: xp.quantile(a, Q, axis=1), (X,), True),
    "quantile, traced q": (lambda xp: lambda a, q: xp.quantile(a * a, q, axis=0), (X, Q), True),
    "quantile, lower": (lambda xp: lambda a: xp.quantile(a, Q, method="lower"), (X,), True),
    "quantile, higher": (lambda xp: lambda a: xp.quantile(a, Q, method="higher"), (X,), True),
    "quantile, nearest": (lambda xp: lambda a: xp.quantile(a, Q, axis=0, method="nearest"), (X,), True),
    "quantile, midpoint": (lambda xp: lambda a: xp.quantile(a, 0.4, axis=1, method="midpoint"), (X,), True),
    "quantile, hazen": (lambda xp: lambda a, q: xp.quantile(a, q, axis=1, method="hazen"), (X, Q), False),
    "quantile, weibull": (
        lambda xp: lambda a: xp.quantile(a, Q, method="weibull", keepdims=True),
        (X,),
        False,
    ),
    "quantile, median_unbiased": (
        lambda xp: lambda c: xp.quantile(c, Q[:2], axis=(1, 2), method="median_unbiased"),
        (C,),
        False,
    ),
    "quantile, inverted_cdf": (
        lambda xp: lambda a: xp.quantile(a, Q, axis=0, method="inverted_cdf"),
        (X,),
        False,
    ),
    "quantile, weighted": (
        lambda xp: lambda a: xp.quantile(a, Q, axis=1, method="inverted_cdf", weights=W),
        (X,),
        False,
    ),
    "quantile of a matrix of q": (
        lambda xp: lambda a: xp.quantile(a, Q.reshape(3, 1) * [1, 0.5], axis=1),
        (X,),
        False,
    ),  # (JAX takes q of one axis at most)
    "percentile": (lambda xp: lambda a, q: xp.percentile(a, q, axis=1), (X, 100 * Q), True),
    "nanquantile": (lambda xp: lambda a: xp.nanquantile(with_nan(xp, a), Q, axis=1), (X,), True),
    "nanpercentile": (lambda xp: lambda a: xp.nanpercentile(with_nan(xp, a), 40.0, axis=0), (X,), True),
    "ptp": (lambda xp: lambda a: xp.ptp(a * a, axis=1), (X,), True),
    "average, weights": (lambda xp: lambda a, w: xp.average(a * a, axis=1, weights=w), (X, W), True),
    "average, returned": (
        lambda xp: (
            lambda a, w: (
                xp.average(a, axis=1, weights=w * w, returned=True)[1] * xp.average(a, weights=xp.exp(a))
            )
        ),
        (X, W),
        True,
    ),
    "cumprod": (lambda xp: lambda a: xp.cumprod(a, axis=1), (X,), True),
    "cumprod, zeros": (lambda xp: lambda a: xp.cumprod(a, axis=1) + xp.cumprod(a.T, axis=0).T, (Z,), True),
    "cumprod, long": (lambda xp: lambda v: xp.cumprod(v), (np.concatenate([W, [0.0], -W, W[:3]]),), True),
    "multiply.accumulate": (lambda xp: lambda a: xp.multiply.accumulate(a, axis=0), (Z,), True),
    "cumulative_prod": (lambda xp: lambda a: xp.cumulative_prod(a, axis=0, include_initial=True), (Z,), True),
    "cumulative_sum": (
        lambda xp: lambda a: xp.cumulative_sum(a * a, axis=1, include_initial=True),
        (X,),
        True,
    ),
    "nansum": (lambda xp: lambda a: xp.nansum(with_nan(xp, a * a), axis=0), (X,), True),
    "nanprod": (lambda xp: lambda a: xp.nanprod(with_nan(xp, a), axis=1), (Z,), True),
    "nanmean": (lambda xp: lambda a: xp.nanmean(with_nan(xp, a * a), axis=1), (X,), True),
    "nanmax": (lambda xp: lambda a: xp.nanmax(with_nan(xp, a * a), axis=0), (X,), True),
    "nanmin": (lambda xp: lambda a: xp.nanmin(with_nan(xp, xp.sin(a)), axis=1), (X,), True),
    "nanvar": (lambda xp: lambda a: xp.nanvar(with_nan(xp, a), axis=1, ddof=1), (X,), True),
    "nanstd": (lambda xp: lambda a: xp.nanstd(with_nan(xp, a), axis=0, keepdims=True), (X,), True),
    "nancumsum": (lambda xp: lambda a: xp.nancumsum(with_nan(xp, a * a), axis=1), (X,), True),
    "nancumprod": (lambda xp: lambda a: xp.nancumprod(with_nan(xp, a), axis=0), (X,), True),
    "var, where and correction": (
        lambda xp: lambda a: xp.var(a, axis=1, where=MASK, correction=1),
        (X,),
        True,
    ),
    "std, axes, ddof, keepdims": (
        lambda xp: lambda c: xp.std(c, axis=(0, 2), ddof=2, keepdims=True),
        (C,),
        True,
    ),
    "var, mean given": (
        lambda xp: lambda a: xp.var(a, axis=0, mean=xp.mean(a * a, axis=0, keepdims=True)),
        (X,),
        False,
    ),
    "logaddexp.reduce": (lambda xp: lambda a: xp.logaddexp.reduce(a, axis=1), (X,), True),
    "logaddexp.reduce, large": (lambda xp: lambda a: xp.logaddexp.reduce(30.0 * a, axis=0), (X,), True),
}


def _jax_has(program: Any) -> bool:
    jax = jax_numpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program(jax.numpy)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("name", PROGRAMS)
def test_value_is_numpys(name):
    program, args, _ = PROGRAMS[name]
    assert_value_is_numpys(program, args)


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_nesting_to_second_order(name):
    program, args, _ = PROGRAMS[name]
    adkit.check_grads(program(np), *(np.asarray(a, dtype=float) for a in args), order=2)


@pytest.mark.parametrize("name", PROGRAMS)
def test_second_derivatives_with_batched_directions(name):
    program, args, _ = PROGRAMS[name]
    assert_second_derivatives_batched(program(np), tuple(np.asarray(a, dtype=float) for a in args))


@pytest.mark.parametrize("name", [name for name, (_, _, jax) in PROGRAMS.items() if jax])
def test_derivatives_are_jaxs(name):
    program, args, _ = PROGRAMS[name]
    jax = jax_numpy()
    try:
        program(jax.numpy)(*args)
    except (AttributeError, NotImplementedError, TypeError) as error:  # an older JAX without the function
        pytest.skip(f"JAX {jax.__version__} lacks it: {error}")
    assert_derivatives_are_jaxs(program, args)


# -- the parts the programs above do not reach ----------------------------------------------------------


def test_partition_arranges_as_numpy_and_permutes_the_tangent():
    a = rng.normal(size=(4, 7))
    for kth in (3, [0, 6], -1):
        want = np.partition(a, kth, axis=1)
        out, tangent = adkit.jvp(lambda x, kth=kth: np.partition(x, kth, axis=1), (a,), (2.0 * a + 1.0,))
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(tangent, 2.0 * want + 1.0)  # the same permutation


def test_every_quantile_method_against_numpy_with_a_traced_q():
    """Values of all of NumPy's methods, d/da against central differences, d/dq where the weight varies."""
    a = rng.normal(size=(3, 7))
    q = np.array([0.0, 0.07, 0.31, 0.55, 0.64, 0.93, 1.0])  # inside: away from every method's jumps
    for method in adkit.rules.QUANTILE_METHODS:
        f = lambda a, q, m=method: np.quantile(a, q, axis=1, method=m)
        np.testing.assert_allclose(adkit.primal(f(adkit.Var(a), adkit.Var(q))), f(a, q), rtol=1e-14)
        adkit.check_grads(lambda a, f=f: f(a, q), a, order=1)
        dq = adkit.jacobian(f, argnums=1)(a, q)
        inner = slice(1, -1)  # q = 0 and 1 sit at the ends, where NumPy's weight is clipped
        step = 1e-7
        plus, minus = q.copy(), q.copy()
        plus[inner] += step
        minus[inner] -= step
        central = (f(a, plus)[inner] - f(a, minus)[inner]) / (2 * step)
        diagonal = np.einsum("iji->ij", dq[inner][:, :, inner])  # d out[q_i] / d q_i
        np.testing.assert_allclose(diagonal, central, atol=1e-6, err_msg=method)


def test_quantile_keeps_float32_for_a_python_q():
    a = X.astype(np.float32)
    for f in (
        lambda a: np.quantile(a, 0.3),
        lambda a: np.median(a, axis=0),
        lambda a: np.sort(a),
        lambda a: np.cumprod(a, axis=1),
        lambda a: np.nanmean(a),
        lambda a: np.ptp(a),
    ):
        assert np.asarray(f(a)).dtype == np.float32
        assert adkit.primal(f(adkit.Var(a))).dtype == np.float32
        assert adkit.jacobian(f, mode="reverse")(a).dtype == np.float32


@contextlib.contextmanager
def warns(message: str) -> Iterator[None]:
    """A RuntimeWarning matching ``message`` among those the block emits (NumPy adds 'invalid value ...')."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any(re.search(message, text) for text in said), f"no RuntimeWarning matching {message!r}: {said}"


def test_all_nan_slices_give_nan_with_numpys_warning_and_no_derivative():
    a = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 3.0]])
    for f, message in (
        (lambda x: np.nanmax(x, axis=1), "All-NaN slice"),
        (lambda x: np.nanmin(x, axis=1), "All-NaN slice"),
        (lambda x: np.nanmedian(x, axis=1), "All-NaN slice"),
        (lambda x: np.nanquantile(x, 0.3, axis=1), "All-NaN slice"),
        (lambda x: np.nanmean(x, axis=1), "Mean of empty slice"),
        (lambda x: np.nanvar(x, axis=1), "Degrees of freedom"),
    ):
        with warns(message):
            want = f(a)
        with warns(message):
            got = adkit.primal(f(adkit.Var(a)))
        np.testing.assert_allclose(got, want)
        with warns(message):
            jac = adkit.jacobian(f, mode="reverse")(a)
        np.testing.assert_array_equal(jac[0], 0.0)  # the all-nan row: nothing to differentiate
        assert np.all(jac[1][np.isnan(a)] == 0.0)  # a nan element: derivative 0
    # initial= fills an all-nan slice, as NumPy's fmax.reduce does, without a warning
    np.testing.assert_allclose(adkit.primal(np.nanmax(adkit.Var(a), axis=1, initial=5.0)), [5.0, 5.0])


def test_plain_median_and_quantile_of_a_slice_with_nan_are_nan():
    a = np.array([[1.0, np.nan, 2.0], [1.0, 4.0, 2.0]])
    for f in (
        lambda x: np.median(x, axis=1),
        lambda x: np.quantile(x, [0.2, 0.9], axis=1),
        lambda x: np.percentile(x, 50.0, axis=1, method="lower"),
    ):
        np.testing.assert_array_equal(adkit.primal(f(adkit.Var(a))), f(a))
        assert np.all(adkit.jacobian(f)(a)[..., 0, :] == 0.0)


def test_median_of_nothing_is_nan_as_numpy_says():
    with warns("Mean of empty slice"):
        want = np.median(np.zeros((0, 3)), axis=0)
    with warns("Mean of empty slice"):
        np.testing.assert_array_equal(np.median(adkit.Var(np.zeros((0, 3))), axis=0), want)


def test_logaddexp_reduce_does_not_overflow_and_keeps_its_identity():
    big = np.array([1000.0, 1000.0, -np.inf])
    assert adkit.primal(np.logaddexp.reduce(adkit.Var(big))) == np.logaddexp.reduce(big)
    np.testing.assert_allclose(adkit.grad(np.logaddexp.reduce)(big), [0.5, 0.5, 0.0])
    assert adkit.primal(np.logaddexp.reduce(adkit.Var(np.full(2, -np.inf)))) == -np.inf
    masked = np.logaddexp.reduce(adkit.Var(X), axis=1, where=MASK, initial=0.3, keepdims=True)
    np.testing.assert_allclose(
        adkit.primal(masked), np.logaddexp.reduce(X, axis=1, where=MASK, initial=0.3, keepdims=True)
    )


def test_sort_and_partition_methods_are_in_place_and_say_what_to_use():
    x = adkit.Var(X)
    with pytest.raises(AttributeError, match=r"np\.sort\(x, \.\.\.\)"):
        x.sort()
    with pytest.raises(AttributeError, match=r"np\.partition\(x, kth, \.\.\.\)"):
        x.partition(1)
