"""The Hessian of f(x) = sum(tanh(A x)²), A square n x n, seeded, for n = 10 and 100.

``adkit.hessian`` (forward mode over reverse mode: one vector-mode pass of n
directions through the gradient), ``autograd.hessian`` and
``torch.func.hessian`` (jacfwd over jacrev, eager, float64). The closed form
``Aᵀ diag(2 (1 - t²)(1 - 3 t²)) A`` with t = tanh(A x) checks every candidate
and gives the floor (no AD at all). Beside them: ``adkit.compile`` of
``adkit.hessian`` (generated NumPy code, staged on the correctness call) and
``jax.jit`` of ``jax.hessian`` (float64).
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import torch
import torch.func

import adkit

import harness

COMPILED, FLOOR = "adkit.compile(hessian)", "closed form, NumPy (floor)"


def make_f(A, tanh, sum_):
    return lambda x: sum_(tanh(A @ x) ** 2)


def exact_hessian(A, x):
    t = np.tanh(A @ x)
    return (A.T * (2 * (1 - t**2) * (1 - 3 * t**2))) @ A


def candidates(A, x):
    adkit_h = adkit.hessian(make_f(A, np.tanh, np.sum))
    autograd_h = autograd.hessian(make_f(A, anp.tanh, anp.sum))
    tA, tx = torch.from_numpy(A), torch.from_numpy(x)
    torch_h = torch.func.hessian(make_f(tA, torch.tanh, torch.sum))
    compiled_h = adkit.compile(adkit.hessian(make_f(A, np.tanh, np.sum)))
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # float64, as every other candidate
    jax_h, jx = jax.jit(jax.hessian(make_f(jnp.asarray(A), jnp.tanh, jnp.sum))), jnp.asarray(x)
    return {
        "adkit.hessian": lambda: adkit_h(x),
        COMPILED: lambda: compiled_h(x),
        "jax.jit(hessian)": lambda: jax.block_until_ready(jax_h(jx)),
        "HIPS autograd": lambda: autograd_h(x),
        "torch.func.hessian": lambda: torch_h(tx),
        "closed form, NumPy (floor)": lambda: exact_hessian(A, x),
    }


def run(quick: bool) -> harness.Report:
    harness.torch_single_thread(torch)
    tables, targets, data = [], [], {}
    for n in (10, 100):
        rng = np.random.default_rng(5)
        A, x = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)
        cands = candidates(A, x)
        errors = harness.check_agree(
            {name: fn() for name, fn in cands.items()}, "closed form, NumPy (floor)", rtol=1e-12
        )
        times = harness.measure(cands, repeats=3 if quick else 10, rounds=2 if quick else 5)
        rows = harness.ratio_rows(times, "adkit.hessian")
        for row in rows:
            row.append(f"{errors[row[0]]:.1e}")
        headers = ["candidate", "median", "IQR", "× adkit", "rel. error"]
        tables.append(harness.Table(f"n = {n}", headers, rows))
        if n == 100:
            ratio = harness.median(times["torch.func.hessian"]) / harness.median(times["adkit.hessian"])
            targets.append(harness.Target("torch.func / adkit, n = 100", f"{ratio:.2f}", "> 1", ratio > 1))
            closed = harness.median(times[COMPILED]) / harness.median(times[FLOOR])
            targets.append(
                harness.Target(
                    "adkit.compile(hessian) / closed form, n = 100", f"{closed:.2f}", "<= 3", closed <= 3
                )
            )
        data[f"n={n}"] = {"errors": errors, "summary": harness.summary(times), "times": times}
    return harness.Report(
        "w4_hessian",
        "W4: Hessian of sum(tanh(A x)²) (issue 4)",
        __doc__.split("\n\n", 1)[1].strip(),
        tables,
        targets,
        data,
    )
