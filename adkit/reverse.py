"""Reverse mode on a tape: ``Var``, ``Tape`` and the backward sweep.

Evaluating ``f`` on ``Var`` inputs records a *Wengert list*: one entry per
elementary operation, in evaluation order, holding the primitive, the
positions of its traced operands, its output, and what its VJP rule needs.
The backward sweep walks the list once from the end, pulling each entry's
adjoint back to its operands. It is a loop, never recursion, so a chain of a
million operations differentiates.

One way onto the tape: every operation ends in :func:`_push`, which appends
an entry and returns the traced output. Two routes lead there:
:func:`reverse_process` for any operation (``bind`` calls it; ``Var``'s
operators and methods call it directly when no other level is involved), and
the scalar route (:func:`_binary`, ``Var._apply_unary``) for operations on
Python floats, which stores the local partial derivatives instead of the
operands.

Entries are tuples of one of two layouts, told apart by their first element:

* ``(prim, out, parents, primals, params, fast_vjp)``, ``prim`` a
  ``Primitive`` (``None`` for an input): ``parents`` holds the tape positions
  of the traced operands (``None`` for constants), ``primals`` the operand
  values as the primitive saw them; ``fast_vjp`` is the primitive's
  first-order rule when the operands held no boxes (``None`` otherwise);
* ``(pid, out, i, di, j, dj)``, ``pid`` the primitive's integer id: an
  operation on Python floats with traced operands at positions ``i`` and
  ``j`` and local partial derivatives ``di``, ``dj``; a constant operand has
  position ``None`` and its value in place of its partial; one-operand
  operations have ``j = dj = None``.

Memory and speed. Entries hold positions (ints), never ``Var`` objects, and
a ``Var`` holds its tape: there are no reference cycles, so a tape nobody
references is freed at once by reference counting and the garbage collector
never walks it. Compact entries hold only numbers, so CPython's collector
stops tracking them after its first pass.
"""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Iterator, Sequence
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
    check_fits,
    escaped_message,
    new_level,
    primal,
    primitive_by_id,
    process,
    refuse_complex,
    shape_of,
    short_repr,
)
from adkit.formatting import constant
from adkit.numpy_bridge import UFUNCS, ArrayOps, array_ufunc
from adkit.rules import RAISES, apply_vjp


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
        """The operation written with its operands' tape positions, e.g. ``t1 * t2``.

        (Tape positions, ``t``; the trace and the graph name values by the
        survey's numbering, ``v``.)
        """
        if self.primitive is None:
            return "input"
        names = [f"t{i}" if i is not None else constant(x) for i, x in zip(self.inputs, self.operands)]
        return self.primitive.format(names, self.params)


#: how much recording the context's own tape allows between two collections of
#: what no live value depends on: one unit per entry, one more per 16 KiB of array
COLLECT_UNITS = 1024


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
    ['input', 't0 * t0', 't1 + 1']
    >>> y.backward()
    >>> x.grad
    4.0

    The context's own tape (the one ``Var(...)`` uses outside a ``with``
    block) keeps only what live values depend on: an evaluation nobody
    differentiates is released once its values are gone, as PyTorch frees a
    graph whose outputs are gone. A tape you make and hold keeps everything,
    so that you can inspect it.
    """

    __slots__ = (
        "__weakref__",
        "_budget",
        "_entries",
        "_leaves",
        "_outputs",
        "_tokens",
        "_watched",
        "imperative",
        "lean",
        "level",
        "outer",
    )

    def __init__(self, lean: bool = False, origin: str | None = None) -> None:
        #: keep only what the reverse rules need (see :func:`_record`);
        #: the functional API's tapes are lean, tapes you inspect are not
        self.lean = lean
        self._tokens: list[contextvars.Token] = []
        self._entries: list[tuple] = []
        #: differentiation level of the values recorded here: a transform's
        #: (``origin`` names the functional call that made the tape) or a tape's own
        self.level: Level = new_level("transform", origin) if origin else new_level("tape", "an adkit.Tape")
        #: recorded by the imperative API (``no_grad`` and foreign leaves apply)
        self.imperative = origin is None
        # whether _push must look closer: an imperative tape, or a sealed one
        self._watched = self.imperative
        #: levels of the traced values this tape's inputs are built around (nesting):
        #: values of those levels are outer constants here, not a foreign tape's
        self.outer: set[Level] = set()
        # imperative leaves, by position, for .grad (weak: a tape never keeps its Vars alive)
        self._leaves: dict[int, weakref.ref] = {}
        # the context's own tape: a weak reference to the Var of each entry, for collection
        self._outputs: list[weakref.ref | None] | None = None
        self._budget = COLLECT_UNITS

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def freed(self) -> bool:
        """True after a ``backward()`` without ``retain_graph`` released the entries."""
        return type(self._entries) is _FreedEntries

    def seal(self) -> None:
        """Retire this tape's level (its function has returned): sweeps may read it, nothing may add to it."""
        self.level.retired = True
        self._watched = True

    def leaf(self, value: Any) -> Var:
        """Record an input and return its traced value."""
        if isinstance(value, Box):  # a tape built around traced values: their levels are outer here
            self.outer.update(box._level for box in _boxes(value))
        return _push(self, self.level, value, (None, value, (), (), None, None))

    def leaves(self, values: Sequence[Any]) -> list[Var]:
        """Record several inputs at once (the functional API's arguments)."""
        return [self.leaf(value) for value in values]

    @property
    def nodes(self) -> list[Node]:
        """The entries as :class:`Node` records, in evaluation order (without those collection released)."""
        if self.freed:
            raise FreedTapeError(
                "this tape was freed by backward(); use backward(retain_graph=True) to inspect it after"
            )
        entries = self._entries
        values = [None if e is None else e[1] for e in entries]
        return [_node(i, e, values) for i, e in enumerate(entries) if e is not None]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __repr__(self) -> str:
        state = "freed" if self.freed else f"{len(self._entries)} nodes"
        return f"<adkit.Tape level={int(self.level)}, {state}>"

    def __enter__(self) -> Tape:
        self._tokens.append(_current_tape.set(weakref.ref(self)))
        return self

    def __exit__(self, *exc: Any) -> None:
        _current_tape.reset(self._tokens.pop())


def _boxes(x: Any) -> Iterator[Box]:
    while isinstance(x, Box):
        yield x
        x = x.value


def _node(index: int, entry: tuple, values: list[Any]) -> Node:
    """Decode an entry of either layout; ``values`` holds the outputs of the entries before it."""
    prim, out = entry[0], entry[1]
    if type(prim) is not int:  # the general layout (an input when prim is None)
        return Node(index, prim, tuple(entry[2]), tuple(entry[3]), entry[4] or {}, out)
    prim = primitive_by_id(prim)
    i, di, j, dj = entry[2:]
    inputs = (i,) if len(prim.partials) == 1 else (i, j)
    operands = (values[i] if i is not None else di,) + (
        () if len(inputs) == 1 else (values[j] if j is not None else dj,)
    )
    return Node(index, prim, inputs, operands, {}, out)


# The imperative API's current tape, per context (so per thread). A weak
# reference: a tape that no Var uses any more is freed.
_current_tape: contextvars.ContextVar[weakref.ref | None] = contextvars.ContextVar("adkit_tape", default=None)

# ``no_grad()``: whether the imperative API records operations, per context
_recording: contextvars.ContextVar[bool] = contextvars.ContextVar("adkit_recording", default=True)


def current_tape() -> Tape:
    """The tape that ``Var(...)`` records on in this context (made on first use)."""
    ref = _current_tape.get()
    tape = ref() if ref is not None else None
    if tape is None or tape.freed:
        tape = Tape()
        tape._outputs = []  # the context's own tape releases what no live value needs
        _current_tape.set(weakref.ref(tape))
    return tape


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Operations on ``Var`` values inside the block are not recorded (PyTorch's ``torch.no_grad``).

    Their results are plain values: use it to evaluate a model you will not
    differentiate (a validation loss, a prediction), which then costs no
    tape memory. Functional transformations (``adkit.grad`` ...) inside the
    block still differentiate, as ``torch.func.grad`` does.

    >>> w = Var(2.0)
    >>> with no_grad():
    ...     y = w * 3.0
    >>> y
    6.0
    """
    token = _recording.set(False)
    try:
        yield
    finally:
        _recording.reset(token)


_new = object.__new__  # creating Vars without a constructor call
_NO_PARAMS: dict = {}


def _push(tape: Tape, level: Level, out: Any, entry: tuple) -> Any:
    """The one way onto a tape: append ``entry`` and return the traced output ``out``."""
    if tape._watched:
        if level.retired:  # the tape of a functional call that has returned
            raise EscapedTracerError(escaped_message(level, "Var"))
        if entry[0] is not None and not _recording.get():
            return out  # no_grad(): a plain value
        if tape._outputs is not None:
            return _push_collected(tape, level, out, entry)
    entries = tape._entries
    v = _new(Var)
    v.value, v._tape, v._index, v._level, v.grad = out, tape, len(entries), level, None
    entries.append(entry)
    return v


def _push_collected(tape: Tape, level: Level, out: Any, entry: tuple) -> Var:
    """``_push`` on the context's own tape: also remember the Var weakly, and collect from time to time."""
    entries = tape._entries
    v = _new(Var)
    v.value, v._tape, v._index, v._level, v.grad = out, tape, len(entries), level, None
    entries.append(entry)
    tape._outputs.append(weakref.ref(v))
    tape._budget -= 1 + (out.nbytes >> 14 if type(out) is np.ndarray else 0)
    if tape._budget <= 0:
        _collect(tape)
    return v


def _collect(tape: Tape) -> None:
    """Release the entries of the context's own tape that no live ``Var`` depends on.

    A mark phase from the live Vars back through their parents (the entries
    they were computed from), then the unmarked entries become ``None``;
    positions do not change, so every live Var stays valid. Runs when
    recording has used up the tape's budget, which is then set from what is
    kept, so the work is amortized over the recording.
    """
    entries, outputs = tape._entries, tape._outputs
    needed = [False] * len(entries)
    kept = 0
    for k in range(len(entries) - 1, -1, -1):
        e = entries[k]
        if e is None:
            continue
        if not needed[k]:
            ref = outputs[k]
            if ref is None or ref() is None:
                entries[k] = outputs[k] = None
                continue
        kept += 1 + (e[1].nbytes >> 14 if type(e[1]) is np.ndarray else 0)
        if type(e[0]) is int:
            if e[2] is not None:
                needed[e[2]] = True
            if e[4] is not None:
                needed[e[4]] = True
        else:
            for p in e[2]:
                if p is not None:
                    needed[p] = True
    while entries and entries[-1] is None:
        entries.pop()
        outputs.pop()
    tape._leaves = {i: ref for i, ref in tape._leaves.items() if i < len(entries) and entries[i] is not None}
    tape._budget = max(COLLECT_UNITS, kept)


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
    accumulates anything. Evaluate without recording inside
    ``with adkit.no_grad():``; ``x.detach()`` is the plain value.

    A ``Var`` made on another tape and used here is an input here too (as
    PyTorch treats a leaf from elsewhere), and its ``.grad`` collects from
    both; intermediate values of two different tapes cannot be combined.

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

    def __new__(cls, value: Any) -> Var:
        value = as_real(value, "Var")
        tape = current_tape()
        if isinstance(value, Box) and value._level >= tape.level:
            raise ValueError("Var(...) of a value traced at a deeper level; use adkit.grad to nest")
        leaf = tape.leaf(value)
        tape._leaves[leaf._index] = weakref.ref(leaf)
        return leaf

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
        """True for an input (made with ``Var(...)`` or ``Tape.leaf``)."""
        entries = self._tape._entries
        return type(entries) is not _FreedEntries and entries[self._index][0] is None

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
            cotangent = unit_cotangent(self.value)
        else:
            check_fits("backward(): the cotangent", shape_of(cotangent), shape, batched=False)
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
        grad = "" if self.grad is None else f", grad={short_repr(self.grad)}"
        return f"Var({short_repr(self.value)}{grad})"

    # -- the routes onto the tape. Operators, ufuncs and methods of one traced
    # value come here first: Python floats take the scalar route, anything else
    # the general one, without bind's search for the top level when no other
    # level is involved.
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
        return _general(rules.matmul, self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _general(rules.matmul, other, self)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # ``ndarray @ Var`` and ``ndarray + Var`` arrive here: arithmetic takes the routes above
        if not kwargs and method == "__call__":
            if len(inputs) == 2:
                prim = _BINARY_UFUNCS.get(ufunc)
                if prim is not None:
                    return _binary(prim, *inputs)
            else:  # np.tanh(x)
                prim = _UNARY_UFUNCS.get(ufunc)
                if prim is not None:
                    return self._apply_unary(prim)
            op = UFUNCS.get(ufunc)
            if op is not None:
                return op(*inputs)
        return array_ufunc(ufunc, method, *inputs, **kwargs)

    def _apply_unary(self, prim: Primitive) -> Any:
        """``prim(self)`` for an elementwise ``prim``: the scalar route for a Python float inside."""
        xv = self.value
        if type(xv) is float and prim.scalar_impl is not None:
            try:  # math's functions directly; they raise where NumPy gives inf or nan
                out = prim.float_impl(xv)
                d = prim.float_partials[0](out, xv)
            except RAISES:
                out, (d,) = _guarded(prim, (xv,), (0,))
            return _push(self._tape, self._level, out, (prim.id, out, self._index, d, None, None))
        return reverse_process(self, prim, (self,), _NO_PARAMS)

    def _apply_one(self, prim: Primitive, params: dict[str, Any]) -> Any:
        """``prim(self, **params)`` (a reduction, a reshape): the general route, without ``bind``."""
        return reverse_process(self, prim, (self,), params)


def _guarded(prim: Primitive, xs: tuple, which: tuple[int, ...]) -> tuple[Any, list[Any]]:
    """Value and partials ``which`` by the guarded functions: NumPy's inf or nan where ``math`` raised."""
    out = prim.scalar_impl(*xs)
    return out, [prim.partials[i](out, *xs) for i in which]


def _binary(prim: Primitive, x: Any, y: Any) -> Any:
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
                return _push(x._tape, x._level, out, (prim.id, out, x._index, d, None, y))
            if ty is Var and y._tape is x._tape and type(y.value) is float:
                yv = y.value
                try:
                    out = prim.float_impl(xv, yv)
                    dx, dy = prim.float_partials
                    dx, dy = dx(out, xv, yv), dy(out, xv, yv)
                except RAISES:
                    out, (dx, dy) = _guarded(prim, (xv, yv), (0, 1))
                return _push(x._tape, x._level, out, (prim.id, out, x._index, dx, y._index, dy))
    elif ty is Var:
        yv = y.value
        if type(yv) is float and (tx is float or tx is int):
            try:
                out = prim.float_impl(x, yv)
                d = prim.float_partials[1](out, x, yv)
            except RAISES:
                out, (d,) = _guarded(prim, (x, yv), (1,))
            return _push(y._tape, y._level, out, (prim.id, out, None, x, y._index, d))
    return _general(prim, x, y)


def _general(prim: Primitive, x: Any, y: Any) -> Any:
    """``prim(x, y)`` by the general route: directly when every traced operand is a ``Var`` of one level."""
    if type(x) is Var:
        if not isinstance(y, Box) or (type(y) is Var and y._level is x._level):
            return reverse_process(x, prim, (x, y), _NO_PARAMS)
    elif type(y) is Var and not isinstance(x, Box):
        return reverse_process(y, prim, (x, y), _NO_PARAMS)
    return bind(prim, (x, y), _NO_PARAMS)


#: ufuncs that ``ndarray op Var`` sends to the routes
_BINARY_UFUNCS: dict[np.ufunc, Primitive] = {
    np.add: rules.add,
    np.subtract: rules.subtract,
    np.multiply: rules.multiply,
    np.divide: rules.divide,
    np.power: rules.power,
    np.matmul: rules.matmul,
}


#: ufuncs of one operand that are a primitive of the table, for ``np.tanh(x)``
_UNARY_UFUNCS: dict[np.ufunc, Primitive] = {
    u: p for u, p in UFUNCS.items() if isinstance(p, Primitive) and u.nin == 1 and p.partials is not None
}


def reverse_process(top: Var, prim: Primitive, operands: Sequence[Any], params: dict) -> Any:
    """Evaluate ``prim`` at ``top``'s level and record it on ``top``'s tape (the general route)."""
    level = top._level
    tape = top._tape
    primals = []
    parents = []
    plain = True  # no boxes inside: plain values, evaluated directly
    for x in operands:
        if type(x) is Var:
            if x._level is level:
                x, i = x.value, x._index
            elif tape.imperative and x._tape.imperative and x._level not in tape.outer:
                return _foreign(top, x, prim, operands, params)
            else:
                i = None  # an outer level's value: a constant here
        else:
            i = None
        primals.append(x)
        parents.append(i)
        if plain and isinstance(x, Box):
            plain = False
    out = prim.evaluate(primals, params) if plain else bind(prim, primals, params)
    return _record(prim, tape, level, out, tuple(parents), tuple(primals), params, plain)


def _foreign(top: Var, other: Var, prim: Primitive, operands: Sequence[Any], params: dict) -> Any:
    """Values of two imperative tapes meet: an input of one becomes an input of the other, as in PyTorch."""
    if other.is_leaf:
        _adopt(top._tape, other)
    elif top.is_leaf:
        _adopt(other._tape, top)
    else:
        raise ValueError(
            f"values recorded on two different tapes were combined ({prim.name} of a value of "
            f"{top._tape!r} and one of {other._tape!r}). Record the whole computation on one tape: "
            "make its Var inputs inside the same `with adkit.Tape():` block (inputs made elsewhere are "
            "taken in), or use x.detach() for a value that should be a constant."
        )
    return bind(prim, operands, params)


def _adopt(tape: Tape, leaf: Var) -> None:
    """Make the input ``leaf`` an input of ``tape`` as well; its ``.grad`` collects from both tapes."""
    new = tape.leaf(leaf.value)
    tape._leaves[new._index] = weakref.ref(leaf)
    if tape._outputs is not None:
        tape._outputs[new._index] = weakref.ref(leaf)
    leaf._tape, leaf._index, leaf._level = tape, new._index, tape.level


def _record(
    prim: Primitive,
    tape: Tape,
    level: Level,
    out: Any,
    parents: tuple[int | None, ...],
    primals: tuple[Any, ...],
    params: dict,
    plain: bool,
) -> Var:
    """Build the general entry of an operation and push it.

    ``plain``: the operands hold no boxes (plain NumPy values), so a
    first-order sweep may use the primitive's ``fast_vjp``.
    """
    if type(out) is not float and not (type(out) is np.ndarray and out.dtype.kind == "f"):
        refuse_complex(prim, out)  # (only values that are not plainly real need the check)
    fast = prim.fast_vjp
    if fast is None and prim.partials is None and prim.vjps is None:
        raise NotImplementedError(
            f"adkit has no reverse-mode (VJP) rule for {prim.name!r}. Give it one with "
            f".defvjp(...), or use mode='forward'."
        )
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
    return _push(tape, level, out, (prim, saved, parents, primals, params, fast if plain else None))


_ZERO = np.zeros(1)
#: arrays smaller than this are kept as they are (a placeholder would save little)
PLACEHOLDER_MIN_BYTES = 16384


def _placeholder(x: np.ndarray) -> Any:
    """A zero-strided stand-in of a large float array's shape: no memory, no copy."""
    if x.dtype == np.float64:
        return np.ndarray(x.shape, np.float64, _ZERO, 0, (0,) * x.ndim)
    return x


process.register(Var, object, object, object)(reverse_process)


def unit_cotangent(value: Any) -> Any:
    """The seed 1 of a scalar output's sweep, in the output's precision (float32 stays float32).

    >>> import numpy as np
    >>> unit_cotangent(2.5), unit_cotangent(np.float32(2.5)).dtype
    (1.0, dtype('float32'))
    """
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype == np.float64 or not np.issubdtype(dtype, np.floating):
        return 1.0
    return dtype.type(1.0)


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
        adjoints = sweep_entries(tape._entries, seeds, len(tape._entries) if keep is None else keep, consume)
    if consume:
        free(tape)
    return adjoints


def sweep_entries(entries: list[tuple], seeds: dict[int, Any], keep: int, consume: bool) -> list[Any]:
    root = max(seeds)
    adjoints: list[Any] = [None] * (root + 1)
    for index, cotangent in seeds.items():
        adjoints[index] = cotangent
    for k in range(root, -1, -1):
        g = adjoints[k]
        if g is None:
            continue
        e = entries[k]
        prim = e[0]
        if type(prim) is int:  # compact: local partials of Python floats
            i = e[2]
            if i is not None:
                c = g * e[3]
                a = adjoints[i]
                adjoints[i] = c if a is None else a + c
            j = e[4]
            if j is not None:
                c = g * e[5]
                a = adjoints[j]
                adjoints[j] = c if a is None else a + c
        elif prim is not None:  # general (an input has nothing to pull back)
            _, out, parents, primals, params, fast = e
            if fast is not None and not isinstance(g, Box):  # plain values, first order
                for i, c in zip(parents, fast(g, out, primals, params, parents)):
                    if c is not None:
                        a = adjoints[i]
                        adjoints[i] = c if a is None else a + c
            else:
                for position, i in enumerate(parents):
                    if i is None:
                        continue
                    c = apply_vjp(prim, position, g, out, primals, params)
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
    live = [leaf for ref in tape._leaves.values() if (leaf := ref()) is not None and leaf._tape is tape]
    tape._entries = _FreedEntries()
    tape._entries.level = tape.level
    tape._leaves = {}
    tape._outputs = None
    if not live:
        return
    target = current_tape()  # a fresh one if the context's tape was this one
    for leaf in live:
        _adopt(target, leaf)


__all__ = [
    "FreedTapeError",
    "Node",
    "Tape",
    "Var",
    "current_tape",
    "free",
    "no_grad",
    "sweep",
    "unit_cotangent",
]
