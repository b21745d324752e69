"""User-side regressions of issue 11 (items 1 and 2, missing methods), each against NumPy, JAX or PyTorch."""

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


# -- item 1: parameters that were dropped ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_trace_takes_its_offset_and_axes(mode):
    a = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(adkit.diff(lambda m: np.trace(m, offset=1), mode=mode)(a), np.eye(3, k=1))
    cube = np.random.default_rng(0).normal(size=(2, 3, 3))
    got = adkit.jacobian(lambda c: np.trace(c, axis1=1, axis2=2), mode=mode)(cube)
    want = np.zeros((2, 2, 3, 3))
    want[0, 0], want[1, 1] = np.eye(3), np.eye(3)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(
        adkit.primal(np.trace(adkit.Var(cube), axis1=1, axis2=2)), np.trace(cube, axis1=1, axis2=2)
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.reshape((2, 3), order="F"),
        lambda x: np.reshape(x, (3, 2), order="F"),
        lambda x: np.ravel(x.reshape(2, 3), order="F"),
        lambda x: x.reshape(2, 3).flatten("F"),
    ],
)
def test_fortran_order_reads_and_writes_first_index_fastest(mode, fn):
    x = np.arange(6.0)
    jac = adkit.jacobian(fn, mode=mode)(x)
    want = fn(x)  # NumPy's value is the permutation of x; the Jacobian is that permutation
    np.testing.assert_array_equal(jac.reshape(6, 6).argmax(axis=1), want.reshape(-1).astype(int))


@pytest.mark.parametrize("mode", MODES)
def test_reduction_methods_take_initial_and_where(mode):
    x = np.array([1.0, 5.0, 3.0])
    mask = np.array([True, False, True])
    cases = [
        (lambda v: v.sum(initial=10.0), [1, 1, 1]),
        (lambda v: v.sum(where=mask), [1, 0, 1]),
        (lambda v: v.max(initial=10.0), [0, 0, 0]),
        (lambda v: v.mean(where=mask), [0.5, 0, 0.5]),
        (lambda v: v.max(where=mask, initial=0.0), [0, 0, 1]),
        (lambda v: v.var(where=mask), [-1, 0, 1]),
    ]
    for fn, grad in cases:
        value, g = adkit.value_and_grad(fn)(x) if mode == "reverse" else (fn(x), adkit.diff(fn, mode=mode)(x))
        assert value == fn(x)
        np.testing.assert_allclose(g, grad)


def test_concatenate_with_axis_none_and_inner_of_nd_arrays():
    a = np.ones((2, 2))
    assert np.concatenate([adkit.Var(a), a], axis=None).shape == (8,)
    rng = np.random.default_rng(1)
    p, q = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4))
    got = np.inner(adkit.Dual(p, np.zeros_like(p)), q)
    assert got.shape == (2, 3, 5)
    np.testing.assert_allclose(adkit.primal(got), np.inner(p, q))


# -- item 2: remainders are not constants ----------------------------------------------------------


def _jax():
    """JAX in float64, the independent oracle, when it is installed."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["remainder", "fmod", "copysign"])
def test_remainder_fmod_copysign_derivatives_agree_with_jax_float64(mode, name):
    jax = _jax()
    rng = np.random.default_rng(2)
    x = rng.uniform(-5, 5, size=20)
    y = rng.choice([-1.0, 1.0], size=20) * rng.uniform(0.5, 2.0, size=20)
    ours = adkit.diff(lambda a, b: np.sum(getattr(np, name)(a, b)), mode=mode, argnums=(0, 1))(x, y)
    theirs = jax.grad(lambda a, b: getattr(jax.numpy, name)(a, b).sum(), argnums=(0, 1))(x, y)
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, np.asarray(want), rtol=0, atol=0)


@pytest.mark.parametrize("mode", MODES)
def test_remainder_partials_are_pytorchs_formulas(mode):
    """PyTorch's derivatives.yaml: d/dy remainder = -floor(x / y), d/dy fmod = -trunc(x / y)."""
    x, y = np.array([7.3, -7.3, 2.5, -2.5]), np.array([2.0, 2.0, -1.0, -1.0])
    _, dy = adkit.diff(lambda a, b: np.sum(a % b), mode=mode, argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(dy, -np.floor(x / y))
    _, dy = adkit.diff(lambda a, b: np.sum(np.fmod(a, b)), mode=mode, argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(dy, -np.trunc(x / y))


@pytest.mark.parametrize("box", [lambda v: adkit.Dual(v, 1.0), adkit.Var], ids=["Dual", "Var"])
def test_python_remainder_and_floor_division_operators_on_traced_values(box):
    x = box(7.5)
    assert adkit.primal(x % 2) == 1.5 and adkit.primal(2 % x) == 2.0
    quotient, rest = divmod(x, 2.0)
    assert quotient == 3.0 and adkit.primal(rest) == 1.5
    assert x // 2 == 3.0 and 20 // x == 2.0  # piecewise constant: plain numbers
    assert adkit.primal(divmod(20.0, x)[1]) == 5.0
    assert adkit.diff(lambda v: v % 2.0)(7.5) == 1.0
    assert adkit.diff(lambda v: 20.0 % v)(7.5) == -2.0
    assert adkit.diff(lambda v: divmod(v, 2.0)[1], mode="reverse")(7.5) == 1.0


def test_fmax_and_fmin_ignore_a_nan_operand_and_pass_the_derivative_to_the_other():
    x = np.array([1.0, np.nan, 3.0])
    y = np.array([np.nan, 2.0, 0.0])
    for f in (np.fmax, np.fmin):
        value = f(adkit.Dual(x, np.zeros(3)), y)
        np.testing.assert_array_equal(adkit.primal(value), f(x, y))
        g = adkit.grad(lambda v, f=f: np.sum(f(v, y)))(x)
        np.testing.assert_array_equal(g, [1.0, 0.0, 1.0 if f is np.fmax else 0.0])


# -- missing methods -----------------------------------------------------------------------------


@pytest.mark.parametrize("box", [lambda v: adkit.Dual(v, np.zeros_like(v)), adkit.Var], ids=["Dual", "Var"])
def test_the_methods_that_were_missing(box):
    a = np.random.default_rng(3).normal(size=(2, 3, 4))
    x = box(a)
    for got, want in [
        (np.moveaxis(x, (0, 1), (1, 0)), np.moveaxis(a, (0, 1), (1, 0))),
        (x.flatten("F"), a.flatten("F")),
        (x.diagonal(), a.diagonal()),
        (x.diagonal(1, 1, 2), a.diagonal(1, 1, 2)),
        (x.trace(), a.trace()),
        (x.trace(-1, 2, 0), a.trace(-1, 2, 0)),
        (x.round(2), a.round(2)),
        (x.repeat(2), a.repeat(2)),
        (x.repeat([1, 0, 2], axis=1), a.repeat([1, 0, 2], axis=1)),
        (x.swapaxes(0, 2), a.swapaxes(0, 2)),
        (np.swapaxes(x, 1, -1), np.swapaxes(a, 1, -1)),
        (np.diagonal(x, -1), np.diagonal(a, -1)),
        (np.round(x, 1), np.round(a, 1)),
        (np.around(x, 1), np.around(a, 1)),
    ]:
        np.testing.assert_array_equal(adkit.primal(got), want)


def test_moveaxis_and_swapaxes_check_their_axes_as_numpy_does():
    x = adkit.Var(np.ones((2, 3)))
    with pytest.raises(np.exceptions.AxisError):
        np.swapaxes(x, 0, 2)
    with pytest.raises(np.exceptions.AxisError):
        np.transpose(x, (0, 3))
    with pytest.raises(ValueError, match="repeated axis"):
        np.moveaxis(x, (0, 0), (1, 0))
    with pytest.raises(ValueError, match="same number"):
        np.moveaxis(x, (0, 1), (1,))
