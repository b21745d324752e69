"""Side by side in one process: the working tree's adkit against an earlier commit's, on W1 and W2.

For changes to the engines that must not cost speed (issue 12's "not slower
than the noise"). The earlier code is exported from git as a second package,
``adkit_old``, so both run interleaved round by round in one process, pinned
to one CPU and one BLAS thread (``make bench`` does that for run.py; here
run it as ``OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/side_by_side.py REV``).
Prints the median of the per-round ratios new/old and their spread.

    python benchmarks/side_by_side.py f210c44 [--rounds 15]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_w1_chain import chain  # noqa: E402
from bench_w2_mlp import loss, problem  # noqa: E402


def export_old(rev: str) -> str:
    """``git archive`` of adkit/ at ``rev`` into a temporary folder, renamed ``adkit_old``."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="adkit_old_"))
    archive = subprocess.run(
        ["git", "archive", rev, "adkit"], cwd=HERE.parent, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    (root / "adkit").rename(root / "adkit_old")
    for path in (root / "adkit_old").rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\b(from|import) adkit\b", r"\1 adkit_old", text)
        path.write_text(text)
    return str(root)


def timed(fn, repeat: int) -> float:
    """Seconds per call, garbage collection included (a full collection before each batch)."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def workloads(lib):
    vg_chain = lib.value_and_grad(lambda x: chain(x, lib.sin, lib.exp, lib.tanh, 10_000))
    small = problem(64, 256)
    tiny = problem(8, 32)
    g = lib.grad(loss)
    return {
        "W1 chain 10^4 (value_and_grad)": (lambda: vg_chain(0.5), 3),
        "W2 MLP batch 64 width 256 (grad)": (lambda: g(*small), 20),
        "W2 MLP batch 8 width 32 (grad)": (lambda: g(*tiny), 200),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rev")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    sys.path.insert(0, export_old(args.rev))
    new, old = importlib.import_module("adkit"), importlib.import_module("adkit_old")
    w_new, w_old = workloads(new), workloads(old)
    ratios = {name: [] for name in w_new}
    times = {name: ([], []) for name in w_new}
    for r in range(args.rounds):
        for name, (_, repeat) in w_new.items():
            first, second = (w_new, w_old) if r % 2 == 0 else (w_old, w_new)
            a = timed(first[name][0], repeat)
            b = timed(second[name][0], repeat)
            t_new, t_old = (a, b) if r % 2 == 0 else (b, a)
            ratios[name].append(t_new / t_old)
            times[name][0].append(t_new)
            times[name][1].append(t_old)
    print(f"new (working tree) against old ({args.rev}), {args.rounds} interleaved rounds")
    print("| workload | new median | old median | new/old median | quartiles |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, rs in ratios.items():
        q = np.percentile(rs, [25, 75])
        print(
            f"| {name} | {statistics.median(times[name][0]) * 1e3:.3f} ms | "
            f"{statistics.median(times[name][1]) * 1e3:.3f} ms | {statistics.median(rs):.3f} | "
            f"{q[0]:.3f}-{q[1]:.3f} |"
        )


if __name__ == "__main__":
    main()
