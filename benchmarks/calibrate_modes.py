"""Measure adkit's engines and fit the constants of the cost model behind ``mode="auto"``.

The model (adkit/modes.py) prices a full Jacobian of f: R^n -> R^m from the
work of one evaluation, read off a tape (``adkit.modes.workload_of``): its
number of operations, its primal flop-equivalents, and the flops of pushing
one direction through its linearization. Each mode's time is a linear
combination of: operations, primal flops, directions (n forward, m reverse)
times linear flops, the identity seed's entries (n^2 or m^2) and the
Jacobian's entries (n m).

This script times ``adkit.jacobian(f, mode=...)`` on a grid of functions and
shapes (single thread, pinned to one CPU, best of several runs since only the
engine's own cost matters here), fits the constants by least squares on
relative error, and prints them with the fit's quality. Paste them into
adkit/modes.py together with the date and the machine.

Run: ``OPENBLAS_NUM_THREADS=1 taskset -c 0 .venv/bin/python benchmarks/calibrate_modes.py``
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import adkit  # noqa: E402
from adkit.modes import workload_of  # noqa: E402
from adkit.reverse import Tape  # noqa: E402


def dense(n: int, m: int, hidden: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(hidden, n)) / np.sqrt(n)
    w2 = rng.normal(size=(m, hidden)) / np.sqrt(hidden)
    return lambda x: np.tanh(w2 @ np.tanh(w1 @ x))


def elementwise(n: int, m: int, hidden: int):
    return lambda x: np.sin(x) * x + np.exp(-x * x)


def reduction(n: int, m: int, hidden: int):
    return lambda x: np.sum(np.tanh(x) ** 2)


def chain(n: int, m: int, hidden: int):
    def f(x):
        for _ in range(20):
            x = np.tanh(x * 1.1 + 0.1)
        return x[:m] * 2.0 if m <= n else np.ones(m) * np.sum(x)

    return f


def best_time(fun, x, repeats: int = 7) -> float:
    fun(x)  # warm up (and let auto-mode caches fill)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fun(x)
        best = min(best, time.perf_counter() - t)
    return best


def grid():
    for family, shapes in (
        (
            dense,
            [
                (n, m, h)
                for h in (16, 64, 256)
                for n, m in [
                    (1, 100),
                    (10, 100),
                    (100, 100),
                    (100, 10),
                    (100, 1),
                    (1000, 1),
                    (1, 1000),
                    (30, 30),
                ]
            ],
        ),
        (elementwise, [(n, n, 0) for n in (1, 10, 100, 1000)]),
        (reduction, [(n, 1, 0) for n in (1, 10, 100, 1000, 10000)]),
        (chain, [(n, m, 0) for n, m in [(10, 10), (100, 10), (10, 100), (100, 100)]]),
    ):
        for n, m, h in shapes:
            yield family.__name__, n, m, family(n, m, h)


def measure():
    rows = []
    for name, n, m, f in grid():
        x = np.random.default_rng(1).normal(size=n)
        tape = Tape()
        f(tape.leaf(x))
        work = workload_of(tape)
        t_f = best_time(adkit.jacobian(f, mode="forward"), x)
        t_r = best_time(adkit.jacobian(f, mode="reverse"), x)
        rows.append((name, n, m, work.ops, work.flops, work.linear, t_f, t_r))
        print(
            f"{name:12} n={n:5} m={m:5} ops={work.ops:4} flops={work.flops:10.0f} "
            f"forward {t_f * 1e6:9.1f} us  reverse {t_r * 1e6:9.1f} us",
            flush=True,
        )
    return rows


FEATURES = (
    "per call",
    "per op",
    "per primal flop",
    "per direction flop",
    "per seed entry",
    "per Jacobian entry",
)


def fit(rows):
    """Least squares on relative error for each mode: time = features . coefficients."""
    results = {}
    for mode in ("forward", "reverse"):
        a = []
        for _, n, m, ops, flops, linear, t_f, t_r in rows:
            k, t = (n, t_f) if mode == "forward" else (m, t_r)
            a.append(np.array([1.0, ops, flops, k * linear, k * k, n * m]) / t)
        a = np.array(a)
        coef, *_ = np.linalg.lstsq(a, np.ones(len(a)), rcond=None)
        coef = np.maximum(coef, 0.0)
        error = np.abs(a @ coef - 1)
        results[mode] = (coef, float(np.median(error)), float(np.max(error)))
    return results


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    print(
        f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"Python {sys.version.split()[0]}, NumPy {np.__version__}"
    )
    rows = measure()
    fitted = fit(rows)
    for mode, (coef, med, worst) in fitted.items():
        terms = ", ".join(f"{name} {c * 1e9:.3g} ns" for name, c in zip(FEATURES, coef))
        print(f"{mode}: {terms}; median relative error {med:.2f}, worst {worst:.2f}")
    # Paste-ready constants for adkit/modes.py
    for mode, (coef, *_) in fitted.items():
        call, op, flop, direction, seed, entry = coef
        print(
            f"{mode.upper()} = Costs(per_call={call:.3g}, per_op={op:.3g}, per_flop={flop:.3g}, "
            f"per_direction_flop={direction:.3g}, per_seed_entry={seed:.3g}, "
            f"per_jacobian_entry={entry:.3g})"
        )
    # How good are the decisions of the fitted model on the measured grid?
    f_coef, r_coef = fitted["forward"][0], fitted["reverse"][0]
    worst = 1.0
    for name, n, m, ops, flops, linear, t_f, t_r in rows:
        pred_f = f_coef @ [1.0, ops, flops, n * linear, n * n, n * m]
        pred_r = r_coef @ [1.0, ops, flops, m * linear, m * m, n * m]
        chosen = t_f if pred_f <= pred_r else t_r
        loss = chosen / min(t_f, t_r)
        worst = max(worst, loss)
        if loss > 1.1:
            print(
                f"  model picks {'forward' if pred_f <= pred_r else 'reverse'} for {name} n={n} m={m}: "
                f"{loss:.2f}x the faster mode"
            )
    print(f"worst chosen/fastest on the grid: {worst:.2f}")


if __name__ == "__main__":
    main()
