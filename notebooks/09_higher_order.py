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
# # 9. Higher-order derivatives
#
# adkit's derivative rules are written with adkit's own operations, so the
# computation of a derivative is itself an ordinary traced computation, and
# can be differentiated again. This notebook uses that to compute
#
# 1. **Hessians**, by forward mode over reverse mode, and Newton's method with them;
# 2. **Hessian-vector products**, without ever forming the Hessian;
# 3. second derivatives by nesting `adkit.diff` in **any combination of modes**;
# 4. **k-th derivatives** with `adkit.derivative(f, order=k)`;
#
# and then looks at the classic bug of nested AD, **perturbation confusion**,
# at `adkit.check_grads`, the tool to reach for when a derivative looks
# wrong, and at the places where AD itself goes wrong.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * compute Hessians (forward over reverse) and Hessian-vector products,
#   and explain, with measurements, why an HVP costs a few gradients while a
#   Hessian costs $n$ of them, and which composition of modes to use;
# * nest derivatives in any combination of modes, and say what the $k$-th
#   derivative by nested dual numbers costs ($2^k$ numbers per value, about
#   $3^k$ operations) and when Taylor mode is the better tool;
# * recognise perturbation confusion, and check a suspicious derivative with
#   `adkit.check_grads`;
# * predict where AD's answer differs from the mathematician's: branches
#   taken at a point, kinks and their conventions (adkit's, JAX's and
#   PyTorch's), `nan` from `np.where`, and loops of an iterative solver
#   versus the implicit function theorem.

# %%
# %matplotlib inline
import gc
import time
import tracemalloc
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np

import adkit

np.set_printoptions(precision=6, suppress=True)
rng = np.random.default_rng(9)

# %% [markdown]
# A first example: $\frac{d}{dx}x^3 = 3x^2$ and $\frac{d^2}{dx^2}x^3 = 6x$, so at
# $x = 2$ the second derivative is 12. `adkit.grad` of `adkit.grad` is
# reverse mode over reverse mode: the outer sweep differentiates the inner
# sweep.


# %%
def cube(x):
    return x**3


print(f"d/dx x^3 at 2 = {adkit.grad(cube)(2.0):g}   (3x^2 = 12)")
print(f"d2/dx2 x^3 at 2 = {adkit.grad(adkit.grad(cube))(2.0):g}   (6x = 12)")

# %% [markdown]
# ## 1. Hessians: forward over reverse
#
# The Hessian of $f:\mathbb{R}^n\to\mathbb{R}$ is the Jacobian of its gradient,
# $\nabla^2 f(x) = J_{\nabla f}(x)$. The gradient is best computed in reverse
# mode (one sweep gives all $n$ entries); the gradient is then a function
# $\mathbb{R}^n\to\mathbb{R}^n$, and `adkit.hessian` differentiates it in
# forward mode, with $n$ tangent directions. This *forward-over-reverse*
# combination is the standard way to form a Hessian.
#
# The Rosenbrock function, a curved valley with its minimum at $(1, 1)$:
#
# $$f(x) = (1 - x_0)^2 + 100\,(x_1 - x_0^2)^2,\qquad
# \nabla^2 f(x) = \begin{pmatrix} 2 - 400 x_1 + 1200 x_0^2 & -400 x_0 \\ -400 x_0 & 200\end{pmatrix},$$
#
# so $\nabla^2 f(1, 1) = \begin{pmatrix} 802 & -400\\ -400 & 200\end{pmatrix}$.


# %%
def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_hessian(x):
    """The closed form, to check against."""
    return np.array([[2 - 400 * x[1] + 1200 * x[0] ** 2, -400 * x[0]], [-400 * x[0], 200.0]])


hessian = adkit.hessian(rosenbrock)
x_min = np.array([1.0, 1.0])
H = hessian(x_min)
print("Hessian at (1, 1):")
print(H)
print("gradient at (1, 1):", adkit.grad(rosenbrock)(x_min))
print("eigenvalues:", np.linalg.eigvalsh(H))

# %% [markdown]
# The gradient vanishes and both eigenvalues are positive: $(1, 1)$ is a
# minimum. Their ratio, about 2500, is the *condition number*: near the
# minimum the level sets are ellipses $\sqrt{2500} = 50$ times longer than
# wide, which is why plain gradient descent crawls along the valley.
#
# At another point, against the closed form:

# %%
x0 = np.array([-1.2, 1.0])
print(hessian(x0))
print("matches the closed form:", np.allclose(hessian(x0), rosenbrock_hessian(x0)))

# %% [markdown]
# With the gradient and the Hessian, **Newton's method** steps to the minimum
# of the local quadratic model, $x \leftarrow x - \left(\nabla^2 f(x)\right)^{-1}\nabla f(x)$.
# From the classic start $(-1.2, 1)$ it reaches the minimum in six steps.
# It is not a descent method: the second step jumps out of the valley (to
# $f \approx 1400$) and $f$ rises twice on the way, but once the quadratic model is good the
# convergence is quadratic (the number of correct digits doubles each step).

# %%
gradient = adkit.grad(rosenbrock)
path = [x0]
for _ in range(6):
    x = path[-1]
    path.append(x - np.linalg.solve(hessian(x), gradient(x)))
for k, x in enumerate(path):
    print(f"step {k}: x = ({x[0]:9.6f}, {x[1]:9.6f})   f(x) = {rosenbrock(x):.2g}")

# %%
X0, X1 = np.meshgrid(np.linspace(-1.6, 1.6, 300), np.linspace(-3.5, 2.0, 300))
fig, ax = plt.subplots(figsize=(7, 4))
ax.contour(X0, X1, np.log10(rosenbrock(np.array([X0, X1])) + 1e-3), levels=15, cmap="viridis", linewidths=0.8)
path_array = np.array(path)
ax.plot(path_array[:, 0], path_array[:, 1], "o-", color="C3", label="Newton's method")
for k, (a, b) in enumerate(path_array[:4]):
    ax.annotate(str(k), (a, b), textcoords="offset points", xytext=(6, 4), color="C3")
ax.plot(1, 1, "k*", markersize=12, label="minimum (1, 1)")
ax.set_xlabel("$x_0$")
ax.set_ylabel("$x_1$")
ax.set_title("Rosenbrock function (log contours) and Newton's method")
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# ## 2. Hessian-vector products
#
# Newton-type methods for large $n$ (Newton-CG, trust regions, Lanczos for the
# extreme eigenvalues) never need $\nabla^2 f$ itself, only products
# $\nabla^2 f(x)\,v$. Those are a directional derivative of the gradient,
#
# $$\nabla^2 f(x)\,v = \frac{d}{d\varepsilon}\,\nabla f(x + \varepsilon v)\Big|_{\varepsilon = 0},$$
#
# that is, **one** forward-mode pass (along $v$) over **one** reverse sweep.
# `adkit.hvp(f)(x, v)` costs about two gradients, whatever $n$ is, and stores
# no $n\times n$ matrix. With $v = e_1$ it returns the first column of the
# Hessian:

# %%
hvp = adkit.hvp(rosenbrock)
print("H e1 =", hvp(x_min, np.array([1.0, 0.0])))
print("H e2 =", hvp(x_min, np.array([0.0, 1.0])))

# %% [markdown]
# The payoff is at large $n$. The extended Rosenbrock function
# $f(x) = \sum_{i=1}^{n-1} 100\,(x_{i+1} - x_i^2)^2 + (1 - x_i)^2$, at a random
# point, along a random direction:


# %%
def rosenbrock_nd(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


n = 200
x = rng.normal(size=n)
v = rng.normal(size=n)
Hv = adkit.hvp(rosenbrock_nd)(x, v)
H = adkit.hessian(rosenbrock_nd)(x)
print(f"n = {n}: the Hessian has {H.size:,} entries; the HVP has {Hv.size}")
print("hvp(x, v) == hessian(x) @ v:", np.allclose(Hv, H @ v))

# %% [markdown]
# Timing both (machine-dependent, not checked by the tests): the Hessian costs
# $n$ directions and $n^2$ memory; the HVP costs about what a gradient costs,
# which here, for these small $n$, is mostly fixed Python overhead and
# grows only slowly.


# %% tags=["nbval-ignore-output"]
def seconds(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


lines = [f"{'n':>6} {'hessian':>10} {'hvp':>10}"]
for n in (10, 100, 300, 1000):
    x, v = rng.normal(size=n), rng.normal(size=n)
    t_hessian = seconds(adkit.hessian(rosenbrock_nd), x)
    t_hvp = seconds(adkit.hvp(rosenbrock_nd), x, v)
    lines.append(f"{n:>6} {t_hessian * 1e3:>8.2f} ms {t_hvp * 1e3:>7.2f} ms")
print("\n".join(lines))

# %% [markdown]
# ### The cost of second order: which composition?
#
# An HVP is a derivative of a derivative, so there are three ways to
# compose it from the two modes:
#
# * **forward over reverse**: `jvp(grad(f), (x,), (v,))`, a tangent pushed
#   through the gradient's computation (`adkit.hvp`; JAX's `jax.hessian` and
#   `torch.func.hessian` are built the same way, as `jacfwd(jacrev(f))`);
# * **reverse over forward**: `grad(x ↦ jvp(f, (x,), (v,))[1])`, the
#   gradient of a directional derivative;
# * **reverse over reverse**: `grad(x ↦ grad(f)(x) · v)`, the gradient of
#   the gradient's projection.
#
# All three cost a small constant times one gradient, whatever $n$ is; the
# full Hessian costs $n$ HVPs' worth (one direction per input). Timed below
# on a chain of ten layers, $x \mapsto \sum (h_{10} \circ \dots \circ h_1)(x)^2$
# with $h(x) = 0.9 \sin x + 0.1 x$ (machine-dependent, not checked):


# %% tags=["nbval-ignore-output"]
def layers(x):
    for _ in range(10):
        x = 0.9 * np.sin(x) + 0.1 * x
    return np.sum(x * x)


def forward_over_reverse(x, v):
    return adkit.jvp(adkit.grad(layers), (x,), (v,))[1]


def reverse_over_forward(x, v):
    return adkit.grad(lambda x: adkit.jvp(layers, (x,), (v,))[1])(x)


def reverse_over_reverse(x, v):
    return adkit.grad(lambda x: np.sum(adkit.grad(layers)(x) * v))(x)


def full_hessian(x, v):
    return adkit.hessian(layers)(x) @ v


compositions = (forward_over_reverse, reverse_over_forward, reverse_over_reverse, full_hessian)


def best_of(fn, *args, repeats=5):
    return min(seconds(fn, *args) for _ in range(repeats))


print(f"{'n':>7} {'gradient':>10}" + "".join(f"{c.__name__.replace('_', ' '):>22}" for c in compositions))
for n in (100, 1000, 100_000):
    x, v = rng.normal(size=n), rng.normal(size=n)
    t_grad = best_of(adkit.grad(layers), x)
    row = [best_of(c, x, v, repeats=1 if c is full_hessian else 5) if c is not full_hessian or n <= 1000
           else None for c in compositions]
    print(f"{n:>7} {t_grad * 1e3:>7.2f} ms" + "".join(
        f"{t * 1e3:>12.2f} ms ({t / t_grad:4.1f}x)" if t else f"{'(n² entries)':>22}" for t in row))

# %% [markdown]
# The winner is an HVP, any of the three, against the full Hessian: at
# $n = 1000$ the Hessian already costs hundreds of HVPs, and at $n = 10^5$
# its $10^{10}$ entries would not fit in memory. Each composition costs a
# few gradients, within a small factor of the others.
#
# Among the compositions the textbook choice is forward over reverse: the
# outer forward mode adds a constant factor to the gradient's computation
# and records no second tape, and in compiled libraries it is the fastest
# (JAX's Autodiff Cookbook measures it). That is why `adkit.hvp`,
# `adkit.hessian`, `jax.hessian` and `torch.func.hessian` use it. In adkit,
# interpreted Python, the other two are no slower and sometimes a little
# faster here, because their outer sweep runs on plain NumPy arrays while
# forward over reverse runs the inner sweep on dual numbers.
#
# Memory tells the same story of implementation details. Measured with
# `tracemalloc`, in arrays of $x$'s size, at $n = 10^5$ (this is checked: it
# does not depend on the machine's speed):

# %%
def peak_arrays(fn, *args):
    """Peak memory allocated while fn(*args) runs, in arrays of args[0]'s size."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn(*args)
        return (tracemalloc.get_traced_memory()[1] - base) / args[0].nbytes
    finally:
        tracemalloc.stop()


x, v = rng.normal(size=100_000), rng.normal(size=100_000)
results = [c(x, v) for c in compositions[:3]]
agree = all(np.allclose(r, results[0], rtol=1e-12, atol=1e-12) for r in results)
print("the three compositions agree:", agree)
print(f"{'gradient':>22}: {peak_arrays(adkit.grad(layers), x):4.0f} arrays")
for c in compositions[:3]:
    print(f"{c.__name__.replace('_', ' '):>22}: {peak_arrays(c, x, v):4.0f} arrays")

# %% [markdown]
# A gradient keeps about two arrays per layer: only what its reverse rules
# read (adkit's tapes drop the rest, notebook 4). Forward over reverse keeps
# the most here: its tape holds dual numbers, and adkit keeps each of them
# whole, value and tangent, for all four operations of a layer. The two
# compositions whose outer mode is reverse record their (outer) tape on
# plain arrays, and it drops what its rules do not read. Which
# composition is leanest depends on the function and on how a library
# stores its tapes, not on a law of AD: all three stay within a small factor
# of a gradient, in time and in memory, while the Hessian grows like $n^2$.

# %% [markdown]
# ## 3. Nesting in any combination of modes
#
# `adkit.diff(f, mode=...)` returns a function, so it can be differentiated
# again, in either mode. Take $f(x) = \sin(x)\,e^x$, with
# $f''(x) = 2\,e^x \cos x$. All nine combinations of the outer and inner mode
# agree (forward over reverse is what `hessian` uses; reverse over reverse is
# `grad(grad(f))`; forward over forward is what `derivative` uses below):


# %%
def f(x):
    return np.sin(x) * np.exp(x)


x = 0.5
exact = 2 * np.exp(x) * np.cos(x)
modes = ("forward", "reverse", "auto")
print(f"f''({x}) = 2 e^x cos x = {exact:.12g}\n")
lines = [f"{'outer/inner':<15}" + "".join(f"{m:>17}" for m in modes)]
for outer in modes:
    row = [adkit.diff(adkit.diff(f, mode=inner), mode=outer)(x) for inner in modes]
    lines.append(f"{outer:<15}" + "".join(f"{d:>17.12g}" for d in row))
print("\n".join(lines))

# %% [markdown]
# Deeper nests work the same way; a third derivative, reverse over forward
# over reverse, against $f'''(x) = 2e^x(\cos x - \sin x)$:

# %%
third = adkit.diff(adkit.diff(adkit.diff(f, mode="reverse"), mode="forward"), mode="reverse")
print(f"f'''(0.5) = {third(0.5):.12g}   (2 e^x (cos x - sin x) = "
      f"{2 * np.exp(0.5) * (np.cos(0.5) - np.sin(0.5)):.12g})")

# %% [markdown]
# ## 4. k-th derivatives
#
# For a scalar function of a scalar, `adkit.derivative(f, order=k)` nests $k$
# levels of dual numbers. Check it against a closed form: since
# $\sin(x)\,e^x = \operatorname{Im} e^{(1+i)x}$ and $1 + i = \sqrt 2\, e^{i\pi/4}$,
#
# $$\frac{d^k}{dx^k}\,\sin(x)\,e^x = 2^{k/2}\,e^x \sin\!\left(x + \frac{k\pi}{4}\right).$$


# %%
def closed_form(x, k):
    return 2 ** (k / 2) * np.exp(x) * np.sin(x + k * np.pi / 4)


lines = [f"{'k':>2} {'adkit.derivative':>18} {'closed form':>18}"]
worst = 0.0
for k in range(9):
    d, exact = adkit.derivative(f, order=k)(0.5), closed_form(0.5, k)
    worst = max(worst, abs(d - exact) / abs(exact))
    lines.append(f"{k:>2} {d:>18.10g} {exact:>18.10g}")
print("\n".join(lines))
print("largest relative difference below 1e-13:", worst < 1e-13)

# %% [markdown]
# `derivative` works elementwise on an array of points, which makes plots
# easy. The derivatives rotate by $45°$ and grow by $\sqrt 2$ with each order:

# %%
xs = np.linspace(-2, 2, 200)
fig, ax = plt.subplots(figsize=(7, 4))
for k in range(5):
    ax.plot(xs, adkit.derivative(f, order=k)(xs), label=f"$f^{{({k})}}$")
ax.plot(xs[::12], closed_form(xs[::12], 4), "k.", label="closed form, k = 4")
ax.axhline(0, color="gray", lw=0.5)
ax.set_xlabel("x")
ax.set_title(r"Derivatives of $f(x) = \sin(x)\, e^x$ by adkit.derivative")
ax.legend(ncol=2)
plt.show()

# %% [markdown]
# Nesting has a price. $k$ levels of dual numbers carry $2^k$ numbers per
# value (one per subset of the $k$ perturbations $\varepsilon_1, \dots,
# \varepsilon_k$): the *storage* doubles with each order. The *time* grows
# faster: a product of two $k$-level duals,
# $(a + b\,\varepsilon_k)(c + d\,\varepsilon_k) = ac + (ad + bc)\,\varepsilon_k$,
# takes three products of $(k-1)$-level duals, so it costs $3^k$
# multiplications of numbers, about 9 times more per two orders. Timing
# (machine-dependent, not checked):

# %% tags=["nbval-ignore-output"]
lines = []
for k in (1, 2, 4, 6, 8, 10):
    lines.append(f"order {k:>2}: {seconds(adkit.derivative(f, order=k), 0.5) * 1e3:8.2f} ms")
print("\n".join(lines))

# %% [markdown]
# The operations can be counted exactly, without a clock: record the $k$-th
# derivative's computation on a tape (`adkit.Var` at the bottom of the
# nest), where every entry is one operation on plain numbers. The count
# grows by a factor that approaches 3 per order:

# %%
counts = []
for k in range(9):
    with adkit.Tape() as tape:
        adkit.derivative(f, order=k)(adkit.Var(0.5))
    counts.append(len(tape.nodes))
print("order k:              ", " ".join(f"{k:>6}" for k in range(9)))
print("operations on numbers:", " ".join(f"{c:>6}" for c in counts))
print("growth per order:     ", "       " + " ".join(f"{b / a:>6.2f}" for a, b in pairwise(counts)))

# %% [markdown]
# Beyond a handful of orders, **Taylor-mode AD** is the better tool: it
# propagates the truncated power series $x_0 + x_1 t + \dots + x_k t^k$, that
# is $k + 1$ numbers per value instead of $2^k$. A product of two series is a
# convolution of their coefficients, $O(k^2)$ work instead of $3^k$ (JAX has
# it as `jax.experimental.jet`; adkit does not implement it).

# %% [markdown]
# ## 5. Perturbation confusion
#
# Nesting is where AD implementations go subtly wrong. The classic test
# (Siskind and Pearlmutter, 2005):
#
# $$\frac{d}{dx}\left[\, x \cdot \frac{d}{dy}(x + y)\Big|_{y = 1} \right]_{x = 1}.$$
#
# The inner derivative is $\frac{d}{dy}(x + y) = 1$ for every $x$, so the
# bracket is $x$ and the answer is **1**. adkit gives 1 in every combination
# of modes:


# %%
def outer_function(x, inner_mode):
    return x * adkit.diff(lambda y: x + y, mode=inner_mode)(1.0)


lines = [f"{'outer/inner':<15}" + "".join(f"{m:>9}" for m in modes)]
for outer in modes:
    row = [adkit.diff(lambda x, inner=inner: outer_function(x, inner), mode=outer)(1.0) for inner in modes]
    lines.append(f"{outer:<15}" + "".join(f"{d:>9.6g}" for d in row))
print("\n".join(lines))

# %% [markdown]
# **What a confused implementation gives.** Forward mode computes a derivative
# by evaluating at $x + \varepsilon$ with $\varepsilon^2 = 0$ and reading off
# the coefficient of $\varepsilon$. Suppose both derivatives use the *same*
# $\varepsilon$. The outer one sets $x = 1 + \varepsilon$; the inner one sets
# $y = 1 + \varepsilon$ and gets
#
# $$x + y = 2 + 2\varepsilon \quad\Rightarrow\quad \frac{d}{dy}(x + y) = 2 \;\text{(wrong)},$$
#
# because it cannot tell $x$'s perturbation from its own. The bracket becomes
# $2x$ and the final answer **2**.
#
# adkit's hand-made dual numbers show this. `adkit.Dual(value, tangent)` built
# by hand all carry one shared perturbation (that is what makes
# `Dual(2, 1) * Dual(3, 0)` mean one direction), so a derivative operator
# written naively with them is confused:


# %%
def naive_derivative(g, x):
    """d/dx g(x) with a hand-made dual number: every call uses the same perturbation."""
    return g(adkit.Dual(x, 1.0)).tangent


confused = naive_derivative(lambda x: x * naive_derivative(lambda y: x + y, 1.0), 1.0)
print(f"naive nested dual numbers:  {confused:g}   (wrong)")
print(f"adkit.diff nested:          "
      f"{adkit.diff(lambda x: outer_function(x, 'forward'), mode='forward')(1.0):g}")

# %% [markdown]
# **How adkit avoids it: levels (tags).** Each differentiation that
# `adkit.diff`, `grad`, `jvp`, `hessian` ... performs takes a fresh *level*
# (ForwardDiff.jl calls them tags, JAX trace levels), so its
# perturbation $\varepsilon_k$ is distinct from every other one:
# $\varepsilon_1^2 = \varepsilon_2^2 = 0$ but $\varepsilon_1\varepsilon_2 \neq 0$.
# In the test, $x = 1 + \varepsilon_1$ and $y = 1 + \varepsilon_2$, so
#
# $$x + y = 2 + \varepsilon_1 + \varepsilon_2 \quad\Rightarrow\quad
# \frac{d}{dy}(x + y) = \text{coefficient of } \varepsilon_2 = 1 .$$
#
# When an operation meets values of several levels, the innermost (highest)
# level handles it and treats the others as constants; extracting a
# derivative removes only its own level's perturbation. The same holds for
# tapes in reverse mode, where each nested tape has its own level, and for
# mixtures of the two.

# %% [markdown]
# ## 6. When a derivative looks wrong: `adkit.check_grads`
#
# A wrong derivative is silent: it is a number like any other. The usual
# culprit is a hand-written rule, for instance for your own primitive
# (`adkit.primitive`, used for numerically stable formulas or black boxes).
# Here is `softplus`, $\log(1 + e^x)$, whose derivative is the sigmoid
# $\sigma(x) = 1/(1 + e^{-x})$, with a sign slip in its forward rule:


# %%
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@adkit.primitive
def softplus(x):
    """log(1 + e^x), without overflow for large x."""
    return np.logaddexp(0.0, x)


softplus.defjvp(lambda t, out, x: t * sigmoid(-x))  # BUG: should be sigmoid(x)
softplus.defvjp(lambda ct, out, x: ct * sigmoid(x))

x = np.array([0.5, -1.0, 2.0])
print("forward mode:", np.diag(adkit.diff(softplus, mode="forward")(x)))
print("reverse mode:", np.diag(adkit.diff(softplus, mode="reverse")(x)))

# %% [markdown]
# The modes disagree, so at least one is wrong; but which? `adkit.check_grads(f, *args)`
# compares adkit against central finite differences along a random direction
# $v$ (forward mode: $Jv$; reverse mode: $\langle J^{\mathsf T}u, v\rangle$ for a
# random $u$), runs the dot-product test $\langle u, Jv\rangle = \langle J^{\mathsf T}u, v\rangle$
# between the modes, and repeats all of it on the derivatives themselves up to
# `order` (default 2, so second derivatives in every nesting are checked too).
# It raises `adkit.GradientCheckError` naming the check that failed:

# %%
try:
    adkit.check_grads(softplus, x)
except adkit.GradientCheckError as err:
    print("GradientCheckError:", err)

# %% [markdown]
# It points at forward mode, so at the JVP rule. Fix it and check again: `check_grads` returns
# quietly when everything agrees.

# %%
softplus.defjvp(lambda t, out, x: t * sigmoid(x))
adkit.check_grads(softplus, x)
print("check_grads passed: forward, reverse and second derivatives agree with finite differences")
print("derivative:", np.diag(adkit.diff(softplus, mode="forward")(x)))
print("sigmoid(x):", sigmoid(x))

# %% [markdown]
# ## 7. Where AD goes wrong
#
# AD differentiates the program as it runs, one elementary operation at a
# time, and every rule it applies is exact. Where its answer still differs
# from the derivative a mathematician would write, the program and the
# function are not the same thing, or the function has no derivative.
# Perturbation confusion (section 5) is one such place, caused by the
# implementation; the four below are caused by the program.
#
# ### A branch taken at a point
#
# This function is the identity, $f(x) = x$, written with a special case:


# %%
def identity_with_a_special_case(x):
    return x if x != 1 else 1.0


for mode in ("forward", "reverse"):
    d = adkit.diff(identity_with_a_special_case, mode=mode)
    print(f"{mode:7}: f'(1) = {d(1.0):g},  f'(1.5) = {d(1.5):g}")

# %% [markdown]
# At $x = 1$ the program returns a constant, and the derivative of a
# constant is 0. AD differentiates the branch that runs; it cannot know that
# the other branch agrees with this one at this single point. JAX gives the
# same 0; in PyTorch the constant is not connected to `x` at all, so
# `backward()` raises an error. Such programs are correct almost
# everywhere, and wrong exactly where the special case is.
#
# ### Kinks, and the conventions for them
#
# $|x|$ at 0, $\max(x, 0)$ at 0, a maximum over ties: there is no
# derivative, only a set of valid *subgradients* (any value between the
# one-sided slopes). A library must return something and picks by
# convention. adkit's, computed here in both modes:

# %%
cases = {
    "d/dx |x| at 0": (np.abs, 0.0),
    "d/dx max(x, 0) at 0 (np.maximum)": (lambda x: np.maximum(x, 0.0), 0.0),
    "grad of max([3, 1, 3])": (np.max, np.array([3.0, 1.0, 3.0])),
    "d/dx clip(x, 0, 1) at 0 and at 1": (lambda x: np.clip(x, 0.0, 1.0), np.array([0.0, 1.0])),
    "grad of ‖x‖ at x = 0": (np.linalg.norm, np.zeros(2)),
}
for name, (fn, at) in cases.items():
    values = []
    for mode in ("forward", "reverse"):
        d = adkit.diff(fn, mode=mode)(at)
        values.append(np.diag(d) if np.ndim(d) == 2 else d)
    assert np.array_equal(values[0], values[1])  # the same in both modes
    print(f"{name:34} {values[0]}")

# %% [markdown]
# The same cases in JAX 0.10 and PyTorch 2.13 (float64; checked by hand
# against those libraries, not run here):
#
# | | adkit | JAX | PyTorch |
# |---|---|---|---|
# | $\lvert x\rvert'$ at 0 | 0 | 1 | 0 |
# | $\max(x, 0)'$ at 0, as `maximum(x, 0)` | 0.5 | 0.5 | 0.5 |
# | the same as `relu(x)` | (no `relu`) | 0 (`jax.nn.relu`) | 0 (`torch.relu`) |
# | gradient of $\max(3, 1, 3)$ | (0.5, 0, 0.5) | (0.5, 0, 0.5) | (0.5, 0, 0.5) |
# | `clip(x, 0, 1)'` at 0 and 1 | 1, 1 | 0.5, 0.5 | 1, 1 (`clamp`) |
# | gradient of $\lVert x\rVert$ at 0 | (0, 0) | (nan, nan) | (0, 0) |
#
# Each is a defensible choice; a program whose result depends on it (a
# training run that starts exactly at a kink, a test that compares
# libraries) should not. Two habits help: write the kink explicitly
# (`np.abs(x)`, not `np.sqrt(x**2)`, whose derivative at 0 is $0 \cdot \infty$),
# and avoid starting exactly on one.

# %%
root_of_square = lambda x: np.sqrt(x**2)
for mode in ("forward", "reverse"):
    print(f"{mode:7}: d/dx sqrt(x²) at 0 = {adkit.diff(root_of_square, mode=mode)(np.zeros(1))[0, 0]}")

# %% [markdown]
# The chain rule multiplies $\sqrt{\cdot}$'s infinite slope at 0 by $x^2$'s
# zero slope. Forward mode meets $0 \cdot \infty$ with an exactly zero
# tangent, which adkit's rules treat as 0; reverse mode meets
# $\infty \cdot 0$ after the cotangent has already become infinite, and
# IEEE arithmetic says `nan`. JAX and PyTorch give `nan` too.
#
# ### `nan` from the branch `np.where` did not take
#
# `np.where(x > 0, np.sqrt(x), 0.0)` has a perfectly good value at $x = 0$,
# and its derivative there is 0 (the second branch is selected). But both
# branches are *computed*, and the chain rule passes through both: the
# unselected $\sqrt{x}$ has slope $\infty$ at 0, multiplied by the 0 that
# `where` sends it. In IEEE arithmetic $0 \cdot \infty$ is `nan`, and that is
# what JAX's `grad` and PyTorch's `backward` return:
#
# | gradient at $x = (0, 4)$ | adkit | JAX | PyTorch |
# |---|---|---|---|
# | `where(x > 0, sqrt(x), 0)` | (0, 0.25) | (nan, 0.25) | (nan, 0.25) |
# | `where(x > 0, sqrt(where(x > 0, x, 1)), 0)` | (0, 0.25) | (0, 0.25) | (0, 0.25) |
#
# adkit's rules treat an exactly zero cotangent times an infinite partial as
# 0 (a convention written in `adkit/rules.py`), so the first line is already
# clean here. The second line, the *double where*, is the portable fix: the
# unselected branch is evaluated at a harmless point, so no infinity arises
# in any library.

# %%
x = np.array([0.0, 4.0])
single = lambda x: np.sum(np.where(x > 0, np.sqrt(x), 0.0))
double = lambda x: np.sum(np.where(x > 0, np.sqrt(np.where(x > 0, x, 1.0)), 0.0))
for name, fn in (("where", single), ("double where", double)):
    forward = adkit.diff(fn, mode="forward")(x)
    reverse = adkit.diff(fn, mode="reverse")(x)
    print(f"{name:12}  forward {forward}  reverse {reverse}")

# %% [markdown]
# ### Differentiating through an iterative solver
#
# Many functions are computed by iterating until convergence: a square root
# by Newton's method, $y_{k+1} = \tfrac12 (y_k + a / y_k)$, a fixed point, a
# linear or nonlinear solver. AD through the loop differentiates the
# *iterations*: the derivative of the $k$-th iterate, which is not the
# derivative of the solution until the iteration has converged, and which
# lags behind the value. The tape holds every iteration, too.

# %%
def newton_sqrt(a, iterations):
    y = 1.0
    for _ in range(iterations):
        y = (y + a / y) / 2
    return y


a = 2.0
exact_value, exact_slope = np.sqrt(a), 1 / (2 * np.sqrt(a))
print("iterations  error of y_k   error of AD's dy_k/da   error of 1/(2 y_k)")
for k in range(1, 6):
    y_k = newton_sqrt(a, k)
    slope = adkit.derivative(lambda a, k=k: newton_sqrt(a, k))(a)
    print(f"{k:10} {abs(y_k - exact_value):12.1e} {abs(slope - exact_slope):18.1e} "
          f"{abs(1 / (2 * y_k) - exact_slope):20.1e}")

# %% [markdown]
# After three iterations the value is right to $2 \times 10^{-6}$ but AD's
# derivative only to about $10^{-5}$. The last column is the **implicit
# function theorem**: the solution satisfies $F(y, a) = y^2 - a = 0$, so
# $\partial_y F\, dy + \partial_a F\, da = 0$ and
#
# $$\frac{dy}{da} = -\left(\frac{\partial F}{\partial y}\right)^{-1}
#   \frac{\partial F}{\partial a} = \frac{1}{2y},$$
#
# one formula evaluated at the solution, whatever the solver did to find it,
# with no tape of the iterations. Its error follows the value's. With adkit,
# make the solver a primitive (so it is not traced) and give it the
# implicit rule:

# %%
@adkit.primitive
def square_root(a):
    """√a by Newton's method from above, iterated until it stops decreasing."""
    y = max(float(a), 1.0)
    while (y_next := (y + a / y) / 2) < y:
        y = y_next
    return y


square_root.defjvp(lambda t, out, a: t / (2 * out))  # dy = da / (2y): the implicit function theorem
square_root.defvjp(lambda ct, out, a: ct / (2 * out))
adkit.check_grads(square_root, 2.0)  # first and second derivatives, both modes, against differences
print(f"dy/da at a = 2: {adkit.derivative(square_root)(2.0):.15f}  (1/(2√2) = {exact_slope:.15f})")

# %% [markdown]
# JAX offers the same with `jax.custom_jvp` and, for root finding,
# `jax.lax.custom_root`; PyTorch with `torch.autograd.Function`. By default
# all three libraries, adkit included, differentiate a Python loop by
# unrolling it (JAX's compiled `lax.while_loop` has forward mode only).

# %% [markdown]
# ## Summary
#
# * `adkit.hessian(f)` is forward over reverse; `adkit.hvp(f)(x, v)` gives
#   $\nabla^2 f(x)\,v$ for about two gradients, without the $n\times n$ matrix.
# * `adkit.diff` nests in any combination of modes; `adkit.derivative(f, order=k)`
#   gives k-th derivatives of scalar functions ($2^k$ numbers per value, about
#   $3^k$ operations; Taylor mode would take $O(k^2)$).
# * Nested derivatives need distinct perturbations: adkit gives each
#   differentiation its own level, so $\frac{d}{dx}\left[x\,\frac{d}{dy}(x + y)\right] = 1$,
#   where a confused implementation gives 2.
# * When a derivative looks wrong, `adkit.check_grads(f, *args)` compares every
#   mode and order with finite differences and says which one disagrees.
# * AD differentiates the program that runs: a branch taken at a point, a
#   kink (where libraries pick different subgradients), `nan` from the branch
#   `np.where` did not take, and loops of a solver (where the implicit
#   function theorem is the better derivative) are where its answer differs
#   from the mathematician's.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: an HVP two ways
#
# For $f(x) = \sum_i x_i^4 - x_0 x_1$ at $x = (1, 2, 3)$ and $v = (1, 0, -1)$,
# compute $\nabla^2 f(x)\,v$ by forward over reverse and by reverse over
# reverse, composing `adkit.jvp` and `adkit.grad` yourself, and compare both
# with `adkit.hvp` and with the Hessian by hand,
# $\nabla^2 f = \operatorname{diag}(12 x_i^2) - (E_{01} + E_{10})$.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def quartic(x):
    return np.sum(x**4) - x[0] * x[1]


x, v = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, -1.0])
by_forward_over_reverse = adkit.jvp(adkit.grad(quartic), (x,), (v,))[1]
by_reverse_over_reverse = adkit.grad(lambda x: np.sum(adkit.grad(quartic)(x) * v))(x)
H_by_hand = np.diag(12 * x**2) - np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
for Hv in (by_forward_over_reverse, by_reverse_over_reverse, adkit.hvp(quartic)(x, v)):
    assert np.allclose(Hv, H_by_hand @ v, rtol=1e-14, atol=1e-14)
print("H v =", H_by_hand @ v, "by both compositions, adkit.hvp and by hand")

# %% [markdown]
# ### Exercise 2: a third derivative
#
# $\tan''' x = 2 \sec^2 x\,(1 + 3\tan^2 x)$. Check it with
# `adkit.derivative(np.tan, order=3)` at ten points of $(-1.2, 1.2)$, and
# count (with a tape, as in section 4) the operations on numbers it takes.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
xs = np.linspace(-1.2, 1.2, 10)
third = adkit.derivative(np.tan, order=3)(xs)
assert np.allclose(third, 2 / np.cos(xs) ** 2 * (1 + 3 * np.tan(xs) ** 2), rtol=1e-13)
with adkit.Tape() as tape:
    adkit.derivative(np.tan, order=3)(adkit.Var(0.3))
assert len(tape.nodes) > 1
print(f"tan''' agrees with the closed form at ten points; it took {len(tape.nodes)} operations at one point")

# %% [markdown]
# ### Exercise 3: a "wrong" derivative
#
# Write a function that equals $x^2$ at every $x$ but whose AD derivative at
# $x = 3$ is not 6, and explain why. (Then find one whose AD derivative is
# wrong at *no* point although it contains an `if`.)

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def square_with_a_shortcut(x):
    return 9.0 if x == 3 else x * x  # the value is right; the branch taken at 3 is a constant


def square_by_cases(x):
    return x * x if x >= 0 else (-x) * (-x)  # both branches are x², with derivative 2x


points = (-2.0, 0.5, 3.0)
assert all(square_with_a_shortcut(p) == p * p for p in points)
assert adkit.derivative(square_with_a_shortcut)(3.0) == 0.0  # not 6: AD differentiates the constant
assert adkit.derivative(square_with_a_shortcut)(2.0) == 4.0
assert all(adkit.derivative(square_by_cases)(p) == 2 * p for p in points)
print("the shortcut's derivative at 3 is 0; the branches that agree as functions give 2x everywhere")
