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
# # 3b. Build it yourself: forward and reverse mode in under a hundred lines
#
# Notebooks 2 and 3 used adkit's dual numbers; notebook 4 uses its tape. Both
# are small ideas, and the best way to see that is to build them. This
# notebook writes a dual-number class (about 30 lines) and a tape with a
# forward and a reverse sweep (about 50 lines), checks both against
# `adkit.trace`, and then shows what adkit adds to the same idea. It ends
# with the ways AD is implemented in practice, from libraries of elementary
# functions to compilers, and where adkit's engines sit among them.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * write forward-mode AD as a dual-number class with operator overloading,
#   and reverse-mode AD as a tape with a backward sweep;
# * check a hand-built derivative against `adkit.trace`, row by row;
# * say what adkit adds to the toy: NumPy's protocols, one table of rules, levels for nesting;
# * name the ways to implement AD (elemental libraries, operator overloading,
#   source transformation, tracing to an intermediate representation,
#   define-by-run) and place adkit, JAX and PyTorch among them;
# * read an adjoint program, which is what source transformation produces.

# %%
# %matplotlib inline
import math

import numpy as np

import adkit

np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## 1. A dual number class
#
# A dual number $a + b\,\varepsilon$ is a pair (value, tangent). Python lets a
# class define what `+`, `-` and `*` mean for it (*operator overloading*), so
# the rules of notebook 2 become methods. A plain number is a dual number
# with tangent 0; `lift` makes it one, so that `2 * x` and `x * 2` both work.
# The functions `sin`, `exp` and `log` look at their argument's type
# (`isinstance` dispatch): on a dual number they apply the rule
# $f(a + b\varepsilon) = f(a) + b f'(a)\,\varepsilon$, on anything else they
# hand over to NumPy.

# %%
class Dual:
    """a + b ε with ε² = 0: a value and its tangent."""

    def __init__(self, value, tangent=0.0):
        self.value, self.tangent = value, tangent

    def __add__(self, other):
        other = lift(other)
        return Dual(self.value + other.value, self.tangent + other.tangent)

    def __sub__(self, other):
        other = lift(other)
        return Dual(self.value - other.value, self.tangent - other.tangent)

    def __mul__(self, other):
        other = lift(other)  # the product rule
        return Dual(self.value * other.value, self.tangent * other.value + self.value * other.tangent)

    __radd__, __rmul__ = __add__, __mul__

    def __rsub__(self, other):
        return lift(other) - self

    def __repr__(self):
        return f"Dual({self.value:.6g}, {self.tangent:.6g})"


def lift(x):
    return x if isinstance(x, Dual) else Dual(x, 0.0)


def sin(x):
    return Dual(math.sin(x.value), math.cos(x.value) * x.tangent) if isinstance(x, Dual) else np.sin(x)


def exp(x):
    return Dual(math.exp(x.value), math.exp(x.value) * x.tangent) if isinstance(x, Dual) else np.exp(x)


def log(x):
    return Dual(math.log(x.value), x.tangent / x.value) if isinstance(x, Dual) else np.log(x)


# %% [markdown]
# Two test functions, written once with these `sin` and `log`: the example
# of notebook 4, $z = x^2 + xy + 2$ (so $\partial z/\partial x = 2x + y$), and
# the running example $f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2$. Seeding
# $x$ with tangent 1 gives $\partial/\partial x$:

# %%
def z(x, y):
    return x * x + x * y + 2


def f(x1, x2):
    return log(x1) + x1 * x2 - sin(x2)


print("z(3 + ε, 2)    =", z(Dual(3.0, 1.0), Dual(2.0)), "   2x + y =", 2 * 3 + 2)
print("f(2 + ε, 5)    =", f(Dual(2.0, 1.0), Dual(5.0)))
print("f(2, 5 + ε)    =", f(Dual(2.0), Dual(5.0, 1.0)))

# %% [markdown]
# Now against adkit. Because the toy `sin` and `log` hand anything that is
# not a toy `Dual` to NumPy, the *same* Python functions `z` and `f` run
# under `adkit.trace`, whose last row (the output) holds the tangent along
# the seed:

# %%
for name, fn, point in (("z", z, (3.0, 2.0)), ("f", f, (2.0, 5.0))):
    for seed in ((1.0, 0.0), (0.0, 1.0)):
        toy = fn(*(Dual(p, s) for p, s in zip(point, seed)))
        row = adkit.trace(fn, *point, seed=seed).rows[-1]  # the output
        print(f"{name} seed {seed}: toy {toy.tangent:.12g}, adkit {row.tangent:.12g}")
        assert toy.value == row.value and abs(toy.tangent - row.tangent) < 1e-14

# %% [markdown]
# That is forward-mode AD: about 30 lines. What it cannot do yet is give a
# whole gradient in one pass, for which we need to record the computation.
#
# ## 2. A tape, swept forward and backward
#
# A tape is a list with one entry per elementary operation, in evaluation
# order. Each entry stores its value and, for each operand, the operand's
# position on the tape and the *local partial derivative*
# $\partial v_j / \partial v_i$, computed while the values are at hand.
# A `Node` is a handle on an entry; its operators compute the value and
# append the entry. With the partials stored, both sweeps are short loops:
#
# * `derivative(seeds)` walks the tape **forward**: the tangent of an entry
#   is the sum over its operands of partial $\times$ the operand's tangent;
# * `backprop(output)` walks it **backward** from $\bar y = 1$: each entry
#   adds its adjoint times each partial to its operand's adjoint (`+=`, since
#   an operand used twice receives from both uses).

# %%
class Tape:
    """A Wengert list: entries (value, [(operand position, ∂value/∂operand), ...])."""

    def __init__(self):
        self.entries = []

    def push(self, value, operands=()):
        self.entries.append((value, [(o.index, d) for o, d in operands if isinstance(o, Node)]))
        return Node(self, len(self.entries) - 1, value)

    def derivative(self, seeds):
        """Forward mode: every entry's tangent; seeds = {input position: tangent}."""
        tangents = []
        for i, (_, operands) in enumerate(self.entries):
            tangent = sum(d * tangents[j] for j, d in operands) if operands else seeds.get(i, 0.0)
            tangents.append(tangent)
        return tangents

    def backprop(self, output):
        """Reverse mode: every entry's adjoint ∂output/∂entry, in one backward sweep."""
        adjoints = [0.0] * len(self.entries)
        adjoints[output.index] = 1.0
        for i in reversed(range(output.index + 1)):
            for j, d in self.entries[i][1]:
                adjoints[j] += adjoints[i] * d
        return adjoints


class Node:
    """A value on a tape: arithmetic on it appends entries."""

    def __init__(self, tape, index, value):
        self.tape, self.index, self.value = tape, index, value

    def __add__(self, other):
        return self.tape.push(self.value + value(other), [(self, 1.0), (other, 1.0)])

    def __sub__(self, other):
        return self.tape.push(self.value - value(other), [(self, 1.0), (other, -1.0)])

    def __rsub__(self, other):
        return self.tape.push(value(other) - self.value, [(self, -1.0), (other, 1.0)])

    def __mul__(self, other):
        return self.tape.push(self.value * value(other), [(self, value(other)), (other, self.value)])

    __radd__, __rmul__ = __add__, __mul__


def value(x):
    return x.value if isinstance(x, Node) else x


# %% [markdown]
# The elementary functions need one more case each, for a `Node`: the rule
# is the same derivative as for a `Dual`, written a second time. Keep that
# in mind for section 3.

# %%
def sin(x):  # noqa: F811 (the same function again, with a case for the tape)
    if isinstance(x, Node):
        return x.tape.push(math.sin(x.value), [(x, math.cos(x.value))])
    return Dual(math.sin(x.value), math.cos(x.value) * x.tangent) if isinstance(x, Dual) else np.sin(x)


def log(x):  # noqa: F811
    if isinstance(x, Node):
        return x.tape.push(math.log(x.value), [(x, 1 / x.value)])
    return Dual(math.log(x.value), x.tangent / x.value) if isinstance(x, Dual) else np.log(x)


# %% [markdown]
# Record $z = x^2 + xy + 2$ at $(3, 2)$ and sweep both ways. The listing names
# entries by tape position, $t_0, t_1, \dots$ (as notebook 4 does); the
# constant 2 is not an entry, it only appears in a value.

# %%
tape = Tape()
x, y = tape.push(3.0), tape.push(2.0)
out = z(x, y)
for i, (v, operands) in enumerate(tape.entries):
    print(f"t{i}: value {v:g}, operands {[(f't{j}', d) for j, d in operands]}")
tangents = tape.derivative({x.index: 1.0})
adjoints = tape.backprop(out)
print(f"forward, seed x: dz/dx = {tangents[out.index]:g}")
print(f"reverse, one sweep: dz/dx = {adjoints[x.index]:g}, dz/dy = {adjoints[y.index]:g}")

# %% [markdown]
# One backward sweep gave both partial derivatives; the forward sweep gave
# one, for one seed. Now the running example, checked against every row of
# `adkit.trace` (values, tangents and adjoints). The two number the
# variables differently (the tape in the order the program runs, the trace
# by layer, as the survey does), so rows are matched by value:

# %%
tape = Tape()
x1, x2 = tape.push(2.0), tape.push(5.0)
out = f(x1, x2)
tangents, adjoints = tape.derivative({x1.index: 1.0}), tape.backprop(out)

trace = adkit.trace(f, 2.0, 5.0)  # tangents along (1, 0), adjoints from ȳ = 1
rows = {round(row.value, 12): row for row in trace.rows if row.kind != "output"}
print("tape  value      tangent   adjoint   | trace row")
for i, (v, _) in enumerate(tape.entries):
    row = rows[round(v, 12)]
    print(f"t{i:<3} {v:9.5g} {tangents[i]:9.5g} {adjoints[i]:9.5g}   | {row.name:>3} = {row.definition}")
    assert abs(row.tangent - tangents[i]) < 1e-14 and abs(row.adjoint - adjoints[i]) < 1e-14
print(f"gradient from one sweep: ({adjoints[x1.index]:.6g}, {adjoints[x2.index]:.6g})")

# %% [markdown]
# Every number agrees. The toy tape records $\sin x_2$ after the product
# (the order the program runs) where the trace puts it before (by layer);
# both are valid evaluation orders.
#
# ## 3. What adkit adds to the same idea
#
# adkit's `Dual` and `Var` are these two classes, grown up. Three things make
# the difference.
#
# **NumPy's protocols.** The toy needed its own `sin`; `np.sin` on a toy
# `Dual` fails, because NumPy has no idea what the object is:

# %%
try:
    np.sin(Dual(0.5, 1.0))
except TypeError as err:
    print("toy Dual:   TypeError:", err)
print("adkit.Dual:", np.sin(adkit.Dual(0.5, 1.0)), "  (cos 0.5 =", f"{math.cos(0.5):.6g})")
print(f"adkit.Var:  d sin/dx at 0.5 = {adkit.grad(np.sin)(0.5):.6g}")

# %% [markdown]
# NumPy asks its arguments first: a class with a method `__array_ufunc__`
# receives every ufunc call (`np.sin`, `np.add`, `x * y` on arrays ...), and
# one with `__array_function__` every other NumPy function (`np.sum`,
# `np.where`, `np.linalg.det` ...). adkit's boxes implement both and route
# each call to the rule for that operation, so ordinary NumPy code, arrays
# included, is differentiated without a special `sin`.
#
# **One table of rules.** The toy wrote the derivative of `sin` twice, once
# for `Dual` and once for `Node`; a third engine would need a third copy,
# and the copies drift apart. adkit declares each operation once, with its
# implementation, how tangents go forward and how cotangents go back, and
# both engines read that declaration. You can see it from outside: the tape
# entry for `np.sin` refers to the primitive `adkit.sin`, the same object
# that dual numbers go through.

# %%
with adkit.Tape() as t:
    s = np.sin(adkit.Var(0.5))
print(t.nodes[-1].primitive, "is adkit.sin:", t.nodes[-1].primitive is adkit.sin)

# %% [markdown]
# **Levels for nesting.** A derivative of a derivative feeds duals into
# duals. The toy gives all of them the same $\varepsilon$, so an inner
# derivative cannot tell its own perturbation from an outer one
# (*perturbation confusion*, notebook 9). The classic test is
# $\frac{d}{dx}\left[x \cdot \frac{d}{dy}(x + y)\right]$ at $x = y = 1$,
# which is 1:

# %%
def toy_derivative(g, x):
    return lift(g(Dual(x, 1.0))).tangent


def nested_test(derivative):
    return derivative(lambda x: x * derivative(lambda y: x + y, 1.0), 1.0)


print("toy:  ", nested_test(toy_derivative), "  (wrong)")
print("adkit:", nested_test(lambda g, x: adkit.diff(g)(x)))

# %% [markdown]
# adkit gives each differentiation its own *level* (ForwardDiff.jl calls
# them tags, JAX trace levels); an operation on values of several levels is
# handled by the highest, which treats the others as constants. That is
# what makes derivatives nest to any order in any mix of modes.
#
# The rest is breadth: arrays with broadcasting and batch axes, the many
# NumPy operations it covers, each with its rules, a tape that keeps only
# what the backward sweep reads (notebook 4), and checks against finite
# differences (`adkit.check_grads`).
#
# ## 4. The ways to implement AD
#
# The survey of Baydin et al. (2018, section 4) sorts AD implementations by
# how they get hold of the program's elementary operations.
#
# * **Elemental libraries.** The user rewrites the program with the
#   library's functions, `d_mul(a, b)` instead of `a * b`. One of the
#   earliest approaches; the toy's `sin(x)` is one: it only works where the
#   program calls it.
# * **Operator overloading.** New number types redefine `+`, `*`, `sin`, and
#   the unchanged program runs on them, recording or propagating as it goes:
#   the toy `Dual` and `Node`, and ADOL-C (C++), HIPS autograd, PyTorch,
#   ForwardDiff.jl. Easy to use; the cost is an object and a dispatch per
#   operation, which is why small operations are slow in Python.
# * **Source code transformation.** A tool reads the program's source and
#   writes a new program that computes the derivative (ADIFOR for Fortran,
#   Tapenade for Fortran and C, Google's `tangent` for Python, Zygote.jl for
#   Julia).
#   The generated code is plain arithmetic that a compiler can optimise, with
#   no per-operation overhead at run time.
# * **Tracing to an intermediate representation.** JAX runs the Python
#   function on tracer objects that record its operations as a small typed
#   program (a *jaxpr*); its transformations (`grad`, `vmap`) work on traced
#   programs, and `jit` compiles them with XLA. Recording is operator
#   overloading; what it records is a program that can be transformed and
#   compiled, as a source transformer's output can.
# * **Define-by-run.** PyTorch (and Chainer before it) records the graph
#   afresh on every call while the program runs, so Python's `if` and `for`
#   just work, and sweeps it backwards: operator overloading with a tape per
#   call.
#
# adkit's engines are operator overloading: `Dual` for forward mode, and
# `Var` recording a tape per call, define-by-run as in PyTorch, for reverse
# mode. Its staged programs (`adkit.compile`, tutorial 10, *Source
# transformation*) trace a function once, as JAX does, and generate NumPy
# source for its derivative.
#
# ### What source transformation produces
#
# For the running example a source transformer writes a program like the
# one below, which `adkit.compile` generated from `adkit.value_and_grad(f)`:
# the forward sweep (the primal trace of notebook 3), then the reverse sweep
# (the adjoint trace of notebook 4), as straight-line code with one variable
# per intermediate. The comments name the trace's variables: `x1` and `x2`
# are $v_{-1}$ and $v_0$, `x̄1` and `x̄2` their adjoints, the gradient.
# (Python evaluates `log(x1) + x1 * x2` before `sin(x2)`, so `v4` comes
# before `v3`.) No tape and no objects: the "tape" is the set of local
# variables the reverse sweep reads. Tutorial 10 reads such programs line
# by line.

# %%
f_and_gradient = adkit.compile(adkit.value_and_grad(f, argnums=(0, 1)))
print(f_and_gradient.source(2.0, 5.0))
y_value, gradient = f_and_gradient(2.0, 5.0)
print(f"f(2, 5) = {y_value:.6g}, gradient = ({gradient[0]:.6g}, {gradient[1]:.6g})")
print("adkit.grad: ({:.6g}, {:.6g})".format(*adkit.grad(f, argnums=(0, 1))(2.0, 5.0)))
assert np.allclose(gradient, adkit.grad(f, argnums=(0, 1))(2.0, 5.0), rtol=1e-15, atol=0)

# %% [markdown]
# ## Summary
#
# * Forward mode is a dual-number type: each operation computes its value
#   and its tangent. Reverse mode is a tape: record values and local
#   partials, then sweep backwards accumulating adjoints with `+=`.
# * adkit is the same idea, plus NumPy's `__array_ufunc__` and
#   `__array_function__` (so plain NumPy code runs on its boxes), one table
#   of rules that both engines read, and levels so that derivatives nest.
# * AD is implemented with elemental libraries, operator overloading,
#   source transformation, tracing to an intermediate representation (JAX)
#   or define-by-run (PyTorch); adkit's engines overload operators, and a
#   source transformer's output is an adjoint program like the one
#   `adkit.compile` wrote for `f`.
#
# Next: notebook 4 takes reverse mode slowly, with the survey's adjoint trace,
# its cost in time and in memory, and adkit's APIs for it.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: division for the dual numbers
#
# Give the toy `Dual` a division, `__truediv__` (and `__rtruediv__` for
# `1 / x`), with the quotient rule $(u/v)' = (u'v - uv')/v^2$. Check it on
# $g(x) = x / (1 + x^2)$ at $x = 2$ against `adkit.derivative`, and against
# the hand derivative $g'(x) = (1 - x^2)/(1 + x^2)^2 = -0.12$.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def dual_truediv(self, other):
    other = lift(other)
    return Dual(self.value / other.value,
                (self.tangent * other.value - self.value * other.tangent) / other.value**2)


Dual.__truediv__ = dual_truediv
Dual.__rtruediv__ = lambda self, other: lift(other) / self


def g(x):
    return x / (1 + x * x)


toy = g(Dual(2.0, 1.0)).tangent
assert abs(toy - adkit.derivative(g)(2.0)) < 1e-15
assert abs(toy - (1 - 2.0**2) / (1 + 2.0**2) ** 2) < 1e-15
assert abs((1 / Dual(2.0, 1.0)).tangent - (-1 / 4)) < 1e-15
print(f"g'(2) = {toy:.6g}: the toy, adkit and the hand derivative agree")

# %% [markdown]
# ### Exercise 2: `exp` on the tape
#
# The tape version of `exp` is missing (the `exp` above handles only `Dual`).
# Add the `Node` case, record $h(x) = e^{x \sin x}$ at $x = 0.7$, and check
# `backprop` against `adkit.grad`. By hand, $h'(x) = e^{x \sin x}(\sin x + x \cos x)$.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def exp(x):  # noqa: F811
    if isinstance(x, Node):
        e = math.exp(x.value)
        return x.tape.push(e, [(x, e)])
    return Dual(math.exp(x.value), math.exp(x.value) * x.tangent) if isinstance(x, Dual) else np.exp(x)


def h(x):
    return exp(x * sin(x))


tape = Tape()
x = tape.push(0.7)
by_tape = tape.backprop(h(x))[x.index]
by_hand = math.exp(0.7 * math.sin(0.7)) * (math.sin(0.7) + 0.7 * math.cos(0.7))
assert abs(by_tape - adkit.grad(h)(0.7)) < 1e-14 and abs(by_tape - by_hand) < 1e-14
print(f"h'(0.7) = {by_tape:.6g} from the toy tape, as adkit.grad and the hand derivative")

# %% [markdown]
# ### Exercise 3: the tangent program
#
# Source transformation in forward mode writes a *tangent program*: each
# line of the primal trace followed by its tangent line. Write it by hand for
# the running example, as a function `f_and_tangent(x1, x2, x1_dot, x2_dot)`
# returning $(y, \dot y)$, and check it against `adkit.jvp` along
# $(\dot x_1, \dot x_2) = (1, 0)$, $(0, 1)$ and $(0.3, -2)$.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def f_and_tangent(x1, x2, x1_dot, x2_dot):
    v_1, v_1d = x1, x1_dot
    v0, v0d = x2, x2_dot
    v1, v1d = math.log(v_1), v_1d / v_1
    v2, v2d = v_1 * v0, v_1d * v0 + v_1 * v0d
    v3, v3d = math.sin(v0), math.cos(v0) * v0d
    v4, v4d = v1 + v2, v1d + v2d
    v5, v5d = v4 - v3, v4d - v3d
    return v5, v5d


for seed in ((1.0, 0.0), (0.0, 1.0), (0.3, -2.0)):
    mine = f_and_tangent(2.0, 5.0, *seed)
    theirs = adkit.jvp(f, (2.0, 5.0), seed)
    assert np.allclose(mine, theirs, rtol=1e-15, atol=1e-15), (seed, mine, theirs)
print("the tangent program agrees with adkit.jvp along all three seeds")
