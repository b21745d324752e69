"""Value and gradient of a scalar chain of N elementary operations on Python floats.

The chain repeats a block of 8 operations (``* sin + tanh ** exp * +``),
feeding the input x back in twice per block, so the gradient collects a
contribution from every block; each block is a contraction, so values stay in
[0.75, 1.6] and the gradient stays of order 1 at any N (finite and not zero).
Every library runs the very same Python function ``chain``, given its own
sin / exp / tanh: adkit's (``adkit.sin``, and ``np.sin`` reaching adkit
through NumPy's ``__array_ufunc__``), HIPS autograd's (``autograd.numpy``),
micrograd's (sin / exp / tanh added the way a micrograd user would: a function
making a ``Value`` with its ``_backward`` closure; micrograd's recursive
topological sort needs a raised recursion limit), PyTorch's on 0-d float64
tensors (eager, ``.backward()``), and ``math``'s on floats for the value alone
(the floor: what the arithmetic costs without derivatives). Beside them:
``adkit.compile`` of adkit's value and gradient (generated Python floats
code; its first call, staging and code generation included, is timed
apart), ``jax.jit`` of JAX's ``value_and_grad`` at N = 10^3 only (its
compilation of the unrolled chain takes seconds there and minutes above),
tangent-ad (source transformation of ``tangent_workloads.chain``) and the
derivative written by hand (forward mode in floats, the reference). Times are
per operation: median time of one value-and-gradient call divided by N.
Memory is the peak that tracemalloc sees during one call, per operation
(PyTorch allocates its graph in C++, out of tracemalloc's sight).
"""

from __future__ import annotations

import math
import sys
import time

import autograd
import autograd.numpy as anp
import numpy as np
import torch
from micrograd.engine import Value

import adkit
import tangent_workloads

import harness

X0 = 0.5
BLOCK = 8  # operations per block of the chain


def chain(x, sin, exp, tanh, n):
    """N = n elementary operations (n a multiple of 8)."""
    y = x
    for _ in range(n // BLOCK):
        t = y * x
        t = sin(t)
        t = t + x
        t = tanh(t)
        t = t**2
        t = exp(t)
        t = t * 0.5
        y = t + 0.25
    return y


def chain_derivative(x, n):
    """The reference: value and dy/dx carried along by hand (forward mode in floats)."""
    y, dy = x, 1.0
    for _ in range(n // BLOCK):
        t, dt = y * x, dy * x + y
        t, dt = math.sin(t), math.cos(t) * dt
        t, dt = t + x, dt + 1.0
        t = math.tanh(t)
        dt = (1 - t * t) * dt
        t, dt = t**2, 2 * t * dt
        t = math.exp(t)
        dt = t * dt
        y, dy = t * 0.5 + 0.25, dt * 0.5
    return y, dy


# -- micrograd: the elementary functions it lacks, written as its users do ------------------


def _micrograd_unary(x, f, df):
    out = Value(f(x.data), (x,), f.__name__)

    def _backward():
        x.grad += df(x.data, out.data) * out.grad

    out._backward = _backward
    return out


def mg_sin(x):
    return _micrograd_unary(x, math.sin, lambda a, out: math.cos(a))


def mg_exp(x):
    return _micrograd_unary(x, math.exp, lambda a, out: out)


def mg_tanh(x):
    return _micrograd_unary(x, math.tanh, lambda a, out: 1 - out * out)


# -- the candidates: each returns (value, gradient) as floats ---------------------------------


def candidates(n):
    adkit_vg = adkit.value_and_grad(lambda x: chain(x, adkit.sin, adkit.exp, adkit.tanh, n))
    adkit_np_vg = adkit.value_and_grad(lambda x: chain(x, np.sin, np.exp, np.tanh, n))
    autograd_vg = autograd.value_and_grad(lambda x: chain(x, anp.sin, anp.exp, anp.tanh, n))

    def micrograd_vg():
        x = Value(X0)
        y = chain(x, mg_sin, mg_exp, mg_tanh, n)
        y.backward()
        return y.data, x.grad

    def torch_vg():
        x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
        y = chain(x, torch.sin, torch.exp, torch.tanh, n)
        y.backward()
        return y.item(), x.grad.item()

    compiled_vg = adkit.compile(adkit_vg)
    tangent_vg = _tangent_chain()

    def tangent_call():
        dx, y = tangent_vg(X0, n // BLOCK)
        return float(y), float(dx)

    cands = {
        "adkit (adkit.sin ...)": lambda: adkit_vg(X0),
        "adkit (np.sin ... via __array_ufunc__)": lambda: adkit_np_vg(X0),
        COMPILED: lambda: compiled_vg(X0),
        "HIPS autograd": lambda: autograd_vg(X0),
        "micrograd": micrograd_vg,
        "PyTorch eager": torch_vg,
        TANGENT: tangent_call,
    }
    if n <= JAX_MAX_N:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)  # float64, as every other candidate
        jax_vg = jax.jit(jax.value_and_grad(lambda x: chain(x, jnp.sin, jnp.exp, jnp.tanh, n)))
        cands[JAX] = lambda: tuple(float(v) for v in jax_vg(X0))
    cands[HAND] = lambda: chain_derivative(X0, n)
    cands[FLOOR] = lambda: (chain(X0, math.sin, math.exp, math.tanh, n), None)
    return cands


def _tangent_chain():
    """tangent-ad's value and gradient of the chain (made once: it transforms the source)."""
    global _TANGENT
    if _TANGENT is None:
        import tangent

        _TANGENT = tangent.grad(tangent_workloads.chain, preserve_result=True)
    return _TANGENT


_TANGENT = None


COMPILED = "adkit.compile(value_and_grad)"
JAX = "jax.jit(value_and_grad)"
TANGENT = "tangent-ad"
HAND = "derivative by hand (floats)"
FLOOR = "floats, value only (floor)"
JAX_MAX_N = 10**3  # jax.jit compiles the unrolled chain: seconds at 10^3, minutes at 10^4
NAMES = list(candidates(8))
ADKIT = "adkit (adkit.sin ...)"
PEERS = ("HIPS autograd", "micrograd", "PyTorch eager")
#: timed only where a call is fast enough, as the peers
SLOW = PEERS + (TANGENT,)
NO_TRACEMALLOC = ("PyTorch eager", JAX)  # their graphs live in C++ memory


def run(quick: bool) -> harness.Report:
    harness.torch_single_thread(torch)
    sizes = (10**3, 10**4, 10**5)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * sizes[-1]))  # micrograd's recursive topological sort
    try:
        cands, repeats, memory, errors, first = {}, {}, {}, {}, {}
        for n in sizes:
            cands_n = candidates(n)
            if quick and n > 10**4:  # the peers take seconds per call there
                cands_n = {k: v for k, v in cands_n.items() if k not in SLOW}
            want = chain_derivative(X0, n)
            got = {}
            for name, fn in cands_n.items():  # the correctness calls; the first ones stage and compile
                start = time.perf_counter()
                got[name] = fn()
                if name in (COMPILED, JAX):
                    first[key(name, n)] = time.perf_counter() - start
            got = {name: v if v[1] is not None else (v[0], want[1]) for name, v in got.items()}
            errors[n] = harness.check_agree({**got, "reference": want}, "reference", rtol=1e-10)
            # (not the compiled chain at 10^5: tracemalloc looks up the line of every allocation, a
            # linear scan of the line table of a generated function of 10^5 lines: hours)
            memory[n] = {
                k: harness.peak_memory(fn) / n
                for k, fn in cands_n.items()
                if k not in NO_TRACEMALLOC and k not in (FLOOR, HAND) and not (k == COMPILED and n > 10**4)
            }
            for name, fn in cands_n.items():
                cands[key(name, n)] = fn
                # at least 3 samples a round where a call is cheap (not the peers at 10^5)
                repeats[key(name, n)] = max(1 if name in SLOW else 3, 10**4 // n * (1 if quick else 3))
        # Every size in the same rounds, so that a change of load on the machine cannot pass for a
        # change of time per operation with N. The correctness calls above were the warm-up.
        times = harness.measure(cands, repeats, rounds=3 if quick else 5, warmup=0)
    finally:
        sys.setrecursionlimit(limit)
    ran = {n: [name for name in NAMES if key(name, n) in times] for n in sizes}
    per_op = {n: {name: harness.median(times[key(name, n)]) / n for name in ran[n]} for n in sizes}
    spread = {n: {name: harness.iqr(times[key(name, n)]) / n for name in ran[n]} for n in sizes}
    return report(sizes, per_op, spread, memory, errors, times, first)


def key(name: str, n: int) -> str:
    return f"{name}, N = {n}"


def report(sizes, per_op, spread, memory, errors, samples, first) -> harness.Report:
    names = NAMES
    time_rows = [
        [k]
        + [
            f"{per_op[n][k] * 1e9:.0f} ± {spread[n][k] * 1e9 / 2:.0f}" if k in per_op[n] else "—"
            for n in sizes
        ]
        for k in names
    ]
    ratio_rows = [
        [k] + [f"{per_op[n][k] / per_op[n][ADKIT]:.2f}" if k in per_op[n] else "—" for n in sizes]
        for k in names
    ]
    mem_rows = [
        [k]
        + [f"{memory[n][k]:.0f}" if k in memory[n] else "n/a" if k in NO_TRACEMALLOC else "—" for n in sizes]
        for k in names
        if k != FLOOR
    ]
    cols = [f"N = 10^{round(math.log10(n))}" for n in sizes]
    headers = ["candidate"] + cols
    mem_note = (
        "n/a: PyTorch's autograd graph and JAX's buffers are allocated in C++, unseen by "
        "tracemalloc; —: not run (a --quick run skips the peers and tangent-ad at N = 10^5, jax.jit "
        "runs at N = 10^3 only; adkit.compile's memory is not measured at N = 10^5, where "
        "tracemalloc's line lookups in its generated function of 10^5 lines take hours)."
    )
    first_rows = [
        [name] + [f"{first[key(name, n)]:.3g} s" if key(name, n) in first else "—" for n in sizes]
        for name in (COMPILED, JAX)
    ]
    tables = [
        harness.Table("Time per operation (ns): median ± half the IQR", headers, time_rows),
        harness.Table("Time relative to adkit (median / adkit's median; > 1 is slower)", headers, ratio_rows),
        harness.Table(
            "Peak memory per operation during one call (bytes, tracemalloc)", headers, mem_rows, [mem_note]
        ),
        harness.Table(
            "First call: staging or tracing, code generation, compilation and one run",
            headers,
            first_rows,
            ["Wall-clock time of one call of a fresh compiled function, once."],
        ),
    ]
    mid, small, big = 10**4, sizes[0], sizes[-1]
    fastest = min(PEERS, key=lambda k: per_op[mid][k])
    speedup = per_op[mid][fastest] / per_op[mid][ADKIT]
    growth = per_op[big][ADKIT] / per_op[small][ADKIT]
    # the floor does the same arithmetic at every N: its drift is the machine's, not adkit's
    floor_growth = growth / (per_op[big][FLOOR] / per_op[small][FLOOR])
    tape = max(memory[n][ADKIT] for n in sizes)
    targets = [
        harness.Target(
            f"fastest peer ({fastest}) / adkit at N = 10^4", f"{speedup:.1f}x", ">= 3x", speedup >= 3
        ),
        harness.Target(
            "adkit time per op, N = 10^5 over N = 10^3",
            f"{growth:.2f} ({floor_growth:.2f} relative to the floor's)",
            "<= 1.3",
            growth <= 1.3,
        ),
        harness.Target("adkit peak memory per op (largest over N)", f"{tape:.0f} B", "< 250 B", tape < 250),
    ]
    for n in sizes:
        if COMPILED in per_op[n]:
            vs_hand = per_op[n][COMPILED] / per_op[n][HAND]
            size = f"N = 10^{round(math.log10(n))}"
            targets.append(
                harness.Target(
                    f"adkit.compile / derivative by hand, per op, {size}",
                    f"{vs_hand:.2f}",
                    "<= 3",
                    vs_hand <= 3,
                )
            )
    if JAX in per_op[small] and COMPILED in per_op[small]:
        vs_jax = per_op[small][JAX] / per_op[small][COMPILED]
        targets.append(
            harness.Target(
                "jax.jit / adkit.compile per op (steady state), N = 10^3", f"{vs_jax:.2f}", "> 1", vs_jax > 1
            )
        )
    if key(COMPILED, mid) in first:
        staging = first[key(COMPILED, mid)]
        targets.append(
            harness.Target(
                "adkit.compile first call (staging + code generation), N = 10^4",
                f"{staging:.2f} s",
                "< 1 s",
                staging < 1,
            )
        )
    data = {
        "per_op_seconds": per_op,
        "iqr_per_op_seconds": spread,
        "peak_bytes_per_op": memory,
        "relative_errors": errors,
        "times": samples,
        "first_call_seconds": {k: v for k, v in first.items()},
    }
    return harness.Report(
        "w1_chain",
        "W1: scalar chain of N operations, value and gradient (issue 3)",
        __doc__.split("\n\n", 1)[1].strip(),
        tables,
        targets,
        data,
    )
