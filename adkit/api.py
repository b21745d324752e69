"""The friendly front end: ``diff``, ``grad``, ``jacobian``, ``jvp``, ``vjp`` and friends.

These take what a user naturally passes (numbers, arrays, nested tuples /
lists / dicts of them, several arguments), check it, and drive the strict
engines underneath. Shapes follow JAX: the derivative of ``f`` at ``x`` has
shape ``f(x).shape + x.shape``; a scalar function of a scalar gives a Python
float. Integer inputs are differentiated as floats.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from adkit import rules
from adkit.core import (
    Box,
    Level,
    Symbolic,
    as_real,
    carries_derivative,
    check_fits,
    escaped,
    new_level,
    primal,
    shape_of,
    size_of,
)
from adkit.forward import Dual
from adkit.modes import ModeChoice, probe
from adkit.pytree import TreeDef, flatten, unflatten
from adkit.reverse import Tape, Var, sweep, unit_cotangent

if TYPE_CHECKING:
    from adkit.sparse import SparseJacobian

MODES = ("forward", "reverse", "auto")


# -- checking what the user passed --------------------------------------------------


def _check_function(f: Any, api: str) -> None:
    if not callable(f):
        raise TypeError(
            f"adkit.{api} needs the function to differentiate as its first argument, "
            f"got {type(f).__name__} {f!r:.40}. Example: adkit.{api}(lambda x: x ** 2)"
        )


def _check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be 'forward', 'reverse' or 'auto', got {mode!r}")
    return mode


def _normalize_argnums(argnums: Any, nargs: int, fname: str) -> tuple[tuple[int, ...], bool]:
    """Argument positions to differentiate, and whether a single one was asked for."""
    single = isinstance(argnums, (int, np.integer))
    nums = (argnums,) if single else tuple(argnums) if isinstance(argnums, (tuple, list)) else None
    if nums is None or not nums or not all(isinstance(a, (int, np.integer)) for a in nums):
        raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    out = []
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(
                f"argnums={argnums!r} but {fname} was called with {nargs} positional argument(s)"
            )
        out.append(int(a) % nargs)
    return tuple(out), single


def _as_differentiable(x: Any, where: str) -> Any:
    """A leaf to differentiate with respect to, promoted to float (:func:`adkit.core.as_real`)."""
    if type(x) is float or (type(x) is np.ndarray and x.dtype.kind == "f"):
        return x  # (as_real's answer for the common cases, without its call)
    if isinstance(x, (numbers.Number, np.ndarray, np.generic, Box)):
        return as_real(x, where)
    raise TypeError(
        f"{where} is a {type(x).__name__}; adkit differentiates with respect to numbers, NumPy "
        "arrays, or tuples / lists / dicts of them. Pass other arguments at a position not in "
        "argnums."
    )


def _box_levels(x: Any) -> list[tuple[Box, Any]]:
    """The boxes around a value, outermost first, with their levels."""
    chain = []
    while isinstance(x, Box):
        chain.append((x, x.level))
        x = x.value
    return chain


@dataclass
class _Inputs:
    """The differentiated leaves of a call, and how to put them back."""

    args: tuple
    argnums: tuple[int, ...]  # the differentiated positions, each once
    treedefs: list[TreeDef]
    leaves: list[Any]
    counts: list[int]  # leaves per differentiated argument
    requested: tuple[int, ...] = ()  # argnums as asked for (JAX allows repeats: argnums=(0, 0))
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed through, never differentiated
    levels: frozenset = frozenset()  # levels of the traced values passed in
    caller: tuple = ()  # the caller's arrays among the arguments (results must not alias them: finish)
    origin: str = "adkit"  # the differentiation, as errors name it ("adkit.grad(loss)")

    @classmethod
    def of(
        cls, args: tuple, argnums: tuple[int, ...], fname: str, kwargs: dict[str, Any] | None = None
    ) -> _Inputs:
        unique = tuple(dict.fromkeys(argnums))
        flat = [flatten(x) if type(x) is not np.ndarray else ([x], None) for x in args]
        treedefs, leaves, counts, levels, caller = [], [], [], set(), []
        for a in unique:
            arg_leaves, treedef = flat[a]
            if not arg_leaves:
                raise TypeError(f"argument {a} of {fname} holds no numbers to differentiate")
            treedefs.append(treedef or flatten(args[a])[1])
            counts.append(len(arg_leaves))
            leaves += [_as_differentiable(x, f"argument {a} of {fname}") for x in arg_leaves]
        for arg_leaves, _ in flat:  # the arguments, differentiated or not: traced values and arrays
            for leaf in arg_leaves:
                if type(leaf) is np.ndarray:
                    caller.append(leaf)
                elif isinstance(leaf, Box):
                    for box, level in _box_levels(leaf):
                        if level.retired:
                            raise escaped(box)
                        levels.add(level)
        return cls(
            tuple(args),
            unique,
            treedefs,
            leaves,
            counts,
            tuple(argnums),
            kwargs or {},
            frozenset(levels),
            tuple(caller),
        )

    def call(self, f: Callable, new_leaves: Sequence[Any]) -> Any:
        args = list(self.args)
        start = 0
        for a, treedef, count in zip(self.argnums, self.treedefs, self.counts):
            args[a] = unflatten(treedef, list(new_leaves[start : start + count]))
            start += count
        return call_user(f, args, self.kwargs)

    def trace(self, f: Callable, new_leaves: Sequence[Any], level: Level, tape: Tape | None = None) -> Any:
        """``f`` on traced leaves; ``level`` is retired when it returns (see :class:`adkit.core.Level`)."""
        try:
            return self.call(f, new_leaves)
        finally:
            level.retired = True
            if tape is not None:
                tape.seal()

    def regroup(self, per_leaf: Sequence[Any]) -> tuple:
        """Per-leaf results back into one pytree per requested argument (repeats get their own copy)."""
        by_arg, start = {}, 0
        for a, treedef, count in zip(self.argnums, self.treedefs, self.counts):
            by_arg[a] = unflatten(treedef, list(per_leaf[start : start + count]))
            start += count
        out, seen = [], set()
        for a in self.requested or self.argnums:
            out.append(_copied(by_arg[a]) if a in seen else by_arg[a])
            seen.add(a)
        return tuple(out)

    def check_results(self, results: Any, fname: str) -> None:
        """Refuse to hand back a traced value that is not the caller's to have (never return a box).

        A result may hold boxes of the levels passed in and of the
        differentiations still running around this one (nesting); a box of a
        retired level escaped, and any other one was closed over.
        """
        for leaf in flatten(results)[0]:
            if not isinstance(leaf, Box):
                continue
            for box, level in _box_levels(leaf):
                if level in self.levels or (level.kind in ("transform", "staging") and not level.retired):
                    continue
                if level.retired:
                    raise escaped(box)
                raise TypeError(
                    f"{fname} would return a value that depends on {type(box).__name__}"
                    f"({_brief(primal(box))}) from {level.origin}, which is not one of its arguments: "
                    "the function closes over a traced value. adkit's transformations differentiate "
                    "with respect to their arguments: pass it as an argument (argnums=...), or use "
                    "adkit.stop_gradient(x) (x.detach() for a Var) to use its value as a constant."
                )

    @property
    def signature(self) -> tuple:
        """What the mode choice depends on: argument positions, structures and shapes."""
        return (
            self.argnums,
            tuple(self.treedefs),
            tuple(shape_of(x) for x in self.leaves),
            len(self.args),
            tuple(sorted(self.kwargs)),
        )

    @property
    def sizes(self) -> list[int]:
        return [size_of(x) for x in self.leaves]

    @property
    def n(self) -> int:
        return sum(self.sizes)


def _brief(x: Any) -> str:
    """A value in an error message: the number, or the array's shape."""
    return f"array of shape {np.shape(x)}" if np.ndim(x) else f"{x!r}"


def _copied(tree: Any) -> Any:
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [x.copy() if type(x) is np.ndarray else x for x in leaves])


def call_user(f: Callable, args: Sequence[Any], kwargs: dict[str, Any] | None = None) -> Any:
    """Call the user's function on traced values, making NumPy's errors about them readable.

    ``a = np.zeros(3); a[0] = x`` makes NumPy try ``float(x)``, which adkit
    refuses with an explanation; NumPy then replaces that error by "setting
    an array element with a sequence" (a traced value looks like a sequence
    to it). The explanation is the useful one, so it is raised instead.

    Inside a differentiation, floating-point edge cases give IEEE values
    (``inf``, ``nan``) without NumPy's RuntimeWarnings, as in JAX and
    PyTorch: ``sqrt'(0) = inf`` is a result, not an accident to warn about.
    """
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return f(*args, **kwargs) if kwargs else f(*args)
    except ValueError as err:
        cause = err.__cause__
        if isinstance(cause, TypeError) and str(cause).startswith("adkit cannot convert"):
            raise cause.with_traceback(err.__traceback__) from None
        raise


#: NumPy's kind letters of Python's own numbers (np.result_type cannot take an int beyond 64 bits)
_PYTHON_KINDS = {bool: "b", int: "i", float: "f", complex: "c"}


def _output_leaves(out: Any, fname: str) -> tuple[list[Any], TreeDef]:
    """The leaves of ``f``'s output, each a floating-point number or array (traced or not)."""
    if out is None:
        raise TypeError(
            f"{fname} returned None; it must return a number, an array or a pytree of them "
            "(a missing `return`?)"
        )
    leaves, treedef = flatten(out)
    for x in leaves:
        p = primal(x)
        t = type(p)
        if t is float or ((t is np.ndarray or t is np.float64) and p.dtype.kind == "f"):
            continue  # the common cases, without the general check below
        if not isinstance(p, (numbers.Number, np.ndarray, np.generic, Symbolic)):
            raise TypeError(
                f"{fname} returned a {type(p).__name__}; adkit needs numbers or arrays as outputs"
            )
        kind = _PYTHON_KINDS.get(type(p)) or np.result_type(p).kind
        if kind == "c":
            raise TypeError(f"{fname} returned a complex value; adkit differentiates real functions only")
        if kind == "O":  # read as a constant, its traced elements would get derivative 0, silently
            raise TypeError(
                f"{fname} returned an object array; adkit needs numbers or arrays of a floating type. An "
                "object array of traced values (a = np.empty(n, dtype=object); a[i] = x) is outside adkit: "
                "return adkit.array(a), or build the array with adkit.array([...]) or np.stack."
            )
        if kind in "biu":
            what = "a bool" if kind == "b" else "an integer"
            raise TypeError(
                f"{fname} returned {what} ({_brief(p)}), which does not depend differentiably on its "
                "input: comparisons and counts (np.allclose(x, y), (x > 1).sum()) are piecewise "
                "constant. Differentiate a floating-point expression instead."
            )
    return leaves, treedef


def _dtype(x: Any) -> np.dtype:
    """The floating-point type of a value (a Python float is float64)."""
    p = primal(x)
    return p.dtype if type(p) is np.ndarray else np.result_type(p)


def _like(t: Any, x: Any) -> Any:
    """A tangent or cotangent ``t`` given by the caller, in the floating-point type of ``x`` (as JAX)."""
    if isinstance(t, Box):
        return t
    dtype = _dtype(x)
    if np.ndim(t) or dtype != np.float64:
        return np.asarray(t, dtype=dtype)
    return float(t)


def _zeros(shape: tuple[int, ...], x: Any) -> np.ndarray:
    """Zeros of ``shape`` in the floating-point type of ``x``."""
    return np.zeros(shape, _dtype(x))


def finish(x: Any, caller: Sequence[np.ndarray] = ()) -> Any:
    """A result as the caller gets it: 0-d values become Python floats, arrays are the caller's own.

    (A float32 0-d value stays float32, a NumPy scalar.)

    An array that is read-only (a broadcast view, as the gradient of a sum)
    or that shares memory with an array the caller passed in (the identity's
    derivative, a cotangent passed straight through) is copied, so writing
    into a result never changes the caller's data or fails.
    """
    if type(x) is np.ndarray and x.ndim:
        if not x.flags.writeable or (caller and _aliases(x, caller)):
            return x.copy()
        return x
    if isinstance(x, Symbolic):  # a staged value (adkit.compile) records the step
        return x.returned(caller)
    if isinstance(x, Box):
        return x
    if np.ndim(x) == 0:  # (+ 0 turns IEEE -0.0, from a zero seed times a negative partial, into 0.0)
        return np.float32(x) + np.float32(0) if np.result_type(x) == np.float32 else float(x) + 0.0
    return x


def _aliases(x: np.ndarray, caller: Sequence[np.ndarray]) -> bool:
    """Whether ``x`` is one of the caller's arrays or a view that may share memory with one."""
    view = x.base is not None
    for c in caller:  # noqa: SIM110 (a loop: no generator per result on the hot path)
        if x is c or (view and np.may_share_memory(x, c)):
            return True
    return False


def _origin(api: str, f: Callable) -> str:
    """How an error names a differentiation: ``adkit.grad(loss)``."""
    return f"adkit.{api}({_name(f)})"


def _name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _strip(x: Any, level: int) -> Any:
    """The value of ``x`` with the boxes of ``level`` removed."""
    if isinstance(x, Box) and x.level == level:
        return x.value
    return x


# -- forward mode ---------------------------------------------------------------------


def _identity_rows(leaves: list[Any], start: int, stop: int) -> list[np.ndarray]:
    """Seed tangents for columns ``start:stop`` of the Jacobian: rows of the identity, in each leaf's type."""
    seeds, offset = [], 0
    for x in leaves:
        shape, size = shape_of(x), size_of(x)
        # row i of the chunk is e_(start + i); within this leaf that is column start + i - offset
        eye = np.eye(stop - start, size, start - offset, dtype=_dtype(x))
        seeds.append(eye.reshape((stop - start, *shape)))
        offset += size
    return seeds


# Array helpers for assembling Jacobians: NumPy for plain arrays, adkit's
# operations when the blocks are traced (a Jacobian inside a differentiation).


def _reshape(x: Any, shape: tuple) -> Any:
    return rules.reshape(x, shape) if isinstance(x, Box) else np.reshape(x, shape)


def _transpose(x: Any) -> Any:
    return rules.transpose(x) if isinstance(x, Box) else np.transpose(x)


def _concatenate(xs: list[Any]) -> Any:
    if len(xs) == 1:
        return xs[0]
    return rules.concatenate(xs) if any(isinstance(x, Box) for x in xs) else np.concatenate(xs)


Blocks = list[list[Any]]  # Jacobian blocks J[output leaf][input leaf]


def _forward_jacobian(f: Callable, inputs: _Inputs, chunk: int | None) -> tuple[Any, Blocks, TreeDef]:
    """Jacobian blocks ``J[o][l]`` by vector-mode forward passes of ``chunk`` directions."""
    n = inputs.n
    shapes = [shape_of(x) for x in inputs.leaves]
    sizes = inputs.sizes
    chunk = max(1, n if chunk is None else int(chunk))  # at least 1: an empty input still makes one pass
    columns: list[list[Any]] = []  # per output leaf, (k, m_o) chunks
    out_value = out_tree = None
    for start in range(0, max(n, 1), chunk):
        stop = min(n, start + chunk)
        level = new_level("transform", inputs.origin)
        seeds = _identity_rows(inputs.leaves, start, stop)
        boxed = [Dual.of_level(x, t, level) for x, t in zip(inputs.leaves, seeds)]
        out_leaves, out_tree = _output_leaves(inputs.trace(f, boxed, level), _name(f))
        if not columns:
            columns = [[] for _ in out_leaves]
            out_value = [_strip(y, level) for y in out_leaves]
        for o, y in enumerate(out_leaves):
            m_o = size_of(y)
            if isinstance(y, Dual) and y.level == level:
                columns[o].append(_reshape(y.tangent, (stop - start, m_o)))
            else:
                columns[o].append(_zeros((stop - start, m_o), y))
    blocks = []
    for o, y in enumerate(out_value):
        full = _concatenate(columns[o])
        row, offset = [], 0
        for size, shape in zip(sizes, shapes):
            part = full if size == n else full[offset : offset + size]
            # (n_l, m_o) -> out_shape + in_shape
            block = _reshape(_transpose(part), shape_of(y) + shape)
            # a contiguous copy instead of a transposed view, and zero seeds times
            # negative partials leave -0.0, which reads wrong: IEEE -0 + 0 = +0
            row.append(block if carries_derivative(block) else block + 0.0)
            offset += size
        blocks.append(row)
    return unflatten(out_tree, out_value), blocks, out_tree


def _reverse_jacobian(
    f: Callable, inputs: _Inputs, chunk: int | None, recorded: tuple[Tape, Any] | None = None
) -> tuple[Any, Blocks, TreeDef]:
    """Jacobian blocks ``J[o][l]`` by vectorized reverse sweeps of ``chunk`` cotangents."""
    tape, out = recorded if recorded is not None else _on_tape(f, inputs)
    level = tape.level
    out_leaves, out_tree = _output_leaves(out, _name(f))
    out_shapes = [shape_of(y) for y in out_leaves]
    out_sizes = [size_of(y) for y in out_leaves]
    m = sum(out_sizes)
    shapes = [shape_of(x) for x in inputs.leaves]
    sizes = inputs.sizes
    chunk = max(1, m if chunk is None else int(chunk))  # at least 1: an empty output still makes one sweep
    rows: list[list[Any]] = [[] for _ in inputs.leaves]  # per input leaf, (k, n_l) chunks
    for start in range(0, max(m, 1), chunk):
        stop = min(m, start + chunk)
        seeds = _identity_rows(out_leaves, start, stop)
        last = stop >= m  # the last sweep may release the tape as it goes
        adjoints = _sweep_outputs(tape, out_leaves, seeds, level, keep=len(inputs.leaves), consume=last)
        for i in range(len(inputs.leaves)):  # _on_tape puts the inputs first on the tape
            g = adjoints[i] if adjoints is not None and i < len(adjoints) else None
            shape = (stop - start, sizes[i])
            rows[i].append(_zeros(shape, inputs.leaves[i]) if g is None else _reshape(g, shape))
    full_rows = [_concatenate(r) for r in rows]
    blocks = []
    offset = 0
    for out_shape, m_o in zip(out_shapes, out_sizes):
        blocks.append(
            [
                _reshape(full if m_o == m else full[offset : offset + m_o], out_shape + shape)
                for full, shape in zip(full_rows, shapes)
            ]
        )
        offset += m_o
    return unflatten(out_tree, [_strip(y, level) for y in out_leaves]), blocks, out_tree


def _on_tape(f: Callable, inputs: _Inputs) -> tuple[Tape, Any]:
    """Evaluate ``f`` on a fresh (lean) tape; the inputs are its first entries.

    The tape's level is retired when ``f`` returns: sweeps run afterwards on
    the values it holds, and nothing new may be recorded at that level.
    """
    tape = Tape(lean=True, origin=inputs.origin)
    return tape, inputs.trace(f, tape.leaves(inputs.leaves), tape.level, tape)


def _sweep_outputs(
    tape: Tape,
    out_leaves: list[Any],
    seeds: list[Any],
    level: int,
    keep: int | None = None,
    consume: bool = False,
) -> list[Any] | None:
    """One (possibly vectorized) sweep from several outputs at once."""
    roots = [(y.index, s) for y, s in zip(out_leaves, seeds) if isinstance(y, Var) and y.level == level]
    if not roots:
        return None
    seeded: dict[int, Any] = {}
    for i, s in roots:
        seeded[i] = s if i not in seeded else seeded[i] + s
    return sweep(tape, seeded, keep=keep, consume=consume)


def _assemble(blocks: list[list[Any]], out_tree: TreeDef, inputs: _Inputs, single: bool) -> Any:
    """Jacobian blocks into the nested structure JAX returns."""
    per_output = []
    caller = inputs.caller
    for row in blocks:
        per_arg = inputs.regroup([finish(b, caller) for b in row])
        per_output.append(per_arg[0] if single else per_arg)
    result = unflatten(out_tree, per_output)
    inputs.check_results(result, inputs.origin)
    return result


# -- the public functions -------------------------------------------------------------


def stop_gradient(x: Any) -> Any:
    """``x`` as a constant: its plain values, with every level of differentiation removed.

    d/dx stop_gradient(x) = 0, as JAX's ``lax.stop_gradient``; ``x`` may be a
    pytree. Use it for a value a function should treat as fixed (a target, a
    running statistic), or for a traced value the function closes over.

    >>> grad(lambda x: x * stop_gradient(x))(3.0)
    3.0
    """
    leaves, treedef = flatten(x)
    return unflatten(treedef, [primal(leaf) for leaf in leaves])


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``f(x)`` and the directional derivative ``J_f(x) v``.

    One pass of dual numbers ``x + v ε`` through ``f``. ``primals`` and
    ``tangents`` are tuples with one entry per argument of ``f`` (each may be
    a number, an array or a pytree); a tangent may carry a leading axis of
    ``k`` directions, giving ``k`` directional derivatives at once.

    Returns:
        ``(out, tangent_out)`` with the structure of ``f``'s output.

    >>> import numpy as np
    >>> jvp(np.sin, (0.0,), (1.0,))
    (0.0, 1.0)
    >>> jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
    (6.0, 3.0)
    """
    _check_function(f, "jvp")
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp(f, primals, tangents) takes tuples: jvp(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents")
    inputs = _Inputs.of(tuple(primals), tuple(range(len(primals))), _name(f))
    inputs.origin = _origin("jvp", f)
    tangent_leaves = [x for t in tangents for x in flatten(t)[0]]
    if len(tangent_leaves) != len(inputs.leaves):
        raise ValueError("jvp: the tangents must have the same structure as the primals")
    tangent_leaves = [_like(t, x) for t, x in zip(tangent_leaves, inputs.leaves)]
    for x, t in zip(inputs.leaves, tangent_leaves):
        check_fits("jvp: a tangent", shape_of(t), shape_of(x), batched=True)
    pairs = list(zip(inputs.leaves, tangent_leaves))
    batch = {shape_of(t)[:1] for x, t in pairs if shape_of(t) != shape_of(x)}
    if len(batch) > 1 or (batch and any(shape_of(t) == shape_of(x) for x, t in pairs)):
        raise ValueError("jvp: either every tangent carries the same leading batch axis or none does")
    level = new_level("transform", inputs.origin)
    boxed = [Dual.of_level(x, t, level) for x, t in zip(inputs.leaves, tangent_leaves)]
    out_leaves, out_tree = _output_leaves(inputs.trace(f, boxed, level), _name(f))
    bshape = next(iter(batch)) if batch else ()
    caller = list(inputs.caller) + [t for t in tangent_leaves if type(t) is np.ndarray]
    values = [finish(_strip(y, level), caller) for y in out_leaves]
    tans = [
        y.tangent if isinstance(y, Dual) and y.level == level else _zeros(bshape + shape_of(y), y)
        for y in out_leaves
    ]
    tans = [finish(t, caller) for t in tans]
    result = unflatten(out_tree, values), unflatten(out_tree, tans)
    inputs.check_results(result, inputs.origin)
    return result


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable[[Any], tuple]]:
    """Reverse mode: ``f(x)`` and a function pulling cotangents back, ``u ↦ uᵀ J_f(x)``.

    ``f`` is evaluated once on a tape; each call of the returned function is
    one backward sweep over it. The cotangent has the structure and shapes of
    ``f``'s output (any shape); every leaf of it may carry the same leading
    axis of ``k`` cotangents, pulled back together in one vectorized sweep
    (the cotangents returned then carry that axis too).

    Returns:
        ``(out, vjp_fn)``; ``vjp_fn(u)`` returns a tuple with one cotangent
        per argument of ``f``.

    >>> out, pullback = vjp(lambda x, y: x * y, 2.0, 3.0)
    >>> out, pullback(1.0)
    (6.0, (3.0, 2.0))
    >>> import numpy as np
    >>> _, pullback = vjp(lambda x: x[:2] * x[2], np.array([1.0, 2.0, 3.0]))
    >>> pullback(np.eye(2))        # both rows of the Jacobian in one sweep
    (array([[3., 0., 1.],
           [0., 3., 2.]]),)
    """
    _check_function(f, "vjp")
    if not primals:
        raise TypeError("vjp(f, *primals) needs at least one primal: vjp(f, x)")
    inputs = _Inputs.of(primals, tuple(range(len(primals))), _name(f))
    inputs.origin = _origin("vjp", f)
    tape, out = _on_tape(f, inputs)
    level = tape.level
    out_leaves, out_tree = _output_leaves(out, _name(f))
    out_value = unflatten(out_tree, [finish(_strip(y, level), inputs.caller) for y in out_leaves])
    inputs.check_results(out_value, inputs.origin)
    shapes = [shape_of(y) for y in out_leaves]

    def vjp_fn(cotangent: Any) -> tuple:
        ct_leaves, ct_tree = flatten(cotangent)
        if len(ct_leaves) != len(out_leaves):
            raise ValueError(
                f"the cotangent must have the structure of f's output: {out_tree}, got {ct_tree}"
            )
        batches = set()
        for c, s in zip(ct_leaves, shapes):
            cs = shape_of(c)
            check_fits("vjp: a cotangent", cs, s, batched=True)
            batches.add(cs[: len(cs) - len(s)])
        cts = [_like(c, y) for c, y in zip(ct_leaves, out_leaves)]
        if len(batches) > 1:
            raise ValueError(
                "either every cotangent carries the same leading axis of k cotangents or none does"
            )
        batch = batches.pop()
        adjoints = _sweep_outputs(tape, out_leaves, cts, level, keep=len(inputs.leaves))
        caller = list(inputs.caller) + [c for c in ct_leaves if type(c) is np.ndarray]
        per_leaf = []
        for i, x in enumerate(inputs.leaves):
            g = adjoints[i] if adjoints is not None and i < len(adjoints) else None
            per_leaf.append(finish(_zeros(batch + shape_of(x), x) if g is None else g, caller))
        cotangents = inputs.regroup(per_leaf)
        inputs.check_results(cotangents, inputs.origin)
        return cotangents

    return out_value, vjp_fn


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(f(x), ∇f(x))`` from one reverse pass; ``f`` returns a scalar.

    >>> value_and_grad(lambda x: x ** 3)(2.0)
    (8.0, 12.0)
    """
    _check_function(f, "value_and_grad")
    name = _name(f)
    positions: dict[int, tuple[tuple[int, ...], bool]] = {}  # argnums normalized, per number of args

    origin = _origin("grad", f)

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums_single = positions.get(len(args))
        if nums_single is None:
            nums_single = positions[len(args)] = _normalize_argnums(argnums, len(args), name)
        nums, single = nums_single
        inputs = _Inputs.of(args, nums, name, kwargs)
        inputs.origin = origin
        tape, out = _on_tape(f, inputs)
        level = tape.level
        container = isinstance(out, (tuple, list, dict))
        if container or (out is not None and shape_of(out) != ()):
            got = f"a {type(out).__name__}" if container else f"shape {shape_of(out)}"
            raise TypeError(
                f"grad needs {_name(f)} to return a scalar, got {got}. Use adkit.jacobian for "
                "vector outputs, or adkit.vjp for a vector-Jacobian product."
            )
        _output_leaves(out, name)
        traced = isinstance(out, Var) and out.level == level
        # one sweep, then the tape is done with: release it while sweeping
        adjoints = []
        if traced:
            seeds = {out.index: unit_cotangent(out.value)}
            adjoints = sweep(tape, seeds, keep=len(inputs.leaves), consume=True)
        caller = inputs.caller
        per_leaf = []
        for i, x in enumerate(inputs.leaves):
            g = adjoints[i] if i < len(adjoints) else None
            per_leaf.append(finish(_zeros(shape_of(x), x) if g is None else g, caller))
        grads = inputs.regroup(per_leaf)
        result = finish(_strip(out, level), caller), grads[0] if single else grads
        inputs.check_results(result, origin)
        return result

    value_and_grad_f.__name__ = f"value_and_grad_of_{_name(f)}"
    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient ∇f of a scalar function, by reverse mode (one sweep).

    The gradient has the structure of the differentiated argument (a number,
    an array, or a pytree such as a list of ``(W, b)`` pairs).

    >>> import numpy as np
    >>> grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
    array([2., 4.])
    >>> grad(lambda x, y: x * y, argnums=(0, 1))(2.0, 3.0)
    (3.0, 2.0)
    """
    _check_function(f, "grad")
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    grad_f.__name__ = f"grad_of_{_name(f)}"
    return grad_f


def jacobian(
    f: Callable,
    mode: str = "auto",
    argnums: int | Sequence[int] = 0,
    chunk: int | None = None,
    sparse: bool = False,
) -> Callable[..., Any]:
    """The Jacobian of ``f``, of shape ``f(x).shape + x.shape``.

    ``mode="forward"`` pushes all ``n`` input directions through one
    vector-mode pass; ``mode="reverse"`` pulls all ``m`` output cotangents
    through one vectorized sweep; ``mode="auto"`` picks the cheaper (see
    :func:`diff`). ``chunk`` bounds how many directions travel at once, which
    bounds memory (as ForwardDiff.jl's chunk size).

    ``sparse=True`` returns a :class:`adkit.sparse.SparseJacobian`: the
    Jacobian as an ``(m, n)`` ``scipy.sparse`` matrix from ``p`` compressed
    directions, ``p`` the colours of its sparsity pattern, with the pattern
    and colours on ``.explain(x)`` (needs SciPy; see :mod:`adkit.sparse`).

    >>> import numpy as np
    >>> jacobian(lambda x: x ** 2, mode="forward")(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    return diff(f, mode=mode, argnums=argnums, chunk=chunk, sparse=sparse)


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian ∇²f of a scalar function: forward mode over reverse mode.

    >>> import numpy as np
    >>> hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    _check_function(f, "hessian")
    h = jacobian(grad(f, argnums), mode="forward", argnums=argnums)

    @functools.wraps(f)
    def hessian_f(*args: Any, **kwargs: Any) -> Any:
        return h(*args, **kwargs)

    hessian_f.__name__ = f"hessian_of_{_name(f)}"
    return hessian_f


def hvp(f: Callable) -> Callable[[Any, Any], Any]:
    """Hessian-vector product ``(x, v) ↦ ∇²f(x) v`` without forming the Hessian.

    One forward pass over one reverse sweep: about the cost of two gradients.

    >>> import numpy as np
    >>> hvp(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])
    """
    _check_function(f, "hvp")
    g = grad(f)

    def hvp_f(x: Any, v: Any) -> Any:
        return jvp(g, (x,), (v,))[1]

    hvp_f.__name__ = f"hvp_of_{_name(f)}"
    return hvp_f


def derivative(f: Callable, order: int = 1) -> Callable[[Any], Any]:
    """The ``order``-th derivative of a scalar function of a scalar, by nested dual numbers.

    Each order nests one more level of dual numbers: a value holds
    ``2**order`` numbers, and a product of two nested duals takes three
    products one level down, so the time grows about threefold per order
    (tutorial 9 counts the operations). Taylor mode (``order + 1``
    coefficients, ``O(order**2)`` work per product) would be cheaper at high
    orders; adkit does not implement it.

    >>> import numpy as np
    >>> derivative(np.sin, order=2)(0.5), -np.sin(0.5)
    (-0.479425538604203, np.float64(-0.479425538604203))
    """
    _check_function(f, "derivative")
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 0:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    fn = f
    for _ in range(int(order)):
        fn = _scalar_derivative(fn)

    @functools.wraps(f)
    def derivative_f(x: Any) -> Any:
        return fn(x)

    derivative_f.__name__ = f"derivative{order}_of_{_name(f)}"
    return derivative_f


def _scalar_derivative(f: Callable) -> Callable[[Any], Any]:
    def df(x: Any) -> Any:
        inputs = _Inputs.of((x,), (0,), _name(f))
        inputs.origin = _origin("derivative", f)
        x = inputs.leaves[0]
        shape = shape_of(x)
        level = new_level("transform", inputs.origin)
        if shape == ():
            seed = 1.0
        else:  # a grid of points: the ones direction, and a probe that tells elementwise f from others
            probe = 1.0 + 0.25 * np.cos(1.7 * np.arange(size_of(x))).reshape(shape)  # distinct per point
            seed = np.stack([np.ones(shape), probe]).astype(_dtype(x))
        (out,), _ = _output_leaves(inputs.trace(f, [Dual.of_level(x, seed, level)], level), _name(f))
        if shape_of(out) != shape:
            raise TypeError(
                f"adkit.derivative differentiates a scalar function of a scalar (or one applied at each "
                f"point of an array); {_name(f)} maps shape {shape} to shape {shape_of(out)}. Use "
                "adkit.jacobian(f) for vector functions (adkit.grad for a scalar output)."
            )
        tangent = (
            out.tangent
            if isinstance(out, Dual) and out.level == level
            else _zeros(seed.shape, x)
            if shape
            else 0.0
        )
        if shape:
            d, probed = tangent[0], tangent[1]
            if not np.allclose(primal(probed), primal(d) * seed[1], rtol=1e-9, atol=0.0, equal_nan=True):
                raise TypeError(
                    f"adkit.derivative at an array of points needs {_name(f)} to act elementwise (each "
                    "output depending only on the input at the same position), but its outputs mix the "
                    "points: its derivative is a matrix. Use adkit.jacobian(f)."
                )
            tangent = d
        result = finish(tangent)
        inputs.check_results(result, inputs.origin)
        return result

    df.__name__ = f"d_{_name(f)}"
    return df


def diff(
    f: Callable,
    mode: str = "auto",
    argnums: int | Sequence[int] = 0,
    chunk: int | None = None,
    sparse: bool = False,
) -> Derivative | SparseJacobian:
    """The derivative of ``f`` as a callable :class:`Derivative` object.

    ``diff(f)(x)`` is the Jacobian of ``f`` at ``x``, of shape
    ``f(x).shape + x.shape`` (a Python float for a scalar function of a
    scalar). With ``argnums=(0, 1)`` it is a tuple, one entry per argument.
    ``mode`` is ``"forward"`` (dual numbers, cost grows with the input size
    n), ``"reverse"`` (a tape, cost grows with the output size m) or
    ``"auto"``, which picks the cheaper from n and m; ``.explain(x)`` says
    which and why. ``sparse=True``: see :func:`jacobian`.

    >>> import numpy as np
    >>> d = diff(lambda x: np.log(x[0]) + x[0] * x[1] - np.sin(x[1]))
    >>> d(np.array([2.0, 5.0]))
    array([5.5       , 1.71633781])
    """
    _check_function(f, "diff")
    if sparse:
        from adkit.sparse import SparseJacobian  # SciPy and networkx: only when asked for

        return SparseJacobian(f, _check_mode(mode), argnums, chunk)
    return Derivative(f, _check_mode(mode), argnums, chunk)


class Derivative:
    """``diff(f)``: call it for the Jacobian; ``.explain(*args)`` for the mode ``auto`` picks.

    With ``mode="auto"`` the first call for a given input structure records
    ``f`` on a tape (which gives m, the output size, and the workload the
    cost model needs) and reuses that tape when reverse mode wins. The
    decision is remembered per input structure on this object, so later
    calls go straight to the chosen mode. With n = 1, forward mode needs no
    probe: one pass gives the whole Jacobian.
    """

    def __init__(self, f: Callable, mode: str, argnums: int | Sequence[int], chunk: int | None):
        self.f = f
        self.mode = mode
        self.argnums = argnums
        self.chunk = chunk
        self._choices: dict[Any, ModeChoice] = {}
        self.__name__ = f"diff_of_{_name(f)}"
        self.__doc__ = f"The derivative of {_name(f)} ({mode} mode)."
        self.__module__ = getattr(f, "__module__", None) or "adkit"
        self.__qualname__ = self.__name__
        self.__wrapped__ = f

    def __repr__(self) -> str:
        return f"<Derivative {self.__name__}: mode={self.mode!r}, argnums={self.argnums!r}>"

    def _inputs(self, args: tuple, kwargs: dict[str, Any]) -> tuple[_Inputs, bool]:
        nums, single = _normalize_argnums(self.argnums, len(args), _name(self.f))
        inputs = _Inputs.of(args, nums, _name(self.f), kwargs)
        inputs.origin = f"adkit.diff({_name(self.f)}, mode={self.mode!r})"
        return inputs, single

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        inputs, single = self._inputs(args, kwargs)
        mode, recorded = self.mode, None
        if mode == "auto":
            key = inputs.signature
            choice = self._choices.get(key)
            if choice is not None:
                mode = choice.mode
            elif inputs.n == 1:
                mode = "forward"
            else:
                choice, recorded = probe(self.f, inputs, record=_on_tape)
                self._remember(key, choice)
                mode = choice.mode
        if mode == "forward":
            _, blocks, out_tree = _forward_jacobian(self.f, inputs, self.chunk)
        else:
            _, blocks, out_tree = _reverse_jacobian(self.f, inputs, self.chunk, recorded)
        return _assemble(blocks, out_tree, inputs, single)

    def explain(self, *args: Any, **kwargs: Any) -> ModeChoice:
        """The mode ``auto`` picks for these arguments: n, m, estimated costs and the reason.

        >>> import numpy as np
        >>> choice = diff(lambda x: np.sum(x ** 2)).explain(np.ones(1000))
        >>> choice.mode, choice.n, choice.m
        ('reverse', 1000, 1)
        """
        inputs, _ = self._inputs(args, kwargs)
        choice, _ = probe(self.f, inputs, record=_on_tape, requested=self.mode)
        if self.mode == "auto":
            self._remember(inputs.signature, choice)
        return choice

    def _remember(self, key: Any, choice: ModeChoice) -> None:
        if len(self._choices) >= 64:  # many input structures: keep the memory bounded
            self._choices.clear()
        self._choices[key] = choice


__all__ = [
    "Derivative",
    "derivative",
    "diff",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "primal",
    "stop_gradient",
    "value_and_grad",
    "vjp",
]
