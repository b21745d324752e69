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
# # 10. Source transformation: the derivative as code
#
# Baydin et al.'s survey names three ways to implement automatic
# differentiation: **operator overloading**, which the previous tutorials used
# twice (dual numbers, the tape), **source code transformation**, and
# compilers. Operator overloading pays Python's price on every operation of
# every call: the tape is recorded again each time. Source transformation
# writes the derivative out as a program once, and then runs that program.
#
# `adkit.compile(fn)` does it on top of the two engines: it calls `fn` once on
# *staged* values that record every operation into a program, derivative
# sweeps included, and writes that program as plain Python, NumPy calls for
# arrays and `math` for numbers. This notebook
#
# 1. puts the running example's **tangent** and **adjoint programs** beside its
#    evaluation trace: the trace's columns, as code;
# 2. shows what happens to Python's `if` on a value: a **guard**, and when the
#    function is **staged again**;
# 3. measures **eager against compiled** on a long scalar chain and a small
#    neural network.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * read a compiled derivative's source and find in it the evaluation
#   trace's primal, tangent ($\dot v_i$) and adjoint ($\bar v_i$) columns;
# * say what a guard is, when a compiled function is staged again, and why
#   a value read as a Python number (`float(x)`) makes it run eagerly;
# * measure eager against compiled code and explain where the time goes:
#   Python per operation for operator overloading, NumPy's own time on
#   large arrays.

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np

import adkit

np.set_printoptions(precision=6, suppress=True)
rng = np.random.default_rng(10)

# %% [markdown]
# ## 1. The evaluation trace, as code
#
# The running example, $f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2$ at
# $(2, 5)$, and its evaluation trace: primal values, tangents along
# $\dot x = (1, 0)$, adjoints from $\bar y = 1$.


# %%
def f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


print(adkit.trace(f, 2.0, 5.0))

# %% [markdown]
# **The tangent program.** Forward mode carries $\dot v_i$ beside each $v_i$.
# Staging `jvp` records both: each value $v_i$ is followed by the line computing
# its tangent $\dot v_i$ (written `v̇i`) from its rule in the table. The seed
# $\dot x = (1, 0)$ is a constant, so its ones and zeros are folded away.

# %%
tangent = adkit.compile(lambda x1, x2: adkit.jvp(f, (x1, x2), (1.0, 0.0)))
print(tangent.source(2.0, 5.0))
print("f and its tangent:", tangent(2.0, 5.0))

# %% [markdown]
# Read it against the trace: `v̇1 = 1.0 / x1` is $\dot v_1 = \dot v_{-1} / v_{-1}
# = 0.5$, `v̇4 = v̇1 + v̇2` is $\dot v_4 = 5.5$, and `v̇5` is the directional
# derivative. Lines such as `t1 = 0.0 * x1` are the terms of the zero seed
# $\dot v_0 = 0$: a compiler that knew `x1` is finite could drop them, but
# $0 \cdot \infty$ is `nan`, so adkit keeps what eager code computes.
#
# **The adjoint program.** Reverse mode runs the values forward, then the
# adjoints $\bar v_i$ backward, in the survey's order: $\bar v_5, \bar v_4, \bar
# v_3, \ldots$ Each comment is the step of the reverse trace; `x̄1` and `x̄2` are
# $\bar v_{-1}$ and $\bar v_0$, the gradient.

# %%
value_and_grad = adkit.compile(adkit.value_and_grad(f, argnums=(0, 1)))
print(value_and_grad.source(2.0, 5.0))
print("f and its gradient:", value_and_grad(2.0, 5.0))

# %% [markdown]
# No adjoint of a value that only ever adds ($\bar v_4 = \bar v_5 = 1$) has a
# line: the rule for `+` says "pass the adjoint on", and a multiplication by
# the seed $\bar y = 1$ is folded away. What is left is exactly the arithmetic
# of the adjoint column. The same program as a graph, one box per line:

# %%
program = value_and_grad.program(2.0, 5.0)
adkit.graph(program).draw()
plt.show()

# %% [markdown]
# **Arrays.** For arrays the generated code calls NumPy, releases each array
# after its last use (`del`), and writes an elementwise result into a
# temporary that dies there (`out=`), as a careful hand-written backprop does.
# The gradient of a one-hidden-layer network's loss:


# %%
def loss(W1, W2, x, y):
    return np.mean((W2 @ np.tanh(W1 @ x) - y) ** 2)


W1, W2 = rng.normal(size=(4, 3)), rng.normal(size=(2, 4))
x, y = rng.normal(size=3), rng.normal(size=2)
grad_loss = adkit.compile(adkit.grad(loss, argnums=(0, 1)))
print(grad_loss.source(W1, W2, x, y))

# %% [markdown]
# ## 2. Python's `if` on a value: guards
#
# Staging runs the function once, on the values of the first call. A Python
# `if` on a value takes the branch those values take, and the program has no
# record of the other branch. So the compiled function records the decision as
# a **guard**, checked on every call. When a guard fails, the values take the
# other branch: the function is **staged again** for them, and the compiled
# function keeps both variants (at most `max_variants`, 8 by default, per
# input structure; past that it runs eagerly). This is CppAD's
# `compare_change`, and what `torch.compile` calls guards.


# %%
def ramp(x):
    if x > 0:
        return x * np.sin(x)
    return 0.1 * x


d_ramp = adkit.compile(adkit.grad(ramp))
print(f"d ramp at 2: {d_ramp(2.0):.6g}")
print(d_ramp.source(2.0))

# %% [markdown]
# The guard is the `if not v1: raise GuardFailed(...)` line. A negative input
# fails it, and the function is staged again; the explanation lists the two
# variants.

# %%
print(f"d ramp at -2: {d_ramp(-2.0):.6g}   (eager: {adkit.grad(ramp)(-2.0):.6g})")
print(d_ramp.explain())

# %% [markdown]
# Guards come from adkit's rules too, wherever eager code takes a decision on a
# value. The tangent or adjoint of $\sqrt{x}$ multiplies by $\frac{1}{2\sqrt x}$,
# which is infinite at 0, and the rule table's convention is that a zero
# cotangent times an infinite partial is 0, not `nan`: the rule tests whether
# the partial is finite. Masks that select, as in `np.maximum`, are computed
# in the program itself, so they need no guard. Compiled and eager agree at
# every point, edges included:


# %%
def soft(x):
    return np.sum(np.maximum(x, 0.0) * np.sqrt(np.abs(x)))


d_soft = adkit.compile(adkit.grad(soft))
for point in (np.array([1.0, -2.0, 0.5]), np.array([0.0, 4.0, -1.0]), np.array([-3.0, 2.0, 0.0])):
    same = np.array_equal(d_soft(point), adkit.grad(soft)(point), equal_nan=True)
    print(point, "->", d_soft(point), " equal to eager:", same)
print(d_soft.explain())

# %% [markdown]
# **What cannot be staged runs eagerly, and says why.** `float(x)` turns a
# staged value into a number the program would keep forever; so do
# `np.asarray(x)`, indexing with a value, and functions whose result's shape
# depends on the values (`np.nonzero`). The compiled function then runs the
# function as it is, eager adkit, for that input structure: never a wrong
# result, only a slower one.

# %%
careless = adkit.compile(lambda x: np.sin(x) * float(x))
print(f"{careless(0.5):.6g}")
print(careless.explain())

# %% [markdown]
# ## 3. Eager against compiled
#
# A long chain of scalar operations is the worst case for operator
# overloading: each operation costs a Python call, a tape entry, a rule call in
# the sweep. The compiled gradient of the same chain is straight-line float
# arithmetic. The timings below vary from machine to machine.


# %%
def chain(x, n=1000):
    y = x
    for _ in range(n // 4):
        t = np.sin(y * x)
        y = np.tanh(t + x) * 0.5 + 0.25
    return y


eager_chain = adkit.value_and_grad(chain)
compiled_chain = adkit.compile(eager_chain)


# %% tags=["nbval-ignore-output"]
def best_time(fn, *args, repeats=20):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


start = time.perf_counter()
compiled_chain(0.5)  # the first call stages, generates and compiles
first = time.perf_counter() - start
t_eager, t_compiled = best_time(eager_chain, 0.5), best_time(compiled_chain, 0.5)
print(f"chain of 1000 operations: eager {t_eager * 1e3:.3g} ms, compiled {t_compiled * 1e3:.3g} ms "
      f"({t_eager / t_compiled:.0f}x faster); first call {first * 1e3:.0f} ms")

W1, W2 = rng.normal(size=(64, 32)) / 6, rng.normal(size=(10, 64)) / 8
X, Y = rng.normal(size=(32, 128)), rng.normal(size=(10, 128))
eager_net = adkit.grad(loss, argnums=(0, 1))
compiled_net = adkit.compile(eager_net)
t_eager, t_compiled = best_time(eager_net, W1, W2, X, Y), best_time(compiled_net, W1, W2, X, Y)
print(f"network gradient: eager {t_eager * 1e6:.0f} µs, compiled {t_compiled * 1e6:.0f} µs "
      f"({t_eager / t_compiled:.1f}x faster)")

# %% [markdown]
# The results are eager adkit's, bit for bit:

# %%
print("chain:", compiled_chain(0.5) == eager_chain(0.5))
pairs = zip(compiled_net(W1, W2, X, Y), eager_net(W1, W2, X, Y))
print("network:", all(np.array_equal(c, e) for c, e in pairs))

# %% [markdown]
# On arrays most of the time is NumPy's own, so compiling removes the Python
# between the calls (large at small sizes, little at large ones); on Python
# floats it removes nearly everything. The benchmarks (`docs/benchmarks.md`)
# compare the compiled code with hand-written derivatives, `jax.jit` and
# tangent-ad, another source-transformation tool.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: a Hessian as code
#
# Print the source of `adkit.compile(adkit.hessian(lambda x: np.sum(x ** 3)))`
# at `np.ones(2)`. Which lines carry tangents (the forward sweep run over the
# reverse one)? Check the compiled Hessian against eager adkit and against
# $\operatorname{diag}(6 x)$ at another point.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def cubes(x):
    return np.sum(x**3)


cube_hessian = adkit.compile(adkit.hessian(cubes))
source = cube_hessian.source(np.ones(2))
print(source)
assert "v̇" in source  # the tangents: forward mode over the reverse sweep's steps
x = np.array([0.5, -2.0])
assert np.array_equal(cube_hessian(x), adkit.hessian(cubes)(x))
assert np.allclose(cube_hessian(x), np.diag(6 * x), rtol=1e-15)

# %% [markdown]
# ### Exercise 2: a loop on a value
#
# Write Newton's method for $\sqrt a$ with a `while` loop that stops when
# $|x^2 - a| \le 10^{-12} a$, and compile its derivative. How many guards does
# the program for $a = 2$ record? What happens at $a = 10^6$, which needs more
# iterations? Compare both derivatives with eager adkit and with
# $\frac{1}{2\sqrt a}$.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:  # a decision on a value: one guard per test
        x = 0.5 * (x + a / x)
    return x


d_sqrt = adkit.compile(adkit.grad(newton_sqrt))
guards = len(d_sqrt.program(2.0).guards)
for a in (2.0, 1e6):  # 10^6 fails a guard (more iterations): staged again, a second variant
    assert d_sqrt(a) == adkit.grad(newton_sqrt)(a)
    assert abs(d_sqrt(a) - 0.5 / np.sqrt(a)) < 1e-12 / np.sqrt(a)
assert "2 variant(s)" in d_sqrt.explain()
print(f"{guards} guards at a = 2 (one per loop test)")
print(d_sqrt.explain())

# %% [markdown]
# ### Exercise 3: what runs eagerly
#
# Compile the gradient of `lambda x: np.sum(np.sin(x)) * float(np.max(adkit.primal(x)))`
# (the largest element read as a Python number, held constant). Does the
# compiled function give eager's gradient at two different points? What does
# `explain()` say, and why can the program not keep that number?

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def scaled_by_max(x):
    return np.sum(np.sin(x)) * float(np.max(adkit.primal(x)))


scaled = adkit.compile(adkit.grad(scaled_by_max))
for x in (np.array([0.1, 0.7]), np.array([2.0, -1.0])):
    assert np.array_equal(scaled(x), adkit.grad(scaled_by_max)(x))
    assert np.allclose(scaled(x), np.cos(x) * x.max(), rtol=1e-15)
assert "runs eagerly" in scaled.explain()
print(scaled.explain())  # float() would fix the first call's maximum in the program
