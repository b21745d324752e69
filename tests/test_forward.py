"""Forward mode: the Dual type, vector mode, chunks and the shape conventions."""

import numpy as np
import pytest

import adkit
from adkit import Dual


def test_dual_parts_and_their_aliases():
    x = Dual(2.0, 1.0)
    assert (x.value, x.tangent) == (x.real, x.dual) == (2.0, 1.0)
    assert Dual(3).value == 3.0 and Dual(3).tangent == 0.0  # ints become floats; no tangent = 0


def test_dual_repr_and_latex():
    assert repr(np.sin(Dual(1.0, 1.0))) == "Dual(0.841, 0.540)"
    assert Dual(2.0, -0.5)._repr_latex_() == r"$2.000 + -0.500\,\varepsilon$"
    assert repr(Dual(1e-9, 2e7)) == "Dual(1.000e-09, 2.000e+07)"


def test_reflected_operators_and_comparisons_on_the_primal():
    x = Dual(2.0, 1.0)
    assert (
        (3.0 - x).tangent == -1.0
        and (1.0 / x).tangent == -0.25
        and (2.0**x).tangent == pytest.approx(4 * np.log(2))
    )
    assert x > 1.5 and x <= 2.0 and x == Dual(2.0, 7.0) and not x < 2
    arr = Dual(np.array([1.0, 3.0]), np.ones(2))
    np.testing.assert_array_equal(arr > 2, [False, True])


def test_vector_mode_carries_k_directions_at_once():
    w = np.random.default_rng(0).normal(size=(4, 3))
    x = Dual(np.array([0.1, 0.2, 0.3]), np.eye(3))  # three directions: the whole Jacobian
    y = np.tanh(w @ x)
    jac = y.tangent.T
    np.testing.assert_allclose(jac, (1 - np.tanh(w @ x.value) ** 2)[:, None] * w, rtol=1e-14)


def test_vector_mode_equals_n_single_direction_passes():
    rng = np.random.default_rng(1)
    w1, w2 = rng.normal(size=(6, 5)), rng.normal(size=(3, 6))
    f = lambda x: np.tanh(w2 @ np.tanh(w1 @ x)) * np.sum(x**2)
    x = rng.normal(size=5)
    vector = adkit.jacobian(f, mode="forward")(x)
    columns = [adkit.jvp(f, (x,), (e,))[1] for e in np.eye(5)]
    np.testing.assert_allclose(vector, np.stack(columns, axis=1), rtol=1e-13, atol=1e-15)
    _, batched = adkit.jvp(f, (x,), (np.eye(5),))  # jvp takes batched tangents too
    np.testing.assert_allclose(batched.T, vector, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("chunk", [1, 2, 5, 7])
def test_forward_chunks_give_the_same_jacobian(chunk):
    f = lambda x: np.cumsum(np.sin(x)) * x[::-1]
    x = np.linspace(0.1, 1.0, 6)
    np.testing.assert_allclose(
        adkit.jacobian(f, mode="forward", chunk=chunk)(x), adkit.jacobian(f, mode="forward")(x), rtol=1e-14
    )


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize(
    ("in_shape", "out_fn"),
    [
        ((), lambda x: x * 2),
        ((3,), lambda x: x.sum()),
        ((2, 3), lambda x: x.T @ x),
        ((), lambda x: x * np.ones(4)),
        ((3,), lambda x: np.outer(x, x)),
        ((2, 2), lambda x: np.linalg.det(x)),
    ],
)
def test_the_derivative_has_shape_out_shape_plus_in_shape(mode, in_shape, out_fn):
    x = np.random.default_rng(2).normal(size=in_shape) if in_shape else 0.7
    jac = adkit.diff(out_fn, mode=mode)(x)
    assert np.shape(jac) == np.shape(out_fn(x)) + np.shape(x)
    if in_shape == () and np.shape(out_fn(x)) == ():
        assert isinstance(jac, float)


def test_argnums_gives_a_tuple_one_entry_per_argument():
    f = lambda x, y, z: x * y + np.sum(z)
    d = adkit.diff(f, argnums=(0, 2))(2.0, 3.0, np.ones(2))
    assert isinstance(d, tuple) and d[0] == 3.0
    np.testing.assert_array_equal(d[1], [1.0, 1.0])
    assert adkit.diff(f, argnums=1)(2.0, 3.0, np.ones(2)) == 2.0
    assert adkit.diff(f, argnums=-3)(2.0, 3.0, np.ones(2)) == 3.0


def test_integer_inputs_are_differentiated_as_floats():
    assert adkit.grad(lambda x: x**3)(2) == 12.0
    np.testing.assert_array_equal(adkit.grad(lambda x: np.sum(x * x))(np.array([1, 2])), [2.0, 4.0])


def test_pytree_inputs_and_outputs():
    params = {"w": np.array([1.0, 2.0]), "b": 0.5}
    f = lambda p, x: {"out": np.sum(p["w"] * x) + p["b"], "reg": p["w"] @ p["w"]}
    jac = adkit.jacobian(f)(params, np.array([3.0, 4.0]))
    assert set(jac) == {"out", "reg"} and set(jac["out"]) == {"w", "b"}
    np.testing.assert_array_equal(jac["out"]["w"], [3.0, 4.0])
    assert jac["out"]["b"] == 1.0
    np.testing.assert_array_equal(jac["reg"]["w"], [2.0, 4.0])
    _, tangent = adkit.jvp(f, (params, np.zeros(2)), ({"w": np.ones(2), "b": 1.0}, np.zeros(2)))
    assert tangent["reg"] == 6.0


def test_a_function_that_ignores_its_input_has_zero_derivative():
    assert adkit.diff(lambda x: 3.0, mode="forward")(1.0) == 0.0
    assert adkit.grad(lambda x: 3.0)(1.0) == 0.0
    jac = adkit.jacobian(lambda x: np.ones(2), mode="reverse")(np.ones(3))
    np.testing.assert_array_equal(jac, np.zeros((2, 3)))


def test_derivative_object_names_itself():
    def energy(x):
        return x**2

    d = adkit.diff(energy, mode="reverse")
    assert d.__name__ == "diff_of_energy"
    assert repr(d) == "<Derivative diff_of_energy: mode='reverse', argnums=0>"
    assert d(3.0) == 6.0


def test_user_primitive_logsumexp_is_stable_and_one_node():
    @adkit.primitive
    def logsumexp(x):
        top = np.max(x)
        return top + np.log(np.sum(np.exp(x - top)))

    logsumexp.defjvp(lambda t, out, x: np.sum(t * np.exp(x - out), axis=-1))
    logsumexp.defvjp(lambda ct, out, x: ct * np.exp(x - out))
    x = np.array([1000.0, 1000.0])
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(adkit.diff(logsumexp, mode=mode)(x), [0.5, 0.5])
    with adkit.Tape() as tape:
        logsumexp(adkit.Var(x))
    assert [n.label for n in tape.nodes] == ["input", "logsumexp(t0)"]
    adkit.check_grads(logsumexp, np.array([0.3, -1.0, 2.0]), modes=("forward", "reverse"), order=2)


def test_check_grads_catches_a_wrong_rule():
    p = adkit.primitive(lambda x: np.sin(x))
    p.defjvp(lambda t, out, x: t * np.cos(x))
    p.defvjp(lambda ct, out, x: ct * np.cos(x) * 1.01)  # 1% off
    adkit.check_grads(p, 0.4, modes=("forward",), order=1)
    with pytest.raises(adkit.GradientCheckError, match="reverse"):
        adkit.check_grads(p, 0.4, modes=("forward", "reverse"), order=1)
