"""The full Jacobian in forward, reverse and auto mode, over shapes from R^1 -> R^1000 to R^1000 -> R^1.

f(x) = tanh(W2 tanh(W1 x)), hidden width 64, seeded weights, for each
(n, m). adkit's ``jacobian(f, mode=...)`` in its three modes (forward: one
vector-mode pass with n directions; reverse: one vectorized sweep with m
cotangents; auto: picks one from a probe on its first call and remembers
the choice), HIPS autograd's ``jacobian`` (m reverse sweeps), and
``torch.func.jacfwd`` / ``jacrev`` (vmapped forward / reverse mode, eager,
float64). Beside them: ``adkit.compile`` of the auto-mode Jacobian (generated
NumPy code, staged on the correctness call), ``jax.jit`` of ``jax.jacfwd`` and
``jax.jacrev`` (float64), and the closed form ``diag(1 - y²) W2 diag(1 - h²) W1``
computed in NumPy (the analytic Jacobian, the bar for adkit.compile). Every
candidate's Jacobian is checked against the closed form first.
"""

from __future__ import annotations

import autograd
import torch
import torch.func

import adkit

import harness
from models import TanhNet

COMPILED, ANALYTIC = "adkit.compile(jacobian auto)", "analytic Jacobian (NumPy)"
SHAPES = ((1, 100), (10, 100), (100, 100), (100, 10), (100, 1), (1000, 1), (1, 1000))
MODES = ("forward", "reverse", "auto")


def candidates(net):
    f, x = net.numpy_f(), net.x
    adkit_jac = {mode: adkit.jacobian(f, mode=mode) for mode in MODES}
    autograd_jac = autograd.jacobian(net.autograd_f())
    tf, tx = net.torch_f(), torch.from_numpy(net.x)
    jacfwd, jacrev = torch.func.jacfwd(tf), torch.func.jacrev(tf)
    compiled = adkit.compile(adkit.jacobian(f, mode="auto"))
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # float64, as every other candidate
    jW1, jW2, jx = jnp.asarray(net.W1), jnp.asarray(net.W2), jnp.asarray(x)
    jf = lambda x: jnp.tanh(jW2 @ jnp.tanh(jW1 @ x))
    jax_fwd, jax_rev = jax.jit(jax.jacfwd(jf)), jax.jit(jax.jacrev(jf))
    return {
        COMPILED: lambda: compiled(x),
        ANALYTIC: net.jacobian,
        "jax.jit(jacfwd)": lambda: jax.block_until_ready(jax_fwd(jx)),
        "jax.jit(jacrev)": lambda: jax.block_until_ready(jax_rev(jx)),
        "adkit forward": lambda: adkit_jac["forward"](x),
        "adkit reverse": lambda: adkit_jac["reverse"](x),
        "adkit auto": lambda: adkit_jac["auto"](x),  # remembers its choice after the first call
        "adkit auto, first call": lambda: adkit.jacobian(f, mode="auto")(x),  # pays the probe
        "HIPS autograd": lambda: autograd_jac(x),
        "torch.func.jacfwd": lambda: jacfwd(tx),
        "torch.func.jacrev": lambda: jacrev(tx),
    }


def run(quick: bool) -> harness.Report:
    harness.torch_single_thread(torch)
    rows, ratios, data, compiled_ratios = [], {}, {}, {}
    for n, m in SHAPES:
        net = TanhNet.make(n, m, seed=4)
        cands = candidates(net)
        results = {name: fn() for name, fn in cands.items()}
        errors = harness.check_agree({**results, "exact": net.jacobian()}, "exact", rtol=1e-12)
        times = harness.measure(cands, repeats=3 if quick else 10, rounds=3 if quick else 5)
        t = {name: harness.median(s) for name, s in times.items()}
        best = min(("forward", "reverse"), key=lambda mode: t[f"adkit {mode}"])
        adkit_best = t[f"adkit {best}"]
        auto_ratio = t["adkit auto"] / adkit_best
        first_ratio = t["adkit auto, first call"] / adkit_best
        torch_ratio = min(t["torch.func.jacfwd"], t["torch.func.jacrev"]) / adkit_best
        picked = adkit.diff(net.numpy_f(), mode="auto").explain(net.x).mode
        medians = [harness.fmt_time(t[name]) for name in cands]
        ratio_cells = [f"{r:.2f}" for r in (auto_ratio, first_ratio, torch_ratio)]
        rows.append([f"({n}, {m})", *medians, best, picked, *ratio_cells])
        ratios[(n, m)] = (auto_ratio, torch_ratio, first_ratio)
        compiled_ratios[(n, m)] = t[COMPILED] / t[ANALYTIC]
        data[f"{n}x{m}"] = {
            "errors": errors,
            "auto_picked": picked,
            "summary": harness.summary(times),
            "times": times,
        }
    table = harness.Table(
        "Median time of the full Jacobian, by (n, m) = (inputs, outputs)",
        [
            "(n, m)",
            *cands,
            "adkit faster mode",
            "auto picked",
            "auto / faster",
            "first call / faster",
            "torch best / adkit best",
        ],
        rows,
        [
            "auto / faster: adkit auto over adkit's faster fixed mode (target <= 1.25); auto is one "
            '`adkit.jacobian(f, mode="auto")` called again and again, which remembers its choice per input '
            "structure. first call / faster: a new `jacobian` for every call, which pays for the probe that "
            "decides. torch best / adkit best: the faster of jacfwd and jacrev over adkit's faster mode "
            "(target > 1)."
        ],
    )
    worst_auto = max(ratios, key=lambda shape: ratios[shape][0])
    worst_torch = min(ratios, key=lambda shape: ratios[shape][1])
    auto_ratio, torch_ratio = ratios[worst_auto][0], ratios[worst_torch][1]
    worst_first = max(ratios, key=lambda shape: ratios[shape][2])
    first_ratio = ratios[worst_first][2]
    auto_ok = sum(r[0] <= 1.25 for r in ratios.values())
    torch_ok = sum(r[1] > 1 for r in ratios.values())
    first_ok = sum(r[2] <= 1.25 for r in ratios.values())
    targets = [
        harness.Target(
            f"adkit auto / faster fixed mode, worst shape {worst_auto}",
            f"{auto_ratio:.2f} ({auto_ok} of {len(ratios)} shapes met)",
            "<= 1.25",
            auto_ratio <= 1.25,
        ),
        harness.Target(
            f"adkit auto's first call (probe included) / faster mode, worst shape {worst_first}",
            f"{first_ratio:.2f} ({first_ok} of {len(ratios)} shapes met)",
            "<= 1.25",
            first_ratio <= 1.25,
        ),
        harness.Target(
            f"torch.func faster mode / adkit faster mode, worst shape {worst_torch}",
            f"{torch_ratio:.2f} ({torch_ok} of {len(ratios)} shapes met)",
            "> 1",
            torch_ratio > 1,
        ),
    ]
    worst_compiled = max(compiled_ratios, key=compiled_ratios.get)
    compiled_ok = sum(r <= 2 for r in compiled_ratios.values())
    targets.append(
        harness.Target(
            f"adkit.compile(jacobian auto) / analytic Jacobian, worst shape {worst_compiled}",
            f"{compiled_ratios[worst_compiled]:.2f} ({compiled_ok} of {len(compiled_ratios)} shapes met)",
            "<= 2",
            compiled_ratios[worst_compiled] <= 2,
        )
    )
    return harness.Report(
        "w3_jacobian_modes",
        "W3: Jacobian modes across shapes (issue 4)",
        __doc__.split("\n\n", 1)[1].strip(),
        [table],
        targets,
        data,
    )
