# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 11. Beyond the two pure modes
#
# Tutorial 6 compared forward and reverse mode by two numbers: a Jacobian of
# $f: \mathbb{R}^n \to \mathbb{R}^m$ costs $n$ tangent directions forward and
# $m$ cotangents in reverse. That is the whole story only for a dense
# Jacobian, a graph without structure, and unlimited memory. This notebook
# tells three stories where it is not:
#
# 1. **Sparse Jacobians.** When most entries are zero, columns that never
#    share a row can share a tangent direction: the cost is the number of
#    *colours* of the sparsity pattern, not $n$.
# 2. **Vertex elimination.** Forward and reverse mode are two *orders* of
#    applying the chain rule on the graph; other orders (Markowitz's) can be
#    cheaper than both.
# 3. **Checkpointing.** Reverse mode keeps the whole forward pass on its tape;
#    recomputing parts of it in the backward sweep trades time for memory,
#    and the binomial schedule makes that trade optimally.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * get a sparse Jacobian with `adkit.jacobian(f, sparse=True)`, read its
#   pattern and colouring (`.explain`, `.spy`), and explain why $p$
#   compressed directions recover every nonzero, what the detected pattern
#   promises (exact for the branch taken, a superset through `np.where`),
#   and why a banded Jacobian needs as many colours as its bandwidth;
# * eliminate the vertices of a linearized graph by hand, count the
#   multiplications $|P(v)|\cdot|S(v)|$ of forward, reverse and Markowitz
#   order, and recognise a graph where Markowitz beats both pure modes;
# * checkpoint a function (`adkit.checkpoint(g)`) or a loop
#   (`adkit.checkpoint(step, steps=T, snapshots=s)`), and predict with the
#   binomial schedule how much memory it saves and how many steps it
#   recomputes.

# %%
# %matplotlib inline
import gc
import math
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np

import adkit

np.set_printoptions(precision=4, suppress=True, linewidth=100)
rng = np.random.default_rng(11)

# %% [markdown]
# ## 1. Sparse Jacobians by colouring
#
# A discretized boundary-value problem, $-u'' + u^3$ on a grid, written the
# NumPy way with slices: each output reads its own point and its two
# neighbours, so the Jacobian is tridiagonal.


# %%
def residual(u):
    padded = np.concatenate([np.zeros(1), u, np.zeros(1)])  # u = 0 at both ends
    return 2.0 * u - padded[:-2] - padded[2:] + 0.1 * u**3


u = rng.uniform(-1.0, 1.0, 200)
dense = adkit.jacobian(residual)(u)
print(f"dense Jacobian: {dense.shape}, {np.count_nonzero(dense)} nonzeros of {dense.size}")

# %% [markdown]
# The dense Jacobian costs 200 tangent directions (or 200 cotangents) for
# fewer than 600 nonzeros. With `sparse=True`, adkit returns a
# `scipy.sparse` matrix instead, computed from a handful of directions:

# %%
jac = adkit.jacobian(residual, sparse=True)
J = jac(u)
print(type(J).__name__, J.shape, f"{J.nnz} stored entries")
print("largest difference from the dense Jacobian:", np.abs(J.toarray() - dense).max())
info = jac.explain(u)
info

# %% [markdown]
# Three directions for 200 columns. How? Three steps, all visible on `info`:
#
# **The pattern.** adkit evaluates `residual` once on a tape and propagates,
# through the recorded operations, the *index set* of each value: which
# inputs it depends on. An elementwise operation takes the union of its
# operands' sets, a slice picks elements, a sum unions the elements it
# adds, `a @ b` joins a row of `a` with a column of `b`. On a small input:

# %%
print(adkit.sparse.sparsity(residual, np.ones(6)).toarray().astype(int))

# %% [markdown]
# **The colouring.** Two columns conflict when they have a nonzero in the
# same row. Columns $j$, $j+3$, $j+6$, ... never do, so they can share a
# tangent direction, a *colour*. adkit colours the conflict graph with
# networkx's greedy colouring:

# %%
print("colours of the first 12 columns:", info.column_colors[:12])
print(f"forward mode needs {info.p_forward} colours, reverse mode (rows) {info.p_reverse}")

# %% [markdown]
# **The compressed pass.** The seed $S$ has a column of ones per colour;
# one vector-mode pass with those $p = 3$ directions gives $B = J S$, and
# each nonzero is read back as $J_{ij} = B_{i,\,c(j)}$: no other column of
# colour $c(j)$ touches row $i$. `spy` draws the pattern in its colours and
# the compressed matrix beside it:

# %%
_ = info.spy()
plt.show()

# %% [markdown]
# The pattern depends on the operations recorded, never on the values: it
# is exact for the branch of Python control flow the evaluation took.
# `np.where` evaluates both branches, and the pattern keeps both, a
# superset, so that it still holds where the condition flips:


# %%
def switch(x):
    return np.where(x > 0, x * x[::-1], np.sin(x) * x[0])


ones = np.ones(5)
print("detected:\n", adkit.sparse.sparsity(switch, ones).toarray().astype(int))
print("nonzero at x = 1:\n", (adkit.jacobian(switch)(ones) != 0).astype(int))

# %% [markdown]
# At $x = (1, \dots, 1)$ every condition holds: the derivative there has the
# diagonal and the anti-diagonal of `x * x[::-1]`; the pattern adds column
# 0, which the other branch reads. A reused pattern is also checked: each
# later call pushes one random direction more and compares, so a function
# whose Python `if` depends on the values is refused, not answered wrongly:


# %%
def branches(x):
    return x[::-1] ** 2 if x[0] > 0 else x**2


check = adkit.jacobian(branches, sparse=True)
check(np.array([1.0, 2.0, 3.0]))
try:
    check(np.array([-1.0, 2.0, 3.0]))
except ValueError as err:
    print(str(err)[:118], "...")

# %% [markdown]
# What it buys: the dense Jacobian's cost grows with $n$ directions of
# length $n$ each, the sparse one's with $p$ directions only.

# %% tags=["nbval-ignore-output"]
big = rng.uniform(-1.0, 1.0, 2000)
sparse_jac, dense_jac = adkit.jacobian(residual, sparse=True), adkit.jacobian(residual, mode="forward")
sparse_jac(big)  # the first call detects and colours; later calls at this shape reuse both
for name, fn in (("dense forward", dense_jac), ("sparse", sparse_jac)):
    start = time.perf_counter()
    fn(big)
    print(f"{name:>14}: {time.perf_counter() - start:.4f} s")

# %%
print(f"n = {big.size}: the dense Jacobian pushes {big.size} directions, the sparse one "
      f"{sparse_jac.explain(big).passes} (+1 that checks the reused pattern)")

# %% [markdown]
# With `mode="auto"` (the default), adkit prices both colourings with the
# cost model of tutorial 6, colour counts in place of $n$ and $m$. Not every
# pattern compresses: an *arrow*, with a dense row and a dense column,
# makes every pair of columns and every pair of rows conflict.


# %%
def arrow(x):
    return np.concatenate([np.sum(x**2, keepdims=True), x[1:] * x[0]])


arrow_info = adkit.jacobian(arrow, sparse=True).explain(np.ones(8))
print(f"arrow: {arrow_info.p_forward} colours forward, {arrow_info.p_reverse} in reverse, for n = m = 8")

# %% [markdown]
# (Such a pattern needs both directions at once, a *bicolouring*: the dense
# row by one reverse sweep, the rest by forward directions. ColPack does
# that; adkit does not.)
#
# ## 2. Vertex elimination: orders of the chain rule
#
# Linearize the computational graph: label each edge $v_i \to v_j$ with its
# local partial $c_{ji} = \partial v_j / \partial v_i$. The Jacobian is the
# sum, over all paths from an input to an output, of the products of the
# edge labels. *Eliminating* an intermediate vertex $v$ connects each
# predecessor $i$ directly to each successor $j$:
#
# $$ c_{ji} \mathrel{+}= c_{jv}\, c_{vi} \qquad (|P(v)| \cdot |S(v)| \text{ multiplications}). $$
#
# When only inputs and outputs are left, the edges hold the Jacobian.
# Eliminating in evaluation order is forward mode, in the opposite order
# reverse mode. The running example of the tutorials:

# %%
survey = adkit.elimination.compare(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
print(survey)
print("Jacobian:", survey.jacobian)

# %% [markdown]
# Six multiplications in every order here. Each step of an elimination
# can be drawn: the vertex eliminated next is highlighted, and the
# edges the last step made are thick. Before, and after the first step in
# reverse order:

# %%
_ = survey.draw("reverse", step=0)
plt.show()
_ = survey.draw("reverse", step=1)
plt.show()

# %% [markdown]
# On a graph with a **bottleneck** the orders differ: three inputs funnel
# into one value, a chain of four operations transforms it, and three
# outputs read the end of the chain.


# %%
def bottleneck(x1, x2, x3):
    u = np.tanh(np.exp(np.sin(np.cos(x1 * x2 * x3))))
    return np.sin(u), np.cos(u), np.exp(u)


funnel = adkit.elimination.compare(bottleneck, 0.3, 0.5, 0.7)
print(funnel)
_ = funnel.plot()
plt.show()

# %% [markdown]
# Forward elimination carries all three inputs along the chain (three
# multiplications per link), reverse elimination all three outputs (three
# per link too). Markowitz's rule eliminates first the vertex with the
# fewest $|P(v)| \cdot |S(v)|$: the links of the chain, one multiplication
# each, *before* the bottleneck spreads them. Step through it:

# %%
funnel.widget("markowitz")

# %%
_ = funnel.draw("markowitz", step=3)
plt.show()

# %% [markdown]
# Markowitz is greedy, not optimal: another order does better still.

# %%
better = adkit.elimination.eliminate(funnel.graph, [3, 4, 5, 2, 1, 6])
print(f"v3, v4, v5, v2, v1, v6: {better.multiplications} multiplications, same Jacobian: "
      f"{np.allclose(better.jacobian, funnel.jacobian)}")

# %% [markdown]
# Finding the cheapest order is NP-hard (Naumann 2008). Tools such as
# ADOL-C and dco/c++ use heuristics like Markowitz's on the graphs of
# basic blocks.
#
# ## 3. Checkpointing: memory against recomputation
#
# A time-stepping loop: explicit Euler steps of a nonlinear heat equation.
# Its gradient by reverse mode keeps every step's tape until the backward
# sweep reaches it.


# %%
def heat_step(u, kappa):
    padded = np.concatenate([u[:1], u, u[-1:]])  # insulated ends
    return u + kappa * (padded[:-2] - 2.0 * u + padded[2:]) - 0.01 * u**3


u0 = np.sin(np.linspace(0.0, np.pi, 1000))
T = 400
loop = adkit.checkpoint(heat_step, steps=T, snapshots=20)


def loss(u0, run):
    return np.sum(run(u0, 0.2) ** 2)


with_checkpoints = adkit.grad(loss)(u0, loop)
every_step_taped = adkit.grad(loss)(u0, loop.plain)
print("same gradient:", np.allclose(with_checkpoints, every_step_taped, rtol=1e-12, atol=0.0))
print(f"steps recomputed in the backward sweep: {loop.recomputed}")

# %% [markdown]
# `adkit.checkpoint(step, steps=T, snapshots=s)` keeps at most $s$ states.
# The backward sweep restores the nearest snapshot, advances from it to the
# step it needs (recomputation), sweeps that one step's tape, and places
# new snapshots on the way by the **binomial schedule** of revolve
# (Griewank 1992): with $s$ snapshots, $\binom{s+r}{s}$ steps can be
# reversed evaluating each at most $r + 1$ times, and no schedule does
# better. `adkit.checkpointing.schedule` counts it without running
# anything:

# %%
tradeoff = adkit.checkpointing.tradeoff(T, [2, 5, 10, 20, 50, 400])
tradeoff

# %% [markdown]
# Measured: the peak memory of the gradient, in states of 8 KB, against the
# schedule's count of states held (plus one step's tape and the sweep's own
# arrays, about the same in every run).


# %% tags=["nbval-ignore-output"]
def peak_states(fn):
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / u0.nbytes


measured = {}
for s in (2, 5, 20, 400):
    checkpointed = adkit.checkpoint(heat_step, steps=T, snapshots=s)
    peak = peak_states(lambda run=checkpointed: adkit.grad(loss)(u0, run))
    measured[s] = (peak, checkpointed.recomputed)
    print(f"s = {s:>3}: peak {peak:6.1f} states, {checkpointed.recomputed:>5} steps recomputed")
plain_peak = peak_states(lambda: adkit.grad(loss)(u0, loop.plain))
print(f"no checkpointing: peak {plain_peak:.0f} states")

# %%
_ = tradeoff.plot(measured=measured)
plt.show()

# %% [markdown]
# Without checkpointing the tape holds several arrays per step (about ten
# states a step here); with $s = 20$ snapshots the peak is a few dozen
# states, for 548 steps recomputed, 1.37 per step of the loop. A function can be
# checkpointed on its own too: `adkit.checkpoint(g)` puts one entry on the
# tape for each call, and re-runs `g` on a fresh tape when the sweep needs
# its derivative.

# %%
block = adkit.checkpoint(heat_step)
for name, g in (("plain", heat_step), ("checkpointed", block)):
    with adkit.Tape() as tape:
        state = adkit.Var(u0)
        for _ in range(5):
            state = g(state, 0.2)
    print(f"{name:>12}: {len(tape.nodes)} tape entries for 5 steps")

# %% [markdown]
# ## Summary
#
# * `adkit.jacobian(f, sparse=True)`: pattern by index sets (exact for the
#   branch taken, a superset through `np.where`), greedy colouring,
#   $p$ compressed directions; banded Jacobians need as many colours as
#   their bandwidth, whatever $n$.
# * `adkit.elimination.compare(f, *args)`: forward and reverse mode are two
#   orders of vertex elimination; Markowitz's greedy order beats both on a
#   bottleneck, and is not always optimal.
# * `adkit.checkpoint`: memory for time; with the binomial schedule,
#   $s$ snapshots reverse $\binom{s+r}{s}$ steps with each step evaluated
#   at most $r+1$ times.
#
# ## Exercises

# %% [markdown]
# ### Exercise 1
#
# A five-point stencil, $y_i = x_{i-2} - 4x_{i-1} + 6x_i - 4x_{i+1} +
# x_{i+2} + x_i^3$, has a pentadiagonal Jacobian. How many colours does
# forward mode need, for $n = 50$ and for $n = 5000$? Check with `explain`,
# and check the sparse Jacobian against the dense one.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def five_point(x):
    padded = np.concatenate([np.zeros(2), x, np.zeros(2)])
    return padded[:-4] - 4 * padded[1:-3] + 6 * x - 4 * padded[3:-1] + padded[4:] + x**3


for n in (50, 5000):
    stencil = adkit.jacobian(five_point, mode="forward", sparse=True)
    x = rng.normal(size=n)
    assert stencil.explain(x).passes == 5  # the bandwidth, whatever n
    if n == 50:
        assert np.allclose(stencil(x).toarray(), adkit.jacobian(five_point)(x), rtol=1e-13)
print("5 colours at both sizes")

# %% [markdown]
# ### Exercise 2
#
# For $g(x_1, x_2) = \sin(x_1 x_2) + x_1 x_2$, computed as $v_1 = x_1 x_2$,
# $v_2 = \sin v_1$ and the output $v_3 = v_2 + v_1$ (the product once):
# count by hand the multiplications of forward and of reverse elimination,
# and say which order Markowitz's rule picks. Check with
# `adkit.elimination.compare`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
# forward: v1 has P = {x1, x2} and S = {v2, v3}: 4; then v2 has P = {x1, x2}, S = {v3}: 2. Total 6.
# reverse: v2 has P = {v1}, S = {v3}: 1; then v1 has P = {x1, x2}, S = {v3}: 2. Total 3.
# Markowitz: v2 (1 x 1) before v1 (2 x 2), the reverse order: 3.
def g(x1, x2):
    v1 = x1 * x2
    return np.sin(v1) + v1


counts = adkit.elimination.compare(g, 0.5, 2.0).counts
assert counts == {"forward": 6, "reverse": 3, "markowitz": 3}
print(counts)

# %% [markdown]
# ### Exercise 3
#
# Revolve's closed form: with $s$ snapshots and $r$ the smallest number with
# $\binom{s+r}{s} \ge T$, reversing $T$ steps takes $rT - \binom{s+r}{s+1}$
# advances in all, the forward pass's $T - 1$ included. Predict the steps
# recomputed in the backward sweep for $T = 10\,000$ and $s = 10$, and check
# with `adkit.checkpointing.schedule`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
steps, snapshots = 10_000, 10
r = 0
while math.comb(snapshots + r, snapshots) < steps:
    r += 1
predicted = r * steps - math.comb(snapshots + r, snapshots + 1) - (steps - 1)
assert predicted == adkit.checkpointing.schedule(steps, snapshots).recomputed
print(f"r = {r}: {predicted} steps recomputed, {predicted / steps:.2f} per step of the loop")
