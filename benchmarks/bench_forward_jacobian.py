"""Forward-mode Jacobian: one vector-mode pass against n single-direction passes and finite differences.

f(x) = tanh(W2 tanh(W1 x)), hidden width 64, n = m = 100. Vector mode
carries all n tangent directions through one evaluation of f (each
intermediate holds an (n, ...) block of tangents, so the work is a few
matrix products); the alternative is n evaluations with one direction each
(``adkit.jvp`` with the basis vectors e_i). Central finite differences are
the derivative-free baseline, as a loop of 2n calls of f and as two calls
of f on (n, n) blocks of shifted points, one point per column.
"""

from __future__ import annotations

import numpy as np

import adkit

import harness
from models import TanhNet

N = M = 100
FD_STEP = np.finfo(float).eps ** (1 / 3)  # balances truncation (h²) against rounding (eps / h)


def central_differences_loop(f, x):
    cols = []
    for i in range(x.size):
        h = FD_STEP * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, axis=1)


def central_differences_batched(f, x):
    steps = FD_STEP * np.maximum(1.0, np.abs(x))
    shifts = np.diag(steps)
    return (f(x[:, None] + shifts) - f(x[:, None] - shifts)) / (2 * steps)


def jvp_columns(f, x):
    basis = np.eye(x.size)
    return np.stack([adkit.jvp(f, (x,), (basis[i],))[1] for i in range(x.size)], axis=1)


def run(quick: bool) -> harness.Report:
    net = TanhNet.make(N, M, seed=2)
    f, x = net.numpy_f(), net.x
    vector_mode = adkit.jacobian(f, mode="forward")
    candidates = {
        "adkit vector mode (1 pass, n directions)": lambda: vector_mode(x),
        "adkit jvp x n (n passes, 1 direction)": lambda: jvp_columns(f, x),
        "central differences, 2n calls of f": lambda: central_differences_loop(f, x),
        "central differences, batched (2 calls of f)": lambda: central_differences_batched(f, x),
    }
    reference = "adkit vector mode (1 pass, n directions)"
    results = {name: fn() for name, fn in candidates.items()}
    results["exact (closed form)"] = net.jacobian()
    fd_tol = 1e-7  # finite differences are approximations: ~h² + eps / h
    errors = harness.check_agree(
        results,
        "exact (closed form)",
        rtol=1e-12,
        tolerances={k: fd_tol for k in results if "differences" in k},
    )

    times = harness.measure(candidates, repeats=3 if quick else 10, rounds=3 if quick else 7)
    rows = harness.ratio_rows(times, reference)
    for row in rows:
        row.append(f"{errors[row[0]]:.1e}")
    ratio = harness.median(times["adkit jvp x n (n passes, 1 direction)"]) / harness.median(times[reference])
    table = harness.Table(
        f"Jacobian of tanh(W2 tanh(W1 x)), n = m = {N}, hidden 64",
        ["candidate", "median", "IQR", "× vector mode", "rel. error vs exact"],
        rows,
        ["× vector mode: median time over the vector-mode median (> 1: slower than vector mode)."],
    )
    return harness.Report(
        "forward_jacobian",
        "Forward-mode Jacobian: vector mode vs n JVPs vs finite differences (issue 2)",
        __doc__.split("\n\n", 1)[1].strip(),
        [table],
        [harness.Target("n single-direction passes / one vector pass", f"{ratio:.1f}x", "> 1", ratio > 1)],
        {"n": N, "m": M, "hidden": 64, "errors": errors, "summary": harness.summary(times), "times": times},
    )
