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
# # 7. Reverse mode on matrices
#
# So far the tape held operations on numbers. Nothing changes when the
# values are whole matrices: the tape records one entry per **matrix
# operation** (a product, an inverse, a determinant), each with a rule that
# pulls a matrix-shaped adjoint back through it. This notebook
#
# 1. derives three classic gradients of matrix calculus (least squares, the
#    log-determinant, a quadratic form) and checks adkit against the closed
#    forms;
# 2. trains a small neural network with plain gradient descent, its
#    parameters a list of `(W, b)` pairs and its gradient computed by
#    `adkit.value_and_grad` in one reverse sweep.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * find the gradient of a scalar function of a matrix from its differential,
#   $dL = \operatorname{tr}(G^\top dW) \Rightarrow \nabla_W L = G$, and check it against adkit;
# * read a tape of matrix operations backwards, each adjoint shaped like its value;
# * write the VJP rule of your own primitive and check it with `adkit.check_grads`;
# * train a small network with `adkit.value_and_grad` on a pytree of parameters.

# %%
# %matplotlib inline
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np

import adkit

np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## Gradients with respect to a matrix
#
# For a scalar function $L(W)$ of a matrix $W \in \mathbb{R}^{p\times q}$, the
# gradient $\nabla_W L$ is the $p\times q$ matrix of the partial derivatives
# $\partial L/\partial W_{ij}$: it has the shape of $W$ (in adkit as in JAX,
# the derivative has shape `L(W).shape + W.shape`, and `L(W).shape` is `()`).
# The quickest way to find it by hand is the differential: if
#
# $$
# dL = \operatorname{tr}\!\left(G^\top dW\right) = \sum_{ij} G_{ij}\, dW_{ij}
# \quad\text{for every } dW, \qquad \text{then } \nabla_W L = G.
# $$
#
# ### Least squares: $L(W) = \lVert A W - B\rVert_F^2$
#
# With the residual $R = AW - B$: $dL = 2\operatorname{tr}(R^\top A\, dW)
# = \operatorname{tr}\big((2A^\top R)^\top dW\big)$, so
#
# $$
# \nabla_W \lVert AW - B\rVert_F^2 = 2 A^\top (A W - B).
# $$

# %%
rng = np.random.default_rng(0)
A = rng.normal(size=(6, 3))
B = rng.normal(size=(6, 2))
W = rng.normal(size=(3, 2))


def least_squares(W):
    return np.sum((A @ W - B) ** 2)


grad_ad = adkit.grad(least_squares)(W)
grad_closed = 2 * A.T @ (A @ W - B)
print(f"L(W) = {least_squares(W):.6g}")
print("adkit.grad:\n", grad_ad)
print("2 Aᵀ(AW - B):\n", grad_closed)
print("agree to 1e-12:", np.allclose(grad_ad, grad_closed, rtol=1e-12, atol=1e-12))

# %% [markdown]
# **What the tape holds.** Recording the same computation with
# `adkit.Var` on an `adkit.Tape` shows four operations after the input, each
# on a whole array; the reverse sweep gives every one of them a matrix adjoint
# of its own shape. Reading it backwards gives the closed form:
# $\bar v_4 = 1$; $\bar v_3 = \bar v_4 \mathbf{1}$ (the sum spreads it);
# $\bar v_2 = 2 v_2 \odot \bar v_3 = 2R$; $\bar v_1 = \bar v_2$; and the rule
# of the product $v_1 = A v_0$ is $\bar v_0 = A^\top \bar v_1 = 2A^\top R$.

# %%
with adkit.Tape() as tape:
    W_var = adkit.Var(W)
    L = least_squares(W_var)
for node in tape.nodes:
    print(f"t{node.index}: {node.label:18} shape {node.shape}")
L.backward()
print("W_var.grad equals the closed form:", np.allclose(W_var.grad, grad_closed, rtol=1e-12, atol=1e-12))

# %% [markdown]
# The gradient vanishes at the least-squares solution $W^\star$ (the normal
# equations $A^\top A W^\star = A^\top B$), here computed by NumPy:

# %%
W_star = np.linalg.lstsq(A, B, rcond=None)[0]
print("largest |∇L(W*)| below 1e-12:", np.max(np.abs(adkit.grad(least_squares)(W_star))) < 1e-12)

# %% [markdown]
# ### The log-determinant: $\nabla_X \log\lvert\det X\rvert = X^{-\top}$
#
# Jacobi's formula gives $d \det X = \det X \operatorname{tr}(X^{-1} dX)$, so
# $d \log\lvert\det X\rvert = \operatorname{tr}(X^{-1} dX) =
# \operatorname{tr}\big((X^{-\top})^\top dX\big)$ and
#
# $$
# \nabla_X \log\lvert\det X\rvert = X^{-\top}.
# $$
#
# Note the transpose: for a matrix that is not symmetric, $X^{-\top} \ne X^{-1}$.
# adkit differentiates both ways of writing it, `np.linalg.slogdet` (the
# numerically safe one) and `np.log(np.linalg.det(X))`.

# %%
X = 2 * np.eye(3) + rng.normal(size=(3, 3))
sign, logdet = np.linalg.slogdet(X)
print(f"det X = {np.linalg.det(X):.6g}, log|det X| = {logdet:.6g}")

grad_slogdet = adkit.grad(lambda X: np.linalg.slogdet(X)[1])(X)
grad_logdet = adkit.grad(lambda X: np.log(np.linalg.det(X)))(X)
X_inv_T = np.linalg.inv(X).T
print("gradient of log|det X|:\n", grad_slogdet)
print("X^-T:\n", X_inv_T)
print("slogdet agrees to 1e-12:", np.allclose(grad_slogdet, X_inv_T, rtol=1e-12, atol=1e-12))
print("log(det) agrees to 1e-12:", np.allclose(grad_logdet, X_inv_T, rtol=1e-12, atol=1e-12))
print("and it is not X^-1:", not np.allclose(grad_slogdet, np.linalg.inv(X)))

# %% [markdown]
# ### A quadratic form: $q(x, M) = x^\top M x$
#
# It is a function of two arguments. From $dq = dx^\top M x + x^\top M\, dx +
# x^\top dM\, x$:
#
# $$
# \nabla_x q = (M + M^\top)\, x, \qquad \nabla_M q = x x^\top, \qquad
# \nabla_x^2 q = M + M^\top .
# $$
#
# `argnums=(0, 1)` asks for both gradients at once (a tuple, as in JAX), and
# `adkit.hessian` (forward mode over reverse mode) for the second derivative.

# %%
M = rng.normal(size=(3, 3))
x = np.array([1.0, -2.0, 0.5])


def quadratic_form(x, M):
    return x @ M @ x


grad_x, grad_M = adkit.grad(quadratic_form, argnums=(0, 1))(x, M)
hess_x = adkit.hessian(quadratic_form)(x, M)
print("∇x q:", grad_x, "   (M + Mᵀ) x:", (M + M.T) @ x)
print("∇M q:\n", grad_M)
print("x xᵀ:\n", np.outer(x, x))
print("∇²x q:\n", hess_x)
checks = [np.allclose(grad_x, (M + M.T) @ x, rtol=1e-12, atol=1e-12),
          np.allclose(grad_M, np.outer(x, x), rtol=1e-12, atol=1e-12),
          np.allclose(hess_x, M + M.T, rtol=1e-12, atol=1e-12)]
print("all three agree to 1e-12:", all(checks))

# %% [markdown]
# ## Training a small network
#
# A multilayer perceptron is a composition of matrix operations, so its
# gradient is one reverse sweep over a tape like the one above, only longer.
#
# ### The data: two moons
#
# Two interleaving half circles, one per class, with Gaussian noise;
# 200 points to train on and 1000 more to test on, each from a seeded
# generator.

# %%
def two_moons(n, noise, rng):
    """n points on two interleaving half circles; labels 0 (upper) and 1 (lower)."""
    t = rng.uniform(0.0, np.pi, n)
    label = rng.integers(0, 2, n)
    upper = np.column_stack([np.cos(t), np.sin(t)])
    lower = np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])
    points = np.where(label[:, None] == 0, upper, lower) + noise * rng.normal(size=(n, 2))
    return points, label


X_train, y_train = two_moons(200, noise=0.15, rng=np.random.default_rng(1))
X_test, y_test = two_moons(1000, noise=0.15, rng=np.random.default_rng(3))

fig, ax = plt.subplots(figsize=(7, 4))
for label, color in ((0, "C0"), (1, "C3")):
    ax.scatter(*X_train[y_train == label].T, s=14, c=color, label=f"class {label}")
ax.set_aspect("equal")
ax.set_title("two moons: 200 training points")
ax.legend()
plt.show()

# %% [markdown]
# ### The model and the loss
#
# The network maps a point $x \in \mathbb{R}^2$ through two hidden layers of
# 16 $\tanh$ units to one number, the *logit* $z$:
#
# $$
# h_1 = \tanh(W_1 x + b_1), \quad h_2 = \tanh(W_2 h_1 + b_2), \quad z = W_3 h_2 + b_3,
# $$
#
# and predicts class 1 with probability $\sigma(z) = 1/(1 + e^{-z})$. Its
# parameters are a Python list of `(W, b)` pairs, a *pytree*; the weights start
# random (scaled by $1/\sqrt{\text{fan-in}}$, seeded) and the biases at zero.
#
# The loss is the mean logistic loss (binary cross-entropy). With the labels
# written as signs $s = 2y - 1 \in \{-1, +1\}$ it reads
# $\frac1N\sum_k \log\left(1 + e^{-s_k z_k}\right)$, which `np.logaddexp(0, -s z)`
# computes without overflow. A batch of points goes through as the rows of a
# matrix: `h @ W.T + b`.

# %%
def init_params(sizes, rng):
    return [(rng.normal(size=(n_out, n_in)) / np.sqrt(n_in), np.zeros(n_out))
            for n_in, n_out in pairwise(sizes)]


def logits(params, points):
    h = points
    for W, b in params[:-1]:
        h = np.tanh(h @ W.T + b)
    W, b = params[-1]
    return (h @ W.T + b)[:, 0]


signs = 2.0 * y_train - 1.0


def loss(params):
    return np.mean(np.logaddexp(0.0, -signs * logits(params, X_train)))


params = init_params([2, 16, 16, 1], np.random.default_rng(2))
for k, (W, b) in enumerate(params, start=1):
    print(f"layer {k}: W {W.shape}, b {b.shape}")
print(f"{sum(W.size + b.size for W, b in params)} parameters; initial loss {loss(params):.4g}")

# %% [markdown]
# `adkit.value_and_grad(loss)` returns the loss and its gradient from one
# reverse sweep. The gradient has the structure of what it differentiates:
# a list of `(∇W, ∇b)` pairs, each shaped like its parameter.

# %%
loss_and_grad = adkit.value_and_grad(loss)
value, grads = loss_and_grad(params)
print(f"loss {value:.4g}")
for k, (gW, gb) in enumerate(grads, start=1):
    print(f"layer {k}: ∇W {gW.shape}, ∇b {gb.shape}")

# %% [markdown]
# Before trusting a gradient, check it. `adkit.check_grads` compares forward
# and reverse mode with central finite differences along a random direction
# (and with each other: $\langle u, Jv\rangle = \langle J^\top u, v\rangle$);
# it raises an error on a disagreement and returns nothing otherwise.

# %%
adkit.check_grads(loss, params, modes=("forward", "reverse"), order=1)
print("gradient check passed")

# %% [markdown]
# ### Gradient descent
#
# Plain full-batch gradient descent, $\theta \leftarrow \theta - \eta\,
# \nabla_\theta L(\theta)$ with step size $\eta = 0.2$, applied to every
# parameter of the pytree, for 2000 steps (about two seconds).

# %%
learning_rate = 0.2
history = []
for step in range(2000):
    value, grads = loss_and_grad(params)
    history.append(value)
    if step % 400 == 0:
        print(f"step {step:4}: loss {value:.4g}")
    params = [(W - learning_rate * gW, b - learning_rate * gb) for (W, b), (gW, gb) in zip(params, grads)]


def accuracy(params, points, labels):
    return np.mean((logits(params, points) > 0) == labels)


print(f"final loss {loss(params):.4g}")
print(f"training accuracy {accuracy(params, X_train, y_train):.3f}, "
      f"test accuracy {accuracy(params, X_test, y_test):.3f}")

# %% [markdown]
# The loss falls quickly, then stalls on a plateau near 0.2: the network first
# separates the moons by a nearly straight line, which misclassifies their
# tips. It falls again once the hidden units learn to bend the boundary. The
# accuracy on the 1000 test points, which the network never saw, is a little
# lower than on the training points, as expected.
#
# Each step costs one evaluation of the loss on the tape and one reverse
# sweep, whatever the number of parameters: with $n = 337$ inputs and $m = 1$
# output, this is the case reverse mode was made for (notebook 6).

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogy(history)
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.set_title("gradient descent on the two moons")
ax.grid(True, which="both", alpha=0.3)
plt.show()

# %% [markdown]
# ### The decision boundary
#
# The trained parameters are plain NumPy arrays, so the network runs on a grid
# of points without adkit. Shading shows the predicted probability of class 1,
# the black line where it is one half.

# %%
g1, g2 = np.meshgrid(np.linspace(-1.6, 2.6, 300), np.linspace(-1.2, 1.7, 200))
grid = np.column_stack([g1.ravel(), g2.ravel()])
probability = (1.0 / (1.0 + np.exp(-logits(params, grid)))).reshape(g1.shape)

fig, ax = plt.subplots(figsize=(7, 4.5))
shading = ax.contourf(g1, g2, probability, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
ax.contour(g1, g2, probability, levels=[0.5], colors="k", linewidths=1.5)
for label, color in ((0, "C0"), (1, "C3")):
    ax.scatter(*X_train[y_train == label].T, s=14, c=color, edgecolors="w", linewidths=0.4)
fig.colorbar(shading, ax=ax, label="P(class 1)")
ax.set_aspect("equal")
ax.set_title("the trained network's decision boundary")
plt.show()

# %% [markdown]
# ## What to take away
#
# * Reverse mode works on matrices as it does on numbers: the tape holds one
#   entry per matrix operation, and the adjoint of every intermediate value
#   has that value's shape.
# * The matrix rules are the identities of matrix calculus:
#   $\bar W = A^\top \bar C$ for $C = AW$, and $\bar X = \bar y\, X^{-\top}$
#   for $y = \log\lvert\det X\rvert$. You can check any of them against a
#   closed form, or against finite differences with `adkit.check_grads`.
# * Gradients follow the structure of the parameters: a list of `(W, b)`
#   pairs in, a list of `(∇W, ∇b)` pairs out, ready for a gradient step.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: a VJP rule for logsumexp
#
# $\operatorname{logsumexp}(x) = \log \sum_i e^{x_i}$, computed stably as
# $m + \log \sum_i e^{x_i - m}$ with $m = \max_i x_i$. Make it a primitive
# (`@adkit.primitive`), derive its VJP (hint: $\partial/\partial x_i = e^{x_i - \text{out}}$, the
# softmax), give it with `.defvjp(lambda ct, out, x: ...)`, and check it with
# `adkit.check_grads(logsumexp, x, modes=("reverse",))` (reverse mode only: you gave no JVP).
# Then break the rule on purpose and see the check fail.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
@adkit.primitive
def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


logsumexp.defvjp(lambda ct, out, x: ct * np.exp(x - out))  # the softmax, scaled by the cotangent
x = np.array([1.0, -2.0, 3.0, 0.5])
adkit.check_grads(logsumexp, x, modes=("reverse",))  # first and second order, against differences
softmax = np.exp(x) / np.sum(np.exp(x))
assert np.allclose(adkit.grad(logsumexp)(x), softmax, rtol=1e-14)

logsumexp.defvjp(lambda ct, out, x: ct * np.exp(x))  # wrong: forgets to divide by the sum
try:
    adkit.check_grads(logsumexp, x, modes=("reverse",))
    raise AssertionError("check_grads should have caught the wrong rule")
except adkit.GradientCheckError:
    pass
print("the softmax rule passes check_grads; the wrong one is caught")

# %% [markdown]
# ### Exercise 2: the gradient of a Rayleigh quotient
#
# For a symmetric matrix $S$, $R(x) = \dfrac{x^\top S x}{x^\top x}$. From the differential,
# show that $\nabla R = \dfrac{2\,(Sx - R(x)\,x)}{x^\top x}$, and check it against `adkit.grad` at
# a random $x$. Why does it vanish at an eigenvector?

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
S = rng.normal(size=(4, 4))
S = S + S.T


def rayleigh(x):
    return (x @ S @ x) / (x @ x)


x = rng.normal(size=4)
by_hand = 2 * (S @ x - rayleigh(x) * x) / (x @ x)
assert np.allclose(adkit.grad(rayleigh)(x), by_hand, rtol=1e-12, atol=1e-12)
eigenvector = np.linalg.eigh(S)[1][:, 0]  # S e = λ e and R(e) = λ, so S e - R(e) e = 0
assert np.allclose(adkit.grad(rayleigh)(eigenvector), 0.0, atol=1e-12)
print("∇R matches 2(Sx - R(x) x) / xᵀx, and vanishes at an eigenvector")
