"""Gradient of an MLP loss with respect to all its weights and biases, float64.

The model: two tanh hidden layers of the given width and a linear output of
10 units, three (W, b) layers in all, on a batch of inputs of that width;
the loss is the mean squared error against fixed targets:
``mean((tanh(tanh(X W1 + b1) W2 + b2) W3 + b3 - Y)²)``. adkit, HIPS autograd
and PyTorch differentiate the same function ``loss`` (given their own tanh
and mean) with respect to the list of (W, b) pairs: ``adkit.grad``,
``autograd.grad``, ``torch.autograd.grad`` (eager). The floor is the loss
alone in NumPy; the bar to meet is a hand-written NumPy backprop of the same
model (what an expert writes without an AD tool). Beside them: ``adkit.compile``
of ``adkit.grad(loss)`` (generated NumPy code; staged on the correctness call
before timing), ``jax.jit`` of ``jax.grad`` (float64), and tangent-ad (source
transformation of ``tangent_workloads.mlp_loss``). A third size, batch 8 and
width 32, is where Python between NumPy calls dominates; there the cost of a
compiled function's cache hit (the generated check of the arguments and the
call) is measured too, as its time over the generated function called directly.
"""

from __future__ import annotations

import itertools

import autograd
import autograd.numpy as anp
import numpy as np
import torch

import adkit
import tangent_workloads

import harness

OUTPUTS = 10


def loss(params, X, Y, tanh=np.tanh, mean=np.mean):
    (W1, b1), (W2, b2), (W3, b3) = params
    h1 = tanh(X @ W1 + b1)
    h2 = tanh(h1 @ W2 + b2)
    return mean((h2 @ W3 + b3 - Y) ** 2)


def backprop(params, X, Y):
    """The gradient of ``loss`` by hand: the chain rule written out layer by layer."""
    (W1, b1), (W2, b2), (W3, b3) = params
    h1 = np.tanh(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    d_out = (2 / Y.size) * (h2 @ W3 + b3 - Y)
    d_h2 = (d_out @ W3.T) * (1 - h2 * h2)
    d_h1 = (d_h2 @ W2.T) * (1 - h1 * h1)
    return [(X.T @ d_h1, d_h1.sum(0)), (h1.T @ d_h2, d_h2.sum(0)), (h2.T @ d_out, d_out.sum(0))]


def problem(batch, width, seed=3):
    rng = np.random.default_rng(seed)
    dims = [width, width, width, OUTPUTS]
    params = [
        (rng.standard_normal((a, b)) / np.sqrt(a), 0.1 * rng.standard_normal(b))
        for a, b in itertools.pairwise(dims)
    ]
    return params, rng.standard_normal((batch, width)), rng.standard_normal((batch, OUTPUTS))


def candidates(params, X, Y):
    adkit_grad = adkit.grad(loss)
    autograd_grad = autograd.grad(lambda p: loss(p, X, Y, anp.tanh, anp.mean))
    t_params = [tuple(torch.from_numpy(a).requires_grad_() for a in layer) for layer in params]
    t_flat = [p for layer in t_params for p in layer]
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)

    def torch_grad():
        g = torch.autograd.grad(loss(t_params, tX, tY, torch.tanh, torch.mean), t_flat)
        return [(g[0], g[1]), (g[2], g[3]), (g[4], g[5])]

    compiled_grad = adkit.compile(adkit.grad(loss))
    import jax
    import jax.numpy as jnp
    import tangent

    jax.config.update("jax_enable_x64", True)  # float64, as every other candidate
    j_params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    jX, jY = jnp.asarray(X), jnp.asarray(Y)
    jax_grad = jax.jit(jax.grad(lambda p, X, Y: loss(p, X, Y, jnp.tanh, jnp.mean)))
    tangent_grad = tangent.grad(tangent_workloads.mlp_loss, wrt=(0, 1, 2, 3, 4, 5))
    flat = [a for layer in params for a in layer]

    def tangent_call():
        g = tangent_grad(*flat, X, Y)
        return [(g[0], g[1]), (g[2], g[3]), (g[4], g[5])]

    return {
        "adkit.grad": lambda: adkit_grad(params, X, Y),
        COMPILED: lambda: compiled_grad(params, X, Y),
        "hand-written NumPy backprop": lambda: backprop(params, X, Y),
        "HIPS autograd": lambda: autograd_grad(params),
        "PyTorch eager": torch_grad,
        JAX: lambda: jax.block_until_ready(jax_grad(j_params, jX, jY)),
        TANGENT: tangent_call,
        "loss only, NumPy (floor)": lambda: loss(params, X, Y),
    }


def cache_hit(params, X, Y, rounds: int) -> tuple[float, float]:
    """Median seconds of a compiled call and of its generated function called directly, interleaved."""
    compiled = adkit.compile(adkit.grad(loss))
    compiled(params, X, Y)
    (entry,) = compiled._entries.values()
    generated = entry.variants[-1].function
    leaves = [a for layer in params for a in layer] + [X, Y]
    times = harness.measure(
        {"compiled": lambda: compiled(params, X, Y), "generated": lambda: generated(*leaves)},
        repeats=20,
        rounds=rounds,
    )
    return harness.median(times["compiled"]), harness.median(times["generated"])


SIZES = ((8, 32), (64, 256), (256, 1024))
ADKIT, HAND, FLOOR = "adkit.grad", "hand-written NumPy backprop", "loss only, NumPy (floor)"
COMPILED, JAX, TANGENT = "adkit.compile(grad)", "jax.jit(grad)", "tangent-ad"
#: the targets of adkit.compile against the hand-written backprop (issue 14)
COMPILED_GOAL = {(8, 32): 1.3, (64, 256): 1.03, (256, 1024): 1.03}


def run(quick: bool) -> harness.Report:
    harness.torch_single_thread(torch)
    tables, targets, data = [], [], {}
    for batch, width in SIZES:
        params, X, Y = problem(batch, width)
        cands = candidates(params, X, Y)
        grads = {name: fn() for name, fn in cands.items() if name != FLOOR}
        errors = harness.check_agree(grads, HAND, rtol=1e-10)
        small = width < 1024
        repeats = (50 if width <= 32 else 5 if small else 1) * (1 if quick else 4)
        times = harness.measure(cands, repeats=repeats, rounds=2 if quick else 5)
        rows = harness.ratio_rows(times, HAND)
        for row in rows:
            row.append(f"{harness.median(times[row[0]]) / harness.median(times[ADKIT]):.2f}")
            row.append(f"{errors[row[0]]:.1e}" if row[0] in errors else "—")
        tables.append(
            harness.Table(
                f"batch {batch}, width {width}",
                ["candidate", "median", "IQR", "× hand-written", "× adkit", "rel. error vs hand-written"],
                rows,
            )
        )
        size = f"batch {batch} width {width}"
        if width > 32:  # issue 3's targets, at its sizes
            vs_hand = harness.median(times[ADKIT]) / harness.median(times[HAND])
            targets.append(
                harness.Target(
                    f"adkit / hand-written backprop, {size}", f"{vs_hand:.2f}", "<= 1.15", vs_hand <= 1.15
                )
            )
            for peer in ("HIPS autograd", "PyTorch eager"):
                vs_peer = harness.median(times[peer]) / harness.median(times[ADKIT])
                name = f"{peer} / adkit, {size}"
                targets.append(harness.Target(name, f"{vs_peer:.2f}", "> 1", vs_peer > 1))
        goal = COMPILED_GOAL[(batch, width)]
        vs_hand = harness.median(times[COMPILED]) / harness.median(times[HAND])
        targets.append(
            harness.Target(
                f"adkit.compile / hand-written backprop, {size}",
                f"{vs_hand:.3f}",
                f"<= {goal}",
                vs_hand <= goal,
            )
        )
        if width <= 32:
            hit, generated = cache_hit(params, X, Y, rounds=2 if quick else 5)
            overhead = (hit - generated) * 1e6
            targets.append(
                harness.Target(
                    f"adkit.compile cache hit over its generated code, {size}",
                    f"{overhead:.2f} µs",
                    "< 3 µs",
                    overhead < 3,
                )
            )
            data["cache_hit_seconds"] = {"compiled": hit, "generated": generated}
        data[f"{batch}x{width}"] = {"errors": errors, "summary": harness.summary(times), "times": times}
    return harness.Report(
        "w2_mlp",
        "W2: gradient of a 3-layer tanh MLP loss (issue 3)",
        __doc__.split("\n\n", 1)[1].strip(),
        tables,
        targets,
        data,
    )
