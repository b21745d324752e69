"""A short scripted tour of adkit, printed to the terminal (``python -m adkit.tour``).

``make demo`` runs the tutorials once they exist; this tour is the part of
the main job that needs no notebook: real derivatives from the ``Dual`` API,
from ``diff`` in each mode, and from the tape.
"""

from __future__ import annotations

import numpy as np

import adkit


def running_example(x1: float, x2: float) -> float:
    """Baydin et al. 2018's running example, f(x1, x2) = ln x1 + x1 x2 - sin x2."""
    return np.log(x1) + x1 * x2 - np.sin(x2)


def tour() -> list[str]:
    """The tour's lines (computed, not stored).

    >>> lines = tour()
    >>> lines[2]
    '  Dual(2, 1) * Dual(3, 0) = Dual(6.000, 3.000)'
    >>> for line in lines:
    ...     if line.startswith("  t"):
    ...         print(line)
      t0  v-1 = x1         value   2.000   adjoint  5.500
      t1   v0 = x2         value   5.000   adjoint  1.716
      t2   v1 = ln(v-1)    value   0.693   adjoint  1.000
      t3   v2 = v-1 * v0   value  10.000   adjoint  1.000
      t4   v4 = v1 + v2    value  10.693   adjoint  1.000
      t5   v3 = sin(v0)    value  -0.959   adjoint -1.000
      t6   v5 = v4 - v3    value  11.652   adjoint  1.000
    """
    lines = ["adkit tour", "1. Dual numbers a + b ε with ε² = 0:"]
    lines.append(f"  Dual(2, 1) * Dual(3, 0) = {adkit.Dual(2.0, 1.0) * adkit.Dual(3.0, 0.0)!r}")
    lines.append(f"  sin(Dual(1, 1))         = {np.sin(adkit.Dual(1.0, 1.0))!r}   (sin 1, cos 1)")
    lines.append("2. The running example f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5):")
    y, dy = adkit.jvp(running_example, (2.0, 5.0), (1.0, 0.0))
    lines.append(f"  forward mode, seed (1, 0): y = {y:.3f}, dy/dx1 = {dy:.3f}")
    for mode in ("forward", "reverse", "auto"):
        g1, g2 = adkit.diff(running_example, mode=mode, argnums=(0, 1))(2.0, 5.0)
        lines.append(f"  diff(f, mode={mode!r:9}) -> ({g1:.3f}, {g2:.3f})")
    choice = adkit.diff(running_example, argnums=(0, 1)).explain(2.0, 5.0)
    lines.append(f"  auto chose {choice.mode}: {choice.reason}")
    lines.append("3. The tape (Wengert list) of the reverse pass, entries t0..t6 in evaluation order;")
    lines.append("   variables named as in the survey (v-1, v0 the inputs, v1..v5 by generation):")
    table = adkit.trace(running_example, 2.0, 5.0)
    for v in sorted(table.computation.variables, key=lambda v: v.tape_index):
        row = table[v.name]
        lines.append(
            f"  t{v.tape_index}  {v.name:>3} = {row.definition:9}  value {row.value:7.3f}   "
            f"adjoint {row.adjoint:6.3f}"
        )
    with adkit.Tape():
        x1, x2 = adkit.Var(2.0), adkit.Var(5.0)
        out = running_example(x1, x2)
    out.backward()
    lines.append(
        f"  x1.grad = {x1.grad:.3f}, x2.grad = {x2.grad:.3f}: the adjoints of v-1 and v0 (5.5 and 2 - cos 5)"
    )
    lines.append("4. Matrices: the gradient of a least-squares loss, and a Hessian:")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=5)
    w = np.zeros(3)
    g = adkit.grad(lambda w: np.sum((a @ w - b) ** 2))(w)
    lines.append(
        f"  grad at 0 = {np.array2string(g, precision=3)}  (= -2 Aᵀb = "
        f"{np.array2string(-2 * a.T @ b, precision=3)})"
    )
    h = adkit.hessian(lambda w: np.sum((a @ w - b) ** 2))(w)
    lines.append(f"  Hessian equals 2 AᵀA: {np.allclose(h, 2 * a.T @ a)}")
    return lines


def main() -> None:
    print("\n".join(tour()))


if __name__ == "__main__":
    main()
