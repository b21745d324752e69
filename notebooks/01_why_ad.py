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
# # 1. Why automatic differentiation?
#
# A computer can produce the derivative of a function in three ways:
#
# 1. **numerically**, from a few values of the function (finite differences);
# 2. **symbolically**, by applying the rules of calculus to a formula (as sympy or Mathematica do);
# 3. **automatically**, by applying the rules of calculus to the *program* while it runs (AD).
#
# This notebook tries the first two on one small function, measures what goes wrong with each,
# and then shows that AD has neither problem: its derivative is exact up to the rounding of
# floating point, and it costs a few evaluations of the function.
#
# The running example is the logistic map $\ell_{i+1} = 4\,\ell_i\,(1 - \ell_i)$, started at
# $\ell_0 = x$. Its $k$-th iterate $f_k(x) = \ell_k$ is a polynomial of degree $2^k$; here we
# take two steps, $f(x) = f_2(x) = 4\,\ell_1 (1 - \ell_1)$ with $\ell_1 = 4x(1 - x)$, at $x = 0.3$.
# It is built from $+$, $-$ and $\times$ only, so the numbers below come out the same, to the last bit,
# on any computer.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * explain why a finite difference loses half (forward) or a third (central) of the digits, and
#   find its best step from the balance of truncation and round-off;
# * use the complex step, and say when it does not apply;
# * explain expression swell, measure it, and say why AD does not suffer from it;
# * say how accurate AD is (the rounding of the derivative's own arithmetic) and what it costs
#   (a few evaluations of the function).

# %%
# %matplotlib inline
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import sympy

import adkit

np.set_printoptions(precision=6, suppress=True)

f = adkit.symbolic.logistic_map(2)  # f(x) = 4 l (1 - l) with l = 4 x (1 - x)
x0 = 0.3
print(f"f({x0}) = {f(x0):.6g}")

# %% [markdown]
# To measure errors we need the true derivative. sympy gives it exactly: with the rational
# number $x = 3/10$ there is no rounding at all.

# %%
x = sympy.Symbol("x", real=True)
expression = adkit.symbolic.to_sympy(f)
exact_rational = sympy.diff(expression, x).subs(x, sympy.Rational(3, 10))
exact = float(exact_rational)
print("f(x)     =", expression)
print("f'(3/10) =", exact_rational, "=", exact)

# %% [markdown]
# ## Numerical differentiation: finite differences
#
# The derivative is a limit, $f'(x) = \lim_{h \to 0} \frac{f(x + h) - f(x)}{h}$, so the obvious
# idea is to stop at a small step $h$. Taylor's theorem tells us what that costs:
#
# $$f(x + h) = f(x) + h f'(x) + \tfrac{h^2}{2} f''(x) + \tfrac{h^3}{6} f'''(x) + \dots$$
#
# * **forward difference**: $\dfrac{f(x + h) - f(x)}{h} = f'(x) + \tfrac{h}{2} f''(x) + \dots$,
#   a *truncation error* of order $h$;
# * **central difference**: $\dfrac{f(x + h) - f(x - h)}{2h} = f'(x) + \tfrac{h^2}{6} f'''(x) + \dots$,
#   the even terms cancel and the truncation error is of order $h^2$.
#
# So a smaller $h$ should always be better. Let us try the forward difference
# (`adkit.numerical.forward_difference`) with ever smaller steps:

# %%
print("    h    forward difference    error")
for h in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15):
    estimate = adkit.numerical.forward_difference(f, x0, h=h)
    print(f"{h:6.0e}  {estimate:19.15f}  {abs(estimate - exact):7.1e}")

# %% [markdown]
# The error falls as $h$ shrinks, by a factor of 10 per step as the $O(h)$ truncation error
# predicts, down to about $10^{-8}$, and then *rises* again: at $h = 10^{-15}$ hardly one digit
# is right. The culprit is **round-off**. Each value $f(x)$ is stored
# with a relative error of about machine epsilon $\varepsilon = 2^{-52} \approx 2.2 \times 10^{-16}$,
# and the difference $f(x + h) - f(x)$ of two nearly equal numbers keeps that absolute error
# while the division by $h$ magnifies it:
#
# $$\text{error}(h) \;\approx\; \underbrace{\tfrac{h}{2}\,|f''|}_{\text{truncation}}
#   \;+\; \underbrace{\frac{\varepsilon\,|f|}{h}}_{\text{round-off}}
#   \quad\text{(forward)},\qquad
#   \text{error}(h) \;\approx\; \tfrac{h^2}{6}\,|f'''| + \frac{\varepsilon\,|f|}{h}
#   \quad\text{(central)}.$$
#
# The best step balances the two terms (set the derivative of the error with respect to $h$ to
# zero):
#
# * forward: $h^* = \sqrt{2\varepsilon |f| / |f''|} \sim \sqrt{\varepsilon} \approx 1.5 \times 10^{-8}$,
#   and the error there is also $\sim \sqrt{\varepsilon}$: **half** of the 16 digits are lost;
# * central: $h^* = \sqrt[3]{3\varepsilon |f| / |f'''|} \sim \sqrt[3]{\varepsilon}
#   \approx 6 \times 10^{-6}$, with an error $\sim \varepsilon^{2/3} \approx 4 \times 10^{-11}$:
#   **a third** of the digits are lost.
#
# The rules of thumb $\sqrt{\varepsilon}$ and $\sqrt[3]{\varepsilon}$ drop the factors that depend
# on $f$, which we rarely know.
#
# ### The complex step
#
# If $f$ is analytic and the code accepts complex numbers, step in the imaginary direction:
#
# $$f(x + ih) = f(x) + ih f'(x) - \tfrac{h^2}{2} f''(x) - i \tfrac{h^3}{6} f'''(x) + \dots
#   \quad\Longrightarrow\quad f'(x) = \frac{\operatorname{Im} f(x + ih)}{h} + O(h^2).$$
#
# There is no subtraction, hence no cancellation, and $h$ can be as small as we like
# ($10^{-20}$ is common). Hold on to this trick: the next notebook's dual numbers are the same
# idea with $\varepsilon^2 = 0$ instead of $i^2 = -1$.
#
# `adkit.numerical.error_vs_step` measures all three methods against the exact derivative over
# a range of steps, ten per decade from $10^{-16}$ to $0.8$, and finds the best step $h^*$ of each:

# %%
# the steps as decimal literals, 1e-16, 1.25e-16, ..., 8e-1, so that they are the same on every machine
steps = [float(f"{m}e{e}") for e in range(-16, 0) for m in (1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8)]
study = adkit.numerical.error_vs_step(f, x0, steps=steps, exact=exact)
for method in ("forward", "central", "complex"):
    h, err = study.optimal_step[method], study.min_error(method)
    print(f"{method:8} measured best step h* = {h:.1e}, smallest error {err:.1e}")

# %% [markdown]
# How does that compare with the theory? The formulas for $h^*$ need $f''$ and $f'''$: we borrow
# them from AD (`adkit.derivative(f, order=k)`, exact up to rounding; notebook 2 shows how nested
# dual numbers give a second derivative, notebook 9 how they give any order).

# %%
eps = adkit.numerical.EPS
f2, f3 = adkit.derivative(f, order=2)(x0), adkit.derivative(f, order=3)(x0)
print(f"ε = {eps:.3g},  f(0.3) = {f(x0):.6g},  f''(0.3) = {f2:.6g},  f'''(0.3) = {f3:.6g}")
print(f"forward: rule of thumb √ε = {eps ** 0.5:.1e},  "
      f"formula √(2ε|f|/|f''|) = {(2 * eps * abs(f(x0)) / abs(f2)) ** 0.5:.1e}")
print(f"central: rule of thumb ∛ε = {eps ** (1 / 3):.1e},  "
      f"formula ∛(3ε|f|/|f'''|) = {(3 * eps * abs(f(x0)) / abs(f3)) ** (1 / 3):.1e}")

# %% [markdown]
# The measured best steps land where the theory puts them: at about $\sqrt{\varepsilon}$ for the
# forward difference, and for the central difference somewhat below $\sqrt[3]{\varepsilon}$,
# because this $f$ has a large third derivative. The picture:

# %%
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
study.plot(ax=ax)
plt.show()

# %% [markdown]
# Read the plot from right to left. On the right, truncation dominates: the forward difference
# follows the dotted $h$ line, the central difference the steeper $h^2$ line. On the left,
# round-off dominates and both climb along $\varepsilon/h$, noisily, because which digits
# cancel is a matter of luck. The circles mark the bottoms of the V's; the faint vertical lines
# are $\sqrt{\varepsilon}$ (blue) and $\sqrt[3]{\varepsilon}$ (orange). The complex step (green)
# has no V: once $h$ is small enough its error stays at the rounding of $f'$ itself, about
# $10^{-15}$ (an error of exactly zero is drawn at the bottom of the plot).
#
# Where is the central difference on the right? Hidden under the complex step. This $f$ is a
# polynomial of degree 4, so both Taylor series above stop after the $h^2$ term: the central
# difference's error is exactly $+\tfrac{h^2}{6} f'''$ and the complex step's exactly
# $-\tfrac{h^2}{6} f'''$. Their absolute values, which the plot shows, are the same until round-off
# separates them:

# %%
central, complex_ = study.errors["central"], study.errors["complex"]
large = study.steps >= 1e-4
difference = np.max(np.abs(central[large] - complex_[large]) / complex_[large])
print(f"for h >= 1e-4 the two errors differ by at most {difference:.0e} of their size")
print(f"both are h² f'''/6 = {f3 / 6:.4g} h²:",
      np.allclose(central[large], f3 / 6 * study.steps[large] ** 2, rtol=1e-4))

# %% [markdown]
# Two more costs hide behind the plot:
#
# * the best step depends on the function and the point, which we usually do not know;
# * a gradient of $f: \mathbb{R}^n \to \mathbb{R}$ needs $n + 1$ evaluations (forward) or $2n$
#   (central): a million parameters, a million evaluations.

# %% [markdown]
# ## Symbolic differentiation
#
# A computer algebra system differentiates a formula with the rules of calculus and returns a
# new formula. `adkit.symbolic.symbolic_derivative` hands a NumPy function to sympy:

# %%
adkit.symbolic.symbolic_derivative(lambda x: x * np.sin(x))

# %% [markdown]
# Exact, and readable. But a formula is a *tree*: a value used twice is written out twice.
# The logistic map uses $\ell_i$ twice in every step, so the formula of $f_k$ doubles in size
# with every step, and its derivative (by the product rule, $(uv)' = u'v + uv'$, which again
# writes $u$ and $v$ twice) grows even faster. Here is $f_3'$, for three steps:

# %%
adkit.symbolic.symbolic_derivative(adkit.symbolic.logistic_map(3))

# %% [markdown]
# This is **expression swell**. `adkit.symbolic.expression_swell` measures it for $k = 1, \dots, 8$:
# the size of the formula of $f_k$ and of its derivative (sympy's `count_ops`), the length of
# the printed derivative, the size after common-subexpression elimination (`sympy.cse`), and
# the number of elementary operations AD records when it evaluates $f_k$ (three per step:
# $1 - \ell$, $4\ell$ and the product).

# %%
swell = adkit.symbolic.expression_swell(ks=range(1, 9))
print(" k   formula  derivative   printed  after cse   AD operations")
for row in zip(swell.ks, swell.expression, swell.derivative, swell.derivative_chars,
               swell.derivative_cse, swell.ad_ops):
    print("{:2d} {:9d} {:11d} {:9d} {:10d} {:15d}".format(*row))

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
swell.plot(ax=ax)
plt.show()

# %% [markdown]
# On a log scale a straight line is exponential growth. The formula of $f_k$ roughly doubles with
# every step; its derivative grows faster, by the factors below (each step's size over the
# previous one's):

# %%
print("k:                ", "  ".join(f"{k:>4}" for k in swell.ks[1:]))
for name, sizes in (("formula growth:   ", swell.expression), ("derivative growth:", swell.derivative)):
    print(name, "  ".join(f"{b / a:4.2f}" for a, b in pairwise(sizes)))

# %% [markdown]
# From $k = 4$ on, the derivative's growth factor falls, 3.2, 2.9, 2.7, 2.6, 2.5, slowly towards 2:
# by the product rule each derivative contains the previous one twice plus copies of the formula,
# which itself doubles, so its size grows like $k\,2^k$. At $k = 8$ it already takes 13,824
# operations and 54,218 printed characters. AD records $3k$ elementary operations for $f_k$, 24 at
# $k = 8$, and its derivative adds a few per operation (the tangent of a product is two
# multiplications and an addition): linear in $k$.
# Eliminating common subexpressions recovers a polynomial size, and that is no coincidence: **AD
# is symbolic differentiation that never forgets a shared value**, because it works on the
# program (where $\ell_i$ is computed once and stored in a variable) rather than on a formula.
#
# Symbolic differentiation also needs a closed formula to start from. A program with a branch
# on its input has none; AD simply differentiates the branch that runs:

# %%
def g(x):
    if x > 0:
        return x * x
    return -x


try:
    adkit.symbolic.symbolic_derivative(g)
except TypeError as err:
    print("symbolic:", err)
print("AD:       g'(1.5) =", adkit.derivative(g)(1.5))

# %% [markdown]
# ## Automatic differentiation: the third way
#
# AD evaluates the program once, operation by operation, and carries along each intermediate
# value's derivative, applying the chain rule to one elementary operation at a time. There is no
# step $h$ (so no truncation and no cancellation) and no formula (so no swell). Here is what
# forward-mode AD computes for $f$: each row is one elementary operation, its value (*primal*)
# and its derivative with respect to $x$ (*tangent*). The adjoint column belongs to reverse mode,
# the subject of a later notebook.

# %%
print(adkit.trace(f, x0))

# %% [markdown]
# Read the tangent column from the top. The seed is $\dot v_0 = 1$ ("$x$ moves at unit speed").
# $v_1 = 4 v_0$ moves 4 times as fast, $\dot v_1 = 4$; $v_2 = 1 - v_0$ moves backwards,
# $\dot v_2 = -1$; the product $v_3 = v_1 v_2$ follows the product rule,
# $\dot v_3 = \dot v_1 v_2 + v_1 \dot v_2 = 4 \times 0.7 + 1.2 \times (-1) = 1.6$; and so on down to
# $\dot v_6 = f'(0.3) = -4.352$. Every step is one elementary derivative applied to numbers:
# no step $h$, no formula.
#
# The same number from `adkit.derivative`, next to the other methods at their usual steps:

# %%
candidates = {
    "forward difference, h = √ε": adkit.numerical.forward_difference(f, x0),
    "central difference, h = ∛ε": adkit.numerical.central_difference(f, x0),
    "complex step, h = 1e-20": adkit.numerical.complex_step(f, x0),
    "AD (adkit.derivative)": adkit.derivative(f)(x0),
}
print(f"{'exact':28} {exact!r}")
for name, value in candidates.items():
    print(f"{name:28} {value!r:22} error {abs(value - exact):.1e}")

# %% [markdown]
# How far off is each, in units in the last place (ulps) of $f'(0.3)$?

# %%
ulp = np.spacing(abs(exact))
print(f"one ulp of {exact} is {ulp:.2g}; the errors, in ulps:")
for name, value in candidates.items():
    print(f"{name:28} {abs(value - exact) / ulp:12,.0f}")
print(f"{'complex step at its best h':28} {study.min_error('complex') / ulp:12,.0f}")

# %% [markdown]
# AD is off by one ulp. It evaluates the derivative's own arithmetic (the tangent rules) in
# floating point, and each operation rounds: its error is the rounding of that arithmetic, not
# of any approximation. The best any method can return in double precision is the correctly
# rounded value, within half an ulp of the true derivative; here that is `exact` itself, the
# double nearest to $-544/125$. The complex step, at its usual $h = 10^{-20}$, is 2 ulps off, and
# at its best step (from the study above) it lands on the correctly rounded value: error 0. That
# is luck of its roundings, not a better method. It also needs an analytic $f$ that accepts
# complex numbers; most programs (with `abs`, `max`, comparisons, or libraries written for real
# numbers) do not.
#
# And the cost? Each elementary operation is evaluated once with its derivative rule attached:
# the product $uv$ also computes $\dot u v + u \dot v$, two multiplications and an addition. So
# one derivative costs a small constant number of evaluations of $f$, whatever $f$ is, with no
# step to tune and no formula to store.
#
# | | finite differences | symbolic | automatic |
# |---|---|---|---|
# | accuracy | half (forward) or two thirds (central) of the digits | exact | exact to floating point |
# | works on | values of $f$ (a black box), with a step $h$ to tune | a closed formula | the program |
# | cost of $f'(x)$ | 2 evaluations | a formula that may swell exponentially | a few evaluations |
# | gradient in $n$ variables | $n + 1$ or $2n$ evaluations | $n$ formulas | a few evaluations (reverse) |
# | branches and loops | yes | no | yes |
#
# The next notebook opens the box: **dual numbers**, the arithmetic that makes forward-mode AD
# work.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: the best step for another function
#
# For $f(x) = e^x$ at $x = 1$, predict the best step of the central difference from
# $h^* = \sqrt[3]{3\varepsilon |f| / |f'''|}$ (here $f = f''' = e^x$), then measure it with
# `adkit.numerical.error_vs_step(np.exp, 1.0, exact=np.e)`. Do they agree within a factor of 10?

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
predicted = (3 * eps) ** (1 / 3)  # |f| / |f'''| = 1 for the exponential
measured = adkit.numerical.error_vs_step(np.exp, 1.0, exact=np.e).optimal_step["central"]
assert 0.1 < measured / predicted < 10
print(f"predicted h* = {predicted:.1e}, measured h* = {measured:.1e}")

# %% [markdown]
# ### Exercise 2: when the complex step fails
#
# $g(x) = x\,|x|$ has $g'(x) = 2|x|$. Predict what the complex step gives at $x = 0.3$ (hint:
# `np.abs` of a complex number is its modulus, a real number), then compare it with
# `adkit.numerical.complex_step(g, 0.3)` and with `adkit.derivative(g)(0.3)`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def g(x):
    return x * np.abs(x)


# |0.3 + ih| = sqrt(0.09 + h²) is real, so Im g(0.3 + ih) / h = sqrt(0.09 + h²) ≈ 0.3: half the truth
assert abs(adkit.numerical.complex_step(g, 0.3) - 0.3) < 1e-15
assert adkit.derivative(g)(0.3) == 2 * 0.3
print(f"complex step: {adkit.numerical.complex_step(g, 0.3):g} (wrong), AD: {adkit.derivative(g)(0.3):g}")

# %% [markdown]
# ### Exercise 3: no swell in AD
#
# How many elementary operations does AD record for $f_{20}$, the logistic map iterated 20 times,
# and how long would the derivative's formula be, if its size kept growing by at least 2 per step
# from $k = 8$ (13,824 operations)? Check the first number with `adkit.trace` (its rows are the
# input, one row per operation, and the output `y`) and the derivative at $x = 0.3$ against
# `adkit.derivative`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
f20 = adkit.symbolic.logistic_map(20)
trace20 = adkit.trace(f20, 0.3)
operations = sum(row.kind == "intermediate" for row in trace20.rows)
assert operations == 3 * 20
assert trace20["y"].tangent == adkit.derivative(f20)(0.3)
print(f"AD: {operations} operations; the formula: at least 13,824 x 2^12 = {13_824 * 2**12:,} operations")
