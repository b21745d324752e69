"""adkit.compile: staged programs give eager adkit's results, bit for bit, on new values too.

"Equal" here is strict: the same type (float, NumPy scalar or array), dtype
and shape, the same values with nan where eager has nan, and the same signs
of zero. Each compiled function is staged on one sample and then run on other
samples, so a value fixed in the program by mistake shows up as a wrong
result, not as a coincidence.
"""

from __future__ import annotations

import functools
import gc
import math
import warnings
import weakref

import numpy as np
import pytest
from test_rules import CASES, differentiable, operands_for

import adkit
from adkit.codegen import GuardFailed, optimize
from adkit.staging import StagingError, stage


def assert_same(got, want, path="result"):
    """``got`` is ``want`` to the last bit: type, dtype, shape, values (nan where nan), signs of zero."""
    assert type(got) is type(want), f"{path}: {type(got).__name__} instead of {type(want).__name__}"
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want), f"{path}: {len(got)} entries instead of {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
        return
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), f"{path}: keys"
        for k in want:
            assert_same(got[k], want[k], f"{path}[{k!r}]")
        return
    if want is None:
        return
    g, w = np.asarray(got), np.asarray(want)
    assert (g.dtype, g.shape) == (w.dtype, w.shape), f"{path}: {g.dtype}{g.shape}, not {w.dtype}{w.shape}"
    if w.dtype.kind in "fc":
        same = (g == w) | (np.isnan(g) & np.isnan(w))
        assert same.all(), f"{path}: {g} instead of {w}"
        assert np.array_equal(np.signbit(g), np.signbit(w)), f"{path}: signs of zero differ"
    else:
        assert np.array_equal(g, w), f"{path}: {g} instead of {w}"


def check_compiled(fn, samples, eager=None):
    """Stage ``fn`` on the first sample and compare it with eager ``fn`` on every sample; return it."""
    compiled = adkit.compile(fn)
    eager = eager or fn
    for args in samples:
        with np.errstate(all="ignore"):
            want = eager(*args)
        assert_same(compiled(*args), want)
    assert "eagerly" not in compiled.explain(), compiled.explain()
    return compiled


# -- the rule table, through every transformation ----------------------------------------------------


def _transformations(argnums):
    yield "f", lambda f: f
    yield "jacobian forward", lambda f: adkit.jacobian(f, mode="forward", argnums=argnums)
    yield "jacobian reverse", lambda f: adkit.jacobian(f, mode="reverse", argnums=argnums)
    yield "jacobian auto", lambda f: adkit.jacobian(f, argnums=argnums)
    yield (
        "forward over reverse",
        lambda f: adkit.jacobian(
            adkit.jacobian(f, mode="reverse", argnums=argnums), mode="forward", argnums=argnums
        ),
    )
    yield (
        "reverse over reverse",
        lambda f: adkit.jacobian(
            adkit.jacobian(f, mode="reverse", argnums=argnums), mode="reverse", argnums=argnums
        ),
    )
    yield (
        "forward over forward",
        lambda f: adkit.jacobian(
            adkit.jacobian(f, mode="forward", argnums=argnums), mode="forward", argnums=argnums
        ),
    )
    yield "grad", lambda f: adkit.grad(lambda *xs: adkit.sum(f(*xs) * 1.3), argnums=argnums)
    yield (
        "value_and_grad",
        lambda f: adkit.value_and_grad(lambda *xs: adkit.sum(adkit.sin(f(*xs))), argnums=argnums),
    )
    yield "hessian", lambda f: adkit.hessian(lambda *xs: adkit.sum(adkit.sin(f(*xs))), argnums=argnums)


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), CASES)
def test_compiled_rules_equal_eager_on_new_values(prim, shapes, params, make):
    """Every primitive's cases through every transformation and nesting: staged on one sample, run on 3."""
    samples = [operands_for(prim, shapes, make, np.random.default_rng(seed)) for seed in range(4)]
    argnums = differentiable(samples[0])

    def fun(*xs):
        return prim(*xs, **params)

    for name, transform in _transformations(argnums):
        fn = transform(fun)
        try:
            with np.errstate(all="ignore"):
                fn(*samples[0])
        except (NotImplementedError, TypeError):  # refused eagerly (a third derivative of det): not staged
            continue
        try:
            check_compiled(fn, samples)
        except AssertionError as err:
            raise AssertionError(f"{prim.name}, {name}: {err}") from None


def test_compiled_transformations_of_the_running_example():
    """Baydin et al.'s f(x1, x2) = ln x1 + x1 x2 - sin x2 through every entry point of the API."""

    def f(x1, x2):
        return np.log(x1) + x1 * x2 - np.sin(x2)

    def g(x):
        return np.log(x[0]) + x[0] * x[1] - np.sin(x[1])

    samples = [(2.0, 5.0), (0.5, -1.25), (3.0, 0.0)]
    vec = [(np.array(s),) for s in samples]
    check_compiled(f, samples)
    check_compiled(adkit.grad(f, argnums=(0, 1)), samples)
    check_compiled(adkit.value_and_grad(f, argnums=(0, 1)), samples)
    check_compiled(adkit.diff(f), samples)
    check_compiled(adkit.diff(f, argnums=1, mode="reverse"), samples)
    check_compiled(adkit.hessian(g), vec)
    check_compiled(adkit.jacobian(g, mode="reverse"), vec)
    check_compiled(adkit.derivative(np.sin, order=3), [(0.5,), (2.0,)])
    check_compiled(lambda x1, x2: adkit.jvp(f, (x1, x2), (1.0, 0.0)), samples)
    check_compiled(lambda x, v: adkit.hvp(g)(x, v), [(x, np.array([1.0, -2.0])) for (x,) in vec])
    check_compiled(lambda x1, x2: adkit.vjp(f, x1, x2)[1](1.0), samples)

    def imperative(x1, x2):
        with adkit.Tape():
            a, b = adkit.Var(x1), adkit.Var(x2)
            f(a, b).backward()
            return a.grad, b.grad

    check_compiled(imperative, samples)


def test_nesting_without_perturbation_confusion():
    """d/dx [x · d/dy (x + y)] = 1, compiled."""

    def outer(x):
        return adkit.grad(lambda x: x * adkit.grad(lambda y: x + y)(2.0))(x)

    check_compiled(outer, [(1.0,), (3.0,)])


def test_user_primitives_are_staged_with_their_rules():
    @adkit.primitive
    def cube(x):
        return x**3

    cube.defjvp(lambda t, out, x: 3 * x**2 * t)
    cube.defvjp(lambda ct, out, x: ct * 3 * x**2)
    check_compiled(adkit.grad(lambda x: np.sum(cube(x))), [(np.array([1.0, -2.0]),), (np.array([0.5, 3.0]),)])
    check_compiled(adkit.jacobian(cube, mode="forward"), [(np.array([1.0, -2.0]),), (np.array([0.5, 3.0]),)])


# -- guards: Python control flow on values -----------------------------------------------------------


def piecewise(x):
    if x > 0:  # a branch on the value: a guard
        return np.sin(x) * x
    return np.cos(x) - x


def test_a_flipped_branch_stages_again():
    compiled = adkit.compile(adkit.grad(piecewise))
    assert_same(compiled(0.5), adkit.grad(piecewise)(0.5))
    assert "1 variant(s)" in compiled.explain()
    assert_same(compiled(-0.5), adkit.grad(piecewise)(-0.5))  # the guard fails: staged again
    assert "2 variant(s)" in compiled.explain() and "staged again 1 time" in compiled.explain()
    for x in (2.0, -3.0, 0.0, 1e-300):  # both variants serve from now on
        assert_same(compiled(x), adkit.grad(piecewise)(x))
    assert "2 variant(s)" in compiled.explain()


def test_the_guard_is_in_the_program_and_the_source():
    program = stage(piecewise, (0.5,), {})
    (guard,) = program.guards
    assert guard.params["expect"] is True and "piecewise" in guard.site
    source = adkit.compile(piecewise).source(0.5)
    assert "raise GuardFailed" in source


def test_variants_are_bounded_then_it_runs_eagerly():
    def staircase(x):
        k = 0
        while x > k + 0.5:  # one guard per step: each new step is a new variant
            k += 1
        return x * k

    compiled = adkit.compile(staircase, max_variants=3)
    for x in (0.2, 1.2, 2.2, 3.2, 4.2, 0.2, 3.2):
        assert_same(compiled(x), staircase(x))
    explanation = compiled.explain()
    assert "runs eagerly" in explanation and "3 variants" in explanation


# -- the decorator, bare and with arguments ---------------------------------------------------------


def tanh_squared(x):
    return np.sum(np.tanh(x) ** 2)


def test_the_bare_decorator_compiles_a_function_and_a_derivative():
    @adkit.compile
    def f(x):
        return tanh_squared(x)

    @adkit.compile
    @adkit.grad
    def grad_f(x):
        return tanh_squared(x)

    for x in (np.array([0.5, -1.0]), np.array([2.0, 0.0])):
        assert_same(f(x), tanh_squared(x))
        assert_same(grad_f(x), adkit.grad(tanh_squared)(x))
    for compiled in (f, grad_f):
        assert type(compiled) is adkit.Compiled and compiled.max_variants == 8
        assert "(float64[2]): compiled, 1 variant(s)" in compiled.explain(), compiled.explain()


def three_ways(x):
    total = np.sum(x)
    if total > 1.0:  # two guards: three branches, three variants
        return np.sum(x**3)
    if total > 0.0:
        return np.sum(x**2)
    return np.sum(np.sin(x))


def test_the_decorator_with_arguments_bounds_the_variants_per_structure():
    """max_variants=2: a third branch makes that input structure run eagerly; a new shape starts afresh."""

    @adkit.compile(max_variants=2)
    def f(x):
        return three_ways(x)

    @adkit.compile(max_variants=2)
    @adkit.grad
    def grad_f(x):
        return three_ways(x)

    pairs = np.array([0.2, 0.3]), np.array([1.0, 0.5]), np.array([-1.0, 0.5]), np.array([0.2, 0.3])
    for compiled, eager in ((f, three_ways), (grad_f, adkit.grad(three_ways))):
        assert type(compiled) is adkit.Compiled and compiled.max_variants == 2
        for x in pairs[:2]:
            assert_same(compiled(x), eager(x))
        assert "(float64[2]): compiled, 2 variant(s)" in compiled.explain(), compiled.explain()
        for x in pairs[2:]:  # the third branch, beyond the limit: eager from now on, still eager's values
            assert_same(compiled(x), eager(x))
        triple = np.array([0.1, 0.2, 0.3])  # another shape: another structure, with its own variants
        assert_same(compiled(triple), eager(triple))
        explanation = compiled.explain()
        assert "(float64[2]): runs eagerly: its guards failed for each of the 2 variants" in explanation
        assert "(float64[3]): compiled, 1 variant(s)" in explanation, explanation


def test_unknown_keywords_are_refused_by_name():
    with pytest.raises(TypeError, match=r"no parameter 'backend': .*jax\.numpy.*docs/architecture\.md"):
        adkit.compile(np.sin, backend="jax")
    with pytest.raises(TypeError, match="no parameter 'backend'"):
        adkit.compile(backend="jax")  # the decorator form refuses at once, not when it is applied
    with pytest.raises(TypeError, match="no parameter 'max_variant': its parameters are fn and max_variants"):
        adkit.compile(np.sin, max_variant=2)


def test_guards_of_the_rules_follow_the_values():
    """maximum's mask, scale_keeping_zeros's finiteness test, power's zero exponent: staged or guarded."""
    f = adkit.grad(lambda x, y: np.sum(np.maximum(x, y) * np.sqrt(x) ** y), argnums=(0, 1))
    samples = [
        (np.array([1.0, 0.0, 2.0]), np.array([0.5, 1.0, 3.0])),
        (np.array([0.0, 4.0, 2.0]), np.array([0.0, 0.0, 0.0])),  # sqrt'(0) = inf meets a zero
        (np.array([3.0, 1.0, 1.0]), np.array([3.0, 1.0, 2.0])),
    ]
    check_compiled(f, samples)


def test_math_errors_take_the_guarded_functions():
    """math.log(0.0) raises where eager adkit gives -inf: the compiled code repeats with NumPy's values."""
    f = adkit.value_and_grad(lambda x: adkit.log(x) - x * np.exp(x))
    check_compiled(f, [(2.0,), (0.0,), (-1.0,), (2.0,)])


def test_a_zero_cotangent_times_an_infinite_partial_is_zero_on_floats_too():
    """The convention of the rule table (scale_keeping_zeros), which eager adkit keeps on arrays.

    Eager reverse mode on Python floats multiplies the stored partials
    directly and gives nan here; the compiled gradient follows the general
    rules on floats as on arrays (reported to the lead with this reproduction).
    """
    f = adkit.grad(lambda x: np.sqrt(x) * 0.0)
    assert adkit.compile(f)(0.0) == 0.0
    assert adkit.grad(lambda x: np.sum(np.sqrt(x) * 0.0))(np.zeros(1))[0] == 0.0


# -- what cannot be staged runs eagerly, and says why ------------------------------------------------


REFUSED = [
    ("float() of a staged value", lambda x: float(x) * np.sin(x), (0.5,)),
    ("np.asarray() of a staged value", lambda x: np.asarray(x) + 1.0, (np.ones(2),)),
    ("indexing with a staged index", lambda x: x[x > 0], (np.array([1.0, -1.0]),)),
    ("np.nonzero", lambda x: np.nonzero(x)[0] * 1.0, (np.array([1.0, 0.0]),)),
    ("writing into a staged array", lambda x: x.__setitem__(0, 1.0) or x, (np.ones(2),)),
    ("in-place operation", lambda x: x.__iadd__(1.0), (np.ones(2),)),
    (".item() of a staged value", lambda x: x.item() * 2.0, (np.ones(1),)),
    ("int() of a staged value", lambda x: x * int(x), (2.0,)),
]


@pytest.mark.parametrize(("reason", "fn", "args"), REFUSED, ids=[r[0] for r in REFUSED])
def test_what_cannot_be_staged_runs_eagerly_and_says_why(reason, fn, args):
    compiled = adkit.compile(fn)
    with np.errstate(all="ignore"):
        want = fn(*[np.copy(a) for a in args])
        got = compiled(*[np.copy(a) for a in args])
    assert_same(got, want)
    line = next(line for line in compiled.explain().splitlines() if "runs eagerly" in line)
    assert reason in line, line


def test_a_refusal_counts_even_when_the_function_catches_it():
    def careful(x):
        try:
            return float(x) * 2.0  # refused, but the function goes on
        except Exception:
            return x * 3.0  # eager never takes this branch

    compiled = adkit.compile(careful)
    assert_same(compiled(0.5), 1.0)
    assert "float()" in compiled.explain()


def test_errors_of_the_function_are_eager_errors():
    compiled = adkit.compile(lambda x: x @ np.ones(3))
    with pytest.raises(ValueError, match="matmul"):
        compiled(np.ones(2))
    assert "staging raised ValueError" in compiled.explain()


def test_traced_arguments_run_the_function_as_it_is():
    """Inside a differentiation the compiled function is differentiated like the plain one."""
    compiled = adkit.compile(lambda x: np.sin(x) * x)
    assert adkit.grad(compiled)(0.5) == adkit.grad(lambda x: np.sin(x) * x)(0.5)
    assert compiled.explain().endswith("not called yet")


def test_a_traced_value_of_an_enclosing_differentiation_is_not_baked_in():
    def outer(y):
        inner = adkit.compile(lambda x: x * y)  # closes over the Var of grad
        return inner(2.0)

    assert adkit.grad(outer)(3.0) == 2.0


# -- the cache -----------------------------------------------------------------------------------


def test_the_cache_is_keyed_on_structure_shapes_dtypes_and_constants():
    compiled = adkit.compile(lambda x, n: np.sum(x**n))
    compiled(np.ones(2), 2)
    compiled(np.ones(2) * 3.0, 2)  # same structure
    compiled(np.ones(3), 2)  # another shape
    compiled(np.ones(3, np.float32), 2)  # another dtype
    compiled(np.ones(3), 3)  # another constant
    assert_same(compiled(np.full(3, 2.0, np.float32), 3), np.float32(24.0))
    assert compiled.explain().count("compiled") == 4 + 1  # the header and four structures


def test_integer_arrays_are_constants_keyed_by_value():
    compiled = adkit.compile(adkit.grad(lambda x, i: np.sum(x[i] ** 2)))
    x = np.array([1.0, 2.0, 3.0])
    for i in (np.array([0, 0, 2]), np.array([1, 2, 1])):
        assert_same(compiled(x, i), adkit.grad(lambda x, i: np.sum(x[i] ** 2))(x, i))
    assert compiled.explain().count("(constant)") == 2


def test_a_compiled_function_does_not_keep_its_inputs_alive():
    compiled = adkit.compile(adkit.grad(lambda x, i: np.sum(np.tanh(x[i]) ** 2)))
    x, i = np.linspace(0.0, 1.0, 5), np.array([0, 3])
    refs = [weakref.ref(x), weakref.ref(i)]
    result = compiled(x, i)
    result2 = compiled(x + 1.0, i)
    del x, i, result, result2
    gc.collect()
    assert all(r() is None for r in refs)


def test_results_are_fresh_arrays():
    """A constant result (a derivative that does not depend on x) is a new array on every call."""
    compiled = adkit.compile(adkit.grad(lambda x: np.sum(2.0 * x)))
    first = compiled(np.ones(3))
    first[0] = 100.0
    assert_same(compiled(np.ones(3)), np.full(3, 2.0))
    identity = adkit.compile(adkit.jacobian(lambda x: x, mode="forward"))
    assert not np.shares_memory(identity(np.ones(2)), identity(np.ones(2)))


def test_the_program_records_the_derivative_with_no_new_rule():
    program = stage(adkit.grad(lambda x: np.sin(x) * x), (0.5,), {})
    names = [eq.name for eq in program.equations]
    assert names[:2] == ["sin", "multiply"]  # the forward sweep: primitives
    assert "cos" in names  # sin's partial derivative, from the rule table
    assert len(optimize(program)) < len(program)


def test_guard_failures_are_exceptions_of_their_own():
    assert issubclass(GuardFailed, Exception) and not issubclass(GuardFailed, (ValueError, TypeError))
    assert issubclass(StagingError, Exception)
    assert math.isfinite(adkit.compile(np.sin)(0.5))


# -- the random programs of the differential test ----------------------------------------------------

N_RANDOM_PROGRAMS = 300


def _random_program_checks(program):
    """Each transformation the differential test makes of ``program``, as a function of its inputs."""
    import test_differential

    f = lambda *xs: program(np, *xs)
    argnums = tuple(range(len(program.inputs)))
    out_shape = np.shape(program(np, *program.inputs))
    rng = np.random.default_rng([test_differential.SEED, program.pid, 2])
    vs = tuple(rng.normal(size=x.shape) for x in program.inputs)
    u = rng.normal(size=out_shape)
    yield "f", f
    for mode in ("forward", "reverse", "auto"):
        yield f"jacobian({mode})", adkit.jacobian(f, mode=mode, argnums=argnums)
    yield "jvp", lambda *xs: adkit.jvp(f, xs, vs)
    yield "vjp", lambda *xs: adkit.vjp(f, *xs)[1](u)
    for outer, inner in [("forward", "reverse"), ("reverse", "forward"), ("auto", "auto")]:
        yield (
            f"{outer} over {inner}",
            adkit.jacobian(adkit.jacobian(f, mode=inner, argnums=argnums), mode=outer, argnums=argnums),
        )
    if out_shape == ():
        yield "grad", adkit.grad(f, argnums=argnums)
        yield "hessian", adkit.hessian(f, argnums=argnums)


@pytest.mark.parametrize("pid", range(N_RANDOM_PROGRAMS))
def test_compiled_random_programs_equal_eager_on_new_values(pid):
    """The differential test's random array programs, every transformation, staged once and run on others."""
    import test_differential

    program = test_differential.build(pid)
    rng = np.random.default_rng(pid)
    samples = [program.inputs] + [
        tuple(x * (1.0 + 0.02 * rng.normal(size=x.shape)) for x in program.inputs) for _ in range(2)
    ]
    for name, fn in _random_program_checks(program):
        try:
            with np.errstate(all="ignore"):
                fn(*program.inputs)
        except NotImplementedError:  # refused by name eagerly
            continue
        try:
            check_compiled(fn, samples)
        except AssertionError as err:
            raise AssertionError(f"{name}: {err}\n{program.source()}") from None


# -- issue 13's NumPy coverage: contractions, order statistics, shape and structure ----------------


def _coverage_programs():
    """The programs of the coverage tests (test_contractions, test_order_statistics, test_structure)."""
    import test_contractions
    import test_order_statistics
    import test_structure

    for name, (program, args) in test_contractions.PROGRAMS.items():
        yield f"contractions: {name}", program(np), args
    for name, (program, args, _) in test_order_statistics.PROGRAMS.items():
        yield f"order statistics: {name}", program(np), args
    for case in test_structure.CASES:
        yield f"structure: {case.name}", functools.partial(case.fn, test_structure.NP), case.operands


COVERAGE = list(_coverage_programs())


@pytest.mark.parametrize(("name", "fn", "args"), COVERAGE, ids=[c[0] for c in COVERAGE])
def test_numpy_coverage_compiled_equals_eager_or_runs_eagerly_and_says_why(name, fn, args):
    """Staged on one sample, run on two more: eager's result to the last bit, staged or not.

    What the staging cannot record (a value read with ``np.asarray`` by a rule, an index computed from
    values, as the sort's) runs eagerly, with its reason in ``explain()``: never a wrong result.
    """
    argnums = tuple(range(len(args)))
    rng = np.random.default_rng(14)
    moved = [
        tuple(
            a * (1.0 + 0.01 * rng.normal(size=np.shape(a))) if np.asarray(a).dtype.kind == "f" else a
            for a in args
        )
        for _ in range(2)
    ]
    samples = [args, *moved]
    transformations = {
        "f": fn,
        "jacobian forward": adkit.jacobian(fn, mode="forward", argnums=argnums),
        "jacobian reverse": adkit.jacobian(fn, mode="reverse", argnums=argnums),
        "hessian": adkit.hessian(lambda *xs: adkit.sum(adkit.sin(fn(*xs))), argnums=argnums),
    }
    for label, g in transformations.items():
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g(*args)
        except (NotImplementedError, TypeError, ValueError):  # refused eagerly
            continue
        compiled = adkit.compile(g)
        for sample in samples:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = g(*sample)
                got = compiled(*sample)
            try:
                assert_same(got, want)
            except AssertionError as err:
                raise AssertionError(f"{label}: {err}") from None
        explained = compiled.explain()
        assert "compiled" in explained or "runs eagerly: " in explained, explained


def test_numpy_coverage_is_mostly_staged():
    """Most of the coverage programs' transformations are staged, not run eagerly (pins the coverage)."""
    staged = eager = 0
    for _, fn, args in COVERAGE[::3]:
        for g in (fn, adkit.jacobian(fn, mode="reverse", argnums=tuple(range(len(args))))):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    g(*args)
                except (NotImplementedError, TypeError, ValueError):
                    continue
                compiled = adkit.compile(g)
                compiled(*args)
            if "runs eagerly" in compiled.explain():
                eager += 1
            else:
                staged += 1
    assert staged >= 3 * eager, (staged, eager)


def test_an_isinstance_test_takes_the_branch_of_the_plain_value():
    """``isinstance(x, np.ndarray)`` on a staged array is True, as for the array (no silent other branch)."""

    def f(x):
        return x.sum() if isinstance(x, np.ndarray) else x * 2.0

    check_compiled(f, [(np.ones(3),), (np.arange(4.0),)])
    check_compiled(f, [(1.5,), (2.5,)])
    check_compiled(adkit.grad(lambda x: np.sum(x**2) if isinstance(x, float) else x * 3.0), [(1.5,), (2.0,)])


def test_the_fast_check_of_the_last_structure_misses_what_the_key_tells_apart():
    """A call is checked against the last structure's generated check first; every difference misses it."""
    from collections import namedtuple

    Pair = namedtuple("Pair", "w b")

    def model(params, x, *, scale, mode="a"):
        out = params["layer"].w @ x + params["layer"].b
        return np.sum(np.tanh(out) * scale) if mode == "a" else np.sum(out)

    eager = adkit.grad(model)
    compiled = adkit.compile(eager)
    rng = np.random.default_rng(0)
    params = {"layer": Pair(rng.normal(size=(2, 3)), rng.normal(size=2))}
    calls = [
        (params, rng.normal(size=3), {"scale": 2.0}),
        (params, rng.normal(size=3), {"scale": 3.0}),  # a hit
        (params, rng.normal(size=(3, 2)), {"scale": 2.0}),  # another shape of x
        (params, np.asfortranarray(rng.normal(size=(3, 2))), {"scale": 2.0}),  # another layout
        (params, rng.normal(size=3), {"scale": 2.0, "mode": "b"}),  # another constant
        (
            {"layer": Pair(params["layer"].w.astype(np.float32), params["layer"].b)},
            rng.normal(size=3),
            {"scale": 2.0},
        ),  # another dtype
        ({"layer": (params["layer"].w, params["layer"].b)}, rng.normal(size=3), {"scale": 2.0}),  # a tuple
        (params, rng.normal(size=3), {"scale": np.float64(2.0)}),  # a NumPy scalar
        (params, rng.normal(size=3), {"scale": 2.0}),  # the first structure again
    ]
    for params_, x, kwargs in calls:
        if type(params_["layer"]) is tuple:
            with pytest.raises(AttributeError):
                compiled(params_, x, **kwargs)
            continue
        assert_same(compiled(params_, x, **kwargs), eager(params_, x, **kwargs))


def test_memory_layout_is_part_of_the_structure():
    """ravel(order="K") reads the layout while staging (rules._memory_order): Fortran order is another key."""
    w = np.arange(6.0)
    eager = adkit.grad(lambda x: np.sum(x.ravel(order="K") * w))
    compiled = adkit.compile(eager)
    c_order = np.arange(6.0).reshape(2, 3)
    for x in (c_order, np.asfortranarray(c_order), c_order, np.asfortranarray(c_order)):
        assert_same(compiled(x), eager(x))


# -- the tutorials' examples -----------------------------------------------------------------------


def _tutorial_examples():
    """The functions the tutorials differentiate (notebooks/0*.py), each with samples and transformations."""
    rng = np.random.default_rng(7)

    def running(x1, x2):  # 00, 03, 04, 05: Baydin et al.'s running example
        return np.log(x1) + x1 * x2 - np.sin(x2)

    def why_g(x):  # 01: AD differentiates the branch that runs
        if x > 0:
            return x * x
        return -x

    def p_horner(x):  # 02
        return ((3 * x - 2) * x + 1) * x - 5

    def h(x):  # 02
        return np.exp(-(x**2) / 2) * np.sin(3 * x)

    def polar(x):  # 03
        r, theta = x
        return np.stack([r * np.cos(theta), r * np.sin(theta), r**2])

    def reverse_F(x):  # 04
        return np.stack([x[0] * x[1], np.sin(x[0]), x[1] ** 2])

    def reverse_g(x):  # 04
        return np.sum(x**2 * np.sin(x))

    def diamonds(x, stages=30):  # 05: 2^30 paths, 90 nodes
        for _ in range(stages):
            x = np.sin(x) + np.cos(x)
        return x

    W, b = np.array([[1.2, -2.0], [0.5, 1.5], [-1.0, 0.5]]), np.array([0.5, 0.2, 0.8])
    w = np.array([1.0, -0.5, 2.0])

    def network(x1, x2):  # 05: a neuron per hidden unit, written with Python lists
        hidden = [np.tanh(W[j, 0] * x1 + W[j, 1] * x2 + b[j]) for j in range(len(b))]
        return w @ np.stack(hidden)

    def jac_f(x):  # 06
        return np.stack([x[0] * x[1] + np.sin(x[2]), x[0] * x[2] + x[1] ** 2])

    W1, W2 = rng.normal(size=(32, 8)) / np.sqrt(8), rng.normal(size=(4, 32)) / np.sqrt(32)

    def dense(x):  # 06
        return np.tanh(W2 @ np.tanh(W1 @ x))

    A, B = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))

    def least_squares(W):  # 07
        return np.sum((A @ W - B) ** 2)

    def quadratic_form(x, M):  # 07
        return x @ M @ x

    points, signs = rng.normal(size=(20, 2)), np.where(rng.random(20) > 0.5, 1.0, -1.0)

    def mlp_loss(params):  # 07: two moons
        h = points
        for Wk, bk in params[:-1]:
            h = np.tanh(h @ Wk.T + bk)
        Wk, bk = params[-1]
        return np.mean(np.logaddexp(0.0, -signs * (h @ Wk.T + bk)[:, 0]))

    def rosenbrock(x):  # 09
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    def rosenbrock_nd(x):  # 09
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    def sin_exp(x):  # 09
        return np.sin(x) * np.exp(x)

    def params_like(scale):
        return [(scale * rng.normal(size=(8, 2)), np.zeros(8)), (rng.normal(size=(1, 8)), np.zeros(1))]

    def matrices():
        return rng.normal(size=(3, 3)) + 3.0 * np.eye(3)

    vec = lambda n: [(rng.normal(size=n),) for _ in range(3)]
    yield "running grad", adkit.grad(running, argnums=(0, 1)), [(2.0, 5.0), (1.5, -0.5), (0.7, 3.0)]
    yield "running jvp", lambda a, b: adkit.jvp(running, (a, b), (0.0, 1.0)), [(2.0, 5.0), (1.5, -0.5)]
    yield "running auto", adkit.diff(running, mode="auto", argnums=(0, 1)), [(2.0, 5.0), (1.5, -0.5)]
    yield "branch", adkit.derivative(why_g), [(1.5,), (-2.0,), (0.5,), (-0.1,)]
    yield "horner", adkit.derivative(p_horner, order=2), [(2.0,), (-1.0,)]
    yield "h", adkit.derivative(h), [(0.3,), (1.7,)]
    yield "h on a grid", adkit.derivative(h), [(np.linspace(-2.0, 2.0, 7),), (np.linspace(-1.0, 3.0, 7),)]
    yield "polar", adkit.jacobian(polar, mode="forward"), [(np.array([1.5, 0.5]),), (np.array([2.0, -1.0]),)]
    yield "polar jvp eye", lambda x: adkit.jvp(polar, (x,), (np.eye(2),)), [(np.array([1.5, 0.5]),)] * 2
    yield "reverse F", adkit.jacobian(reverse_F, mode="reverse"), vec(2)
    yield "reverse F vjp", lambda x: adkit.vjp(reverse_F, x)[1](np.eye(3)), vec(2)
    yield "g grad", adkit.grad(reverse_g), vec(6)
    yield "diamonds", adkit.grad(diamonds), [(0.5,), (-1.2,)]
    yield "network", adkit.grad(network, argnums=(0, 1)), [(0.5, -1.0), (2.0, 0.3)]
    yield "jac f", adkit.jacobian(jac_f), vec(3)
    yield "dense forward", adkit.jacobian(dense, mode="forward"), vec(8)
    yield "dense reverse", adkit.jacobian(dense, mode="reverse"), vec(8)
    yield "least squares", adkit.grad(least_squares), [(rng.normal(size=(3, 2)),) for _ in range(3)]
    yield "slogdet", adkit.grad(lambda X: np.linalg.slogdet(X)[1]), [(matrices(),) for _ in range(3)]
    yield "logdet", adkit.grad(lambda X: np.log(np.linalg.det(X))), [(matrices(),) for _ in range(3)]
    yield (
        "quadratic form",
        adkit.grad(quadratic_form, argnums=(0, 1)),
        [(rng.normal(size=3), rng.normal(size=(3, 3))) for _ in range(3)],
    )
    yield (
        "quadratic hessian",
        adkit.hessian(quadratic_form),
        [(rng.normal(size=3), rng.normal(size=(3, 3))) for _ in range(3)],
    )
    yield "two moons", adkit.value_and_grad(mlp_loss), [(params_like(1.0),), (params_like(0.3),)]
    yield "rosenbrock hessian", adkit.hessian(rosenbrock), [(np.array([1.0, 1.0]),), (np.array([-0.5, 2.0]),)]
    yield (
        "rosenbrock_nd hvp",
        lambda x, v: adkit.hvp(rosenbrock_nd)(x, v),
        [(rng.normal(size=20), rng.normal(size=20)) for _ in range(3)],
    )
    yield "rosenbrock_nd hessian", adkit.hessian(rosenbrock_nd), vec(12)
    yield "sin exp orders", adkit.derivative(sin_exp, order=4), [(0.5,), (-1.0,)]
    for mode in ("forward", "reverse", "auto"):
        yield f"sin exp {mode}", adkit.diff(sin_exp, mode=mode), [(0.5,), (2.0,)]


@pytest.mark.parametrize(
    ("name", "fn", "samples"), list(_tutorial_examples()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_compiled_tutorial_examples_equal_eager(name, fn, samples):
    check_compiled(fn, samples)


# -- showing the program ---------------------------------------------------------------------------


def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def test_the_source_is_named_as_in_the_survey():
    """Values v1..v5 numbered as the trace numbers them (Baydin et al.'s), adjoints x̄1, x̄2."""
    source = adkit.compile(adkit.value_and_grad(running_example, argnums=(0, 1))).source(2.0, 5.0)
    for line in (
        "cos, log, sin = math.cos, math.log, math.sin  # on Python floats",
        "v1 = log(x1)  # v₁ = ln(v₋₁)",
        "v2 = x1 * x2  # v₂ = v₋₁ * v₀",
        "v3 = sin(x2)  # v₃ = sin(v₀)",
        "v4 = v1 + v2  # v₄ = v₁ + v₂",
        "v5 = v4 - v3  # v₅ = v₄ - v₃",
        "x̄2 = (-1.0) * t1  # v̄₀ = v̄₃ ∂v₃/∂v₀",
        "x̄2 = x̄2 + x1  # v̄₀ += v̄₂ ∂v₂/∂v₀",
        "x̄1 = x2 + t2  # v̄₋₁ += v̄₁ ∂v₁/∂v₋₁",
        "return (v5, (x̄1, x̄2))",
    ):
        assert f"    {line}" in source, line
    trace_names = [v.name for v in adkit.trace(running_example, 2.0, 5.0).computation.variables]
    assert trace_names[2:] == ["v1", "v2", "v3", "v4", "v5"]
    tangent = adkit.compile(lambda a, b: adkit.jvp(running_example, (a, b), (1.0, 0.0))).source(2.0, 5.0)
    assert "v̇1 = 1.0 / a  # tangent of v₁" in tangent


def test_the_source_releases_arrays_and_writes_temporaries_in_place():
    source = adkit.compile(adkit.grad(lambda x: np.sum(np.tanh(x) ** 2))).source(np.ones(3))
    assert "del " in source and "out=" in source
    assert "math" not in source  # arrays: NumPy calls


def test_a_program_shows_its_source_and_draws_its_graph():
    import matplotlib

    matplotlib.use("Agg")
    program = adkit.compile(adkit.value_and_grad(running_example, argnums=(0, 1))).program(2.0, 5.0)
    html = program._repr_html_()
    assert "x̄1" in html and "<span" in html  # highlighted
    assert "log" in repr(program)
    g = adkit.graph(program)
    assert g.nx.number_of_nodes() == 2 + len(program.equations)
    assert {d["kind"] for _, d in g.nx.nodes(data=True)} == {"input", "operation", "output"}
    ax = g.draw()
    assert len(ax.patches) >= g.nx.number_of_nodes()
    assert g._repr_png_().startswith(b"\x89PNG")
    big = adkit.compile(adkit.grad(lambda x: np.sum(np.cumsum(np.tanh(x)) ** 2))).program(np.ones(3))
    assert "too many to draw" in adkit.graph(big).draw(max_nodes=3).texts[0].get_text()


def test_a_long_program_is_not_kept_and_staged_again_when_needed(monkeypatch):
    """Above KEEP_PROGRAMS equations the program is dropped after its code is made (memory)."""
    import adkit.codegen

    monkeypatch.setattr(adkit.codegen, "KEEP_PROGRAMS", 3)
    f = adkit.value_and_grad(lambda x: adkit.log(x) + x * x)
    compiled = adkit.compile(f)
    assert_same(compiled(2.0), f(2.0))
    (entry,) = compiled._entries.values()
    assert entry.variants[0].program is None and "equations" in compiled.explain()
    assert_same(compiled(0.0), f(0.0))  # math.log(0.0) raises: the second try stages the program again
    assert len(compiled.program(2.0)) == entry.variants[0].equations
