"""``check_grads``: the tool to use when a derivative looks wrong.

It compares adkit's derivatives of any function, in every mode and to any
order, against central finite differences along random directions, and
runs the dot-product test between the modes, ``<u, J v> = <Jᵀ u, v>``
(forward mode gives ``J v``, reverse mode gives ``Jᵀ u``). This is the
check HIPS autograd's ``test_util.check_grads`` made standard.

Every tolerance is relative to the data: to the norms of the values
compared, plus the error the finite-difference estimate itself makes at the
step used (estimated from two step sizes and from rounding), so a rule that
is 50 % wrong fails whether the function is of size 1e-7 or 1e7, and a
correct one passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from adkit.core import primal, shape_of
from adkit.pytree import TreeDef, flatten, unflatten

#: the finite-difference error estimate is multiplied by this before it widens a tolerance:
#: the estimate is of the right size, not a bound
FD_SAFETY = 10.0


class GradientCheckError(AssertionError):
    """A derivative disagreed with finite differences or with another mode."""


def _vector(tree: Any) -> np.ndarray:
    leaves, _ = flatten(tree)
    if not leaves:
        return np.zeros(0)
    return np.concatenate([np.ravel(np.asarray(primal(x), dtype=float)) for x in leaves])


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    leaves, treedef = flatten(tree)
    return unflatten(
        treedef, [rng.normal(size=shape_of(x)) if np.ndim(primal(x)) else float(rng.normal()) for x in leaves]
    )


def _axpy(a: float, x: Any, y: Any) -> Any:
    xl, treedef = flatten(x)
    yl, _ = flatten(y)
    return unflatten(treedef, [b + a * v for v, b in zip(xl, yl)])


def _norm(x: np.ndarray) -> float:
    return float(np.linalg.norm(x)) if np.size(x) else 0.0


@dataclass(frozen=True)
class _FiniteDifference:
    """``J v`` by central differences, and the size (2-norm) of its own error."""

    value: np.ndarray
    error: float


def _central_difference(f: Callable, args: tuple, v: tuple, eps: float) -> _FiniteDifference:
    """Richardson-extrapolated central differences of ``f`` at ``args`` along ``v``.

    With ``D(h) = (f(x + h v) - f(x - h v)) / 2h``, the estimate is
    ``(4 D(h) - D(2h)) / 3``; its error is estimated by ``|D(h) - D(2h)|``
    (three times the truncation error of ``D(h)``, a generous bound for the
    extrapolation) plus rounding: machine epsilon times the size of the
    values of ``f`` and of ``x`` (whose rounding moves the step), divided by
    ``h``. Two steps are tried, ``h = eps`` and ``h = eps · |x|`` (the root
    mean square of the arguments), and the estimate with the smaller error
    is kept: a relative step for arguments of size 1e7 or 1e-7, ``eps`` itself
    where the function's value is large against its change (``cos`` near 0).
    """
    entries = np.concatenate([np.ravel(np.asarray(primal(x), dtype=float)) for x in flatten(args)[0]] or [[]])
    size = float(np.sqrt(np.mean(entries**2))) if entries.size else 0.0
    steps = [eps] if size in (0.0, 1.0) or not np.isfinite(size) else [eps, eps * size]

    def at(shift: float) -> np.ndarray:
        with np.errstate(all="ignore"):  # a step out of f's domain gives nan: an estimate not to keep
            return _vector(f(*(_axpy(shift, vi, a) for vi, a in zip(v, args))))

    estimates = []
    for step in steps:
        f1p, f1m, f2p, f2m = at(step), at(-step), at(2 * step), at(-2 * step)
        d1 = (f1p - f1m) / (2 * step)
        d2 = (f2p - f2m) / (4 * step)
        value = (4 * d1 - d2) / 3
        values = max(_norm(f1p), _norm(f1m), _norm(f2p), _norm(f2m))
        rounding = np.finfo(float).eps * (values + size * _norm(value)) / step
        estimates.append(_FiniteDifference(value, _norm(d1 - d2) + rounding))
    return min(estimates, key=lambda e: e.error if np.isfinite(e.error) else np.inf)


def _compare(
    name: str,
    got: np.ndarray,
    want: np.ndarray,
    rtol: float,
    atol: float,
    scale: float = 0.0,
    fd_error: float = 0.0,
) -> None:
    """Raise unless ``|got - want| <= rtol * max(|got|, |want|, scale) + FD_SAFETY * fd_error + atol``.

    Norms are 2-norms over all entries; ``scale`` is a size the values are
    bounded by (``|u| |J v|`` for a dot product), ``fd_error`` the error of a
    finite-difference ``want``.
    """
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise GradientCheckError(f"{name}: shape {got.shape} but expected {want.shape}")
    values = f"\n  adkit:    {_show(got)}\n  expected: {_show(want)}"
    if not np.all(np.isfinite(want)):
        raise GradientCheckError(
            f"{name}: the expected value is not finite, so nothing can be checked here (is f finite "
            f"within eps of the point? move the point into f's domain or choose a smaller eps){values}"
        )
    error = _norm(got - want)
    size = max(_norm(got), _norm(want), scale)
    allowed = rtol * size + FD_SAFETY * fd_error + atol
    if not error <= allowed:  # also catches nan
        relative = error / size if size else np.inf
        raise GradientCheckError(
            f"{name}: derivatives disagree (error {error:.3g}, relative {relative:.3g}; allowed "
            f"{allowed:.3g} = rtol {rtol:g} x size {size:.3g} + finite-difference error "
            f"{FD_SAFETY * fd_error:.3g} + atol {atol:g}){values}"
        )


def _show(x: np.ndarray) -> str:
    return np.array2string(x, precision=6, threshold=12)


def check_grads(
    f: Callable,
    *args: Any,
    modes: Sequence[str] = ("forward", "reverse"),
    order: int = 2,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 0.0,
    seed: int = 0,
) -> None:
    """Check the derivatives of ``f`` at ``args`` in every mode up to ``order``.

    For a random direction ``v`` and cotangent ``u`` (seeded), against the
    central difference ``(f(x + εv) - f(x - εv)) / 2ε`` (extrapolated from
    two steps, which also estimates its own error):

    * forward: ``J v``;
    * reverse: ``<Jᵀ u, v>`` against ``<u, J v>``;
    * auto: the Jacobian of ``diff(f, mode="auto")`` applied to ``v``;
    * forward and reverse together: the dot-product test
      ``<u, J v> = <Jᵀ u, v>``, exactly (no finite differences);

    then the same checks, recursively, on each mode's derivative function
    (``x ↦ J(x) v`` by forward or auto mode, ``x ↦ J(x)ᵀ u`` by reverse mode)
    up to ``order``, so ``order=2`` covers every nesting of the modes
    (forward over reverse, reverse over reverse, ...).

    A check passes when ``|adkit - expected| <= rtol · size + 10 · fd_error
    + atol``, in 2-norms: ``size`` is the larger norm of the two, and
    ``fd_error`` the finite differences' estimated error. The tolerance thus
    scales with the function, and ``atol`` (0 by default) is only for a
    floor the caller wants. ``eps`` is relative to the arguments' size (their
    root mean square, at least 1).

    Raises:
        GradientCheckError: naming the check, the modes and the order, with
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
    if isinstance(modes, str):
        raise TypeError(f"modes is a sequence of mode names, e.g. modes=({modes!r},), not a string")
    unknown = set(modes) - {"forward", "reverse", "auto"}
    if unknown or not modes:
        raise ValueError(f"unknown modes {sorted(unknown)}; use 'forward', 'reverse' and/or 'auto'")
    if order < 1:
        raise ValueError("order must be at least 1")
    if not (eps > 0 and rtol >= 0 and atol >= 0):
        raise ValueError(f"need eps > 0, rtol >= 0 and atol >= 0, got eps={eps}, rtol={rtol}, atol={atol}")
    _check(f, args, tuple(dict.fromkeys(modes)), (), order, eps, rtol, atol, seed)


def _check(
    f: Callable,
    args: tuple,
    modes: tuple,
    chain: tuple[str, ...],
    order: int,
    eps: float,
    rtol: float,
    atol: float,
    seed: int,
) -> None:
    """The checks on ``f``, which is the derivative function of the modes in ``chain`` (innermost last)."""
    from adkit.api import jvp, vjp

    rng = np.random.default_rng(seed)
    v = tuple(_random_like(a, rng) for a in args)
    fd = _central_difference(f, args, v, eps)
    out = f(*args)
    out_leaves, out_tree = flatten(out)
    u = _random_like(out, rng)
    u_vec = _vector(u)
    u_norm = _norm(u_vec)
    depth = len(chain) + 1

    def where(mode: str, what: str) -> str:
        return f"order {depth}, {' over '.join((mode, *chain))} mode ({what})"

    derivatives: dict[str, Callable] = {}
    jv = None
    if "forward" in modes:
        jv = _vector(jvp(f, args, v)[1])
        _compare(
            where("forward", "J v against finite differences"), jv, fd.value, rtol, atol, fd_error=fd.error
        )
        derivatives["forward"] = lambda *xs: jvp(f, xs, v)[1]
    if "reverse" in modes:
        jtu = vjp(f, *args)[1](u)
        jtu_v = float(sum(np.vdot(_vector(a), _vector(b)) for a, b in zip(jtu, v)))
        _compare(
            where("reverse", "<Jᵀu, v> against finite differences"),
            np.array(jtu_v),
            np.array(float(np.vdot(u_vec, fd.value))),
            rtol,
            atol,
            scale=u_norm * _norm(fd.value),
            fd_error=u_norm * fd.error,
        )
        if jv is not None:
            _compare(
                where("forward", "dot-product test: <u, J v> forward = <Jᵀu, v> reverse"),
                np.array(float(np.vdot(u_vec, jv))),
                np.array(jtu_v),
                rtol,
                atol,
                scale=u_norm * _norm(jv),
            )
        derivatives["reverse"] = lambda *xs: vjp(f, *xs)[1](u)
    if "auto" in modes:
        shapes = [shape_of(y) for y in out_leaves]
        auto_jv = _vector(_auto_jv(f, args, v, out_tree, shapes))
        _compare(
            where("auto", "J v against finite differences"), auto_jv, fd.value, rtol, atol, fd_error=fd.error
        )
        if jv is not None:
            _compare(where("auto", "J v against forward mode's"), auto_jv, jv, rtol, atol)
        derivatives["auto"] = lambda *xs: _auto_jv(f, xs, v, out_tree, shapes)

    if depth < order:
        for k, (mode, derivative) in enumerate(derivatives.items()):
            _check(derivative, args, modes, (mode, *chain), order, eps, rtol, atol, seed + 1 + k)


def _auto_jv(f: Callable, args: tuple, v: tuple, out_tree: TreeDef, out_shapes: list[tuple]) -> Any:
    """``J v`` from the full Jacobian of ``diff(f, mode="auto")`` (traceable, for nesting)."""
    from adkit.api import diff

    jac = diff(f, mode="auto", argnums=tuple(range(len(args))))(*args)
    blocks = flatten(jac)[0]  # per output leaf, per input leaf: out_shape + in_shape
    directions = [np.ravel(d) for d in flatten(v)[0]]
    per_output = []
    for o, out_shape in enumerate(out_shapes):
        m = int(np.prod(out_shape))
        row = blocks[o * len(directions) : (o + 1) * len(directions)]
        total = sum(np.reshape(b, (m, d.size)) @ d for b, d in zip(row, directions))
        per_output.append(np.reshape(total, out_shape))
    return unflatten(out_tree, per_output)
