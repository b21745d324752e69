"""``check_grads`` catches planted bugs in every mode and order, at every scale, and passes correct rules.

The planted bugs are user primitives (``adkit.primitive``) whose JVP or VJP
rule is 50 % wrong: at first order (a factor 1.5), or only at second order
(a rule that is right in value but half of it is computed on the primal, a
constant, so its own derivative is half the true one).
"""

from __future__ import annotations

import numpy as np
import pytest

import adkit

SCALES = [1e-7, 1.0, 1e7]


def scaled_sine(
    out_scale: float, in_scale: float, jvp_bug: str = "", vjp_bug: str = "", traced_by: type = object
) -> adkit.UserPrimitive:
    """``x ↦ a sin(x / b)`` with ``a = out_scale``, ``b = in_scale``, and rules that may carry a bug.

    A bug is ``"first"`` (the rule is 1.5 times the derivative) or ``"second"``
    (right in value, but half of it is a constant, so its derivative, the
    second derivative of the function, is half the true one). The second
    kind only where the rule's argument is of type ``traced_by``: ``adkit.Var``
    puts it in the reverse mode over a JVP rule, ``adkit.Dual`` the forward
    mode over a VJP rule, so one nesting alone is wrong.
    """
    a, b = out_scale, in_scale

    def slope(x, bug):  # d/dx a sin(x / b), as the rule computes it
        if bug == "first":
            return 1.5 * a / b * np.cos(x / b)
        if bug == "second" and isinstance(x, traced_by):
            return a / b * (0.5 * np.cos(x / b) + 0.5 * np.cos(adkit.primal(x) / b))
        return a / b * np.cos(x / b)

    def scaled_sine(x):
        return a * np.sin(x / b)

    p = adkit.primitive(scaled_sine)
    p.defjvp(lambda t, out, x: t * slope(x, jvp_bug))
    p.defvjp(lambda ct, out, x: ct * slope(x, vjp_bug))
    return p


def point(in_scale: float, n: int) -> np.ndarray | float:
    x = in_scale * np.array([0.3, -1.1, 2.0, 0.7][:n])
    return float(x[0]) if n == 1 else x


MODE_SETS = [("forward",), ("reverse",), ("auto",), ("forward", "reverse", "auto")]


@pytest.mark.parametrize("modes", MODE_SETS, ids="+".join)
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("in_scale", SCALES)
@pytest.mark.parametrize("out_scale", SCALES)
def test_correct_rules_pass_at_every_scale(out_scale, in_scale, order, modes):
    p = scaled_sine(out_scale, in_scale)
    adkit.check_grads(p, point(in_scale, 3), modes=modes, order=order)
    adkit.check_grads(lambda x: np.sum(p(x) ** 2), point(in_scale, 3), modes=modes, order=order)
    adkit.check_grads(p, point(in_scale, 1), modes=modes, order=order)


def _auto_uses(mode, f, x):
    assert adkit.diff(f, mode="auto").explain(x).mode == mode  # the planted rule is the one auto runs


@pytest.mark.parametrize("in_scale", SCALES)
@pytest.mark.parametrize("out_scale", SCALES)
def test_a_50_percent_wrong_first_order_rule_fails_at_every_scale(out_scale, in_scale):
    wrong_jvp = scaled_sine(out_scale, in_scale, jvp_bug="first")
    wrong_vjp = scaled_sine(out_scale, in_scale, vjp_bug="first")
    x = point(in_scale, 3)
    for modes in [("forward",), ("forward", "reverse"), ("forward", "reverse", "auto")]:
        with pytest.raises(adkit.GradientCheckError, match=r"order 1, forward mode \(J v"):
            adkit.check_grads(wrong_jvp, x, modes=modes, order=1)
    for modes in [("reverse",), ("forward", "reverse"), ("reverse", "auto")]:
        with pytest.raises(adkit.GradientCheckError, match=r"order 1, reverse mode \(<Jᵀu, v>"):
            adkit.check_grads(wrong_vjp, x, modes=modes, order=1)
    # auto mode alone: forward for a scalar input, reverse for a scalar output of a vector
    scalar = point(in_scale, 1)
    _auto_uses("forward", wrong_jvp, scalar)
    with pytest.raises(adkit.GradientCheckError, match=r"order 1, auto mode \(J v against finite"):
        adkit.check_grads(wrong_jvp, scalar, modes=("auto",), order=1)
    total, many = lambda x: np.sum(wrong_vjp(x)), in_scale * np.linspace(-2.0, 2.0, 400)
    _auto_uses("reverse", total, many)
    with pytest.raises(adkit.GradientCheckError, match=r"order 1, auto mode \(J v against finite"):
        adkit.check_grads(total, many, modes=("auto",), order=1)


@pytest.mark.parametrize("in_scale", SCALES)
@pytest.mark.parametrize("out_scale", SCALES)
def test_a_50_percent_wrong_second_derivative_passes_order_1_and_fails_order_2(out_scale, in_scale):
    wrong_jvp = scaled_sine(out_scale, in_scale, jvp_bug="second")
    wrong_vjp = scaled_sine(out_scale, in_scale, vjp_bug="second")
    x = point(in_scale, 3)
    for modes in MODE_SETS:
        adkit.check_grads(wrong_jvp, x, modes=modes, order=1)
        adkit.check_grads(wrong_vjp, x, modes=modes, order=1)
    with pytest.raises(adkit.GradientCheckError, match=r"order 2, forward over forward mode"):
        adkit.check_grads(wrong_jvp, x, modes=("forward",), order=2)
    with pytest.raises(adkit.GradientCheckError, match=r"order 2, (forward|reverse) over reverse mode"):
        adkit.check_grads(wrong_vjp, x, modes=("reverse",), order=2)
    # the mixed nestings, each wrong alone: the outer mode differentiates the inner mode's rule
    wrong_under_reverse = scaled_sine(out_scale, in_scale, jvp_bug="second", traced_by=adkit.Var)
    adkit.check_grads(wrong_under_reverse, x, modes=("forward",), order=2)
    with pytest.raises(adkit.GradientCheckError, match=r"order 2, reverse over forward mode"):
        adkit.check_grads(wrong_under_reverse, x, modes=("forward", "reverse"), order=2)
    wrong_under_forward = scaled_sine(out_scale, in_scale, vjp_bug="second", traced_by=adkit.Dual)
    adkit.check_grads(wrong_under_forward, x, modes=("reverse",), order=2)
    with pytest.raises(adkit.GradientCheckError, match=r"order 2, forward over reverse mode"):
        adkit.check_grads(wrong_under_forward, x, modes=("forward", "reverse"), order=2)
    scalar = point(in_scale, 1)
    with pytest.raises(adkit.GradientCheckError, match=r"order 2, auto over auto mode"):
        adkit.check_grads(wrong_jvp, scalar, modes=("auto",), order=2)
    total, many = lambda x: np.sum(wrong_vjp(x)), in_scale * np.linspace(-2.0, 2.0, 400)
    _auto_uses("reverse", total, many)
    with pytest.raises(adkit.GradientCheckError, match=r"order 2, auto over auto mode"):
        adkit.check_grads(total, many, modes=("auto",), order=2)


def test_auto_mode_over_pytrees_of_several_arguments():
    rng = np.random.default_rng(0)
    params = {"W": rng.normal(size=(2, 3)), "b": rng.normal(size=2)}
    x = rng.normal(size=3)

    def layer(params, x):
        hidden = np.tanh(params["W"] @ x + params["b"])
        return hidden, np.sum(hidden**2) * x

    adkit.check_grads(layer, params, x, modes=("forward", "reverse", "auto"), order=2)


def test_the_dot_product_test_is_exact_between_the_modes():
    """Forward and reverse are both exact: they must agree far below finite differences' accuracy."""
    off = scaled_sine(1.0, 1.0, vjp_bug="first")
    f = lambda x: off(x) * 1e-9 + np.sin(x)  # the wrong VJP changes the result by about 1e-9
    x = point(1.0, 3)
    adkit.check_grads(f, x, modes=("reverse",), order=1, rtol=1e-5)  # within finite differences' rtol
    with pytest.raises(adkit.GradientCheckError, match=r"dot-product test"):
        adkit.check_grads(f, x, modes=("forward", "reverse"), order=1, rtol=1e-12)


def test_an_absolute_floor_is_the_callers_choice():
    wrong = scaled_sine(1e-7, 1.0, jvp_bug="first")
    adkit.check_grads(wrong, point(1.0, 3), modes=("forward",), order=1, atol=1e-6)  # the old default
    with pytest.raises(adkit.GradientCheckError):
        adkit.check_grads(wrong, point(1.0, 3), modes=("forward",), order=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"modes": "forward"}, TypeError, r"modes=\('forward',\)"),
        ({"modes": ("sideways",)}, ValueError, "unknown modes"),
        ({"modes": ()}, ValueError, "unknown modes"),
        ({"order": 0}, ValueError, "order must be at least 1"),
        ({"eps": 0.0}, ValueError, "eps > 0"),
        ({"rtol": -1.0}, ValueError, "rtol >= 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        adkit.check_grads(np.sin, 0.5, **kwargs)


def test_a_point_where_finite_differences_are_not_finite_says_so():
    with pytest.raises(adkit.GradientCheckError, match=r"not finite.*smaller eps"):
        adkit.check_grads(lambda x: np.log(x - 1.0), 1.0 + 1e-7, modes=("forward",), order=1, eps=1e-3)
    adkit.check_grads(lambda x: np.log(x - 1.0), 1.0 + 1e-7, modes=("forward",), order=1, eps=1e-9)
