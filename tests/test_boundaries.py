"""Where boxes meet the user: escaped and foreign traced values, what a transformation returns, and to whom.

Each test is written from the user's side of issue 11 ("no silent wrong
answers"): a traced value kept from inside one differentiation and used in
another, a function that closes over a traced value, repeated argnums,
keyword arguments, outputs that cannot be differentiated, results that alias
the caller's arrays, complex values.
"""

from __future__ import annotations

import numpy as np
import pytest

import adkit
from adkit.numerical import central_difference

# -- escaped traced values --------------------------------------------------------------


def _leaky(store):
    def f(x):
        store.append(x)
        return x * x

    return f


@pytest.mark.parametrize(
    "make, origin",
    [
        (lambda f: adkit.diff(f, mode="forward")(1.0), "adkit.diff(f, mode='forward')"),
        (lambda f: adkit.diff(f, mode="reverse")(np.ones(2)), "adkit.diff(f, mode='reverse')"),
        (lambda f: adkit.jvp(f, (1.0,), (1.0,)), "adkit.jvp(f)"),
        (lambda f: adkit.vjp(f, 1.0), "adkit.vjp(f)"),
        (lambda f: adkit.grad(f)(1.0), "adkit.grad(f)"),
        (lambda f: adkit.derivative(f)(1.0), "adkit.derivative(f)"),
    ],
)
def test_a_traced_value_kept_from_a_finished_call_is_refused_where_it_is_used(make, origin):
    store = []
    f = _leaky(store)
    f.__name__ = "f"
    kept = make(f)  # noqa: F841  (a vjp's pullback keeps its tape alive: the leak must still be caught)
    leaked = store[0]
    with pytest.raises(adkit.EscapedTracerError, match=r"escaped from " + __import__("re").escape(origin)):
        adkit.grad(lambda x: np.sum(x * leaked))(2.0)
    with pytest.raises(adkit.EscapedTracerError, match=r"adkit\.primal"):
        np.sum(leaked * 2.0)
    with pytest.raises(adkit.EscapedTracerError):
        adkit.grad(lambda x: x)(leaked)  # as an argument


def test_a_leaked_value_returned_by_a_later_transformation_is_refused():
    store = []
    adkit.diff(_leaky(store), mode="forward")(1.0)
    with pytest.raises(adkit.EscapedTracerError):
        adkit.grad(lambda x: x + 0.0 * store[0] if False else store[0])(2.0)


def test_nesting_is_not_an_escape():
    # the inner derivative closes over the outer traced y: legitimate, the outer call is still running
    assert adkit.grad(lambda y: adkit.grad(lambda x: x * y)(1.0))(2.0) == 1.0
    assert adkit.derivative(lambda x: x * adkit.derivative(lambda y: x + y)(1.0))(1.0) == 1.0
    h = adkit.hessian(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(h, np.diag([6.0, 12.0]))


def test_a_function_closing_over_an_imperative_var_is_refused_with_the_fix():
    a = adkit.Var(3.0)
    with pytest.raises(TypeError, match=r"closes over a traced value.*stop_gradient"):
        adkit.grad(lambda x: x * a)(2.0)
    with pytest.raises(TypeError, match="closes over"):
        adkit.jacobian(lambda x: x * a, mode="forward")(np.ones(2))
    # the fixes the message names
    assert adkit.grad(lambda x: x * adkit.stop_gradient(a))(2.0) == 3.0
    assert adkit.grad(lambda x: x * a.detach())(2.0) == 3.0
    assert adkit.grad(lambda x, a: x * a, argnums=(0, 1))(2.0, 3.0) == (3.0, 2.0)


def test_a_var_passed_in_may_come_back_traced():
    # imperative higher order: the derivative of x * x at a Var is a Var of its tape
    x = adkit.Var(3.0)
    g = adkit.grad(lambda u: u * u)(x)
    assert isinstance(g, adkit.Var)
    g.backward()
    assert x.grad == 2.0


# -- stop_gradient and detach --------------------------------------------------------------


def test_stop_gradient_is_a_constant_in_every_mode():
    f = lambda x: x * adkit.stop_gradient(x) + np.sin(x)
    x0 = 0.7
    for mode in ("forward", "reverse"):
        assert adkit.diff(f, mode=mode)(x0) == pytest.approx(x0 + np.cos(x0))
    tree = adkit.stop_gradient({"a": adkit.Var(1.0), "b": (adkit.Dual(2.0, 1.0), 3.0)})
    assert tree == {"a": 1.0, "b": (2.0, 3.0)}


def test_detach_gives_the_plain_value():
    w = adkit.Var(np.ones(3))
    d = w.detach()
    assert type(d) is np.ndarray
    assert adkit.stop_gradient(adkit.Dual(2.0, 1.0)) == 2.0


# -- argnums, keyword arguments ---------------------------------------------------------------


def test_repeated_argnums_give_the_derivative_once_per_request():
    assert adkit.grad(lambda x, y: x * y, argnums=(0, 0))(2.0, 3.0) == (3.0, 3.0)
    assert adkit.grad(lambda x, y: x * y, argnums=(1, 0, 1))(2.0, 3.0) == (2.0, 3.0, 2.0)
    jac = adkit.jacobian(lambda x, y: x * y, argnums=(0, 0), mode="reverse")(np.ones(2), np.arange(2.0))
    np.testing.assert_array_equal(jac[0], np.diag([0.0, 1.0]))
    jac[0][0, 0] = 5.0  # the repeats do not alias each other
    assert jac[1][0, 0] == 0.0


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_keyword_arguments_pass_through_undifferentiated(mode):
    f = lambda x, scale=1.0: np.sum(scale * x**2)
    x0 = np.array([1.0, 2.0])
    np.testing.assert_allclose(adkit.grad(f)(x0, scale=3.0), 6.0 * x0)
    np.testing.assert_allclose(adkit.diff(f, mode=mode)(x0, scale=3.0), 6.0 * x0)
    np.testing.assert_allclose(adkit.hessian(f)(x0, scale=3.0), 6.0 * np.eye(2))
    assert adkit.value_and_grad(f)(x0, scale=2.0)[0] == pytest.approx(10.0)


# -- outputs that cannot be differentiated -------------------------------------------------------


@pytest.mark.parametrize(
    "f, message",
    [
        (lambda x: None, "returned None"),
        (lambda x: np.allclose(x, 1.0), "returned a bool"),
        (lambda x: (x > 0.5).sum(), "returned an integer"),
        (lambda x: 3, "returned an integer"),
    ],
)
@pytest.mark.parametrize(
    "api",
    [
        lambda f: adkit.grad(f)(np.ones(3)),
        lambda f: adkit.jacobian(f, mode="forward")(np.ones(3)),
        lambda f: adkit.jacobian(f, mode="reverse")(np.ones(3)),
        lambda f: adkit.jvp(f, (np.ones(3),), (np.ones(3),)),
        lambda f: adkit.vjp(f, np.ones(3)),
    ],
)
def test_outputs_that_do_not_depend_differentiably_are_refused(f, message, api):
    with pytest.raises(TypeError, match=message):
        api(f)


def test_a_plain_float_output_has_zero_derivative():
    assert adkit.grad(lambda x: 1.0)(2.0) == 0.0


def test_derivative_refuses_vector_functions_pointing_to_jacobian():
    with pytest.raises(TypeError, match=r"adkit\.jacobian"):
        adkit.derivative(lambda x: np.array([1.0, 2.0]) * x)(1.0)
    with pytest.raises(TypeError, match=r"adkit\.jacobian"):
        adkit.derivative(lambda x: np.sum(x**2))(np.ones(3))
    for mixing in (np.cumsum, lambda x: x * x[::-1], lambda x: x - np.mean(x)):
        with pytest.raises(TypeError, match=r"elementwise.*adkit\.jacobian"):
            adkit.derivative(mixing)(np.linspace(0.5, 2.0, 4))
    assert adkit.derivative(lambda x: x**3, order=2)(2.0) == pytest.approx(12.0)


def test_derivative_at_an_array_of_points_of_an_elementwise_function():
    xs = np.linspace(-2.0, 2.0, 7)
    np.testing.assert_allclose(adkit.derivative(np.tanh)(xs), 1.0 - np.tanh(xs) ** 2, rtol=1e-13)
    np.testing.assert_allclose(adkit.derivative(np.sin, order=3)(xs), -np.cos(xs), rtol=1e-12)


# -- results belong to the caller ----------------------------------------------------------------


def test_gradients_are_writable_arrays_of_their_own():
    g = adkit.grad(lambda x: np.sum(x))(np.ones(3))
    g += 1.0
    np.testing.assert_array_equal(g, 2.0)
    w = adkit.Var(np.ones(3))
    np.sum(w).backward()
    w.grad *= 0.5
    np.testing.assert_array_equal(w.grad, 0.5)


def test_results_never_alias_what_the_caller_passed_in():
    x, v = np.ones(3), np.full(3, 2.0)
    out, tangent = adkit.jvp(lambda x: x, (x,), (v,))
    out[0] = tangent[0] = 7.0
    assert x[0] == 1.0 and v[0] == 2.0
    ct = np.full(3, 4.0)
    _, pullback = adkit.vjp(lambda x: x, x)
    (back,) = pullback(ct)
    back[0] = 7.0
    assert ct[0] == 4.0
    leaf = adkit.Var(np.ones(3))
    leaf.backward(ct)
    leaf.grad[0] = 7.0
    assert ct[0] == 4.0


# -- complex values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api",
    [
        lambda f: adkit.grad(f)(1.0),
        lambda f: adkit.diff(f, mode="forward")(1.0),
        lambda f: adkit.diff(f, mode="reverse")(1.0),
        lambda f: adkit.diff(f, mode="auto")(np.ones(2)),
        lambda f: adkit.jvp(f, (1.0,), (1.0,)),
        lambda f: adkit.vjp(f, 1.0),
        lambda f: adkit.hessian(f)(1.0),
        lambda f: adkit.derivative(f)(1.0),
    ],
)
@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sum(np.exp(1j * x)),  # complex output
        lambda x: np.sum(np.exp(1j * x).real),  # complex inside, real out
        lambda x: np.sum(x * np.array([1 + 2j])).imag,
    ],
)
def test_complex_values_are_refused_on_every_path(api, f):
    with pytest.raises(TypeError, match="real"):
        api(f)


def test_complex_inputs_are_refused():
    with pytest.raises(TypeError, match="complex"):
        adkit.grad(lambda x: x * x)(1.0 + 2.0j)
    with pytest.raises(TypeError, match="complex"):
        adkit.Var(np.array([1j]))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_real_and_imag_of_real_traced_values(mode):
    f = lambda x: np.sum((2 * x).real * np.sin(x) + x.imag + np.conj(x) + np.real(x))
    x0 = np.array([0.3, -1.2, 2.0])
    got = adkit.diff(f, mode=mode)(x0)
    want = np.array(
        [central_difference(lambda t, i=i: f(np.where(np.arange(3) == i, t, x0)), x0[i]) for i in range(3)]
    )
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_hand_made_duals_keep_their_literature_parts():
    z = adkit.Dual(2.0, 1.0)
    assert (z.real, z.dual) == (2.0, 1.0)
