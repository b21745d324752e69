"""Sparse Jacobians by colouring against dense ones: tridiagonal and banded maps R^n -> R^n (issue 15).

Two maps, written with slices of a zero-padded copy of x (the NumPy way of a
stencil): a tridiagonal one, y_i = 2 x_i - x_{i-1} - x_{i+1} + 0.1 x_i^3 (a
discretized -u'' + 0.1 u^3), and a banded one with 5 neighbours on each side,
y_i = sum_k c_k sin(x_{i+k}) x_i (11 diagonals). For n = 10^3 and 10^4:

* ``adkit.jacobian(f, sparse=True)`` called again and again (pattern and
  colouring reused; each call one vector-mode pass with p + 1 directions,
  the last one checking the reused pattern), the same with ``check=False``
  (p directions), and its first call (recording, pattern, colouring, pass);
* adkit's dense forward and reverse Jacobians (chunks of 1,000 directions at
  n = 10^4: a 10^4 x 10^4 block of tangents is 800 MB an array);
* ``jax.jit(jax.jacfwd(f))`` in float64 (dense; compiled before timing);
* central differences with the same colouring (2p calls of f, grouped as in
  ``scipy.optimize.approx_derivative``'s ``sparsity=``).

Every candidate's Jacobian is compared with adkit's dense forward one first.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import adkit

import harness

SIZES = (1_000, 10_000)
FD_STEP = np.finfo(float).eps ** (1 / 3)


def tridiagonal(x, xp=np):
    padded = xp.concatenate([xp.zeros(1), x, xp.zeros(1)])
    return 2.0 * x - padded[:-2] - padded[2:] + 0.1 * x**3


BAND = 5
WEIGHTS = tuple(1.0 + 0.1 * k for k in range(-BAND, BAND + 1))


def banded(x, xp=np):
    n = x.shape[0]
    padded = xp.concatenate([xp.zeros(BAND), x, xp.zeros(BAND)])
    total = 0.0 * x
    for k, w in zip(range(-BAND, BAND + 1), WEIGHTS):
        total = total + w * xp.sin(padded[BAND + k : BAND + k + n]) * x
    return total


MAPS = {"tridiagonal": tridiagonal, "banded (11 diagonals)": banded}


def grouped_central_differences(f, x, pattern, colors):
    """Grouped central differences with one step per column (entries scaled by their own column's step)."""
    coo = pattern.tocoo()
    rows, cols = coo.row, coo.col
    p = int(colors.max()) + 1
    step = FD_STEP * np.maximum(1.0, np.abs(x))
    data = np.empty(rows.size)
    for c in range(p):
        h = step * (colors == c)
        difference = f(x + h) - f(x - h)
        in_group = colors[cols] == c
        data[in_group] = difference[rows[in_group]] / (2 * step[cols[in_group]])
    return sp.csr_array((data, (rows, cols)), shape=pattern.shape)


def error_against(dense: np.ndarray, sparse) -> float:
    """Normwise relative error of a sparse Jacobian against a dense one, without making it dense."""
    coo = sparse.tocoo()
    scale = max(float(np.abs(dense).max()), 1e-300)
    inside = float(np.abs(dense[coo.row, coo.col] - coo.data).max(initial=0.0))
    outside = float(np.abs(dense).sum() - np.abs(dense[coo.row, coo.col]).sum())
    return max(inside, outside) / scale


def candidates(f, x, jax, jnp) -> tuple[dict, object]:
    """The Jacobians of ``f`` at ``x`` to time, each compiled or warmed up; and the sparsity info."""
    chunk = 1_000 if x.size > 2_000 else None
    sparse_jac = adkit.jacobian(f, sparse=True)
    unchecked = adkit.sparse.SparseJacobian(f, check=False)
    dense_forward = adkit.jacobian(f, mode="forward", chunk=chunk)
    dense_reverse = adkit.jacobian(f, mode="reverse", chunk=chunk)
    jax_jacobian = jax.jit(jax.jacfwd(lambda x: f(x, jnp)))
    jx = jnp.asarray(x)
    jax_jacobian(jx).block_until_ready()  # compiled before timing
    info = sparse_jac.explain(x)
    sparse_jac(x), unchecked(x)  # the first calls (detection and colouring) outside the timing
    return {
        "adkit sparse (p + 1 directions)": lambda: sparse_jac(x),
        "adkit sparse, check=False (p directions)": lambda: unchecked(x),
        "adkit sparse, first call": lambda: adkit.jacobian(f, sparse=True)(x),
        "adkit dense forward": lambda: dense_forward(x),
        "adkit dense reverse": lambda: dense_reverse(x),
        "jax.jit(jax.jacfwd) (dense)": lambda: jax_jacobian(jx).block_until_ready(),
        "central differences, same colouring (2p calls)": lambda: grouped_central_differences(
            f, x, info.pattern, info.colors
        ),
    }, info


def check(cands: dict, reference: np.ndarray, n: int) -> dict[str, float]:
    """Each candidate's normwise relative error against adkit's dense forward Jacobian (raises if off)."""
    errors = {}
    for name, fn in cands.items():
        result = fn()
        if sp.issparse(result):
            errors[name] = error_against(reference, result)
        else:
            errors[name] = float(np.abs(np.asarray(result) - reference).max() / np.abs(reference).max())
        bound = 1e-6 if name.startswith("central") else 1e-12
        if not errors[name] <= bound:
            raise harness.MismatchError(f"{name} at n = {n}: relative error {errors[name]:.3g} > {bound}")
        del result
    return errors


def run(quick: bool) -> harness.Report:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    sizes = (1_000, 2_000) if quick else SIZES
    rows, data, targets = [], {}, []
    for name, f in MAPS.items():
        for n in sizes:
            x = np.random.default_rng(n).uniform(-1.0, 1.0, n)
            cands, info = candidates(f, x, jax, jnp)
            errors = check(cands, np.asarray(adkit.jacobian(f, mode="forward", chunk=1_000)(x)), n)
            slow = n >= 10_000
            repeats = {c: 1 if slow and ("dense" in c or "first" in c) else 3 if quick else 10 for c in cands}
            times = harness.measure(cands, repeats=repeats, rounds=2 if quick else 3)
            t = {c: harness.median(samples) for c, samples in times.items()}
            dense_best = min(t["adkit dense forward"], t["adkit dense reverse"])
            speedup = dense_best / t["adkit sparse (p + 1 directions)"]
            first = dense_best / t["adkit sparse, first call"]
            rows.append(
                [
                    name,
                    n,
                    info.nnz,
                    info.passes,
                    info.mode,
                    *[harness.fmt_time(t[c]) for c in cands],
                    f"{speedup:.0f}",
                    f"{first:.1f}",
                ]
            )
            data[f"{name} {n}"] = {
                "errors": errors,
                "colours": info.passes,
                "p_forward": info.p_forward,
                "p_reverse": info.p_reverse,
                "summary": harness.summary(times),
                "times": times,
            }
            if n == max(sizes):
                width = 3 if name == "tridiagonal" else 2 * BAND + 1
                targets += [
                    harness.Target(
                        f"{name}, n = {n}: adkit's faster dense Jacobian / sparse",
                        f"{speedup:.0f}x (first call {first:.1f}x)",
                        ">= 100x",
                        speedup >= 100,
                    ),
                    harness.Target(
                        f"{name}, n = {n}: directions per call = colours",
                        f"{info.passes} (+1 check)",
                        f"= bandwidth {width}",
                        info.passes == width,
                    ),
                ]
    table = harness.Table(
        "Full Jacobian, median time per call",
        ["map", "n", "nonzeros", "colours p", "mode", *cands, "dense / sparse", "dense / first call"],
        rows,
        [
            "p + 1 directions: the colours and one random direction that checks the reused pattern "
            "(check=False drops it). first call: recording f, propagating the index sets, colouring with "
            "networkx, the pass. Dense at n = 10^4 in chunks of 1,000 directions (800 MB a block otherwise). "
            "dense / sparse: adkit's faster dense mode over the sparse call."
        ],
    )
    return harness.Report(
        "sparse",
        "Sparse Jacobians by colouring (issue 15)",
        __doc__.split("\n\n", 1)[1].strip(),
        [table],
        targets,
        data,
    )
