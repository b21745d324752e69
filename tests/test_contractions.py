"""Contractions (issue 13, item 2): np.einsum in all its forms, tensordot, N-D dot, kron, cross, multi_dot.

Each program is written once as a function of an array module ``xp`` and checked four ways: its value
against NumPy's, every nesting of forward and reverse mode to second order against central
differences (``check_grads``), second derivatives with batched tangents and cotangents (chunks that do
not divide the count), and first and second derivatives against JAX in float64 where it is installed.
The helpers here are shared with ``test_order_statistics.py``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from second_order import central_second, every_nesting

import adkit
from adkit.core import Box
from adkit.numpy_bridge import UnsupportedParameterError

rng = np.random.default_rng(13)
A = rng.normal(size=(3, 4))
B = rng.normal(size=(4, 2))
C = rng.normal(size=(2, 3, 4))
D = rng.normal(size=(3, 3))
V = rng.normal(size=4)
T3 = rng.normal(size=(2, 3))

#: name -> (the program as a function of an array module, its arguments)
PROGRAMS: dict[str, tuple[Callable[[Any], Callable], tuple]] = {
    "matrix product": (lambda xp: lambda a, b: xp.einsum("ij,jk->ik", a, b), (A, B)),
    "implicit output": (lambda xp: lambda a, b: xp.einsum("ij,jk", a, b), (A, B)),
    "trace": (lambda xp: lambda d: xp.einsum("ii", d), (D,)),
    "diagonal": (lambda xp: lambda d: xp.einsum("ii->i", d) * xp.einsum("jj->j", d.T * d), (D,)),
    "diagonal and a product": (
        lambda xp: lambda d, a: xp.einsum("iij,ik->kj", d[:, :, None] * a[:, None, :2], a[:, 1:]),
        (D, A),
    ),
    "sum over one operand": (lambda xp: lambda a, b: xp.einsum("ij,kl->ik", a, b), (A, B)),
    "transpose": (lambda xp: lambda c: xp.einsum("ijk->kij", c), (C,)),
    "ellipsis": (lambda xp: lambda c, a: xp.einsum("...ij,jk->...ki", c, a.T), (C, A)),
    "ellipsis, implicit": (lambda xp: lambda c, v: xp.einsum("...j,j", c, v), (C, V)),
    "broadcast ellipsis": (lambda xp: lambda c, t: xp.einsum("i...,i...->...i", c, t[:, :, None]), (C, T3)),
    "three operands": (lambda xp: lambda a, b, d: xp.einsum("ij,jk,il->lk", a, b, d), (A, B, D)),
    "three, greedy": (
        lambda xp: lambda a, b, d: xp.einsum("ij,jk,il->lk", a, b, d, optimize=True),
        (A, B, D),
    ),
    "four, optimal": (
        lambda xp: lambda a, b, d, v: xp.einsum("ij,jk,il,j->lk", a, b, d, v, optimize="optimal"),
        (A, B, D, V),
    ),
    "outer and repeated": (lambda xp: lambda v, a: xp.einsum("i,i,ji->j", v, v, a), (V, A)),
    "scalar operand": (lambda xp: lambda a, s: xp.einsum(",ij->ji", s, a), (A, 1.7)),
    "sublists": (lambda xp: lambda a, b: xp.einsum(a, [0, 1], b, [1, 2], [2, 0]), (A, B)),
    "tensordot, int": (lambda xp: lambda c, a: xp.tensordot(c, a.T, axes=1), (C, A)),
    "tensordot, pairs": (lambda xp: lambda c, a: xp.tensordot(c, a, axes=([1, 2], [0, 1])), (C, A)),
    "tensordot, none": (lambda xp: lambda v, b: xp.tensordot(v, b, axes=0), (V, B)),
    "dot, N-D": (lambda xp: lambda c, a: xp.dot(c, xp.stack([a.T, a.T])), (C, A)),
    "dot, N-D with a vector": (lambda xp: lambda c, v: xp.dot(c, v), (C, V)),
    "kron": (lambda xp: lambda a, d: xp.kron(a, d[:2]), (A, D)),
    "kron of a vector and a matrix": (lambda xp: lambda v, d: xp.kron(v, d), (V, D)),
    "cross": (lambda xp: lambda a, d: xp.cross(a[:, :3], d), (A, D)),
    "cross, axes": (lambda xp: lambda a, d: xp.cross(a[:, :3], d, axisa=0, axisb=1, axisc=0), (A, D)),
    "multi_dot": (lambda xp: lambda a, b, d, v: xp.linalg.multi_dot([v[:3], d, a, b, b.T, v]), (A, B, D, V)),
    "multi_dot of three": (lambda xp: lambda a, b, d: xp.linalg.multi_dot([d, a, b]), (A, B, D)),
    "inner, vdot, outer": (
        lambda xp: lambda a, c: xp.inner(c, a).sum() * xp.vdot(a, a) + xp.outer(a, c[0]),
        (A, C),
    ),
    "matmul of stacks": (lambda xp: lambda c, a: xp.matmul(c[:, None], xp.stack([a.T, a.T, a.T])), (C, A)),
}


def _numpy_values(args: tuple) -> tuple:
    return tuple(np.asarray(a, dtype=float) for a in args)


def assert_value_is_numpys(program: Callable, args: tuple) -> None:
    f = program(np)
    want = f(*args)
    for box in (lambda a: adkit.Dual(a, np.zeros_like(a)), adkit.Var):
        got = f(*(box(np.asarray(a, dtype=float)) for a in args))
        np.testing.assert_allclose(adkit.primal(got), want, rtol=1e-12, atol=1e-13)
        assert np.shape(adkit.primal(got)) == np.shape(want)


def _packed(f: Callable, args: tuple) -> tuple[Callable, np.ndarray]:
    """``f`` as a function of one flat vector holding all its arguments."""
    shapes = [np.shape(a) for a in args]
    sizes = [math.prod(s) for s in shapes]

    def packed(z: Any) -> Any:
        parts, start = [], 0
        for shape, size in zip(shapes, sizes):
            parts.append(np.reshape(z[start : start + size], shape))
            start += size
        return f(*parts)

    return packed, np.concatenate([np.ravel(a) for a in args]).astype(float)


def assert_second_derivatives_batched(f: Callable, args: tuple, seed: int = 0) -> None:
    """Every nesting of two vector-mode Jacobians, a batched ``jvp`` and a batched ``vjp`` of the inner
    Jacobian, against central differences of the forward Jacobian (checked first-order elsewhere)."""
    local = np.random.default_rng(seed)
    fun, z = _packed(f, args)
    second = central_second(fun, z)
    scale = max(1.0, float(np.max(np.abs(second), initial=0.0)))
    for label, got, want in every_nesting(fun, z, second, local):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * scale, err_msg=label)


def jax_numpy() -> Any:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def assert_derivatives_are_jaxs(
    program: Callable, args: tuple, argnums: tuple[int, ...] | None = None
) -> None:
    """The Jacobian in both modes and the Hessian of the sum of squares, against JAX in float64."""
    jax = jax_numpy()
    args = _numpy_values(args)
    argnums = tuple(range(len(args))) if argnums is None else argnums
    f, g = program(np), program(jax.numpy)
    want = jax.jit(jax.jacfwd(g, argnums=argnums))(*args)
    for mode in ("forward", "reverse"):
        got = adkit.jacobian(f, mode=mode, argnums=argnums)(*args)
        for k, (x, y) in enumerate(zip(got, want)):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"{mode} mode, argument {k}")

    def squares(xp: Any, fn: Callable) -> Callable:
        return lambda *xs: xp.sum(fn(*xs) ** 2)

    k = argnums[0]
    want_h = jax.jit(jax.hessian(squares(jax.numpy, g), argnums=k))(*args)
    got_h = adkit.hessian(squares(np, f), argnums=k)(*args)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("name", PROGRAMS)
def test_value_is_numpys(name):
    assert_value_is_numpys(*PROGRAMS[name])


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_nesting_to_second_order(name):
    program, args = PROGRAMS[name]
    adkit.check_grads(program(np), *_numpy_values(args), modes=("forward", "reverse"), order=2)


@pytest.mark.parametrize("name", PROGRAMS)
def test_second_derivatives_with_batched_directions(name):
    program, args = PROGRAMS[name]
    assert_second_derivatives_batched(program(np), _numpy_values(args))


@pytest.mark.parametrize("name", PROGRAMS)
def test_derivatives_are_jaxs(name):
    assert_derivatives_are_jaxs(*PROGRAMS[name])


# -- optimize= is honoured: the contraction runs in NumPy's order, and so do its derivatives ---------------


def _einsum_steps(f: Callable, *args: Any) -> list[str]:
    tape = adkit.Tape()
    with tape:
        f(*(adkit.Var(a) for a in args))
    return [
        node.params["subscripts"]
        for node in tape.nodes
        if not node.is_input and node.primitive.name == "einsum"
    ]


def test_optimize_contracts_pairwise_in_numpys_order():
    big = [rng.normal(size=s) for s in ((8, 2), (2, 9), (9, 3), (3, 7))]
    spec = "ab,bc,cd,de->ae"
    path = np.einsum_path(spec, *big, optimize="optimal")[0]
    steps = _einsum_steps(lambda *xs: np.einsum(spec, *xs, optimize="optimal"), *big)
    assert len(steps) == len(path) - 1 == 3
    assert all(len(step.split("->")[0].split(",")) == 2 for step in steps)  # pairwise
    # the first pair contracted is the one NumPy's path names first
    first_pair = [spec.split("->")[0].split(",")[k] for k in path[1]]
    assert sorted(steps[0].split("->")[0].split(",")) == sorted(first_pair)
    # a path given explicitly is followed as given
    explicit = ["einsum_path", (2, 3), (1, 2), (0, 1)]
    steps = _einsum_steps(lambda *xs: np.einsum(spec, *xs, optimize=explicit), *big)
    assert sorted(steps[0].split("->")[0].split(",")) == ["cd", "de"]
    # without optimize (NumPy's default), one contraction of all four, as NumPy computes it
    assert _einsum_steps(lambda *xs: np.einsum(spec, *xs), *big) == ["ab,bc,cd,de->ae"]


def test_gradient_of_an_optimized_contraction():
    big = [rng.normal(size=s) for s in ((6, 5), (5, 4), (4, 3))]
    loss = lambda a, b, c: np.einsum("ij,jk,kl->", a, b, c, optimize=True)
    grads = adkit.grad(loss, argnums=(0, 1, 2))(*big)
    row = np.einsum("jk,kl->j", big[1], big[2])
    want = (
        np.broadcast_to(row, (6, 5)),
        np.einsum("ij,kl->jk", big[0], big[2]),
        np.broadcast_to(np.einsum("ij,jk->k", big[0], big[1])[:, None], (4, 3)),
    )
    for got, w in zip(grads, want):
        np.testing.assert_allclose(got, w, rtol=1e-12)


def test_einsum_rules_give_batch_axes_letters_of_their_own_and_say_when_they_run_out():
    letters = adkit.rules.EINSUM_LETTERS
    spec = f"{letters[:26]},{letters[26:51]}->{letters[:51]}"  # 51 letters, one left for a batch axis
    x, y = np.ones((2,) + (1,) * 25), np.full((1,) * 25, 2.0)

    def f(x):
        return np.einsum(spec, x, y * np.sum(x)).sum()  # both operands depend on x: second derivatives

    np.testing.assert_array_equal(adkit.jacobian(f, mode="forward")(x), np.full(x.shape, 8.0))
    with pytest.raises(ValueError, match="only 52"):
        adkit.jacobian(adkit.jacobian(f, mode="forward"), mode="forward")(x)


def test_float32_contractions_stay_float32():
    a, b = A.astype(np.float32), B.astype(np.float32)
    for f in (
        lambda a, b: np.einsum("ij,jk,kl->il", a, b, b.T, optimize=True),
        lambda a, b: np.tensordot(a, b, 1),
        lambda a, b: np.kron(a, b),
        lambda a, b: np.linalg.multi_dot([a, b, b.T]),
    ):
        jac = adkit.jacobian(f, mode="reverse")(a, b)
        assert jac.dtype == np.float32 and adkit.jacobian(f)(a, b).dtype == np.float32


# -- what NumPy refuses, adkit refuses alike; what adkit cannot do, it says ---------------------------------


def test_cross_of_2_vectors_warns_as_numpy_does():
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        want = np.cross(A[:, :2], D[:, :2])
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        jac = adkit.jacobian(lambda a: np.cross(a, D[:, :2]))(A[:, :2])
    np.testing.assert_allclose(jac[0, 0], [D[0, 1], -D[0, 0]])  # d(a0 b1 - a1 b0) / da
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.testing.assert_allclose(adkit.primal(np.cross(adkit.Var(A[:, :2]), D[:, :2])), want)
        for f in (lambda a: np.cross(a, D), lambda a: np.cross(D, a), lambda a: np.cross(a, a[::-1])):
            adkit.check_grads(f, A[:, :2], order=2)


def test_einsum_refuses_out_and_names_unknown_keywords():
    x = adkit.Var(A)
    with pytest.raises(UnsupportedParameterError, match="out="):
        np.einsum("ij->j", x, out=np.empty(4))
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        np.einsum("ij->j", x, bogus=1)
    with pytest.raises(TypeError, match="subscripts, a string"):
        adkit.einsum(x, "ij")


def test_einsum_primitive_takes_its_normal_form_only():
    with pytest.raises(ValueError, match="twice in one operand"):
        adkit.rules.einsum_p(D, subscripts="ii->i", optimize=False)
    with pytest.raises(ValueError, match="in one operand only"):
        adkit.rules.einsum_p(A, B, subscripts="ij,kl->ik", optimize=False)


def test_a_traced_einsum_result_is_traced():
    assert isinstance(np.einsum("ij,jk", adkit.Var(A), B), Box)
