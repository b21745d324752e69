"""``adkit.compile``: a staged program as straight-line Python, optimized, cached and guarded.

The function is staged once per input structure (``adkit.staging``); the
program is optimized (common subexpressions, exact simplifications such as
``x * 1.0``, dead code) and emitted as Python source: one line per equation,
NumPy calls for arrays, ``math`` for Python floats, each array released
(``del``) after its last use, and an elementwise result written into a
temporary that dies there (``np.multiply(a, b, out=a)``) instead of a fresh
array. The source is compiled with Python's own ``compile`` and cached,
keyed on the arguments' structure, types, shapes and dtypes (and the values
of the arguments that are not staged: integers, strings, integer arrays).

Every line computes what eager adkit computes, by the same function on the
same values: a primitive on Python floats by its float implementation (with
``math``), on arrays by its NumPy implementation. Python floats take the
functions that may raise (``math.log(0.0)``) first; where one raises, the
call is repeated with the functions that give NumPy's ``inf`` or ``nan``, as
eager reverse mode does. Guards raise :class:`GuardFailed`; the compiled
function then tries its other variants and stages the function again for
the new values, keeping at most ``max_variants``, after which it runs
eagerly for that input structure.
"""

from __future__ import annotations

import builtins
import functools
import gc
import html
import keyword
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adkit import staging
from adkit.core import Box, Primitive
from adkit.pytree import TreeDef, flatten
from adkit.staging import (
    OPERATOR_SYMBOLS,
    Attribute,
    Equation,
    Method,
    Program,
    Ref,
    StagingError,
    finish,
    is_dynamic,
    stage,
)


class GuardFailed(Exception):
    """A guard of a compiled program failed: these values take another branch than the staged ones."""


# -- optimization ---------------------------------------------------------------------------------


def optimize(program: Program) -> Program:
    """The program with exact simplifications, common subexpressions and dead code removed.

    Each change keeps every value bit for bit: ``x * 1.0``, ``x / 1.0`` and
    ``x - 0.0`` become ``x`` (not ``x + 0.0``, which turns ``-0.0`` into
    ``0.0``); two equations of the same operation on the same operands
    become one; equations no output and no guard needs are dropped.
    """
    subst: dict[int, Ref] = {}
    seen: dict[Any, Ref] = {}
    guards: set[tuple[int, bool]] = set()
    equations: list[Equation] = []

    def sub(x: Any) -> Any:
        t = type(x)
        if t is Ref:
            return subst.get(x.id, x)
        if t is tuple or t is list:
            return t(sub(v) for v in x)
        if t is dict:
            return {k: sub(v) for k, v in x.items()}
        return x

    def sub_args(args: tuple) -> tuple:
        for x in args:
            if type(x) is not Ref and type(x) is not float and type(x) is not int:
                return sub(args)
        return tuple(subst.get(x.id, x) if type(x) is Ref else x for x in args)

    for eq in program.equations:
        args = sub_args(eq.args)
        params = sub(eq.params) if eq.params else eq.params
        if eq.kind == "guard":
            key = (args[0].id, eq.params["expect"])
            if key not in guards:
                guards.add(key)
                equations.append(Equation(eq.op, eq.kind, args, params, None, eq.errstate, eq.site))
            continue
        same = _identity_of(eq, args) or _same_shape_reshape(eq, args)
        if same is not None:
            subst[eq.out.id] = same
            continue
        key = None if eq.op is finish else _cse_key(eq.op, eq.kind, args, params)
        if key is not None:
            earlier = seen.get(key)
            if earlier is not None and _same_kind(earlier, eq.out):
                subst[eq.out.id] = earlier
                continue
            seen[key] = eq.out
        equations.append(Equation(eq.op, eq.kind, args, params, eq.out, eq.errstate, eq.site))
    outputs = [sub(o) for o in program.outputs]
    equations = _live(_fused_sums(equations, outputs), outputs)
    replaced = {o.id for o in program.outputs if type(o) is Ref and o.id in subst}
    result = Program(
        program.name,
        program.in_tree,
        program.inputs,
        program.statics,
        equations,
        outputs,
        program.out_tree,
        program.arg_names,
        program.ambient,
    )
    result.replaced_outputs = replaced  # type: ignore[attr-defined]
    return result


def _fused_sums(equations: list[Equation], outputs: list[Any]) -> list[Equation]:
    """``reshape(sum(x, keepdims=True))`` to the reduced shape is ``sum(x, keepdims=False)``: one step."""
    uses: dict[int, int] = {o.id: 1 for o in outputs if type(o) is Ref}
    for eq in equations:
        for r in eq.reads:
            uses[r.id] = uses.get(r.id, 0) + 1
    sums = {
        eq.out.id: k
        for k, eq in enumerate(equations)
        if eq.kind == "primitive"
        and eq.op.name == "sum"
        and eq.params.get("keepdims") is True
        and uses.get(eq.out.id) == 1
    }
    if not sums:
        return equations
    result = list(equations)
    for k, eq in enumerate(equations):
        if eq.kind != "primitive" or eq.op.name != "reshape" or type(eq.args[0]) is not Ref:
            continue
        at = sums.get(eq.args[0].id)
        if at is None:
            continue
        total = equations[at]
        shape, axes = total.args[0].shape, total.params["axis"]
        reduced = tuple(n for i, n in enumerate(shape) if i - len(shape) not in axes)
        if eq.params["shape"] == reduced and eq.out.shape == reduced:
            params = {"axis": axes, "keepdims": False}
            result[at] = Equation(total.op, "primitive", total.args, params, eq.out, total.errstate)
            result[k] = None  # type: ignore[call-overload]
    return [eq for eq in result if eq is not None]


_MULTIPLY = {operator.mul, np.multiply}
_SUBTRACT = {operator.sub, np.subtract}
_DIVIDE = {operator.truediv, np.divide}


def _identity_of(eq: Equation, args: tuple) -> Ref | None:
    """The operand an equation gives back unchanged (``x * 1.0``), if it does, keeping the type."""
    if len(args) != 2 or eq.params:
        return None
    op = eq.op
    if isinstance(op, Primitive):
        if eq.kind != "primitive":
            return None
        op = {"multiply": operator.mul, "subtract": operator.sub, "divide": operator.truediv}.get(op.name)
    a, b = args
    candidate = None
    if op in _MULTIPLY:
        candidate = b if _is_literal(a, 1) else a if _is_literal(b, 1) else None
    elif op in _SUBTRACT or op in _DIVIDE:
        candidate = a if _is_literal(b, 0 if op in _SUBTRACT else 1) else None
    if type(candidate) is Ref and _same_kind(candidate, eq.out):
        return candidate
    return None


_RESHAPES = ("reshape", "squeeze", "expand_dims")


def _same_shape_reshape(eq: Equation, args: tuple) -> Ref | None:
    """A reshape (or squeeze, or expand_dims) to the shape the array has: the array itself."""
    x = args[0] if args else None
    if eq.kind != "primitive" or eq.op.name not in _RESHAPES or type(x) is not Ref:
        return None
    return x if x.kind is np.ndarray and eq.params["shape"] == x.shape and _same_kind(x, eq.out) else None


def _is_literal(x: Any, value: int) -> bool:
    if type(x) is np.ndarray:  # a read-only constant adkit made (a seed broadcast): all ones
        return value == 1 and not x.flags.writeable and x.dtype.kind == "f" and bool(np.all(x == 1.0))
    if type(x) is not float and type(x) is not int:
        return False
    return x == value and not (value == 0 and math.copysign(1, x) < 0)  # x - (-0.0) is not x at x = -0.0


def _same_kind(a: Ref, b: Ref) -> bool:
    return a.kind is b.kind and a.shape == b.shape and a.dtype == b.dtype


def _cse_key(op: Any, kind: str, args: tuple, params: dict) -> Any:
    try:
        return (kind, op, tuple(_key(x) for x in args), _key(params) if params else None)
    except TypeError:  # an operation that cannot be hashed: kept as it is
        return None


def _key(x: Any) -> Any:
    """A hashable stand-in for an operand: variables by identity, literals by type, value and zero sign."""
    t = type(x)
    if t is Ref:
        return x
    if t is float:
        return (float, x, math.copysign(1.0, x))  # (nan is unequal to itself: never merged)
    if t is int or t is bool or t is str or x is None or t is complex:
        return (t, x)
    if t is tuple or t is list:
        return (t, tuple(_key(v) for v in x))
    if t is dict:
        return (dict, tuple((k, _key(v)) for k, v in sorted(x.items())))
    if t is slice:
        return (slice, _key((x.start, x.stop, x.step)))
    return (object, id(x))


def _live(equations: list[Equation], outputs: list[Any]) -> list[Equation]:
    """The equations an output or a guard needs, in order."""
    needed: set[int] = {o.id for o in outputs if type(o) is Ref}
    kept: list[Equation] = []
    for eq in reversed(equations):
        if eq.kind == "guard" or eq.out.id in needed:
            kept.append(eq)
            needed.update(r.id for r in eq.reads)
    kept.reverse()
    return kept


# -- emission ------------------------------------------------------------------------------------


#: primitives on Python floats written as operators (exactly the float implementation: ``operator.add``)
FLOAT_OPERATORS = {"add": "{0} + {1}", "subtract": "{0} - {1}", "multiply": "{0} * {1}", "negative": "-{0}"}
#: the same for the float functions that may raise (the second try calls the guarded ones)
RAISING_OPERATORS = {"divide": "{0} / {1}", "reciprocal": "1.0 / {0}"}
#: array primitives whose implementation is exactly a NumPy method call on an ndarray
_VIEW_PRIMITIVES = {"reshape", "transpose", "squeeze", "expand_dims", "broadcast_to", "getitem"}


@dataclass
class Generated:
    """The source of one variant and the function it defines."""

    source: str
    function: Callable[..., Any]
    names: dict[int, str]
    #: the Python expression of each equation, by its position in the program
    expressions: dict[int, str] = field(default_factory=dict)


def generate(program: Program, safe: bool = False) -> Generated:
    """Python source for ``program`` and the function compiled from it.

    ``safe``: Python floats take the functions that give NumPy's inf or nan
    rather than raise (the second try after a ``math`` error).
    """
    return _Emitter(program, safe).run()


staging.generator = generate  # Program.source() writes with it


class _Emitter:
    def __init__(self, program: Program, safe: bool) -> None:
        self.program = program
        self.safe = safe
        self.ns: dict[str, Any] = {"np": np, "math": math, "GuardFailed": GuardFailed}
        self.consts: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self.expressions: dict[int, str] = {}
        #: math's functions the code calls by their bare names (bound once, at the top of the function)
        self.math_used: set[str] = set()
        self.taken: set[str] = set()
        self.lines: list[str] = []

    # -- names
    def run(self) -> Generated:
        p = self.program
        params = self._name_inputs()
        self.last_use = _last_uses(p)
        self._name_equations()
        for ref in p.inputs:
            ref.name = self.names[ref.id]
        fname = _identifier(p.name, "compiled")
        self.taken = set(self.names.values()) | set(params)
        body = self._body()
        header = [f"def {fname}({', '.join(params)}):"]
        doc = f'    """{p.name}: {len(p.equations)} equations, {len(p.guards)} guards (adkit.compile)."""'
        if p.inputs:
            survey = ", ".join(f"{self.names[r.id]} = {self.survey[r.id]}" for r in p.inputs)
            doc += f"\n    # inputs: {survey}"
        if self.math_used:
            used = sorted(self.math_used)
            doc += f"\n    {', '.join(used)} = {', '.join(f'math.{u}' for u in used)}  # on Python floats"
        source = "\n".join(header + [doc] + body) + "\n"
        code = builtins.compile(source, f"<adkit.compile {p.name}>", "exec")
        exec(code, self.ns)
        return Generated(source, self.ns[fname], dict(self.names), self.expressions)

    def _name_equations(self) -> None:
        """The survey's names: values ``v1, v2 ...``, adjoints ``v̄``, tangents ``v̇``, other steps ``t1 ...``.

        Values are numbered in evaluation order after the inputs (the survey's
        ``v₋₁, v₀`` for two inputs). A step of a reverse sweep that gives an
        operand's contribution to its adjoint, or adds contributions up, is
        named as that adjoint (``x̄1``, ``v̄3``; a name is used again for a
        running sum once its previous value is dead); the last step of the
        forward engine's rule is the output's tangent (``v̇3``).
        """
        p = self.program
        n_in = len(p.inputs)
        self.survey: dict[int, str] = {r.id: f"v{_subscript(i - n_in + 1)}" for i, r in enumerate(p.inputs)}
        self.comments: dict[int, str] = {}
        # a group's result: its last step read outside the group (by a later step, a sum or the output)
        group_of = {
            eq.out.id: eq.out.role[1]
            for eq in p.equations
            if eq.out is not None and eq.out.role is not None and eq.out.role[0] in ("adjoint", "tangent")
        }
        used_outside = {o.id for o in p.outputs if type(o) is Ref}
        for eq in p.equations:
            if eq.kind == "guard":
                continue
            mine = group_of.get(eq.out.id) if eq.out is not None else None
            for r in eq.reads:
                if r.id in group_of and group_of[r.id] != mine:
                    used_outside.add(r.id)
        last_of_group: dict[Any, int] = {}
        for i, eq in enumerate(p.equations):
            if eq.out is not None and eq.out.id in group_of and eq.out.id in used_outside:
                last_of_group[group_of[eq.out.id]] = i
        # values are numbered as the views number them: by topological generation, then evaluation order
        generation: dict[int, int] = {r.id: 0 for r in p.inputs}
        values = []
        for i, eq in enumerate(p.equations):
            if eq.out is not None and eq.out.role is None and eq.op is not finish:
                generation[eq.out.id] = 1 + max((generation.get(r.id, 0) for r in eq.reads), default=0)
                values.append((generation[eq.out.id], i, eq.out.id))
        number_of = {ref_id: k + 1 for k, (_, _, ref_id) in enumerate(sorted(values))}
        # a contribution added to an adjoint's running sum (the c of a + c) is a temporary: the sum is named
        added = {
            eq.args[1].id
            for eq in p.equations
            if eq.out is not None
            and eq.out.role is not None
            and eq.out.role[0] == "sum"
            and len(eq.args) == 2
            and type(eq.args[1]) is Ref
        }
        holders: dict[str, Ref] = {}  # name -> the variable holding it now
        temporaries = 0
        for i, eq in enumerate(p.equations):
            out = eq.out
            if out is None:
                continue
            role = out.role
            wanted = None
            if eq.op is finish:  # the value as returned: the name of what it finishes
                first = eq.args[0]
                wanted = self.names.get(first.id) if type(first) is Ref else None
                zero = " (+ 0.0: -0.0 becomes 0.0)" if wanted and first.kind is float else ""
                self.comments[i] = "as returned" + zero
            elif role is None:
                number = number_of[out.id]
                wanted = f"v{number}"
                self.survey[out.id] = f"v{_subscript(number)}"
                if eq.kind == "primitive":
                    shown = [
                        self.survey.get(a.id, "?") if type(a) is Ref else _short_literal(a) for a in eq.args
                    ]
                    self.comments[i] = f"{self.survey[out.id]} = {eq.op.format(shown, eq.params)}"
            elif role[0] == "sum" or (last_of_group.get(role[1]) == i and out.id not in added):
                of = role[2] if role[0] != "sum" else role[1]
                base = self.names.get(of.id) if role[0] == "sum" or of.id in self.survey else None
                if base is not None and of.id in self.survey:
                    mark = "\u0307" if role[0] == "tangent" else "\u0304"
                    wanted = base[0] + mark + base[1:]
                    if role[0] in ("adjoint", "sum"):
                        entry = role[3] if role[0] == "adjoint" else role[2]
                        if entry.id in self.survey:
                            v, w = self.survey[of.id], self.survey[entry.id]
                            step = "+=" if role[0] == "sum" else "="
                            self.comments[i] = f"{_bar(v)} {step} {_bar(w)} ∂{w}/∂{v}"
                    elif role[0] == "tangent":
                        self.comments[i] = f"tangent of {self.survey[of.id]}"
            if wanted is not None:
                holder = holders.get(wanted)
                if holder is not None and self.last_use.get(holder.id, -1) > i:
                    wanted = None  # its value is still needed: this step takes a temporary
            if wanted is None:
                temporaries += 1
                wanted = f"t{temporaries}"
            holders[wanted] = out
            self.names[out.id] = wanted

    def _name_inputs(self) -> list[str]:
        p = self.program
        taken = {"np", "math", "GuardFailed"}
        dynamic_names = [n for n, s in zip(p.arg_names, p.statics) if s is None]
        params = []
        for ref, base in zip(p.inputs, dynamic_names or [""] * len(p.inputs)):
            name = _identifier(base, "x")
            while name in taken:
                name = name + "_"
            taken.add(name)
            self.names[ref.id] = name
            params.append(name)
        return params

    # -- the body
    def _body(self) -> list[str]:
        p = self.program
        last_use = self.last_use
        roots, owned = self.roots, self.owned = _roots(p)
        block: tuple | None = None
        out: list[str] = []
        outputs = {o.id for o in p.outputs if type(o) is Ref}
        inputs = {r.id for r in p.inputs}
        readers: dict[int, int] = {}
        for eq in p.equations:
            for r in _unique(eq.reads):
                readers[r.id] = readers.get(r.id, 0) + 1
        tested: dict[int, str] = {}  # a value only a guard reads, right after it: tested in the `if`
        waiting: list[Ref] = []  # arrays that die once that guard has tested them
        for i, eq in enumerate(p.equations):
            state = eq.errstate
            if state != "any" and state != block:
                block = state
                if state is not None:
                    d, o, u, v = state
                    out.append(f"    with np.errstate(divide={d!r}, over={o!r}, under={u!r}, invalid={v!r}):")
            indent = "        " if block is not None else "    "
            if eq.kind == "guard":
                name = self._arg(eq.args[0])
                if eq.args[0].id in tested:
                    name = f"({tested[eq.args[0].id]})"
                test = f"not {name}" if eq.params["expect"] else name
                self.expressions[i] = f"{name} is {eq.params['expect']}"
                out.append(f"{indent}if {test}:  # {' '.join(eq.site.split())}")
                out.append(f"{indent}    raise GuardFailed({eq.site!r})")
            else:
                target = self._in_place_target(eq, i, last_use, roots, owned, outputs)
                name, expression = self.names[eq.out.id], self._expression(eq, target)
                self.expressions[i] = expression
                if expression == name:  # returned as it is (a result no one else holds)
                    continue
                following = p.equations[i + 1] if i + 1 < len(p.equations) else None
                if (
                    following is not None
                    and following.kind == "guard"
                    and following.args[0] is eq.out
                    and readers.get(eq.out.id) == 1
                    and eq.out.id not in outputs
                ):
                    tested[eq.out.id] = expression  # (its operands die after the guard's test)
                else:
                    line = f"{indent}{name} = {expression}"
                    comment = self.comments.get(i)
                    if comment:
                        comment = " ".join(comment.split())  # (an array's repr has new lines)
                        line += f"  # {comment if len(comment) <= 80 else comment[:77] + '...'}"
                    out.append(line)
            reassigned = self.names[eq.out.id] if eq.out is not None else None
            dead = [
                r
                for r in _unique(eq.reads)
                if r.kind is np.ndarray
                and last_use.get(r.id) == i
                and r.id not in outputs
                and r.id not in inputs
                and self.names[r.id] != reassigned
            ]
            if eq.out is not None and eq.out.id in tested:
                waiting = dead
                continue
            dead += waiting
            waiting = []
            if dead:
                out.append(f"{indent}del {', '.join(self.names[r.id] for r in dead)}")
        out.append(f"    return {self._outputs()}")
        return out

    def _outputs(self) -> str:
        p = self.program
        replaced = getattr(p, "replaced_outputs", set())
        exprs = []
        counts: dict[int, int] = {}
        for o in p.outputs:
            if type(o) is Ref:
                counts[o.id] = counts.get(o.id, 0) + 1
        for o in p.outputs:
            if type(o) is Ref:
                name = self.names[o.id]
                fresh = o.kind is np.ndarray and (counts[o.id] > 1 or o.id in replaced)
                exprs.append(f"{name}.copy()" if fresh else name)
            elif type(o) is np.ndarray:
                exprs.append(f"{self._const(o)}.copy()")  # eager makes it afresh on every call
            else:
                exprs.append(self._literal(o))
        return _rebuild(p.out_tree, exprs, self)

    # -- one equation
    def _expression(self, eq: Equation, target: Ref | None) -> str:
        if eq.kind == "primitive":
            return self._primitive(eq, target)
        return self._call(eq, target)

    def _primitive(self, eq: Equation, target: Ref | None) -> str:
        prim: Primitive = eq.op
        args = [self._arg(a) for a in eq.args]
        kinds = [a.kind if type(a) is Ref else type(a) for a in eq.args]
        if prim.scalar_impl is not None and not eq.params and all(k is float or k is int for k in kinds):
            return self._float_primitive(prim, eq.args, args)
        impl = prim.impl
        out = f", out={self.names[target.id]}" if target is not None else ""
        if isinstance(impl, np.ufunc) and not eq.params and _resolves(f"np.{impl.__name__}", impl):
            return f"np.{impl.__name__}({', '.join(args)}{out})"
        first = eq.args[0] if eq.args else None
        array = type(first) is Ref and first.kind is np.ndarray
        params = eq.params
        if array and prim.name in ("sum", "mean") and first.dtype == np.float64:
            reduce = f"np.add.reduce({args[0]}, axis={params['axis']!r}, keepdims={params['keepdims']!r})"
            if prim.name == "sum":
                return reduce
            count = math.prod(first.shape[a] for a in params["axis"])
            return f"{reduce} / {count}"
        if array and prim.name in ("reshape", "squeeze", "expand_dims"):
            return f"{args[0]}.reshape({params['shape']!r})"
        if array and prim.name == "transpose":
            if params["axes"] == (1, 0):
                return f"{args[0]}.T"
            return f"{args[0]}.transpose({params['axes']!r})"
        if prim.name == "broadcast_to":
            return f"np.broadcast_to({args[0]}, {params['shape']!r})"
        if prim.name == "where":
            return f"np.where({', '.join(args)})[()]"
        if array and prim.name == "getitem":
            return f"{args[0]}[{self._index(params['index'])}]"
        call = ", ".join(args + [f"{k}={self._literal(v)}" for k, v in params.items()])
        return f"{self._function(impl, f'{prim.name}_impl')}({call})"

    def _float_primitive(self, prim: Primitive, raw: tuple, args: list[str]) -> str:
        if prim.name in FLOAT_OPERATORS:
            return FLOAT_OPERATORS[prim.name].format(*(_wrap(a) for a in args))
        if self.safe:
            return f"{self._function(prim.scalar_impl, f'{prim.name}_float')}({', '.join(args)})"
        if prim.name in RAISING_OPERATORS:
            return RAISING_OPERATORS[prim.name].format(*(_wrap(a) for a in args))
        if prim.name == "power" and type(raw[1]) is int:
            return f"{_wrap(args[0])} ** {_wrap(args[1])}"
        fast = prim.float_impl
        name = getattr(fast, "__name__", "")
        if getattr(math, name, None) is fast:
            if name in self.taken:
                return f"math.{name}({', '.join(args)})"
            self.math_used.add(name)
            return f"{name}({', '.join(args)})"
        return f"{self._function(fast, f'{prim.name}_float')}({', '.join(args)})"

    def _call(self, eq: Equation, target: Ref | None) -> str:
        op = eq.op
        args = eq.args
        if op is finish:
            return self._finish(eq)
        symbol = OPERATOR_SYMBOLS.get(op)
        if symbol is not None and not eq.params:
            if target is not None and op in _UFUNC_OF_OPERATOR:
                return (
                    f"np.{_UFUNC_OF_OPERATOR[op].__name__}({', '.join(self._arg(a) for a in args)}, "
                    f"out={self.names[target.id]})"
                )
            if op is operator.getitem:
                return f"{self._arg(args[0])}[{self._index(args[1])}]"
            if op is operator.contains:
                return f"{_wrap(self._arg(args[1]))} in {_wrap(self._arg(args[0]))}"
            if len(args) == 1:
                operand = self._arg(args[0])
                if op is operator.abs:
                    return f"abs({operand})"
                return {"neg": "-", "pos": "+"}.get(symbol, symbol) + _wrap(operand)
            return f"{_wrap(self._arg(args[0]))} {symbol} {_wrap(self._arg(args[1]))}"
        if type(op) is Method:
            rest = self._arguments(args[1:], eq.params)
            return f"{_wrap(self._arg(args[0]))}.{op.name}({rest})"
        if type(op) is Attribute:
            return f"{_wrap(self._arg(args[0]))}.{op.name}"
        params = dict(eq.params)
        if target is not None:
            params["out"] = _Raw(self.names[target.id])
        return f"{self._callable(op)}({self._arguments(args, params)})"

    def _finish(self, eq: Equation) -> str:
        x = eq.args[0]
        name = self._arg(x)
        kind, dtype = (x.kind, x.dtype) if type(x) is Ref else (type(x), None)
        if kind is float:
            return f"{name} + 0.0"
        scalar = kind is not np.ndarray or x.shape == ()
        if scalar and dtype is not None and dtype.kind == "f":
            if dtype == np.float32:
                return f"np.float32({name}) + np.float32(0)"
            return f"float({name}) + 0.0"
        if type(x) is Ref and x.writeable and self.roots.get(x.id) and self.roots[x.id] <= self.owned:
            return name  # an array this call made, writeable and nobody else's: returned as it is
        caller = ", ".join(self._arg(a) for a in eq.args[1:])
        return f"{self._function(finish, 'finish')}({name}{', ' if caller else ''}{caller})"

    # -- operands
    def _arg(self, x: Any) -> str:
        if type(x) is Ref:
            return self.names[x.id]
        return self._literal(x)

    def _arguments(self, args: tuple, params: dict) -> str:
        parts = [self._value(a) for a in args]
        parts += [f"{k}={self._value(v)}" for k, v in params.items()]
        return ", ".join(parts)

    def _value(self, x: Any) -> str:
        t = type(x)
        if t is _Raw:
            return x.text
        if t is Ref:
            return self.names[x.id]
        if t is tuple:
            inner = ", ".join(self._value(v) for v in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        if t is list:
            return "[" + ", ".join(self._value(v) for v in x) + "]"
        if t is dict and all(type(k) is str for k in x):
            return "{" + ", ".join(f"{k!r}: {self._value(v)}" for k, v in x.items()) + "}"
        return self._literal(x)

    def _literal(self, x: Any) -> str:
        t = type(x)
        if t is float:
            if math.isfinite(x):
                return repr(x)
            return "math.nan" if x != x else "math.inf" if x > 0 else "-math.inf"
        if t is int or t is bool or x is None or t is str:
            return repr(x)
        if x is Ellipsis:
            return "..."
        if t is tuple and all(_simple(v) for v in x):
            return self._value(x)
        if t is slice and all(_simple(v) for v in (x.start, x.stop, x.step)):
            return f"slice({x.start!r}, {x.stop!r}, {x.step!r})"
        return self._const(x)

    def _index(self, index: Any) -> str:
        if type(index) is not tuple:
            return self._index_item(index)
        if not index:
            return "()"
        items = [self._index_item(i) for i in index]
        return items[0] + "," if len(items) == 1 else ", ".join(items)

    def _index_item(self, i: Any) -> str:
        if type(i) is slice and all(_simple(v) for v in (i.start, i.stop, i.step)):
            text = f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}"
            return text + (f":{i.step}" if i.step is not None else "")
        if type(i) is Ref:
            return self.names[i.id]
        return self._literal(i)

    def _const(self, x: Any) -> str:
        name = self.consts.get(id(x))
        if name is None:
            name = self.consts[id(x)] = f"c{len(self.consts)}"
            self.ns[name] = x
        return name

    def _function(self, fn: Any, hint: str) -> str:
        name = self.consts.get(id(fn))
        if name is None:
            name = _identifier(hint, "f")
            while name in self.ns and self.ns[name] is not fn:
                name += "_"
            self.consts[id(fn)] = name
            self.ns[name] = fn
        return name

    def _callable(self, op: Any) -> str:
        if isinstance(op, np.ufunc) and _resolves(f"np.{op.__name__}", op):
            return f"np.{op.__name__}"
        owner = getattr(op, "__self__", None)
        if isinstance(owner, np.ufunc) and _resolves(f"np.{owner.__name__}", owner):
            return f"np.{owner.__name__}.{op.__name__}"
        name = getattr(op, "__name__", "")
        for path in (f"np.{name}", f"np.linalg.{name}"):
            if name and _resolves(path, op):
                return path
        return self._function(op, name or "f")

    # -- in place: an elementwise result written into a temporary that dies here
    def _in_place_target(
        self,
        eq: Equation,
        i: int,
        last_use: dict[int, int],
        roots: dict[int, frozenset],
        owned: set[int],
        outputs: set[int],
    ) -> Ref | None:
        out = eq.out
        if out is None or out.kind is not np.ndarray or eq.params:
            return None
        if eq.kind == "primitive":
            impl = eq.op.impl
            if not isinstance(impl, np.ufunc) or not _resolves(f"np.{getattr(impl, '__name__', '')}", impl):
                return None
        elif eq.op not in _UFUNC_OF_OPERATOR and not (isinstance(eq.op, np.ufunc) and eq.op.nout == 1):
            return None
        for a in eq.args:
            if type(a) is not Ref or a.kind is not np.ndarray or not _same_kind(a, out):
                continue
            if a.id not in owned or a.id in outputs:
                continue
            group_end = max((last_use.get(r, -1) for r, rs in roots.items() if a.id in rs), default=-1)
            if group_end == i and all(a.id not in roots.get(o, ()) for o in outputs):
                return a
        return None


_SUBSCRIPTS = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")


def _bar(name: str) -> str:
    """``v̄₃`` from ``v₃``: the adjoint's name (a combining macron after the first letter)."""
    return name[0] + "\u0304" + name[1:]


def _subscript(n: int) -> str:
    return str(n).translate(_SUBSCRIPTS)


def _short_literal(x: Any) -> str:
    if type(x) is float:
        return f"{x:.6g}"
    if isinstance(x, np.ndarray):
        return f"array{x.shape}"
    return repr(x)


class _Raw:
    """Source text placed as it is (an ``out=`` target)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_UFUNC_OF_OPERATOR = {
    operator.add: np.add,
    operator.sub: np.subtract,
    operator.mul: np.multiply,
    operator.truediv: np.divide,
    operator.pow: np.power,
}


def _simple(x: Any) -> bool:
    return x is None or type(x) in (int, bool, str) or x is Ellipsis


def _wrap(text: str) -> str:
    """An operand in an infix expression: negative numbers and expressions in parentheses."""
    return f"({text})" if text.startswith("-") or " " in text else text


def _resolves(path: str, obj: Any) -> bool:
    parts = path.split(".")
    target: Any = {"np": np}.get(parts[0])
    for part in parts[1:]:
        target = getattr(target, part, None)
    return target is obj


def _identifier(text: str, fallback: str) -> str:
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_") or fallback
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"{fallback}_{name}"
    return name


def _unique(refs: list[Ref]) -> list[Ref]:
    seen: dict[int, Ref] = {}
    for r in refs:
        seen.setdefault(r.id, r)
    return list(seen.values())


def _last_uses(program: Program) -> dict[int, int]:
    last: dict[int, int] = {}
    for i, eq in enumerate(program.equations):
        for r in eq.reads:
            last[r.id] = i
    end = len(program.equations)
    for o in program.outputs:
        if type(o) is Ref:
            last[o.id] = end
    return last


def _roots(program: Program) -> tuple[dict[int, frozenset], set[int]]:
    """For each variable, the temporaries whose memory it may share; the temporaries this program owns."""
    roots: dict[int, frozenset] = {r.id: frozenset() for r in program.inputs}
    owned: set[int] = set()
    for eq in program.equations:
        if eq.out is None:
            continue
        if getattr(eq.out, "owned", False):
            owned.add(eq.out.id)
            roots[eq.out.id] = frozenset({eq.out.id})
        else:
            shared: set[int] = set()
            for r in eq.reads:
                shared |= roots.get(r.id, frozenset())
            roots[eq.out.id] = frozenset(shared)
    return roots, owned


def _rebuild(tree: TreeDef, exprs: list[str], emitter: _Emitter) -> str:
    """A Python expression building the output's structure around the leaves' expressions."""
    values: list[str] = []
    i = 0
    for node in tree:
        kind, n, meta = node
        if kind == "leaf":
            values.append(exprs[i])
            i += 1
            continue
        if kind == "none":
            values.append("None")
            continue
        children = values[len(values) - n :]
        del values[len(values) - n :]
        if kind == "tuple":
            values.append(f"({children[0]},)" if n == 1 else f"({', '.join(children)})")
        elif kind == "list":
            values.append(f"[{', '.join(children)}]")
        elif kind == "namedtuple":
            values.append(f"{emitter._function(meta, meta.__name__)}({', '.join(children)})")
        else:
            values.append("{" + ", ".join(f"{k!r}: {c}" for k, c in zip(meta, children)) + "}")
    return values[0]


# -- the compiled function --------------------------------------------------------------------------


@dataclass(eq=False)
class Variant:
    """One staging of the function: its program, the generated code, and how often it ran."""

    program: Program | None  # None for a long one, which is not kept
    generated: Generated
    safe: Callable[..., Any] | None = None
    calls: int = 0
    equations: int = 0
    guards: int = 0

    @property
    def source(self) -> str:
        return self.generated.source

    @property
    def function(self) -> Callable[..., Any]:
        return self.generated.function


@dataclass(eq=False)
class _Entry:
    """What one input structure compiled to: variants, or the reason it runs eagerly."""

    signature: str
    variants: list[Variant] = field(default_factory=list)
    eager: str | None = None
    statics: list[Any] = field(default_factory=list)
    retraces: int = 0
    #: generated: ``check(args, kwargs)`` gives the staged leaves when a call has this structure, else None
    check: Callable[[tuple, dict], Any] | None = None


#: programs of at most this many equations are kept with their code (for ``program()``, the graph, and
#: the second try with NumPy's float functions); longer ones are staged again when one is needed
KEEP_PROGRAMS = 5000


class Compiled:
    """``adkit.compile(fn)``: ``fn`` staged on first call per input structure, then generated code.

    Call it as ``fn``. ``source(*args)`` gives the generated code for those
    arguments, ``program(*args)`` the staged program, ``explain()`` what each
    input structure compiled to (or why it runs eagerly).
    """

    def __init__(self, fn: Callable[..., Any], max_variants: int = 8, max_structures: int = 64) -> None:
        if not callable(fn):
            raise TypeError(f"adkit.compile needs a function, got {type(fn).__name__}")
        if not isinstance(max_variants, int) or max_variants < 1:
            raise ValueError(f"max_variants must be a positive integer, got {max_variants!r}")
        self.fn = fn
        self.max_variants = max_variants
        self.max_structures = max_structures
        self._entries: dict[Any, _Entry] = {}
        self._last: _Entry | None = None
        functools.update_wrapper(self, fn, updated=())

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", self.fn)
        return f"<adkit.compile of {name!r}: {len(self._entries)} input structure(s)>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        last = self._last
        if last is not None:  # the structure of the last call: its generated check, then its code
            dynamic = last.check(args, kwargs)
            if dynamic is not None:
                variant = last.variants[-1]
                try:
                    return variant.function(*dynamic)
                except GuardFailed:
                    pass
                except (ValueError, OverflowError, ZeroDivisionError):
                    return self._safe(variant, dynamic, args, kwargs)
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        leaves, tree = flatten((args, kwargs))
        key = _key_of(tree, leaves)
        if key is None:  # a traced value: inside a differentiation, the function runs as it is
            return self.fn(*args, **kwargs)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._new_entry(key, leaves)
        if entry.eager is None:
            dynamic = [x for x in leaves if is_dynamic(x)]
            for variant in reversed(entry.variants):
                try:
                    result = self._run(variant, dynamic, args, kwargs)
                except GuardFailed:
                    continue
                self._use(entry, variant, args, kwargs)
                return result
            variant = self._stage(entry, args, kwargs)
            if variant is not None:
                result = self._run(variant, dynamic, args, kwargs)
                self._use(entry, variant, args, kwargs)
                return result
        self._last = None
        return self.fn(*args, **kwargs)

    def _use(self, entry: _Entry, variant: Variant, args: tuple, kwargs: dict) -> None:
        """Make ``variant`` the one the next call tries first, through ``entry``'s generated check."""
        if entry.variants[-1] is not variant:
            entry.variants.remove(variant)
            entry.variants.append(variant)
        if entry.check is None:
            entry.check = _entry_check(args, kwargs)
        self._last = entry if entry.check is not None else None

    def _run(self, variant: Variant, dynamic: list[Any], args: tuple, kwargs: dict) -> Any:
        variant.calls += 1
        try:
            return variant.generated.function(*dynamic)
        except (ValueError, OverflowError, ZeroDivisionError):  # math raised where NumPy gives inf or nan
            return self._safe(variant, dynamic, args, kwargs)

    def _safe(self, variant: Variant, dynamic: Any, args: tuple, kwargs: dict) -> Any:
        """The variant with the float functions that give NumPy's inf or nan instead of raising."""
        if variant.safe is None:
            program = variant.program
            if program is None:  # a long program is not kept: staged again (these values take its path)
                program = optimize(stage(self.fn, args, kwargs, getattr(self.fn, "__name__", "")))
            variant.safe = generate(program, safe=True).function
        return variant.safe(*dynamic)

    def _new_entry(self, key: Any, leaves: list[Any]) -> _Entry:
        if len(self._entries) >= self.max_structures:
            self._entries.pop(next(iter(self._entries)))  # the oldest structure goes
            self._last = None
        entry = _Entry(_signature(leaves), statics=[_kept(x) for x in leaves if not is_dynamic(x)])
        self._entries[key] = entry
        return entry

    def _stage(self, entry: _Entry, args: tuple, kwargs: dict) -> Variant | None:
        """Stage for these arguments and add the variant; on failure mark the entry eager and say why."""
        if len(entry.variants) >= self.max_variants:
            entry.eager = (
                f"its guards failed for each of the {self.max_variants} variants staged; runs "
                "eagerly for this input structure"
            )
            return None
        # Staging makes many objects that live until the code is generated: the cyclic garbage
        # collector would walk them again and again (40 % of the time of a 10^4-step program).
        collecting = gc.isenabled()
        gc.disable()
        try:
            program = stage(self.fn, args, kwargs, getattr(self.fn, "__name__", ""))
            variant = Variant(optimize(program), None)  # type: ignore[arg-type]
            variant.generated = generate(variant.program)
            variant.generated.names = variant.generated.expressions = {}  # (graphs generate their own)
            variant.equations, variant.guards = len(variant.program), len(variant.program.guards)
            if variant.equations > KEEP_PROGRAMS:  # memory: about 400 bytes an equation
                variant.program = None
        except StagingError as err:
            entry.eager = str(err)
            return None
        except Exception as err:  # the function fails on these values: eager code raises it again
            entry.eager = f"staging raised {type(err).__name__}: {_first_line(err)}"
            return None
        finally:
            if collecting:
                gc.enable()
        if entry.variants:
            entry.retraces += 1
        entry.variants.append(variant)
        return variant

    # -- looking inside
    def _entry_for(self, args: tuple, kwargs: dict) -> _Entry:
        leaves, tree = flatten((args, kwargs))
        key = _key_of(tree, leaves)
        if key is None:
            raise TypeError("adkit.compile(...).source() needs plain arguments, not traced values")
        entry = self._entries.get(key)
        if entry is None:
            entry = self._new_entry(key, leaves)
        if entry.eager is None and not entry.variants:
            self._stage(entry, args, kwargs)
        return entry

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated Python source for these arguments (staging the function if needed).

        >>> import numpy as np
        >>> print(compile(lambda x: np.sin(x) * x).source(0.5))  # doctest: +ELLIPSIS
        def compiled_lambda(x):
        ...
            v1 = np.sin(x)
            v2 = v1 * x
            return v2
        <BLANKLINE>
        """
        entry = self._entry_for(args, kwargs)
        if entry.eager is not None:
            return f"# {getattr(self.fn, '__name__', 'the function')} runs eagerly: {entry.eager}\n"
        return entry.variants[-1].source

    def program(self, *args: Any, **kwargs: Any) -> Program:
        """The staged (optimized) program for these arguments."""
        entry = self._entry_for(args, kwargs)
        if entry.eager is not None:
            raise StagingError(entry.eager)
        program = entry.variants[-1].program
        if program is None:  # a long program, not kept: staged again
            program = optimize(stage(self.fn, args, kwargs, getattr(self.fn, "__name__", "")))
        return program

    def explain(self) -> str:
        """What each input structure seen so far compiled to, or why it runs eagerly (one line each)."""
        name = getattr(self.fn, "__name__", "the function")
        if not self._entries:
            return f"adkit.compile({name}): not called yet"
        lines = [f"adkit.compile({name}):"]
        for entry in self._entries.values():
            if entry.eager is not None:
                lines.append(f"  {entry.signature}: runs eagerly: {entry.eager}")
                continue
            sizes = "; ".join(f"{v.equations} equations, {v.guards} guards" for v in entry.variants)
            again = f", staged again {entry.retraces} time(s) where a guard failed" if entry.retraces else ""
            lines.append(f"  {entry.signature}: compiled, {len(entry.variants)} variant(s) ({sizes}){again}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.explain())}</pre>"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _key_of(tree: TreeDef, leaves: list[Any]) -> Any:
    """The cache key of a call: structure, and per leaf its type, shape, dtype and layout, or its value."""
    parts = []
    for x in leaves:
        t = type(x)
        if t is float:
            parts.append(float)
        elif t is np.ndarray:
            if x.dtype.kind == "f":
                layout = "C" if x.flags.c_contiguous else "F" if x.flags.f_contiguous else "N"
                parts.append((x.dtype, x.shape, layout))
            else:
                parts.append(("array", x.dtype, x.shape, x.tobytes()))
        elif isinstance(x, Box):
            return None
        elif isinstance(x, np.floating):
            parts.append(t)
        else:
            try:
                hash(x)
                parts.append(("value", t, x))
            except TypeError:
                parts.append(("object", t, id(x)))
    return tree, tuple(parts)


def _entry_check(args: tuple, kwargs: dict) -> Callable[[tuple, dict], Any] | None:
    """Generated code telling whether a call has the structure of ``(args, kwargs)``: the key, checked fast.

    It returns the staged leaves (numbers and floating arrays, in order), or
    None where a type, length, shape, dtype, layout or constant differs.
    None when the structure holds other containers than tuples, lists,
    dicts and named tuples (those calls take the general way).
    """
    ns: dict[str, Any] = {"ndarray": np.ndarray, "float": float}
    lines = [
        "def check(args, kwargs):",
        f"    if len(args) != {len(args)} or len(kwargs) != {len(kwargs)}:",
        "        return None",
    ]
    leaves: list[str] = []
    counter = [0]

    def const(value: Any) -> str:
        name = f"k{len(ns)}"
        ns[name] = value
        return name

    def walk(value: Any, expr: str, depth: int) -> bool:
        t = type(value)
        if depth > 50:
            return False
        if t is tuple or t is list or (isinstance(value, tuple) and hasattr(t, "_fields")):
            lines.append(f"    if type({expr}) is not {const(t)} or len({expr}) != {len(value)}:")
            lines.append("        return None")
            if not value:
                return True
            counter[0] += 1
            parts = [f"p{counter[0]}_{i}" for i in range(len(value))]
            lines.append(f"    {', '.join(parts)}{',' if len(parts) == 1 else ''} = {expr}")
            return all(walk(v, part, depth + 1) for part, v in zip(parts, value))
        if t is dict:
            if not all(type(k) is str for k in value):
                return False
            lines.append(f"    if type({expr}) is not dict or {expr}.keys() != {const(set(value))}:")
            lines.append("        return None")
            return all(walk(value[k], f"{expr}[{k!r}]", depth + 1) for k in sorted(value))
        if value is None:
            lines.append(f"    if {expr} is not None:")
        elif is_dynamic(value):
            counter[0] += 1
            name = f"a{counter[0]}"
            lines.append(f"    {name} = {expr}")
            leaves.append(name)
            if t is np.ndarray:
                dtype, shape, strides = const(value.dtype), value.shape, value.strides
                lines.append(
                    f"    if type({name}) is not ndarray or ({name}.dtype is not {dtype} and "
                    f"{name}.dtype != {dtype}) or {name}.shape != {shape!r} or "
                    f"{name}.strides != {strides!r}:"
                )
            else:
                lines.append(f"    if type({name}) is not {const(t)}:")
        elif t is np.ndarray:
            lines.append(
                f"    if type({expr}) is not ndarray or {expr}.dtype != {const(value.dtype)} or "
                f"{expr}.shape != {value.shape!r} or {expr}.tobytes() != {const(value.tobytes())}:"
            )
        elif t in (int, bool, str, bytes, complex):
            lines.append(f"    if type({expr}) is not {const(t)} or {expr} != {const(value)}:")
        else:
            return False  # another object: compared by the general way
        lines.append("        return None")
        return True

    for i, a in enumerate(args):
        if not walk(a, f"args[{i}]", 0):
            return None
    if kwargs and not walk(kwargs, "kwargs", 0):
        return None
    lines.append(f"    return ({''.join(f'{x}, ' for x in leaves)})")
    exec(builtins.compile("\n".join(lines), "<adkit.compile check>", "exec"), ns)
    return ns["check"]


def _kept(x: Any) -> Any:
    """A non-staged argument as the cache keeps it: arrays copied (the caller's array is not kept alive)."""
    return x.copy() if type(x) is np.ndarray else x


def _signature(leaves: list[Any]) -> str:
    parts = []
    for x in leaves:
        if type(x) is np.ndarray:
            constant = "" if is_dynamic(x) else " (constant)"
            parts.append(f"{x.dtype}[{', '.join(map(str, x.shape))}]{constant}")
        elif is_dynamic(x):
            parts.append(type(x).__name__)
        else:
            parts.append(f"{x!r:.20}")
    return "(" + ", ".join(parts) + ")"


#: why ``compile(..., backend=...)`` is refused (docs/architecture.md, "Staged programs", says it in full)
_NO_BACKEND = (
    "the generated code is NumPy's own (in-place out= writes, guards that raise on array values, "
    "math on Python floats, adkit's NumPy implementations called directly), which jax.numpy under "
    "jax.jit cannot run; see 'Staged programs' in docs/architecture.md. For JAX's devices, write the "
    "function with jax.numpy and use jax.grad and jax.jit"
)


def compile(fn: Callable[..., Any] | None = None, *, max_variants: int = 8, **unknown: Any) -> Any:
    """Stage ``fn`` (any function, or a transformation such as ``grad(f)``) into generated NumPy code.

    The first call for an input structure (types, shapes and dtypes of the
    numbers and floating arrays, values of the other arguments) records
    ``fn`` on staged values, optimizes the program and compiles Python
    source for it; later calls run that code. A transformation's derivative
    is staged with it: ``compile(grad(f))`` is the gradient's own code,
    sweep included. Python ``if`` on values becomes a guard, checked on each
    call (a failed guard stages again, at most ``max_variants`` times per
    structure); what cannot be staged runs eagerly, and ``explain()`` says
    why. Results equal eager adkit's.

    Values read from outside the arguments (globals, closures) are read when
    the function is staged: arrays by reference, numbers as constants.
    The code is NumPy's only: another keyword, such as ``backend="jax"``,
    is refused with the reason (docs/architecture.md, "Staged programs").

    >>> import numpy as np
    >>> import adkit
    >>> f = lambda x: np.sum(np.tanh(x) ** 2)
    >>> grad_f = adkit.compile(adkit.grad(f))
    >>> grad_f(np.array([0.5, -1.0]))
    array([ 0.72686198, -0.63970001])
    """
    if unknown:  # named here, not by Python's bare "unexpected keyword argument"
        name = next(iter(unknown))
        why = _NO_BACKEND if name == "backend" else "its parameters are fn and max_variants"
        raise TypeError(f"adkit.compile has no parameter {name!r}: {why}")
    if fn is None:
        return functools.partial(compile, max_variants=max_variants)
    return Compiled(fn, max_variants=max_variants)


__all__ = ["Compiled", "GuardFailed", "compile", "generate", "optimize"]
