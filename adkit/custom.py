"""A user's own primitives: ``@adkit.primitive`` with ``.defjvp`` / ``.defvjp``.

Use it to give a numerically stable rule (``logsumexp``), a cheaper rule
than the one adkit would derive, or a derivative for a black box adkit
cannot look into (a SciPy special function, a call into C). The function
becomes one node in graphs and traces.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from adkit import rules
from adkit.core import Primitive, Symbolic, bind, ndim_of, primal, shape_of
from adkit.rules import batch_ndim


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
        contribution ``(d out / d arg) · t``, of the output's shape (checked
        at each call: a wrong shape or dtype raises an error naming the rule).
        Returns the primitive.
        """
        per_argument = tuple(
            None if r is None else _checked_rule(self.name, r, i, "JVP")
            for i, r in enumerate(rules_per_argument)
        )
        name = self.name

        def jvps(tangents: Any, out: Any, *args: Any, **params: Any) -> Any:
            """The sum of the given rules' terms (the variadic form of ``Primitive.jvps``)."""
            _check_arity(name, "defjvp", per_argument, args)
            total = None
            for t, rule in zip(tangents, per_argument):
                if t is None or rule is None:
                    continue
                term = rule(t, out, *args, **params)
                if term is not None:
                    total = term if total is None else total + term
            return total

        self.jvps = jvps
        return self

    def defvjp(self, *rules_per_argument: Callable | None) -> UserPrimitive:
        """Give the reverse rules, one per argument (``None`` for a constant argument).

        Each rule is ``vjp(ct, out, *args)`` and returns the argument's
        cotangent ``ctᵀ (d out / d arg)``, of the argument's shape (checked at
        each call: a wrong shape or dtype raises an error naming the rule).
        Returns the primitive.

        >>> import numpy as np, adkit
        >>> @primitive
        ... def halve(x):
        ...     return x / 2
        >>> _ = halve.defvjp(lambda ct, out, x: np.sum(ct) / 2)   # wrong: sums over x's entries
        >>> adkit.grad(lambda x: np.sum(halve(x)))(np.ones(3))
        Traceback (most recent call last):
        ...
        ValueError: the VJP rule of the primitive 'halve' for argument 0 returned shape (), expected (3,): ...
        """
        per_argument = tuple(
            None if r is None else _checked_rule(self.name, r, i, "VJP")
            for i, r in enumerate(rules_per_argument)
        )
        name = self.name

        def vjps(i: int, cotangent: Any, out: Any, *args: Any, **params: Any) -> Any:
            """The given rule of argument ``i`` (the variadic form of ``Primitive.vjps``)."""
            _check_arity(name, "defvjp", per_argument, args)
            rule = per_argument[i]
            return None if rule is None else rule(cotangent, out, *args, **params)

        self.vjps = vjps
        return self


def _check_arity(name: str, given_by: str, rules_per_argument: tuple, args: tuple) -> None:
    if len(rules_per_argument) < len(args):
        raise TypeError(
            f"{name} takes {len(args)} arguments but {given_by} gave {len(rules_per_argument)} rules"
        )


def _checked_rule(name: str, rule: Callable, position: int, kind: str) -> Callable:
    """``rule`` called once per direction, its result checked against the shape and dtype it must have.

    A JVP rule for argument ``i`` gets one tangent of argument ``i`` and
    returns a term of the output's shape; a VJP rule gets one cotangent of
    the output and returns one of argument ``i``'s shape. When adkit carries
    a batch of ``k`` directions (vector mode, a Jacobian's rows), the rule is
    called for each and the results are stacked, giving ``batch + shape``.
    Broadcasting is not allowed to hide a wrong shape: NumPy would turn a
    ``(1,)`` cotangent for a ``(3,)`` argument into three equal entries.
    """

    def batched_rule(t: Any, out: Any, *args: Any, **params: Any) -> Any:
        incoming = args[position] if kind == "JVP" else out  # what t is the tangent / cotangent of
        batch = shape_of(t)[: batch_ndim(t, incoming)]

        def one(t_k: Any) -> Any:  # one direction, or a batch of one axis fewer
            if ndim_of(t_k) == ndim_of(incoming):
                return _check(rule(t_k, out, *args, **params), t_k, out, args, name, position, kind, batch)
            terms = [one(t_k[j]) for j in range(shape_of(t_k)[0])]
            if all(term is None for term in terms):  # no contribution in any direction
                return None
            shape = shape_of(next(term for term in terms if term is not None))
            return rules.stack([np.zeros(shape) if term is None else term for term in terms])

        return one(t)

    batched_rule.__name__ = getattr(rule, "__name__", "rule")
    return batched_rule


def _check(
    result: Any, t: Any, out: Any, args: tuple, name: str, position: int, kind: str, batch: tuple[int, ...]
) -> Any:
    """``result`` if it has the shape and dtype the rule must return, else an error naming the rule."""
    if result is None:  # "no contribution", as adkit's own rules may say
        return result
    reference = out if kind == "JVP" else args[position]
    want_shape, got_shape = shape_of(reference), shape_of(result)
    value = primal(result)
    got_dtype = np.result_type(value) if isinstance(value, _VALUES) else None
    want_dtype = np.result_type(_float_dtype(reference), _float_dtype(t))
    what = f"the {kind} rule of the primitive {name!r} for argument {position}"
    if kind == "JVP":
        meaning = f"its contribution to the output tangent, ∂out/∂arg{position} · t, has the output's shape"
    else:
        meaning = f"the cotangent of argument {position}, ctᵀ ∂out/∂arg{position}, has that argument's shape"
    carried = (
        f" (adkit carries {'x'.join(map(str, batch))} directions at once, of shape {batch + want_shape}, "
        "and calls the rule once for each)"
        if batch
        else ""
    )
    if (
        got_dtype is None
        or got_dtype.kind not in "fiu"
        or (got_dtype.kind == "f" and got_dtype.itemsize < want_dtype.itemsize)
    ):
        got = type(value).__name__ if got_dtype is None else str(got_dtype)
        raise TypeError(f"{what} returned a value of dtype {got}, expected {want_dtype}: {meaning}")
    if got_shape != want_shape:
        hint = ""
        if kind == "VJP" and _broadcasts(want_shape, got_shape):
            hint = (
                f". If argument {position} was broadcast against the others, sum the cotangent over the "
                "broadcast axes (np.sum(..., axis=..., keepdims=...))"
            )
        elif kind == "JVP" and _broadcasts(got_shape, want_shape):
            hint = ". If every output element gets the same term, return np.broadcast_to(term, np.shape(out))"
        raise ValueError(
            f"{what} returned shape {got_shape}, expected {want_shape}{carried}: {meaning}{hint}"
        )
    return result


#: what a rule's result may hold: numbers and arrays (or staged values standing for them, in adkit.compile)
_VALUES = (np.ndarray, np.generic, numbers.Number, Symbolic)


def _float_dtype(x: Any) -> np.dtype:
    """The floating dtype a derivative of ``x`` has: ``x``'s own when it is a float, float64 otherwise."""
    value = primal(x)
    dtype = np.result_type(value) if isinstance(value, _VALUES) else None
    return dtype if dtype is not None and dtype.kind == "f" else np.dtype(np.float64)


def _broadcasts(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    """Whether NumPy would broadcast shape ``small`` to ``big`` (and so hide the mismatch)."""
    try:
        return np.broadcast_shapes(small, big) == big
    except ValueError:
        return False


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
