"""Sparse Jacobians (issue 15): the pattern by index sets, the colourings, the compressed passes.

Every sparse Jacobian is compared with adkit's dense one and with central
differences (``adkit.numerical``); patterns are compared with the nonzeros of
dense Jacobians at random points (their union: a structural rule must match
it, a conservative one contain it).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rules import CASES, differentiable, operands_for

import adkit
from adkit import numerical, rules
from adkit.sparse import DENSE_FALLBACK, SparseJacobian, color_columns, color_rows, sparsity, structure_rule

RNG = np.random.default_rng(15)


# -- functions with known patterns ------------------------------------------------------------------


def banded(lower: int, upper: int):
    """f_i = sum over the band of c_k sin(x_{i+k}) x_i: a band of ``lower`` below and ``upper`` above."""

    def f(x):
        n = x.shape[0]
        total = x * 0.5
        for k in range(-lower, upper + 1):
            if k == 0:
                continue
            pad = np.zeros(abs(k))
            shifted = np.concatenate([x[k:], pad]) if k > 0 else np.concatenate([pad, x[: n + k]])
            total = total + (1.0 + 0.1 * k) * np.sin(shifted) * x
        return total

    return f


def block_diagonal(blocks: int, size: int):
    weights = RNG.normal(size=(blocks, size, size))

    def f(x):
        return np.tanh(weights @ x.reshape(blocks, size, 1)).reshape(-1)

    return f


def arrow(x):
    """A dense first row, a dense first column and the diagonal."""
    return np.concatenate([np.sum(x**2, keepdims=True), x[1:] * x[0] + np.sin(x[1:])])


def band_pattern(n: int, lower: int, upper: int) -> np.ndarray:
    i, j = np.indices((n, n))
    return (j - i <= upper) & (i - j <= lower)


def true_pattern(f, n: int, points: int = 4, **kwargs) -> np.ndarray:
    """The union of the nonzeros of dense Jacobians at random points."""
    union = None
    for _ in range(points):
        x = RNG.normal(size=n)
        nonzero = np.asarray(adkit.jacobian(f, mode="forward")(x, **kwargs)).reshape(-1, n) != 0
        union = nonzero if union is None else union | nonzero
    return union


def check_jacobian(f, x, mode: str = "auto", **options):
    """The sparse Jacobian equals the dense one and central differences; returns the SparseJacobian."""
    jac = adkit.jacobian(f, mode=mode, sparse=True, **options)
    got = jac(x)
    assert sp.issparse(got) and got.format == "csr"
    dense = np.asarray(adkit.jacobian(f, mode="forward")(x)).reshape(got.shape)
    np.testing.assert_allclose(got.toarray(), dense, rtol=1e-12, atol=1e-12)
    approx = np.asarray(numerical.jacobian(f, x)).reshape(got.shape)
    np.testing.assert_allclose(got.toarray(), approx, rtol=1e-6, atol=1e-6)
    return jac


# -- sparse equals dense ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@settings(max_examples=12, deadline=None)
@given(n=st.integers(4, 30), lower=st.integers(0, 3), upper=st.integers(0, 3))
def test_banded_jacobians_equal_the_dense_ones(mode, n, lower, upper):
    f = banded(lower, upper)
    jac = check_jacobian(f, RNG.normal(size=n), mode)
    info = jac.explain(np.ones(n))
    assert np.array_equal(info.pattern.toarray(), band_pattern(n, lower, upper))


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize(("blocks", "size"), [(1, 4), (3, 2), (5, 3)])
def test_block_diagonal_jacobians_equal_the_dense_ones(mode, blocks, size):
    f = block_diagonal(blocks, size)
    jac = check_jacobian(f, RNG.normal(size=blocks * size), mode)
    info = jac.explain(np.ones(blocks * size))
    assert np.array_equal(info.pattern.toarray(), np.kron(np.eye(blocks), np.ones((size, size))) > 0)
    assert info.passes == size


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_arrow_jacobians_equal_the_dense_ones_though_no_colouring_helps(mode):
    n = 7
    jac = check_jacobian(arrow, RNG.normal(size=n), mode)
    info = jac.explain(np.ones(n))
    # the dense first row makes every column conflict, the dense first column every row
    expected = ({"reverse": None}.get(mode, n), {"forward": None}.get(mode, n))
    assert (info.p_forward, info.p_reverse) == expected


def test_a_gradient_goes_to_reverse_mode_and_a_tangent_to_forward_mode():
    gradient = adkit.jacobian(lambda x: np.sum(np.sin(x)), sparse=True)
    info = gradient.explain(np.ones(2000))  # (at 50 inputs forward mode is cheaper, as without sparse=True)
    assert (info.mode, info.p_forward, info.p_reverse, info.passes) == ("reverse", 2000, 1, 1)
    assert adkit.diff(lambda x: np.sum(np.sin(x))).explain(np.ones(2000)).mode == "reverse"
    curve = adkit.jacobian(lambda t: np.sin(t * np.arange(50.0)), sparse=True)
    info = curve.explain(0.3)
    assert (info.mode, info.p_forward, info.p_reverse) == ("forward", 1, 50)
    np.testing.assert_allclose(curve(0.3).toarray().ravel(), np.arange(50.0) * np.cos(0.3 * np.arange(50.0)))


def test_auto_mode_compares_colour_counts_not_n_and_m():
    """Where n and m point one way and the colourings the other, sparse=True follows the colourings."""
    wide = lambda x: x[0::2] * x[1::2] + np.sin(x[0])  # m = n / 2, but x[0] in every row: rows all conflict
    x = RNG.normal(size=2000)
    assert adkit.diff(wide).explain(x).mode == "reverse"  # dense: fewer outputs than inputs
    info = adkit.jacobian(wide, sparse=True).explain(x)
    assert (info.mode, info.p_forward, info.p_reverse) == ("forward", 3, 1000)
    assert "3 colours" in info.reason and "1000" in info.reason
    tall = lambda x: np.concatenate([np.sum(x**2, keepdims=True), np.sin(x), x[1:] * x[:-1]])  # a dense row
    x = RNG.normal(size=1000)
    assert adkit.diff(tall).explain(x).mode == "forward"  # dense: m = 2n outputs
    info = adkit.jacobian(tall, sparse=True).explain(x)
    assert (info.mode, info.p_forward, info.p_reverse) == ("reverse", 1000, 4)
    np.testing.assert_allclose(adkit.jacobian(tall, sparse=True)(x).toarray(), adkit.jacobian(tall)(x))


def test_a_matrix_input_and_output_are_flattened_in_c_order():
    f = lambda x: np.sin(x.T) * 2.0
    x = RNG.normal(size=(2, 3))
    got = adkit.jacobian(f, sparse=True)(x)
    dense = adkit.jacobian(f)(x).reshape(6, 6)
    assert got.shape == (6, 6)
    np.testing.assert_allclose(got.toarray(), dense)


def test_other_arguments_and_keywords_pass_through():
    f = lambda a, x, scale=1.0: scale * a * x[1:] * x[:-1]
    jac = adkit.jacobian(f, argnums=1, sparse=True)
    x = RNG.normal(size=5)
    got = jac(2.0, x, scale=3.0)
    np.testing.assert_allclose(got.toarray(), adkit.jacobian(f, argnums=1)(2.0, x, scale=3.0))


def test_changing_a_result_in_place_changes_no_later_result():
    f = banded(1, 1)
    jac = adkit.jacobian(f, sparse=True)
    x = RNG.normal(size=8)
    first = jac(x)
    first.data[:] = 0.0
    first.eliminate_zeros()  # rewrites indices and indptr in place
    np.testing.assert_allclose(jac(x).toarray(), adkit.jacobian(f)(x), rtol=1e-13)


def test_float32_stays_float32():
    x = np.linspace(0.1, 1.0, 5, dtype=np.float32)
    for mode in ("forward", "reverse"):
        got = adkit.jacobian(lambda x: np.sin(x) * x, mode=mode, sparse=True)(x)
        assert got.dtype == np.float32


def test_a_constant_output_has_an_empty_jacobian():
    got = adkit.jacobian(lambda x: np.ones(3), sparse=True)(np.ones(4))
    assert got.shape == (3, 4) and got.nnz == 0


# -- colouring ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), lower=st.integers(0, 6), upper=st.integers(0, 6))
def test_colour_counts_of_banded_matrices_equal_the_bandwidth(n, lower, upper):
    pattern = band_pattern(n, lower, upper)
    width = min(lower + upper + 1, n)  # a band wider than the matrix is the whole matrix
    assert color_columns(pattern).max() + 1 == width
    assert color_rows(pattern).max() + 1 == width


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["largest_first", "smallest_last", "independent_set"]))
def test_no_two_columns_of_one_colour_share_a_row(seed, strategy):
    rng = np.random.default_rng(seed)
    pattern = rng.random((rng.integers(1, 20), rng.integers(1, 20))) < 0.2
    for colors, matrix in (
        (color_columns(pattern, strategy), pattern),
        (color_rows(pattern, strategy), pattern.T),
    ):
        for c in np.unique(colors):
            assert matrix[:, colors == c].sum(axis=1).max(initial=0) <= 1  # at most one nonzero per row


def test_passes_are_the_colour_count():
    calls = []

    def f(x):
        calls.append(1)
        return banded(1, 2)(x)

    for mode, chunk in (("forward", 1), ("reverse", 1), ("forward", None)):
        calls.clear()
        jac = adkit.jacobian(f, mode=mode, sparse=True, chunk=chunk)
        jac(np.ones(20))
        info = jac.explain(np.ones(20))
        assert info.passes == 4
        # forward: the recording that detects the pattern, then one evaluation per chunk of directions;
        # reverse: the recording is swept back (one sweep per chunk of cotangents)
        assert len(calls) == (1 + 4 if (mode, chunk) == ("forward", 1) else 1 + 1 if mode == "forward" else 1)


def test_pattern_and_colouring_are_reused_at_the_same_shapes():
    calls = []

    def f(x):
        calls.append(1)
        return x[1:] * x[:-1]

    jac = adkit.jacobian(f, mode="forward", sparse=True)
    jac(np.ones(10))
    first = len(calls)
    info = jac.explain(np.ones(10))
    jac(RNG.normal(size=10))
    assert len(calls) == first + 1  # the compressed pass only
    assert jac.explain(np.zeros(10)) is info
    jac(np.ones(12))  # another shape: detected afresh
    assert len(calls) == first + 1 + 2 and jac.explain(np.ones(12)).n == 12


# -- the pattern: each structure rule ---------------------------------------------------------------------

INDEX = np.array([2, 0, 2])
#: (function of a vector of 12 elements, whether the rule is exact, i.e. equals the true pattern)
STRUCTURES = {
    "elementwise, broadcast": (lambda x: x.reshape(3, 4) * x[:4] + np.exp(x[4:8]), True),
    "scalar operand": (lambda x: np.sin(x) * x[3], True),
    "sum over an axis": (lambda x: x.reshape(3, 4).sum(axis=0), True),
    "mean, keepdims": (lambda x: x.reshape(3, 4).mean(axis=1, keepdims=True) * x[:3, None], True),
    "prod": (lambda x: np.prod(x.reshape(2, 6), axis=1), True),
    "norm": (lambda x: np.linalg.norm(x.reshape(3, 4), axis=-1), True),
    "cumsum": (lambda x: np.cumsum(x.reshape(3, 4), axis=1), True),
    "cumprod": (lambda x: np.cumprod(x.reshape(3, 4), axis=0), True),
    "einsum, a contraction": (
        lambda x: np.einsum("ij,jk->ki", x[:6].reshape(2, 3), x[6:].reshape(3, 2)),
        True,
    ),
    "einsum, a broadcast": (lambda x: np.einsum("bi,bi->b", x[:8].reshape(4, 2), x[10:].reshape(1, 2)), True),
    "reshape, transpose": (lambda x: x.reshape(3, 4).T.reshape(-1) ** 2, True),
    "basic indexing": (lambda x: x.reshape(3, 4)[1:, ::2] * 2.0, True),
    "advanced indexing": (lambda x: x.reshape(3, 4)[INDEX, 1:] ** 2, True),
    "boolean mask": (lambda x: x[np.arange(12) % 3 == 0] ** 3, True),
    "concatenate, stack": (lambda x: np.stack([np.concatenate([x[:2], x[5:7]]), x[8:]]) ** 2, True),
    "expand_dims, squeeze": (lambda x: np.squeeze(np.expand_dims(x, 0)) * x, True),
    "broadcast_to": (lambda x: np.broadcast_to(x[:4], (2, 4)) * x[4:12].reshape(2, 4), True),
    "scatter-add": (lambda x: rules.index_add_p(x[:3] ** 2, index=(INDEX,), shape=(4,)), True),
    "astype": (lambda x: np.sin(x).astype(np.float64), True),
    "matrix times vector": (lambda x: x[:9].reshape(3, 3) @ x[9:], True),
    "vector times matrix": (lambda x: x[:3] @ x[3:].reshape(3, 3), True),
    "batched matmul": (lambda x: x.reshape(2, 2, 3) @ x[:6].reshape(2, 3, 1), True),
    "constant matrix": (lambda x: np.triu(np.ones((12, 12))) @ x, False),  # its zeros are not looked at
    "floor: zero partial": (lambda x: np.floor(x) + x[::-1], True),
    "where: both branches": (lambda x: np.where(x > 0, x[::-1], x * x[0]), False),
    "max: the whole group": (lambda x: np.max(x.reshape(3, 4), axis=1), False),
    "solve: no structure rule": (lambda x: np.linalg.solve(np.eye(3) * (1.0 + x[:3] ** 2), x[9:]), False),
}


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_eachstructure_rule_gives_the_true_pattern_or_a_superset(name):
    f, exact = STRUCTURES[name]
    x = RNG.normal(size=12)
    detected = sparsity(f, x).toarray()
    truth = true_pattern(f, 12, points=6)
    assert detected.shape == truth.shape
    assert not (truth & ~detected).any(), "the detected pattern misses a nonzero"
    if exact:
        assert np.array_equal(detected, truth)
    else:  # more than the derivative at the point of detection has
        here = np.asarray(adkit.jacobian(f)(x)).reshape(truth.shape) != 0
        assert (detected & ~here).any(), "a conservative rule here should show extra entries"


def test_every_primitive_has_a_structure_rule_or_the_named_dense_fallback():
    """A primitive added to the table gets a structure rule, or joins DENSE_FALLBACK with its reason."""
    without = {name for name, prim in rules.PRIMITIVES.items() if structure_rule(prim) is None}
    assert without == set(DENSE_FALLBACK), (
        f"no structure rule and not in DENSE_FALLBACK: {sorted(without - set(DENSE_FALLBACK))}; "
        f"in DENSE_FALLBACK but with a rule (or gone): {sorted(set(DENSE_FALLBACK) - without)}"
    )


def _flat_call(prim, operands, params):
    """``prim`` as a function of one vector: its float operands' elements, concatenated."""
    floats = differentiable(operands)
    if not floats:
        pytest.skip("no float operand")
    shapes = [np.shape(operands[i]) for i in floats]
    offsets = np.cumsum([0] + [int(np.prod(s)) for s in shapes])

    def f(x):
        args = list(operands)
        for k, i in enumerate(floats):
            args[i] = x[offsets[k] : offsets[k + 1]].reshape(shapes[k])
        return prim(*args, **params)

    x = np.concatenate([np.ravel(operands[i]).astype(float) for i in floats])
    return f, x


@pytest.mark.parametrize(("prim", "shapes", "params", "make"), CASES)
def test_each_primitive_s_pattern_contains_every_nonzero_of_its_jacobian(prim, shapes, params, make):
    """Over the rule table's own cases: the detected pattern holds each nonzero of the dense Jacobian
    (at several random points), and a primitive without a rule gives the dense pattern and is named."""
    rng = np.random.default_rng(15)
    f, x = _flat_call(prim, operands_for(prim, shapes, make, rng), params)
    detected = sparsity(f, x).toarray()
    for _ in range(4):
        f, x = _flat_call(prim, operands_for(prim, shapes, make, rng), params)
        with np.errstate(all="ignore"):
            jac = np.asarray(adkit.jacobian(f, mode="forward")(x)).reshape(detected.shape)
        missed = (jac != 0) & np.isfinite(jac) & ~detected
        assert not missed.any(), f"{prim.name}: the pattern misses nonzeros at {np.argwhere(missed)[:5]}"
    if structure_rule(prim) is None:
        assert detected.all(), f"{prim.name}: the dense fallback is not dense"
        info = adkit.jacobian(f, sparse=True).explain(x)
        assert prim.name in info.conservative and DENSE_FALLBACK[prim.name] in info.reason


def test_a_pattern_through_np_where_is_a_superset_and_stays_right_where_the_branch_flips():
    def f(x):
        return np.where(x > 0, x[::-1] ** 2, np.sin(x) * x[0])

    n = 8
    x0 = np.abs(RNG.normal(size=n)) + 0.1  # every condition true: the recorded branch is x[::-1] ** 2
    jac = adkit.jacobian(f, sparse=True)
    detected = jac.explain(x0).pattern.toarray()
    at_x0 = np.asarray(adkit.jacobian(f)(x0)) != 0
    assert (detected & ~at_x0).any() and not (at_x0 & ~detected).any()
    for _ in range(5):  # the pattern detected at x0, reused where the conditions flip
        x = RNG.normal(size=n)
        truth = np.asarray(adkit.jacobian(f)(x))
        assert not ((truth != 0) & ~detected).any()
        np.testing.assert_allclose(jac(x).toarray(), truth, rtol=1e-12)


def test_the_info_names_where_the_pattern_is_conservative():
    info = adkit.jacobian(STRUCTURES["solve: no structure rule"][0], sparse=True).explain(np.ones(12))
    assert info.conservative == ("solve",) and "solve" in info.reason


def test_a_given_pattern_skips_the_detection():
    calls = []

    def f(x):
        calls.append(1)
        return x[1:] - x[:-1] ** 2

    n = 6
    pattern = np.eye(n - 1, n, dtype=bool) | np.eye(n - 1, n, k=1, dtype=bool)
    jac = SparseJacobian(f, mode="forward", pattern=pattern)
    x = RNG.normal(size=n)
    got = jac(x).toarray()
    assert len(calls) == 1  # no recording: the compressed pass only
    np.testing.assert_allclose(got, adkit.jacobian(f)(x))


# -- what the front end refuses --------------------------------------------------------------------------


def test_bad_calls_are_refused_with_the_fix():
    f = lambda x: x * 2.0
    with pytest.raises(TypeError, match="one argument"):
        adkit.jacobian(lambda x, y: x * y, argnums=(0, 1), sparse=True)(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="one array"):
        adkit.jacobian(lambda x: (x, x), sparse=True)(np.ones(2))
    with pytest.raises(TypeError, match="cannot be differentiated again"):
        adkit.grad(lambda x: adkit.jacobian(f, sparse=True)(x).sum())(np.ones(2))
    with pytest.raises(ValueError, match="strategy"):
        adkit.sparse.SparseJacobian(f, strategy="random")
    with pytest.raises(ValueError, match="mode"):
        adkit.jacobian(f, mode="sideways", sparse=True)
    with pytest.raises(ValueError, match="chunk"):
        adkit.sparse.SparseJacobian(f, chunk=0)
    with pytest.raises(ValueError, match="columns"):
        SparseJacobian(f, pattern=np.eye(3, dtype=bool))(np.ones(2))
    with pytest.raises(TypeError, match="function"):
        SparseJacobian(3.0)
    with pytest.raises(TypeError, match="check must be True"):
        SparseJacobian(f, check="no")
    with pytest.raises(ValueError, match=r"has 2 rows but <lambda> returned 3 elements: give a pattern"):
        SparseJacobian(f, pattern=np.eye(2, 3, dtype=bool))(np.ones(3))
    with pytest.raises(TypeError, match="return a NumPy array of floats"):
        adkit.jacobian(lambda x: "text", sparse=True)(np.ones(2))
    with pytest.raises(TypeError, match="number or an array"):
        adkit.jacobian(f, sparse=True)("abc")
    with pytest.raises(ValueError, match="argnums=3 but"):
        adkit.jacobian(f, sparse=True, argnums=3)(np.ones(2))
    info = adkit.jacobian(f, mode="forward", sparse=True).explain(np.ones(3))
    with pytest.raises(ValueError, match=r"reverse colouring was not computed.*mode='reverse'"):
        info.spy(mode="reverse")


def test_an_output_whose_size_depends_on_the_values_is_refused():
    jac = adkit.jacobian(lambda x: x[x > 0] * 2.0, mode="forward", sparse=True)
    jac(np.array([1.0, 2.0, -1.0]))
    with pytest.raises(ValueError, match="depends on the input's values"):
        jac(np.array([1.0, -2.0, -1.0]))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_pattern_that_does_not_hold_at_a_later_input_is_caught(mode):
    """Python branches and index arrays computed from values: the reused pattern is checked, not trusted."""

    def branches(x):
        return x[::-1] ** 2 if x[0] > 0 else x**2

    def masked(x):
        return x[x > 0] * x[0]

    for f, first, later in (
        (branches, np.array([1.0, 2.0, 3.0]), np.array([-1.0, 2.0, 3.0])),
        (masked, np.array([1.0, 2.0, -3.0]), np.array([1.0, -2.0, 3.0])),
    ):
        jac = adkit.jacobian(f, mode=mode, sparse=True)
        np.testing.assert_allclose(jac(first).toarray(), adkit.jacobian(f)(first))
        with pytest.raises(ValueError, match="does not hold at this input"):
            jac(later)
        unchecked = SparseJacobian(f, mode=mode, check=False)
        unchecked(first)
        assert not np.allclose(unchecked(later).toarray(), adkit.jacobian(f)(later))  # what the check stops
    given = SparseJacobian(lambda x: x[1:] * x[:-1], mode=mode, pattern=np.eye(2, 3, dtype=bool))
    with pytest.raises(ValueError, match="pattern given does not hold"):
        given(np.ones(3))


def test_without_scipy_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(ImportError, match="pip install scipy"):
        adkit.jacobian(lambda x: x, sparse=True)


def test_import_adkit_loads_neither_scipy_nor_the_sparse_module():
    code = "import sys, adkit; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert not {"scipy", "adkit.sparse", "networkx"} & loaded


# -- the drawing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_spy_draws_the_pattern_in_its_group_colours_and_the_compressed_matrix(mode):
    info = adkit.jacobian(banded(1, 1), mode=mode, sparse=True).explain(np.ones(12))
    figure = info.spy()
    left, right = figure.axes
    (points,) = left.collections
    assert len(points.get_offsets()) == info.nnz
    assert len({tuple(c) for c in points.get_facecolors()}) == info.passes == 3
    (compressed,) = right.collections
    # forward: J S is 12 x 3 with one entry per (row, colour) a row touches; reverse Wᵀ J is 3 x 12
    assert len(compressed.get_offsets()) == info.nnz  # a tridiagonal: each row (column) meets 3 colours
    import matplotlib.pyplot as plt

    plt.close(figure)
    figure = info.spy(compressed=False)
    assert len(figure.axes) == 1
    plt.close(figure)
    with pytest.raises(ValueError, match="mode"):
        info.spy(mode="diagonal")
