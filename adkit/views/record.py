"""What the trace and the graph show: one recorded evaluation, numbered as in the survey.

:func:`record` evaluates ``f`` once on a fresh :class:`~adkit.reverse.Tape`
and reads everything the views need off it:

* **numbering** (Baydin et al. 2018, *Automatic differentiation in machine
  learning: a survey*, Tables 2 and 3): the ``n`` inputs are
  ``v_{1-n} .. v_0`` in argument order; the intermediate variables are
  ``v_1 .. v_l`` ordered by *topological generation* (the length of the
  longest path from an input, which is also the graph's layer) and, within a
  generation, by evaluation order. Python evaluates
  ``ln(x1) + x1*x2 - sin(x2)`` as ln, ×, +, sin, −; generations give the
  survey's ``v1 = ln v_{-1}``, ``v2 = v_{-1} × v_0``, ``v3 = sin v_0``,
  ``v4 = v1 + v2``, ``v5 = v4 − v3``;
* **primal values**, as recorded;
* **tangents** ``v̇ = ∂v/∂x · ẋ`` for one seed direction ``ẋ``: a forward
  sweep over the recorded operations, each asking its primitive's JVP rule
  (the one rule table both engines use);
* **adjoints** ``v̄ = ∂(ȳ · y)/∂v`` for one output cotangent ``ȳ``: the
  reverse engine's own sweep (:func:`adkit.reverse.sweep`);
* per edge ``v_i → v_j``: the local partial ``∂v_j/∂v_i``, the tangent that
  flows along it and the adjoint contribution that flows back, from the
  same rules.

Every operation, even one with a constant operand (``v1 + 1``), is its own
variable; constants appear in the definitions, not as variables.
"""

from __future__ import annotations

import html
import inspect
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adkit.core import Box, Primitive, as_real, primal, shape_of
from adkit.formatting import constant, number
from adkit.reverse import Tape, Var, sweep
from adkit.rules import apply_jvp, apply_vjp

__all__ = ["Computation", "Edge", "Variable", "format_value", "record"]


# -- the records ------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One variable ``v_i`` of the evaluation trace (an input or an elementary operation)."""

    number: int  # i in v_i: 1-n .. 0 for the inputs, 1 .. l for the operations
    tape_index: int  # position on the tape (evaluation order)
    primitive: Primitive | None  # None for an input
    parents: tuple[int | None, ...]  # per operand: the number of its variable, None for a constant
    operands: tuple[Any, ...]  # operand values as the primitive saw them
    params: dict[str, Any]
    value: Any
    tangent: Any  # None when some primitive on the way has no JVP rule
    adjoint: Any
    layer: int  # topological generation: 0 for inputs, 1 + the deepest operand otherwise
    input_name: str | None = None  # "x1" for an input
    output_names: tuple[str, ...] = ()  # ("y",) when this variable is an output of f

    @property
    def is_input(self) -> bool:
        return self.primitive is None

    @property
    def is_output(self) -> bool:
        return bool(self.output_names)

    @property
    def kind(self) -> str:
        """``"input"``, ``"output"`` or ``"operation"`` (an input that is also an output is an input)."""
        if self.is_input:
            return "input"
        return "output" if self.is_output else "operation"

    @property
    def name(self) -> str:
        return variable_name(self.number, "text")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(shape_of(self.value))


@dataclass(frozen=True)
class Edge:
    """``v_source → v_target``: the target's primitive reads the source at ``positions``.

    ``partial`` is ``∂v_target/∂v_source`` (summed over the positions, so
    ``v1 = v0 * v0`` has partial ``2 v0``): a number for scalars, for arrays
    the elementwise partials or the gradient of a scalar output, ``None``
    when it is a full Jacobian. ``tangent`` is the source's contribution to
    the target's tangent, ``adjoint`` the target's contribution to the
    source's adjoint.
    """

    source: int
    target: int
    positions: tuple[int, ...]
    partial: Any
    tangent: Any
    adjoint: Any


@dataclass
class Computation:
    """An evaluation of ``f`` at a point, with its tangents (one seed) and adjoints (one cotangent)."""

    function_name: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    variables: list[Variable]  # in numbering order: inputs, then operations by (layer, evaluation order)
    edges: list[Edge]  # ordered by target, then by the first operand position reading the source
    outputs: tuple[int, ...]  # the variable number of each output
    seed: tuple[Any, ...]  # the tangent of each input
    cotangent: tuple[Any, ...]  # the cotangent of each output
    default_seed: bool
    default_cotangent: bool
    _by_number: dict[int, Variable] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_number = {v.number: v for v in self.variables}

    def variable(self, number: int) -> Variable:
        return self._by_number[number]

    @property
    def inputs(self) -> list[Variable]:
        return [v for v in self.variables if v.is_input]

    @property
    def has_tangents(self) -> bool:
        return all(v.tangent is not None for v in self.variables)

    def edges_into(self, number: int) -> list[Edge]:
        return [e for e in self.edges if e.target == number]


# -- recording --------------------------------------------------------------------------


def record(f: Callable, args: Sequence[Any], seed: Any, cotangent: Any, api: str) -> Computation:
    """Evaluate ``f(*args)`` on a fresh tape and number, sweep and annotate it (see the module doc)."""
    if not callable(f):
        raise TypeError(
            f"adkit.{api} needs the function to trace as its first argument, got "
            f"{type(f).__name__} {f!r:.40}. Example: adkit.{api}(lambda x1, x2: x1 * x2, 2.0, 5.0)"
        )
    fname = getattr(f, "__name__", type(f).__name__)
    if not args:
        raise TypeError(
            f"adkit.{api}(f, *args) needs the point to evaluate {fname} at, one argument per input "
            f"of {fname}: adkit.{api}(f, 2.0, 5.0)"
        )
    values = [_as_input(a, k, fname, api) for k, a in enumerate(args)]
    input_names = _input_names(f, len(values))
    tape = Tape()
    leaves = [tape.leaf(x) for x in values]
    outs = _traced_outputs(f(*leaves), tape, fname, api)
    output_names = _output_names(len(outs), input_names)
    seeds, default_seed = _seed(seed, values, input_names, api)
    cotangents, default_cotangent = _cotangent(cotangent, outs, output_names, api)

    nodes = tape.nodes
    n = len(values)
    layers = [0] * len(nodes)
    for node in nodes[n:]:
        layers[node.index] = 1 + max((layers[i] for i in node.inputs if i is not None), default=0)
    order = sorted(range(n, len(nodes)), key=lambda i: (layers[i], i))
    number_of = {i: i - n + 1 for i in range(n)}
    number_of.update({i: k + 1 for k, i in enumerate(order)})

    tangents = _forward_tangents(nodes, seeds)
    seeded: dict[int, Any] = {}
    for y, ct in zip(outs, cotangents):
        seeded[y.index] = ct if y.index not in seeded else seeded[y.index] + ct
    adjoints = sweep(tape, seeded)
    adjoints += [None] * (len(nodes) - len(adjoints))

    names_of_output: dict[int, list[str]] = {}
    for y, name in zip(outs, output_names):
        names_of_output.setdefault(y.index, []).append(name)

    def make(i: int) -> Variable:
        node = nodes[i]
        return Variable(
            number=number_of[i],
            tape_index=i,
            primitive=node.primitive,
            parents=tuple(None if p is None else number_of[p] for p in node.inputs),
            operands=tuple(node.operands),
            params=dict(node.params),
            value=_zero_if_none(node.value, node.value),
            tangent=None if tangents is None else _zero_if_none(tangents[i], node.value),
            adjoint=_zero_if_none(adjoints[i], node.value),
            layer=layers[i],
            input_name=input_names[i] if i < n else None,
            output_names=tuple(names_of_output.get(i, ())),
        )

    variables = [make(i) for i in range(n)] + [make(i) for i in order]
    edges = []
    for i in order:
        edges += _edges_into(nodes[i], number_of, tangents, adjoints)
    return Computation(
        function_name=fname,
        input_names=tuple(input_names),
        output_names=output_names,
        variables=variables,
        edges=edges,
        outputs=tuple(number_of[y.index] for y in outs),
        seed=tuple(seeds),
        cotangent=tuple(cotangents),
        default_seed=default_seed,
        default_cotangent=default_cotangent,
    )


def _as_input(x: Any, k: int, fname: str, api: str) -> Any:
    where = f"argument {k} of {fname}"
    if isinstance(x, Box):
        raise TypeError(
            f"{where} is a traced value ({type(x).__name__}); adkit.{api} evaluates f at plain "
            "numbers or arrays. Pass the primal value (adkit.primal(x))."
        )
    value = as_real(x, where)  # the one check of values to differentiate, as the functional API's
    return float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)


def _input_names(f: Callable, n: int) -> list[str]:
    """The parameter names of ``f`` when it has ``n`` plain positional ones, else x1 .. xn."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # ufuncs and some builtins have no signature
        params = []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = []
    for p in params:
        if p.kind not in kinds:
            break
        names.append(p.name)
    if len(names) >= n:
        return names[:n]
    return ["x"] if n == 1 else [f"x{k + 1}" for k in range(n)]


def _output_names(count: int, input_names: Sequence[str]) -> tuple[str, ...]:
    """``y`` (``y1 .. ym`` for several outputs), or another name where an input already has it.

    >>> _output_names(1, ["x", "y"]), _output_names(2, ["y2"]), _output_names(1, ["y", "out"])
    (('out',), ('out1', 'out2'), ('result',))
    """
    taken = set(input_names)
    for base in ("y", "out", "result", "output"):
        names = (base,) if count == 1 else tuple(f"{base}{k + 1}" for k in range(count))
        if not taken.intersection(names):
            return names
    base = "y_"
    while any(name.startswith(base) for name in taken):
        base += "_"
    return (base + "out",) if count == 1 else tuple(f"{base}{k + 1}" for k in range(count))


def _traced_outputs(out: Any, tape: Tape, fname: str, api: str) -> list[Var]:
    many = isinstance(out, (tuple, list))
    items = list(out) if many else [out]
    if many and not items:
        raise TypeError(f"{fname} returned an empty {type(out).__name__}; adkit.{api} needs an output")
    traced = []
    for k, y in enumerate(items):
        which = f"output {k} of {fname}" if many else f"the output of {fname}"
        if isinstance(y, Var) and y.tape is tape:
            traced.append(y)
        elif isinstance(y, Box):
            raise ValueError(
                f"{which} was traced on another tape (a Var or Dual made outside {fname}?); "
                f"adkit.{api} traces only what {fname} computes from its arguments"
            )
        elif isinstance(y, (numbers.Number, np.ndarray, np.generic)):
            raise ValueError(
                f"{which} does not depend on the arguments (it is the constant {y!r:.40}), so there "
                f"is nothing to trace. Check that {fname} computes its result from its arguments."
            )
        else:
            raise TypeError(
                f"{which} is a {type(y).__name__}; adkit.{api} needs {fname} to return a number, an "
                "array, or a tuple of them"
            )
    return traced


def _as_float(x: Any, what: str) -> Any:
    try:
        arr = np.asarray(primal(x), dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number or an array of numbers, got {type(x).__name__}") from None
    return float(arr) if arr.ndim == 0 else arr


def _per_entry(
    given: Any, shapes: list[tuple[int, ...]], names: Sequence[str], keyword: str, api: str, example: str
) -> list[Any]:
    """``given`` split into one value per entry of ``shapes`` (a bare value when there is one entry)."""
    expected = ", ".join(f"{name}: {shape}" for name, shape in zip(names, shapes))
    per = "output" if keyword == "cotangent" else "input"
    fix = f"Pass one value per {per}, shaped like it ({expected}), e.g. {keyword}={example}."
    try:
        given_shape = np.shape(given)
    except ValueError:  # a ragged list: one entry per input
        given_shape = None
    if len(shapes) == 1 and given_shape == shapes[0]:
        return [_as_float(given, keyword)]
    if isinstance(given, (tuple, list, np.ndarray)) and len(given) == len(shapes):
        parts = [_as_float(part, keyword) for part in given]
        for part, shape, name in zip(parts, shapes, names):
            if np.shape(part) != shape:
                raise ValueError(
                    f"adkit.{api}: the {keyword} for {name} has shape {np.shape(part)}, but {name} has "
                    f"shape {shape}. {fix}"
                )
        return parts
    raise ValueError(f"adkit.{api}: the {keyword} {given!r:.60} does not fit. {fix}")


def _seed(seed: Any, values: list[Any], names: list[str], api: str) -> tuple[list[Any], bool]:
    shapes = [tuple(shape_of(x)) for x in values]
    if seed is None:
        # e_1: the first entry of the first input, as the survey seeds ẋ1 = 1
        parts: list[Any] = [np.zeros(s) if s else 0.0 for s in shapes]
        if shapes[0]:
            if parts[0].size == 0:
                raise ValueError(f"adkit.{api}: the first input is empty; give a seed explicitly")
            parts[0].flat[0] = 1.0
        else:
            parts[0] = 1.0
        return parts, True
    example = "(1.0, 0.0)" if len(shapes) == 2 and shapes == [(), ()] else "..."
    return _per_entry(seed, shapes, names, "seed", api, example), False


def _cotangent(cotangent: Any, outs: list[Var], names: tuple[str, ...], api: str) -> tuple[list[Any], bool]:
    shapes = [tuple(shape_of(y.value)) for y in outs]
    if cotangent is None:
        return [np.ones(s) if s else 1.0 for s in shapes], True
    example = "1.0" if shapes == [()] else "..."
    return _per_entry(cotangent, shapes, names, "cotangent", api, example), False


def _zero_if_none(x: Any, like: Any) -> Any:
    """A plain float or array: zeros shaped like ``like`` for ``None`` (the engines' zero)."""
    if x is None:
        shape = shape_of(like)
        return np.zeros(shape) if shape else 0.0
    x = primal(x)
    return float(x) if np.ndim(x) == 0 else np.asarray(x)


def _forward_tangents(nodes: list, seeds: list[Any]) -> list[Any] | None:
    """Tangent of every tape entry along ``seeds`` (``None`` entries are zero).

    Returns ``None`` when a recorded primitive has no JVP rule (a user
    primitive given only ``defvjp``): the trace then shows no tangents
    rather than wrong ones.
    """
    tangents: list[Any] = [None] * len(nodes)
    for k, s in enumerate(seeds):
        tangents[k] = s
    for node in nodes[len(seeds) :]:
        ts = [None if i is None else tangents[i] for i in node.inputs]
        try:
            tangents[node.index] = apply_jvp(node.primitive, ts, node.value, node.operands, node.params)
        except NotImplementedError:
            return None
    return tangents


def _edges_into(
    node: Any, number_of: dict[int, int], tangents: list[Any] | None, adjoints: list[Any]
) -> list[Edge]:
    prim = node.primitive
    positions_of: dict[int, list[int]] = {}
    for p, i in enumerate(node.inputs):
        if i is not None:
            positions_of.setdefault(i, []).append(p)
    edges = []
    for i, positions in positions_of.items():
        tangent = None
        if tangents is not None:
            ts = [tangents[j] if p in positions else None for p, j in enumerate(node.inputs)]
            tangent = _zero_if_none(apply_jvp(prim, ts, node.value, node.operands, node.params), node.value)
        g = adjoints[node.index]
        adjoint = _sum(
            None if g is None else apply_vjp(prim, p, g, node.value, node.operands, node.params)
            for p in positions
        )
        edges.append(
            Edge(
                source=number_of[i],
                target=number_of[node.index],
                positions=tuple(positions),
                partial=_local_partial(node, positions),
                tangent=tangent,
                adjoint=_zero_if_none(adjoint, node.operands[positions[0]]),
            )
        )
    return edges


def _sum(terms: Any) -> Any:
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return total


def _local_partial(node: Any, positions: list[int]) -> Any:
    """``∂ out / ∂ operand`` summed over ``positions``; ``None`` for a full Jacobian."""
    prim, out = node.primitive, node.value
    if shape_of(out) == ():
        d = _sum(apply_vjp(prim, p, 1.0, out, node.operands, node.params) for p in positions)
        return _zero_if_none(d, node.operands[positions[0]])
    if prim.partials is not None:
        terms = []
        for p in positions:
            rule = prim.partials[p]
            d = 0.0 if rule is None else rule(out, *node.operands, **node.params)
            terms.append(float(d) if type(d) is int else d)  # the ONE / MINUS_ONE / ZERO markers
        return primal(_sum(terms))
    return None


# -- how variables, values and definitions are written ------------------------------------


def variable_name(number: int, style: str) -> str:
    """``v_i`` written for plain text (``v-1``), HTML, LaTeX or matplotlib's mathtext."""
    if style == "text":
        return f"v{number}"
    if style == "html":
        return f"v<sub>{'−' if number < 0 else ''}{abs(number)}</sub>"
    if style == "latex":
        return f"v_{{{number}}}"
    return f"$v_{{{number}}}$"


def symbol_name(name: str, style: str) -> str:
    """An input or output name (``x1``, ``y``) with a trailing number as a subscript."""
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name)
    if style == "text":
        return name
    if style == "html":
        return f"{html.escape(m[1])}<sub>{m[2]}</sub>" if m else html.escape(name)
    plain = name if name.isalpha() else r"\mathrm{" + _latex_escape(name) + "}"
    body = f"{m[1]}_{{{m[2]}}}" if m else plain
    return body if style == "latex" else f"${body}$"


def format_value(x: Any, precision: int = 5) -> str:
    """A scalar as a number; an array as its shape and a short summary.

    >>> format_value(np.array([0.5, 2.0, -1.0]))
    '(3,) [0.5 2 -1]'
    >>> format_value(np.arange(12.0).reshape(3, 4))
    '(3, 4) range [0, 11]'
    """
    x = primal(x)
    if np.ndim(x) == 0:
        return number(x, precision)
    arr = np.asarray(x, dtype=float)
    shape = str(arr.shape)
    if arr.size == 0:
        return f"{shape} empty"
    if arr.ndim == 1 and arr.size <= 4:
        return f"{shape} [{' '.join(number(v, min(precision, 3)) for v in arr)}]"
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if lo == hi:
        return f"{shape} all {number(lo, 3)}"
    return f"{shape} range [{number(lo, 3)}, {number(hi, 3)}]"


def _index_text(index: Any) -> str:
    """``(0, slice(1, None))`` as NumPy writes it in brackets: ``0, 1:``."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for item in items:
        if isinstance(item, slice):
            parts = ["" if v is None else str(v) for v in (item.start, item.stop)]
            out.append(":".join(parts) + ("" if item.step is None else f":{item.step}"))
        elif item is None:
            out.append("None")
        elif item is Ellipsis:
            out.append("...")
        elif isinstance(item, np.ndarray):
            out.append(f"array{item.shape}")
        else:
            out.append(repr(item))
    return ", ".join(out)


def _extra_params(var: Variable) -> str:
    """Parameters a primitive's label leaves out, when they matter (``axis=0``)."""
    prim, params = var.primitive, var.params
    shown = set(re.findall(r"{(\w+)}", prim.label))
    ndim = len(shape_of(var.operands[0])) if var.operands else 0
    extras = []
    for key, value in params.items():
        if key in shown or (key == "keepdims" and value is False):
            continue
        if key == "axis" and isinstance(value, tuple) and len(value) == ndim:
            continue  # a reduction over every axis
        if key == "axes" and isinstance(value, tuple) and value == tuple(range(ndim))[::-1]:
            continue  # the plain transpose
        v = value[0] if isinstance(value, tuple) and len(value) == 1 and key == "axis" else value
        extras.append(f"{key}={constant(v) if isinstance(v, (np.ndarray, float)) else v!r}")
    return ", ".join(extras)


def definition(var: Variable, style: str, input_name: str | None = None) -> str:
    """How ``var`` is computed, written in ``style``: ``ln(v-1)``, ``\\ln v_{-1}``, ``x1`` for an input."""
    if var.is_input:
        return symbol_name(input_name or var.input_name or "x", style)
    names = [
        (variable_name(p, "latex" if style == "mathtext" else style) if p is not None else constant(c))
        for p, c in zip(var.parents, var.operands)
    ]
    prim = var.primitive
    if style in ("latex", "mathtext") and prim.latex and not _extra_params(var):
        body = prim.latex.format(*names)
        return body if style == "latex" else f"${body}$"
    # the plain form, with literal text escaped and the operand names put in afterwards
    holders = [f"\x00{k}\x00" for k in range(len(names))]
    if prim.name == "getitem":
        text = f"{holders[0]}[{_index_text(var.params['index'])}]"
    else:
        text = prim.format(holders, var.params)
        extra = _extra_params(var)
        if extra:
            text = text[:-1] + f", {extra})" if text.endswith(")") else f"{text} ({extra})"
    # split into literal text and operand names; constants count as literal text
    parts: list[tuple[bool, str]] = []  # (is a variable name, text)
    for k, piece in enumerate(re.split("\x00(\\d+)\x00", text)):
        if k % 2:
            j = int(piece)
            parts.append((var.parents[j] is not None, names[j]))
        elif piece:
            parts.append((False, piece))
    merged: list[tuple[bool, str]] = []
    for is_name, piece in parts:
        if merged and not is_name and not merged[-1][0]:
            merged[-1] = (False, merged[-1][1] + piece)
        else:
            merged.append((is_name, piece))
    literal = {
        "html": html.escape,
        "mathtext": _mathtext_escape,
        "text": str,
        "latex": lambda s: r"\texttt{" + _latex_escape(s) + "}",
    }[style]
    name = (lambda s: f"${s}$") if style == "mathtext" else str
    return "".join(name(piece) if is_name else literal(piece) for is_name, piece in merged)


def _latex_escape(s: str) -> str:
    table = {
        "\\": r"\textbackslash{}",
        "{": r"\{",
        "}": r"\}",
        "_": r"\_",
        "^": r"\^{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "~": r"\~{}",
        " ": r"\ ",
    }
    return "".join(table.get(ch, ch) for ch in s)


def _mathtext_escape(s: str) -> str:
    return s.replace("$", r"\$")
