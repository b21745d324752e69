"""Sparse Jacobians: the pattern from one traced evaluation, a colouring, and compressed passes.

A Jacobian ``J`` of ``f: R^n -> R^m`` with few nonzeros per row and column
needs far fewer than ``n`` tangent directions (or ``m`` cotangents) when
structurally orthogonal columns share one (Curtis, Powell and Reid 1974;
Coleman and Moré 1983):

1. **The pattern.** ``f`` is evaluated once on a tape; an *index set* (which
   inputs each element depends on) is propagated through the recorded
   operations by a structure rule per primitive (:func:`sparsity`). The
   pattern depends on the operations recorded, the shapes and the index
   parameters, never on floating-point values: it is exact for the branch
   of Python control flow the evaluation took, and a superset where a rule
   is conservative (``np.where`` depends on both branches; ``max`` on its
   whole group; a primitive without a structure rule, such as ``solve``, on
   every element of its operands: ``DENSE_FALLBACK``). ``np.sort``,
   ``np.median``, ``np.quantile`` and indexing by ``x > 0`` pick elements by
   value: like an ``if``, their pattern is the one of the order seen.
2. **The colouring.** Two columns that share a nonzero row must get
   different tangent directions; the columns' conflict graph is coloured
   with networkx's greedy colouring, ``p`` colours (rows and cotangents
   likewise for reverse mode).
3. **Compressed passes.** With the seed matrix ``S`` (``S[j, c] = 1`` when
   column ``j`` has colour ``c``), one vector-mode forward pass of ``p``
   directions gives ``B = J S``, and each nonzero is read back:
   ``J[i, j] = B[i, colour(j)]``, since no other column of that colour has a
   nonzero in row ``i``. Reverse mode sweeps ``p`` cotangents, ``Wᵀ J``.

``adkit.jacobian(f, sparse=True)`` returns a :class:`SparseJacobian`, whose
result is a ``scipy.sparse.csr_array`` of shape ``(m, n)`` (the output and
the input flattened in C order). The pattern and colourings are kept per
input shape and reused by later calls; ``explain`` returns them as a
:class:`SparsityInfo`, which draws them (``spy``). SciPy is optional for
adkit and needed here.

>>> import numpy as np, adkit
>>> def laplacian(x):  # a tridiagonal Jacobian
...     inner = x[:-2] - 2.0 * x[1:-1] + x[2:]
...     return np.concatenate([x[:1], inner, x[-1:]])
>>> jac = adkit.jacobian(laplacian, sparse=True)
>>> jac(np.arange(6.0)).toarray()[:3]
array([[ 1.,  0.,  0.,  0.,  0.,  0.],
       [ 1., -2.,  1.,  0.,  0.,  0.],
       [ 0.,  1., -2.,  1.,  0.,  0.]])
>>> info = jac.explain(np.arange(6.0))
>>> info.nnz, info.passes, info.mode
(14, 3, 'forward')
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from adkit import rules
from adkit.core import Box, as_real, new_level, primal, shape_of, size_of
from adkit.formatting import duration
from adkit.forward import Dual
from adkit.modes import FORWARD, REVERSE, Costs, Workload, workload_of
from adkit.reverse import Tape, Var, sweep

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DENSE_FALLBACK",
    "SparseJacobian",
    "SparsityInfo",
    "color_columns",
    "color_rows",
    "sparsity",
    "structure_rule",
]

#: Colouring strategies of ``networkx.coloring.greedy_color`` that need no random state.
STRATEGIES = (
    "largest_first",
    "smallest_last",
    "independent_set",
    "connected_sequential_bfs",
    "connected_sequential_dfs",
    "saturation_largest_first",
)
#: A conflict graph with more edges than this is not handed to networkx (it would take minutes and
#: gigabytes); its columns get a colour each, and the info says so.
MAX_CONFLICT_EDGES = 20_000_000


def _scipy_sparse() -> Any:
    """``scipy.sparse``, or an ImportError that says how to install SciPy."""
    try:
        import scipy.sparse
    except ImportError as err:
        raise ImportError(
            "adkit.jacobian(f, sparse=True) returns a scipy.sparse matrix and needs SciPy, which is not "
            "installed: pip install scipy (or conda install scipy). Without it, use sparse=False."
        ) from err
    return scipy.sparse


# -- the pattern: index sets through the recorded operations ---------------------------------------


def _ones(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> Any:
    """The boolean sparse matrix with ones at ``(rows, cols)`` (duplicates allowed)."""
    sp = _scipy_sparse()
    return sp.csr_array((np.ones(rows.size, dtype=bool), (rows.ravel(), cols.ravel())), shape=shape)


def _empty(rows: int, n: int) -> Any:
    return _scipy_sparse().csr_array((rows, n), dtype=bool)


def _union(parts: list[Any], rows: int, n: int) -> Any:
    parts = [p for p in parts if p is not None]
    if not parts:
        return _empty(rows, n)
    total = parts[0]
    for p in parts[1:]:
        total = total + p  # boolean: a logical or
    return total.tocsr()


def _gather(pattern: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of ``pattern``: output element ``k`` depends on what element ``index[k]`` does."""
    index = np.asarray(index).ravel()
    if index.size == pattern.shape[0] and np.array_equal(index, np.arange(index.size)):
        return pattern
    return pattern[index]


def _broadcast_index(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """For each element of an array of ``out_shape``, the element of a broadcast operand it reads."""
    return np.broadcast_to(np.arange(math.prod(shape)).reshape(shape), out_shape)


def _elementwise(node: Any, operands: list[Any], n: int, check_partials: bool) -> Any:
    """Elementwise (with broadcasting): the union of the operands' elements at the same position.

    An operand whose partial derivative is identically zero (``floor``, the
    ``y`` of ``copysign``) contributes nothing.
    """
    out_shape = shape_of(node.value)
    parts = []
    for position, (pattern, x) in enumerate(zip(operands, node.operands)):
        if pattern is None:
            continue
        if check_partials:
            rule = node.primitive.partials[position]
            if rule is None:
                continue
            with np.errstate(all="ignore"):
                d = rule(node.value, *node.operands, **node.params)
            if type(d) is int and d == rules.ZERO:
                continue
        parts.append(_gather(pattern, _broadcast_index(shape_of(x), out_shape)))
    return _union(parts, size_of(node.value), n)


def _by_indices(node: Any, operands: list[Any], n: int) -> Any:
    """Reshapes, transposes, broadcasts, indexing, concatenation: the primitive applied to element numbers."""
    sizes = [size_of(x) for x in node.operands]
    offsets = np.cumsum([0] + sizes)
    numbers = [
        np.arange(offsets[k], offsets[k + 1]).reshape(shape_of(x)) for k, x in enumerate(node.operands)
    ]
    index = np.asarray(node.primitive.impl(*numbers, **node.params))
    blocks = [_empty(size, n) if p is None else p for p, size in zip(operands, sizes)]
    stacked = _scipy_sparse().vstack(blocks, format="csr")
    return _gather(stacked, index)


def _reduction(node: Any, operands: list[Any], n: int) -> Any:
    """Sums, products, extrema, norms: each output element depends on its whole group."""
    (pattern,) = operands
    x = node.operands[0]
    shape = shape_of(x)
    groups = _broadcast_index(rules.keepdims_shape(shape, node.params["axis"]), shape)
    return (_ones(groups, np.arange(size_of(x)), (size_of(node.value), size_of(x))) @ pattern).tocsr()


def _running(node: Any, operands: list[Any], n: int) -> Any:
    """A running sum or product: element ``k`` along the axis depends on elements ``0..k``."""
    (pattern,) = operands
    x = node.operands[0]
    shape = shape_of(x)
    length = shape[node.params["axis"]]
    lines = np.moveaxis(np.arange(size_of(x)).reshape(shape), node.params["axis"], -1).reshape(-1, length)
    later, earlier = np.tril_indices(length)
    return (_ones(lines[:, later], lines[:, earlier], (size_of(x), size_of(x))) @ pattern).tocsr()


def _index_add(node: Any, operands: list[Any], n: int) -> Any:
    """Adding into zeros at an index (indexing's transpose): each target collects what lands on it."""
    (pattern,) = operands
    ct = node.operands[0]
    shape = node.params["shape"]
    targets = np.arange(math.prod(shape)).reshape(shape)[node.params["index"]]
    sources = _broadcast_index(shape_of(ct), np.shape(targets))
    return (_ones(targets, sources, (math.prod(shape), size_of(ct))) @ pattern).tocsr()


def _matmul(node: Any, operands: list[Any], n: int) -> Any:
    """``a @ b``: element ``(i, k)`` depends on row ``i`` of ``a`` and column ``k`` of ``b``."""
    a, b = node.operands
    a_shape = (1,) + shape_of(a) if len(shape_of(a)) == 1 else shape_of(a)
    b_shape = shape_of(b) + (1,) if len(shape_of(b)) == 1 else shape_of(b)
    out_shape = np.broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (a_shape[-2], b_shape[-1])
    parts = []
    for pattern, shape, axis in ((operands[0], a_shape, -1), (operands[1], b_shape, -2)):
        if pattern is None:
            continue
        size = math.prod(shape)
        reduced = rules.keepdims_shape(shape, (axis,))
        rows = _ones(_broadcast_index(reduced, shape), np.arange(size), (math.prod(reduced), size)) @ pattern
        parts.append(_gather(rows.tocsr(), _broadcast_index(reduced, out_shape)))
    return _union(parts, size_of(node.value), n)


def _einsum(node: Any, operands: list[Any], n: int) -> Any:
    """``einsum``: an output element depends on the elements of each operand whose letters it shares.

    For each traced operand, every assignment of values to the letters of the
    output and of that operand pairs one output element with one operand
    element (an operand's axis of length one, broadcast, is element 0); the
    letters summed over in other operands only multiply.
    """
    terms, output = node.params["subscripts"].split("->")
    terms = terms.split(",")
    shapes = [shape_of(x) for x in node.operands]
    sizes: dict[str, int] = {}  # each letter's length; an axis of length one broadcasts
    for term, shape in zip(terms, shapes):
        for c, length in zip(term, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = length
    out_shape, out_size = shape_of(node.value), size_of(node.value)
    parts = []
    for pattern, term, shape in zip(operands, terms, shapes):
        if pattern is None:
            continue
        letters = list(dict.fromkeys(output + term))
        grid = tuple(sizes[c] for c in letters)
        value = dict(zip(letters, np.indices(grid)))
        zero = np.zeros(grid, dtype=np.intp)
        out_index = np.ravel_multi_index([value[c] for c in output], out_shape) if output else zero
        axes = [zero if length == 1 else value[c] for c, length in zip(term, shape)]  # 1: broadcast
        in_index = np.ravel_multi_index(axes, shape) if term else zero
        parts.append((_ones(out_index, in_index, (out_size, math.prod(shape))) @ pattern).tocsr())
    return _union(parts, out_size, n)


def _everything(node: Any, operands: list[Any], n: int) -> Any:
    """No structure rule: every output element depends on every element of every traced operand."""
    mask = np.zeros(n, dtype=bool)
    for pattern in operands:
        if pattern is not None:
            mask[pattern.indices] = True
    columns = np.flatnonzero(mask)
    rows = size_of(node.value)
    indptr = np.arange(rows + 1, dtype=np.int64) * columns.size
    data = np.ones(rows * columns.size, dtype=bool)
    return _scipy_sparse().csr_array((data, np.tile(columns, rows), indptr), shape=(rows, n))


_BY_INDICES = (
    rules.reshape_p,
    rules.squeeze_p,
    rules.expand_dims_p,
    rules.transpose_p,
    rules.broadcast_to_p,
    rules.getitem_p,
    rules.concatenate_p,
    rules.stack_p,
)
_REDUCTIONS = (rules.sum_p, rules.mean_p, rules.prod_p, rules.max_p, rules.min_p, rules.norm_p)
_OTHERS = {
    rules.cumsum_p: _running,
    rules.cumprod_p: _running,
    rules.index_add_p: _index_add,
    rules.matmul: _matmul,
    rules.einsum_p: _einsum,
}

#: The primitives of the rule table without a structure rule, on purpose, and why: each output element
#: is taken to depend on every element of every traced operand (a superset, never a missed nonzero),
#: and the info names them. A user's own primitive (``adkit.primitive``) and ``adkit.checkpoint``'s are
#: treated so too. tests/test_sparse.py checks that every primitive has a rule or is listed here.
DENSE_FALLBACK: dict[str, str] = {
    "inv": "the inverse of a general matrix is dense",
    "det": "a determinant depends on every entry",
    "logabsdet": "a determinant depends on every entry",
    "cofactor": "cofactors (the determinant's derivative) depend on every other entry",
    "cofactor_jvp": "cofactors (the determinant's derivative) depend on every other entry",
    "solve": "the solution of a general system depends on every entry of the matrix and the right side",
    "svd": "a decomposition of a general matrix depends on every entry",
    "svdvals": "a decomposition of a general matrix depends on every entry",
    "eigh": "a decomposition of a general matrix depends on every entry",
    "eigvalsh": "a decomposition of a general matrix depends on every entry",
    "cholesky": "a decomposition of a general matrix depends on every entry",
    "qr": "a decomposition of a general matrix depends on every entry",
    "pinv": "the pseudo-inverse of a general matrix is dense",
    "lstsq": "a least-squares solution depends on every entry of the matrix and the right side",
}


def structure_rule(prim: Any) -> Callable[[Any, list[Any], int], Any] | None:
    """How ``prim`` maps its operands' index sets to its output's; ``None``: no rule (then every output
    element is taken to depend on every element of every traced operand: ``DENSE_FALLBACK``).

    A rule is ``rule(node, operand_patterns, n)`` for a tape node, each
    pattern a boolean ``(operand size, n)`` matrix (``None`` for a constant).

    >>> from adkit import rules
    >>> structure_rule(rules.sum_p).__name__, structure_rule(rules.solve_p)
    ('_reduction', None)
    """
    if prim is rules.where_p:  # both branches: the pattern must hold wherever the condition flips
        return functools.partial(_elementwise, check_partials=False)
    if prim.partials is not None:
        return functools.partial(_elementwise, check_partials=True)
    if prim is rules.astype_p:
        return lambda node, operands, n: operands[0]
    if prim in _BY_INDICES:
        return _by_indices
    if prim in _REDUCTIONS:
        return _reduction
    return _OTHERS.get(prim)


@dataclass(frozen=True, eq=False)
class _Pattern:
    """Which outputs of ``f`` depend on which inputs, read off one traced evaluation."""

    matrix: Any  # scipy.sparse.csr_array of bools, (m, n)
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    conservative: tuple[str, ...]  # primitives without a structure rule met on the way
    workload: Workload


def _propagate(tape: Tape, out: Any, n: int) -> tuple[Any, tuple[str, ...]]:
    """The index sets of ``out`` (rows: its elements; columns: the input's), and the primitives met
    without a structure rule."""
    patterns: dict[int, Any] = {}
    conservative: list[str] = []
    for node in tape.nodes:
        if node.is_input:
            size = size_of(node.value)
            patterns[node.index] = _ones(np.arange(size), np.arange(size), (size, n))
            continue
        operands = [None if i is None else patterns[i] for i in node.inputs]
        rule = structure_rule(node.primitive)
        if rule is None:
            rule = _everything
            if node.primitive.name not in conservative:
                conservative.append(node.primitive.name)
        patterns[node.index] = rule(node, operands, n)
    if isinstance(out, Var) and out.tape is tape:
        return patterns[out.index], tuple(conservative)
    return _empty(size_of(out), n), tuple(conservative)


# -- recording f: one argument, one array out ------------------------------------------------------


def _name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _argument(f: Callable, args: tuple, argnums: Any) -> tuple[int, Any]:
    if not isinstance(argnums, (int, np.integer)) or isinstance(argnums, bool):
        raise TypeError(
            "sparse=True differentiates with respect to one argument (argnums an int), got "
            f"argnums={argnums!r}. Stack several arguments into one array, or use sparse=False."
        )
    if not -len(args) <= argnums < len(args):
        raise ValueError(
            f"argnums={argnums} but {_name(f)} was called with {len(args)} positional argument(s)"
        )
    argnums = int(argnums) % len(args)
    x = args[argnums]
    if isinstance(x, Box):
        raise TypeError(
            "sparse=True gives a scipy.sparse matrix of numbers, which cannot be differentiated again: "
            f"argument {argnums} of {_name(f)} is a traced value. Use sparse=False inside another "
            "differentiation."
        )
    if not isinstance(x, (float, int, np.ndarray, np.generic, list, tuple)):
        raise TypeError(
            f"sparse=True differentiates with respect to a number or an array; argument {argnums} of "
            f"{_name(f)} is a {type(x).__name__}. Pass its values as one array."
        )
    x = as_real(x, f"argument {argnums} of {_name(f)}")
    return argnums, np.asarray(x) if np.ndim(x) else x


def _call(f: Callable, args: tuple, argnums: int, value: Any, kwargs: dict[str, Any], level: Any) -> Any:
    """``f`` with ``value`` at position ``argnums``; the level is retired when it returns."""
    call_args = list(args)
    call_args[argnums] = value
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return f(*call_args, **kwargs)
    finally:
        level.retired = True


def _output(out: Any, f: Callable, level: Any) -> Any:
    """The output of ``f``: one number or array, traced at ``level`` or constant."""
    if isinstance(out, (tuple, list, dict)) or out is None:
        raise TypeError(
            f"sparse=True needs {_name(f)} to return one array (its Jacobian is one sparse matrix), got "
            f"{'None' if out is None else 'a ' + type(out).__name__}. Concatenate the outputs into one array."
        )
    if isinstance(out, Box) and out.level != level:
        raise TypeError(
            f"{_name(f)} returned a value traced by another differentiation ({out.level.origin}), not one "
            "computed from its argument. Pass it as an argument, or use adkit.stop_gradient."
        )
    value = primal(out)
    if not isinstance(value, (float, int, np.ndarray, np.generic)) or np.result_type(value).kind not in "fiu":
        raise TypeError(
            f"{_name(f)} returned a {type(value).__name__}; sparse=True needs a number or an "
            "array of real numbers: return a NumPy array of floats"
        )
    return out


def _record(
    f: Callable, args: tuple, argnums: int, x: Any, kwargs: dict[str, Any], origin: str, lean: bool
) -> tuple[Tape, Any]:
    tape = Tape(lean=lean, origin=origin)
    leaf = tape.leaf(x)
    try:
        out = _call(f, args, argnums, leaf, kwargs, tape.level)
    finally:
        tape.seal()
    return tape, _output(out, f, tape.level)


def sparsity(f: Callable, *args: Any, argnums: int = 0, **kwargs: Any) -> Any:
    """The sparsity pattern of ``f``'s Jacobian at ``args``: ``P[i, j]`` when ``∂f_i/∂x_j`` may be nonzero.

    Read off one traced evaluation by propagating index sets (see the
    module doc): exact for the branch of Python control flow taken, a
    superset through ``np.where``, extrema and primitives without a
    structure rule. Returns a ``scipy.sparse.csr_array`` of bools, shape
    ``(f(x).size, x.size)``.

    >>> import numpy as np
    >>> sparsity(lambda x: x[1:] * x[:-1], np.ones(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    return _detect(f, args, argnums, kwargs, f"adkit.sparse.sparsity({_name(f)})")[0].matrix


def _detect(
    f: Callable, args: tuple, argnums: Any, kwargs: dict[str, Any], origin: str
) -> tuple[_Pattern, Tape, Any]:
    _scipy_sparse()
    position, x = _argument(f, args, argnums)
    tape, out = _record(f, args, position, x, kwargs, origin, lean=False)
    n = size_of(x)
    matrix, conservative = _propagate(tape, out, n)
    pattern = _Pattern(matrix, shape_of(x), shape_of(out), conservative, workload_of(tape))
    return pattern, tape, out


# -- colouring ------------------------------------------------------------------------------------


def _conflicts(pattern: Any) -> Any:
    """Columns sharing a nonzero row, as a symmetric boolean matrix without its diagonal."""
    graph = (pattern.T @ pattern).tocsr()
    graph.setdiag(False)
    graph.eliminate_zeros()
    return graph


def color_columns(pattern: Any, strategy: str = "largest_first") -> np.ndarray:
    """A colour per column, no two columns with a common nonzero row sharing one (forward mode's seeds).

    The columns' conflict graph (``Pᵀ P``) is coloured by networkx's
    ``greedy_color``; ``strategy`` is one of its strategies (``STRATEGIES``).
    A dense row makes every column conflict with every other: then each
    column gets its own colour, without asking networkx.

    >>> import numpy as np
    >>> colors = color_columns(np.eye(3, dtype=bool) | np.eye(3, k=1, dtype=bool))   # a bidiagonal
    >>> colors[0] == colors[2] != colors[1]     # columns 0 and 2 share no row: 2 colours
    np.True_
    """
    sp = _scipy_sparse()
    pattern = sp.csr_array(pattern, dtype=bool)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    n = pattern.shape[1]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.diff(pattern.indptr)
    if counts.size and counts.max() == n:  # a dense row: every pair of columns conflicts
        return np.arange(n)
    graph = _conflicts(pattern)
    if graph.nnz > 2 * MAX_CONFLICT_EDGES:
        return np.arange(n)
    import networkx as nx

    colouring = nx.coloring.greedy_color(nx.from_scipy_sparse_array(graph), strategy=strategy)
    return np.array([colouring[j] for j in range(n)], dtype=np.int64)


def color_rows(pattern: Any, strategy: str = "largest_first") -> np.ndarray:
    """A colour per row, no two rows with a common nonzero column sharing one (reverse mode's cotangents).

    >>> import numpy as np
    >>> colors = color_rows(np.array([[1, 1, 1], [0, 0, 0], [0, 1, 0]], dtype=bool))
    >>> colors[0] != colors[2], colors.max() + 1   # rows 0 and 2 share column 1; row 1 is empty
    (np.True_, np.int64(2))
    """
    return color_columns(_scipy_sparse().csr_array(pattern, dtype=bool).T, strategy)


# -- the compressed passes --------------------------------------------------------------------------


def _seeds(colors: np.ndarray, p: int, check: np.ndarray | None, dtype: Any) -> np.ndarray:
    """The compression, one row per colour (ones where the colour is ``c``), and the check direction."""
    rows = (colors[None, :] == np.arange(p)[:, None]).astype(dtype)
    return rows if check is None else np.concatenate([rows, check[None, :].astype(dtype)])


def _float_type(x: Any) -> Any:
    return x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.dtype(np.float64)


def _forward_compressed(
    f: Callable,
    args: tuple,
    argnums: int,
    x: Any,
    kwargs: dict[str, Any],
    seeds: np.ndarray,
    chunk: int,
    origin: str,
) -> tuple[Any, np.ndarray]:
    """``(f(x), J Sᵀ)`` for the rows of ``seeds`` as tangent directions, ``chunk`` per vector-mode pass."""
    shape = shape_of(x)
    blocks, out_value = [], None
    k = seeds.shape[0]
    for start in range(0, max(k, 1), chunk):
        stop = min(k, start + chunk)
        level = new_level("transform", origin)
        directions = seeds[start:stop].reshape((stop - start,) + shape)
        out = _output(_call(f, args, argnums, Dual.of_level(x, directions, level), kwargs, level), f, level)
        traced = isinstance(out, Dual) and out.level == level
        out_value = out.value if traced else out
        m = size_of(out_value)
        tangent = out.tangent if traced else np.zeros((stop - start, m))
        blocks.append(np.reshape(primal(tangent), (stop - start, m)))
    return out_value, np.concatenate(blocks).T


def _reverse_compressed(tape: Tape, out: Any, in_size: int, seeds: np.ndarray, chunk: int) -> np.ndarray:
    """``seeds J``: the rows of ``seeds`` as cotangents swept back over ``tape``, ``chunk`` per sweep."""
    out_shape = shape_of(out)
    k = seeds.shape[0]
    if not (isinstance(out, Var) and out.tape is tape):
        return np.zeros((k, in_size))
    blocks = []
    for start in range(0, k, chunk):
        stop = min(k, start + chunk)
        cotangents = seeds[start:stop].reshape((stop - start,) + out_shape)
        adjoints = sweep(tape, {out.index: cotangents}, keep=1, consume=stop >= k)
        g = adjoints[0]
        shape = (stop - start, in_size)
        blocks.append(np.zeros(shape) if g is None else np.reshape(g, shape))
    return np.concatenate(blocks)


def _verify(
    rows: np.ndarray,
    cols: np.ndarray,
    data: np.ndarray,
    direction: np.ndarray,
    product: np.ndarray,
    transposed: bool,
    f: Callable,
    given: bool,
) -> None:
    """Refuse a Jacobian read back through a pattern that does not hold here.

    ``product`` is ``J v`` (or ``uᵀ J``, ``transposed``) for a random
    ``direction``, computed by the same pass; the entries read back
    (``data`` at ``rows``, ``cols``) must reproduce it. A nonzero outside the
    pattern would have been added into another entry's place.
    """
    into, along = (cols, rows) if transposed else (rows, cols)
    terms = data * direction[along]
    recovered = np.bincount(into, terms, minlength=product.size)
    scale = np.bincount(into, abs(terms), minlength=product.size) + abs(product)
    finite = np.isfinite(product) & np.isfinite(recovered)
    if np.all(abs(recovered - product)[finite] <= 1e-7 * scale[finite] + 1e-300):
        return
    source = "given" if given else "detected at the first call at these shapes"
    raise ValueError(
        f"the sparsity pattern {source} does not hold at this input: the Jacobian of {_name(f)} here has "
        "nonzeros outside it. Its Python control flow (an if on values) or its index arrays (x[x > 0]) "
        "depend on the input's values. Use sparse=False, or SparseJacobian(f, pattern=...) with a pattern "
        "that holds at every input."
    )


@dataclass(frozen=True, eq=False)
class _Plan:
    """What every call at one input shape reuses: the pattern's entries in CSR order and the seeds."""

    rows: np.ndarray
    cols: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    seeds: np.ndarray  # one row per colour, then the check direction
    check: np.ndarray


def _plan(info: SparsityInfo) -> _Plan:
    pattern = info.pattern.tocsr()
    pattern.sort_indices()
    indptr, indices = pattern.indptr.copy(), pattern.indices.copy()
    rows = np.repeat(np.arange(info.m), np.diff(indptr))
    check = np.random.default_rng(0).standard_normal(info.n if info.mode == "forward" else info.m)
    seeds = _seeds(info.colors, info.passes, check, np.float64)
    return _Plan(rows, indices, indptr, indices, seeds, check)


# -- the auto mode: colour counts, priced --------------------------------------------------------------


def _cost(costs: Costs, directions: int, seed_size: int, work: Workload) -> float:
    """The mode cost model of :mod:`adkit.modes`, with ``directions`` compressed seeds of ``seed_size``."""
    return (
        costs.per_call
        + costs.per_op * work.ops
        + costs.per_flop * work.flops
        + costs.per_direction_flop * directions * work.linear
        + costs.per_seed_entry * directions * seed_size
    )


def _choose(
    requested: str, p_forward: int | None, p_reverse: int | None, n: int, m: int, work: Workload
) -> tuple[str, str, float | None, float | None]:
    fwd = None if p_forward is None else _cost(FORWARD, p_forward, n, work)
    rev = None if p_reverse is None else _cost(REVERSE, p_reverse, m, work)
    if requested != "auto":
        count = p_forward if requested == "forward" else p_reverse
        what = "columns" if requested == "forward" else "rows"
        return (
            requested,
            (
                f"mode={requested!r} was requested: {count} colours of the {what}, so "
                f"{count} {'tangent directions' if requested == 'forward' else 'cotangents'} "
                f"instead of {n if requested == 'forward' else m}"
            ),
            fwd,
            rev,
        )
    mode = "forward" if fwd <= rev else "reverse"
    reason = (
        f"{mode} mode: the columns need {p_forward} colours (tangent directions, instead of "
        f"n = {n}) and the rows {p_reverse} (cotangents, instead of m = {m}); with the cost model of "
        f"mode='auto' that is about {duration(fwd)} forward against {duration(rev)} "
        "reverse."
    )
    return mode, reason, fwd, rev


# -- the result and its explanation --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SparsityInfo:
    """What a sparse Jacobian was computed from: the pattern, the colourings, the mode and why.

    ``pattern`` is the ``(m, n)`` boolean ``scipy.sparse.csr_array``;
    ``column_colors`` (forward mode's groups of columns) and ``row_colors``
    (reverse mode's groups of rows) give a colour to each column or row,
    ``None`` when that mode was not considered. ``passes`` is the number of
    colours of the chosen mode: the tangent directions (or cotangents)
    pushed through ``f``, in place of ``n`` (or ``m``). ``conservative``
    names the primitives without a structure rule the pattern went through
    (their outputs depend on all of their operands: a superset).

    >>> import numpy as np, adkit
    >>> info = adkit.jacobian(lambda x: x[1:] * x[:-1], sparse=True).explain(np.ones(5))
    >>> info.m, info.n, info.nnz, info.p_forward, info.p_reverse
    (4, 5, 8, 2, 2)
    >>> print(info.colors[0] != info.colors[1], info.colors[0] == info.colors[2])  # columns 0, 2 share no row
    True True
    """

    pattern: Any
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    mode: str
    reason: str
    column_colors: np.ndarray | None
    row_colors: np.ndarray | None
    conservative: tuple[str, ...] = ()
    strategy: str = "largest_first"
    cost_forward: float | None = None
    cost_reverse: float | None = None

    @property
    def n(self) -> int:
        """Columns: the size of the input."""
        return self.pattern.shape[1]

    @property
    def m(self) -> int:
        """Rows: the size of the output."""
        return self.pattern.shape[0]

    @property
    def nnz(self) -> int:
        """Entries of the pattern (structural nonzeros)."""
        return int(self.pattern.nnz)

    @property
    def colors(self) -> np.ndarray:
        """The colouring the chosen mode uses: of the columns (forward) or of the rows (reverse)."""
        return self.column_colors if self.mode == "forward" else self.row_colors

    @property
    def passes(self) -> int:
        """The number of colours of the chosen mode: directions (forward) or cotangents (reverse)."""
        return _count(self.colors)

    @property
    def p_forward(self) -> int | None:
        """The colours of the columns: forward mode's tangent directions (None: not computed)."""
        return None if self.column_colors is None else _count(self.column_colors)

    @property
    def p_reverse(self) -> int | None:
        """The colours of the rows: reverse mode's cotangents (None: not computed)."""
        return None if self.row_colors is None else _count(self.row_colors)

    def __repr__(self) -> str:
        conservative = f"; conservative through {', '.join(self.conservative)}" if self.conservative else ""
        return (
            f"SparsityInfo(m={self.m}, n={self.n}, nnz={self.nnz}, mode={self.mode!r}, "
            f"passes={self.passes}, p_forward={self.p_forward}, p_reverse={self.p_reverse}"
            f"{conservative})\n  {self.reason}"
        )

    def _repr_html_(self) -> str:
        cells = (self.m, self.n, self.nnz, self.p_forward, self.p_reverse, self.mode, self.passes)
        row = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        return (
            "<table><tr><th>m</th><th>n</th><th>nonzeros</th><th>colours (columns)</th>"
            "<th>colours (rows)</th><th>mode</th><th>passes</th></tr>"
            f"<tr>{row}</tr></table><p>{html.escape(self.reason)}</p>"
        )

    def spy(self, ax: Any = None, mode: str | None = None, compressed: bool = True) -> Figure:
        """Draw the pattern with each nonzero in its group's colour, and the compressed matrix beside it.

        ``mode`` picks the colouring (default: the chosen mode's): forward
        colours the columns, and the compressed matrix ``J S`` has one
        column per colour; reverse colours the rows, and ``Wᵀ J`` has one
        row per colour. No two nonzeros land on one entry of it: that is
        why each can be read back. With ``ax`` (or ``compressed=False``)
        only the pattern is drawn. Returns the Figure.

        >>> import numpy as np, adkit
        >>> figure = adkit.jacobian(lambda x: x[1:] * x[:-1], sparse=True).explain(np.ones(5)).spy()
        >>> [ax.get_title().split(":")[0] for ax in figure.axes]
        ['pattern of J (4 × 5, 8 nonzeros)', 'J S (4 × 2)']
        """
        return _draw_spy(self, ax, mode or self.mode, compressed)


def _count(colors: np.ndarray | None) -> int:
    return 0 if colors is None or colors.size == 0 else int(colors.max()) + 1


def _marker_size(ax: Any, rows: int, cols: int) -> float:
    """Square markers about one matrix cell wide, in points²."""
    bbox = ax.get_window_extent().transformed(ax.figure.dpi_scale_trans.inverted())
    cell = 72.0 * min(bbox.width / max(cols, 1), bbox.height / max(rows, 1))
    return max(cell * 0.9, 0.6) ** 2


def _palette(p: int) -> list[Any]:
    import matplotlib as mpl

    if p <= 10:
        return list(mpl.colormaps["tab10"].colors[: max(p, 1)])
    if p <= 20:
        return list(mpl.colormaps["tab20"].colors[:p])
    return [mpl.colormaps["turbo"](k / (p - 1)) for k in range(p)]


def _spy_axes(
    ax: Any,
    rows: np.ndarray,
    cols: np.ndarray,
    groups: np.ndarray,
    shape: tuple[int, int],
    palette: list[Any],
    title: str,
) -> None:
    ax.scatter(
        cols,
        rows,
        c=[palette[g] for g in groups] if groups.size else "k",
        marker="s",
        s=_marker_size(ax, *shape),
        linewidths=0,
    )
    ax.set_xlim(-0.5, shape[1] - 0.5)
    ax.set_ylim(shape[0] - 0.5, -0.5)
    ax.set_aspect("equal" if max(shape) / max(min(shape), 1) < 8 else "auto")
    ax.xaxis.tick_top()
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10, pad=18)
    ax.tick_params(labelsize=8)


def _draw_spy(info: SparsityInfo, ax: Any, mode: str, compressed: bool) -> Figure:
    """``info.spy``: the pattern coloured by groups and, beside it, the compressed matrix."""
    if mode not in ("forward", "reverse"):
        raise ValueError(f"mode must be 'forward' or 'reverse', got {mode!r}")
    colors = info.column_colors if mode == "forward" else info.row_colors
    if colors is None:
        raise ValueError(
            f"the {mode} colouring was not computed: mode={info.mode!r} was requested. "
            "Ask for both with adkit.jacobian(f, sparse=True) (mode='auto'), or for this one "
            f"with mode={mode!r}"
        )
    coo = info.pattern.tocoo()
    rows, cols = np.asarray(coo.row), np.asarray(coo.col)
    groups = colors[cols] if mode == "forward" else colors[rows]
    p = _count(colors)
    palette = _palette(p)
    if ax is None:
        import matplotlib.pyplot as plt

        if compressed:
            figure, (ax, right) = plt.subplots(1, 2, figsize=(7.0, 3.6), gridspec_kw={"width_ratios": (3, 2)})
        else:
            figure, ax = plt.subplots(figsize=(4.5, 4.0))
            right = None
    else:
        figure, right = ax.figure, None
    what = "columns" if mode == "forward" else "rows"
    title = f"pattern of J ({info.m} × {info.n}, {info.nnz} nonzeros):\n{what} coloured by group, {p} colours"
    _spy_axes(ax, rows, cols, groups, (info.m, info.n), palette, title)
    if right is not None:
        if mode == "forward":  # J S: entry (i, colour of j)
            key = np.unique(np.stack([rows, groups]), axis=1)
            _spy_axes(
                right,
                key[0],
                key[1],
                key[1],
                (info.m, p),
                palette,
                f"J S ({info.m} × {p}): one column\nper colour, no collisions",
            )
        else:  # Wᵀ J: entry (colour of i, j)
            key = np.unique(np.stack([groups, cols]), axis=1)
            _spy_axes(
                right,
                key[0],
                key[1],
                key[0],
                (p, info.n),
                palette,
                f"Wᵀ J ({p} × {info.n}): one row\nper colour, no collisions",
            )
    figure.tight_layout()
    return figure


# -- the front end -------------------------------------------------------------------------------------


class SparseJacobian:
    """``adkit.jacobian(f, sparse=True)``: the Jacobian as a ``scipy.sparse.csr_array``, by colouring.

    Call it like ``f``; the result has shape ``(m, n)``, ``m = f(x).size`` and
    ``n = x.size`` (both flattened in C order), and holds the entries of the
    detected pattern (some may be exact zeros). The first call at an input
    shape records ``f`` once to detect the pattern, colours it, and (in
    ``mode="auto"``) picks the mode with the cheaper estimate from the
    colour counts; later calls at the same shapes reuse all of it and only
    make the compressed passes. ``pattern`` (a boolean array or sparse
    matrix of shape ``(m, n)``) skips the detection: use it when ``f``'s
    Python control flow depends on the input's values, or to supply a
    pattern known in advance. ``chunk`` bounds the directions per pass;
    ``strategy`` is networkx's greedy colouring strategy.

    No silent wrong answers: where the pattern was not detected at this very
    input (a later call, or a given pattern), one random direction more goes
    through the same pass (``p + 1`` in all) and the result must reproduce
    it; a pattern that does not hold there (the function branches on values)
    raises an error. ``check=False`` leaves the check out.

    >>> import numpy as np
    >>> jac = SparseJacobian(lambda x: x[1:] ** 2 - x[:-1], mode="reverse")
    >>> jac(np.array([1.0, 2.0, 3.0])).toarray()
    array([[-1.,  4.,  0.],
           [ 0., -1.,  6.]])
    """

    def __init__(
        self,
        f: Callable,
        mode: str = "auto",
        argnums: int = 0,
        chunk: int | None = None,
        *,
        pattern: Any = None,
        strategy: str = "largest_first",
        check: bool = True,
    ):
        if not callable(f):
            raise TypeError(f"adkit.jacobian needs a function to differentiate, got {type(f).__name__}")
        if mode not in ("forward", "reverse", "auto"):
            raise ValueError(f"mode must be 'forward', 'reverse' or 'auto', got {mode!r}")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
        if chunk is not None and (not isinstance(chunk, (int, np.integer)) or chunk < 1):
            raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")
        if not isinstance(check, bool):
            raise TypeError(f"check must be True (check a reused pattern) or False, got {check!r}")
        sp = _scipy_sparse()
        self.f, self.mode, self.argnums, self.chunk, self.strategy = f, mode, argnums, chunk, strategy
        self.check = check
        self._given = None if pattern is None else sp.csr_array(pattern, dtype=bool)
        self._infos: dict[Any, tuple[SparsityInfo, _Plan]] = {}
        self.__name__ = f"sparse_jacobian_of_{_name(f)}"
        self.__wrapped__ = f

    def __repr__(self) -> str:
        return f"<SparseJacobian of {_name(self.f)}: mode={self.mode!r}, argnums={self.argnums!r}>"

    @property
    def origin(self) -> str:
        """How error messages name this Jacobian: ``adkit.jacobian(f, sparse=True)``."""
        return f"adkit.jacobian({_name(self.f)}, sparse=True)"

    def _key(self, args: tuple, kwargs: dict[str, Any]) -> tuple:
        numbers = (float, int, np.ndarray, np.generic)
        shapes = tuple(
            (type(a).__name__, np.shape(a), str(np.result_type(a)))
            if isinstance(a, numbers)
            else type(a).__name__
            for a in args
        )
        return self.argnums, shapes, tuple(sorted(kwargs))

    def explain(self, *args: Any, **kwargs: Any) -> SparsityInfo:
        """The pattern, colourings and mode for these arguments (detected on first use, then reused).

        >>> import numpy as np
        >>> info = SparseJacobian(lambda x: np.sin(x) * x).explain(np.ones(4))
        >>> info.nnz, info.p_forward, info.p_reverse, info.mode
        (4, 1, 1, 'forward')
        """
        return self._info(args, kwargs)[0]

    def _info(
        self, args: tuple, kwargs: dict[str, Any]
    ) -> tuple[SparsityInfo, _Plan, tuple[Tape, Any] | None]:
        key = self._key(args, kwargs)
        known = self._infos.get(key)
        if known is not None:
            return *known, None
        recorded = None
        if self._given is None:
            pattern, tape, out = _detect(self.f, args, self.argnums, kwargs, self.origin)
            recorded = (tape, out)
        else:
            _, x = _argument(self.f, args, self.argnums)
            if self._given.shape[1] != size_of(x):
                raise ValueError(
                    f"the pattern given has {self._given.shape[1]} columns but the input has {size_of(x)} "
                    "elements; give a pattern of shape (f(x).size, x.size)"
                )
            pattern = _Pattern(self._given, shape_of(x), (self._given.shape[0],), (), Workload(0, 0.0, 0.0))
        matrix = pattern.matrix
        m, n = matrix.shape
        columns = color_columns(matrix, self.strategy) if self.mode in ("forward", "auto") else None
        rows = color_rows(matrix, self.strategy) if self.mode in ("reverse", "auto") else None
        mode, reason, fwd, rev = _choose(
            self.mode,
            _count(columns) if columns is not None else None,
            _count(rows) if rows is not None else None,
            n,
            m,
            pattern.workload,
        )
        if pattern.conservative:
            own = "a primitive of its own, with no structure rule"
            why = "; ".join(f"{name}: {DENSE_FALLBACK.get(name, own)}" for name in pattern.conservative)
            reason += (
                f" The pattern is a superset where it went through {', '.join(pattern.conservative)}, "
                "each output element of which is counted as depending on every element of its "
                f"operands ({why})."
            )
        info = SparsityInfo(
            matrix,
            pattern.in_shape,
            pattern.out_shape,
            mode,
            reason,
            columns,
            rows,
            pattern.conservative,
            self.strategy,
            fwd,
            rev,
        )
        plan = _plan(info)
        if len(self._infos) >= 64:
            self._infos.clear()
        self._infos[key] = info, plan
        return info, plan, recorded

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The Jacobian at ``args``: an ``(m, n)`` ``scipy.sparse.csr_array`` (see the class).

        >>> import numpy as np, adkit
        >>> J = adkit.jacobian(lambda x: np.sin(x) * 2.0, sparse=True)(np.zeros(3))
        >>> type(J).__name__, J.nnz, J.diagonal()
        ('csr_array', 3, array([2., 2., 2.]))
        """
        sp = _scipy_sparse()
        info, plan, recorded = self._info(args, kwargs)
        position, x = _argument(self.f, args, self.argnums)
        colors, p = info.colors, info.passes
        # A pattern detected at another point (or given) may not hold here: one random direction more
        # checks the result (recorded is None exactly then).
        checked = recorded is None and self.check
        seeds = plan.seeds if checked else plan.seeds[:p]
        rows, cols = plan.rows, plan.cols
        if info.mode == "forward":
            dtype = _float_type(x)
            chunk = max(1, seeds.shape[0] if self.chunk is None else int(self.chunk))
            directions = seeds.astype(dtype, copy=False)
            out, compressed = _forward_compressed(
                self.f, args, position, x, kwargs, directions, chunk, self.origin
            )
            self._check_size(size_of(out), info)
            data = compressed[rows, colors[cols]]
        else:
            tape, out = (
                recorded
                if recorded is not None
                else _record(self.f, args, position, x, kwargs, self.origin, lean=True)
            )
            self._check_size(size_of(out), info)
            dtype = _float_type(primal(out))
            chunk = max(1, seeds.shape[0] if self.chunk is None else int(self.chunk))
            compressed = _reverse_compressed(tape, out, size_of(x), seeds.astype(dtype, copy=False), chunk)
            data = compressed[colors[rows], cols]
        if checked:
            product = compressed[:, p] if info.mode == "forward" else compressed[p]
            _verify(
                rows, cols, data, plan.check, product, info.mode == "reverse", self.f, self._given is not None
            )
        dtype = np.result_type(data.dtype, _float_type(x)) if data.size else _float_type(x)
        # the caller's own index arrays: eliminate_zeros() and friends change them in place
        entries = (data.astype(dtype, copy=False), plan.indices.copy(), plan.indptr.copy())
        return sp.csr_array(entries, shape=(info.m, info.n))

    def _check_size(self, m: int, info: SparsityInfo) -> None:
        if m != info.m and self._given is not None:
            raise ValueError(
                f"the pattern given has {info.m} rows but {_name(self.f)} returned {m} elements: give a "
                "pattern of shape (f(x).size, x.size), one row per output element in C order"
            )
        if m != info.m:
            raise ValueError(
                f"{_name(self.f)} returned {m} elements here but {info.m} when its pattern was "
                f"{'given' if self._given is not None else 'detected'} at these input shapes: its output "
                "shape depends on the input's values. Use sparse=False."
            )
