"""One table-driven property test over every primitive of the rule table.

Each primitive is sampled at random points of its declared domain (scalars
and arrays, with broadcasting) and checked three ways: the forward Jacobian
(vector mode) against central differences, the reverse Jacobian (a
vectorized sweep) against the forward one, and single-direction JVP/VJP
against each other (the dot-product test). Adding a primitive to
``adkit.rules.PRIMITIVES`` adds it here.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from second_order import central_differences, central_second, chunk, every_nesting

import adkit
from adkit.rules import PRIMITIVES, apply_vjp

ELEMENTWISE_SHAPES = {
    1: [((),), ((3,),), ((2, 3),)],
    2: [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((), (2, 2))],
    3: [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (), (3,))],
}

# Ufuncs analytic on the real line, where the complex step gives derivatives to
# machine precision: Im f(x + ih) / h.
COMPLEX_STEP = {
    "add",
    "subtract",
    "multiply",
    "divide",
    "negative",
    "square",
    "reciprocal",
    "exp",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "power",
}


def _cases():
    for name, prim in PRIMITIVES.items():
        if prim.cases:
            for k, case in enumerate(prim.cases):
                yield pytest.param(prim, case.shapes, case.params, case.make, id=f"{name}-{k}")
        else:
            for k, shapes in enumerate(ELEMENTWISE_SHAPES[len(prim.domain)]):
                yield pytest.param(prim, shapes, {}, None, id=f"{name}-{k}")


CASES = list(_cases())


def sample(rng: np.random.Generator, intervals, shape):
    """Uniform samples from a union of intervals."""
    pick = rng.integers(len(intervals), size=shape)
    lows = np.array([lo for lo, _ in intervals])[pick]
    highs = np.array([hi for _, hi in intervals])[pick]
    x = lows + (highs - lows) * rng.random(shape)
    return float(x) if shape == () else x


#: sampled float operands keep their values this far apart (and from 0), so that finite
#: differences never straddle a kink: a tie of max/maximum, clip's bounds, abs at 0
SEPARATION = 1e-3


def operands_for(prim, shapes, make, rng):
    if make is not None:
        return list(make(rng))
    while True:
        if prim.domain is not None and len(prim.domain) == len(shapes):
            operands = [sample(rng, d, s) for d, s in zip(prim.domain, shapes)]
        else:
            domain = prim.domain[0] if prim.domain else ((-2.0, 2.0),)
            operands = [sample(rng, domain, s) for s in shapes]
        values = np.sort(np.concatenate([np.ravel(x) for x in operands] + [[0.0]]))
        if np.all(np.diff(values) > SEPARATION):
            return operands


def differentiable(operands):
    return tuple(i for i, x in enumerate(operands) if np.asarray(x).dtype.kind == "f")


def central_jacobian(fun, operands, argnum, h=1e-6):
    x = np.asarray(operands[argnum], dtype=float)
    out = np.asarray(fun(*operands))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape or (1,)):
        idx = idx if x.shape else ()
        step = h * max(1.0, abs(float(x[idx])))
        plus, minus = x.copy(), x.copy()
        plus[idx] += step
        minus[idx] -= step
        args_p = list(operands)
        args_m = list(operands)
        args_p[argnum] = plus if x.shape else float(plus)
        args_m[argnum] = minus if x.shape else float(minus)
        diff = (np.asarray(fun(*args_p)) - np.asarray(fun(*args_m))) / (2 * step)
        jac[(...,) + idx] = diff
    return jac


def complex_step_jacobian(prim, operands, argnum, h=1e-30):
    x = np.asarray(operands[argnum], dtype=complex)
    out = np.asarray(prim.impl(*operands))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape or (1,)):
        idx = idx if x.shape else ()
        z = x.copy()
        z[idx] += 1j * h
        args = [np.asarray(a, dtype=complex) for a in operands]
        args[argnum] = z
        jac[(...,) + idx] = np.imag(prim.impl(*args)) / h
    return jac


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), CASES)
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rule_reads_only_its_declared_residuals(prim, shapes, params, make, seed):
    """A lean tape keeps only what a rule declares it reads; a wrong declaration changes the result."""
    rng = np.random.default_rng(seed)
    operands = [
        np.asarray(x, dtype=float) if np.asarray(x).dtype.kind == "f" else x
        for x in operands_for(prim, shapes, make, rng)
    ]
    argnums = differentiable(operands)

    def fun(*xs):
        return prim(*xs, **params)

    fwd = adkit.jacobian(fun, mode="forward", argnums=argnums)(*operands)
    out = prim.impl(*operands, **params)
    u = rng.standard_normal(np.shape(out))  # one cotangent: the first-order rules (fast_vjp)
    with pytest.MonkeyPatch.context() as patch:
        # lean tapes then replace every unneeded float array, however small, by a placeholder
        patch.setattr(adkit.reverse, "PLACEHOLDER_MIN_BYTES", 0)
        rev = adkit.jacobian(fun, mode="reverse", argnums=argnums)(*operands)
        traced = [operands[i] for i in argnums]
        _, pullback = adkit.vjp(lambda *xs: fun(*_put(operands, argnums, xs)), *traced)
        pulled = pullback(u)
    for k in range(len(argnums)):
        np.testing.assert_allclose(rev[k], fwd[k], rtol=1e-12, atol=1e-12)
        want = np.tensordot(u, fwd[k], axes=np.ndim(out))
        np.testing.assert_allclose(pulled[k], want, rtol=1e-12, atol=1e-12)


def _put(operands, positions, values):
    args = list(operands)
    for i, x in zip(positions, values):
        args[i] = x
    return args


FAST_CASES = [case for case in CASES if case.values[0].fast_vjp is not None]


def _same(got, want, what):
    assert type(got) is type(want), f"{what}: {type(got).__name__} instead of {type(want).__name__}"
    if want is not None:
        np.testing.assert_array_equal(got, want, strict=True, err_msg=what)


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), FAST_CASES)
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([None, 1, 3]), traced=st.integers(0, 7))
def test_fast_vjp_is_the_general_rule_to_the_last_bit(prim, shapes, params, make, seed, batch, traced):
    """``fast_vjp`` (first-order sweeps) gives what the general rules give, bit for bit and type for type."""
    rng = np.random.default_rng(seed)
    primals = tuple(operands_for(prim, shapes, make, rng))
    out = prim.impl(*primals, **params)
    shape = np.shape(out) if batch is None else (batch, *np.shape(out))
    ct = float(rng.standard_normal()) if shape == () else rng.standard_normal(shape)
    if shape != () and rng.random() < 0.2:
        ct[...] = 0.0  # zero cotangents meet infinite partials as in the general rules
    floats = differentiable(primals)
    # a subset of the float operands is traced (at least one), the others are constants
    chosen = [i for k, i in enumerate(floats) if traced >> k & 1] or [floats[traced % len(floats)]]
    parents = tuple(10 + i if i in chosen else None for i in range(len(primals)))
    with np.errstate(all="ignore"):
        fast = prim.fast_vjp(ct, out, primals, params, parents)
        general = [
            None if p is None else apply_vjp(prim, i, ct, out, primals, params) for i, p in enumerate(parents)
        ]
    assert len(fast) == len(primals)
    for i, (got, want) in enumerate(zip(fast, general)):
        _same(got, want, f"{prim.name}, operand {i}")


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), CASES)
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rule_against_finite_differences_and_across_modes(prim, shapes, params, make, seed):
    rng = np.random.default_rng(seed)
    operands = operands_for(prim, shapes, make, rng)
    argnums = differentiable(operands)

    def fun(*xs):
        return prim(*xs, **params)

    fwd = adkit.jacobian(fun, mode="forward", argnums=argnums)(*operands)
    rev = adkit.jacobian(fun, mode="reverse", argnums=argnums)(*operands)
    raw = lambda *xs: prim.impl(*xs, **params)
    for k, argnum in enumerate(argnums):
        expected = central_jacobian(raw, operands, argnum)
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(
            fwd[k],
            expected,
            rtol=1e-5,
            atol=1e-6 * scale,
            err_msg=f"forward {prim.name} d/d operand {argnum}",
        )
        np.testing.assert_allclose(
            rev[k],
            fwd[k],
            rtol=1e-12,
            atol=1e-12 * scale,
            err_msg=f"reverse vs forward {prim.name}, operand {argnum}",
        )
        if prim.name in COMPLEX_STEP and not params:
            exact = complex_step_jacobian(prim, operands, argnum)
            np.testing.assert_allclose(
                fwd[k], exact, rtol=1e-12, atol=1e-12 * scale, err_msg=f"complex step {prim.name}"
            )


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), CASES)
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rule_second_order_in_every_nesting(prim, shapes, params, make, seed):
    """check_grads to order 2: forward-over-forward, reverse-over-reverse, and mixed."""
    rng = np.random.default_rng(seed)
    operands = operands_for(prim, shapes, make, rng)
    argnums = differentiable(operands)
    constants = {i: x for i, x in enumerate(operands) if i not in argnums}

    def fun(*xs):
        it = iter(xs)
        args = [constants[i] if i in constants else next(it) for i in range(len(operands))]
        return prim(*args, **params)

    diff_operands = [operands[i] for i in argnums]
    adkit.check_grads(
        fun, *diff_operands, modes=("forward", "reverse"), order=2, eps=1e-5, rtol=1e-4, atol=1e-5
    )


def _packed(prim, operands, params, argnums):
    """``prim`` as a function of one flat vector holding its differentiated operands."""
    shapes = [np.shape(operands[i]) for i in argnums]
    sizes = [math.prod(s) for s in shapes]

    def fun(z):
        args, start = list(operands), 0
        for i, shape, size in zip(argnums, shapes, sizes):
            args[i] = np.reshape(z[start : start + size], shape)
            start += size
        return prim(*args, **params)

    z = np.concatenate([np.ravel(operands[i]) for i in argnums]).astype(float)
    return fun, z


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), CASES)
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_rule_second_derivatives_with_batched_tangents_and_cotangents(prim, shapes, params, make, seed):
    """Every nesting of two vector-mode derivatives against central differences of the first.

    The inner Jacobian (forward: batched tangents; reverse: batched
    cotangents) is differentiated again by a forward Jacobian, a reverse
    Jacobian (chunks that do not divide the count, so batches of different
    sizes meet), a ``jvp`` with a batch of directions and a ``vjp`` with a
    batch of cotangents. A rule that lets its batch axes meet the stacked
    axes of its operands (an inner level's batch) crashes or gives numbers
    that differ from the differences.
    """
    rng = np.random.default_rng(seed)
    operands = operands_for(prim, shapes, make, rng)
    fun, z = _packed(prim, operands, params, differentiable(operands))
    second = central_second(fun, z)  # of the first-order Jacobian, checked above
    scale = max(1.0, float(np.max(np.abs(second), initial=0.0)))
    for label, got, want in every_nesting(fun, z, second, rng):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * scale, err_msg=f"{label}: {prim.name}")


THIRD_ORDER_SIZE = 4000  # m n^3 entries at most: the larger cases would take minutes at depth 3


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), CASES)
def test_rule_third_derivatives_in_every_nesting_with_batched_tangents(prim, shapes, params, make):
    """The eight nestings of three vector-mode Jacobians (batched tangents or cotangents at each level,
    chunks that do not divide the count) against central differences of the second derivatives: a rule
    whose batch axes meet an outer level's stack only at depth 3 fails here. Only det may refuse (its rule
    says where it has a third derivative), with an error that says so."""
    rng = np.random.default_rng(3)
    operands = operands_for(prim, shapes, make, rng)
    fun, z = _packed(prim, operands, params, differentiable(operands))
    n, m = z.size, np.size(prim.impl(*operands, **params))
    if m * n**3 > THIRD_ORDER_SIZE:
        pytest.skip(f"{m * n**3} third derivatives: over THIRD_ORDER_SIZE")
    second = adkit.jacobian(adkit.jacobian(fun, mode="forward"), mode="forward")
    third = central_differences(second, z)
    scale = max(1.0, float(np.max(np.abs(third), initial=0.0)))
    for modes in itertools.product(("forward", "reverse"), repeat=3):
        derivative, size = fun, m
        for mode in modes:
            derivative = adkit.jacobian(derivative, mode=mode, chunk=chunk(n if mode == "forward" else size))
            size *= n
        try:
            got = derivative(z)
        except NotImplementedError as error:  # det, where its rule says it has no third derivative
            assert prim.name == "det" and "third derivative" in str(error), error
            continue
        np.testing.assert_allclose(
            got, third, rtol=1e-5, atol=1e-5 * scale, err_msg=f"{' over '.join(modes)}: {prim.name}"
        )


def test_every_primitive_has_both_rules_and_a_test_domain():
    for name, prim in PRIMITIVES.items():
        assert prim.partials is not None or (prim.jvps is not None and prim.vjps is not None), name
        assert prim.cases or prim.domain, f"{name} declares no test domain or cases"
        assert prim.symbol and prim.__doc__, name


FLOAT_PRIMS = [p for p in PRIMITIVES.values() if p.scalar_impl is not None and p.partials is not None]
SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 1e-300, 710.0, -710.0, math.inf, -math.inf, math.nan]


def _same_float(got, want, what):
    assert type(got) is type(want), f"{what}: {type(got).__name__} instead of {type(want).__name__}"
    assert got == want or (got != got and want != want), f"{what}: {got!r} instead of {want!r}"


@pytest.mark.parametrize("prim", FLOAT_PRIMS, ids=lambda p: p.name)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_float_short_path_functions_agree_with_the_guarded_ones(prim, data):
    """``float_impl`` / ``float_partials`` give the guarded functions' values wherever they do not raise."""
    xs = []
    for intervals in prim.domain:
        special = data.draw(st.booleans())
        lo, hi = intervals[data.draw(st.integers(0, len(intervals) - 1))]
        xs.append(data.draw(st.sampled_from(SPECIAL_FLOATS)) if special else data.draw(st.floats(lo, hi)))
    with np.errstate(all="ignore"):
        out = prim.scalar_impl(*xs)
        try:
            fast_out = prim.float_impl(*xs)
        except adkit.rules.RAISES:
            fast_out = None
        if fast_out is not None:
            _same_float(fast_out, out, f"{prim.name}{tuple(xs)}")
        for i, (fast, rule) in enumerate(zip(prim.float_partials, prim.partials)):
            if rule is None:
                assert fast is None
                continue
            want = rule(out, *xs)
            try:
                got = fast(out, *xs)
            except adkit.rules.RAISES:
                continue  # the short path then calls the guarded partial
            if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):  # bool masks (clip)
                np.testing.assert_array_equal(got, want)
            else:
                _same_float(got, want, f"d {prim.name} / d operand {i} at {tuple(xs)}")


def test_float_short_path_gives_numpys_values_where_math_raises():
    """Where math raises, the short path falls back to NumPy's inf and nan, derivatives included."""
    x = adkit.Var(0.0)
    y = adkit.log(x)
    assert y.value == -math.inf
    y.backward()
    assert x.grad == math.inf  # d log x / dx = 1 / x at 0
    big = adkit.Var(800.0)
    z = adkit.cosh(big)
    z.backward()
    assert z.value == math.inf and big.grad == math.inf
    assert adkit.grad(lambda t: adkit.sin(t))(math.inf) != adkit.grad(lambda t: adkit.sin(t))(math.inf)  # nan
