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

#: An operand's derivative is identically one / minus one / zero. Rules return
#: these markers so engines skip a multiplication (or the whole term).
ONE = 1
MINUS_ONE = -1
ZERO = 0


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

    def _apply_unary(self, prim: Primitive) -> Any:
        """``prim(self)``; engines may override with a short path for floats."""
        return bind(prim, (self,), {})

    def _apply_one(self, prim: Primitive, params: dict[str, Any]) -> Any:
        """``prim(self, **params)`` (a reduction, a reshape); engines may override with a short path."""
        return bind(prim, (self,), params)

    def _returned(self, caller: Sequence[Any]) -> Any:
        """The value a transformation hands back for this box: itself (a staged value records the step)."""
        return self


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

_shape_of = _dispatcher("shape_of")


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
    return _shape_of(x)


@_shape_of.register(numbers.Number)
def _shape_of_number(x: numbers.Number) -> tuple[int, ...]:
    return ()


@_shape_of.register(np.generic)
def _shape_of_numpy_scalar(x: np.generic) -> tuple[int, ...]:
    return ()


@_shape_of.register(np.ndarray)
def _shape_of_array(x: np.ndarray) -> tuple[int, ...]:
    return x.shape


@_shape_of.register(Box)
def _shape_of_box(x: Box) -> tuple[int, ...]:
    return shape_of(primal(x))


@_shape_of.register(object)
def _shape_of_other(x: object) -> tuple[int, ...]:
    return np.shape(x)


def as_real(x: Any, what: str) -> Any:
    """A number or array to trace: ints become floats; bools, complex and non-numbers are refused."""
    if type(x) is float or isinstance(x, Box):
        return x
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{what} must be a real number or array, got a bool")
    if isinstance(x, int):
        return float(x)
    if isinstance(x, (np.ndarray, np.generic, list, tuple, numbers.Number)):
        arr = np.asarray(x)
        if arr.dtype.kind == "c":
            raise TypeError(f"{what} is complex; adkit differentiates real functions only")
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        return arr if isinstance(x, (np.ndarray, list, tuple)) else arr[()]
    raise TypeError(f"{what} must be a number or a NumPy array, got {type(x).__name__}")


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
        partials: Sequence[Callable[..., Any] | None] | None = None,
        jvps: Sequence[Callable[..., Any] | None] | Callable[..., Any] | None = None,
        vjps: Sequence[Callable[..., Any] | None] | Callable[..., Any] | None = None,
        symbol: str | None = None,
        label: str | None = None,
        domain: Sequence[Sequence[tuple[float, float]]] | None = None,
        cases: Sequence[Case] = (),
        doc: str = "",
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
        #: for reverse mode's short path on Python floats: ``scalar_impl`` and
        #: ``partials`` without their guards, which may raise ``ValueError``,
        #: ``OverflowError`` or ``ZeroDivisionError`` where NumPy would give inf
        #: or nan (the short path then calls the guarded ones); ``rules.py``
        #: sets them where that saves calls, and tests check they agree
        self.float_impl = scalar_impl
        self.float_partials = self.partials
        self.jvps = jvps
        self.vjps = vjps
        #: the operator or short name shown in graphs (``"+"``, ``"sin"``)
        self.symbol = symbol or name
        #: how a trace writes the operation: ``"{0} + {1}"``, ``"sin({0})"``
        self.label = label or f"{self.symbol}(" + "{args})"
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
        #: first-order sweeps (``rules.py`` gives the built-in ones):
        #: ``fast_vjp(ct, out, primals, params, parents)`` returns one cotangent
        #: per operand, ``None`` where ``parents`` has ``None`` (a constant)
        self.fast_vjp: Callable[..., Sequence[Any]] | None = None
        self.__doc__ = doc
        self.__name__ = name
        self.__qualname__ = name
        self.__module__ = "adkit"

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
        size = 1
        for n in shape_of(out):
            size *= n
        return self.flops * size

    def format(self, args: Sequence[str], params: dict[str, Any]) -> str:
        """The operation written out for a trace, e.g. ``v1 * v2``."""
        return self.label.format(*args, args=", ".join(args), **_short_params(params))

    # -- the two directions, read by the engines -------------------------------

    def jvp(self, tangents: Sequence[Any], out: Any, primals: Sequence[Any], params: dict) -> Any:
        """Output tangent from operand tangents (``None`` means zero).

        Returns ``None`` when the output does not depend on any tangent.
        """
        total = None
        if self.partials is not None:
            out_ndim = ndim_of(out)
            for i, t in enumerate(tangents):
                if t is None:
                    continue
                rule = self.partials[i]
                if rule is None:
                    continue
                d = rule(out, *primals, **params)
                if type(d) is int and d == ZERO:
                    continue
                t = align_batched(t, ndim_of(primals[i]), out_ndim)
                if type(d) is int and d == ONE:
                    term = t
                elif type(d) is int and d == MINUS_ONE:
                    term = -t
                elif self.selects:
                    term = select(t, d)
                else:
                    term = scale_keeping_zeros(t, d) if self.singular else t * d
                total = term if total is None else total + term
        elif callable(self.jvps):
            total = self.jvps(tangents, out, *primals, **params)
        elif self.jvps is not None:
            for i, t in enumerate(tangents):
                if t is None or self.jvps[i] is None:
                    continue
                term = self.jvps[i](t, out, *primals, **params)
                if term is None:
                    continue
                total = term if total is None else total + term
        else:
            raise NotImplementedError(
                f"adkit has no forward-mode (JVP) rule for {self.name!r}. Give it one with "
                f"adkit.primitive(...).defjvp(...), or use mode='reverse'."
            )
        if total is None:
            return None
        return fit_tangent(total, out)

    def vjp(self, i: int, cotangent: Any, out: Any, primals: Sequence[Any], params: dict) -> Any:
        """Cotangent of operand ``i`` (``None`` for zero) given the output's."""
        if self.partials is not None:
            rule = self.partials[i]
            if rule is None:
                return None
            d = rule(out, *primals, **params)
            return pull_back(cotangent, d, out, primals[i], self.singular, self.selects)
        if self.vjps is None:
            raise NotImplementedError(
                f"adkit has no reverse-mode (VJP) rule for {self.name!r}. Give it one with "
                f"adkit.primitive(...).defvjp(...), or use mode='forward'."
            )
        if callable(self.vjps):
            return self.vjps(i, cotangent, out, *primals, **params)
        rule = self.vjps[i]
        if rule is None:
            return None
        return rule(cotangent, out, *primals, **params)


def pull_back(cotangent: Any, d: Any, out: Any, x: Any, singular: bool, selects: bool = False) -> Any:
    """An operand's cotangent from the output's and the local partial ``d``: ``unbroadcast(ct * d)``.

    ``d`` may be one of the markers ``ZERO`` (giving ``None``), ``ONE`` or
    ``MINUS_ONE``; ``singular`` asks for :func:`scale_keeping_zeros`,
    ``selects`` for :func:`select`.
    """
    if selects:
        ct = select(cotangent, d)
    elif type(d) is int:
        if d == ZERO:
            return None
        ct = cotangent if d == ONE else -cotangent if d == MINUS_ONE else cotangent * d
    else:
        ct = scale_keeping_zeros(cotangent, d) if singular else cotangent * d
    if type(ct) is np.ndarray and type(x) is np.ndarray and ct.shape == x.shape:
        return ct  # no broadcasting to undo (the common case)
    return unbroadcast(ct, shape_of(x), ndim_of(cotangent) - ndim_of(out))


def scale_keeping_zeros(t: Any, d: Any) -> Any:
    """``t * d``, except that an exactly zero ``t`` gives zero even where ``d`` is infinite.

    A zero tangent means "this input does not move in that direction" and a
    zero cotangent "this output does not matter"; either way the product is
    zero, not the nan of IEEE ``0 * inf``. This keeps the off-diagonal
    entries of ``jacobian(np.sqrt)(zeros)`` zero and the gradient through
    ``np.where(x > 0, np.sqrt(x), 0)`` at 0 finite.
    """
    if is_float(t) and is_float(d):
        return 0.0 if t == 0.0 else t * d
    with np.errstate(invalid="ignore"):
        product = t * d
        if np.isfinite(primal(d)).all():
            return product
        return _ops().where_p(primal(t) == 0, 0.0, product)


def select(t: Any, weight: Any) -> Any:
    """``t * weight`` for a selection weight: zero where the weight is, whatever ``t`` holds there.

    ``maximum``, ``clip`` and the ``max`` reduction pass a tangent or
    cotangent on where their operand is selected (weight 1, or its share at a
    tie) and drop it elsewhere. Multiplying by a 0/1 mask instead would turn
    an infinite or nan tangent of an unselected element into nan
    (``0 * inf``): the forward derivative of ``np.cbrt(x).max()`` where some
    unselected ``x`` is 0. The weight is a constant (a bool or float array or
    number, computed from primal values).
    """
    weight = primal(weight)
    if is_array(weight):
        kind = np.result_type(primal(t))
        if weight.dtype.kind == "f" and kind.kind == "f" and weight.dtype != kind:
            weight = weight.astype(kind)  # a float32 tangent stays float32
        if is_array(t):  # plain values (first order): the product, mended only if needed
            product = t * weight
            if np.isnan(product).any():  # 0 * inf or a nan: keep it only where selected
                product = np.where(weight != 0, product, 0.0)
            return product
        if weight.dtype == bool:
            return _ops().where_p(weight, t, 0.0)
        return _ops().where_p(weight != 0, t, 0.0) * weight
    if weight == 0:  # a constant zero of t's shape (Dual(5, 1) clipped to [0, 1] is Dual(1, 0))
        p = primal(t)
        return 0.0 if is_float(p) else np.zeros(np.shape(p), np.result_type(p))
    return t if weight == 1 else t * weight


def _short_params(params: dict[str, Any]) -> dict[str, str]:
    return {k: (f"array{np.shape(v)}" if isinstance(v, np.ndarray) else repr(v)) for k, v in params.items()}


# -- batch-axis helpers used by the engines and the rules -----------------------
# Imported lazily from rules because they apply primitives (sum, reshape,
# broadcast_to) that rules.py defines; they are plain functions of shapes here.

_rules = None


def _ops():
    global _rules
    if _rules is None:
        from adkit import rules

        _rules = rules
    return _rules


def align_batched(t: Any, x_ndim: int, out_ndim: int) -> Any:
    """Insert unit axes after ``t``'s batch axes so it broadcasts like its primal.

    A tangent of shape ``(k, 3)`` for a primal of shape ``(3,)`` entering an
    operation whose output has shape ``(2, 3)`` becomes ``(k, 1, 3)``; without
    this, NumPy would align the batch axis ``k`` with the output's ``2``.
    """
    t_ndim = ndim_of(t)
    nb = t_ndim - x_ndim
    if nb == 0 or x_ndim >= out_ndim:
        return t
    shape = shape_of(t)
    return _ops().reshape(t, shape=shape[:nb] + (1,) * (out_ndim - x_ndim) + shape[nb:])


def fit_tangent(t: Any, out: Any) -> Any:
    """Broadcast a tangent to ``batch + out.shape`` when a term was smaller.

    Rules return terms whose shape is ``batch + s`` with ``s`` broadcastable
    to the output's shape and of the same length (batched terms are aligned
    by :func:`align_batched`), or any broadcastable shape when unbatched.
    """
    out_shape = shape_of(out)
    t_shape = shape_of(t)
    nb = max(0, len(t_shape) - len(out_shape))
    target = t_shape[:nb] + out_shape
    if t_shape == target:
        return t
    return _ops().broadcast_to(t, shape=target)


def unbroadcast(ct: Any, shape: tuple[int, ...], nb: int) -> Any:
    """Sum a cotangent over the axes that broadcasting added or stretched.

    ``ct`` has shape ``batch + out_shape`` with ``nb`` batch axes; the result
    has shape ``batch + shape``.
    """
    shape = tuple(shape)
    if type(ct) is np.ndarray:  # raw values (first order) where nothing was stretched: only added axes
        lead = ct.ndim - len(shape)
        if ct.shape[lead:] == shape and (shape or nb):  # (a full sum below keeps a 0-d array)
            return ct if lead == nb else np.add.reduce(ct, axis=tuple(range(nb, lead)))
    ct_shape = shape_of(ct)
    target = ct_shape[:nb] + shape
    if ct_shape == target:
        return ct
    ndim = len(ct_shape)
    extra = ndim - nb - len(shape)
    axes = tuple(range(nb, nb + extra))
    axes += tuple(nb + extra + i for i, n in enumerate(shape) if n == 1 and ct_shape[nb + extra + i] != 1)
    if type(ct) is np.ndarray:  # raw values: one reduction over all the axes, then the shape
        if axes:
            ct = np.add.reduce(ct, axis=axes, keepdims=True)
        return ct.reshape(target) if ct.shape != target else ct
    ops = _ops()
    if axes:  # the primitives directly: the axes are already normalized (negative, sorted)
        ct = ops.sum_p(ct, axis=tuple(a - ndim for a in axes), keepdims=True)
    return ops.reshape_p(ct, shape=target) if shape_of(ct) != target else ct


def batch_ndim(t: Any, x: Any) -> int:
    """Number of leading batch axes of a tangent or cotangent ``t`` of ``x``."""
    return ndim_of(t) - ndim_of(x)
