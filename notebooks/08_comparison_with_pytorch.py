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
# # 8. adkit and PyTorch side by side
#
# PyTorch is the automatic differentiation most people meet first. This
# notebook computes the same derivatives with adkit and with PyTorch, both
# its imperative `torch.autograd` (`.backward()`, `.grad`) and its functional
# `torch.func` (`grad`, `jacrev`, `jvp`, ... modelled on JAX), checks that they
# agree to $10^{-12}$ in float64, and ends with what differs.
#
# PyTorch is optional for adkit. Without it, every PyTorch cell prints a note
# and skips, and the adkit cells still run. (`pip install torch` to follow
# along.)

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * translate between PyTorch's `torch.autograd` and `torch.func` and adkit's APIs, both the
#   imperative (`.backward()`, `.grad`) and the functional (`grad`, `jvp`, `vjp`, `jacrev`,
#   `hessian`) ones;
# * explain how both libraries compose modes (`hessian` is forward over reverse) and accumulate
#   gradients;
# * say where the two differ: what they differentiate, who chooses the mode, what you can see.

# %%
# %matplotlib inline
import functools
import timeit

import matplotlib.pyplot as plt
import numpy as np

import adkit

try:
    import torch
except ImportError:  # the PyTorch cells below print a note and skip
    torch = None

np.set_printoptions(precision=6, suppress=True)
if torch is not None:
    torch.set_default_dtype(torch.float64)  # NumPy computes in float64: compare like with like

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: the PyTorch cells below will print a note and skip.")
else:
    print(f"PyTorch {torch.__version__}, default dtype {torch.get_default_dtype()}")

# %% [markdown]
# ## One source, two libraries
#
# adkit differentiates ordinary NumPy code: `np.sin` applied to adkit's traced
# values is routed to adkit's rules. PyTorch differentiates code written with
# `torch` functions on tensors. For the comparison each function below is
# written once, with the array library as a parameter `xp` (NumPy by
# default); `functools.partial(f, xp=torch)` is the PyTorch version. Only
# functions whose NumPy and torch names agree can be shared like this
# (`sin`, `exp`, `log`, `tanh`, `sum`, `stack`, `@`, indexing).

# %%
def baydin(x1, x2, xp=np):
    """The running example of Baydin et al. (2018): ln x1 + x1 x2 - sin x2."""
    return xp.log(x1) + x1 * x2 - xp.sin(x2)


def rosenbrock(x, xp=np):
    """Σ 100 (x[i+1] - x[i]²)² + (1 - x[i])²: a scalar function of a vector."""
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def curve(x, xp=np):
    """A map from R³ to R²."""
    return xp.stack([x[0] * x[1] + xp.sin(x[2]), xp.exp(-x[0]) * x[2] ** 2])


x = np.array([-1.2, 1.0, 0.5])
v = np.array([1.0, 0.0, -1.0])  # a tangent: a direction in the input space R³
u = np.array([1.0, 2.0])  # a cotangent: a weighting of the outputs in R²

if torch is not None:
    baydin_t, rosenbrock_t, curve_t = (functools.partial(f, xp=torch) for f in (baydin, rosenbrock, curve))
    x_t, v_t, u_t = torch.tensor(x), torch.tensor(v), torch.tensor(u)

# %% [markdown]
# ## The APIs at a glance
#
# Names without a prefix are `adkit.` in the adkit column and `torch.` in the
# PyTorch one.
#
# | task | adkit | PyTorch |
# |:---|:---|:---|
# | gradient | `grad(f)(x)` | `func.grad(f)(x)`; `autograd.grad(f(x), x)` |
# | value, gradient | `value_and_grad(f)(x)` → value, grad | `func.grad_and_value(f)(x)` → grad, value |
# | Jacobian | `jacobian(f, mode="auto")(x)` | `func.jacfwd(f)(x)`, `func.jacrev(f)(x)` |
# | Hessian | `hessian(f)(x)` | `func.hessian(f)(x)`; `autograd.functional.hessian(f, x)` |
# | JVP, $Jv$ | `out, Jv = jvp(f, (x,), (v,))` | `out, Jv = func.jvp(f, (x,), (v,))` |
# | VJP, $u^\top J$ | `out, pullback = vjp(f, x)`; `pullback(u)` | `func.vjp(f, x)`, the same |
# | imperative | `x = Var(1.5)`; `y.backward()`; `x.grad` | `x = tensor(1.5, requires_grad=True)`; the same |
# | which arguments | `argnums=(0, 1)` | `argnums=(0, 1)`; in `autograd`: `requires_grad=True` |
#
# Both functional APIs take after JAX, so they read almost the same. Now the
# numbers.

# %% [markdown]
# ## Gradients
#
# The gradient of Baydin's example at $(x_1, x_2) = (2, 5)$ is
# $(1/x_1 + x_2,\; x_1 - \cos x_2) = (5.5,\; 2 - \cos 5)$.

# %%
g1, g2 = adkit.grad(baydin, argnums=(0, 1))(2.0, 5.0)
print(f"adkit.grad:   ({g1:.12g}, {g2:.12g})")
print(f"by hand:      ({1 / 2 + 5:.12g}, {2 - np.cos(5.0):.12g})")

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:
    # torch.autograd: mark the inputs, compute, ask for the gradient of the output
    x1 = torch.tensor(2.0, requires_grad=True)
    x2 = torch.tensor(5.0, requires_grad=True)
    t1, t2 = torch.autograd.grad(baydin_t(x1, x2), (x1, x2))
    print(f"torch.autograd.grad: ({t1.item():.12g}, {t2.item():.12g})")
    # torch.func: transform the function, as adkit does
    f1, f2 = torch.func.grad(baydin_t, argnums=(0, 1))(torch.tensor(2.0), torch.tensor(5.0))
    print(f"torch.func.grad:     ({f1.item():.12g}, {f2.item():.12g})")
    for t in (t1, t2, f1, f2):
        assert t.dtype == torch.float64
    np.testing.assert_allclose([g1, g2], [t1.item(), t2.item()], rtol=1e-12)
    np.testing.assert_allclose([g1, g2], [f1.item(), f2.item()], rtol=1e-12)
    print("adkit and PyTorch agree to 1e-12")

# %% [markdown]
# A vector input: the gradient of the Rosenbrock function has the shape of
# $x$, and so does PyTorch's (as a tensor). `value_and_grad` gives both the
# value and the gradient from one reverse sweep; PyTorch's `grad_and_value`
# returns them the other way round.

# %%
value, gradient = adkit.value_and_grad(rosenbrock)(x)
print(f"rosenbrock(x) = {value:.12g}")
print("adkit gradient:", gradient)

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:
    gradient_t, value_t = torch.func.grad_and_value(rosenbrock_t)(x_t)
    print(f"rosenbrock(x) = {value_t.item():.12g}")
    print("torch gradient:", gradient_t.numpy())
    np.testing.assert_allclose(value, value_t.item(), rtol=1e-12)
    np.testing.assert_allclose(gradient, gradient_t.numpy(), rtol=1e-12)
    print("adkit and PyTorch agree to 1e-12")

# %% [markdown]
# ## Jacobians, JVPs and VJPs
#
# The Jacobian of `curve` at $x$ is $2\times 3$ (outputs by inputs). adkit
# builds it in forward or reverse mode, or picks one (`mode="auto"`, see
# notebook 6); in PyTorch you pick `jacfwd` or `jacrev` yourself.

# %%
J_forward = adkit.jacobian(curve, mode="forward")(x)
J_reverse = adkit.jacobian(curve, mode="reverse")(x)
print("adkit.jacobian, forward mode:\n", J_forward)
print("the two modes agree:", np.allclose(J_forward, J_reverse, rtol=1e-12, atol=0))

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:
    jacobians = {
        "torch.func.jacfwd": torch.func.jacfwd(curve_t)(x_t),
        "torch.func.jacrev": torch.func.jacrev(curve_t)(x_t),
        "torch.autograd.functional.jacobian": torch.autograd.functional.jacobian(curve_t, x_t),
    }
    for name, J_t in jacobians.items():
        np.testing.assert_allclose(J_forward, J_t.numpy(), rtol=1e-12)
        print(f"{name}: shape {tuple(J_t.shape)}, agrees with adkit to 1e-12")

# %% [markdown]
# A JVP pushes one tangent $v$ forward and gives $Jv$; a VJP pulls one
# cotangent $u$ back and gives $u^\top J$. Both libraries return the VJP as a
# tuple, one entry per argument of the function.

# %%
out, Jv = adkit.jvp(curve, (x,), (v,))
out, pullback = adkit.vjp(curve, x)
(uJ,) = pullback(u)
print("f(x) =", out)
print("J v  =", Jv, "  check:", J_forward @ v)
print("uᵀJ  =", uJ, "  check:", u @ J_forward)

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:
    out_t, Jv_t = torch.func.jvp(curve_t, (x_t,), (v_t,))
    out_t, pullback_t = torch.func.vjp(curve_t, x_t)
    (uJ_t,) = pullback_t(u_t)
    print("torch J v =", Jv_t.numpy(), "  uᵀJ =", uJ_t.numpy())
    np.testing.assert_allclose(out, out_t.numpy(), rtol=1e-12)
    np.testing.assert_allclose(Jv, Jv_t.numpy(), rtol=1e-12)
    np.testing.assert_allclose(uJ, uJ_t.numpy(), rtol=1e-12)
    print("adkit and PyTorch agree to 1e-12")

# %% [markdown]
# ### Shapes
#
# For an input of any shape the derivative has shape
# `f(x).shape + x.shape`, in adkit (which follows JAX) and in PyTorch alike.
# Here the input is a $2\times 3$ matrix $W$ and the output a vector of 2:

# %%
def layer(W, a, xp=np):
    """tanh(W a): differentiated with respect to the matrix W."""
    return xp.tanh(W @ a)


W = np.array([[0.5, -1.0, 0.25], [1.5, 0.5, -0.5]])
a = np.array([1.0, 2.0, -1.0])
J_W = adkit.jacobian(layer)(W, a)  # argnums=0: with respect to W
print("adkit:", J_W.shape, "=", layer(W, a).shape, "+", W.shape)

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:
    J_W_t = torch.func.jacrev(functools.partial(layer, xp=torch))(torch.tensor(W), torch.tensor(a))
    print("torch:", tuple(J_W_t.shape))
    np.testing.assert_allclose(J_W, J_W_t.numpy(), rtol=1e-12)
    print("adkit and PyTorch agree to 1e-12")

# %% [markdown]
# ## Hessians
#
# `adkit.hessian` is forward mode over reverse mode: a forward-mode Jacobian
# of the reverse-mode gradient. `torch.func.hessian` is the same composition,
# `jacfwd(jacrev(f))`.

# %%
H = adkit.hessian(rosenbrock)(x)
print("adkit.hessian:\n", H)

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:
    H_func = torch.func.hessian(rosenbrock_t)(x_t)
    H_autograd = torch.autograd.functional.hessian(rosenbrock_t, x_t)
    np.testing.assert_allclose(H, H_func.numpy(), rtol=1e-12)
    np.testing.assert_allclose(H, H_autograd.numpy(), rtol=1e-12)
    print("torch.func.hessian and torch.autograd.functional.hessian agree with adkit to 1e-12")

# %% [markdown]
# ## The imperative style: `.backward()` and `.grad`
#
# adkit's `Var` works like a PyTorch tensor with `requires_grad=True`:
# operations on it are recorded, `y.backward()` sweeps back, and the
# gradient lands in `x.grad`. And, as in PyTorch, **`.grad` accumulates**:
# a second `backward()` adds to it. That is how a gradient of a sum of losses
# is built up, and also how a re-run notebook cell silently doubles a
# gradient. Reset it with `x.zero_grad()` (PyTorch: `x.grad = None` or
# `x.grad.zero_()`). The functional API (`adkit.grad` and friends) never
# accumulates.

# %%
x_var = adkit.Var(1.5)
for call in (1, 2):
    y = x_var * x_var + np.sin(x_var)
    y.backward()
    print(f"after backward() number {call}: x.grad = {x_var.grad:.12g}")
print(f"one gradient, 2x + cos x at 1.5: {2 * 1.5 + np.cos(1.5):.12g}")
x_var.zero_grad()
print("after x.zero_grad(): x.grad =", x_var.grad)

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:
    x_tensor = torch.tensor(1.5, requires_grad=True)
    grads = []
    for call in (1, 2):
        y_t = x_tensor * x_tensor + torch.sin(x_tensor)
        y_t.backward()
        grads.append(x_tensor.grad.item())
        print(f"after backward() number {call}: x.grad = {grads[-1]:.12g}")
    x_tensor.grad = None
    print("after x.grad = None: x.grad =", x_tensor.grad)
    np.testing.assert_allclose(grads, [2 * 1.5 + np.cos(1.5), 2 * (2 * 1.5 + np.cos(1.5))], rtol=1e-12)
    print("the same accumulation as adkit")

# %% [markdown]
# ## Seeing the computation
#
# Here the two libraries differ most. adkit keeps the tape as something to
# look at: `adkit.trace` prints the evaluation trace (each intermediate
# variable with its value, its tangent in forward mode and its adjoint in
# reverse mode), and `adkit.graph` draws the computational graph.

# %%
print(adkit.trace(baydin, 2.0, 5.0))

# %%
adkit.graph(baydin, 2.0, 5.0).draw()  # a pyplot figure sized to the graph
plt.show()

# %% [markdown]
# PyTorch records the same graph (backwards: each output points to the
# functions that made it) and exposes it through `grad_fn` and
# `next_functions`; drawing it takes a separate package such as `torchviz`.

# %% tags=["nbval-ignore-output"]
if torch is None:
    print("PyTorch is not installed: skipped.")
else:

    def show_grad_fn(fn, depth=0):
        """Print the backward graph PyTorch recorded, from the output back to the inputs."""
        print("    " * depth + fn.name())
        for parent, _ in fn.next_functions:
            if parent is not None:
                show_grad_fn(parent, depth + 1)

    x1 = torch.tensor(2.0, requires_grad=True)
    x2 = torch.tensor(5.0, requires_grad=True)
    show_grad_fn(baydin_t(x1, x2).grad_fn)

# %% [markdown]
# ## Speed, briefly
#
# A rough timing of one gradient, for the tiny function of two numbers and
# for a two-layer map on 512 inputs. Do not read much into the numbers: they
# are for the machine that ran the notebook last, at that moment, on small
# float64 problems on a CPU, which is not what PyTorch is built for. Both
# libraries pay a fixed cost for every operation they record, which dominates
# for tiny functions.

# %% tags=["nbval-ignore-output"]
rng = np.random.default_rng(0)
W1 = rng.normal(size=(512, 512)) / np.sqrt(512)
z = rng.normal(size=512)


def two_layers(x, W=W1, xp=np):
    return xp.sum(xp.tanh(W @ xp.tanh(W @ x)) ** 2)


def microseconds(fn, number=20):
    """The best of 3 timings of `number` calls, per call, in µs (after one warm-up call)."""
    fn()  # warm up: PyTorch initializes its function transforms on first use
    return 1e6 * min(timeit.repeat(fn, number=number, repeat=3)) / number


grad_baydin = adkit.grad(baydin, argnums=(0, 1))
grad_two_layers = adkit.grad(two_layers)
print(f"adkit.grad, baydin:          {microseconds(lambda: grad_baydin(2.0, 5.0)):8.1f} µs")
print(f"adkit.grad, two layers:      {microseconds(lambda: grad_two_layers(z)):8.1f} µs")
if torch is None:
    print("PyTorch is not installed: no PyTorch timings.")
else:
    a1, a2, z_t = torch.tensor(2.0), torch.tensor(5.0), torch.tensor(z)
    grad_baydin_t = torch.func.grad(baydin_t, argnums=(0, 1))
    grad_two_layers_t = torch.func.grad(functools.partial(two_layers, W=torch.tensor(W1), xp=torch))
    print(f"torch.func.grad, baydin:     {microseconds(lambda: grad_baydin_t(a1, a2)):8.1f} µs")
    print(f"torch.func.grad, two layers: {microseconds(lambda: grad_two_layers_t(z_t)):8.1f} µs")
    np.testing.assert_allclose(grad_two_layers(z), grad_two_layers_t(z_t).numpy(), rtol=1e-12)

# %% [markdown]
# ## What is the same, and what differs
#
# **The same.** The derivatives, to round-off: every comparison above agrees
# to $10^{-12}$ (relative) in float64. The functional APIs (`grad`, `jvp`,
# `vjp`, `jacfwd`/`jacrev`, `hessian`, `argnums`) have the same shape, both
# taken from JAX, and so do the results: a derivative of shape
# `f(x).shape + x.shape`, VJPs as tuples, `hessian` as forward over reverse.
# The imperative API behaves the same too, down to `.grad` accumulating over
# `backward()` calls.
#
# **What differs.**
#
# * *What you differentiate.* adkit differentiates ordinary NumPy code (`np.sin`,
#   `@`, `.sum()`, `np.linalg.det`) and returns NumPy arrays and Python floats.
#   PyTorch differentiates code written with `torch` functions on tensors and
#   returns tensors (a scalar is a 0-d tensor: `.item()` gives the number).
# * *Choosing the mode.* In PyTorch you choose `jacfwd` or `jacrev`. adkit can
#   choose for you, `adkit.jacobian(f, mode="auto")`, and `.explain(x)` says
#   why (notebook 6).
# * *Seeing the computation.* adkit shows the tape as a trace table and a
#   graph drawing, with tangents and adjoints (notebooks 4 and 5); PyTorch
#   keeps its graph for computing, reachable through `grad_fn`.
# * *Scale.* PyTorch is built for large models: GPUs, compiled kernels,
#   checkpointing and distributed training. adkit is built to be read and
#   looked at; its rule table, both engines and the front end fit in an
#   afternoon's reading.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.
# They need only adkit.

# %% [markdown]
# ### Exercise 1: translate a PyTorch snippet
#
# Write this in adkit, once imperatively with `adkit.Var` and once with `adkit.grad`, and check
# the gradient, $(2x_0 + \cos x_0,\; 2x_1)$:
#
# ```python
# x = torch.tensor([1.0, 2.0], requires_grad=True)
# loss = (x ** 2).sum() + torch.sin(x[0])
# loss.backward()
# x.grad
# ```

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def loss_fn(x):
    return np.sum(x**2) + np.sin(x[0])


x_var = adkit.Var(np.array([1.0, 2.0]))
loss_fn(x_var).backward()
expected = np.array([2 + np.cos(1.0), 4.0])
assert np.allclose(x_var.grad, expected, rtol=1e-15)
assert np.allclose(adkit.grad(loss_fn)(np.array([1.0, 2.0])), expected, rtol=1e-15)
print("x.grad =", x_var.grad)

# %% [markdown]
# ### Exercise 2: compose the Hessian yourself
#
# `torch.func.hessian(f)` is `jacfwd(jacrev(f))`. Build the same composition from adkit's parts,
# a forward-mode Jacobian of the reverse-mode gradient, for `rosenbrock` at $x$, and compare it
# with `adkit.hessian(rosenbrock)(x)` and with the reverse-over-reverse composition.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
forward_over_reverse = adkit.jacobian(adkit.grad(rosenbrock), mode="forward")(x)
reverse_over_reverse = adkit.jacobian(adkit.grad(rosenbrock), mode="reverse")(x)
assert np.allclose(forward_over_reverse, adkit.hessian(rosenbrock)(x), rtol=1e-14)
assert np.allclose(reverse_over_reverse, forward_over_reverse, rtol=1e-14)
print(forward_over_reverse)

# %% [markdown]
# ### Exercise 3: accumulate on purpose
#
# PyTorch users accumulate the gradients of several losses by calling `backward()` once per loss
# before a step. Do it with one `adkit.Var`, for $L_1 = \sum x_i^2$ and $L_2 = \sum \sin x_i$
# at $x = (0.5, -1)$, and check that the accumulated `.grad` is the gradient of $L_1 + L_2$.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
point = np.array([0.5, -1.0])
x_var = adkit.Var(point)
np.sum(x_var**2).backward()
np.sum(np.sin(x_var)).backward()  # adds to x_var.grad
total = adkit.grad(lambda x: np.sum(x**2) + np.sum(np.sin(x)))(point)
assert np.allclose(x_var.grad, total, rtol=1e-15)
print("accumulated:", x_var.grad, " gradient of the sum:", total)
