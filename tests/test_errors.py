"""Bad input gets an error that names the problem and says what to do."""

import math

import numpy as np
import pytest

import adkit
from adkit import Dual, Var


def test_math_sin_on_a_dual_points_to_numpy():
    with pytest.raises(TypeError, match=r"np\.sin"):
        math.sin(Dual(1.0, 1.0))
    with pytest.raises(TypeError, match=r"math\.sin"):
        adkit.grad(lambda x: math.sin(x))(1.0)


@pytest.mark.parametrize(
    ("fun", "name"),
    [
        (lambda x: np.convolve(x, x), "convolve"),
        (lambda x: np.fft.fft(x), "fft"),
        (lambda x: np.interp(0.5, x, x), "interp"),
        (lambda x: np.frexp(x)[0], "frexp"),
    ],
)
def test_a_numpy_function_without_a_rule_is_named(fun, name):
    for mode in ("forward", "reverse"):
        with pytest.raises(NotImplementedError, match=rf"numpy\.{name}.*adkit\.primitive"):
            adkit.diff(fun, mode=mode)(np.array([1.0, 2.0]))


def test_wrong_types_given_to_diff_name_the_argument():
    with pytest.raises(TypeError, match="argument 0 of <lambda> is a str"):
        adkit.diff(lambda x: x)("abc")
    with pytest.raises(TypeError, match="argument 1 of f is a"):

        def f(x, y):
            return x * y

        adkit.diff(f, argnums=1)(1.0, object())
    with pytest.raises(TypeError, match="first argument"):
        adkit.diff(3.0)
    with pytest.raises(ValueError, match="mode must be"):
        adkit.diff(np.sin, mode="fwd")
    with pytest.raises(TypeError, match="argnums"):
        adkit.diff(np.sin, argnums="0")(1.0)
    with pytest.raises(ValueError, match="argnums=2"):
        adkit.diff(np.sin, argnums=2)(1.0)
    with pytest.raises(TypeError, match="is a bool"):
        adkit.grad(lambda x: x)(True)


def test_complex_input_is_refused_with_a_way_out():
    with pytest.raises(TypeError, match=r"complex.*real and imaginary"):
        adkit.grad(lambda z: z * z)(1.0 + 2.0j)
    with pytest.raises(TypeError, match="complex"):
        Dual(1j, 1.0)


def test_assigning_a_traced_value_into_an_array_explains_the_functional_way():
    def f(x):
        a = np.zeros(3)
        a[0] = x
        return a.sum()

    for mode in ("forward", "reverse"):
        with pytest.raises(TypeError, match=r"np\.stack.*np\.concatenate.*np\.where"):
            adkit.diff(f, mode=mode)(1.0)
    with pytest.raises(TypeError, match="immutable"):
        x = Var(np.ones(3))
        x[0] = 2.0
    # imperative code: NumPy reports "setting an array element with a sequence",
    # caused by adkit's explanation
    with pytest.raises(ValueError, match="sequence") as info:
        np.zeros(3)[0] = Var(1.0)
    assert "np.stack" in str(info.value.__cause__)


def test_np_array_of_traced_values_points_to_stack():
    with pytest.raises(TypeError, match=r"np\.stack"):
        adkit.grad(lambda x: np.array([x, x]).sum())(1.0)


def test_grad_of_a_vector_output_points_to_jacobian():
    with pytest.raises(TypeError, match=r"scalar.*jacobian"):
        adkit.grad(lambda x: x * 2)(np.ones(3))


def test_backward_on_a_non_scalar_needs_a_cotangent():
    y = Var(np.ones(3)) * 2.0
    with pytest.raises(ValueError, match=r"needs a cotangent.*np\.ones"):
        y.backward()
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(2))


def test_backward_twice_on_a_freed_tape_says_what_to_do():
    x = Var(2.0)
    y = x * x
    y.backward()
    with pytest.raises(adkit.FreedTapeError, match="retain_graph=True"):
        y.backward()
    with pytest.raises(adkit.FreedTapeError, match="Recompute"):
        _ = y * 3.0


def test_indexing_with_a_traced_value_is_refused():
    with pytest.raises(TypeError, match="index with a traced value"):
        adkit.grad(lambda x: x[Var(1.0)])(np.ones(2))


def test_ufunc_out_argument_is_refused():
    with pytest.raises(TypeError, match="out="):
        adkit.grad(lambda x: np.sin(x, out=np.zeros(2)).sum())(np.ones(2))


def test_dual_tangent_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"does not fit a value of shape \(3,\)"):
        Dual(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="number or a NumPy array"):
        Dual("x", 1.0)


def test_jvp_and_vjp_argument_checks():
    with pytest.raises(TypeError, match="tuples"):
        adkit.jvp(np.sin, 1.0, 1.0)
    with pytest.raises(ValueError, match="same structure"):
        adkit.jvp(lambda x: x, ((1.0, 2.0),), ((1.0,),))
    with pytest.raises(ValueError, match="does not fit"):
        adkit.jvp(np.sin, (np.ones(3),), (np.ones(2),))
    _, pullback = adkit.vjp(lambda x: x * 2, np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        pullback(np.ones(4))


def test_derivative_order_must_be_a_natural_number():
    with pytest.raises(ValueError, match="non-negative integer"):
        adkit.derivative(np.sin, order=-1)
    with pytest.raises(ValueError, match="non-negative integer"):
        adkit.derivative(np.sin, order=1.5)


def test_a_user_primitive_without_the_rule_a_mode_needs():
    p = adkit.primitive(lambda x: x * 2.0)
    p.defvjp(lambda ct, out, x: 2.0 * ct)
    assert adkit.grad(p)(1.0) == 2.0
    with pytest.raises(NotImplementedError, match=r"forward-mode.*defjvp.*mode='reverse'"):
        adkit.diff(p, mode="forward")(1.0)
    q = adkit.primitive(lambda x: x * 2.0)
    with pytest.raises(NotImplementedError, match=r"reverse-mode.*defvjp"):
        adkit.grad(q)(1.0)


@pytest.mark.parametrize("make", [lambda x: x @ 3.0, lambda x: 3.0 @ x, lambda x: np.ones(2) @ x])
def test_matmul_of_a_scalar_var_gives_numpys_error(make):
    # the array short paths must not turn NumPy's message into an obscure one
    with pytest.raises(ValueError, match=r"matmul: Input operand .* does not have enough dimensions"):
        make(Var(2.0))


def test_ndarray_operators_with_a_var_are_recorded():
    a = np.array([1.0, 2.0])
    x = Var(np.array([3.0, 4.0]))
    y = (a @ x) + (a * x).sum() + (a - x).sum() + (a / x).sum() + (a**x).sum()
    y.backward()
    want = a + a - 1.0 - a / x.value**2 + a**x.value * np.log(a)
    np.testing.assert_allclose(x.grad, want, rtol=1e-12)
