"""``check_grads``: the tool to use when a derivative looks wrong.

It compares adkit's derivatives of any function, in every mode and to any
order, against central finite differences along random directions, and
runs the dot-product test between the modes, ``<u, J v> = <Jᵀ u, v>``
(forward mode gives ``J v``, reverse mode gives ``Jᵀ u``). This is the
check HIPS autograd's ``test_util.check_grads`` made standard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adkit.core import Box, primal, shape_of
from adkit.pytree import flatten, unflatten


class GradientCheckError(AssertionError):
    """A derivative disagreed with finite differences or with another mode."""


def _vector(tree: Any) -> np.ndarray:
    leaves, _ = flatten(tree)
    if not leaves:
        return np.zeros(0)
    return np.concatenate([np.ravel(np.asarray(primal(x), dtype=float)) for x in leaves])


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [rng.normal(size=shape_of(x)) if np.ndim(primal(x)) else float(rng.normal())
                               for x in leaves])  # fmt: skip


def _axpy(a: float, x: Any, y: Any) -> Any:
    xl, treedef = flatten(x)
    yl, _ = flatten(y)
    return unflatten(treedef, [b + a * v for v, b in zip(xl, yl)])


def _compare(name: str, got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    if got.shape != want.shape:
        raise GradientCheckError(f"{name}: shape {got.shape} but expected {want.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=False):
        err = np.max(np.abs(got - want)) if got.size else 0.0
        raise GradientCheckError(
            f"{name}: derivatives disagree (max abs error {err:.3g}, rtol={rtol}, atol={atol})\n"
            f"  adkit:    {np.array2string(got, precision=6, threshold=12)}\n"
            f"  expected: {np.array2string(want, precision=6, threshold=12)}"
        )


def check_grads(
    f: Callable,
    *args: Any,
    modes: Sequence[str] = ("forward", "reverse"),
    order: int = 2,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
) -> None:
    """Check the derivatives of ``f`` at ``args`` in every mode up to ``order``.

    For a random direction ``v`` and cotangent ``u`` (seeded):

    * forward: ``J v`` against the central difference
      ``(f(x + εv) - f(x - εv)) / 2ε``;
    * reverse: ``<u, J v>`` from finite differences against ``<Jᵀ u, v>``;
    * forward and reverse together: the dot-product test
      ``<u, J v> = <Jᵀ u, v>``;
    * auto: ``diff(f, mode="auto")`` against forward mode;

    then the same checks, recursively, on the derivative functions
    ``x ↦ J(x) v`` and ``x ↦ J(x)ᵀ u`` up to ``order`` (this covers
    forward-over-reverse, reverse-over-reverse and the other nestings).

    Raises:
        GradientCheckError: naming the check, the mode and the order, with
            both values.

    >>> import numpy as np
    >>> check_grads(lambda x: np.sin(x) * x, np.array([0.5, 1.5]))
    >>> from adkit import primitive
    >>> @primitive
    ... def wrong_square(x):
    ...     return x ** 2
    >>> _ = wrong_square.defjvp(lambda t, out, x: 3.0 * x * t)   # should be 2 x t
    >>> check_grads(wrong_square, 1.0, modes=("forward",), order=1)
    Traceback (most recent call last):
    ...
    adkit.check.GradientCheckError: order 1, forward mode (J v against finite differences): ...
    """
    if not callable(f):
        raise TypeError(f"check_grads needs a function as its first argument, got {type(f).__name__}")
    unknown = set(modes) - {"forward", "reverse", "auto"}
    if unknown:
        raise ValueError(f"unknown modes {sorted(unknown)}; use 'forward', 'reverse' and/or 'auto'")
    if order < 1:
        raise ValueError("order must be at least 1")
    _check(f, args, tuple(modes), 1, order, eps, rtol, atol, seed)


def _check(f: Callable, args: tuple, modes: tuple, depth: int, order: int, eps: float, rtol: float,
           atol: float, seed: int) -> None:  # fmt: skip
    from adkit.api import diff, jvp, vjp

    rng = np.random.default_rng(seed)
    v = tuple(_random_like(a, rng) for a in args)

    def at(shift: float) -> np.ndarray:
        return _vector(f(*(_axpy(shift, vi, a) for vi, a in zip(v, args))))

    fd_jv = (at(eps) - at(-eps)) / (2 * eps)
    out = f(*args)
    u = _random_like(out, rng)
    u_vec = _vector(u)
    where = f"order {depth}"

    jv = None
    if "forward" in modes or "auto" in modes:
        _, jv_tree = jvp(f, args, v)
        jv = _vector(jv_tree)
    if "forward" in modes:
        _compare(f"{where}, forward mode (J v against finite differences)", jv, fd_jv, rtol, atol)
    if "reverse" in modes:
        _, pullback = vjp(f, *args)
        jtu = pullback(u)
        jtu_v = float(sum(np.vdot(_vector(a), _vector(b)) for a, b in zip(jtu, v)))
        _compare(f"{where}, reverse mode (<Jᵀu, v> against finite differences)",
                 np.array(jtu_v), np.array(float(np.vdot(u_vec, fd_jv))), rtol, atol)  # fmt: skip
        if jv is not None:
            _compare(f"{where}, dot-product test (<u, J v> forward = <Jᵀu, v> reverse)",
                     np.array(float(np.vdot(u_vec, jv))), np.array(jtu_v), rtol, atol)  # fmt: skip
    if "auto" in modes and all(not isinstance(a, Box) for a in flatten(args)[0]):
        argnums = tuple(range(len(args)))
        jac = diff(f, mode="auto", argnums=argnums)(*args)
        jac_f = diff(f, mode="forward", argnums=argnums)(*args)
        _compare(f"{where}, auto mode against forward mode", _vector(jac), _vector(jac_f), rtol, atol)

    if depth < order:

        def forward_derivative(*xs: Any) -> Any:
            return jvp(f, xs, v)[1]

        def reverse_derivative(*xs: Any) -> Any:
            return vjp(f, *xs)[1](u)

        if "forward" in modes or "auto" in modes:
            _check(forward_derivative, args, modes, depth + 1, order, eps, rtol, atol, seed + 1)
        if "reverse" in modes:
            _check(reverse_derivative, args, modes, depth + 1, order, eps, rtol, atol, seed + 2)
