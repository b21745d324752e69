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
#
# This notebook covers:
#
# 1. a tape, recorded and listed;
# 2. the adjoint trace of the running example and the rule behind it;
# 3. why one sweep gives the whole gradient (and what it costs);
# 4. the PyTorch-style API: `Var`, `backward()`, `.grad` (which **accumulates**), `retain_graph`;
# 5. the functional API: `adkit.grad`, `adkit.value_and_grad`, `adkit.vjp`.

# %%
# %matplotlib inline
import time

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
# `tape.nodes` lists the entries: each is one elementary operation whose
# operands are earlier entries, named by their position on the tape.

# %%
with adkit.Tape() as tape:
    x = adkit.Var(3.0)
    y = adkit.Var(2.0)
    z = x * x + x * y + 2

for node in tape.nodes:
    print(f"v{node.index}  {node.label:<8}  value {node.value:g}")

# %% [markdown]
# The expression became six entries: two inputs, two multiplications and two
# additions. Nothing about derivatives has happened yet; the tape only
# remembers *what* was computed and with which values.
#
# Now sweep it backwards. Start from $\bar v_5 = \bar z = 1$ and, for each
# entry from the last to the first, pass its adjoint to its operands,
# multiplied by the local partial derivative:
#
# | entry | adjoints it sends back |
# |---|---|
# | $v_5 = v_4 + 2$ | $\bar v_4 \mathrel{+}= \bar v_5 \cdot 1 = 1$ |
# | $v_4 = v_2 + v_3$ | $\bar v_2 \mathrel{+}= \bar v_4 = 1, \quad \bar v_3 \mathrel{+}= \bar v_4 = 1$ |
# | $v_3 = v_0 v_1$ | $\bar v_0 \mathrel{+}= \bar v_3 v_1 = 2, \quad \bar v_1 \mathrel{+}= \bar v_3 v_0 = 3$ |
# | $v_2 = v_0 v_0$ | $\bar v_0 \mathrel{+}= \bar v_2 \cdot 2 v_0 = 6$ |
#
# So $\bar x = \bar v_0 = 2 + 6 = 8 = 2x + y$ and $\bar y = \bar v_1 = 3 = x$.
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

for node in tape.nodes:
    print(f"v{node.index}  {node.label:<8}  value {node.value:.6g}")

# %% [markdown]
# `adkit.trace(f, *args)` records the same evaluation and lays it out as the
# survey's evaluation trace: one row per variable, with its primal value, its
# tangent (forward mode, along $\dot x = (1, 0)$ by default) and its adjoint
# (reverse mode, from $\bar y = 1$). It numbers the variables as the survey
# does, not by tape position: the $n$ inputs are $v_{1-n}, \dots, v_0$ (here
# $v_{-1} = x_1$, $v_0 = x_2$), and the operations $v_1, v_2, \dots$ are
# ordered by *layer*, so $\sin x_2$ (which needs only an input) comes before
# the addition $\ln x_1 + x_1 x_2$. Any order in which every operation comes
# after its operands is a valid evaluation order.


# %%
def f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


trace = adkit.trace(f, 2.0, 5.0)
display(trace)

# %% [markdown]
# Read the **adjoint** column from the bottom up; it is the reverse sweep.
# Each line applies the rule
#
# $$\bar v_i = \sum_{j:\ v_i \text{ is an operand of } v_j} \bar v_j \frac{\partial v_j}{\partial v_i}:$$
#
# $$
# \begin{aligned}
# \bar v_5 &= \bar y = 1\\
# \bar v_4 &= \bar v_5\,\tfrac{\partial v_5}{\partial v_4} = 1, &
# \bar v_3 &= \bar v_5\,\tfrac{\partial v_5}{\partial v_3} = -1\\
# \bar v_1 &= \bar v_4\,\tfrac{\partial v_4}{\partial v_1} = 1, &
# \bar v_2 &= \bar v_4\,\tfrac{\partial v_4}{\partial v_2} = 1\\
# \bar v_0 &= \bar v_2\,v_{-1} + \bar v_3 \cos v_0 = 2 - \cos 5 = 1.7163 & &\\
# \bar v_{-1} &= \bar v_2\,v_0 + \bar v_1 / v_{-1} = 5 + 0.5 = 5.5 & &
# \end{aligned}
# $$
#
# Both partial derivatives of $f$ come out of this **one** sweep:

# %%
print(f"adjoint of x1: {trace['v-1'].adjoint:.6g}   (1/x1 + x2  = {1 / 2 + 5:.6g})")
print(f"adjoint of x2: {trace['v0'].adjoint:.6g}   (x1 - cos x2 = {2 - np.cos(5.0):.6g})")

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
# ## 3. Why one reverse sweep gives the whole gradient
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
# $f$, independent of $n$ (the *cheap gradient principle*). The price is
# memory: the tape keeps every intermediate value until the sweep has used it.
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
# The time follows the count. Below, the gradient by $n$ forward passes grows
# with $n$ (and faster than $n$ once each pass has real work to do), while the
# reverse-mode gradient stays at a fixed multiple of one evaluation of $g$.
# For a function this small that multiple is mostly Python overhead: $g$ is
# five NumPy calls, and recording and sweeping them costs more than running
# them. (Timings depend on the machine; this cell's output is not checked by
# the tests.)


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


sizes = [10, 30, 100, 300, 1000]
t_eval, t_forward, t_reverse = [], [], []
for n in sizes:
    x = rng.normal(size=n)
    t_eval.append(best_time(g, x))
    t_forward.append(best_time(gradient_by_forward_passes, x, repeats=1))
    t_reverse.append(best_time(adkit.grad(g), x))

fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(sizes, t_forward, "o-", label="forward mode: n passes")
ax.loglog(sizes, t_reverse, "s-", label="reverse mode: 1 sweep")
ax.loglog(sizes, t_eval, "^--", color="gray", label="one evaluation of g")
ax.set_xlabel("number of inputs n")
ax.set_ylabel("time (s)")
ax.set_title(r"Gradient of $g(x) = \Sigma_i\, x_i^2 \sin x_i$")
ax.legend()
plt.show()
print(f"at n = {sizes[-1]}: forward / reverse = {t_forward[-1] / t_reverse[-1]:.0f}x")

# %% [markdown]
# For $m$ outputs and $n$ inputs the rule of thumb is: forward mode costs
# about $n$ evaluations, reverse mode about $m$ evaluations plus the memory of
# the tape. Notebook 6 measures the crossover.

# %% [markdown]
# ## 4. The PyTorch-style API: `Var`, `backward()`, `.grad`
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
# ## 5. The functional API: `grad`, `value_and_grad`, `vjp`
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
# | gradient of $f:\mathbb{R}^n\to\mathbb{R}$ | $n$ passes | 1 sweep |
# | memory | the current values | the whole tape |
# | adkit | `jvp`, `diff(mode="forward")`, `Dual` | `grad`, `value_and_grad`, `vjp`, `Var`, `Tape` |
#
# * `with adkit.Tape() as tape:` records; `tape.nodes` lists the Wengert list;
#   `adkit.trace(f, *args)` shows primal, tangent and adjoint of every variable.
# * `y.backward()` fills `x.grad`, which **accumulates**: call `x.zero_grad()`
#   before recomputing. `retain_graph=True` keeps the tape for another sweep.
# * `adkit.grad`, `adkit.value_and_grad` and `adkit.vjp` make a fresh tape per
#   call and never accumulate.
#
# Next: notebook 5 draws the graph behind the tape and steps through both sweeps.
