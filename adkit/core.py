"""The tracer: primitives, boxes, levels, and the one call every operation goes through.

Nothing here knows a derivative formula. A :class:`Primitive` carries the
rules that ``rules.py`` declares for it; an engine (``forward.py``,
``reverse.py``) registers how a box of its type processes a primitive. The
engines read the rules, so both share one table.

Nesting works by *levels* (as in HIPS autograd and JAX): every
differentiation made by the functional API gets a fresh level from a
counter, so the innermost differentiation has the highest level. When a
primitive meets boxes of several levels it lets the highest one handle the
call; that engine unboxes its own level and calls the primitive again on
what is inside, which may be boxes of lower levels. Boxes of a lower level
are constants to a higher one, which is what prevents perturbation
confusion.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from multipledispatch import Dispatcher

# multipledispatch's ``@dispatch`` keys dispatchers by function name in a
# namespace that, by default, every library in the process shares. adkit
# makes its Dispatcher objects explicitly and keeps them in its own namespace.
NAMESPACE: dict[str, Dispatcher] = {}


def _dispatcher(name: str) -> Dispatcher:
    NAMESPACE[name] = Dispatcher(name)
    return NAMESPACE[name]


class Level(int):
    """A level of differentiation: an int (inner differentiations are higher) that knows its origin.

    ``kind`` is ``"transform"`` for a call of the functional API (``grad``,
    ``jvp``, a Jacobian's pass ...), ``"tape"`` for an imperative ``Tape``,
    ``"user"`` for hand-made duals and ``"staging"`` for ``adkit.compile``
    recording a program (no derivative: see :class:`Symbolic`); ``origin`` names it in error
    messages. A transform's level is *retired* when its call returns: a box
    of a retired level has escaped the differentiation that made it (kept in
    a list or a global), and using it again raises :class:`EscapedTracerError`
    (JAX's escaped-tracer check).
    """

    retired = False

    def __new__(cls, n: int, kind: str = "user", origin: str = "") -> Level:
        level = int.__new__(cls, n)
        level.kind = kind
        level.origin = origin
        return level

    def __repr__(self) -> str:
        return f"Level({int(self)}, {self.kind!r}, {self.origin!r})"


class EscapedTracerError(RuntimeError):
    """A traced value was used outside the differentiation that made it."""


def escaped(box: Box) -> EscapedTracerError:
    """The error for a box whose level was retired: what leaked, from where, and what to do."""
    return EscapedTracerError(escaped_message(box._level, type(box).__name__))


def escaped_message(level: Level, kind: str) -> str:
    return (
        f"a traced value ({kind} of level {int(level)}) escaped from {level.origin}: it was made inside "
        "the function being differentiated and used after that call had returned (it was kept in a "
        "list, a global or an attribute). Return it from the function instead, or keep its plain "
        "value with adkit.primal(x)."
    )


class Box:
    """A traced value at one level of differentiation (``Dual`` or ``Var``).

    Subclasses define ``value`` (the primal, possibly itself a box of a lower
    level) and ``_level`` (a :class:`Level`).
    """

    __slots__ = ()
    value: Any
    _level: Level

    @property
    def level(self) -> Level:
        """The differentiation this value is traced by (see :class:`Level`)."""
        return self._level

    def _apply_unary(self, prim: Primitive) -> Any:
        """``prim(self)``; engines may override with a short path for floats."""
        return bind(prim, (self,), {})

    def _apply_one(self, prim: Primitive, params: dict[str, Any]) -> Any:
        """``prim(self, **params)`` (a reduction, a reshape); engines may override with a short path."""
        return bind(prim, (self,), params)


class Symbolic:
    """Base of the values that stand for a plain number or array while ``adkit.compile`` stages a function.

    A staged value (``adkit.staging``) holds the example it is traced with in
    ``_example``. Where a rule takes its path by the type of a plain value
    (``type(x) is np.ndarray``), it asks :func:`is_array` or :func:`is_float`,
    so that a staged value takes the path its value would; and it asks
    :func:`carries_derivative` rather than ``isinstance(x, Box)`` where a plain
    value takes a shortcut that a traced one must not.
    """

    __slots__ = ()
    _example: Any
    _shape: tuple[int, ...]

    def returned(self, caller: Sequence[Any]) -> Any:
        """What a transformation hands back for this value (``api.finish``), the step recorded."""
        raise NotImplementedError


def is_array(x: Any) -> bool:
    """``x`` is an ndarray, or a staged value standing for one."""
    return type(x) is np.ndarray or (isinstance(x, Symbolic) and type(x._example) is np.ndarray)


def is_float(x: Any) -> bool:
    """``x`` is a Python float, or a staged value standing for one."""
    return type(x) is float or (isinstance(x, Symbolic) and type(x._example) is float)


def carries_derivative(x: Any) -> bool:
    """``x`` is traced by a differentiation (a staged value stands for a plain one: it carries none)."""
    return isinstance(x, Box) and x._level.kind != "staging"


_level_counter = itertools.count(1)


def new_level(kind: str = "transform", origin: str = "") -> Level:
    """A fresh level, higher than every level handed out before (see :class:`Level`)."""
    return Level(next(_level_counter), kind, origin)


#: ``process(box, primitive, operands, params)``: the engine of ``box``'s type
#: evaluates ``primitive`` at ``box``'s level. Engines register themselves.
process = _dispatcher("process")


def bind(prim: Primitive, operands: Sequence[Any], params: dict[str, Any]) -> Any:
    """Apply ``prim`` to ``operands``: raw values are evaluated, boxes traced.

    The box of the highest level among the operands decides which engine
    handles the call.
    """
    top = None
    for x in operands:
        if isinstance(x, Box) and (top is None or x._level > top._level):
            top = x
    if top is None:
        return prim.evaluate(operands, params)
    if top._level.retired:
        raise escaped(top)
    engine = _engines.get(type(top))
    if engine is None:
        # multipledispatch resolves the engine for this box type (subclasses
        # included) once; the result is memoized, since a Dispatcher call costs
        # about a microsecond and bind runs for every operation.
        engine = _engines[type(top)] = process.dispatch(type(top), object, object, object)
    return engine(top, prim, operands, params)


_engines: dict[type, Callable[..., Any]] = {}


# -- shapes of raw and boxed values ------------------------------------------


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of a raw value or a box (of any level)."""
    t = type(x)
    if t is np.ndarray:
        return x.shape
    if t is float or t is int:
        return ()
    if isinstance(x, Box):
        return shape_of(primal(x))
    if isinstance(x, Symbolic):  # a staged value (adkit.compile): the shape it is staged with
        return x._shape
    return np.shape(x)


def check_fits(what: str, given: tuple[int, ...], shape: tuple[int, ...], batched: bool) -> None:
    """Refuse a tangent or cotangent whose shape does not fit its value's: ``shape``, or with
    ``batched`` also ``(k,) + shape`` (k directions at once). ``what`` names it in the message."""
    if given == shape or (batched and given[1:] == shape and len(given) == len(shape) + 1):
        return
    also = f", or (k,) + {shape} for k at once" if batched else ""
    raise ValueError(
        f"{what} of shape {given} does not fit a value of shape {shape}: give shape {shape}{also}"
    )


def size_of(x: Any) -> int:
    """The number of elements of a raw value or a box."""
    return math.prod(shape_of(x))


def as_real(x: Any, what: str) -> Any:
    """A number or array to trace: ints become floats; bools, complex and non-numbers are refused.

    The one check of every place that takes values to differentiate (``Dual``,
    ``Var``, the functional API's arguments, the views); ``what`` names the
    value in the message (``"argument 0 of f"``).
    """
    t = type(x)
    if t is float or isinstance(x, Box) or (t is np.ndarray and x.dtype.kind == "f"):
        return x
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{what} is a bool; adkit differentiates with respect to real numbers")
    if isinstance(x, int):
        return float(x)
    if isinstance(x, (np.ndarray, np.generic, list, tuple, numbers.Number)):
        try:
            arr = np.asarray(x)
        except ValueError:  # a ragged list
            arr = np.asarray(x, dtype=object)
        if arr.dtype.kind == "c":
            raise TypeError(
                f"{what} is complex. adkit differentiates real functions of real inputs; split a complex "
                "input into its real and imaginary parts (two real arguments)."
            )
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{what} is an array of dtype {arr.dtype}; adkit needs real numbers")
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        return arr if isinstance(x, (np.ndarray, list, tuple)) else arr[()]
    raise TypeError(f"{what} is a {type(x).__name__}; adkit needs a number or a NumPy array")


def refuse_complex(prim: Primitive, out: Any) -> None:
    """Raise when an operation on traced values gave a complex result (adkit differentiates real functions).

    Checked where the engines record or push an operation, so ``np.exp(1j * x)``
    fails at the ``1j * x`` that made it complex, not as a wrong real part later.
    """
    t = type(out)
    if t is float or (t is np.ndarray and out.dtype.kind != "c"):
        return
    if isinstance(out, Box):
        out = primal(out)
    if np.iscomplexobj(out):
        raise TypeError(
            f"adkit differentiates real functions only, and {prim.name} gave a complex value from a "
            "traced input. Write the computation in real arithmetic: carry the real and imaginary "
            "parts as two real arrays (for a complex exponential, cos and sin)."
        )


def ndim_of(x: Any) -> int:
    """Number of axes of a raw value or a box."""
    return len(shape_of(x))


def short_repr(x: Any) -> str:
    """A value as ``Dual`` and ``Var`` show it: ``2.000``, ``1.000e-07``, an array's repr."""
    if isinstance(x, Box):
        return repr(x)
    if np.ndim(x) == 0:
        v = float(x)
        if v == 0 or 1e-3 <= abs(v) < 1e6 or not np.isfinite(v):
            return f"{v:.3f}"
        return f"{v:.3e}"
    return repr(np.asarray(x))


def primal(x: Any) -> Any:
    """Strip every box: the plain number or array inside."""
    while isinstance(x, Box):
        x = x.value
    return x


# -- primitives ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One test configuration of a primitive: operand shapes and parameters.

    ``make`` (optional) builds the operands from a NumPy ``Generator`` when
    uniform samples from the domain would not do (a well-conditioned matrix).
    """

    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)
    make: Callable[[np.random.Generator], tuple[Any, ...]] | None = None


_REGISTRY: list[Primitive] = []


def primitive_by_id(pid: int) -> Primitive:
    """The primitive with integer id ``pid`` (compact tape entries store ids)."""
    return _REGISTRY[pid]


class Primitive:
    """One elementary operation: implementation, derivative rules, and labels.

    Rules come in two forms:

    * ``partials``: for elementwise operations, one function per operand
      giving the local partial derivative ``d out / d operand`` as a function
      of ``(out, *operands)``. Tangents are multiplied by it going forward,
      cotangents going backward (with broadcasting undone). This is the
      DiffRules.jl form.
    * ``jvps`` / ``vjps``: one function per operand (or one function taking
      the operand's position, for variadic operations). ``jvp(t, out,
      *operands, **params)`` gives that operand's contribution to the output
      tangent; ``vjp(ct, out, *operands, **params)`` the operand's cotangent.

    Tangents and cotangents may carry leading *batch* axes (vector mode,
    vectorized reverse sweeps): a rule sees ``t.shape == batch + x.shape``
    and must keep the batch axes in front. Rules are written with adkit's own
    operations, so they can be differentiated again.
    """

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        *,
        scalar_impl: Callable[..., Any] | None = None,
        float_impl: Callable[..., Any] | None = None,
        partials: Sequence[Callable[..., Any] | None] | None = None,
        float_partials: Sequence[Callable[..., Any] | None] | None = None,
        jvps: Sequence[Callable[..., Any] | None] | Callable[..., Any] | None = None,
        vjps: Sequence[Callable[..., Any] | None] | Callable[..., Any] | None = None,
        linear: bool = False,
        fast_vjp: Callable[..., Sequence[Any]] | None = None,
        symbol: str | None = None,
        label: str | None = None,
        latex: str | None = None,
        domain: Sequence[Sequence[tuple[float, float]]] | None = None,
        cases: Sequence[Case] = (),
        doc: str = "",
        example: tuple[str, str] | None = None,
        numpy_name: str | None = None,
        singular: bool = False,
        selects: bool = False,
        flops: float | Callable[..., float] = 1.0,
        residuals: Sequence[int | str] | None = None,
    ):
        self.name = name
        #: a small integer naming this primitive in compact tape entries
        self.id = len(_REGISTRY)
        _REGISTRY.append(self)
        self.impl = impl
        self.scalar_impl = scalar_impl
        self.partials = tuple(partials) if partials is not None else None
        #: for reverse mode's scalar route: ``scalar_impl`` and ``partials``
        #: without their guards, which may raise ``ValueError``, ``OverflowError``
        #: or ``ZeroDivisionError`` where NumPy would give inf or nan (the route
        #: then calls the guarded ones); about 9 % of W1's time, and tests check
        #: they agree with the guarded ones wherever they do not raise
        self.float_impl = float_impl or scalar_impl
        self.float_partials = tuple(float_partials) if float_partials is not None else self.partials
        if linear:  # a linear map of one operand whose parameters fit batched tangents: its JVP is itself
            jvps = (self._linear_jvp,)
        self.jvps = jvps
        self.vjps = vjps
        #: the operator or short name shown in graphs (``"+"``, ``"sin"``)
        self.symbol = symbol or name
        #: how a trace writes the operation: ``"{0} + {1}"``, ``"sin({0})"``
        self.label = label or f"{self.symbol}(" + "{args})"
        #: how a LaTeX trace writes it, when that differs from the label: ``r"\ln {0}"``
        self.latex = latex
        #: where the tests sample each operand: a union of intervals per operand
        self.domain = tuple(tuple(d) for d in domain) if domain is not None else None
        self.cases = tuple(cases)
        self.numpy_name = numpy_name
        #: a partial derivative may be infinite (sqrt at 0): then an exactly zero
        #: tangent or cotangent stays zero instead of becoming 0 * inf = nan
        self.singular = singular
        #: the partial derivatives are selection weights (``maximum``, ``clip``): where
        #: one is zero the tangent or cotangent is dropped, not multiplied (see :func:`select`)
        self.selects = selects
        #: work estimate for the mode cost model: flop-equivalents per output
        #: element, or a function ``flops(out, *operands, **params)``
        self.flops = flops
        #: what the reverse rules read besides shapes: ``"out"`` and operand
        #: positions (``None``: everything). A lean tape keeps only these.
        self.residuals = None if residuals is None else frozenset(residuals)
        #: the reverse rule of all operands at once on plain NumPy values, for
        #: first-order sweeps: ``fast_vjp(ct, out, primals, params, parents)``
        #: returns one cotangent per operand, ``None`` where ``parents`` has
        #: ``None`` (a constant)
        self.fast_vjp = fast_vjp
        if example is not None:
            doc = (
                f"{doc}\n\nWorks on Python numbers, NumPy arrays, ``Dual`` and ``Var`` values alike.\n\n"
                f">>> {example[0]}\n{example[1]}\n"
            )
        self.__doc__ = doc
        self.__name__ = name
        self.__qualname__ = name
        self.__module__ = "adkit"

    def _linear_jvp(self, t: Any, out: Any, x: Any, **params: Any) -> Any:
        return self(t, **params)

    @property
    def elementwise(self) -> bool:
        """True when the rules are given as partial derivatives."""
        return self.partials is not None

    def __repr__(self) -> str:
        return f"<adkit primitive {self.name}>"

    def __call__(self, *operands: Any, **params: Any) -> Any:
        if len(operands) == 1:
            x = operands[0]
            if params or self.partials is None:  # one traced value: sum, mean, reshape, transpose
                if isinstance(x, Box):
                    return x._apply_one(self, params)
            else:  # the hot case: an elementwise function of one value
                if type(x) is float and self.scalar_impl is not None:
                    return self.scalar_impl(x)
                if isinstance(x, Box):
                    return x._apply_unary(self)
        return bind(self, operands, params)

    def evaluate(self, operands: Sequence[Any], params: dict[str, Any]) -> Any:
        """The primal computation on raw (unboxed) values."""
        if self.scalar_impl is not None and not params:
            for x in operands:
                if type(x) is not float and type(x) is not int:
                    break
            else:
                return self.scalar_impl(*operands)
        return self.impl(*operands, **params)

    def work(self, out: Any, operands: Sequence[Any], params: dict[str, Any]) -> float:
        """Estimated flop-equivalents of one evaluation (used by ``mode="auto"``)."""
        if callable(self.flops):
            return float(self.flops(out, *operands, **params))
        return self.flops * size_of(out)

    def format(self, args: Sequence[str], params: dict[str, Any]) -> str:
        """The operation written out for a trace, e.g. ``v1 * v2``."""
        return self.label.format(*args, args=", ".join(args), **_short_params(params))


def _short_params(params: dict[str, Any]) -> dict[str, str]:
    return {k: (f"array{np.shape(v)}" if isinstance(v, np.ndarray) else repr(v)) for k, v in params.items()}
