"""A user's own primitives: ``@adkit.primitive`` with ``.defjvp`` / ``.defvjp``.

Use it to give a numerically stable rule (``logsumexp``), a cheaper rule
than the one adkit would derive, or a derivative for a black box adkit
cannot look into (a SciPy special function, a call into C). The function
becomes one node in graphs and traces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adkit import rules
from adkit.core import Primitive, batch_ndim, bind, primal


class UserPrimitive(Primitive):
    """A primitive defined by a user's function and the rules given to it.

    The function is always called on plain NumPy values (never on traced
    ones), so it may use anything: SciPy, loops, C extensions.

    Rules are per argument, in the same form as adkit's own:
    ``jvp(t, out, *args)`` returns argument ``i``'s contribution to the output
    tangent, ``vjp(ct, out, *args)`` its cotangent. Write them with NumPy or
    adkit functions (``np.exp``, ``adkit.exp``) on the values given, so that
    they can themselves be differentiated. When adkit carries several
    directions at once, the rules are called once per direction.
    """

    def __init__(self, fun: Callable, name: str | None = None):
        name = name or getattr(fun, "__name__", "primitive")
        super().__init__(name, fun, doc=fun.__doc__ or f"The user primitive {name}.")
        self.fun = fun
        self.__wrapped__ = fun
        self.__module__ = getattr(fun, "__module__", "adkit")

    def __call__(self, *args: Any, **params: Any) -> Any:
        return bind(self, args, params)

    def evaluate(self, operands: Any, params: dict) -> Any:
        return self.fun(*operands, **params)

    def defjvp(self, *rules_per_argument: Callable | None) -> UserPrimitive:
        """Give the forward rules, one per argument (``None`` for a constant argument).

        Each rule is ``jvp(t, out, *args)`` and returns the argument's
        contribution ``(d out / d arg) · t``. Returns the primitive.
        """
        self.jvps = tuple(
            None if r is None else _per_direction(r, i) for i, r in enumerate(rules_per_argument)
        )
        return self

    def defvjp(self, *rules_per_argument: Callable | None) -> UserPrimitive:
        """Give the reverse rules, one per argument (``None`` for a constant argument).

        Each rule is ``vjp(ct, out, *args)`` and returns the argument's
        cotangent ``ctᵀ (d out / d arg)``, of the argument's shape. Returns
        the primitive.
        """
        self.vjps = tuple(_per_direction(r, None) if r is not None else None for r in rules_per_argument)
        return self

    def jvp(self, tangents: Any, out: Any, primals: Any, params: dict) -> Any:
        if self.jvps is not None and len(self.jvps) < len(primals):
            raise TypeError(
                f"{self.name} takes {len(primals)} arguments but defjvp gave {len(self.jvps)} rules"
            )
        return super().jvp(tangents, out, primals, params)

    def vjp(self, i: int, cotangent: Any, out: Any, primals: Any, params: dict) -> Any:
        if self.vjps is not None and len(self.vjps) < len(primals):  # type: ignore[arg-type]
            raise TypeError(
                f"{self.name} takes {len(primals)} arguments but defvjp gave {len(self.vjps)} rules"  # type: ignore[arg-type]
            )
        return super().vjp(i, cotangent, out, primals, params)


def _per_direction(rule: Callable, position: int | None) -> Callable:
    """Call ``rule`` once per direction when the tangent carries a batch axis."""

    def batched_rule(t: Any, out: Any, *args: Any, **params: Any) -> Any:
        reference = args[position] if position is not None else out
        nb = batch_ndim(t, reference)
        if nb == 0:
            return rule(t, out, *args, **params)
        return rules.stack([batched_rule(t[k], out, *args, **params) for k in range(np.shape(primal(t))[0])])

    batched_rule.__name__ = getattr(rule, "__name__", "rule")
    return batched_rule


def primitive(fun: Callable) -> UserPrimitive:
    """Make ``fun`` an adkit primitive; give it rules with ``.defjvp`` and ``.defvjp``.

    A stable ``logsumexp`` whose rule is the softmax:

    >>> import numpy as np
    >>> @primitive
    ... def logsumexp(x):
    ...     top = np.max(x)
    ...     return top + np.log(np.sum(np.exp(x - top)))
    >>> softmax = lambda out, x: np.exp(x - out)
    >>> _ = logsumexp.defjvp(lambda t, out, x: np.sum(t * softmax(out, x), axis=-1))
    >>> _ = logsumexp.defvjp(lambda ct, out, x: ct * softmax(out, x))
    >>> import adkit
    >>> adkit.grad(logsumexp)(np.array([1000.0, 1000.0]))
    array([0.5, 0.5])
    """
    if not callable(fun):
        raise TypeError(f"adkit.primitive decorates a function, got {type(fun).__name__}")
    return UserPrimitive(fun)


def defjvp(prim: UserPrimitive, *rules_per_argument: Callable | None) -> UserPrimitive:
    """``prim.defjvp(...)`` as a function (HIPS autograd's spelling).

    >>> p = primitive(lambda x: x ** 2)
    >>> _ = defjvp(p, lambda t, out, x: 2 * x * t)
    >>> import adkit
    >>> adkit.diff(p, mode="forward")(3.0)
    6.0
    """
    return prim.defjvp(*rules_per_argument)


def defvjp(prim: UserPrimitive, *rules_per_argument: Callable | None) -> UserPrimitive:
    """``prim.defvjp(...)`` as a function (HIPS autograd's spelling).

    >>> p = primitive(lambda x: x ** 2)
    >>> _ = defvjp(p, lambda ct, out, x: 2 * x * ct)
    >>> import adkit
    >>> adkit.grad(p)(3.0)
    6.0
    """
    return prim.defvjp(*rules_per_argument)
