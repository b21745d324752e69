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
# # 3. Forward mode
#
# A program computes its output through a sequence of intermediate variables
# $v_1, v_2, \dots$, each one elementary operation (a sum, a product, a sine) applied to earlier
# ones. **Forward-mode AD** attaches to every variable $v_i$ a **tangent**
#
# $$\dot v_i = \frac{\partial v_i}{\partial x}\,\dot x,$$
#
# the rate at which $v_i$ changes when the input moves in the direction $\dot x$ (the **seed**).
# Tangents are computed in the same order as the values, each from the tangents of its operands
# by one rule of calculus. At the end, $\dot y = J_f(x)\,\dot x$: the directional derivative of
# $f$ along $\dot x$, and, for a basis seed $\dot x = e_j$, the $j$-th column of the Jacobian.
# Evaluating the program on the dual numbers of notebook 2, $x + \dot x\,\varepsilon$, does
# exactly this.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * write the tangent trace of a program line by line, and fill in its table by hand;
# * compute a Jacobian-vector product with `adkit.jvp`, and a Jacobian column by column with
#   basis seeds, or all columns in one pass (vector mode, `adkit.jacobian(f, mode="forward")`);
# * say why forward mode's cost grows with the number of inputs.

# %%
# %matplotlib inline
import timeit

import matplotlib.pyplot as plt
import numpy as np

import adkit

np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## Step by step: $f(x, y) = (x + y)(x - y)$
#
# The program has three intermediate variables. Next to each, its tangent rule:
#
# | primal | tangent |
# |---|---|
# | $v_1 = x + y$ | $\dot v_1 = \dot x + \dot y$ |
# | $v_2 = x - y$ | $\dot v_2 = \dot x - \dot y$ |
# | $v_3 = v_1 v_2$ | $\dot v_3 = \dot v_1 v_2 + v_1 \dot v_2$ |
#
# With the seed $(\dot x, \dot y) = (1, 0)$ ("move $x$ only"):
# $\dot v_3 = 1 \cdot (x - y) + (x + y) \cdot 1 = 2x = \partial f / \partial x$.
# With $(0, 1)$: $\dot v_3 = 1 \cdot (x - y) + (x + y)(-1) = -2y = \partial f / \partial y$.
# Indeed $f = x^2 - y^2$. By hand, in plain Python, at $(x, y) = (3, 2)$:

# %%
x, y = 3.0, 2.0
for x_dot, y_dot in [(1.0, 0.0), (0.0, 1.0)]:
    v1, v1_dot = x + y, x_dot + y_dot
    v2, v2_dot = x - y, x_dot - y_dot
    v3, v3_dot = v1 * v2, v1_dot * v2 + v1 * v2_dot
    print(f"seed ({x_dot:g}, {y_dot:g}):  v1 = {v1:g}, v1_dot = {v1_dot:g};  "
          f"v2 = {v2:g}, v2_dot = {v2_dot:g};  v3 = {v3:g}, v3_dot = {v3_dot:g}")
print(f"(2x, -2y) = ({2 * x:g}, {-2 * y:g})")

# %% [markdown]
# The same computation on dual numbers, $x = 3 + 1\varepsilon$ and $y = 2 + 0\varepsilon$: the
# dual part of the result is $\dot v_3$.

# %%
def f(x, y):
    return (x + y) * (x - y)


out = f(adkit.Dual(3.0, 1.0), adkit.Dual(2.0, 0.0))
print(f"f(3 + ε, 2) = {out.real:g} + {out.dual:g} ε")

# %% [markdown]
# `adkit.trace` records the program and prints this table for us: each variable with its
# definition, its value (*primal*) and its *tangent* along `seed`. (The *adjoint* column is
# reverse mode, the subject of notebook 4; ignore it for now.) The inputs are numbered
# $v_{-1}, v_0$, so that the intermediate variables start at $v_1$.

# %%
print(adkit.trace(f, 3.0, 2.0, seed=(1.0, 0.0)))

# %% [markdown]
# ## The textbook example
#
# Baydin et al. (2018), *Automatic differentiation in machine learning: a survey*, use
#
# $$y = f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2$$
#
# at $(x_1, x_2) = (2, 5)$, with the seed $(\dot x_1, \dot x_2) = (1, 0)$ to get
# $\partial y / \partial x_1$. The forward primal trace and the forward tangent trace:
#
# | forward primal trace | | forward tangent trace | |
# |---|---:|---|---:|
# | $v_{-1} = x_1$ | $2$ | $\dot v_{-1} = \dot x_1$ | $1$ |
# | $v_0 = x_2$ | $5$ | $\dot v_0 = \dot x_2$ | $0$ |
# | $v_1 = \ln v_{-1}$ | $0.693$ | $\dot v_1 = \dot v_{-1} / v_{-1}$ | $1/2 = 0.5$ |
# | $v_2 = v_{-1} v_0$ | $10$ | $\dot v_2 = \dot v_{-1} v_0 + v_{-1} \dot v_0$ | $1 \cdot 5 + 2 \cdot 0 = 5$ |
# | $v_3 = \sin v_0$ | $-0.959$ | $\dot v_3 = \dot v_0 \cos v_0$ | $0 \cdot \cos 5 = 0$ |
# | $v_4 = v_1 + v_2$ | $10.693$ | $\dot v_4 = \dot v_1 + \dot v_2$ | $0.5 + 5 = 5.5$ |
# | $v_5 = v_4 - v_3$ | $11.652$ | $\dot v_5 = \dot v_4 - \dot v_3$ | $5.5 - 0 = 5.5$ |
# | $y = v_5$ | $11.652$ | $\dot y = \dot v_5$ | $5.5$ |
#
# So $\partial y / \partial x_1 = 5.5$, which is $1/x_1 + x_2$. adkit's trace of the same
# evaluation:

# %%
def f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


trace = adkit.trace(f, 2.0, 5.0, seed=(1.0, 0.0))
print(trace)

# %% [markdown]
# The computational graph shows the same numbers flowing forward. Each edge carries the local
# partial derivative $\partial v_j / \partial v_i$, and each tangent is the sum over the incoming
# edges of (partial $\times$ tangent at the tail): $\dot v_2 = 5 \times 1 + 2 \times 0 = 5$.

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
adkit.graph(f, 2.0, 5.0, seed=(1.0, 0.0)).draw(ax=ax, show=("value", "tangent", "partial"))
plt.show()

# %% [markdown]
# Without the table, `adkit.jvp(f, primals, tangents)` (a *Jacobian-vector product*) returns the
# value and the output tangent. Each seed gives one directional derivative; the seed $(0, 1)$
# gives $\partial y / \partial x_2 = x_1 - \cos x_2$, and any other direction a combination of the
# two:

# %%
for seed in [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]:
    y, y_dot = adkit.jvp(f, (2.0, 5.0), seed)
    print(f"seed {seed}:  y = {y:.6g},  y_dot = {y_dot:.6g}")
print(f"by hand: ∂y/∂x1 = 1/x1 + x2 = {1 / 2 + 5:.6g},  ∂y/∂x2 = x1 - cos x2 = {2 - np.cos(5.0):.6g}")

# %% [markdown]
# ## Jacobians, one column per basis seed
#
# For $F: \mathbb{R}^n \to \mathbb{R}^m$ the Jacobian $J$ is the $m \times n$ matrix of partial
# derivatives $J_{ij} = \partial F_i / \partial x_j$. Seeding with the $j$-th basis vector $e_j$
# gives $J e_j$, **the $j$-th column**: how all the outputs move when input $j$ moves. So $n$
# forward passes give the whole Jacobian.
#
# Take $F: \mathbb{R}^2 \to \mathbb{R}^3$, $F(r, \theta) = (r \cos\theta,\; r \sin\theta,\; r^2)$,
# which wraps the plane onto the paraboloid $z = x^2 + y^2$. By hand,
#
# $$J = \begin{pmatrix} \cos\theta & -r \sin\theta \\ \sin\theta & r \cos\theta \\ 2r & 0 \end{pmatrix}.$$
#
# At $(r, \theta) = (1.5, 0.5)$, one `jvp` per column:

# %%
def F(x):
    r, theta = x
    return np.stack([r * np.cos(theta), r * np.sin(theta), r**2])


x0 = np.array([1.5, 0.5])
columns = []
for j, e in enumerate(np.eye(2)):
    _, column = adkit.jvp(F, (x0,), (e,))
    print(f"seed e{j + 1} = {e}  ->  column {j + 1} = {column}")
    columns.append(column)
J = np.stack(columns, axis=1)
print("J from two passes:\n", J)

# %% [markdown]
# `adkit.jacobian(F, mode="forward")` does the same for us, and both agree with the formula:

# %%
r, theta = x0
J_hand = np.array([[np.cos(theta), -r * np.sin(theta)],
                   [np.sin(theta), r * np.cos(theta)],
                   [2 * r, 0.0]])
J_adkit = adkit.jacobian(F, mode="forward")(x0)
print(J_adkit)
print("agrees with the columns:", np.allclose(J_adkit, J))
print("agrees with the formula:", np.allclose(J_adkit, J_hand))

# %% [markdown]
# In a picture: the columns are the velocities of the two curves through $F(1.5, 0.5)$ on the
# surface, the one traced as $r$ grows (column 1, up the paraboloid) and the one traced as
# $\theta$ grows (column 2, around it).

# %%
P = F(x0)
fig = plt.figure(figsize=(7, 4.5), layout="constrained")
ax = fig.add_subplot(projection="3d")
rr, tt = np.meshgrid(np.linspace(0, 2, 21), np.linspace(0, 2 * np.pi, 41))
ax.plot_wireframe(rr * np.cos(tt), rr * np.sin(tt), rr**2, color="0.8", lw=0.5)
rs, ts = np.linspace(0, 2, 50), np.linspace(0, 2 * np.pi, 100)
ax.plot(rs * np.cos(theta), rs * np.sin(theta), rs**2, color="C0", lw=1.5,
        label=r"$r$ varies ($\theta = 0.5$)")
ax.plot(r * np.cos(ts), r * np.sin(ts), np.full_like(ts, r**2), color="C1", lw=1.5,
        label=r"$\theta$ varies ($r = 1.5$)")
for j, color in enumerate(["C0", "C1"]):
    ax.quiver(*P, *(0.8 * J[:, j]), color=color, lw=2.5, arrow_length_ratio=0.2,
              label=f"column {j + 1} of $J$ (scaled by 0.8)")
ax.scatter(*P, color="k", s=20)
ax.set(xlabel="$F_1$", ylabel="$F_2$", zlabel="$F_3$", xticks=[-2, 0, 2], yticks=[-2, 0, 2], zticks=[0, 2, 4])
ax.view_init(elev=22, azim=-30)
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# ## Vector mode: all the columns in one pass
#
# Nothing forces the tangent to be a single direction. Give it a leading axis of $k$ directions
# (shape `(k,) + x.shape`) and every tangent rule is applied to all $k$ at once; the dual part in
# notebook 2's teaser was such a vector. Stack the $n$ basis vectors, that is, seed with the
# identity matrix, and one pass returns all of $J e_1, \dots, J e_n$. The output tangent has shape
# `(n,) + F(x).shape`: row $j$ is column $j$ of $J$, so $J$ is its transpose.

# %%
out, tangents = adkit.jvp(F, (x0,), (np.eye(2),))
print("tangent in: ", np.eye(2).shape, "  tangent out:", tangents.shape)
print("J = tangent out, transposed:\n", tangents.T)
print("same as before:", np.allclose(tangents.T, J_adkit))

# %% [markdown]
# The same by hand with a dual number whose dual part is the identity matrix:

# %%
print(F(adkit.Dual(x0, np.eye(2))).dual.T)

# %% [markdown]
# ## What it costs
#
# Each tangent rule costs a few arithmetic operations more than the operation itself (the
# product $v_1 v_2$ adds $\dot v_1 v_2 + v_1 \dot v_2$), so **one forward pass, one directional
# derivative $J\dot x$, costs a small constant times one evaluation of $f$.** The full Jacobian of
# $f: \mathbb{R}^n \to \mathbb{R}^m$ takes $n$ of them, however large or small $m$ is:
#
# * $n$ separate passes repeat everything $n$ times: the primal values, looking up each rule,
#   and (in Python) interpreting the program;
# * one pass carrying $n$ directions does the same tangent arithmetic, but the rest only once.
#   That is what `adkit.jacobian(f, mode="forward")` does (its `chunk=` argument bounds how many
#   directions travel together, and with them the memory).
#
# A measurement for $g(x) = \tanh(W \sin x)$ with $W$ of shape $3 \times n$, so $g:
# \mathbb{R}^n \to \mathbb{R}^3$ (times in microseconds, best of 5; they vary from machine to
# machine, which is why nbval does not check this cell):

# %% tags=["nbval-ignore-output"]
rng = np.random.default_rng(0)


def best_time(fn):
    """Best of 5 runs, in microseconds."""
    return 1e6 * min(timeit.repeat(fn, number=1, repeat=5))


def timings(n):
    W = rng.standard_normal((3, n)) / np.sqrt(n)
    x = rng.standard_normal(n)
    E = np.eye(n)  # the n basis seeds

    def g(x):
        return np.tanh(W @ np.sin(x))

    return [best_time(lambda: g(x)),
            best_time(lambda: adkit.jvp(g, (x,), (E[0],))),
            best_time(lambda: [adkit.jvp(g, (x,), (e,)) for e in E]),
            best_time(lambda: adkit.jvp(g, (x,), (E,))),
            best_time(lambda: adkit.jacobian(g, mode="forward")(x))]


lines = ["    n   evaluate g   one jvp   n jvps in a loop   one pass, n directions   adkit.jacobian"]
for n in (4, 16, 64, 256):
    t = timings(n)
    lines.append(f"{n:5d} {t[0]:12.0f} {t[1]:9.0f} {t[2]:18.0f} {t[3]:24.0f} {t[4]:16.0f}")
print("\n".join(lines))

# %% [markdown]
# The loop grows in proportion to $n$, since each pass pays the whole overhead again; the single
# pass grows far more slowly, because its extra cost is only the wider tangent arrays. Either way,
# the work is proportional to the number of **inputs** $n$. That is perfect for functions with few
# inputs and many outputs, and wasteful for the most common case in optimisation and machine
# learning, the gradient of a scalar loss of many parameters ($m = 1$, $n$ large): forward mode
# would need $n$ directions to get it.
#
# **Summary.**
#
# * Forward mode carries a tangent $\dot v_i$ next to every value $v_i$, computed by the rule of
#   each operation, in evaluation order; the seed $\dot x$ picks the direction.
# * One pass gives one Jacobian-vector product $J\dot x$ (`adkit.jvp`); basis seeds $e_j$ give the
#   columns of $J$; a tangent with a leading axis carries many directions in one pass (vector mode).
# * The cost grows with the number of inputs. Notebook 4 runs the chain rule the other way:
#   **reverse mode** gets a whole gradient from a single backward sweep. (Notebook 3b first builds
#   forward mode, and a tape, yourself.)
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: a tangent trace by hand
#
# For $g(x, y) = x\,e^y - y$ at $(x, y) = (2, 0)$ with the seed $(\dot x, \dot y) = (0, 1)$,
# fill in the table on paper:
#
# | primal | value | tangent |
# |---|---:|---:|
# | $v_{-1} = x$ | | |
# | $v_0 = y$ | | |
# | $v_1 = e^{v_0}$ | | |
# | $v_2 = v_{-1} v_1$ | | |
# | $v_3 = v_2 - v_0$ | | |
#
# Then compare with `adkit.trace(g, 2.0, 0.0, seed=(0.0, 1.0))`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
by_hand = {  # name: (value, tangent)
    "v-1": (2.0, 0.0),
    "v0": (0.0, 1.0),
    "v1": (1.0, 1.0),  # e^0 = 1; tangent e^{v0} * 1
    "v2": (2.0, 2.0),  # 2 * 1; tangent 0 * 1 + 2 * 1
    "v3": (2.0, 1.0),  # 2 - 0; tangent 2 - 1
}
trace_g = adkit.trace(lambda x, y: x * np.exp(y) - y, 2.0, 0.0, seed=(0.0, 1.0))
for name, (value, tangent) in by_hand.items():
    assert (trace_g[name].value, trace_g[name].tangent) == (value, tangent), name
print(f"the table agrees with adkit.trace; ∂g/∂y at (2, 0) = x e^y - 1 = {trace_g.rows[-1].tangent:g}")

# %% [markdown]
# ### Exercise 2: a Jacobian, column by column
#
# $G(x) = (x_0 x_1,\; x_0 + x_1,\; \sin x_0)$ maps $\mathbb{R}^2$ to $\mathbb{R}^3$. Write its
# Jacobian by hand, then build it at $x = (1, 2)$ from two `adkit.jvp` calls with the basis
# seeds, and from one call with the identity as seed (vector mode).

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def G(x):
    return np.stack([x[0] * x[1], x[0] + x[1], np.sin(x[0])])


x = np.array([1.0, 2.0])
J_by_hand = np.array([[x[1], x[0]], [1.0, 1.0], [np.cos(x[0]), 0.0]])
columns = np.stack([adkit.jvp(G, (x,), (e,))[1] for e in np.eye(2)], axis=1)
_, all_at_once = adkit.jvp(G, (x,), (np.eye(2),))
assert np.allclose(columns, J_by_hand, rtol=1e-15) and np.allclose(all_at_once.T, J_by_hand, rtol=1e-15)
print(J_by_hand)

# %% [markdown]
# ### Exercise 3: counting passes
#
# With a counter in $G$, count how many times $G$ runs for its Jacobian: with a `jvp` per
# basis seed, with `adkit.jacobian(G, mode="forward")` (vector mode), and with
# `adkit.jacobian(G, mode="forward", chunk=1)` (one direction per pass).

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
runs = {"G": 0}


def G_counted(x):
    runs["G"] += 1
    return G(x)


def count(compute):
    runs["G"] = 0
    compute()
    return runs["G"]


one_per_seed = count(lambda: [adkit.jvp(G_counted, (x,), (e,)) for e in np.eye(2)])
vector_mode = count(lambda: adkit.jacobian(G_counted, mode="forward")(x))
chunks_of_one = count(lambda: adkit.jacobian(G_counted, mode="forward", chunk=1)(x))
assert (one_per_seed, vector_mode, chunks_of_one) == (2, 1, 2)
print(f"a jvp per seed: {one_per_seed} runs; vector mode: {vector_mode}; chunk=1: {chunks_of_one}")
