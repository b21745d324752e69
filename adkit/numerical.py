"""The numerical baseline: finite differences and the complex step, and why AD beats them.

Three ways to differentiate without AD, each one line of maths:

* forward difference  ``f'(x) ≈ (f(x + h) - f(x)) / h``, truncation error O(h);
* central difference  ``f'(x) ≈ (f(x + h) - f(x - h)) / 2h``, truncation error O(h²);
* complex step        ``f'(x) ≈ Im f(x + ih) / h``, truncation error O(h²) and no
  subtraction, so no cancellation (``f`` must accept complex numbers).

A difference quotient also loses about ``ε |f| / h`` to round-off (``ε`` is
machine epsilon, 2.2e-16 for float64): a smaller step cuts the truncation
error and raises the round-off error. The best step balances the two, near
``√ε ≈ 1.5e-8`` for forward differences and ``∛ε ≈ 6e-6`` for central ones,
and even there about half (forward) or a third (central) of the digits are
lost. :func:`error_vs_step` measures that trade-off and plots it. AD has
neither error: its derivatives are exact up to the round-off of evaluating
them.

Everything here is plain NumPy; ``f`` is evaluated on ordinary floats and
arrays (complex ones for the complex step).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adkit.api import derivative

EPS = float(np.finfo(float).eps)

#: The step the rules of thumb recommend, relative to ``max(1, |x|)``.
DEFAULT_STEP = {
    "forward": math.sqrt(EPS),  # balances O(h) truncation against ε/h round-off
    "central": EPS ** (1 / 3),  # balances O(h²) truncation against ε/h round-off
    "complex": 1e-20,  # no cancellation: any tiny step will do
}
METHODS = tuple(DEFAULT_STEP)


def _point(x: Any, name: str) -> np.ndarray:
    if isinstance(x, (bool, np.bool_, complex)):
        raise TypeError(f"{name}: x must be a real number or an array of real numbers, got {x!r}")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: x must be a real number or an array of real numbers, got {type(x).__name__}"
        ) from None
    if arr.dtype == object:
        raise TypeError(f"{name}: x must be numbers, got {type(x).__name__}")
    return arr


def _check_f(f: Any, name: str) -> None:
    if not callable(f):
        raise TypeError(f"{name} needs a function as its first argument, got {type(f).__name__}")


def _check_method(method: str) -> str:
    if method not in DEFAULT_STEP:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    return method


def _steps(x: np.ndarray, h: float | None, method: str) -> np.ndarray:
    if h is None:
        return DEFAULT_STEP[method] * np.maximum(1.0, np.abs(x))
    if not isinstance(h, numbers.Real) or isinstance(h, bool) or not h > 0 or not math.isfinite(h):
        raise ValueError(f"the step h must be a positive finite number, got {h!r}")
    return np.full(x.shape, float(h))


def jacobian(f: Callable[[Any], Any], x: Any, method: str = "central", h: float | None = None) -> Any:
    """The Jacobian of ``f`` at ``x`` by finite differences: ``J[:, i] ≈ (f(x + h eᵢ) - f(x - h eᵢ)) / 2h``.

    Column ``i`` comes from perturbing input ``i`` alone, so the cost is
    ``n + 1`` evaluations of ``f`` (forward), ``2n`` (central) or ``n``
    (complex step). The shape is ``f(x).shape + x.shape``, as
    :func:`adkit.jacobian`'s; a scalar function of a scalar gives a float.

    Args:
        f: a function of one real number or array, evaluated on plain NumPy values.
        x: the point.
        method: ``"forward"``, ``"central"`` or ``"complex"`` (complex step).
        h: the step; by default ``√ε·max(1, |xᵢ|)`` (forward), ``∛ε·max(1, |xᵢ|)``
            (central) or ``1e-20`` (complex).

    >>> import numpy as np
    >>> round(jacobian(np.sin, 0.0), 8)
    1.0
    >>> jacobian(lambda x: x ** 2, np.array([1.0, 2.0])).round(6)
    array([[2., 0.],
           [0., 4.]])
    """
    _check_f(f, "jacobian")
    _check_method(method)
    x0 = _point(x, "jacobian")
    steps = _steps(x0, h, method)
    flat = x0.ravel()
    f0 = np.asarray(f(x0 if x0.ndim else float(x0)))
    if np.iscomplexobj(f0):
        raise TypeError("jacobian: f returned a complex value at a real point; f must be a real function")
    columns = []
    for i in range(flat.size):
        step = steps.ravel()[i]
        if method == "complex":
            xc = flat.astype(complex)
            xc[i] += 1j * step
            columns.append(np.imag(np.asarray(f(_like(xc, x0)))) / step)
            continue
        xp = flat.copy()
        xp[i] += step
        up = np.asarray(f(_like(xp, x0)), dtype=float)
        if method == "forward":
            columns.append((up - f0) / step)
        else:
            xm = flat.copy()
            xm[i] -= step
            columns.append((up - np.asarray(f(_like(xm, x0)), dtype=float)) / (2 * step))
    shape = f0.shape + x0.shape
    jac = np.stack(columns, axis=-1).reshape(shape) if columns else np.zeros(shape)
    return float(jac) if jac.ndim == 0 else jac


def _like(flat: np.ndarray, x0: np.ndarray) -> Any:
    """``flat`` reshaped as the point; a 0-d point becomes a Python scalar."""
    return flat.reshape(x0.shape) if x0.ndim else flat[0].item()


def forward_difference(f: Callable[[Any], Any], x: Any, h: float | None = None) -> Any:
    """Forward difference ``f'(x) ≈ (f(x + h) - f(x)) / h`` (error O(h) + O(ε/h)).

    >>> import numpy as np
    >>> abs(forward_difference(np.exp, 1.0) - np.e) < 1e-7
    True
    """
    return jacobian(f, x, "forward", h)


def central_difference(f: Callable[[Any], Any], x: Any, h: float | None = None) -> Any:
    """Central difference ``f'(x) ≈ (f(x + h) - f(x - h)) / 2h`` (error O(h²) + O(ε/h)).

    >>> import numpy as np
    >>> abs(central_difference(np.exp, 1.0) - np.e) < 1e-9
    True
    """
    return jacobian(f, x, "central", h)


def complex_step(f: Callable[[Any], Any], x: Any, h: float = 1e-20) -> Any:
    """Complex-step derivative ``f'(x) ≈ Im f(x + ih) / h`` (error O(h²), no cancellation).

    ``f`` must be real-analytic and written with operations that accept
    complex numbers (``np.exp``, ``*``, ``np.sin``; not ``abs`` or comparisons).

    >>> import numpy as np
    >>> complex_step(np.exp, 1.0) == float(np.exp(1.0))  # exact: no cancellation
    True
    """
    return jacobian(f, x, "complex", h)


class StepErrors:
    """What :func:`error_vs_step` measured: the error of each method at each step.

    Attributes:
        x: the point.
        steps: the steps ``h``, increasing.
        errors: ``{method: array of |approximation - exact|}``, one per step.
        optimal_step: ``{method: the step with the smallest error}``.
        exact: the reference derivative (from adkit, unless given).
    """

    def __init__(
        self, x: float, steps: np.ndarray, errors: dict[str, np.ndarray], exact: float, name: str = "f"
    ):
        self.x = float(x)
        self.steps = np.asarray(steps, dtype=float)
        self.errors = {k: np.asarray(v, dtype=float) for k, v in errors.items()}
        self.exact = float(exact)
        self.name = name
        resolution = EPS * max(1.0, abs(self.exact))
        self.optimal_step = {k: _optimal_step(self.steps, v, resolution) for k, v in self.errors.items()}

    def min_error(self, method: str) -> float:
        """The smallest error of ``method`` over the steps tried."""
        return float(np.min(self.errors[method]))

    def __repr__(self) -> str:
        best = ", ".join(
            f"{k}: h* = {h:.2g} (error {self.min_error(k):.1e})" for k, h in self.optimal_step.items()
        )
        return f"<StepErrors of {self.name} at x = {self.x:g}: {best}>"

    def plot(self, ax: Any = None, guides: bool = True) -> Any:
        """Error against step on log-log axes, with the optimal steps and the ``h``, ``h²``, ``ε/h`` guides.

        Returns the matplotlib Figure (a new one unless ``ax`` is given).
        """
        from matplotlib.figure import Figure

        fig = ax.figure if ax is not None else Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = ax if ax is not None else fig.add_subplot()
        # exact zeros (the complex step often hits f' exactly) have no logarithm: draw them just
        # below the precision of the result
        tiny = EPS * max(abs(self.exact), 1.0) / 4
        colors = {"forward": "C0", "central": "C1", "complex": "C2"}
        names = {"forward": "forward difference", "central": "central difference", "complex": "complex step"}
        for method, err in self.errors.items():
            c = colors.get(method)
            ax.loglog(
                self.steps, np.maximum(err, tiny), ".-", ms=3, lw=1, color=c, label=names.get(method, method)
            )
            h = self.optimal_step[method]
            ax.plot([h], [max(self.min_error(method), tiny)], "o", ms=8, mfc="none", color=c)
            ax.annotate(
                f"h* = {h:.1e}",
                (h, max(self.min_error(method), tiny)),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize=8,
                color=c,
            )
        if guides:
            h = self.steps
            scale = max(abs(self.exact), 1.0)
            lo = max(np.min([np.min(e[e > 0]) for e in self.errors.values() if np.any(e > 0)]), tiny)
            hi = np.max([np.max(e) for e in self.errors.values()])
            guide_lines = (
                (EPS * scale / h, "ε/h: round-off", 1e-13),
                (scale * h / 2, "h: truncation", 1e-3),
                (scale * h**2 / 6, "h²: truncation", 1e-2),
            )
            for y, label, at in guide_lines:
                keep = (y >= lo) & (y <= hi * 10)
                ax.loglog(h[keep], y[keep], ":", color="0.5", lw=1)
                i = int(np.argmin(np.abs(np.log10(h) - np.log10(at))))
                if keep[i]:
                    ax.annotate(
                        label,
                        (h[i], y[i]),
                        fontsize=8,
                        color="0.35",
                        xytext=(4, 4),
                        textcoords="offset points",
                        ha="left" if at < 1e-6 else "right",
                    )
            ax.axvline(math.sqrt(EPS), color="C0", lw=0.6, alpha=0.4)
            ax.axvline(EPS ** (1 / 3), color="C1", lw=0.6, alpha=0.4)
        ax.set_xlabel("step h")
        ax.set_ylabel(f"|error| of {self.name}'({self.x:g})")
        ax.set_title("Finite differences: truncation against round-off")
        ax.legend(loc="upper center", fontsize=8)
        ax.grid(True, which="major", alpha=0.3)
        return fig


def _optimal_step(steps: np.ndarray, errors: np.ndarray, resolution: float) -> float:
    """The step of smallest error, read off an upper envelope of the curve.

    Round-off makes the error at small steps jump by orders of magnitude
    between neighbouring steps, and a lucky step can land far below the
    curve. The envelope (the largest error within a quarter of a decade on
    either side) removes those lucky points. Where it reaches the precision
    of the result (``resolution``, about ε·|f'|: the complex step, which
    has no round-off to trade against) every such step is as good, and the
    largest is taken.
    """
    finite = np.isfinite(errors)
    if not finite.any():
        return math.nan
    steps, errors = steps[finite], errors[finite]
    logs = np.log10(steps)
    envelope = np.array([np.max(errors[np.abs(logs - s) <= 0.25]) for s in logs])
    candidates = np.flatnonzero(envelope <= max(np.min(envelope), resolution))
    return float(steps[candidates[-1]])


def error_vs_step(
    f: Callable[[Any], Any],
    x: float,
    steps: Sequence[float] | np.ndarray | None = None,
    methods: Sequence[str] = METHODS,
    exact: float | None = None,
) -> StepErrors:
    """Error ``|D_h f(x) - f'(x)|`` of each difference quotient ``D_h`` against the step ``h``.

    The exact derivative comes from adkit (forward mode) unless ``exact`` is
    given. ``.plot()`` draws the V-shaped curves on log-log axes: truncation
    error on the right, round-off error (``≈ ε |f| / h``) on the left.

    Args:
        f: a scalar function of a scalar (NumPy functions; complex-safe for
            ``"complex"``).
        x: the point.
        steps: the steps to try; by default 161 from ``1e-16`` to ``1``.
        methods: any of ``"forward"``, ``"central"``, ``"complex"``.
        exact: the reference derivative ``f'(x)``.

    Returns:
        a :class:`StepErrors` (``.steps``, ``.errors``, ``.optimal_step``, ``.plot()``).

    >>> import numpy as np
    >>> study = error_vs_step(np.exp, 1.0)
    >>> 1e-9 < study.optimal_step["forward"] < 1e-7, 1e-6 < study.optimal_step["central"] < 1e-4
    (True, True)
    """
    _check_f(f, "error_vs_step")
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"error_vs_step needs a scalar point x (a real number), got {type(x).__name__}")
    x = float(x)
    if isinstance(methods, str) or not methods:
        raise TypeError("methods must be a non-empty sequence such as ('forward', 'central', 'complex')")
    for m in methods:
        _check_method(m)
    hs = np.logspace(-16, 0, 161) if steps is None else np.sort(np.asarray(steps, dtype=float).ravel())
    if hs.size < 2 or not np.all(np.isfinite(hs)) or np.any(hs <= 0):
        raise ValueError("steps must hold at least two positive finite numbers")
    if exact is None:
        exact = derivative(f)(x)
    exact = float(exact)
    errors = {}
    # a step that leaves f's domain gives nan: that point is left out, not warned about
    with np.errstate(all="ignore"):
        for method in methods:
            errors[method] = np.array([abs(jacobian(f, x, method, float(h)) - exact) for h in hs])
    if not any(np.isfinite(e).any() for e in errors.values()):
        raise ValueError(f"f is not finite near x = {x} for any of the steps; check f's domain")
    return StepErrors(x, hs, errors, exact, name=getattr(f, "__name__", "f"))


__all__ = [
    "DEFAULT_STEP",
    "EPS",
    "StepErrors",
    "central_difference",
    "complex_step",
    "error_vs_step",
    "forward_difference",
    "jacobian",
]
