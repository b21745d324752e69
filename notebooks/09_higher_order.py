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
# and at `adkit.check_grads`, the tool to reach for when a derivative looks
# wrong.

# %%
# %matplotlib inline
import time

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
# It is not a descent method: the second step jumps far down the valley and
# $f$ rises twice on the way, but once the quadratic model is good the
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
# $n$ directions and $n^2$ memory, the HVP stays flat.


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
      f"{2 * np.exp(0.5) * (np.cos(0.5) - np.sin(0.5)):.12g})")  # fmt: skip

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
# Nesting has a price: $k$ levels of dual numbers carry $2^k$ numbers per
# value (every subset of the $k$ perturbations), so the cost doubles with each
# order. Beyond a handful of orders, Taylor-mode AD (propagating truncated
# power series, $k + 1$ numbers per value) is the better tool. Timing
# (machine-dependent, not checked):

# %% tags=["nbval-ignore-output"]
lines = []
for k in (1, 2, 4, 6, 8, 10):
    lines.append(f"order {k:>2}: {seconds(adkit.derivative(f, order=k), 0.5) * 1e3:8.2f} ms")
print("\n".join(lines))

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
      f"{adkit.diff(lambda x: outer_function(x, 'forward'), mode='forward')(1.0):g}")  # fmt: skip

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
# ## Summary
#
# * `adkit.hessian(f)` is forward over reverse; `adkit.hvp(f)(x, v)` gives
#   $\nabla^2 f(x)\,v$ for about two gradients, without the $n\times n$ matrix.
# * `adkit.diff` nests in any combination of modes; `adkit.derivative(f, order=k)`
#   gives k-th derivatives of scalar functions (cost doubling with each order).
# * Nested derivatives need distinct perturbations: adkit gives each
#   differentiation its own level, so $\frac{d}{dx}\left[x\,\frac{d}{dy}(x + y)\right] = 1$,
#   where a confused implementation gives 2.
# * When a derivative looks wrong, `adkit.check_grads(f, *args)` compares every
#   mode and order with finite differences and says which one disagrees.
