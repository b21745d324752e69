"""A user primitive's rules are checked where they are called: shape and dtype, per argument, batched too.

A rule of the wrong shape must never become a derivative: a (7,) cotangent
for a (3,) argument, or a (1,) that NumPy would broadcast to (3,). The error
names the primitive, the rule (JVP or VJP), the argument, what was returned
and what was expected.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import adkit

X = np.array([0.3, -1.2, 0.8])


def sine(jvp=None, vjp=None):
    """``np.sin`` as a user primitive with the given rules (the correct ones by default)."""

    def user_sine(x):
        return np.sin(x)

    p = adkit.primitive(user_sine)
    p.defjvp(jvp or (lambda t, out, x: t * np.cos(x)))
    p.defvjp(vjp or (lambda ct, out, x: ct * np.cos(x)))
    return p


def scale_by(jvps, vjps):
    """``x * y`` (x of shape (3,), y a scalar) as a user primitive with the given rules."""

    def user_scale(x, y):
        return x * y

    p = adkit.primitive(user_scale)
    p.defjvp(*jvps)
    p.defvjp(*vjps)
    return p


RIGHT_SCALE_JVPS = (lambda t, out, x, y: t * y, lambda t, out, x, y: t * x)
RIGHT_SCALE_VJPS = (lambda ct, out, x, y: ct * y, lambda ct, out, x, y: np.sum(ct * x))


def test_correct_rules_pass_in_every_mode_batched_and_nested():
    p = sine()
    jac = np.diag(np.cos(X))
    for mode in ("forward", "reverse", "auto"):
        np.testing.assert_allclose(adkit.jacobian(p, mode=mode)(X), jac, rtol=1e-15)
    np.testing.assert_allclose(adkit.hessian(lambda x: np.sum(p(x)))(X), np.diag(-np.sin(X)), rtol=1e-15)
    q = scale_by(RIGHT_SCALE_JVPS, RIGHT_SCALE_VJPS)
    for mode in ("forward", "reverse"):
        jx, jy = adkit.jacobian(q, mode=mode, argnums=(0, 1))(X, 2.0)
        np.testing.assert_allclose(jx, 2.0 * np.eye(3))
        np.testing.assert_allclose(jy, X)
    adkit.check_grads(q, X, 2.0, modes=("forward", "reverse", "auto"), order=2)


def test_a_rule_may_return_none_for_no_contribution():
    no_term = lambda *_: None
    q = scale_by((RIGHT_SCALE_JVPS[0], no_term), (RIGHT_SCALE_VJPS[0], no_term))
    assert adkit.grad(lambda y: np.sum(q(X, y)))(2.0) == 0.0
    assert adkit.diff(lambda y: np.sum(q(X, y)), mode="forward")(2.0) == 0.0


WRONG_VJP = lambda ct, out, x: np.ones(7)
BROADCASTABLE_VJP = lambda ct, out, x: np.sum(ct * np.cos(x), keepdims=True)  # (1,): would broadcast to (3,)


@pytest.mark.parametrize(
    "derivative",
    [
        lambda p: adkit.grad(lambda x: np.sum(p(x)))(X),  # one cotangent
        lambda p: adkit.vjp(p, X)[1](np.ones(3)),
        lambda p: adkit.jacobian(p, mode="reverse")(X),  # three cotangents at once: called per row
        lambda p: adkit.hessian(lambda x: np.sum(p(x)))(X),  # the VJP rule under forward mode
    ],
    ids=["grad", "vjp", "reverse-jacobian", "hessian"],
)
@pytest.mark.parametrize("rule", [WRONG_VJP, BROADCASTABLE_VJP], ids=["(7,)", "(1,)"])
def test_a_vjp_of_the_wrong_shape_is_refused(derivative, rule):
    p = sine(vjp=rule)
    got = re.escape("(7,)" if rule is WRONG_VJP else "(1,)")
    pattern = rf"VJP rule of the primitive 'user_sine' for argument 0 returned shape {got}, expected \(3,\)"
    with pytest.raises(ValueError, match=pattern):
        derivative(p)


def test_a_batched_call_says_that_the_rule_gets_one_direction_at_a_time():
    p = sine(vjp=WRONG_VJP, jvp=lambda t, out, x: np.ones(1))
    with pytest.raises(ValueError, match=r"expected \(3,\) \(adkit carries 3 directions at once, of shape"):
        adkit.jacobian(p, mode="reverse")(X)
    with pytest.raises(ValueError, match=r"expected \(2, 3\) \(adkit carries 6 directions at once"):
        adkit.jacobian(p, mode="forward")(np.ones((2, 3)))


def test_a_vjp_not_summed_over_broadcasting_names_its_argument_and_says_what_to_do():
    q = scale_by(RIGHT_SCALE_JVPS, (RIGHT_SCALE_VJPS[0], lambda ct, out, x, y: ct * x))  # should sum
    pattern = r"'user_scale' for argument 1 returned shape \(3,\), expected \(\).*sum the cotangent"
    with pytest.raises(ValueError, match=pattern):
        adkit.grad(lambda y: np.sum(q(X, y)))(2.0)


@pytest.mark.parametrize(
    ("rule", "got"),
    [
        (lambda t, out, x: np.ones(7), r"\(7,\)"),
        (lambda t, out, x: np.sum(t * np.cos(x), keepdims=True), r"\(1,\)"),  # broadcastable
        (lambda t, out, x: np.sum(t * np.cos(x)), r"\(\)"),  # a scalar for a (3,) output
    ],
)
@pytest.mark.parametrize(
    "derivative",
    [
        lambda p: adkit.jvp(p, (X,), (np.ones(3),)),  # one tangent
        lambda p: adkit.jacobian(p, mode="forward")(X),  # three tangents at once: called per direction
        lambda p: adkit.jacobian(adkit.jacobian(p, mode="forward"), mode="reverse")(X),  # under reverse mode
    ],
    ids=["jvp", "forward-jacobian", "reverse-over-forward"],
)
def test_a_jvp_of_the_wrong_shape_is_refused(derivative, rule, got):
    p = sine(jvp=rule)
    pattern = rf"JVP rule of the primitive 'user_sine' for argument 0 returned shape {got}, expected \(3,\)"
    with pytest.raises(ValueError, match=pattern):
        derivative(p)


def test_a_jvp_for_a_scalar_argument_must_still_have_the_outputs_shape():
    q = scale_by((RIGHT_SCALE_JVPS[0], lambda t, out, x, y: t), RIGHT_SCALE_VJPS)  # should be t * x
    with pytest.raises(
        ValueError,
        match=r"JVP rule .*'user_scale' for argument 1 returned shape \(\), "
        r"expected \(3,\).*np\.broadcast_to",
    ):
        adkit.diff(lambda y: q(X, y), mode="forward")(2.0)


@pytest.mark.parametrize(
    ("make", "dtype"),
    [
        (lambda ct, x: np.cos(x) > 0, "bool"),  # forgot to multiply by the cotangent
        (lambda ct, x: ct * np.cos(x) + 0j, "complex128"),
        (lambda ct, x: (ct * np.cos(x)).astype(np.float32), "float32"),  # loses precision
        (lambda ct, x: [1.0, 2.0, 3.0], "list"),
    ],
    ids=["bool", "complex", "float32", "list"],
)
def test_a_vjp_of_the_wrong_dtype_is_refused(make, dtype):
    p = sine(vjp=lambda ct, out, x: make(ct, x))
    with pytest.raises(
        TypeError,
        match=rf"VJP rule .*'user_sine' for argument 0 returned a value of dtype "
        rf"{dtype}, expected float64",
    ):
        adkit.grad(lambda x: np.sum(p(x)))(X)


def test_a_jvp_of_the_wrong_dtype_is_refused():
    p = sine(jvp=lambda t, out, x: (t * np.cos(x)).astype(np.float32))
    with pytest.raises(TypeError, match=r"JVP rule .*'user_sine' .* returned a value of dtype float32"):
        adkit.jacobian(p, mode="forward")(X)


def test_integer_values_of_the_right_shape_are_accepted():
    p = sine(vjp=lambda ct, out, x: np.zeros(3, dtype=int))  # an exact zero is a fine cotangent
    np.testing.assert_array_equal(adkit.grad(lambda x: np.sum(p(x)))(X), np.zeros(3))
