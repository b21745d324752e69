"""Forward mode on dual numbers: ``Dual`` and the engine that pushes tangents.

A dual number ``a + b ε`` with ``ε² = 0`` carries a primal value ``a`` and a
tangent ``b``; evaluating ``f`` on ``x + v ε`` gives ``f(x) + J(x) v ε``. The
tangent may carry one leading batch axis holding ``k`` directions at once
(vector mode, as ForwardDiff.jl's chunks): ``value.shape == s`` and
``tangent.shape == (k,) + s``.

The engine knows no derivative: for each primitive it asks the rule table for
the output tangent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adkit.core import (
    Box,
    Level,
    Primitive,
    as_real,
    bind,
    check_fits,
    new_level,
    primal,
    process,
    refuse_complex,
    shape_of,
    short_repr,
)
from adkit.numpy_bridge import ArrayOps
from adkit.rules import apply_jvp

#: Level of duals a user builds by hand: they all share one perturbation, so
#: ``Dual(2, 1) * Dual(3, 0)`` is one first-order computation.
USER_LEVEL = Level(0, "user", "a hand-made Dual")


class Dual(ArrayOps, Box):
    """A dual number ``value + tangent ε`` with ``ε² = 0``, scalar or array.

    ``f(Dual(x, v))`` is ``Dual(f(x), J_f(x) v)``: the tangent of the output
    is the directional derivative of ``f`` along ``v``.

    Args:
        value: the primal value (a number, an array, or a traced value of an
            outer differentiation).
        tangent: the derivative part; defaults to zero. Its shape is the
            value's shape, or ``(k,) + value.shape`` to carry ``k`` tangent
            directions at once (vector mode).
        tag: the perturbation this dual belongs to. Duals built by hand share
            one tag, so a derivative operator written with hand-made duals
            nested inside another one confuses the two perturbations (it
            gives 2 for d/dx [x · d/dy (x + y)] at 1, not 1). Nest with
            ``adkit.diff`` / ``adkit.jvp``, which give each differentiation
            its own level, or pass distinct tags.

    ``.real`` and ``.dual`` are aliases of ``.value`` and ``.tangent`` used in
    the dual-number literature, on the duals you build. Inside a function that
    adkit differentiates, traced values behave as NumPy arrays: there ``x.real``
    is ``x`` itself and ``x.imag`` is zero, as for any real array.
    Comparisons look at the primal value.

    >>> x = Dual(2.0, 1.0)
    >>> x * x + 3 * x
    Dual(10.000, 7.000)
    >>> import numpy as np
    >>> np.sin(Dual(0.0, 1.0))
    Dual(0.000, 1.000)
    """

    __slots__ = ("_level", "tangent", "value")

    def __init__(self, value: Any, tangent: Any = None, tag: int | None = None):
        value = as_real(value, "Dual value")
        if tangent is None:
            tangent = np.zeros(shape_of(value)) if shape_of(value) else 0.0
        tangent = as_real(tangent, "Dual tangent")
        check_fits("Dual tangent", shape_of(tangent), shape_of(value), batched=True)
        if tag is None:
            inner = [x._level for x in (value, tangent) if isinstance(x, Box)]
            # A dual built around traced values is a new perturbation outside them.
            tag = new_level("user", "a hand-made Dual") if inner else USER_LEVEL
        elif not isinstance(tag, Level):
            tag = Level(tag, "user", f"a hand-made Dual of tag {tag}")
        self.value = value
        self.tangent = tangent
        self._level = tag

    @classmethod
    def of_level(cls, value: Any, tangent: Any, level: Level) -> Dual:
        """The engines' and transformations' constructor: no checks, no conversions, a given level."""
        d = object.__new__(cls)
        d.value = value
        d.tangent = tangent
        d._level = level
        return d

    @property
    def real(self) -> Any:
        """The primal part (alias of ``value``) of a hand-made dual; inside a differentiation, ``self``.

        A function being differentiated treats its argument as a real array,
        whose real part is itself (NumPy's ``x.real``); stripping the tangent
        there would silently lose the derivative.
        """
        return self.value if self._level.kind == "user" else self

    @property
    def dual(self) -> Any:
        """The ε part (alias of ``tangent``)."""
        return self.tangent

    @property
    def primal(self) -> Any:
        """The plain number or array inside, with every level stripped."""
        return primal(self)

    def __repr__(self) -> str:
        return f"Dual({short_repr(self.value)}, {short_repr(self.tangent)})"

    def _repr_latex_(self) -> str:
        return f"${_latex(self.value)} + {_latex(self.tangent)}\\,\\varepsilon$"


def _latex(x: Any) -> str:
    if isinstance(x, Dual):
        return f"({_latex(x.value)} + {_latex(x.tangent)}\\,\\varepsilon)"
    if isinstance(x, Box):
        return _latex(x.value)
    if np.ndim(x) == 0:
        return short_repr(x)
    rows = np.atleast_2d(np.asarray(x))
    if rows.ndim > 2:
        return f"\\text{{array of shape }}{np.shape(x)}"
    body = r" \\ ".join(" & ".join(f"{v:.3g}" for v in row) for row in rows)
    return f"\\begin{{bmatrix}} {body} \\end{{bmatrix}}"


def forward_process(top: Dual, prim: Primitive, operands: tuple, params: dict) -> Any:
    """Evaluate ``prim`` at ``top``'s level: primal by recursion, tangent by its rule."""
    level = top._level
    primals = []
    tangents = []
    for x in operands:
        if type(x) is Dual and x._level == level:
            primals.append(x.value)
            tangents.append(x.tangent)
        else:
            primals.append(x)
            tangents.append(None)
    out = bind(prim, primals, params)
    refuse_complex(prim, out)
    tangent = apply_jvp(prim, tangents, out, primals, params)
    if tangent is None:
        return out
    return Dual.of_level(out, tangent, level)


process.register(Dual, object, object, object)(forward_process)


__all__ = ["USER_LEVEL", "Dual", "forward_process"]
