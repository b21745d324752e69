"""Run adkit's benchmarks against its peers: ``python benchmarks/run.py [--quick] [names ...]``.

Each workload is a module ``benchmarks/bench_<name>.py`` with a function
``run(quick: bool) -> harness.Report``. A name on the command line selects a
workload by its full name (``w1_chain``) or by the part before the first
underscore (``w1``). Without names, every ``bench_*.py`` runs, in name order
(so ``bench_draw.py`` joins as soon as it exists).

Results go to ``benchmarks/results/<name>.json`` and ``.md`` (quick runs to
``benchmarks/results/quick/``, which git ignores). ``make bench`` runs this
under ``taskset -c 0`` with one BLAS thread; the script pins itself anyway.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent


def available() -> dict[str, str]:
    """Workload name -> module name, for every ``bench_*.py`` here."""
    return {p.stem.removeprefix("bench_"): p.stem for p in sorted(HERE.glob("bench_*.py"))}


def select(names: list[str]) -> list[str]:
    workloads = available()
    if not names:
        return list(workloads)
    chosen = []
    for name in names:
        matches = [w for w in workloads if w == name or w.split("_", 1)[0] == name]
        if not matches:
            sys.exit(f"run.py: no workload {name!r}; there are: {', '.join(workloads)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="workloads to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run: few sizes and samples")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the lowest allowed)")
    parser.add_argument("--no-save", action="store_true", help="print the tables, write no files")
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="do not gc.freeze() the imported heap before timing (see harness.py)",
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available()))
        return 0
    names = select(args.names)

    cpu = harness.setup(args.cpu)  # before anything imports NumPy
    harness.FREEZE_HEAP = not args.no_freeze
    meta = harness.machine_info(cpu)
    print(harness.header(meta, args.quick))

    failed = []
    workloads = available()
    for name in names:
        print(f"== {name} ==", flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(workloads[name])
            report = module.run(quick=args.quick)
            if not isinstance(report, harness.Report):  # a workload that returns plain data
                report = harness.Report(name, name, "", data={"result": report})
        except Exception:  # one broken workload (or candidate) must not hide the others' results
            traceback.print_exc()
            failed.append(name)
            continue
        print(report.markdown())
        if not args.no_save:
            paths = harness.save(report, meta, args.quick)
            print("wrote " + ", ".join(str(p.relative_to(harness.REPO)) for p in paths))
        print(f"({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
