"""Arrays from traced values, shape and structure, and the new elementwise functions (issue 13), table-driven.

Each case is written once as a function of the array module ``xp`` and its
operands. adkit runs it on NumPy (``np.pad``, ``np.take`` ... reach it through
NumPy's protocols; ``xp.array`` is ``adkit.array``, since plain ``np.array``
cannot build an array from traced values); JAX in float64 runs the same
function on ``jax.numpy`` and is the oracle (central differences where JAX is
not installed, or does not implement the case: ``jnp.gradient`` has no
``edge_order``). Every case is made nonlinear (its operands go through
``sin``, its result is squared), so that its second derivatives exercise the
rules on batched tangents and cotangents.

For each case: the value is NumPy's; the forward and reverse Jacobians are the
oracle's; every nesting of two Jacobians (forward and reverse, in chunks that
do not divide the count, so batches of different sizes meet) and a batched
``jvp`` and ``vjp`` over the inner Jacobian give the oracle's second
derivatives. JAX's answers are kept in pytest's cache, keyed by the case's code.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from second_order import chunk, every_nesting

import adkit

if "jax" not in sys.modules:  # compile the oracle's small programs quickly: it runs each once
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    )
try:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - exercised where JAX is missing
    jax = jnp = None


class _NumPy:
    """NumPy as adkit users write it, with ``adkit.array`` for ``np.array`` (see adkit.array's docstring)."""

    array = staticmethod(adkit.array)

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


NP = _NumPy()

rng = np.random.default_rng(1313)
A = rng.normal(size=(3, 4))
B = rng.normal(size=(3, 4))
C3 = rng.normal(size=(2, 3, 4))
V = rng.normal(size=4)
W = rng.normal(size=3)
WITH_ZEROS = np.array([[0.0, 0.8, -1.1], [0.4, 0.0, 2.0]])  # sin(0) = 0 exactly: sinc and heaviside at 0
MASK = A > 0
COORDINATES = np.array([0.0, 0.4, 1.1, 1.3])  # sin keeps them increasing
INFS = np.array([[0.0, np.nan, np.inf], [-np.inf, 0.0, 0.0]])


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[..., Any]  # fn(xp, *operands) -> one array
    operands: tuple[Any, ...]
    jax: bool = True  # JAX implements it the same way

    def __repr__(self) -> str:
        return self.name


def case(name: str, fn: Callable[..., Any], *operands: Any, jax: bool = True) -> Case:
    return Case(name, fn, operands, jax)


CASES = [
    # arrays from traced values
    case("array", lambda xp, a, b: xp.array([[a[0] * b[1], 2.0], [xp.cos(a[2]), b[0]]]), V, V),
    case("array-of-tuples", lambda xp, a: xp.array(([a[0], a[1] * 2, 1.0], (a[2], 0.5, a[3]))), V),
    case("array-of-rows", lambda xp, a, b: xp.array([a, b, a * b]), V, V[::-1]),
    case("array-of-numbers", lambda xp, s, t: xp.array([s, t, s * t, 1.0]), 0.7, -0.4),
    case("array-ndmin", lambda xp, a: xp.array([a[0], a[1]], ndmin=3), V),
    case("stack-mixed", lambda xp, a: xp.stack([a[0] * a[1], 2.0, a[2]]), V),
    case("hstack-mixed", lambda xp, a: xp.hstack([a, 1.0, a[0]]), V),
    # shape and structure
    case("diag", lambda xp, a: xp.diag(a, 1), V),
    case("diag-of-matrix", lambda xp, a: xp.diag(a, -1), A),
    case("diagflat", lambda xp, a: xp.diagflat(a[:2, :2], -1), A),
    case("tril", lambda xp, a: xp.tril(a, 1), C3),
    case("triu", lambda xp, a: xp.triu(a, -1), A),
    case("tile", lambda xp, a: xp.tile(a, (2, 1, 2)), A),
    case("roll", lambda xp, a: xp.roll(a, (1, -2), axis=(0, 1)), A),
    case("roll-flat", lambda xp, a: xp.roll(a, 5), A),
    case("rot90", lambda xp, a: xp.rot90(a, 3, axes=(2, 0)), C3),
    case("flip", lambda xp, a: xp.flip(a, (0, 2)), C3),
    case("fliplr-flipud", lambda xp, a: xp.fliplr(a) * xp.flipud(a), A),
    case("rollaxis", lambda xp, a: xp.rollaxis(a, 2, 1), C3),
    case("split", lambda xp, a: xp.stack(xp.split(a, 2, axis=1)), A),
    case(
        "array_split",
        lambda xp, a: xp.concatenate(
            [p.sum(axis=1) * (k + 1) for k, p in enumerate(xp.array_split(a, 3, axis=1))]
        ),
        A,
    ),
    case(
        "hsplit-vsplit-dsplit",
        lambda xp, a: (
            xp.hsplit(a[0], 2)[1] * xp.vsplit(a, np.array([1]))[1][0, :, :2]
            + xp.dsplit(a, np.array([1, 3]))[1][0]
        ),
        C3,
    ),
    case("unstack", lambda xp, a: xp.unstack(a, axis=1)[2] * xp.unstack(a)[1][0], C3),
    case("insert", lambda xp, a, b: xp.insert(a, np.array([1, 3]), b[:, :2], axis=1), A, B),
    case("insert-flat", lambda xp, a, w: xp.insert(a, 2, w), A, W),
    case("delete", lambda xp, a: xp.delete(a, np.array([0, 2]), axis=1), A),
    case("append", lambda xp, a, b: xp.append(a, b[:1], axis=0) * xp.append(a, b[:1]).sum(), A, B),
    case("take", lambda xp, a: xp.take(a, np.array([[0, 5], [-1, 2]]), axis=1, mode="wrap"), A),
    case("take-repeated", lambda xp, a: xp.take(a, np.array([0, 15, 3, 3]), mode="clip"), A),
    case("take-method", lambda xp, a: a.take(np.array([3, 0, 3]), axis=0, mode="clip"), A),
    case(
        "take_along_axis",
        lambda xp, a: xp.take_along_axis(a, np.array([[2, 0, 1, 1], [0, 0, 2, 1]]), axis=0),
        A,
    ),
    case("block", lambda xp, a, b: xp.block([[a, b[:, :1]], [b[:1], 2.0]]), A, B),
    case(
        "pad-constant",
        lambda xp, a, c: xp.pad(a, ((1, 2), (0, 1)), constant_values=((c, 2.0), (-1.0, c * 3))),
        A,
        0.5,
    ),
    case("pad-zeros", lambda xp, a: xp.pad(a, 1), A),
    *[
        case(f"pad-{m}", lambda xp, a, m=m: xp.pad(a, ((2, 0), (5, 6)), mode=m), A)
        for m in ("edge", "reflect", "symmetric", "wrap")
    ],
    case("column_stack", lambda xp, a, v: xp.column_stack((v, a.T)), A, V),
    case("dstack", lambda xp, a, b: xp.dstack([a, b]), A, B),
    case("atleast", lambda xp, a, s: xp.atleast_2d(a)[0] * xp.atleast_3d(s)[0, 0], V, 0.3),
    case("broadcast_arrays", lambda xp, a, v: xp.broadcast_arrays(a, v)[1] * a, A, V),
    case("select", lambda xp, a, b: xp.select([MASK, a > 0.5], [a, b**2], default=b[0]), A, B),
    case("diff", lambda xp, a, b: xp.diff(a, n=2, axis=0, prepend=b[0, 0], append=b[:1]), A, B),
    case("gradient", lambda xp, a: xp.stack(xp.gradient(a, 0.5, 2.0)), A),
    case("gradient-coordinates", lambda xp, a, c: xp.gradient(a, c, axis=1), A, COORDINATES),
    case(
        "gradient-edge-order-2", lambda xp, a, c: xp.gradient(a, c, 0.3, edge_order=2)[0], C3[0], W, jax=False
    ),
    case("gradient-uniform-edge-order-2", lambda xp, a: xp.gradient(a, 0.25, edge_order=2), V, jax=False),
    case("linspace", lambda xp, a, b: xp.linspace(a, b, 5), V, V[::-1]),
    case("linspace-numbers", lambda xp, s, t: xp.linspace(s, t, 7, endpoint=False), 0.3, 1.9),
    case(
        "linspace-retstep",
        lambda xp, a, b: (lambda r: r[0] * r[1][:, None])(xp.linspace(a, b, 4, retstep=True, axis=-1)),
        V,
        V + 1.0,
    ),
    # elementwise
    case("sinc", lambda xp, a: xp.sinc(a), WITH_ZEROS),
    case("exp2", lambda xp, a: xp.exp2(a), A),
    case("logaddexp2", lambda xp, a, b: xp.logaddexp2(a, b), A, V),
    case("deg2rad-radians", lambda xp, a: xp.deg2rad(a) * xp.radians(a), A),
    case("rad2deg-degrees", lambda xp, a: xp.rad2deg(a) + xp.degrees(a) ** 2, A),
    case("heaviside", lambda xp, a, h: xp.heaviside(a, h) * a, WITH_ZEROS, W),
    case(
        "nan_to_num",
        lambda xp, a, r: xp.nan_to_num(a[:2, :3] + INFS, nan=r, posinf=2.0, neginf=-r * 3),
        A,
        0.25,
    ),
    case("real-imag-conj", lambda xp, a: xp.real(a) * 2 + xp.imag(a) + xp.conj(a) * xp.conjugate(a), A),
    case("fmod-copysign", lambda xp, a, b: xp.fmod(a * 3, b + 2.5) + xp.copysign(a, b), A, B),
]


def nonlinear(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its operands through ``sin`` and its result squared: second derivatives that test rules."""

    def wrapped(xp: Any, *operands: Any) -> Any:
        y = fn(xp, *(xp.sin(x) for x in operands))
        return y * y

    return wrapped


def flat_function(c: Case, xp: Any) -> tuple[Callable[[Any], Any], np.ndarray]:
    """The case as a function of one vector holding all its operands, returning a flat vector."""
    shapes = [np.shape(x) for x in c.operands]
    sizes = [math.prod(s) for s in shapes]
    g = nonlinear(c.fn)

    def f(z: Any) -> Any:
        operands, start = [], 0
        for shape, size in zip(shapes, sizes):
            operands.append(z[start] if shape == () else xp.reshape(z[start : start + size], shape))
            start += size
        return xp.reshape(g(xp, *operands), (-1,))

    return f, np.concatenate([np.ravel(x) for x in c.operands]).astype(float)


@dataclass
class Expected:
    value: np.ndarray
    jacobian: np.ndarray  # m x n
    second: np.ndarray  # m x n x n
    rtol: float
    atol: float  # relative to the largest entry compared (at least 1)


def oracle(c: Case, cache: Path | None) -> Expected:
    """JAX's value, Jacobian and second derivatives (cached), or central differences."""
    if jax is not None and c.jax:
        path = None
        if cache is not None:
            what = (
                c.name,
                inspect.getsource(c.fn),
                [np.asarray(x).tobytes() for x in c.operands],
                inspect.getsource(nonlinear),
                inspect.getsource(flat_function),
                jax.__version__,
            )
            path = cache / f"{c.name}-{hashlib.sha256(pickle.dumps(what)).hexdigest()[:16]}.npz"
            if path.exists():
                with np.load(path) as stored:
                    return Expected(stored["value"], stored["jacobian"], stored["second"], 1e-9, 1e-10)
        f, z = flat_function(c, jnp)
        value, jac, second = (
            np.asarray(r)
            for r in jax.jit(lambda z: (f(z), jax.jacfwd(f)(z), jax.jacfwd(jax.jacfwd(f))(z)))(z)
        )
        if path is not None:
            np.savez(path, value=value, jacobian=jac, second=second)
        return Expected(value, jac, second, 1e-9, 1e-10)
    f, z = flat_function(c, np)
    with np.errstate(invalid="ignore"):
        value = f(z)
        n = z.size
        eye = np.eye(n)
        h1, h2 = 1e-6, 1e-4
        jac = np.stack([(f(z + h1 * eye[a]) - f(z - h1 * eye[a])) / (2 * h1) for a in range(n)], axis=-1)
        second = np.empty(value.shape + (n, n))
        for a in range(n):
            for b in range(a, n):
                da, db = h2 * eye[a], h2 * eye[b]
                second[:, a, b] = second[:, b, a] = (
                    f(z + da + db) - f(z + da - db) - f(z - da + db) + f(z - da - db)
                ) / (4 * h2 * h2)
    return Expected(value, jac, second, 1e-5, 1e-6)


@pytest.fixture(scope="module")
def oracle_cache(request) -> Path | None:
    cache = getattr(request.config, "cache", None)
    return None if cache is None or jax is None else cache.mkdir("adkit-structure-oracle")


def _close(got: Any, want: np.ndarray, expected: Expected, what: str) -> None:
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=expected.rtol, atol=expected.atol * scale, err_msg=what)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_value_and_first_derivatives(c, oracle_cache):
    expected = oracle(c, oracle_cache)
    f, z = flat_function(c, NP)
    with np.errstate(invalid="ignore"):
        numpy_value = flat_function(c, np)[0](z)
        _close(numpy_value, expected.value, expected, "NumPy's value")
        traced = adkit.jvp(f, (z,), (np.zeros_like(z),))[0]
        np.testing.assert_allclose(traced, numpy_value, rtol=1e-14, atol=1e-14, err_msg="traced value")
        n, m = z.size, expected.value.size
        for mode, size in (("forward", chunk(n)), ("reverse", chunk(m))):
            jacobian = adkit.jacobian(f, mode=mode, chunk=size)(z)
            _close(jacobian, expected.jacobian, expected, f"{mode} Jacobian")


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_second_derivatives_in_every_nesting_with_batched_directions(c, oracle_cache):
    expected = oracle(c, oracle_cache)
    f, z = flat_function(c, NP)
    with np.errstate(invalid="ignore"):
        for label, got, want in every_nesting(f, z, expected.second, np.random.default_rng(7)):
            _close(got, want, expected, label)


@pytest.mark.parametrize("c", CASES, ids=repr)
def test_float32_stays_as_numpy_keeps_it(c):
    """On float32 operands the traced value has NumPy's type, and so do its Jacobians (float32 stays)."""
    f, z = flat_function(c, NP)
    z = z.astype(np.float32)
    with np.errstate(invalid="ignore"):
        want = flat_function(c, np)[0](z)
        value = adkit.jvp(f, (z,), (np.zeros_like(z),))[0]
        assert value.dtype == want.dtype
        np.testing.assert_allclose(value, want, rtol=1e-6, atol=1e-6)
        for mode in ("forward", "reverse"):
            jacobian = adkit.jacobian(f, mode=mode)(z)
            assert jacobian.dtype == (np.float32 if want.dtype == np.float32 else np.float64), mode


# -- np.array of traced values: what works, and what says what to do ------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda x: np.array([x[0] * x[1], np.sin(x[1])]),
        lambda x: np.asarray(x),
        lambda x: np.array([[x[0], 1.0], [2.0, x[1]]], dtype=float),
    ],
)
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_plain_np_array_of_traced_values_says_to_write_adkit_array(build, mode):
    """NumPy builds a plain array from the elements without asking adkit: the error names what works."""
    ways = r"np\.array\(\[x, y\]\).*adkit\.array\(\[x, y\]\).*np\.stack.*like=x"
    with pytest.raises(TypeError, match=ways):
        adkit.jacobian(build, mode=mode)(np.array([1.0, 2.0]))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_writing_a_traced_value_into_a_plain_array_stays_refused(mode):
    def f(x):
        a = np.zeros(2)
        a[0] = x[0]
        return a

    with pytest.raises(TypeError, match=r"a = np\.zeros\(3\); a\[0\] = x"):
        adkit.jacobian(f, mode=mode)(np.array([1.0, 2.0]))


def test_the_ways_that_work_agree():
    """adkit.array, np.array(..., like=x), np.stack and np.concatenate of lists holding traced values give
    the same values and derivatives; so does a Var."""
    x = np.array([0.3, -1.2])
    ways = [
        lambda x: adkit.array([x[0] * x[1], np.sin(x[1]), 2.0]),
        lambda x: np.array([x[0] * x[1], np.sin(x[1]), 2.0], like=x),
        lambda x: np.stack([x[0] * x[1], np.sin(x[1]), 2.0]),
        lambda x: np.concatenate([x[:1] * x[1], [np.sin(x[1]), 2.0]]),
        lambda x: np.hstack([x[0] * x[1], [np.sin(x[1]), 2.0]]),
    ]
    want = np.array([[x[1], x[0]], [0.0, np.cos(x[1])], [0.0, 0.0]])
    for way in ways:
        for mode in ("forward", "reverse"):
            np.testing.assert_allclose(adkit.jacobian(way, mode=mode)(x), want, rtol=1e-15)
    v = adkit.Var(x)
    adkit.array([[v[0] * 2.0, 1.0], [v[1], v[0]]]).sum().backward()
    np.testing.assert_array_equal(v.grad, [3.0, 1.0])


def _object_array(x):
    a = np.empty(2, dtype=object)
    a[0], a[1] = x[0] * 2.0, 1.0
    return a


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_an_object_array_of_traced_values_is_refused_as_a_result_and_taken_by_adkit_array(mode):
    """Read as a constant, an object array's traced elements would get derivative 0: refused, with the fix."""
    with pytest.raises(TypeError, match=r"returned an object array.*adkit\.array\(a\)"):
        adkit.jacobian(_object_array, mode=mode)(np.array([1.0, 2.0]))
    jacobian = adkit.jacobian(lambda x: adkit.array(_object_array(x)), mode=mode)(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(jacobian, [[2.0, 0.0], [0.0, 0.0]])
