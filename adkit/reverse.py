"""Reverse mode on a tape: ``Var``, ``Tape`` and the backward sweep.

Evaluating ``f`` on ``Var`` inputs records a *Wengert list*: one entry per
elementary operation, in evaluation order, holding the primitive, the
positions of its traced operands, its output, and what its VJP rule needs.
The backward sweep walks the list once from the end, pulling each entry's
adjoint back to its operands. It is a loop, never recursion, so a chain of a
million operations differentiates.

Memory and speed. Entries hold positions (ints), never ``Var`` objects, and
a ``Var`` holds its tape: there are no reference cycles, so a tape nobody
references is freed at once by reference counting and the garbage collector
never walks it. Operations on Python floats take a short path that stores
the local partial derivatives (from the rule table) in a flat tuple.

Entries are tuples, told apart by their length:

* ``(None, out)``: an input (a leaf);
* ``(prim, out, (parents, operands, params))``: any operation; its VJP rule
  is called during the sweep;
* ``(prim, out, (parents, operands, params, fast_vjp))``: the same for an
  operation on plain values (no boxes inside); a first-order sweep calls
  ``fast_vjp`` for all operands at once (see ``rules.py``);
* ``(pid, out, i, d)``: a float operation of one traced operand at tape
  position ``i``, with local partial derivative ``d``;
* ``(pid, out, i, d, c)``: the same with a constant operand ``c``, on the
  right of the traced one, or on its left when ``i`` is stored as ``~i``
  (negative);
* ``(pid, out, i, j, di, dj)``: a float operation of two traced operands.

The short layouts name the primitive by its integer id (``Primitive.id``),
so they hold only numbers: CPython's garbage collector stops tracking such
tuples after its first pass, and a long tape costs the collector nothing.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from adkit import rules
from adkit.core import (
    Box,
    EscapedTracerError,
    Level,
    Primitive,
    as_real,
    bind,
    escaped_message,
    new_level,
    primal,
    primitive_by_id,
    process,
    refuse_complex,
    shape_of,
)
from adkit.forward import _short
from adkit.numpy_bridge import UFUNCS, ArrayOps, array_ufunc
from adkit.rules import RAISES

_LEAF = None  # the "primitive" of an input entry


class FreedTapeError(RuntimeError):
    """Raised when a tape freed by ``backward()`` is used again."""


class _FreedEntries(list):
    """Stands in for a freed tape's entries: using them explains what happened."""

    __slots__ = ("level",)

    def append(self, _: Any) -> None:
        if self.level.retired:  # a functional call's tape: the value escaped from it
            raise EscapedTracerError(escaped_message(self.level, "Var"))
        raise FreedTapeError(
            "this value was computed on a tape that backward() has already freed. Recompute "
            "it from the inputs (Var leaves stay usable), or call backward(retain_graph=True) "
            "to keep the tape for another use."
        )

    def __getitem__(self, _: Any) -> Any:
        self.append(None)


class _SealedEntries(list):
    """The entries of a functional call's tape after the call: sweeps read them, nothing is added."""

    __slots__ = ("level",)

    def append(self, _: Any) -> None:
        raise EscapedTracerError(escaped_message(self.level, "Var"))


class Node(NamedTuple):
    """One entry of a tape, as the graph and trace views read it."""

    index: int
    primitive: Primitive | None  # None for an input
    inputs: tuple[int | None, ...]  # tape positions of traced operands (None: a constant)
    operands: tuple[Any, ...]  # operand values as the primitive saw them
    params: dict[str, Any]
    value: Any

    @property
    def is_input(self) -> bool:
        return self.primitive is None

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.value)

    @property
    def label(self) -> str:
        """The operation written with its operands' positions, e.g. ``v1 * v2``."""
        if self.primitive is None:
            return "input"
        names = [f"v{i}" if i is not None else _constant(x) for i, x in zip(self.inputs, self.operands)]
        return self.primitive.format(names, self.params)


def _constant(x: Any) -> str:
    """A constant operand as a trace shows it: ``2``, ``0.5``, ``array(3, 4)``."""
    x = primal(x)
    if np.ndim(x) == 0:
        return f"{float(x):.6g}"
    return f"array{np.shape(x)}"


class Tape:
    """A Wengert list: the elementary operations of a computation in evaluation order.

    Functional calls (``adkit.grad``, ``adkit.vjp``, ...) make a tape of
    their own. The imperative API (``Var``) records on the *current* tape of
    the running context (a ``contextvars.ContextVar``, so threads and async
    tasks never share one). Use a tape as a context manager to record a
    computation and inspect it:

    >>> with Tape() as tape:
    ...     x = Var(2.0)
    ...     y = x * x + 1.0
    >>> [node.label for node in tape.nodes]
    ['input', 'v0 * v0', 'v1 + 1']
    >>> y.backward()
    >>> x.grad
    4.0
    """

    __slots__ = ("__weakref__", "_entries", "_leaves", "_tokens", "lean", "level")

    def __init__(self, lean: bool = False, origin: str | None = None) -> None:
        #: keep only what the reverse rules need (see :func:`reverse_process`);
        #: the functional API's tapes are lean, tapes you inspect are not
        self.lean = lean
        self._tokens: list[contextvars.Token] = []
        self._entries: list[tuple] = []
        #: differentiation level of the values recorded here: a transform's
        #: (``origin`` names the functional call that made the tape) or a tape's own
        self.level: Level = new_level("transform", origin) if origin else new_level("tape", "an adkit.Tape")
        # imperative leaves, by position, for .grad (weak: a tape never keeps its Vars alive)
        self._leaves: dict[int, weakref.ref] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def seal(self) -> None:
        """Retire this tape's level (its function has returned): sweeps may read it, nothing may add to it."""
        self.level.retired = True
        sealed = _SealedEntries(self._entries)
        sealed.level = self.level
        self._entries = sealed

    @property
    def freed(self) -> bool:
        """True after a ``backward()`` without ``retain_graph`` released the entries."""
        return type(self._entries) is _FreedEntries

    def leaf(self, value: Any) -> Var:
        """Record an input and return its traced value."""
        entries = self._entries
        index = len(entries)
        entries.append((_LEAF, value))
        return Var._make(value, self, index, self.level)

    def leaves(self, values: Sequence[Any]) -> list[Var]:
        """Record several inputs at once (the functional API's arguments)."""
        return [self.leaf(value) for value in values]

    @property
    def nodes(self) -> list[Node]:
        """The entries as :class:`Node` records, in evaluation order."""
        if self.freed:
            raise FreedTapeError(
                "this tape was freed by backward(); use backward(retain_graph=True) to inspect it after"
            )
        values = [e[1] for e in self._entries]
        return [_node(i, e, values) for i, e in enumerate(self._entries)]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __repr__(self) -> str:
        state = "freed" if self.freed else f"{len(self._entries)} nodes"
        return f"<adkit.Tape level={self.level}, {state}>"

    def __enter__(self) -> Tape:
        self._tokens.append(_current_tape.set(weakref.ref(self)))
        return self

    def __exit__(self, *exc: Any) -> None:
        _current_tape.reset(self._tokens.pop())


def _node(index: int, entry: tuple, values: list[Any]) -> Node:
    """Decode an entry; ``values`` holds the outputs of the entries before it."""
    n = len(entry)
    prim, out = entry[0], entry[1]
    if type(prim) is int:
        prim = primitive_by_id(prim)
    if n == 2:
        return Node(index, None, (), (), {}, out)
    if n == 3:
        parents, operands, params = entry[2][:3]
        return Node(index, prim, tuple(parents), tuple(operands), params, out)
    if n == 4:
        return Node(index, prim, (entry[2],), (values[entry[2]],), {}, out)
    if n == 5:
        i, c = entry[2], entry[4]
        if i >= 0:
            return Node(index, prim, (i, None), (values[i], c), {}, out)
        return Node(index, prim, (None, ~i), (c, values[~i]), {}, out)
    i, j = entry[2], entry[3]
    return Node(index, prim, (i, j), (values[i], values[j]), {}, out)


# The imperative API's current tape, per context (so per thread). A weak
# reference: a tape that no Var uses any more is freed.
_current_tape: contextvars.ContextVar[weakref.ref | None] = contextvars.ContextVar("adkit_tape", default=None)


def current_tape() -> Tape:
    """The tape that ``Var(...)`` records on in this context (made on first use)."""
    ref = _current_tape.get()
    tape = ref() if ref is not None else None
    if tape is None or tape.freed:
        tape = Tape()
        _current_tape.set(weakref.ref(tape))
    return tape


class Var(ArrayOps, Box):
    """A traced value of reverse mode, PyTorch style.

    ``Var(value)`` makes an input on the current tape; arithmetic, ``np.*``
    functions and ``adkit.*`` functions on it are recorded; ``y.backward()``
    sweeps the tape back from ``y`` and leaves ``dy/dx`` in ``x.grad`` for
    every input ``x``.

    ``.grad`` **accumulates**, as in PyTorch: a second ``backward()`` adds to
    it (that is how gradients of a sum of losses are built). Call
    ``x.zero_grad()`` (or set ``x.grad = None``) before recomputing, e.g. when
    re-running a notebook cell. Functional ``adkit.grad(f)(x)`` never
    accumulates anything.

    >>> x = Var(3.0)
    >>> y = x * x
    >>> y.backward()
    >>> x.grad
    6.0
    >>> (x * 2.0).backward()
    >>> x.grad
    8.0
    >>> x.zero_grad(); x.grad is None
    True
    """

    __slots__ = ("__weakref__", "_index", "_level", "_tape", "grad", "value")

    def __init__(self, value: Any):
        value = as_real(value, "Var")
        tape = current_tape()
        if isinstance(value, Box) and value._level >= tape.level:
            raise ValueError("Var(...) of a value traced at a deeper level; use adkit.grad to nest")
        index = len(tape._entries)
        tape._entries.append((_LEAF, value))
        tape._leaves[index] = weakref.ref(self)
        self.value = value
        self._tape = tape
        self._index = index
        self._level = tape.level
        self.grad = None

    @classmethod
    def _make(cls, value: Any, tape: Tape, index: int, level: int) -> Var:
        v = object.__new__(cls)
        v.value = value
        v._tape = tape
        v._index = index
        v._level = level
        v.grad = None
        return v

    @property
    def tape(self) -> Tape:
        """The tape this value was recorded on."""
        return self._tape

    @property
    def index(self) -> int:
        """This value's position on its tape."""
        return self._index

    @property
    def is_leaf(self) -> bool:
        """True for an input made with ``Var(...)``."""
        return self._index in self._tape._leaves

    def detach(self) -> Any:
        """The plain value, cut from every tape (PyTorch's ``detach``): a constant to later operations.

        >>> x = Var(2.0)
        >>> x.detach()
        2.0
        """
        return primal(self)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad`` becomes ``None``)."""
        self.grad = None

    def backward(self, cotangent: Any = None, retain_graph: bool = False) -> None:
        """Sweep the tape back from this value, accumulating into inputs' ``.grad``.

        Args:
            cotangent: the adjoint to start from; required unless this value
                is a scalar (then 1). ``y.backward(np.ones(y.shape))``
                differentiates the sum of ``y``.
            retain_graph: keep the tape for another sweep. By default the
                tape's memory is freed, as in PyTorch.
        """
        tape = self._tape
        if tape.freed:
            raise FreedTapeError(
                "backward() was already called on this value's tape and the tape was freed. "
                "Pass retain_graph=True to the first backward() to sweep twice, or recompute "
                "the value."
            )
        shape = shape_of(self.value)
        if cotangent is None:
            if shape != ():
                raise ValueError(
                    f"backward() on a value of shape {shape} needs a cotangent of that shape "
                    f"(y.backward(np.ones({shape})) differentiates y.sum()); only scalars "
                    "default to 1"
                )
            cotangent = 1.0
        elif shape_of(cotangent) != shape:
            raise ValueError(f"cotangent of shape {shape_of(cotangent)} given for a value of shape {shape}")
        adjoints = sweep(tape, {self._index: cotangent})
        for index, ref in list(tape._leaves.items()):
            leaf = ref()
            if leaf is None or index >= len(adjoints):
                continue
            g = adjoints[index]
            if g is None:
                continue
            if leaf.grad is not None:
                leaf.grad = leaf.grad + g
            elif type(g) is np.ndarray and (not g.flags.writeable or np.may_share_memory(g, cotangent)):
                leaf.grad = g.copy()  # .grad is the user's to update in place (w.grad *= 0.5)
            else:
                leaf.grad = g
        if not retain_graph:
            free(tape)

    def __repr__(self) -> str:
        grad = "" if self.grad is None else f", grad={_short(self.grad)}"
        return f"Var({_short(self.value)}{grad})"

    # -- short paths for Python floats: the same rules, no generic dispatch.
    # Each checks that the case is the simple one and otherwise defers to the
    # general path in ArrayOps / Primitive.
    def __add__(self, other: Any) -> Any:
        return _binary(rules.add, self, other)

    def __radd__(self, other: Any) -> Any:
        return _binary(rules.add, other, self)

    def __sub__(self, other: Any) -> Any:
        return _binary(rules.subtract, self, other)

    def __rsub__(self, other: Any) -> Any:
        return _binary(rules.subtract, other, self)

    def __mul__(self, other: Any) -> Any:
        return _binary(rules.multiply, self, other)

    def __rmul__(self, other: Any) -> Any:
        return _binary(rules.multiply, other, self)

    def __truediv__(self, other: Any) -> Any:
        return _binary(rules.divide, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _binary(rules.divide, other, self)

    def __pow__(self, other: Any) -> Any:
        return _binary(rules.power, self, other)

    def __rpow__(self, other: Any) -> Any:
        return _binary(rules.power, other, self)

    def __neg__(self) -> Any:
        return self._apply_unary(rules.negative)

    def __matmul__(self, other: Any) -> Any:
        return _on_arrays(rules.matmul, self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _on_arrays(rules.matmul, other, self)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # ``ndarray @ Var`` and ``ndarray + Var`` arrive here: arithmetic takes the short paths
        if not kwargs and method == "__call__":
            if len(inputs) == 2:
                short = _BINARY_UFUNCS.get(ufunc)
                if short is not None:
                    return short[0](short[1], *inputs)
            else:  # np.tanh(x): straight to the primitive's short paths
                prim = _UNARY_UFUNCS.get(ufunc)
                if prim is not None:
                    return self._apply_unary(prim)
            op = UFUNCS.get(ufunc)
            if op is not None:
                return op(*inputs)
        return array_ufunc(ufunc, method, *inputs, **kwargs)

    def _apply_unary(self, prim: Primitive) -> Any:
        """``prim(self)``, with the short path for a Python float inside."""
        xv = self.value
        if type(xv) is float and prim.scalar_impl is not None:
            try:  # math's functions directly; they raise where NumPy gives inf or nan
                out = prim.float_impl(xv)
                d = prim.float_partials[0](out, xv)
            except RAISES:
                out, (d,) = _guarded(prim, (xv,), (0,))
            tape = self._tape
            entries = tape._entries
            index = len(entries)
            entries.append((prim.id, out, self._index, d))
            v = _new(Var)
            v.value, v._tape, v._index, v._level, v.grad = out, tape, index, self._level, None
            return v
        return self._apply_one(prim, _NO_PARAMS)

    def _apply_one(self, prim: Primitive, params: dict[str, Any]) -> Any:
        """``prim(self, **params)``, recorded directly when an array is inside."""
        xv = self.value
        if type(xv) is np.ndarray:
            out = prim.impl(xv, **params)
            return _record(prim, self._tape, self._level, out, (self._index,), (xv,), params)
        return bind(prim, (self,), params)


_new = object.__new__  # creating Vars in the short paths without a constructor call
_NO_PARAMS: dict = {}


def _guarded(prim: Primitive, xs: tuple, which: tuple[int, ...]) -> tuple[Any, list[Any]]:
    """Value and partials ``which`` by the guarded functions: NumPy's inf or nan where ``math`` raised."""
    out = prim.scalar_impl(*xs)
    return out, [prim.partials[i](out, *xs) for i in which]


def _binary(prim: Primitive, x: Any, y: Any) -> Any:
    """``prim(x, y)`` for an elementwise ``prim``: a short path for traced Python floats."""
    tx, ty = type(x), type(y)
    if tx is Var:
        xv = x.value
        if type(xv) is float:
            if ty is float or ty is int:
                try:
                    out = prim.float_impl(xv, y)
                    d = prim.float_partials[0](out, xv, y)
                except RAISES:
                    out, (d,) = _guarded(prim, (xv, y), (0,))
                tape = x._tape
                entries = tape._entries
                index = len(entries)
                entries.append((prim.id, out, x._index, d, y))
                v = _new(Var)
                v.value, v._tape, v._index, v._level, v.grad = out, tape, index, x._level, None
                return v
            if ty is Var and y._tape is x._tape and type(y.value) is float:
                yv = y.value
                try:
                    out = prim.float_impl(xv, yv)
                    dx, dy = prim.float_partials
                    dx, dy = dx(out, xv, yv), dy(out, xv, yv)
                except RAISES:
                    out, (dx, dy) = _guarded(prim, (xv, yv), (0, 1))
                tape = x._tape
                entries = tape._entries
                index = len(entries)
                entries.append((prim.id, out, x._index, y._index, dx, dy))
                v = _new(Var)
                v.value, v._tape, v._index, v._level, v.grad = out, tape, index, x._level, None
                return v
    elif ty is Var:
        yv = y.value
        if type(yv) is float and (tx is float or tx is int):
            try:
                out = prim.float_impl(x, yv)
                d = prim.float_partials[1](out, x, yv)
            except RAISES:
                out, (d,) = _guarded(prim, (x, yv), (1,))
            tape = y._tape
            entries = tape._entries
            index = len(entries)
            entries.append((prim.id, out, ~y._index, d, x))
            v = _new(Var)
            v.value, v._tape, v._index, v._level, v.grad = out, tape, index, y._level, None
            return v
    return _on_arrays(prim, x, y)


def _on_arrays(prim: Primitive, x: Any, y: Any) -> Any:
    """``prim(x, y)``, recorded directly when the traced operands hold arrays on one tape."""
    if type(x) is Var:
        xv = x.value
        if type(xv) is np.ndarray:
            if type(y) is Var:
                yv = y.value
                if y._tape is x._tape and not isinstance(yv, Box):
                    return _record(prim, x._tape, x._level, prim.impl(xv, yv), (x._index, y._index), (xv, yv))
            elif not isinstance(y, Box):
                return _record(prim, x._tape, x._level, prim.impl(xv, y), (x._index, None), (xv, y))
    elif type(y) is Var:
        yv = y.value
        if type(yv) is np.ndarray and not isinstance(x, Box):
            return _record(prim, y._tape, y._level, prim.impl(x, yv), (None, y._index), (x, yv))
    return bind(prim, (x, y), {})


#: ufuncs that take the short paths from ``ndarray op Var``: (path, primitive)
_BINARY_UFUNCS: dict[np.ufunc, tuple[Callable, Primitive]] = {
    np.add: (_binary, rules.add), np.subtract: (_binary, rules.subtract),
    np.multiply: (_binary, rules.multiply), np.divide: (_binary, rules.divide),
    np.power: (_binary, rules.power), np.matmul: (_on_arrays, rules.matmul),
}  # fmt: skip


#: ufuncs of one operand that are a primitive of the table, for ``np.tanh(x)`` on arrays
_UNARY_UFUNCS: dict[np.ufunc, Primitive] = {
    u: p for u, p in UFUNCS.items() if isinstance(p, Primitive) and u.nin == 1 and p.partials is not None
}


def reverse_process(top: Var, prim: Primitive, operands: tuple, params: dict) -> Any:
    """Evaluate ``prim`` at ``top``'s level and record it on ``top``'s tape."""
    level = top._level
    primals = []
    parents = []
    plain = True  # no boxes inside: plain values, evaluated directly
    for x in operands:
        if type(x) is Var and x._level == level:
            x, i = x.value, x._index
        else:
            i = None
        primals.append(x)
        parents.append(i)
        if plain and isinstance(x, Box):
            plain = False
    out = prim.evaluate(primals, params) if plain else bind(prim, primals, params)
    return _record(prim, top._tape, level, out, tuple(parents), tuple(primals), params, plain)


def _record(prim: Primitive, tape: Tape, level: int, out: Any, parents: tuple[int | None, ...],
            primals: tuple[Any, ...], params: dict = _NO_PARAMS, plain: bool = True) -> Var:  # fmt: skip
    """Append an operation to the tape and return its traced output.

    ``plain``: the operands hold no boxes (plain NumPy values), so a
    first-order sweep may use the primitive's ``fast_vjp``.
    """
    refuse_complex(prim, out)
    fast = prim.fast_vjp
    if fast is None and prim.partials is None and prim.vjps is None:
        raise NotImplementedError(
            f"adkit has no reverse-mode (VJP) rule for {prim.name!r}. Give it one with "
            f".defvjp(...), or use mode='forward'."
        )
    entries = tape._entries
    index = len(entries)
    saved = out
    keep = prim.residuals
    if keep is not None and tape.lean:
        # Arrays the reverse rule never reads are stored as same-shaped
        # placeholders, so the forward pass's temporaries (the product before
        # a bias is added, the input of a tanh) die as in hand-written code.
        if type(out) is np.ndarray and out.nbytes >= PLACEHOLDER_MIN_BYTES and "out" not in keep:
            saved = _placeholder(out)
        lean = None
        for i, p in enumerate(primals):
            if type(p) is np.ndarray and p.nbytes >= PLACEHOLDER_MIN_BYTES and i not in keep:
                lean = lean or list(primals)
                lean[i] = _placeholder(p)
        if lean is not None:
            primals = tuple(lean)
    if fast is None or not plain:
        entries.append((prim, saved, (parents, primals, params)))
    else:
        entries.append((prim, saved, (parents, primals, params, fast)))
    v = _new(Var)
    v.value, v._tape, v._index, v._level, v.grad = out, tape, index, level, None
    return v


_ZERO = np.zeros(1)
#: arrays smaller than this are kept as they are (a placeholder would save little)
PLACEHOLDER_MIN_BYTES = 16384


def _placeholder(x: np.ndarray) -> Any:
    """A zero-strided stand-in of a large float array's shape: no memory, no copy."""
    if x.dtype == np.float64:
        return np.ndarray(x.shape, np.float64, _ZERO, 0, (0,) * x.ndim)
    return x


process.register(Var, object, object, object)(reverse_process)


def sweep(tape: Tape, seeds: dict[int, Any], keep: int | None = None, consume: bool = False) -> list[Any]:
    """The backward sweep: adjoints of every entry up to the last seeded one (``None`` = zero).

    ``seeds`` maps tape positions (the outputs) to their cotangents. A
    cotangent may carry leading batch axes, in which case every adjoint
    carries them too (a vectorized sweep). Edge cases give IEEE values
    (``0 * inf = nan``) without NumPy's warnings.

    Memory: with ``keep=k`` only the adjoints of the first ``k`` entries
    (the inputs, for the functional API) are returned and every other one
    is dropped as soon as it has been pulled back; with ``consume=True`` each
    array operation's entry is released once swept, so the forward pass's
    intermediate arrays die during the sweep instead of after it (the tape
    is freed). Less live memory is also less time: fresh large arrays cost
    page faults.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        adjoints = _sweep(tape._entries, seeds, len(tape._entries) if keep is None else keep, consume)
    if consume:
        free(tape)
    return adjoints


def _sweep(entries: list[tuple], seeds: dict[int, Any], keep: int, consume: bool) -> list[Any]:
    root = max(seeds)
    adjoints: list[Any] = [None] * (root + 1)
    for index, cotangent in seeds.items():
        adjoints[index] = cotangent
    for k in range(root, -1, -1):
        g = adjoints[k]
        if g is None:
            continue
        e = entries[k]
        n = len(e)
        if n == 4 or n == 5:
            i = e[2]
            if i < 0:
                i = ~i
            c = g * e[3]
            a = adjoints[i]
            adjoints[i] = c if a is None else a + c
        elif n == 6:
            i = e[2]
            c = g * e[4]
            a = adjoints[i]
            adjoints[i] = c if a is None else a + c
            j = e[3]
            c = g * e[5]
            a = adjoints[j]
            adjoints[j] = c if a is None else a + c
        elif n == 3:
            prim, out, rest = e
            if len(rest) == 4 and not isinstance(g, Box):  # plain values, first order
                parents, primals, params, fast = rest
                for i, c in zip(parents, fast(g, out, primals, params, parents)):
                    if c is not None:
                        a = adjoints[i]
                        adjoints[i] = c if a is None else a + c
            else:
                parents, primals, params = rest[0], rest[1], rest[2]
                for position, i in enumerate(parents):
                    if i is None:
                        continue
                    c = prim.vjp(position, g, out, primals, params)
                    if c is None:
                        continue
                    a = adjoints[i]
                    adjoints[i] = c if a is None else a + c
            if k >= keep:
                adjoints[k] = g = None
            if consume:
                entries[k] = e = primals = out = None
    return adjoints


def free(tape: Tape) -> None:
    """Release a tape's entries; its live inputs move to a fresh tape.

    Inputs (``Var(...)`` leaves) stay usable after ``backward()``, as leaf
    tensors do in PyTorch; intermediate values of the freed tape do not.
    """
    entries = tape._entries
    live = [(leaf, entries[i][1]) for i, ref in tape._leaves.items() if (leaf := ref()) is not None]
    tape._entries = _FreedEntries()
    tape._entries.level = tape.level
    tape._leaves = {}
    if not live:
        return
    target = current_tape()  # a fresh one if the context's tape was this one
    for leaf, value in live:
        index = len(target._entries)
        target._entries.append((_LEAF, value))
        target._leaves[index] = weakref.ref(leaf)
        leaf._tape = target
        leaf._index = index
        leaf._level = target.level


__all__ = ["FreedTapeError", "Node", "Tape", "Var", "current_tape", "free", "sweep"]
