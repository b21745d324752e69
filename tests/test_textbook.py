"""The worked examples of the textbooks and the survey, with independent closed forms."""

import math

import numpy as np
import pytest

import adkit
from adkit import Dual, Tape, Var


def test_dual_sum_and_product_rules():
    a, b = Dual(2.0, 3.0), Dual(5.0, 7.0)
    s, p = a + b, a * b
    assert (s.value, s.tangent) == (7.0, 10.0)  # (a + a'ε) + (b + b'ε) = (a + b) + (a' + b')ε
    assert (p.value, p.tangent) == (10.0, 2.0 * 7.0 + 3.0 * 5.0)  # ab + (ab' + a'b)ε


def test_dual_quotient_rule():
    q = Dual(3.0, 1.0) / Dual(2.0, 0.0)
    assert q.value == 1.5 and q.tangent == pytest.approx(0.5)
    q = Dual(3.0, 0.0) / Dual(2.0, 1.0)
    assert q.tangent == pytest.approx(-3.0 / 4.0)  # d/dy x/y = -x/y^2


@pytest.mark.parametrize("x", [-1.3, 0.0, 0.7, 2.5])
def test_sin_and_exp_of_a_dual(x):
    s = np.sin(Dual(x, 1.0))
    assert s.value == pytest.approx(math.sin(x)) and s.tangent == pytest.approx(math.cos(x))
    e = np.exp(Dual(x, 2.0))
    assert e.value == pytest.approx(math.exp(x)) and e.tangent == pytest.approx(2.0 * math.exp(x))


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize(("x", "y"), [(3.0, 2.0), (-1.5, 4.0), (0.0, 0.5)])
def test_difference_of_squares(mode, x, y):
    dfdx, dfdy = adkit.diff(lambda x, y: (x + y) * (x - y), mode=mode, argnums=(0, 1))(x, y)
    assert (dfdx, dfdy) == (pytest.approx(2 * x), pytest.approx(-2 * y))


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize(("x", "y"), [(3.0, 2.0), (-1.5, 4.0)])
def test_z_equals_x_x_plus_x_y_plus_2(mode, x, y):
    dzdx, dzdy = adkit.diff(lambda x, y: x * x + x * y + 2, mode=mode, argnums=(0, 1))(x, y)
    assert (dzdx, dzdy) == (pytest.approx(2 * x + y), pytest.approx(x))


def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def test_running_example_forward_mode():
    """Baydin et al. 2018, Table 2: tangent seed (1, 0) at (2, 5)."""
    y, dy = adkit.jvp(running_example, (2.0, 5.0), (1.0, 0.0))
    assert y == pytest.approx(math.log(2) + 10 - math.sin(5))
    assert round(y, 3) == 11.652
    assert dy == pytest.approx(1 / 2 + 5)  # 1/x1 + x2 = 5.5


def test_running_example_reverse_mode_and_its_tape():
    """Baydin et al. 2018, Table 3: adjoints 5.5 and 2 - cos 5 = 1.716."""
    with Tape() as tape:
        x1, x2 = Var(2.0), Var(5.0)
        y = running_example(x1, x2)
    y.backward(retain_graph=True)
    assert x1.grad == pytest.approx(1 / 2 + 5)
    assert x2.grad == pytest.approx(2 - math.cos(5))
    assert round(x2.grad, 3) == 1.716
    values = {n.label: float(n.value) for n in tape.nodes if not n.is_input}
    assert values == {
        "ln(t0)": pytest.approx(math.log(2)),
        "t0 * t1": pytest.approx(10.0),
        "t2 + t3": pytest.approx(math.log(2) + 10),
        "sin(t1)": pytest.approx(math.sin(5)),
        "t4 - t5": pytest.approx(math.log(2) + 10 - math.sin(5)),
    }


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("x", [-0.8, 0.3, 1.7])
def test_kth_derivative_of_sin_times_exp(k, x):
    # d^k/dx^k e^x sin x = 2^(k/2) e^x sin(x + k pi / 4)
    expected = 2 ** (k / 2) * math.exp(x) * math.sin(x + k * math.pi / 4)
    got = adkit.derivative(lambda t: np.sin(t) * np.exp(t), order=k)(x)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-12)


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_grad(x):
    a, b = x
    return np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])


def rosenbrock_hessian(x):
    a, b = x
    return np.array([[2 - 400 * (b - a * a) + 800 * a * a, -400 * a], [-400 * a, 200.0]])


@pytest.mark.parametrize("point", [(1.0, 1.0), (-1.2, 1.0)])
def test_rosenbrock_gradient_and_hessian(point):
    x = np.array(point)
    np.testing.assert_allclose(adkit.grad(rosenbrock)(x), rosenbrock_grad(x), rtol=1e-14)
    np.testing.assert_allclose(adkit.diff(rosenbrock, mode="forward")(x), rosenbrock_grad(x), rtol=1e-14)
    np.testing.assert_allclose(adkit.hessian(rosenbrock)(x), rosenbrock_hessian(x), rtol=1e-14)
    if point == (1.0, 1.0):
        np.testing.assert_array_equal(adkit.hessian(rosenbrock)(x), [[802.0, -400.0], [-400.0, 200.0]])


def mlp_loss(params, x, labels):
    (w1, b1), (w2, b2) = params
    hidden = np.tanh(x @ w1 + b1)
    logits = hidden @ w2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(log_probs * labels, axis=1))


def mlp_backprop(params, x, labels):
    """The gradient written by hand, the way a course would."""
    (w1, b1), (w2, b2) = params
    hidden = np.tanh(x @ w1 + b1)
    logits = hidden @ w2 + b2
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    d_logits = (probs - labels) / x.shape[0]
    d_w2, d_b2 = hidden.T @ d_logits, d_logits.sum(axis=0)
    d_pre = (d_logits @ w2.T) * (1 - hidden**2)
    return [(x.T @ d_pre, d_pre.sum(axis=0)), (d_w2, d_b2)]


def test_two_layer_mlp_with_softmax_cross_entropy_matches_handwritten_backprop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5))
    labels = np.eye(3)[rng.integers(3, size=16)]
    params = [
        (rng.normal(size=(5, 8)) * 0.5, rng.normal(size=8) * 0.1),
        (rng.normal(size=(8, 3)) * 0.5, rng.normal(size=3) * 0.1),
    ]
    grads = adkit.grad(mlp_loss)(params, x, labels)
    expected = mlp_backprop(params, x, labels)
    assert isinstance(grads, list) and len(grads) == 2 and all(isinstance(g, tuple) for g in grads)
    for (gw, gb), (ew, eb) in zip(grads, expected):
        np.testing.assert_allclose(gw, ew, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, eb, rtol=1e-12, atol=1e-15)
