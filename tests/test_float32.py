"""float32 stays float32 through both engines, as in JAX: values, tangents, cotangents and Jacobians.

Every primitive of the rule table, over its cases, with float32 operands:
the value, a forward Jacobian (vector mode), a reverse Jacobian (a
vectorized sweep), and a jvp / vjp with one direction must all come back as
float32, and agree with the float64 derivatives to float32's precision.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_rules import CASES, differentiable, operands_for

import adkit


def _as32(x):
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype.kind == "f" else x


def _dtypes(tree):
    leaves, _ = adkit.pytree.flatten(tree)
    return {np.asarray(x).dtype for x in leaves}


@pytest.mark.parametrize(
    ("prim", "shapes", "params", "make"), [c for c in CASES if c.values[0].name != "astype"]
)  # (astype changes the type)
def test_float32_in_float32_out(prim, shapes, params, make):
    rng = np.random.default_rng(1)
    operands64 = [
        np.asarray(x) if np.asarray(x).dtype.kind != "f" else np.asarray(x, dtype=float)
        for x in operands_for(prim, shapes, make, rng)
    ]
    operands = [_as32(x) for x in operands64]
    argnums = differentiable(operands)

    def fun(*xs):
        return prim(*xs, **params)

    out = fun(*operands)
    assert np.asarray(out).dtype == np.float32, f"value: {np.asarray(out).dtype}"
    want = adkit.jacobian(fun, mode="forward", argnums=argnums)(*operands64)
    for mode in ("forward", "reverse"):
        jac = adkit.jacobian(fun, mode=mode, argnums=argnums)(*operands)
        assert _dtypes(jac) <= {np.dtype(np.float32)}, f"{mode} Jacobian: {_dtypes(jac)}"
        for got, w in zip(jac, want):
            np.testing.assert_allclose(got, w, rtol=2e-3, atol=2e-3)
    traced = [operands[i] for i in argnums]

    def on_traced(*xs):
        args = list(operands)
        for i, x in zip(argnums, xs):
            args[i] = x
        return fun(*args)

    _, t_out = adkit.jvp(on_traced, tuple(traced), tuple(np.ones_like(x) for x in traced))
    assert _dtypes(t_out) <= {np.dtype(np.float32)}, f"jvp: {_dtypes(t_out)}"
    _, pullback = adkit.vjp(on_traced, *traced)
    cts = pullback(np.ones(np.shape(out), np.float32))
    assert _dtypes(cts) <= {np.dtype(np.float32)}, f"vjp: {_dtypes(cts)}"


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_astype_casts_the_value_and_the_derivative(mode):
    x = np.array([0.1, 1.0 / 3.0, 2.0])
    f = lambda x: x.astype(np.float32) * 3.0
    jac = adkit.jacobian(f, mode=mode)(x)
    # as JAX: forward mode carries tangents in the output's type, reverse mode cotangents in the input's
    assert jac.dtype == (np.float32 if mode == "forward" else np.float64)
    np.testing.assert_array_equal(jac, 3.0 * np.eye(3))
    out, tangent = adkit.jvp(f, (x,), (np.ones(3),))
    assert out.dtype == tangent.dtype == np.float32
    g = adkit.grad(lambda x: np.sum(x.astype(np.float32) ** 2))(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2.0 * x.astype(np.float32), rtol=1e-7)


def test_astype_to_integers_is_a_constant_and_other_types_are_refused():
    x = np.array([0.5, 1.5, 2.5])
    np.testing.assert_array_equal(adkit.grad(lambda x: np.sum(x.astype(int) * x))(x), [0.0, 1.0, 2.0])
    with pytest.raises(TypeError, match="dtype"):
        adkit.grad(lambda x: np.sum(x.astype(complex)).real)(x)
    with pytest.raises(TypeError, match="Cannot cast"):
        adkit.grad(lambda x: np.sum(x.astype(np.float32, casting="safe")))(x)


def test_float32_gradient_of_a_small_network():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    loss = lambda w: np.mean(np.tanh(x @ w) ** 2)
    g = adkit.grad(loss)(w)
    assert g.dtype == np.float32
    g64 = adkit.grad(loss)(w.astype(np.float64))
    np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-6)
    v = adkit.Var(w)
    loss(v).backward()
    assert v.grad.dtype == np.float32


def test_float32_tangents_of_joined_arrays_with_constant_parts():
    for join in (np.concatenate, np.stack):
        _, tangent = adkit.jvp(
            lambda x, join=join: join([x, np.zeros(2, np.float32)]),
            (np.ones(2, np.float32),),
            (np.ones(2, np.float32),),
        )
        assert tangent.dtype == np.float32, join.__name__


LOSSES = {
    "np.sum": lambda x: np.sum(np.sin(x)),
    "x.sum()": lambda x: np.sin(x).sum(),
    "x @ x": lambda x: x @ x,
    "np.max": lambda x: np.max(x * x),
    "indexing": lambda x: np.tanh(x)[1],
}


@pytest.mark.parametrize("name", LOSSES)
def test_the_seed_of_a_scalar_output_keeps_its_precision(name):
    """A float32 loss ending in a sum, a product or an index (whose rules broadcast the seed) gives a
    float32 gradient through grad, value_and_grad, hessian, hvp and Var.backward, as JAX does."""
    loss = LOSSES[name]
    x = np.array([0.5, -1.0, 2.0], np.float32)
    value, g = adkit.value_and_grad(loss)(x)
    assert (np.asarray(value).dtype, g.dtype) == (np.float32, np.float32)
    assert adkit.grad(loss)(x).dtype == np.float32
    assert adkit.hessian(loss)(x).dtype == np.float32
    assert adkit.hvp(loss)(x, np.ones(3, np.float32)).dtype == np.float32
    np.testing.assert_allclose(g, adkit.grad(loss)(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    v = adkit.Var(x)
    loss(v).backward()
    assert v.grad.dtype == np.float32
