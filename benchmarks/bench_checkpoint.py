"""Checkpointing a loop of T = 10^4 steps: peak memory and time at s = 10, 100 and T snapshots (issue 15).

x_{t+1} = x_t + 0.01 sin(x_t) * reverse(x_t), a state of 1,000 floats (8 KB),
and the gradient of sum(x_T) with respect to x_0 and the 0.01: plain reverse
mode (every step's tape kept until the sweep) against
``adkit.checkpoint(step, steps=T, snapshots=s)`` (the binomial schedule: at
most s states and one step's tape). Peak memory is tracemalloc's, measured
in a separate call from the timed ones; the schedule's own counts (states
held, steps recomputed) are given beside it. The gradients are compared
first.
"""

from __future__ import annotations

import numpy as np

import adkit
from adkit.checkpointing import schedule

import harness

STEPS = 10_000
SIZE = 1_000


def step(x, a):
    return x + a * np.sin(x) * x[::-1]


def run(quick: bool) -> harness.Report:
    steps = 1_000 if quick else STEPS
    x0 = np.linspace(-1.0, 1.0, SIZE)
    a = 0.01
    loops = {s: adkit.checkpoint(step, steps=steps, snapshots=s) for s in (10, 100, steps)}
    plain_loop = loops[10]

    def gradient(run_loop):
        return adkit.grad(lambda x, a: run_loop(x, a).sum(), argnums=(0, 1))(x0, a)

    candidates = {"no checkpointing": lambda: gradient(plain_loop.plain)}
    for s, loop in loops.items():
        candidates[f"checkpoint, s = {s}"] = lambda loop=loop: gradient(loop)
    results = {name: fn() for name, fn in candidates.items()}
    errors = harness.check_agree(results, "no checkpointing", rtol=1e-10)
    peaks = {name: harness.peak_memory(fn) for name, fn in candidates.items()}
    recomputed = {}
    for s, loop in loops.items():
        gradient(loop)
        recomputed[f"checkpoint, s = {s}"] = loop.recomputed
    times = harness.measure(candidates, repeats=1, rounds=2 if quick else 3, warmup=0)
    state = x0.nbytes
    base = harness.median(times["no checkpointing"])
    rows = [
        [
            "no checkpointing",
            "-",
            f"{peaks['no checkpointing'] / 2**20:.1f}",
            f"{peaks['no checkpointing'] / state:.0f}",
            "0",
            "0",
            harness.fmt_time(base),
            "1.00",
        ]
    ]
    for s in loops:
        name = f"checkpoint, s = {s}"
        plan = schedule(steps, s)
        t = harness.median(times[name])
        rows.append(
            [
                name,
                plan.peak_states,
                f"{peaks[name] / 2**20:.1f}",
                f"{peaks[name] / state:.0f}",
                plan.recomputed,
                recomputed[name],
                harness.fmt_time(t),
                f"{t / base:.2f}",
            ]
        )
    table = harness.Table(
        f"Gradient through a loop of T = {steps:,} steps (a state of {SIZE:,} floats, {state // 1024} KB)",
        [
            "",
            "states held (schedule)",
            "peak memory (MiB)",
            "peak / state",
            "steps recomputed (schedule)",
            "steps recomputed (measured)",
            "time",
            "time / no checkpointing",
        ],
        rows,
        [
            "states held: snapshots and the working state, besides one step's tape and the sweep's own "
            "arrays. Steps recomputed: plain steps evaluated again in the backward sweep (the forward pass "
            "and the taped steps not counted)."
        ],
    )
    smallest = peaks["checkpoint, s = 10"]
    as_scheduled = all(recomputed[f"checkpoint, s = {s}"] == schedule(steps, s).recomputed for s in loops)
    targets = [
        harness.Target(
            "peak memory, no checkpointing / checkpoint s = 10",
            f"{peaks['no checkpointing'] / smallest:.0f}x",
            "> 1 (lower memory)",
            peaks["no checkpointing"] > smallest,
        ),
        harness.Target(
            "steps recomputed = the schedule's count", "yes" if as_scheduled else "no", "equal", as_scheduled
        ),
    ]
    data = {
        "errors": errors,
        "peaks": peaks,
        "recomputed": recomputed,
        "summary": harness.summary(times),
        "times": times,
    }
    description = __doc__.split("\n\n", 1)[1].strip()
    title = "Checkpointing a loop (issue 15)"
    return harness.Report("checkpoint", title, description, [table], targets, data)
