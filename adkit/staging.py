"""Staging: record a function, with every derivative it asks for, as a straight-line program.

``adkit.compile`` calls the function once on *staged values* instead of its
numbers and arrays. A staged value stands for a plain value whose numbers
are only known when the program runs; it carries the *example* it was staged
with (the call's own arguments), so that every path the function and the
rules take is the path the example takes, and it records every operation
applied to it into a :class:`Program` instead of only computing it.

Two kinds of staged values:

* :class:`Staged` is a box at its own level (kind ``"staging"``), below
  every differentiation made inside the function: ``grad``, ``jvp`` and the
  rest wrap it in their ``Var`` and ``Dual`` boxes, and their engines apply
  primitives to it through ``core.bind``, which the staging engine records as
  *primitive* equations. Because the rules are written with adkit's own
  operations, a staged ``grad(f)`` records the derivative program itself,
  the backward sweep included, with no new rule.
* :class:`Shadow` is what ``primal(x)`` gives for a staged ``x``: the same
  variable, not a box, as the rules read a plain value (masks of
  ``maximum``, the finiteness test of ``scale_keeping_zeros``).

Operators, NumPy functions and methods applied to either are recorded as
*calls* of the function or Python operator that eager code applies to the
plain value, and give a :class:`Staged` value again, so that a primitive
applied to a mask later is recorded as a primitive too.

Every way a plain value's numbers can be read is observable on a staged
value, and each is decided:

* an operation (``+``, ``np.isfinite``, ``x.sum()``, a primitive) is
  recorded and evaluated on the example, exactly as eager code evaluates it
  on the plain value;
* ``bool(x)`` (``if x > 0:``, ``while``, ``and``) takes the example's branch
  and records a *guard*: the compiled program checks it on every call and
  the function is staged again where it fails (as CppAD's ``compare_change``
  and ``torch.compile``'s guards);
* what cannot be staged (``float(x)``, ``np.asarray(x)``, indexing with a
  staged index, a shape computed from values, writing into an array) raises
  :class:`StagingError`, and the compiled function runs eagerly instead,
  with the reason in ``explain()``. A refusal counts even if the function
  catches the error.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adkit.core import Box, Level, Primitive, Symbolic, new_level, process
from adkit.pytree import TreeDef, flatten, unflatten

#: How a program is written as Python source: ``adkit.codegen.generate``, set when adkit.codegen is
#: imported (which ``import adkit`` does). adkit.codegen is built on this module, so this one does not
#: import it.
generator: Callable[[Program], Any] | None = None


class StagingError(Exception):
    """What a compiled function cannot stage; it runs eagerly instead (``Compiled.explain()`` says why)."""


# -- the program ------------------------------------------------------------------------------------


class Ref:
    """A variable of a program: its number and what the staging saw of it (type, shape, dtype)."""

    __slots__ = ("dtype", "id", "kind", "name", "owned", "role", "shape", "writeable")

    def __init__(self, id: int, example: Any) -> None:
        self.id = id
        self.kind = type(example)
        self.shape = (
            example.shape
            if isinstance(example, (np.ndarray, np.generic))
            else ()
            if isinstance(example, (float, int))
            else np.shape(example)
        )
        self.dtype = example.dtype if isinstance(example, (np.ndarray, np.generic)) else None
        #: the name the generated code gives it (set by the code generator)
        self.name = ""
        #: a fresh array of the program's own (its equation allocated it), which may be written in place
        self.owned = False
        #: an array that may be written (a broadcast view may not: a result that is one is copied)
        self.writeable = type(example) is np.ndarray and example.flags.writeable
        #: what it is in the derivative, for names: None (a value of the function), or
        #: ``("tangent", group, of)``, ``("adjoint", group, of, entry)``, ``("sum", of, entry)``
        self.role: tuple | None = None

    @property
    def is_array(self) -> bool:
        return self.kind is np.ndarray

    def describe(self) -> str:
        """``float``, ``float64[3, 4]``, ``bool``."""
        if self.kind is np.ndarray:
            return f"{self.dtype}[{', '.join(map(str, self.shape))}]"
        if self.dtype is not None:
            return f"np.{self.dtype}"
        return self.kind.__name__

    def __repr__(self) -> str:
        return self.name or f"%{self.id}"


@dataclass(eq=False, slots=True)
class Equation:
    """One step of a program: ``out = op(*args, **params)``.

    ``kind`` is ``"primitive"`` (an adkit primitive: ``op.evaluate(args,
    params)``), ``"call"`` (a NumPy function, a Python operator or a method
    applied to plain values: ``op(*args, **params)``; ``args`` may nest
    tuples, lists and dicts) or ``"guard"`` (``bool(args[0])`` must be
    ``params["expect"]``; no output). ``errstate`` is NumPy's error state the
    step ran under when it differs from the caller's.
    """

    op: Any
    kind: str
    args: tuple
    params: dict[str, Any]
    out: Ref | None
    errstate: tuple | None = None
    #: for a guard: where the decision was taken (the line of the user's code, or the rule)
    site: str = ""
    #: the variables the step reads, in order (set from ``args`` and ``params``)
    reads: tuple = ()

    def __post_init__(self) -> None:
        found: list[Ref] = []
        for x in self.args:
            if type(x) is Ref:
                found.append(x)
            elif type(x) is not float and type(x) is not int:
                _collect_refs(x, found)
        if self.params:
            _collect_refs(tuple(self.params.values()), found)
        self.reads = tuple(found)

    def refs(self) -> tuple[Ref, ...]:
        """The variables the step reads, in order."""
        return self.reads

    @property
    def name(self) -> str:
        return op_name(self.op)


def op_name(op: Any) -> str:
    """How a program listing writes an operation: ``sin``, ``np.isfinite``, ``*``, ``.sum``."""
    if isinstance(op, Primitive):
        return op.name
    if isinstance(op, (Method, Attribute)):
        return f".{op.name}"
    symbol = OPERATOR_SYMBOLS.get(op)
    if symbol is not None:
        return symbol
    if isinstance(op, np.ufunc):
        return f"np.{op.__name__}"
    bound = getattr(op, "__self__", None)
    if isinstance(bound, np.ufunc):
        return f"np.{bound.__name__}.{op.__name__}"
    module = getattr(op, "__module__", "") or ""
    name = getattr(op, "__qualname__", getattr(op, "__name__", repr(op)))
    if module.startswith("numpy"):
        return f"np.linalg.{name}" if "linalg" in module else f"np.{name}"
    return name


def _collect_refs(obj: Any, found: list[Ref]) -> None:
    t = type(obj)
    if t is Ref:
        found.append(obj)
    elif t is tuple or t is list:
        for x in obj:
            _collect_refs(x, found)
    elif t is dict:
        for x in obj.values():
            _collect_refs(x, found)
    elif t is slice:
        _collect_refs((obj.start, obj.stop, obj.step), found)


@dataclass(eq=False)
class Program:
    """A function staged by ``adkit.compile``: inputs, equations, outputs; like a jaxpr, in adkit's terms.

    ``inputs`` are the staged leaves of the arguments (numbers and floating
    arrays), in the order of ``in_tree``'s leaves; the other leaves
    (integers, strings, integer arrays ...) are constants of this program,
    kept in ``statics``. ``outputs`` holds a :class:`Ref` or a constant for
    each leaf of ``out_tree``.
    """

    name: str
    in_tree: TreeDef
    inputs: list[Ref]
    statics: list[Any]
    equations: list[Equation]
    outputs: list[Any]
    out_tree: TreeDef
    #: the names of the function's parameters, for the generated code
    arg_names: list[str] = field(default_factory=list)
    #: the caller's NumPy error state when the function was staged
    ambient: tuple = ()

    @property
    def guards(self) -> list[Equation]:
        return [eq for eq in self.equations if eq.kind == "guard"]

    def __len__(self) -> int:
        return len(self.equations)

    def source(self) -> str:
        """The Python source ``adkit.compile`` generates for this program."""
        if generator is None:  # pragma: no cover - importing adkit imports adkit.codegen, which sets it
            raise RuntimeError("adkit.codegen is not imported: it writes a program's source")
        return generator(self).source

    def _repr_html_(self) -> str:
        """The generated source, highlighted (with pygments where it is installed)."""
        import html

        source = self.source()
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # pragma: no cover - pygments comes with Jupyter
            return f"<pre>{html.escape(source)}</pre>"
        return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True))

    def __repr__(self) -> str:
        lines = [f"program {self.name}({', '.join(map(repr, self.inputs))}):"]
        for eq in self.equations:
            lines.append("  " + _listing(eq))
        outs = ", ".join(repr(o) if type(o) is Ref else _short(o) for o in self.outputs)
        lines.append(f"  return {outs}")
        return "\n".join(lines)


def _listing(eq: Equation) -> str:
    args = ", ".join(show_value(a) for a in eq.args)
    params = "".join(f", {k}={show_value(v)}" for k, v in eq.params.items() if eq.kind != "guard")
    if eq.kind == "guard":
        return f"guard {'' if eq.params['expect'] else 'not '}{show_value(eq.args[0])}    # {eq.site}"
    return f"{eq.out!r} = {eq.name}({args}{params})"


def show_value(x: Any) -> str:
    if type(x) is Ref:
        return repr(x)
    if type(x) in (tuple, list):
        inner = ", ".join(show_value(v) for v in x)
        return (
            f"({inner},)"
            if type(x) is tuple and len(x) == 1
            else f"({inner})"
            if type(x) is tuple
            else f"[{inner}]"
        )
    return _short(x)


def _short(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array{x.shape}"
    if isinstance(x, np.dtype):
        return str(x)
    return repr(x)


# -- recording -----------------------------------------------------------------------------------------

#: Python operators as a listing writes them
OPERATOR_SYMBOLS: dict[Any, str] = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    operator.floordiv: "//",
    operator.mod: "%",
    operator.pow: "**",
    operator.matmul: "@",
    operator.neg: "neg",
    operator.pos: "pos",
    operator.abs: "abs",
    operator.invert: "~",
    operator.lt: "<",
    operator.le: "<=",
    operator.gt: ">",
    operator.ge: ">=",
    operator.eq: "==",
    operator.ne: "!=",
    operator.and_: "&",
    operator.or_: "|",
    operator.xor: "^",
    operator.getitem: "[]",
    operator.contains: "in",
}


class Method:
    """A method called on a staged value: ``Method("sum")(x, axis=0)`` is ``x.sum(axis=0)``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(obj, self.name)(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return type(other) is Method and other.name == self.name

    def __hash__(self) -> int:
        return hash(("method", self.name))

    def __repr__(self) -> str:
        return f"Method({self.name!r})"


class Attribute:
    """An attribute read from a staged value that is itself a value (``x.T``, ``x.real``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, obj: Any) -> Any:
        return getattr(obj, self.name)

    def __eq__(self, other: object) -> bool:
        return type(other) is Attribute and other.name == self.name

    def __hash__(self) -> int:
        return hash(("attribute", self.name))

    def __repr__(self) -> str:
        return f"Attribute({self.name!r})"


def _errstate() -> tuple:
    e = np.geterr()
    return (e["divide"], e["over"], e["under"], e["invalid"])


class Builder:
    """The program being recorded: its variables, equations, guards and refusals."""

    def __init__(self, level: Level, name: str) -> None:
        self.level = level
        self.name = name
        self.equations: list[Equation] = []
        self.inputs: list[Ref] = []
        #: the staged inputs, while the function runs
        self.staged_inputs: list[Staged] = []
        self.count = 0
        #: the first thing that could not be staged (the function may have caught the error)
        self.refused: str | None = None
        self.ambient = _errstate()

    def ref(self, example: Any) -> Ref:
        self.count += 1
        return Ref(self.count, example)

    def input(self, example: Any) -> Staged:
        ref = self.ref(example)
        self.inputs.append(ref)
        staged = Staged(ref, example, self)
        self.staged_inputs.append(staged)
        return staged

    def refuse(self, reason: str) -> StagingError:
        """Note that ``reason`` cannot be staged and return the error to raise."""
        if self.refused is None:
            self.refused = f"{reason} ({_site()})"
        return StagingError(reason)

    def _push(
        self,
        op: Any,
        kind: str,
        args: tuple,
        params: dict,
        example: Any,
        boxed: bool,
        raw: Sequence[Any] = (),
    ) -> Any:
        state: Any = "any"  # Python numbers: NumPy's error state does not apply
        t = type(example)
        if t is not float and t is not bool and t is not int:
            state = _errstate()
            if state == self.ambient:
                state = None
        ref = self.ref(example)
        if type(example) is np.ndarray and example.base is None and example.flags.writeable:
            ref.owned = all(example is not x for x in raw)
        ref.role = _role()
        self.equations.append(Equation(op, kind, args, params, ref, state))
        return Staged(ref, example, self)

    def primitive(
        self, prim: Primitive, args: tuple, params: dict, example: Any, raw: Sequence[Any]
    ) -> Staged:
        return self._push(prim, "primitive", args, params, example, True, raw)

    def call(self, op: Callable, args: tuple, kwargs: dict) -> Any:
        """Record ``op(*args, **kwargs)`` on plain values; evaluate it on the examples."""
        refs_args, raw_args, boxed = self._unpack(args, op)
        refs_kwargs, raw_kwargs, boxed_kw = self._unpack(kwargs, op) if kwargs else ({}, {}, False)
        example = op(*raw_args, **raw_kwargs)
        if isinstance(example, (tuple, list)) and any(isinstance(v, Box) for v in example):
            raise self.refuse(f"{op_name(op)} returned traced values")
        raw = list(raw_args) + list(raw_kwargs.values())
        return self._push(op, "call", refs_args, refs_kwargs, example, boxed or boxed_kw, raw)

    def guard(self, value: Symbolic, expect: bool) -> None:
        guard = Equation(bool, "guard", (value._ref,), {"expect": expect}, None, "any", _site())
        self.equations.append(guard)

    def _unpack(self, obj: Any, op: Any) -> tuple[Any, Any, bool]:
        """``obj`` with staged values replaced by their refs, and by their examples; whether one was a box."""
        if type(obj) is tuple:  # the common case: a flat tuple of staged values and numbers
            refs, raw, boxed = [], [], False
            for x in obj:
                t = type(x)
                if t is Staged or t is Shadow:
                    if x._builder is not self:
                        break
                    boxed = boxed or t is Staged
                    refs.append(x._ref)
                    raw.append(x._example)
                elif t is float or t is int or t is bool:
                    refs.append(x)
                    raw.append(x)
                else:
                    break
            else:
                return tuple(refs), tuple(raw), boxed
        boxed = False

        def walk(x: Any) -> tuple[Any, Any]:
            nonlocal boxed
            t = type(x)
            if t is Staged or t is Shadow:
                if x._builder is not self:
                    raise self.refuse("a value staged by an enclosing adkit.compile was used inside another")
                if t is Staged:
                    boxed = True
                return x._ref, x._example
            if t is tuple or t is list:
                pairs = [walk(v) for v in x]
                return t(p[0] for p in pairs), t(p[1] for p in pairs)
            if t is dict:
                pairs = {k: walk(v) for k, v in x.items()}
                return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
            if t is slice and any(isinstance(v, Symbolic) for v in (x.start, x.stop, x.step)):
                raise self.refuse(f"a slice with staged bounds in {op_name(op)}")
            if isinstance(x, Box):
                raise self.refuse(f"{op_name(op)} of a value traced by a differentiation and a staged one")
            return x, x

        refs, raw = walk(obj)
        return refs, raw, boxed


class _Engines:
    """The code objects of the engines' loops, which :func:`_role` looks for on the stack."""

    sweep = forward = add = None

    @classmethod
    def load(cls) -> None:
        from adkit import forward, reverse

        cls.sweep = reverse.sweep_entries.__code__
        cls.forward = forward.forward_process.__code__
        cls.add = _Values.__add__.__code__


def _role() -> tuple | None:
    """What the equation being recorded computes in a derivative, read off the engine running it.

    Inside the reverse sweep (``reverse.sweep_entries``) processing entry ``k``: a
    contribution to the adjoint of one of its operands (all the steps of one
    ``prim.vjp`` call form a group), or the sum of two contributions
    (``a + c``). Inside the forward engine's rule call: a step of the output's
    tangent. Elsewhere (the function itself): a value, ``None``. Used for the
    names of the generated code only: if the engines change, names fall back
    to plain temporaries.
    """
    if _Engines.sweep is None:
        _Engines.load()
    frame = sys._getframe(3)
    below = None
    for _ in range(40):
        if frame is None:
            return None
        code = frame.f_code
        if code is _Engines.sweep:
            local = frame.f_locals
            entries, i, k = local.get("entries"), local.get("i"), local.get("k")
            try:
                of = entries[i][1]._ref
                entry = entries[k][1]._ref
            except (AttributeError, IndexError, KeyError, TypeError):
                return None
            if below is not None and below.f_code is _Engines.add:
                return ("sum", of, entry)
            return ("adjoint", (id(entries), k, local.get("position")), of, entry)
        if code is _Engines.forward:
            local = frame.f_locals
            out = local.get("out")
            if out is not None:
                return ("tangent", out._ref.id, out._ref) if type(out) is Staged else None
        below = frame
        frame = frame.f_back
    return None


def _site() -> str:
    """The line of the user's code (outside adkit and NumPy) that is running, or the rule's name."""
    frame = sys._getframe(2)
    rule = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module == "adkit" or module.startswith(("adkit.", "numpy"))):
            where = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
            return f"{where}, in {frame.f_code.co_name}" + (f" (rule {rule})" if rule else "")
        if rule is None and module in ("adkit.rules", "adkit.core"):
            rule = f"{module.rsplit('.', 1)[-1]}.{frame.f_code.co_name}"
        frame = frame.f_back
    return rule or "adkit"


# -- staged values -------------------------------------------------------------------------------------

#: attributes that tell only the structure of a value (known when the program is made), never its numbers
STRUCTURAL = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "flags", "strides"})

#: NumPy functions whose answer is the structure of their arguments (shapes, dtypes), not their numbers
STRUCTURAL_FUNCTIONS = frozenset(
    {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.min_scalar_type}
)

#: NumPy functions making a fresh array of an argument's shape: plain values, made now
LIKE_FUNCTIONS = frozenset({np.zeros_like, np.ones_like, np.empty_like})

#: NumPy functions recorded on staged values: each has a result whose shape follows from its arguments'
#: shapes and its other (constant) arguments, never from the numbers (which ``np.nonzero`` has)
FUNCTIONS = frozenset(
    {
        np.where,
        np.sum,
        np.prod,
        np.mean,
        np.std,
        np.var,
        np.max,
        np.min,
        np.amax,
        np.amin,
        np.any,
        np.all,
        np.argmax,
        np.argmin,
        np.cumsum,
        np.cumprod,
        np.sort,
        np.argsort,
        np.clip,
        np.reshape,
        np.ravel,
        np.transpose,
        np.swapaxes,
        np.moveaxis,
        np.squeeze,
        np.expand_dims,
        np.broadcast_to,
        np.concatenate,
        np.stack,
        np.hstack,
        np.vstack,
        np.atleast_1d,
        np.atleast_2d,
        np.atleast_3d,
        np.copy,
        np.round,
        np.around,
        np.isclose,
        np.allclose,
        np.array_equal,
        np.count_nonzero,
        np.dot,
        np.vdot,
        np.outer,
        np.inner,
        np.tensordot,
        np.diag,
        np.diagonal,
        np.trace,
        np.tril,
        np.triu,
        np.flip,
        np.roll,
        np.tile,
        np.repeat,
        np.take,
        np.nan_to_num,
        np.full_like,
        np.may_share_memory,
        np.shares_memory,
        np.cross,
        np.real,
        np.imag,
        np.linalg.norm,
        np.linalg.det,
        np.linalg.slogdet,
        np.linalg.inv,
        np.linalg.solve,
        np.linalg.cond,
        np.linalg.svd,
        np.linalg.eigh,
        np.linalg.qr,
        np.linalg.cholesky,
        np.floor_divide,
        # issue 13's coverage: contractions, order statistics, shape and structure, each with a result whose
        # shape follows from its arguments' shapes and its constant arguments
        np.einsum,
        np.kron,
        np.linalg.multi_dot,
        np.diff,
        np.ediff1d,
        np.gradient,
        np.pad,
        np.rot90,
        np.fliplr,
        np.flipud,
        np.rollaxis,
        np.diagflat,
        np.column_stack,
        np.dstack,
        np.block,
        np.append,
        np.insert,
        np.delete,
        np.split,
        np.array_split,
        np.hsplit,
        np.vsplit,
        np.dsplit,
        np.broadcast_arrays,
        np.select,
        np.take_along_axis,
        np.linspace,
        np.sinc,
        np.isposinf,
        np.isneginf,
        np.ptp,
        np.average,
        np.median,
        np.quantile,
        np.percentile,
        np.nanmedian,
        np.nanquantile,
        np.nanpercentile,
        np.nansum,
        np.nanprod,
        np.nanmean,
        np.nanvar,
        np.nanstd,
        np.nanmax,
        np.nanmin,
        np.nancumsum,
        np.nancumprod,
        np.partition,
        np.linalg.svdvals,
        np.linalg.eigvalsh,
        np.linalg.pinv,
        np.linalg.matrix_power,
        np.linalg.matrix_norm,
        np.linalg.vector_norm,
        np.linalg.matrix_transpose,
        np.matvec,
        np.vecmat,
        np.vecdot,
        np.linalg.vecdot,
        np.linalg.outer,
        np.linalg.cross,
        np.linalg.tensordot,
        np.linalg.trace,
        np.linalg.diagonal,
        np.unstack,
        np.cumulative_sum,
        np.cumulative_prod,
    }
)

#: ndarray methods recorded on staged values (the others are refused: ``sort`` writes in place,
#: ``nonzero`` has a shape that depends on the numbers, ``tolist`` reads them)
METHODS = frozenset(
    {
        "all",
        "any",
        "sum",
        "prod",
        "mean",
        "std",
        "var",
        "max",
        "min",
        "argmax",
        "argmin",
        "cumsum",
        "cumprod",
        "reshape",
        "ravel",
        "flatten",
        "transpose",
        "swapaxes",
        "squeeze",
        "astype",
        "copy",
        "clip",
        "round",
        "dot",
        "diagonal",
        "trace",
        "conj",
        "conjugate",
        "repeat",
        "take",
        "is_integer",
    }
)
#: attributes that are values of their own: recorded
VALUE_ATTRIBUTES = frozenset({"T", "mT", "real", "imag"})


class _Values(Symbolic):
    """What :class:`Staged` and :class:`Shadow` share: a plain value's behaviour, recorded.

    Each operator, NumPy function and method does to the example what eager
    code does to a plain value, and records it, so the program repeats it on
    other values. Comparisons give staged booleans; ``bool()`` of one records
    a guard; conversions to Python numbers and NumPy arrays are refused.
    """

    __slots__ = ()
    __array_priority__ = 1000
    _ref: Ref
    _builder: Builder

    # -- structure: known when the program is made
    def __getattr__(self, name: str) -> Any:
        example = self._example
        if name.startswith("_"):
            raise AttributeError(name)
        if name in STRUCTURAL:
            return getattr(example, name)  # (a float has no shape: AttributeError, as for the float)
        if name in VALUE_ATTRIBUTES:
            getattr(example, name)  # AttributeError where the plain value has none
            return self._builder.call(Attribute(name), (self,), {})
        if name in METHODS and hasattr(example, name):
            return _BoundMethod(self, name)
        if name in getattr(example, "_fields", ()):  # a field of a named tuple (slogdet's logabsdet)
            return self._builder.call(Attribute(name), (self,), {})
        if hasattr(example, name):
            raise self._builder.refuse(f"x.{name} of a staged value")
        raise AttributeError(f"{type(example).__name__!r} object has no attribute {name!r}")

    def __len__(self) -> int:
        return len(self._example)

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self._example)))

    # -- reading the numbers
    def __bool__(self) -> bool:
        value = bool(self._example)
        self._builder.guard(self, value)
        return value

    def __float__(self) -> float:
        raise self._builder.refuse("float() of a staged value (its number would be fixed in the program)")

    def __int__(self) -> int:
        raise self._builder.refuse("int() of a staged value (its number would be fixed in the program)")

    def __index__(self) -> int:
        raise self._builder.refuse("a staged value used as an index or a size")

    def __complex__(self) -> complex:
        raise self._builder.refuse("complex() of a staged value")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._builder.refuse("np.asarray() of a staged value (its numbers would be fixed)")

    def item(self, *args: Any) -> Any:
        raise self._builder.refuse(".item() of a staged value (its number would be fixed in the program)")

    def tolist(self) -> Any:
        raise self._builder.refuse(".tolist() of a staged value")

    def __repr__(self) -> str:
        return f"staged({self._example!r})"

    def __format__(self, spec: str) -> str:
        return format(self._example, spec)

    __hash__ = object.__hash__

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """The example's class: ``isinstance(x, np.ndarray)`` (or ``float``) answers as for the plain value.

        ``type(x)`` is still the staged value's own class. Without this, a branch on
        ``isinstance`` would take the other way than eager code, silently.
        """
        return type(self._example)

    @property
    def _shape(self) -> tuple[int, ...]:
        return self._ref.shape

    def returned(self, caller: Sequence[Any]) -> Any:
        """What a transformation hands back (``api.finish``), recorded: copies, 0-d results made floats."""
        builder = self._builder
        arrays = [c for c in caller if type(c) is np.ndarray]
        inputs = [x for x in builder.staged_inputs if x._ref.kind is np.ndarray]
        return builder.call(finish, (self, *inputs, *arrays), {})

    # -- writing: a staged value is immutable (the plain array would change in place)
    def __setitem__(self, index: Any, value: Any) -> None:
        raise self._builder.refuse("writing into a staged array (x[i] = v)")

    def _in_place(self, op: Callable, other: Any) -> Any:
        if type(self._example) is np.ndarray:
            raise self._builder.refuse(f"an in-place operation ({OPERATOR_SYMBOLS[op]}=) on a staged array")
        return self._binary(op, self, other)

    # -- operations
    def _binary(self, op: Callable, x: Any, y: Any) -> Any:
        other = y if x is self else x
        t = type(other)
        if t is float or t is int or t is bool:  # the common case, without the general walk
            builder = self._builder
            args = (self._ref, other) if x is self else (other, self._ref)
            raw = (self._example, other) if x is self else (other, self._example)
            return builder._push(op, "call", args, {}, op(*raw), type(self) is Staged, raw)
        if isinstance(other, Box) and not isinstance(other, _Values):
            return NotImplemented  # a differentiation's box handles it (its level is higher)
        return self._builder.call(op, (x, y), {})

    def __getitem__(self, index: Any) -> Any:
        if _holds_staged(index):
            raise self._builder.refuse(
                "indexing with a staged index (the result's shape or elements would depend on the numbers)"
            )
        return self._builder.call(operator.getitem, (self, index), {})

    def __contains__(self, item: Any) -> bool:
        return bool(self._builder.call(operator.contains, (self, item), {}))

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        for x in inputs:
            if isinstance(x, Box) and not isinstance(x, _Values):
                return NotImplemented
        out = kwargs.get("out")
        if out is not None and not (type(out) is tuple and all(o is None for o in out)):
            raise self._builder.refuse(f"np.{ufunc.__name__}(..., out=...) with staged values")
        if method == "at":
            raise self._builder.refuse(f"np.{ufunc.__name__}.at, which writes in place")
        op = ufunc if method == "__call__" else getattr(ufunc, method)
        return self._builder.call(op, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        if func in STRUCTURAL_FUNCTIONS and len(args) == 1 and not kwargs:
            return func(self._example)
        for t in types:
            if not (issubclass(t, _Values) or t is np.ndarray):
                return NotImplemented  # a differentiation's box (or another array type) handles it
        if func in STRUCTURAL_FUNCTIONS or func in LIKE_FUNCTIONS:
            if len(args) == 1 and not kwargs:
                return func(args[0]._example if isinstance(args[0], _Values) else args[0])
            return func(*_examples(args), **_examples(kwargs))
        name = op_name(func)
        if func not in FUNCTIONS:
            raise self._builder.refuse(
                f"{name} of a staged value (adkit.compile stages the NumPy functions "
                "whose result's shape is known in advance)"
            )
        if func is np.where and len(args) + len(kwargs) < 3:
            raise self._builder.refuse("np.where(condition) of a staged value (its shape depends on numbers)")
        if kwargs.get("out") is not None:
            raise self._builder.refuse(f"{name}(..., out=...) with staged values")
        for x in _staged_leaves(args[1:]) + _staged_leaves(tuple(kwargs.values())):
            if x._ref.dtype is not None and x._ref.dtype.kind in "iu":
                raise self._builder.refuse(f"a staged integer given to {name} (it may set a shape)")
        return self._builder.call(func, args, kwargs)

    # arithmetic and comparisons: the operator on the plain values
    def __add__(self, o: Any) -> Any:
        return self._binary(operator.add, self, o)

    def __radd__(self, o: Any) -> Any:
        return self._binary(operator.add, o, self)

    def __sub__(self, o: Any) -> Any:
        return self._binary(operator.sub, self, o)

    def __rsub__(self, o: Any) -> Any:
        return self._binary(operator.sub, o, self)

    def __mul__(self, o: Any) -> Any:
        return self._binary(operator.mul, self, o)

    def __rmul__(self, o: Any) -> Any:
        return self._binary(operator.mul, o, self)

    def __truediv__(self, o: Any) -> Any:
        return self._binary(operator.truediv, self, o)

    def __rtruediv__(self, o: Any) -> Any:
        return self._binary(operator.truediv, o, self)

    def __floordiv__(self, o: Any) -> Any:
        return self._binary(operator.floordiv, self, o)

    def __rfloordiv__(self, o: Any) -> Any:
        return self._binary(operator.floordiv, o, self)

    def __mod__(self, o: Any) -> Any:
        return self._binary(operator.mod, self, o)

    def __rmod__(self, o: Any) -> Any:
        return self._binary(operator.mod, o, self)

    def __pow__(self, o: Any) -> Any:
        return self._binary(operator.pow, self, o)

    def __rpow__(self, o: Any) -> Any:
        return self._binary(operator.pow, o, self)

    def __matmul__(self, o: Any) -> Any:
        return self._binary(operator.matmul, self, o)

    def __rmatmul__(self, o: Any) -> Any:
        return self._binary(operator.matmul, o, self)

    def __and__(self, o: Any) -> Any:
        return self._binary(operator.and_, self, o)

    def __rand__(self, o: Any) -> Any:
        return self._binary(operator.and_, o, self)

    def __or__(self, o: Any) -> Any:
        return self._binary(operator.or_, self, o)

    def __ror__(self, o: Any) -> Any:
        return self._binary(operator.or_, o, self)

    def __xor__(self, o: Any) -> Any:
        return self._binary(operator.xor, self, o)

    def __rxor__(self, o: Any) -> Any:
        return self._binary(operator.xor, o, self)

    def __lt__(self, o: Any) -> Any:
        return self._binary(operator.lt, self, o)

    def __le__(self, o: Any) -> Any:
        return self._binary(operator.le, self, o)

    def __gt__(self, o: Any) -> Any:
        return self._binary(operator.gt, self, o)

    def __ge__(self, o: Any) -> Any:
        return self._binary(operator.ge, self, o)

    def __eq__(self, o: Any) -> Any:
        return self._binary(operator.eq, self, o)  # type: ignore[override]

    def __ne__(self, o: Any) -> Any:
        return self._binary(operator.ne, self, o)  # type: ignore[override]

    def __iadd__(self, o: Any) -> Any:
        return self._in_place(operator.add, o)

    def __isub__(self, o: Any) -> Any:
        return self._in_place(operator.sub, o)

    def __imul__(self, o: Any) -> Any:
        return self._in_place(operator.mul, o)

    def __itruediv__(self, o: Any) -> Any:
        return self._in_place(operator.truediv, o)

    def __ipow__(self, o: Any) -> Any:
        return self._in_place(operator.pow, o)

    def __neg__(self) -> Any:
        return self._builder.call(operator.neg, (self,), {})

    def __pos__(self) -> Any:
        return self._builder.call(operator.pos, (self,), {})

    def __abs__(self) -> Any:
        return self._builder.call(operator.abs, (self,), {})

    def __invert__(self) -> Any:
        return self._builder.call(operator.invert, (self,), {})


class _BoundMethod:
    """``x.sum`` of a staged ``x``: calling it records the method call."""

    __slots__ = ("name", "value")

    def __init__(self, value: _Values, name: str) -> None:
        self.value = value
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = self.value._builder
        for x in _staged_leaves(args) + _staged_leaves(tuple(kwargs.values())):
            if x._ref.dtype is not None and x._ref.dtype.kind in "iu":
                raise builder.refuse(f"a staged integer given to .{self.name}() (it may set a shape)")
        if kwargs.get("out") is not None:
            raise builder.refuse(f".{self.name}(..., out=...) with staged values")
        return builder.call(Method(self.name), (self.value, *args), kwargs)


class Staged(_Values, Box):
    """A plain number or array being staged: a box at the staging level, below every differentiation.

    Engines apply primitives to it through ``core.bind``, which records them
    (:func:`staging_process`); everything else eager code does to a plain
    value is recorded by :class:`_Values`. ``primal(x)`` of it is its
    :class:`Shadow`.
    """

    __slots__ = ("_builder", "_example", "_level", "_ref", "_shadow")

    def __init__(self, ref: Ref, example: Any, builder: Builder) -> None:
        self._ref = ref
        self._example = example
        self._builder = builder
        self._level = builder.level
        self._shadow = None

    @property
    def value(self) -> Shadow:
        """The plain value inside, as rules read it (``primal(x)``): a :class:`Shadow`."""
        shadow = self._shadow
        if shadow is None:
            shadow = self._shadow = Shadow(self._ref, self._example, self._builder)
        return shadow


class Shadow(_Values):
    """``primal(x)`` of a staged ``x``: the plain value, not a box, as rules read it; recorded likewise."""

    __slots__ = ("_builder", "_example", "_ref")

    def __init__(self, ref: Ref, example: Any, builder: Builder) -> None:
        self._ref = ref
        self._example = example
        self._builder = builder


def finish(x: Any, *caller: Any) -> Any:
    """A transformation's result as the caller gets it (``api.finish``), the step a program repeats."""
    from adkit import api

    return api.finish(x, caller)


def _examples(obj: Any) -> Any:
    t = type(obj)
    if t is Staged or t is Shadow:
        return obj._example
    if t is tuple or t is list:
        return t(_examples(v) for v in obj)
    if t is dict:
        return {k: _examples(v) for k, v in obj.items()}
    return obj


def _staged_leaves(obj: Any) -> list[_Values]:
    t = type(obj)
    if t is Staged or t is Shadow:
        return [obj]
    if t is tuple or t is list:
        return [x for v in obj for x in _staged_leaves(v)]
    if t is dict:
        return [x for v in obj.values() for x in _staged_leaves(v)]
    return []


def _holds_staged(obj: Any) -> bool:
    t = type(obj)
    if t is Staged or t is Shadow:
        return True
    if t is tuple or t is list:
        return any(_holds_staged(v) for v in obj)
    if t is dict:
        return any(_holds_staged(v) for v in obj.values())
    if t is slice:
        return any(_holds_staged(v) for v in (obj.start, obj.stop, obj.step))
    return isinstance(obj, Box)


def staging_process(top: Staged, prim: Primitive, operands: Sequence[Any], params: dict) -> Any:
    """The staging engine: record ``prim`` applied to staged values, evaluated as eager code evaluates it."""
    builder = top._builder
    args = []
    raw = []
    for x in operands:
        t = type(x)
        if t is Staged or t is Shadow:
            if x._builder is not builder:
                raise builder.refuse("a value staged by an enclosing adkit.compile was used inside another")
            args.append(x._ref)
            raw.append(x._example)
        elif isinstance(x, Box):
            raise builder.refuse(
                f"{prim.name} of a value traced by an enclosing differentiation (the compiled function "
                "closes over it, or was called inside a transformation)"
            )
        else:
            args.append(x)
            raw.append(x)
    if params and _holds_staged(tuple(params.values())):
        raise builder.refuse(f"a parameter of {prim.name} computed from staged values")
    example = prim.evaluate(raw, params)
    return builder.primitive(prim, tuple(args), params, example, raw)


process.register(Staged, object, object, object)(staging_process)


# -- staging a function ------------------------------------------------------------------------------


def is_dynamic(leaf: Any) -> bool:
    """Whether an argument's leaf is staged (floats and floating arrays) or a constant of the program."""
    t = type(leaf)
    return t is float or (t is np.ndarray and leaf.dtype.kind == "f") or isinstance(leaf, np.floating)


def stage(fn: Callable, args: tuple, kwargs: dict, name: str = "") -> Program:
    """Call ``fn`` on staged values standing for the leaves of ``args`` and ``kwargs``; return the program.

    Raises :class:`StagingError` when something could not be staged (even
    if ``fn`` caught it), with the reason as its message.

    >>> import numpy as np
    >>> program = stage(lambda x: np.sin(x) * x, (0.5,), {})
    >>> [eq.name for eq in program.equations]
    ['np.sin', '*']
    """
    name = name or getattr(fn, "__name__", type(fn).__name__)
    leaves, in_tree = flatten((args, kwargs))
    level = new_level("staging", f"adkit.compile({name})")
    builder = Builder(level, name)
    staged, statics = [], []
    for leaf in leaves:
        if isinstance(leaf, Box):
            raise StagingError("an argument is a traced value of a differentiation")
        if is_dynamic(leaf):
            staged.append(builder.input(leaf))
            statics.append(None)
        else:  # a constant of the program; an array is copied, so that the program does not keep the caller's
            leaf = leaf.copy() if type(leaf) is np.ndarray else leaf
            staged.append(leaf)
            statics.append(leaf)
    sargs, skwargs = unflatten(in_tree, staged)
    try:
        out = fn(*sargs, **skwargs)
    except StagingError:
        raise StagingError(builder.refused) from None
    except Exception as err:
        if builder.refused is not None:
            raise StagingError(builder.refused) from err
        raise
    finally:
        level.retired = True
        builder.staged_inputs = []
    if builder.refused is not None:
        raise StagingError(builder.refused)
    out_leaves, out_tree = flatten(out)
    outputs = []
    for y in out_leaves:
        if isinstance(y, (Staged, Shadow)):
            outputs.append(y._ref)
        elif isinstance(y, Box):
            raise StagingError(f"{name} returned a traced value ({type(y).__name__}) of a differentiation")
        else:
            outputs.append(y)
    return Program(
        name,
        in_tree,
        builder.inputs,
        statics,
        builder.equations,
        outputs,
        out_tree,
        _arg_names(fn, args, kwargs, leaves, in_tree),
        builder.ambient,
    )


def _arg_names(fn: Callable, args: tuple, kwargs: dict, leaves: list, in_tree: TreeDef) -> list[str]:
    """A Python name for each leaf of the arguments: the parameter's own name, with positions for pytrees."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names: list[str] = []
    for i, a in enumerate(args):
        base = positional[i] if i < len(positional) and positional[i].isidentifier() else f"x{i}"
        sub, _ = flatten(a)
        names += [base] if len(sub) == 1 else [f"{base}_{k}" for k in range(len(sub))]
    for k in sorted(kwargs):
        sub, _ = flatten(kwargs[k])
        names += [k] if len(sub) == 1 else [f"{k}_{j}" for j in range(len(sub))]
    if len(names) != len(leaves):  # a structure flatten reads otherwise: plain numbering
        names = [f"x{i}" for i in range(len(leaves))]
    return names


__all__ = ["Equation", "Program", "Ref", "Shadow", "Staged", "StagingError", "is_dynamic", "stage"]
