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
# # 4. Reverse mode: one sweep back gives the whole gradient
#
# Forward mode (notebook 3) pushes a tangent $\dot x$ *forward* through the
# computation and gets one directional derivative $J\dot x$ per pass: a full
# gradient of $f:\mathbb{R}^n\to\mathbb{R}$ costs $n$ passes.
#
# Reverse mode turns this around. It runs $f$ once and **records** every
# elementary operation on a *tape* (a Wengert list). Then it walks the tape
# **backwards**, starting from the output, and carries the *adjoint*
#
# $$\bar v_i = \frac{\partial y}{\partial v_i}$$
#
# of every intermediate variable $v_i$. One backward sweep gives
# $\partial y/\partial v_i$ for *every* $v_i$ at once, the inputs included:
# the whole gradient, whatever $n$ is. This is backpropagation, and it is why
# training a network with millions of parameters is possible at all.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * record a tape and carry out the reverse sweep by hand, line by line, as
#   in the survey's Table 3;
# * write the adjoint program of a small function, and see it as the tangent
#   program transposed: $J = J_5 \cdots J_1$ multiplied from the left instead
#   of from the right;
# * state the dot-product identity $\langle u, Jv\rangle = \langle J^{\mathsf T}u, v\rangle$
#   that defines a vector-Jacobian product;
# * explain, with measurements, why a gradient costs a few evaluations
#   whatever $n$ is, and what it costs in memory (and how checkpointing
#   trades that memory for recomputation);
# * use the PyTorch-style API (`Var`, `backward()`, `.grad`, which
#   accumulates) and the functional one (`grad`, `value_and_grad`, `vjp`).
#
# The sections: 1. a tape; 2. the adjoint trace of the running example;
# 3. reverse mode as the transposed tangent program; 4. the cost in time;
# 5. the cost in memory; 6. the PyTorch-style API; 7. the functional API.

# %%
# %matplotlib inline
import gc
import math
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import adkit

np.set_printoptions(precision=6, suppress=True)
rng = np.random.default_rng(4)

# %% [markdown]
# ## 1. Recording a tape
#
# Take $z = x^2 + xy + 2$, with gradient
#
# $$\frac{\partial z}{\partial x} = 2x + y, \qquad \frac{\partial z}{\partial y} = x .$$
#
# `adkit.Var` makes an input of reverse mode. Inside `with adkit.Tape() as tape:`
# every operation on a `Var` is appended to `tape`, in evaluation order.
# `tape.nodes` lists the entries: each is one elementary operation (its
# `primitive`) whose operands are earlier entries, given by their positions
# on the tape (`inputs`). We write the positions $t_0, t_1, \dots$ (the
# variables $v_i$ of the evaluation trace, below, are numbered differently).


# %%
def listing(tape):
    """The tape's entries, with operands named by tape position: t0, t1, ..."""
    for node in tape.nodes:
        names = [f"t{i}" if i is not None else f"{c:g}" for i, c in zip(node.inputs, node.operands)]
        operation = "input" if node.is_input else node.primitive.format(names, node.params)
        print(f"t{node.index}  {operation:<9}  value {node.value:.6g}")


with adkit.Tape() as tape:
    x = adkit.Var(3.0)
    y = adkit.Var(2.0)
    z = x * x + x * y + 2

listing(tape)

# %% [markdown]
# The expression became six entries: two inputs, two multiplications and two
# additions. Nothing about derivatives has happened yet; the tape only
# remembers *what* was computed and with which values.
#
# Now sweep it backwards. Start from $\bar t_5 = \bar z = 1$ and, for each
# entry from the last to the first, pass its adjoint to its operands,
# multiplied by the local partial derivative:
#
# | entry | adjoints it sends back |
# |---|---|
# | $t_5 = t_4 + 2$ | $\bar t_4 \mathrel{+}= \bar t_5 \cdot 1 = 1$ |
# | $t_4 = t_2 + t_3$ | $\bar t_2 \mathrel{+}= \bar t_4 = 1, \quad \bar t_3 \mathrel{+}= \bar t_4 = 1$ |
# | $t_3 = t_0 t_1$ | $\bar t_0 \mathrel{+}= \bar t_3 t_1 = 2, \quad \bar t_1 \mathrel{+}= \bar t_3 t_0 = 3$ |
# | $t_2 = t_0 t_0$ | $\bar t_0 \mathrel{+}= \bar t_2 \cdot 2 t_0 = 6$ |
#
# So $\bar x = \bar t_0 = 2 + 6 = 8 = 2x + y$ and $\bar y = \bar t_1 = 3 = x$.
# Note the `+=`: $x$ is used in two places, and its adjoint is the *sum* of
# what flows back along each use (the multivariate chain rule).
# `z.backward()` does exactly this sweep and leaves the adjoints of the
# inputs in `.grad`:

# %%
z.backward()
print(f"dz/dx = {x.grad:g}   (2x + y = {2 * 3.0 + 2.0:g})")
print(f"dz/dy = {y.grad:g}   (x = {3.0:g})")

# %% [markdown]
# ## 2. The adjoint trace of the running example
#
# The running example of the series (Baydin et al. 2018, *Automatic
# differentiation in machine learning: a survey*) is
#
# $$f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2, \qquad
# \nabla f = \left(\frac{1}{x_1} + x_2,\; x_1 - \cos x_2\right),$$
#
# at $(x_1, x_2) = (2, 5)$, where $\nabla f = (5.5,\; 2 - \cos 5) = (5.5,\; 1.7163)$.
# Its tape:

# %%
with adkit.Tape() as tape:
    x1 = adkit.Var(2.0)
    x2 = adkit.Var(5.0)
    y = np.log(x1) + x1 * x2 - np.sin(x2)

listing(tape)

# %% [markdown]
# `adkit.trace(f, *args)` records the same evaluation and lays it out as the
# survey's evaluation trace: one row per variable, with its primal value, its
# tangent (forward mode, along $\dot x = (1, 0)$ by default) and its adjoint
# (reverse mode, from $\bar y = 1$). It numbers the variables as the survey
# does, not by tape position: the $n$ inputs are $v_{1-n}, \dots, v_0$ (here
# $v_{-1} = x_1$ is $t_0$ and $v_0 = x_2$ is $t_1$), and the operations
# $v_1, v_2, \dots$ are ordered by *layer*, so $\sin x_2$ (which needs only
# an input) comes before the addition $\ln x_1 + x_1 x_2$. Any order in
# which every operation comes after its operands is a valid evaluation order.


# %%
def f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


trace = adkit.trace(f, 2.0, 5.0)
display(trace)

# %% [markdown]
# The survey's Table 3 lays the reverse sweep out beside the forward one.
# On the left, the forward primal trace, run first, top to bottom. On the
# right, the reverse adjoint trace, run afterwards, *in the order it runs*:
# each line takes one operation $v_j$ and adds $\bar v_j\,\partial v_j/\partial v_i$
# to the adjoint of each operand $v_i$ (written out: $\partial v_5/\partial v_3 = -1$,
# $\partial v_3/\partial v_0 = \cos v_0$, $\partial v_2/\partial v_0 = v_{-1}$ ...).
# (The survey prints this column bottom-up, with an arrow, so that each line sits next to the operation it
# undoes.) An input that is used twice gets its adjoint in two installments:
# $\bar v_0$ is first $-0.284$ (through $\sin$), then $1.716$ (through the
# product); $\bar v_{-1}$ is first $5$ (through the product), then $5.5$
# (through $\ln$).
#
# | forward primal trace | reverse adjoint trace |
# |---|---|
# | $v_{-1} = x_1 = 2$ | $\bar v_5 = \bar y = 1$ |
# | $v_0 = x_2 = 5$ | $\bar v_4 = \bar v_5 = \bar v_5 \times 1 = 1$ |
# | $v_1 = \ln v_{-1} = 0.693$ | $\bar v_3 = \bar v_5 = \bar v_5 \times (-1) = -1$ |
# | $v_2 = v_{-1} \times v_0 = 10$ | $\bar v_1 = \bar v_4 = \bar v_4 \times 1 = 1$ |
# | $v_3 = \sin v_0 = -0.959$ | $\bar v_2 = \bar v_4 = \bar v_4 \times 1 = 1$ |
# | $v_4 = v_1 + v_2 = 10.693$ | $\bar v_0 = \bar v_3 = \bar v_3 \cos v_0 = -0.284$ |
# | $v_5 = v_4 - v_3 = 11.652$ | $\bar v_{-1} = \bar v_2 = \bar v_2 v_0 = 5$ |
# | $y = v_5 = 11.652$ | $\bar v_0 = \bar v_0 + \bar v_2 = \bar v_0 + \bar v_2 v_{-1} = 1.716$ |
# | | $\bar v_{-1} = \bar v_{-1} + \bar v_1 = \bar v_{-1} + \bar v_1/v_{-1} = 5.5$ |
# | | $\bar x_1 = \bar v_{-1} = 5.5, \quad \bar x_2 = \bar v_0 = 1.716$ |
#
# The right column is a program. Run it, line by line, with the primal
# values from the trace:

# %%
v = {row.name: row.value for row in trace.rows}
adjoint = {}
steps = [
    ("v5", "ȳ", lambda: 1.0),
    ("v4", "v̄5 · 1", lambda: adjoint["v5"] * 1),
    ("v3", "v̄5 · (-1)", lambda: adjoint["v5"] * -1),
    ("v1", "v̄4 · 1", lambda: adjoint["v4"] * 1),
    ("v2", "v̄4 · 1", lambda: adjoint["v4"] * 1),
    ("v0", "v̄3 · cos v0", lambda: adjoint["v3"] * math.cos(v["v0"])),
    ("v-1", "v̄2 · v0", lambda: adjoint["v2"] * v["v0"]),
    ("v0", "v̄0 + v̄2 · v-1", lambda: adjoint["v0"] + adjoint["v2"] * v["v-1"]),
    ("v-1", "v̄-1 + v̄1 / v-1", lambda: adjoint["v-1"] + adjoint["v1"] / v["v-1"]),
]
for name, formula, rule in steps:
    adjoint[name] = rule()
    print(f"v̄{name[1:]:<2} = {formula:<16} = {adjoint[name]:8.4g}")
print(f"x̄1 = {adjoint['v-1']:.6g}, x̄2 = {adjoint['v0']:.6g}")

# %% [markdown]
# Both partial derivatives come out of this **one** sweep, as the trace's
# adjoint column says:

# %%
print(f"adjoint of x1: {trace['v-1'].adjoint:.6g}   (1/x1 + x2  = {1 / 2 + 5:.6g})")
print(f"adjoint of x2: {trace['v0'].adjoint:.6g}   (x1 - cos x2 = {2 - np.cos(5.0):.6g})")
assert adjoint["v-1"] == trace["v-1"].adjoint and adjoint["v0"] == trace["v0"].adjoint

# %% [markdown]
# The **tangent** column of the same table tells the forward-mode story:
# seeded with $\dot x = (1, 0)$ it ends with $\dot y = 5.5 = \partial f/\partial x_1$,
# and nothing about $x_2$. Forward mode needs a second pass, seeded with
# $(0, 1)$, for $\partial f/\partial x_2$:

# %%
second_pass = adkit.trace(f, 2.0, 5.0, seed=(0.0, 1.0))
print(f"forward pass 1, seed (1, 0): y' = {trace['y'].tangent:.6g}")
print(f"forward pass 2, seed (0, 1): y' = {second_pass['y'].tangent:.6g}")

# %% [markdown]
# ## 3. Reverse mode is the tangent program, transposed
#
# ### A small example, done right
#
# Take $f(x, y) = (x + y)(x - y)$ with $a = x + y$ and $b = x - y$. Its
# tangent program (notebook 3) and its adjoint program, side by side:
#
# | tangent program (forward) | adjoint program (reverse) |
# |---|---|
# | $a = x + y, \quad \dot a = \dot x + \dot y$ | $\bar f = 1$ |
# | $b = x - y, \quad \dot b = \dot x - \dot y$ | $\bar a = \bar f b, \quad \bar b = \bar f a$ |
# | $f = ab, \quad \dot f = \dot a b + a \dot b$ | $\bar x = \bar a + \bar b,\ \bar y = \bar a - \bar b$ |
#
# The adjoint program runs after a forward pass that computed $a$ and $b$.
# At $(3, 2)$: $a = 5$, $b = 1$, so $\bar a = 1$, $\bar b = 5$ and
# $\bar x = 6 = 2x$, $\bar y = -4 = -2y$, as $f = x^2 - y^2$ says.
#
# A common slip is to copy the *shape* of the tangent rules and write
# $\bar a = \bar x + \bar y$ (by analogy with $\dot a = \dot x + \dot y$).
# That is circular: $\bar x$ and $\bar y$ are what we are computing, and they
# are computed *from* $\bar a$ and $\bar b$. Adjoints flow from a result to
# its operands: $a = x + y$ sends $\bar a$ to both $x$ and $y$, $b = x - y$
# sends $\bar b$ to $x$ and $-\bar b$ to $y$, and each input adds up what it
# receives.

# %%
x, y = 3.0, 2.0
a, b = x + y, x - y  # the forward pass
f_bar = 1.0
a_bar, b_bar = f_bar * b, f_bar * a
x_bar, y_bar = a_bar + b_bar, a_bar - b_bar
print(f"a = {a:g}, b = {b:g};  ā = {a_bar:g}, b̄ = {b_bar:g};  x̄ = {x_bar:g}, ȳ = {y_bar:g}")
print("adkit.grad:", adkit.grad(lambda x, y: (x + y) * (x - y), argnums=(0, 1))(3.0, 2.0))

# %% [markdown]
# ### Why: each line is a matrix, and reverse mode transposes it
#
# Every line of the tangent program is *linear* in the tangents:
#
# $$\begin{pmatrix}\dot a\\ \dot b\end{pmatrix} = \underbrace{\begin{pmatrix}1 & 1\\ 1 & -1\end{pmatrix}}_{A}
#   \begin{pmatrix}\dot x\\ \dot y\end{pmatrix}, \qquad
#   \dot f = \underbrace{\begin{pmatrix} b & a\end{pmatrix}}_{B}\begin{pmatrix}\dot a\\ \dot b\end{pmatrix},
#   \qquad\text{so}\qquad J = BA.$$
#
# The adjoint program is the transposed product, $J^{\mathsf T} = A^{\mathsf T} B^{\mathsf T}$,
# applied in the opposite order: $(\bar a, \bar b) = B^{\mathsf T}\bar f = (b, a)\,\bar f$,
# then $(\bar x, \bar y) = A^{\mathsf T}(\bar a, \bar b) = (\bar a + \bar b,\; \bar a - \bar b)$.
# A sum in the tangent program ($\dot a = \dot x + \dot y$) becomes a fan-out in
# the adjoint program (both $\bar x$ and $\bar y$ receive $\bar a$), and a
# variable used twice becomes a sum.
#
# The same holds for any program. Write the state after step $k$ as the
# vector of all variables so far; step $k$ changes one entry, and its
# Jacobian $J_k$ is the identity with that entry's row replaced by its local
# partial derivatives. For the running example, five steps:
#
# $$J_f = J_5 J_4 J_3 J_2 J_1 \quad\text{(restricted to the inputs and the output)}.$$
#
# **Forward mode** multiplies this chain **from the right**, by a vector:
# $J_5(J_4(J_3(J_2(J_1\dot x))))$, one column per basis seed. **Reverse mode**
# multiplies it **from the left**: $((((\bar y^{\mathsf T} J_5) J_4) J_3) J_2) J_1$,
# one row per basis cotangent. The matrices below come from the graph's local partials
# (`adkit.graph(f, ...).nx`, notebook 5), in the order of the trace.

# %%
G = adkit.graph(f, 2.0, 5.0).nx
order = sorted(G.nodes)  # v-1, v0, v1, ..., v5: the state vector
position = {node: k for k, node in enumerate(order)}
J_steps = []
for node in order[2:]:  # one elementary Jacobian per operation v1 ... v5
    J_k = np.eye(len(order))
    J_k[position[node], position[node]] = 0.0
    for i in G.predecessors(node):
        J_k[position[node], position[i]] = G.edges[i, node]["partial"]
    J_steps.append(J_k)

print("J_2 (v2 = v-1 * v0: its row holds ∂v2/∂v-1 = 5 and ∂v2/∂v0 = 2):\n", J_steps[1])

for seed in (np.array([1.0, 0.0]), np.array([0.0, 1.0])):  # forward: from the right, once per input
    state = np.concatenate([seed, np.zeros(len(order) - 2)])
    for J_k in J_steps:
        state = J_k @ state
    print(f"forward, seed {seed}: dy = {state[-1]:.6g}")

row = np.zeros(len(order))  # reverse: from the left, once
row[-1] = 1.0  # ȳ = 1 on the output v5
for J_k in reversed(J_steps):
    row = row @ J_k
print(f"reverse, one sweep: gradient = ({row[0]:.6g}, {row[1]:.6g})")

# %% [markdown]
# Multiplying from the right costs one chain of matrix-vector products per
# input; from the left, one chain of vector-matrix products per output.
# That is the whole difference between the modes. (Any other bracketing of
# the chain is valid too; finding the cheapest is the *optimal Jacobian
# accumulation* problem. Tutorial 11, *Beyond the two pure modes*, applies
# the chain rule in other orders, by vertex elimination, and finds orders
# that beat both modes.)
#
# ### The definition: the dot-product identity
#
# What reverse mode computes, $u \mapsto J^{\mathsf T} u$ (a vector-Jacobian
# product, `adkit.vjp`), is defined by what forward mode computes,
# $v \mapsto Jv$ (`adkit.jvp`): the transpose is the linear map with
#
# $$\langle u, J v\rangle = \langle J^{\mathsf T} u, v\rangle \quad\text{for all } u, v.$$
#
# That identity is also the test that a reverse rule matches its forward
# rule (`adkit.check_grads` runs it). For $F(x) = (x_0 x_1,\ \sin x_0,\ x_1^2)$
# and random $u$, $v$:


# %%
def F(x):
    return np.stack([x[0] * x[1], np.sin(x[0]), x[1] ** 2])


x = np.array([2.0, 5.0])
u, v = rng.normal(size=3), rng.normal(size=2)
_, Jv = adkit.jvp(F, (x,), (v,))
_, pullback = adkit.vjp(F, x)
(JTu,) = pullback(u)
print(f"<u, J v>   = {u @ Jv:.10g}")
print(f"<J^T u, v> = {JTu @ v:.10g}")
print("equal to rounding:", abs(u @ Jv - JTu @ v) < 1e-12)

# %% [markdown]
# ## 4. Why one reverse sweep gives the whole gradient
#
# For $f:\mathbb{R}^n\to\mathbb{R}^m$ with Jacobian $J\in\mathbb{R}^{m\times n}$:
#
# * a forward pass seeded with $\dot x$ computes $\dot y = J\,\dot x$: **one column**
#   of $J$ per pass (for $\dot x = e_i$);
# * a reverse sweep seeded with $\bar y$ computes $\bar x^{\mathsf T} = \bar y^{\mathsf T} J$:
#   **one row** of $J$ per sweep (for $\bar y = e_k$).
#
# A loss, an energy, a log-likelihood have $m = 1$: $J$ is the single row
# $\nabla f^{\mathsf T}$, and one sweep seeded with $\bar y = 1$ gives all of it.
# Each entry of the tape sends its adjoint back once, at a cost of a few
# multiplications, so the sweep costs a small constant times one evaluation of
# $f$, independent of $n$: Griewank and Walther's *cheap gradient principle*
# (they bound the constant for the arithmetic, independently of $n$).
# The price is memory: the tape keeps what the sweep will need until the
# sweep has used it (section 5).
#
# Count the evaluations of $g(x) = \sum_i x_i^2 \sin x_i$ for $n = 100$:


# %%
def g(x):
    return np.sum(x**2 * np.sin(x))


calls = {"g": 0}


def g_counted(x):
    calls["g"] += 1
    return g(x)


n = 100
x = rng.normal(size=n)

calls["g"] = 0
forward = np.array([adkit.jvp(g_counted, (x,), (e,))[1] for e in np.eye(n)])  # one pass per input
forward_calls = calls["g"]

calls["g"] = 0
reverse = adkit.grad(g_counted)(x)  # one recording, one sweep
reverse_calls = calls["g"]

print(f"forward mode: {forward_calls} passes of g for the gradient")
print(f"reverse mode: {reverse_calls} pass of g (recorded) + 1 backward sweep")
print("same gradient:", np.allclose(forward, reverse))

# %% [markdown]
# The time follows the count. Below, left: the gradient by $n$ forward
# passes grows with $n$ (up to $n = 1000$; beyond that it takes too long),
# while one reverse sweep and one forward pass (a single directional
# derivative, `jvp`) grow like one evaluation of $g$. Right: the same times
# divided by the time of one evaluation, up to $n = 10^6$. For small $n$ the
# ratios are large, because $g$ is five NumPy calls on small arrays and
# recording and sweeping them costs more Python time than running them. As
# $n$ grows the arithmetic takes over and the ratios settle to small
# constants: that is the cheap gradient principle, with its constant
# measured for adkit. (Timings depend on the machine: this cell's output is
# not checked by the tests; the line after the plot prints this run's
# ratios at $n = 10^6$.)


# %% tags=["nbval-ignore-output"]
def best_time(fn, *args, repeats=3):
    """The fastest of a few runs of fn(*args), in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def gradient_by_forward_passes(x):
    return np.array([adkit.jvp(g, (x,), (e,))[1] for e in np.eye(x.size)])


def one_jvp(x):
    return adkit.jvp(g, (x,), (np.ones_like(x),))


sizes = [10, 100, 1000, 10_000, 100_000, 1_000_000]
t_eval, t_forward, t_reverse, t_jvp = [], [], [], []
for n in sizes:
    x = rng.normal(size=n)
    repeats = 5 if n >= 100_000 else 3
    t_eval.append(best_time(g, x, repeats=repeats))
    t_reverse.append(best_time(adkit.grad(g), x, repeats=repeats))
    t_jvp.append(best_time(one_jvp, x, repeats=repeats))
    if n <= 1000:
        t_forward.append(best_time(gradient_by_forward_passes, x, repeats=1))

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
left.loglog(sizes[: len(t_forward)], t_forward, "o-", label="gradient by n forward passes")
left.loglog(sizes, t_reverse, "s-", label="gradient by 1 reverse sweep")
left.loglog(sizes, t_jvp, "d-", label="1 forward pass (one jvp)")
left.loglog(sizes, t_eval, "^--", color="gray", label="one evaluation of g")
left.set(xlabel="number of inputs n", ylabel="time (s)", title=r"$g(x) = \Sigma_i\, x_i^2 \sin x_i$")
left.legend(fontsize=8)
ratio_grad, ratio_jvp = np.array(t_reverse) / t_eval, np.array(t_jvp) / t_eval
right.semilogx(sizes, ratio_grad, "s-", color="C1", label="reverse-mode gradient / evaluation")
right.semilogx(sizes, ratio_jvp, "d-", color="C2", label="one jvp / evaluation")
right.set_yscale("log")
right.set(xlabel="number of inputs n", ylabel="time / time of one evaluation", title="the constant")
right.grid(True, which="both", alpha=0.3)
right.legend(fontsize=8)
plt.show()
print(f"at n = {sizes[-1]:.0e}: gradient / evaluation = {ratio_grad[-1]:.1f}, "
      f"jvp / evaluation = {ratio_jvp[-1]:.1f}; at n = {sizes[0]}: "
      f"{ratio_grad[0]:.0f} and {ratio_jvp[0]:.0f}")

# %% [markdown]
# What does not depend on the machine: at $n = 10^6$ a whole gradient costs
# a handful of evaluations, not $10^6$ of them (the bound below is loose on
# purpose, so that a busy machine does not fail the check).

# %%
print(f"a gradient of {sizes[-1]:,} entries costs fewer than 10 evaluations of g: {ratio_grad[-1] < 10}")
print(f"one directional derivative (jvp) too: {ratio_jvp[-1] < 10}")

# %% [markdown]
# For $m$ outputs and $n$ inputs the rule of thumb is: forward mode costs
# about $n$ evaluations, reverse mode about $m$ evaluations plus the memory of
# the tape. Notebook 6 measures the crossover.
#
# ## 5. What reverse mode costs in memory
#
# Forward mode needs only the current values and their tangents: when a
# value is no longer used, it and its tangent are freed. Reverse mode needs,
# in the backward sweep, what each rule reads: $\sin v$ needs $\cos v$, so
# the tape keeps $v$ until the sweep reaches it. The memory of a gradient
# therefore grows with the *length* of the computation.
#
# Measured with Python's `tracemalloc` (the peak of the memory NumPy and
# Python allocate during the call) for $x \mapsto \sum \sin(\sin(\cdots\sin(x)))$,
# with `depth` sines, on a vector of $10^4$ numbers (80 kB):


# %%
def peak_memory(fn, *args):
    """Peak bytes allocated while fn(*args) runs."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn(*args)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def nested_sines(x, depth):
    for _ in range(depth):
        x = np.sin(x)
    return np.sum(x)


x = rng.normal(size=10_000)
direction = np.ones_like(x)
depths = [25, 50, 100, 200, 400]
memory = {"grad (reverse)": [], "jvp (forward)": [], "evaluation": []}
for depth in depths:
    def h(x, depth=depth):
        return nested_sines(x, depth)

    memory["grad (reverse)"].append(peak_memory(adkit.grad(h), x) / x.nbytes)
    memory["jvp (forward)"].append(peak_memory(adkit.jvp, h, (x,), (direction,)) / x.nbytes)
    memory["evaluation"].append(peak_memory(h, x) / x.nbytes)

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for (name, peaks), style in zip(memory.items(), ("s-", "d-", "^--")):
    ax.plot(depths, peaks, style, label=name)
ax.set(xlabel="depth (number of sines)", ylabel="peak memory, in arrays the size of x",
       title="Memory of a gradient grows with depth; of a jvp, it does not")
ax.legend()
plt.show()

slope = np.polyfit(depths, memory["grad (reverse)"], 1)[0]
spread = max(memory["jvp (forward)"]) - min(memory["jvp (forward)"])
print(f"grad: {slope:.1f} more array of x's size per sine (the tape keeps each sine's input)")
print(f"jvp:  about {min(memory['jvp (forward)']):.0f} arrays at every depth "
      f"(the same to within a tenth of an array: {spread < 0.1})")

# %% [markdown]
# One array per layer for the gradient, a constant for the forward pass. For
# a network with a billion activations that is the difference between
# fitting on a device and not.
#
# ### Store or recompute: checkpointing
#
# Nothing forces the tape to keep everything. The alternative is to
# *recompute*: run the forward pass without a tape, keep only every $k$-th
# state (a *checkpoint*), and in the backward sweep re-run each segment from
# its checkpoint, with a tape, just before sweeping it. Memory falls from
# $L$ states to about $L/k$ checkpoints plus one segment's tape of about $k$
# states, and the time grows by about one extra forward pass. Here it is
# with adkit's public `vjp`, one segment at a time, for $L = 400$ sines:


# %%
def sines(x, count):
    for _ in range(count):
        x = np.sin(x)
    return x


def gradient_with_checkpoints(x, depth, every):
    """The gradient of nested_sines(x, depth), keeping only every `every`-th state."""
    starts = list(range(0, depth, every))
    checkpoints = []
    for start in starts:  # forward, no tape: keep the segments' first states
        checkpoints.append(x)
        x = sines(x, min(every, depth - start))
    (cotangent,) = adkit.vjp(np.sum, x)[1](1.0)
    for start, checkpoint in zip(reversed(starts), reversed(checkpoints)):  # recompute, then sweep
        count = min(every, depth - start)
        _, pullback = adkit.vjp(lambda x, count=count: sines(x, count), checkpoint)
        (cotangent,) = pullback(cotangent)
    return cotangent


depth = 400
whole_tape = adkit.grad(lambda x: nested_sines(x, depth))
full = whole_tape(x)
print(f"depth {depth}: the whole tape holds {peak_memory(whole_tape, x) / x.nbytes:.0f} arrays")
for every in (4, 10, 20, 40, 100):
    same = np.array_equal(gradient_with_checkpoints(x, depth, every), full)
    peak = peak_memory(gradient_with_checkpoints, x, depth, every) / x.nbytes
    print(f"a checkpoint every {every:3} sines: {peak:4.0f} arrays; same gradient to the last bit: {same}")

# %% [markdown]
# The memory is smallest in the middle, here for a checkpoint every 10 to 20
# sines, where the checkpoints and one segment's tape take about the same
# room (in general every $\sqrt L$ steps or so, for $O(\sqrt L)$ memory).
# The gradient is identical, bit for bit: recomputing gives the same numbers.
#
# Recomputing recursively does better still. Griewank (1992) showed that
# *binomial checkpointing* (implemented as *revolve*, Griewank and Walther
# 2000) reverses a chain of $L$ steps with memory **and** extra computation
# that both grow only like $\log L$: with $s$ checkpoints and a *repetition
# number* $r$ (each step is run forward at most $r$ times, besides its run
# with a tape), chains of up to $\binom{s + r}{s}$ steps can be reversed.
# How many checkpoints, with as many repetitions, does a chain of a million
# steps need?

# %%
s = next(s for s in range(1, 100) if math.comb(2 * s, s) >= 1_000_000)
print(f"s = r = {s}: C({2 * s}, {s}) = {math.comb(2 * s, s):,} steps, "
      f"while C({2 * s - 2}, {s - 1}) = {math.comb(2 * s - 2, s - 1):,} is too few")

# %% [markdown]
# A dozen checkpoints instead of a million states, for at most a dozen
# forward runs of each step. `adkit.checkpoint(g)` marks a function whose
# inside the backward sweep recomputes, as the loop above does by hand, and
# `adkit.checkpoint(step, steps=T, snapshots=s)` reverses a loop of `T`
# steps on the binomial schedule. Tutorial 11, *Beyond the two pure modes*,
# uses both, and measures the loop's peak memory against the steps it
# recomputes.

# %% [markdown]
# ## 6. The PyTorch-style API: `Var`, `backward()`, `.grad`
#
# A `Var` records on the current tape (one is made for you when no
# `with adkit.Tape()` block is open). `y.backward()` sweeps back from `y` and
# stores $\partial y/\partial x$ in `x.grad` for every input `x`:

# %%
x = adkit.Var(3.0)
y = x * x + np.sin(x)
y.backward()
print(f"x.grad = {x.grad:.6g}   (2x + cos x = {2 * 3.0 + np.cos(3.0):.6g})")

# %% [markdown]
# ### `.grad` accumulates
#
# As in PyTorch, `backward()` **adds** to `.grad`; it never overwrites it.
# Compute the same thing again (as happens when you re-run a notebook cell)
# and the gradient doubles:

# %%
y = x * x + np.sin(x)  # the same computation once more
y.backward()
print(f"x.grad = {x.grad:.6g}   <- twice 5.01: the second sweep was added to the first")

# %% [markdown]
# `x.zero_grad()` resets it (to `None`). Put it before every `backward()` whose
# result you want on its own, for instance at the top of a cell you may re-run:

# %%
x.zero_grad()
print("after zero_grad:", x.grad)

y = x * x + np.sin(x)
y.backward()
print(f"x.grad = {x.grad:.6g}")

# %% [markdown]
# Accumulation is a feature, not an accident: the gradient of a sum of losses
# is the sum of their gradients, so sweeping each loss separately builds the
# gradient of the total (that is how PyTorch accumulates gradients over
# several mini-batches). With $a = 1.5$:
#
# $$\frac{d}{da}\left(a^2 + \sin a\right) = 2a + \cos a = 3.0707.$$

# %%
a = adkit.Var(1.5)
(a**2).backward()  # adds 2a = 3
(np.sin(a)).backward()  # adds cos a = 0.0707
print(f"a.grad = {a.grad:.6g}   (2a + cos a = {2 * 1.5 + np.cos(1.5):.6g})")

# %% [markdown]
# ### `retain_graph=True`: sweeping the same tape twice
#
# By default `backward()` frees the tape once it has swept it, as PyTorch does:
# the tape holds every intermediate value, and a long computation's tape is
# large. The inputs stay usable (they move to a fresh tape), but the freed
# intermediate results cannot be swept again:

# %%
x = adkit.Var(2.0)
y = x**3
y.backward()
print(f"x.grad = {x.grad:g}   (3x^2 = 12)")
try:
    y.backward()
except adkit.FreedTapeError as err:
    print("FreedTapeError:", err)

# %% [markdown]
# `backward(retain_graph=True)` keeps the tape for another sweep. The second
# sweep accumulates too:

# %%
x.zero_grad()
y = x**3
y.backward(retain_graph=True)
print(f"after the first sweep:  x.grad = {x.grad:g}")
y.backward()
print(f"after the second sweep: x.grad = {x.grad:g}   (accumulated)")

# %% [markdown]
# ## 7. The functional API: `grad`, `value_and_grad`, `vjp`
#
# The functional API takes a function and returns a function. Each call makes
# a fresh tape, sweeps it and forgets it: nothing accumulates, and re-running a
# cell always gives the same answer. It is the safer choice in notebooks.
#
# `adkit.grad(f)` differentiates with respect to the first argument;
# `argnums=(0, 1)` gives a tuple, one entry per chosen argument (as in JAX):

# %%
df = adkit.grad(f, argnums=(0, 1))
g1, g2 = df(2.0, 5.0)
print(f"grad f(2, 5) = ({g1:.6g}, {g2:.6g})")
print(f"again:         ({df(2.0, 5.0)[0]:.6g}, {df(2.0, 5.0)[1]:.6g})   (no accumulation)")
print(f"argnums=0 (the default): {adkit.grad(f)(2.0, 5.0):.6g}")

# %% [markdown]
# The sweep needs the forward values anyway, so `value_and_grad` returns
# $f(x)$ with the gradient at no extra cost (what a training loop wants: the
# loss to print and the gradient to step with):

# %%
value, (g1, g2) = adkit.value_and_grad(f, argnums=(0, 1))(2.0, 5.0)
print(f"f(2, 5) = {value:.6g},  grad = ({g1:.6g}, {g2:.6g})")

# %% [markdown]
# The gradient has the shape of the argument, so a function of an array gets
# an array back:


# %%
def f_vec(x):
    return np.log(x[0]) + x[0] * x[1] - np.sin(x[1])


print(adkit.grad(f_vec)(np.array([2.0, 5.0])))

# %% [markdown]
# ### Vector-Jacobian products
#
# For a function with several outputs there is no single gradient, but a
# reverse sweep can start from any cotangent $u$ (one entry per output) and
# returns the **vector-Jacobian product** $u^{\mathsf T} J$. Think of $u$ as
# $\partial L/\partial F$ for some later scalar $L(F(x))$: the sweep then gives
# $\partial L/\partial x = u^{\mathsf T} J$, one step of backpropagation.
#
# `adkit.vjp(F, x)` evaluates $F$ once on a tape and returns its value and a
# *pullback* `u -> (u^T J,)`; each call of the pullback is one sweep of that
# tape. Take
#
# $$F(x) = \begin{pmatrix} x_0 x_1\\ \sin x_0\\ x_1^2 \end{pmatrix},\qquad
# J = \begin{pmatrix} x_1 & x_0\\ \cos x_0 & 0\\ 0 & 2x_1 \end{pmatrix},$$
#
# at $x = (2, 5)$ with $u = (1, 2, -1)$:
# $u^{\mathsf T}J = (x_1 + 2\cos x_0,\; x_0 - 2x_1) = (4.1677,\; -8)$.


# %%
def F(x):
    return np.stack([x[0] * x[1], np.sin(x[0]), x[1] ** 2])


x = np.array([2.0, 5.0])
out, pullback = adkit.vjp(F, x)
u = np.array([1.0, 2.0, -1.0])
(u_J,) = pullback(u)
print("F(x)     =", out)
print("u^T J    =", u_J)
print("by hand  =", np.array([x[1] + 2 * np.cos(x[0]), x[0] - 2 * x[1]]))

# %% [markdown]
# Pulling back the unit cotangents $e_1, e_2, e_3$ gives the rows of $J$, one
# sweep each, all from the same recording. This is how reverse mode builds a
# Jacobian: $m$ sweeps for $m$ outputs (`adkit.jacobian(F, mode="reverse")`
# does it in one vectorized sweep).

# %%
rows = np.stack([pullback(e)[0] for e in np.eye(3)])
print(rows)
print("same as adkit.jacobian:", np.allclose(rows, adkit.jacobian(F, mode="reverse")(x)))

# %% [markdown]
# `Var.backward` takes a cotangent too: for an array `y`, `y.backward(u)` is the
# same vector-Jacobian product, accumulated into `x.grad`:

# %%
xv = adkit.Var(np.array([2.0, 5.0]))
F(xv).backward(u)
print("x.grad =", xv.grad)

# %% [markdown]
# ## Summary
#
# | | forward mode | reverse mode |
# |---|---|---|
# | carries | tangents $\dot v = \partial v/\partial x\,\dot x$ | adjoints $\bar v = \partial y/\partial v$ |
# | direction | forward, with the evaluation | backward, after it |
# | one pass gives | $J\dot x$: a column of $J$ | $\bar y^{\mathsf T}J$: a row of $J$ |
# | the chain $J_5 \cdots J_1$ | multiplied from the right | multiplied from the left |
# | gradient of $f:\mathbb{R}^n\to\mathbb{R}$ | $n$ passes | 1 sweep, a few evaluations' time |
# | memory | the current values | what the rules read, for every step (or checkpoints) |
# | adkit | `jvp`, `diff(mode="forward")`, `Dual` | `grad`, `value_and_grad`, `vjp`, `Var`, `Tape` |
#
# * `with adkit.Tape() as tape:` records; `tape.nodes` lists the Wengert list;
#   `adkit.trace(f, *args)` shows primal, tangent and adjoint of every variable.
# * The adjoint program runs the tangent program's linear maps transposed, in
#   reverse order; a VJP is defined by $\langle u, Jv\rangle = \langle J^{\mathsf T}u, v\rangle$.
# * `y.backward()` fills `x.grad`, which **accumulates**: call `x.zero_grad()`
#   before recomputing. `retain_graph=True` keeps the tape for another sweep.
# * `adkit.grad`, `adkit.value_and_grad` and `adkit.vjp` make a fresh tape per
#   call and never accumulate.
#
# Next: notebook 5 draws the graph behind the tape and steps through both sweeps.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: an adjoint trace by hand
#
# For $g(x, y) = \sin(xy) + x$ at $(x, y) = (1, 2)$, the forward trace is
# $v_{-1} = x$, $v_0 = y$, $v_1 = v_{-1} v_0$, $v_2 = \sin v_1$,
# $v_3 = v_2 + v_{-1}$. Fill in the reverse adjoint trace, in the order it
# runs (as in section 2), on paper: $\bar v_3, \bar v_2, \bar v_{-1}$ (first
# installment), $\bar v_1, \bar v_{-1}$ (second), $\bar v_0$. Then compare with
# `adkit.trace(g, 1.0, 2.0)`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
x, y = 1.0, 2.0
by_hand = {"v3": 1.0}
by_hand["v2"] = by_hand["v3"] * 1  # v3 = v2 + v-1
by_hand["v-1"] = by_hand["v3"] * 1  # first installment, through the sum
by_hand["v1"] = by_hand["v2"] * math.cos(x * y)  # v2 = sin v1
by_hand["v-1"] += by_hand["v1"] * y  # second installment, through the product
by_hand["v0"] = by_hand["v1"] * x
trace_g = adkit.trace(lambda x, y: np.sin(x * y) + x, 1.0, 2.0)
for name, value in by_hand.items():
    assert abs(trace_g[name].adjoint - value) < 1e-15, name
print("x̄ = 1 + 2 cos 2 = {:.5g}, ȳ = cos 2 = {:.5g}: as the trace".format(by_hand["v-1"], by_hand["v0"]))

# %% [markdown]
# ### Exercise 2: count the operations of both modes
#
# $f(w) = w_1 w_2 w_3 w_4 w_5$, computed left to right with four
# multiplications. Count the multiplications each mode needs for the whole
# gradient, on paper first: forward mode with five passes (each product's
# tangent is $\dot a b + a \dot b$), and reverse mode with one recording and
# one sweep (each product $p = ab$ sends $\bar p\,b$ to $a$ and $\bar p\,a$ to $b$).
# Then check your counts with a multiplication that counts itself, and the
# gradient against `adkit.grad`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
count = {"multiplications": 0}


def mul(a, b):
    count["multiplications"] += 1
    return a * b


def forward_pass(w, seed):
    p, p_dot = w[0], seed[0]
    for k in range(1, 5):
        p, p_dot = mul(p, w[k]), mul(p_dot, w[k]) + mul(p, seed[k])
    return p_dot


def reverse_sweep(w):
    products = [w[0]]
    for k in range(1, 5):
        products.append(mul(products[-1], w[k]))
    p_bar, w_bar = 1.0, [0.0] * 5
    for k in range(4, 0, -1):  # p_k = p_{k-1} * w_k
        w_bar[k] = mul(p_bar, products[k - 1])
        p_bar = mul(p_bar, w[k])
    w_bar[0] = p_bar
    return w_bar


w = np.array([1.5, -2.0, 0.5, 3.0, 0.25])
gradient_forward = [forward_pass(w, e) for e in np.eye(5)]
forward_count, count["multiplications"] = count["multiplications"], 0
gradient_reverse = reverse_sweep(w)
reverse_count = count["multiplications"]
assert forward_count == 5 * (4 + 2 * 4) == 60  # 5 passes x (4 primal + 4 products x 2)
assert reverse_count == 4 + 2 * 4 == 12  # 4 primal + 4 products x 2 in the sweep
assert np.allclose(gradient_forward, adkit.grad(lambda w: w[0] * w[1] * w[2] * w[3] * w[4])(w))
assert np.allclose(gradient_reverse, gradient_forward)
print(f"forward mode: {forward_count} multiplications, reverse mode: {reverse_count} (a factor n = 5)")

# %% [markdown]
# ### Exercise 3: the dot-product identity
#
# Check $\langle u, Jv\rangle = \langle J^{\mathsf T}u, v\rangle$ for a layer
# of a network, $L(x) = \tanh(Wx)$ with a random $4 \times 3$ matrix $W$, at
# a random $x$ and for three random pairs $(u, v)$, using `adkit.jvp` and
# `adkit.vjp`. Then check that $J^{\mathsf T}u = W^{\mathsf T}\big((1 - \tanh^2(Wx)) \odot u\big)$.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
W = rng.normal(size=(4, 3))
x = rng.normal(size=3)


def layer(x):
    return np.tanh(W @ x)


_, pullback = adkit.vjp(layer, x)
for _ in range(3):
    u, v = rng.normal(size=4), rng.normal(size=3)
    (JTu,) = pullback(u)
    _, Jv = adkit.jvp(layer, (x,), (v,))
    assert abs(u @ Jv - JTu @ v) < 1e-12
    assert np.allclose(JTu, W.T @ ((1 - np.tanh(W @ x) ** 2) * u), rtol=1e-14, atol=1e-14)
print("<u, Jv> = <Jᵀu, v> for three random pairs, and Jᵀu = Wᵀ((1 - tanh²(Wx)) ⊙ u)")
