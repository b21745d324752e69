"""A small harness for adkit's benchmarks: pinning, interleaved timing, memory, tables.

How a measurement is made, and why:

* ``setup()`` runs before NumPy or PyTorch is imported (``run.py`` calls it
  first): every BLAS / OpenMP pool gets one thread, and the process is pinned
  to one CPU. Without that, a job on the other core stalls multi-threaded
  BLAS calls for milliseconds.
* ``measure()`` interleaves the candidates round by round (round r: A, B, C;
  round r + 1: A, B, C ...), so a burst of load on the machine hits every
  candidate alike rather than one of them.
* The garbage collector stays on and its cost counts. The heap that exists
  before timing (the imported libraries, the inputs) is frozen with
  ``gc.freeze()``, so a collection walks only what the benchmark itself makes;
  each timed sample is the call *and* a ``gc.collect()`` after it, so a
  library that leaves reference cycles pays for freeing them, on its own
  clock rather than on the next candidate's. Freezing is the choice most
  favourable to libraries that make cycles (micrograd). ``run.py
  --no-freeze`` shows the other case, a process with a big heap: nothing is
  frozen or forced, and the collections that a call's allocations trigger
  walk the whole heap (~170,000 objects with PyTorch imported).
* Results are medians with their interquartile range, and ratios of medians
  against a reference candidate, from one run. Never timed unit tests.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent

_pinned_cpu: int | None = None
#: Freeze the heap that exists before timing and collect after each call (see the module
#: docstring); run.py --no-freeze turns both off: collections then happen only when allocations
#: trigger them, and walk the imported libraries' objects too (~170k with PyTorch).
FREEZE_HEAP = True


# -- the process: threads and pinning --------------------------------------------------


def setup(cpu: int | None = None) -> int | None:
    """One BLAS / OpenMP thread and one CPU for this process; call before importing NumPy.

    ``cpu`` defaults to the lowest CPU this process may run on (under
    ``taskset -c 0``, CPU 0). Returns the CPU pinned to (None where the OS
    has no affinity call).
    """
    global _pinned_cpu
    for name in ("numpy", "torch"):
        if name in sys.modules:
            raise RuntimeError(
                f"harness.setup() ran after {name} was imported: its thread pools are already "
                "sized. Run the benchmarks through benchmarks/run.py."
            )
    for var in THREAD_VARS:
        os.environ[var] = "1"
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0)) if cpu is None else cpu
        os.sched_setaffinity(0, {cpu})
        _pinned_cpu = cpu
    return _pinned_cpu


def torch_single_thread(torch: Any) -> None:
    """PyTorch's intra- and inter-op pools to one thread (the env vars cover most, not all)."""
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # already set, or inter-op work began: harmless here
        torch.set_num_interop_threads(1)


# -- timing and memory -------------------------------------------------------------------


def measure(
    candidates: Mapping[str, Callable[[], Any]],
    repeats: int | Mapping[str, int] = 5,
    rounds: int = 5,
    warmup: int = 1,
) -> dict[str, list[float]]:
    """Seconds per call of each candidate: ``rounds * repeats`` samples each, interleaved.

    In each round every candidate runs ``repeats`` times in a row (a number,
    or one per candidate), in the order given; then the next round starts.
    Each candidate first runs
    ``warmup`` untimed calls. A sample is one call plus the ``gc.collect()``
    that frees what it left behind (see the module docstring; with
    ``FREEZE_HEAP`` off, the call alone).
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    gc.collect()
    if FREEZE_HEAP:
        gc.freeze()
    try:
        times: dict[str, list[float]] = {name: [] for name in candidates}
        clock, collect = time.perf_counter, gc.collect if FREEZE_HEAP else _nothing
        for _ in range(rounds):
            for name, fn in candidates.items():
                samples = times[name]
                for _ in range(repeats if isinstance(repeats, int) else repeats[name]):
                    start = clock()
                    fn()
                    collect()
                    samples.append(clock() - start)
        return times
    finally:
        gc.unfreeze()


def _nothing() -> None:
    pass


def peak_memory(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated through Python's allocators during one call of ``fn``.

    tracemalloc sees Python objects and NumPy array data; it does not see
    memory that C++ libraries (PyTorch) allocate themselves.
    """
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak - base


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def iqr(samples: Sequence[float]) -> float:
    """Interquartile range (the spread of the middle half of the samples)."""
    if len(samples) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q3 - q1


def summary(times: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float]]:
    """Median, IQR and sample count of each candidate, for the JSON file."""
    return {name: {"median": median(t), "iqr": iqr(t), "samples": len(t)} for name, t in times.items()}


# -- correctness before timing ---------------------------------------------------------------


class MismatchError(AssertionError):
    """Two candidates computed different derivatives: neither may be timed."""


def leaves(x: Any) -> list[Any]:
    """Flatten nested tuples / lists / dicts into a list of NumPy arrays."""
    import numpy as np

    if isinstance(x, dict):
        return [a for k in sorted(x) for a in leaves(x[k])]
    if isinstance(x, (tuple, list)):
        return [a for item in x for a in leaves(item)]
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().numpy()
    return [np.asarray(x, dtype=float)]


def relative_error(got: Any, want: Any) -> float:
    """Largest normwise relative error over the arrays of two nested results."""
    import numpy as np

    got_leaves, want_leaves = leaves(got), leaves(want)
    if len(got_leaves) != len(want_leaves):
        return float("inf")
    worst = 0.0
    for a, b in zip(got_leaves, want_leaves):
        if a.shape != b.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)) / scale)
    return worst


def check_agree(
    results: Mapping[str, Any],
    reference: str,
    rtol: float = 1e-10,
    tolerances: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Raise :class:`MismatchError` unless every result matches ``results[reference]``.

    The error of each candidate is normwise relative: max |got - want| over
    max |want|, per array. ``tolerances`` gives looser bounds to candidates
    that are approximations (finite differences). Returns the errors.
    """
    errors = {}
    for name, value in results.items():
        err = relative_error(value, results[reference])
        bound = (tolerances or {}).get(name, rtol)
        if not err <= bound:
            raise MismatchError(f"{name} differs from {reference}: relative error {err:.3g} > {bound:g}")
        errors[name] = err
    return errors


# -- reports: tables, targets, files -----------------------------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"#### {self.title}", "", "| " + " | ".join(self.headers) + " |"]
        lines.append("|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(self.headers))) + "|")
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in self.rows]
        lines += [""] + [f"{note}  " for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


@dataclass
class Target:
    """A goal of the benchmark: ``measured`` against ``goal``, with whether it is met."""

    name: str
    measured: str
    goal: str
    met: bool


@dataclass
class Report:
    """What a workload's ``run(quick)`` returns."""

    name: str
    title: str
    description: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw samples and summaries, for the JSON

    def markdown(self) -> str:
        parts = [f"### {self.title}", "", self.description, ""]
        parts += [t.markdown() for t in self.tables]
        if self.targets:
            parts.append(
                Table(
                    "Targets",
                    ["target", "measured", "goal", "met"],
                    [[t.name, t.measured, t.goal, "yes" if t.met else "**no**"] for t in self.targets],
                ).markdown()
            )
        return "\n".join(parts)


def _cell(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.0f}"
    return str(x)


def fmt_time(seconds: float) -> str:
    """A duration with a readable unit: ``812 ns``, ``3.41 ms``, ``1.20 s``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def ratio_rows(
    times: Mapping[str, Sequence[float]], reference: str, fmt: Callable[[float], str] = fmt_time
) -> list[list[Any]]:
    """Rows ``[candidate, median, IQR, median / reference median]``."""
    ref = median(times[reference])
    return [[name, fmt(median(t)), fmt(iqr(t)), f"{median(t) / ref:.2f}"] for name, t in times.items()]


def machine_info(cpu: int | None = None) -> dict[str, Any]:
    """Date, versions, CPU model, pinning and load: what a reader needs to trust a number."""
    info: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpus_online": os.cpu_count(),
        "pinned_cpu": cpu if cpu is not None else _pinned_cpu,
        "gc_heap_frozen": FREEZE_HEAP,
        "thread_env": {v: os.environ.get(v) for v in THREAD_VARS + ("OPENBLAS_CORETYPE",)},
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "adkit_commit": _git_commit(),
    }
    for dist in ("adkit", "numpy", "torch", "autograd", "micrograd"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = None
    info["numpy_blas"] = _numpy_blas()
    return info


def _numpy_blas() -> str | None:
    """NumPy's BLAS and, for OpenBLAS, the kernel it runs (OPENBLAS_CORETYPE can force a slow one)."""
    import ctypes
    import glob

    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas['name']} {blas['version']}"
    except (KeyError, TypeError, AttributeError):
        return None
    symbols = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename")
    for lib in glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")):
        for symbol in symbols:
            try:
                corename = getattr(ctypes.CDLL(lib), symbol)
            except (OSError, AttributeError):
                continue
            corename.restype = ctypes.c_char_p
            return f"{name} ({corename().decode()} kernel)"
    return name


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "adkit"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def header(meta: Mapping[str, Any], quick: bool) -> str:
    """The lines above a results table: when, where, with what."""
    kind = "quick smoke run (--quick): few samples, indicative only" if quick else "full run"
    load = f"load average {meta['loadavg_at_start'][0]:.2f} at start" if meta.get("loadavg_at_start") else ""
    if meta.get("loadavg_at_end"):
        load += f", {meta['loadavg_at_end'][0]:.2f} at end"
    return "\n".join(
        [
            f"Measured {meta['date']} ({kind}), adkit {meta['adkit']} at {meta['adkit_commit']}.  ",
            f"{meta['cpu_model']}, pinned to CPU {meta['pinned_cpu']} of {meta['cpus_online']}, one BLAS "
            f"thread ({meta.get('numpy_blas')}); {load}.  ",
            f"Python {meta['python']}, NumPy {meta['numpy']}, PyTorch {meta['torch']}, "
            f"autograd {meta['autograd']}, micrograd {meta['micrograd']}."
            + ("" if meta.get("gc_heap_frozen", True) else " Heap not frozen (--no-freeze)."),
            "",
        ]
    )


def save(report: Report, meta: Mapping[str, Any], quick: bool) -> tuple[Path, Path]:
    """Write ``results/<name>.json`` and ``.md`` (``results/quick/`` for --quick runs)."""
    folder = RESULTS / "quick" if quick else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    meta = dict(meta, loadavg_at_end=list(os.getloadavg()) if hasattr(os, "getloadavg") else None)
    payload = {"meta": meta, "quick": quick, **asdict(report)}
    json_path = _write(folder / f"{report.name}.json", json.dumps(payload, indent=1, default=str) + "\n")
    md_path = _write(folder / f"{report.name}.md", header(meta, quick) + "\n" + report.markdown())
    return json_path, md_path


def _write(path: Path, text: str) -> Path:
    """Write through a .tmp file, so an interrupted run never leaves half a result."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
