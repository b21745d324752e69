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
# # A ten-minute tour of adkit
#
# adkit differentiates ordinary NumPy code exactly (to floating point), in
# **forward mode** (dual numbers) or **reverse mode** (a tape), picks the
# cheaper mode when asked and says why, and shows the computation: its
# evaluation trace, its graph, and measured costs of the modes.
#
# Everything below uses one function, the running example of Baydin et al.
# (2018), *Automatic differentiation in machine learning: a survey*:
#
# $$f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2 \quad\text{at}\quad (x_1, x_2) = (2, 5).$$
#
# By hand: $y = \ln 2 + 10 - \sin 5 \approx 11.652$,
# $\partial y/\partial x_1 = 1/x_1 + x_2 = 5.5$ and
# $\partial y/\partial x_2 = x_1 - \cos x_2 \approx 1.716$.
# The tutorials that follow take each idea slowly; this notebook shows them all at once.

# %% [markdown]
# ## Learning objectives
#
# After this tour you can
#
# * differentiate a NumPy function with adkit in forward mode (`Dual`, `jvp`) and reverse mode
#   (`grad`, `Var` and `backward()`), and ask it to choose (`diff(f, mode="auto")`, `.explain`);
# * read an evaluation trace and a computational graph of a small function;
# * get a Jacobian, of JAX's shape `f(x).shape + x.shape`, and measure what the modes cost;
# * find the tutorial that takes each idea further.

# %%
# %matplotlib inline
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import adkit

np.set_printoptions(precision=6, suppress=True)
rng = np.random.default_rng(0)


def f(x1, x2):
    """The running example, written with plain NumPy."""
    return np.log(x1) + x1 * x2 - np.sin(x2)


print(f"y = f(2, 5) = {f(2.0, 5.0):.3f}")

# %% [markdown]
# ## 1. Forward mode: dual numbers carry a tangent
#
# A dual number $a + b\,\varepsilon$ with $\varepsilon^2 = 0$ carries a value
# and a tangent. Feeding $x_1 = 2 + 1\varepsilon$ through $f$ gives
# $f(2, 5) + \frac{\partial f}{\partial x_1}\varepsilon$: one forward pass,
# one directional derivative.

# %%
out = f(adkit.Dual(2.0, 1.0), 5.0)
print(out)
print(f"value {out.value:.3f}, tangent dy/dx1 = {out.tangent:.3f}")

# %% [markdown]
# `adkit.jvp` does the same for any function: primals and tangents are tuples,
# one entry per argument.

# %%
y, dy = adkit.jvp(f, (2.0, 5.0), (0.0, 1.0))  # the direction e2 gives dy/dx2
print(f"y = {y:.3f}, dy/dx2 = {dy:.3f}")

# %% [markdown]
# ## 2. Reverse mode: a tape, swept backwards
#
# Reverse mode records the evaluation on a tape (a Wengert list) and sweeps it
# once from the output back, giving every partial derivative of a scalar
# output in one sweep. `adkit.grad` is reverse mode; `argnums=(0, 1)` asks for
# both arguments.

# %%
dx1, dx2 = adkit.grad(f, argnums=(0, 1))(2.0, 5.0)
print(f"dy/dx1 = {dx1:.3f}, dy/dx2 = {dx2:.3f}")

# %% [markdown]
# The same in PyTorch's imperative style: `Var` leaves, `.backward()`, `.grad`.
# (`.grad` accumulates over `backward()` calls, as in PyTorch: `zero_grad()`
# resets it. Here the leaves are fresh each time the cell runs.)

# %%
x1, x2 = adkit.Var(2.0), adkit.Var(5.0)
y = f(x1, x2)
y.backward()
print(f"x1.grad = {x1.grad:.3f}, x2.grad = {x2.grad:.3f}")

# %% [markdown]
# ## 3. Auto mode, and why
#
# `adkit.diff(f, mode="auto")` prices both modes from one recorded evaluation
# (n inputs, m outputs, operations, flops) and runs the cheaper one.
# `.explain` says what it saw and why it chose.

# %%
d = adkit.diff(f, mode="auto", argnums=(0, 1))
dx1, dx2 = d(2.0, 5.0)
print(f"auto: dy/dx1 = {dx1:.3f}, dy/dx2 = {dx2:.3f}")
choice = d.explain(2.0, 5.0)
print(f"chose {choice.mode} mode for n = {choice.n}, m = {choice.m}")
print(textwrap.fill(choice.reason, 90))

# %% [markdown]
# Forward mode, for a gradient? Section 2 said reverse mode gets both partials
# in one sweep, and it does; but before that sweep it records the five
# operations on a tape, and afterwards it walks back over them. For a function
# this small, that bookkeeping costs more than carrying two tangent directions
# through one forward pass, which vector mode does at once. Reverse mode pays
# off with more inputs: the last sentence of the reason says from how many
# (`choice.reverse_from`), by the cost model, and notebook 6 measures where
# the crossover really is.
#
# The choice follows the shape of the problem: a loss of 1,000 parameters
# (n = 1000, m = 1) goes to reverse mode, a curve of 1,000 points from one
# parameter (n = 1, m = 1000) to forward mode.

# %%
t_grid = np.linspace(0.0, 1.0, 1000)
for name, g, x in [
    ("loss  R^1000 -> R", lambda w: np.sum(w**2), np.ones(1000)),
    ("curve R -> R^1000", lambda s: np.sin(s * t_grid), 1.0),
]:
    c = adkit.diff(g).explain(x)
    print(f"{name}: {c.mode:7} mode, about {c.ratio:.0f}x cheaper by the cost model")

# %% [markdown]
# Modes give the same numbers; only their cost differs. Jacobians have JAX's
# shape, `f(x).shape + x.shape`:

# %%
W = rng.normal(size=(3, 2))


def layer(x):
    return np.tanh(W @ x)


x = np.array([1.0, -1.0])
J_forward = adkit.jacobian(layer, mode="forward")(x)
J_reverse = adkit.jacobian(layer, mode="reverse")(x)
print("shape", J_forward.shape, "; forward == reverse:", np.allclose(J_forward, J_reverse))
print(J_forward)

# %% [markdown]
# ## 4. The evaluation trace
#
# `adkit.trace` lists every intermediate variable $v_i$ with its definition,
# its primal value, its tangent (forward mode, along $\dot x = (1, 0)$) and
# its adjoint (reverse mode, from $\bar y = 1$): Tables 2 and 3 of the survey
# in one. The input rows' tangent and adjoint columns are the two derivatives.

# %%
trace = adkit.trace(f, 2.0, 5.0)
print(trace)

# %%
print(
    f"y = {trace['y'].value:.3f}: tangent of y = {trace['y'].tangent:.3f} (dy/dx1), "
    f"adjoints of x1, x2 = {trace['v-1'].adjoint:.3f}, {trace['v0'].adjoint:.3f}"
)

# %% [markdown]
# ## 5. The computational graph
#
# `adkit.graph` gives the same evaluation as a graph (`.nx` is a networkx
# `DiGraph`). `.draw` labels each node with its value and adjoint and each
# edge with its local partial derivative $\partial v_j / \partial v_i$;
# reverse mode multiplies these along the dashed arrows.

# %%
graph = adkit.graph(f, 2.0, 5.0)
print(graph)
print("edges:", [(graph.nx.nodes[u]["name"], graph.nx.nodes[v]["name"]) for u, v in graph.nx.edges])

# %%
ax = graph.draw(show=("value", "adjoint", "partial"))
ax.set_title("f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5): values, adjoints, partials")
plt.show()

# %% [markdown]
# ## 6. What the modes cost, measured
#
# For $f: \mathbb{R}^n \to \mathbb{R}^m$ the full Jacobian takes n tangent
# directions in forward mode and m cotangents in reverse mode.
# `adkit.compare_modes` measures it on two dense layers
# $x \mapsto \tanh(W_2 \tanh(W_1 x))$ over a grid of (n, m). Timings differ
# between machines and runs, so the next cell's output is not checked by the
# tests; the cell after it prints only what does not depend on timing.

# %% tags=["nbval-ignore-output"]
sizes = [1, 8, 64, 512]
methods = ("forward", "reverse", "auto")
comparison = adkit.compare_modes("dense", ns=sizes, ms=sizes, methods=methods, repeats=3)
comparison.plot("heatmap")

# %% [markdown]
# Blue cells: forward mode was faster, red: reverse mode, by the factor written
# in the cell. Each cell also says what `mode="auto"` chose there. The modes
# give the same Jacobian, and `auto` decides from its cost model, not from the
# clock, so its choices are the same on every machine:

# %%
records = comparison.records
print(f"{len(comparison.shapes)} shapes x {len(comparison.methods)} methods = {len(records)} measurements")
error = max(r["error"] for r in records)
print(f"forward, reverse and auto give the same Jacobians (to 1e-10): {error < 1e-10}")
chosen = {(r["n"], r["m"]): r["chosen"][0].upper() for r in records if r["method"] == "auto"}
ns = sorted({n for n, _ in chosen})
print("auto's choice (F forward, R reverse); rows m, columns n =", ns)
for m in sorted({m for _, m in chosen}, reverse=True):
    print(f"  m = {m:3}: " + "  ".join(chosen[n, m] for n in ns))

# %% [markdown]
# ## 7. A widget to explore it
#
# `adkit.widgets.ModeExplorer` puts sliders on n and m and measures again when
# they move. In a live notebook the widget is interactive; where widgets cannot
# run (this page as HTML), the static figure below it shows the same picture.

# %%
explorer = adkit.widgets.ModeExplorer(n=16, m=4, methods=("forward", "reverse"), repeats=3)
display(explorer)

# %%
explorer.draw()  # the widget's current picture, as a static figure

# %% [markdown]
# ## Where next
#
# The numbered tutorials take each part slowly:
#
# 1. Why automatic differentiation? (against finite differences and symbolic differentiation)
# 2. Dual numbers
# 3. Forward mode (and 3b, *build it yourself*: forward and reverse mode in under a hundred lines,
#    and the ways to implement AD)
# 4. Reverse mode: one sweep back gives the whole gradient, and what it costs in time and memory
# 5. Computational graphs: seeing both sweeps
# 6. Jacobians, and which mode to use
# 7. Reverse mode on matrices
# 8. adkit and PyTorch side by side
# 9. Higher-order derivatives, and where AD goes wrong
# 10. Source transformation: the derivative as generated code (`adkit.compile`)
# 11. Beyond the two pure modes: sparse Jacobians, vertex elimination and checkpointing
#
# Every tutorial ends with exercises. These are the tour's.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: your own function
#
# For $g(x, y) = x^2 y + y^3$, compute the gradient at $(1, 2)$ by hand, then with
# `adkit.grad(g, argnums=(0, 1))` and with `Var` leaves and `backward()`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def g(x, y):
    return x**2 * y + y**3


by_hand = (2 * 1.0 * 2.0, 1.0**2 + 3 * 2.0**2)  # (2xy, x² + 3y²) = (4, 13)
assert adkit.grad(g, argnums=(0, 1))(1.0, 2.0) == by_hand
x, y = adkit.Var(1.0), adkit.Var(2.0)
g(x, y).backward()
assert (x.grad, y.grad) == by_hand
print("gradient of g at (1, 2):", by_hand)

# %% [markdown]
# ### Exercise 2: read the trace
#
# In the trace of section 4, one variable has adjoint $-1$. Which one, and why, from the
# definitions alone? Check your answer on `trace`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
# v3 = sin(v0) enters the output as y = v5 = v4 - v3, so ∂y/∂v3 = -1
minus_one = [row.name for row in trace.rows if row.adjoint == -1]
assert minus_one == ["v3"] and trace["v3"].definition == "sin(v0)"
assert trace["v5"].definition == "v4 - v3"
print("v3 = sin(v0), and y = v4 - v3: its adjoint is -1")

# %% [markdown]
# ### Exercise 3: shapes
#
# Predict the shape of the Jacobian of $h(M) = M v$, a map from $2 \times 2$ matrices $M$ to
# vectors of 2 (with $v$ fixed), then check with `adkit.jacobian`. Which entry is
# $\partial h_0 / \partial M_{01}$, and what is its value?

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
v = np.array([3.0, -1.0])
J = adkit.jacobian(lambda M: M @ v)(np.eye(2))
assert J.shape == (2,) + (2, 2)  # f(x).shape + x.shape
assert J[0, 0, 1] == v[1]  # h_0 = M_00 v_0 + M_01 v_1, so ∂h_0/∂M_01 = v_1
print("shape", J.shape, "; ∂h0/∂M01 =", J[0, 0, 1])
