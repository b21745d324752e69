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
# # 6. Jacobians, and which mode to use
#
# For a function $f:\mathbb{R}^n \to \mathbb{R}^m$ the full derivative is the
# $m \times n$ **Jacobian** matrix. Forward mode and reverse mode can both
# build it, at very different prices. This notebook shows
#
# 1. why forward mode builds the Jacobian **one column per pass** (so it costs
#    about $n$ evaluations of $f$) and reverse mode **one row per sweep** (about $m$);
# 2. how `adkit.diff(f, mode="auto")` chooses between them, and how
#    `.explain(x)` tells you why;
# 3. what the modes really cost on this machine: an interactive explorer, a
#    measured heatmap and the crossover line where the two modes cost the same;
# 4. what they cost in memory.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * build a Jacobian column by column (forward mode, `jvp`) or row by row (reverse mode, `vjp`),
#   or all at once in vector mode, and say what each costs;
# * predict which mode is cheaper for a given shape $(n, m)$, and check your prediction with
#   `adkit.diff(f).explain(x)` and with measurements (`adkit.compare_modes`, the mode explorer);
# * read a measured heatmap and crossover, and say why the crossover is not the diagonal;
# * say what a full Jacobian costs in memory in each mode, and how `chunk=` bounds it.

# %%
# %matplotlib inline
import textwrap
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import adkit

np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## Columns and rows of the Jacobian
#
# Write $J = J_f(x) \in \mathbb{R}^{m\times n}$ with entries
# $J_{ij} = \partial f_i / \partial x_j$. The two modes compute products with $J$,
# never $J$ itself:
#
# * **forward mode** pushes a tangent $v \in \mathbb{R}^n$ through $f$ and gets
#   the Jacobian-vector product (JVP) $\dot y = J v$;
# * **reverse mode** pulls a cotangent $u \in \mathbb{R}^m$ back through $f$ and
#   gets the vector-Jacobian product (VJP) $\bar x^\top = u^\top J$.
#
# Seeding with a unit vector picks out one column or one row:
#
# $$
# J e_j = \begin{pmatrix} \partial f_1/\partial x_j \\ \vdots \\ \partial f_m/\partial x_j \end{pmatrix}
# \quad (\text{column } j),
# \qquad
# e_i^\top J = \left(\frac{\partial f_i}{\partial x_1}, \dots, \frac{\partial f_i}{\partial x_n}\right)
# \quad (\text{row } i).
# $$
#
# So the full Jacobian takes $n$ forward passes (one per input) or $m$ reverse
# sweeps (one per output). Each pass or sweep costs a small constant times one
# evaluation of $f$ (a few times, whatever $n$ and $m$ are), so
#
# $$
# \text{cost}_{\text{forward}}(J) \approx n \cdot c_F \cdot \text{cost}(f),
# \qquad
# \text{cost}_{\text{reverse}}(J) \approx m \cdot c_R \cdot \text{cost}(f).
# $$
#
# A gradient ($m = 1$) therefore costs a few evaluations of $f$ in reverse
# mode, however many inputs there are: the *cheap gradient principle* that
# makes training neural networks possible. In exchange, reverse mode must
# remember the whole evaluation (the tape) to walk it backwards.

# %% [markdown]
# ### A worked example
#
# Take $f:\mathbb{R}^3 \to \mathbb{R}^2$,
#
# $$
# f(x) = \begin{pmatrix} x_1 x_2 + \sin x_3 \\ x_1 x_3 + x_2^2 \end{pmatrix},
# \qquad
# J_f(x) = \begin{pmatrix} x_2 & x_1 & \cos x_3 \\ x_3 & 2 x_2 & x_1 \end{pmatrix},
# $$
#
# at $x = (1, 2, 0)$, where by hand
# $J = \begin{pmatrix} 2 & 1 & 1 \\ 0 & 4 & 1 \end{pmatrix}$.

# %%
def f(x):
    return np.stack([x[0] * x[1] + np.sin(x[2]), x[0] * x[2] + x[1] ** 2])


x = np.array([1.0, 2.0, 0.0])
J_by_hand = np.array([[x[1], x[0], np.cos(x[2])], [x[2], 2 * x[1], x[0]]])
print("f(x) =", f(x))
print("J by hand:\n", J_by_hand)

# %% [markdown]
# **Forward mode, column by column.** `adkit.jvp(f, (x,), (v,))` returns
# $f(x)$ and $J v$. With $v = e_1, e_2, e_3$ we get the three columns: three
# passes through $f$.

# %%
n = x.size
columns = []
for j in range(n):
    e_j = np.eye(n)[j]
    _, column = adkit.jvp(f, (x,), (e_j,))
    print(f"pass {j + 1}: J e_{j + 1} =", column)
    columns.append(column)
J_forward = np.stack(columns, axis=1)
print("J from", n, "forward passes:\n", J_forward)

# %% [markdown]
# **Reverse mode, row by row.** `adkit.vjp(f, x)` evaluates $f$ once on a tape
# and returns a *pullback* $u \mapsto u^\top J$; each call of the pullback is
# one backward sweep over the same tape. With $u = e_1, e_2$ we get the two
# rows: one recording and two sweeps.

# %%
out, pullback = adkit.vjp(f, x)
m = out.size
rows = []
for i in range(m):
    e_i = np.eye(m)[i]
    (row,) = pullback(e_i)  # one cotangent per argument of f: a tuple of one
    print(f"sweep {i + 1}: e_{i + 1}ᵀ J =", row)
    rows.append(row)
J_reverse = np.stack(rows, axis=0)
print("J from 1 recording and", m, "reverse sweeps:\n", J_reverse)
print("all three agree:", np.allclose(J_forward, J_by_hand) and np.allclose(J_reverse, J_by_hand))

# %% [markdown]
# **All directions at once.** Nothing forces one direction per pass: a tangent
# may carry a leading axis of $k$ directions, and then every operation in $f$
# works on $k$ tangents together (*vector mode*). Seeding with the identity
# matrix gives every column in one pass through $f$; row $j$ of the result is
# $J e_j$, so the Jacobian is its transpose. The arithmetic still grows with
# $n$, but the Python overhead of walking through $f$ is paid once.
# `adkit.jacobian(f, mode="forward")` does exactly this, and
# `mode="reverse"` does the same with all $m$ cotangents in one sweep.

# %%
_, JT = adkit.jvp(f, (x,), (np.eye(n),))
print("one vector-mode pass, seeds = identity; its transpose:\n", JT.T)
print("adkit.jacobian(f, mode='forward'):\n", adkit.jacobian(f, mode="forward")(x))
print("adkit.jacobian(f, mode='reverse'):\n", adkit.jacobian(f, mode="reverse")(x))

# %% [markdown]
# ## `mode="auto"`: letting adkit choose, and asking why
#
# The rule of thumb is *forward when $n < m$, reverse when $n > m$*. In
# practice two more things matter: the constant factors $c_F$ and $c_R$
# (reverse mode records a tape and walks it), and, for small arrays in
# Python, the fixed cost of every operation, which does not grow with $n$ or
# $m$ at all.
#
# `adkit.diff(f, mode="auto")` records $f$ once at the given input, reads off
# $n$, $m$ and the work of one evaluation (its number of operations and
# floating-point operations), and prices both modes with a cost model fitted
# on adkit's own engines:
#
# $$
# \text{cost} = t_{\text{call}} + t_{\text{op}} \cdot \text{ops} + t_{\text{flop}} \cdot \text{flops}
#   + t_{\text{dir}} \cdot k \cdot \text{flops}_{\text{linear}} + \dots,
# \qquad k = n \text{ (forward) or } m \text{ (reverse)}.
# $$
#
# `.explain(x)` returns that decision as an `adkit.ModeChoice`: the mode, the
# $n$ and $m$ it saw, the two estimated costs and a sentence saying why. Here
# are five shapes.

# %%
rng = np.random.default_rng(0)


def dense_layers(n, m, hidden=32):
    """x ↦ tanh(W₂ tanh(W₁ x)): a dense map from R^n to R^m, and a point x."""
    W1 = rng.normal(size=(hidden, n)) / np.sqrt(n)
    W2 = rng.normal(size=(m, hidden)) / np.sqrt(hidden)
    return (lambda x: np.tanh(W2 @ np.tanh(W1 @ x))), rng.normal(size=n)


a = np.linspace(-1.0, 1.0, 1000)
wide, x_wide = dense_layers(4, 512)
tall, x_tall = dense_layers(512, 4)
examples = {
    "a loss: Σ xᵢ²": (lambda x: np.sum(x**2), np.ones(1000)),
    "a curve: t ↦ sin(t a)": (lambda t: np.sin(t * a), np.array([0.5])),
    "dense layers, R^512 → R^4": (tall, x_tall),
    "dense layers, R^4 → R^512": (wide, x_wide),
    "the worked example f": (f, x),
}
choices = {name: adkit.diff(g, mode="auto").explain(x0) for name, (g, x0) in examples.items()}
for name, choice in choices.items():
    print(f"{name:27}  n = {choice.n:4}  m = {choice.m:4}  ->  {choice.mode}")

# %% [markdown]
# The first four follow the rule of thumb. The last one does not: with
# $n = 3 > m = 2$ the rule says reverse, but $f$ is so small that the fixed
# costs decide, and forward mode (no tape to record and replay) is estimated
# to be a little cheaper. The reasons say so. The estimated costs are in
# microseconds of the machine the model was fitted on; only their ratio
# matters here.

# %%
for name, choice in choices.items():
    print(f"{name}:\n    {choice.reason}")

# %% [markdown]
# A `ModeChoice` also shows itself as a small table in Jupyter, and its
# `.ratio` says how many times cheaper the chosen mode is estimated to be.

# %%
choice = choices["a loss: Σ xᵢ²"]
print(f"{choice.mode} mode, estimated {choice.ratio:.0f}x cheaper than the other")
display(choice)

# %% [markdown]
# Calling the `Derivative` itself uses the mode it chose (and remembers the
# choice for inputs of the same shape, so the probe is paid once):

# %%
d = adkit.diff(f, mode="auto")
print(d(x))
print(d)

# %% [markdown]
# ### What the model predicts
#
# The model's estimates for the dense layers $x \mapsto \tanh(W_2\tanh(W_1 x))$
# make the textbook picture: with one output, forward mode's cost grows with
# $n$ while reverse mode's stays nearly flat; with one input it is the other way
# round. For small sizes both are flat: the fixed per-call and per-operation
# costs dominate and the choice hardly matters.

# %%
sizes = 2 ** np.arange(11)
by_n = [adkit.diff(g).explain(x0) for g, x0 in (dense_layers(k, 1) for k in sizes)]
by_m = [adkit.diff(g).explain(x0) for g, x0 in (dense_layers(1, k) for k in sizes)]

fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6), sharey=True, layout="constrained")
for ax, estimates, size in ((axes[0], by_n, "n (inputs), m = 1"), (axes[1], by_m, "m (outputs), n = 1")):
    ax.loglog(sizes, [1e6 * c.cost_forward for c in estimates], "o-", color="C0", label="forward (estimate)")
    ax.loglog(sizes, [1e6 * c.cost_reverse for c in estimates], "s-", color="C3", label="reverse (estimate)")
    ax.set_xlabel(size)
    ax.grid(True, alpha=0.3)
axes[0].set_ylabel("estimated time (µs)")
axes[0].legend()
fig.suptitle("adkit's cost model for the Jacobian of dense layers")
plt.show()

# %% [markdown]
# ### A gradient that goes to forward mode, and where reverse mode takes over
#
# The survey's running example $\ln x_1 + x_1 x_2 - \sin x_2$ has one output,
# so reverse mode gets its gradient in one sweep. Yet `auto` picks forward
# mode for it. Its explanation says why: before its one sweep, reverse mode
# records the operations on a tape and afterwards walks back over them, and
# for five operations that bookkeeping costs more than carrying two tangent
# directions through one forward pass. It also says from how many inputs
# reverse mode would win (`choice.reverse_from`).

# %%
def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


choice = adkit.diff(running_example, argnums=(0, 1)).explain(2.0, 5.0)
print(textwrap.fill(choice.reason, 90))
print(f"\nreverse_from = {choice.reverse_from}")

# %% [markdown]
# To see that crossover, give the example more inputs. Chained along a vector,
#
# $$f_n(x) = \sum_{i=1}^{n-1} \ln x_i + x_i x_{i+1} - \sin x_{i+1},$$
#
# is the running example at $n = 2$ and, written with NumPy, has the same eight
# operations at every $n$ (the work in each grows with $n$). The cost model's
# pick at each $n$ from 2 to 1024:


# %%
def running_family(n):
    """f_n and a point: the running example chained along n inputs, one output."""

    def f_n(x):
        a, b = x[:-1], x[1:]
        return np.sum(np.log(a) + a * b - np.sin(b))

    return f_n, np.linspace(1.0, 2.0, n)


f_2, _ = running_family(2)
print(f"f_2(2, 5) = {f_2(np.array([2.0, 5.0])):.6g}   (the running example: ln 2 + 10 - sin 5)")
picks = {n: adkit.diff(g).explain(x0).mode for n, (g, x0) in ((n, running_family(n)) for n in range(2, 1025))}
model_crossover = min(n for n, mode in picks.items() if mode == "reverse")
print(f"the model: forward mode up to n = {model_crossover - 1}, reverse mode from n = {model_crossover} on")
switches_once = all((mode == "reverse") == (n >= model_crossover) for n, mode in picks.items())
print("and it never switches back:", switches_once)

# %% [markdown]
# And measured on this machine: the full gradient in each mode for $n$ from 2
# to 1024 (median of five runs; the numbers below are this run's, they vary).

# %% tags=["nbval-ignore-output"]
ns = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
measured = adkit.compare_modes(running_family, ns=ns, repeats=5, methods=("forward", "reverse"), memory=False)
winners = {n: measured.winner(n, 1)[0] for n in ns}
measured_crossover = min((n for n in ns if winners[n] == "reverse"), default=None)
print("faster mode:", ", ".join(f"n = {n}: {mode}" for n, mode in winners.items()))
print(f"measured: reverse mode faster from n = {measured_crossover} on (among these n)")

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for method, color, marker in (("forward", "C0", "o"), ("reverse", "C3", "s")):
    rows = [r for r in measured.records if r["method"] == method]
    ax.loglog(ns, [1e6 * r["time"] for r in rows], marker + "-", color=color, label=f"{method}, measured")
    ax.loglog(ns, [1e6 * r["estimate"] for r in rows], ":", color=color, label=f"{method}, cost model")
ax.axvline(model_crossover, color="0.3", ls="--", lw=1, label=f"the model's crossover, n = {model_crossover}")
ax.set_xlabel("n (inputs), m = 1")
ax.set_ylabel("time for the gradient (µs)")
ax.set_title("the running example chained along n inputs: forward or reverse?")
ax.legend(fontsize=8)
ax.grid(True, alpha=0.3)
plt.show()

# %% [markdown]
# Below the crossover both modes cost about the same fixed amount (Python's
# per-call and per-operation overhead), and reverse mode's is a little larger:
# it records a tape and sweeps it back. Above it, forward mode's cost grows
# with every input it carries a direction for, while reverse mode's one sweep
# hardly grows: the cheap gradient principle, once the function has enough
# inputs for it to matter. The model was fitted on another machine; the
# measured crossover above is this machine's, and the dotted lines show how
# far the model's estimates are from its times.

# %% [markdown]
# ## Measuring: the mode explorer
#
# Estimates are one thing; a stopwatch is another. `adkit.widgets.ModeExplorer`
# measures the full Jacobian of the dense layers at the $(n, m)$ chosen with
# two sliders (powers of two), with every method ticked: forward mode in
# vector mode and with $n$ separate passes, reverse mode vectorized and with
# $m$ separate sweeps, central finite differences, and `auto`. The left panel
# shows the median times (with the model's estimate as a tick); the right
# panel the $(n, m)$ plane, the shapes measured so far, and where `auto`
# switches from forward to reverse.
#
# Move the sliders in a live notebook (each change measures again; it takes
# a second or two at the largest sizes). Below the widget is a static copy of
# its first picture, for readers of the stored notebook or the docs. The
# timings are of the machine that ran the notebook last.

# %% tags=["nbval-ignore-output"]
explorer = adkit.widgets.ModeExplorer(family="dense", n=64, m=4, repeats=3)
display(explorer)

# %% tags=["nbval-ignore-output"]
display(explorer.figure)  # the same picture, as a static figure

# %% [markdown]
# Things to try: slide $n$ to 1024 with $m = 1$ (a gradient: reverse mode wins
# by a wide margin); slide $m$ to 1024 with $n = 1$ (forward wins); compare
# "forward (n passes)" with "forward (vector mode)" at large $n$ to see what
# carrying all directions at once saves; and see how far central differences
# fall behind.

# %% [markdown]
# ## The measured heatmap
#
# `adkit.compare_modes("dense", ns=..., ms=...)` measures the full Jacobian on
# a grid of shapes, for the methods you ask for, and keeps the median of
# `repeats` runs. Here: forward and reverse mode (both vectorized) and `auto`,
# for $n$ and $m$ from 1 to 1024 (a few seconds). The result holds one record
# per shape and method (`.records`, a list of dicts); displayed on its own it
# is a table, `.to_markdown()` gives the same as text, and `.winner(n, m)` says
# which of forward and reverse was faster at a shape, and by what factor.

# %% tags=["nbval-ignore-output"]
sizes = (1, 4, 16, 64, 256, 1024)
comparison = adkit.compare_modes("dense", ns=sizes, ms=sizes, repeats=5,
                                 methods=("forward", "reverse", "auto"), memory=False)
print(comparison)
for shape in ((1024, 1), (1, 1024), (1024, 1024), (4, 4)):
    mode, factor = comparison.winner(*shape)
    print(f"(n, m) = {shape}: {mode} mode faster, by {factor:.2g}x")

# %% [markdown]
# The heatmap colours each shape by the ratio of the two times (blue: forward
# is faster, red: reverse is faster) and writes the winner and its factor,
# with `auto`'s pick below; a cell is outlined when `auto` picked the slower
# mode by more than 1.2x.

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
comparison.plot("heatmap", ax=ax)
plt.show()

# %% [markdown]
# The crossover plot shows the same measurements in the $(n, m)$ plane: the
# solid line is where forward and reverse measured the same, the dashed line
# is `auto`'s decision boundary (where the cost model's two estimates are
# equal), and the shading is `auto`'s pick.

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
comparison.plot("crossover", ax=ax)
plt.show()

# %% [markdown]
# ## What the measurements teach
#
# The numbers differ from machine to machine and from run to run, but the
# picture does not:
#
# * **Far from the diagonal the rule of thumb holds, by large factors.** With
#   many inputs and few outputs (bottom right: gradients and "tall" maps)
#   reverse mode wins by a factor of ten or more at $n = 1024$; with few
#   inputs and many outputs (top left) forward mode wins by as much.
# * **For small problems the mode hardly matters.** Below a few dozen inputs
#   and outputs both modes take about the same time, set by the fixed cost of
#   every operation in Python, not by $n$ or $m$. There, which mode wins a
#   given run is largely noise.
# * **The crossover is not the diagonal $n = m$.** Reverse mode pays a fixed
#   extra for its tape, so with a few outputs forward mode stays competitive
#   up to a few dozen inputs: the boundary bends away from $n = m$ at small
#   sizes (the model figure above shows the same bend).
# * **`auto`'s boundary follows the measured one.** It comes from a model,
#   not from timing your function, so near the line it can pick the slower
#   mode, but only where the two cost about the same; far from the line it
#   picks the right one.
#
# In short: for a gradient of a function of many variables use reverse mode,
# for the derivative of a curve (one input) use forward mode, and for
# anything in between ask `adkit.diff(f).explain(x)`, or measure with
# `adkit.compare_modes`.

# %% [markdown]
# ## What the modes cost in memory
#
# With `memory=True` (the default), `compare_modes` also records the peak
# memory of one run of each method (`tracemalloc`: what NumPy and Python
# allocate during the call; tracing every allocation is slow, hence the
# smaller grid). For the dense layers, with one output and with one input
# (the runs are timed too, so nbval does not compare this cell; the facts it
# shows are checked in the next one):

# %% tags=["nbval-ignore-output"]
with_one_output = adkit.compare_modes("dense", ns=sizes, ms=(1,), repeats=1,
                                      methods=("forward", "reverse"), memory=True)
with_one_input = adkit.compare_modes("dense", ns=(1,), ms=sizes, repeats=1,
                                     methods=("forward", "reverse"), memory=True)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
with_one_output.plot("curves", ax=left, m=1, quantity="memory")
with_one_input.plot("curves", ax=right, n=1, against="m", quantity="memory")
plt.show()

# %% [markdown]
# In vector mode, memory follows the number of directions carried at once:
# forward mode's grows with $n$, every intermediate carrying $n$ tangents,
# and at large $n$ like $n^2$, since its seed alone is the $n \times n$
# identity; reverse mode's grows in the same way with $m$, the number of
# cotangents. The tape itself is small here, because the function is
# only two layers deep; a tape's cost shows with depth, as notebook 4
# measured (one array per layer for a gradient, nothing for a forward pass).
# Memory does not depend on the machine's speed, so these facts are checked:

# %%
memory = {(r["n"], r["m"], r["method"]): r["memory"]
          for r in with_one_output.records + with_one_input.records}
for n, m in ((1024, 1), (1, 1024)):
    forward, reverse = memory[n, m, "forward"], memory[n, m, "reverse"]
    more, less = ("forward", "reverse") if forward > reverse else ("reverse", "forward")
    print(f"(n, m) = ({n}, {m}): {more} mode needs more than 100 times the memory of {less} mode:",
          max(forward, reverse) > 100 * min(forward, reverse))

# %% [markdown]
# When a Jacobian is too large to carry all its directions at once,
# `adkit.jacobian(f, mode=..., chunk=k)` carries $k$ at a time: less memory,
# more passes (exercise 3).
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: predict the faster mode, then move the sliders
#
# For the dense layers at $(n, m) = (512, 2)$, $(2, 512)$ and $(1, 1)$, write down which mode
# you expect to be cheaper for the full Jacobian, and why. Then ask the cost model
# (`adkit.diff(g).explain(x).mode`, with `g, x = dense_layers(n, m)`), and move the explorer's
# sliders to the same shapes to see the measured times.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
predictions = {(512, 2): "reverse", (2, 512): "forward"}  # 2 sweeps against 512 passes, and back
for (n, m), expected in predictions.items():
    g, x0 = dense_layers(n, m)
    assert adkit.diff(g).explain(x0).mode == expected, (n, m)
# (1, 1): one pass either way, and forward mode has no tape to record, so the model picks it
g, x0 = dense_layers(1, 1)
assert adkit.diff(g).explain(x0).mode == "forward"
print("the model agrees: (512, 2) reverse, (2, 512) forward, (1, 1) forward")

# %% [markdown]
# ### Exercise 2: a row and a column
#
# For the worked example $f$ at $x = (1, 2, 0)$, get the second row of $J$ with one reverse sweep
# (`adkit.vjp`) and the third column with one forward pass (`adkit.jvp`), and check both against
# `J_by_hand`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
_, pullback = adkit.vjp(f, x)
(row_2,) = pullback(np.array([0.0, 1.0]))
_, column_3 = adkit.jvp(f, (x,), (np.array([0.0, 0.0, 1.0]),))
assert np.array_equal(row_2, J_by_hand[1]) and np.array_equal(column_3, J_by_hand[:, 2])
print("row 2:", row_2, "  column 3:", column_3)

# %% [markdown]
# ### Exercise 3: chunks bound the memory
#
# For the dense layers with $n = 1024$ inputs and one output, measure the peak memory of
# `adkit.jacobian(g, mode="forward")` and of the same with `chunk=64`, with `tracemalloc`
# (start it, `reset_peak()`, run, read `get_traced_memory()[1]`), and check that both give the
# same Jacobian.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def peak_bytes(run):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = run()
        return tracemalloc.get_traced_memory()[1] - base, result
    finally:
        tracemalloc.stop()


g, x0 = dense_layers(1024, 1)
whole, J_whole = peak_bytes(lambda: adkit.jacobian(g, mode="forward")(x0))
chunked, J_chunked = peak_bytes(lambda: adkit.jacobian(g, mode="forward", chunk=64)(x0))
assert np.allclose(J_whole, J_chunked, rtol=1e-14, atol=1e-14)
assert chunked < whole / 4
print("64 directions at a time need less than a quarter of the memory of all 1024 at once")
