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
# # 2. Dual numbers
#
# The complex numbers add to the reals a number $i$ with $i^2 = -1$. The **dual numbers** add a
# number $\varepsilon$ with
#
# $$\varepsilon^2 = 0, \qquad \varepsilon \neq 0.$$
#
# Think of $\varepsilon$ as a nudge so small that its square vanishes. A dual number is
# $a + b\,\varepsilon$: a *real part* $a$ and a *dual part* $b$. This notebook shows that
# ordinary arithmetic on dual numbers computes derivatives, exactly, as a side effect: the
# rules of differentiation are the rules of this arithmetic. That is all forward-mode
# automatic differentiation is.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * compute with dual numbers $a + b\,\varepsilon$, $\varepsilon^2 = 0$, by hand and with
#   `adkit.Dual`, and read the sum, product, quotient and chain rules off their arithmetic;
# * extend a function to dual numbers by its first-order Taylor expansion;
# * get a derivative by evaluating at $x + \varepsilon$, a second derivative with duals of
#   duals, and a gradient with a vector-valued dual part.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import adkit

np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## Meet $\varepsilon$
#
# `adkit.Dual(a, b)` is the dual number $a + b\,\varepsilon$. Its parts are `.real` and `.dual`
# (also called `.value` and `.tangent`, the names used in the rest of these notebooks). Jupyter
# shows it as a formula:

# %%
z = adkit.Dual(3.0, 1.0)
display(z)

# %%
print("real part:", z.real, "  dual part:", z.dual)

eps = adkit.Dual(0.0, 1.0)  # ε itself: real part 0, dual part 1
print("ε     =", eps)
print("ε · ε =", eps * eps)

# %% [markdown]
# To read results easily we print $a + b\,\varepsilon$ with a small helper:

# %%
def show(z):
    """A dual number as text: 'a + b ε'."""
    sign = "-" if z.dual < 0 else "+"
    return f"{z.real:.6g} {sign} {abs(z.dual):.6g} ε"


print(show(z), "|", show(eps * eps))

# %% [markdown]
# ## Arithmetic that knows the rules of differentiation
#
# Multiply out, and drop every $\varepsilon^2$:
#
# $$\begin{aligned}
# (a + b\varepsilon) + (c + d\varepsilon) &= (a + c) + (b + d)\,\varepsilon \\
# (a + b\varepsilon)\,(c + d\varepsilon) &= ac + (ad + bc)\,\varepsilon + bd\,\varepsilon^2
#   = ac + (ad + bc)\,\varepsilon \\
# \frac{a + b\varepsilon}{c + d\varepsilon}
#   &= \frac{(a + b\varepsilon)(c - d\varepsilon)}{(c + d\varepsilon)(c - d\varepsilon)}
#   = \frac{ac + (bc - ad)\,\varepsilon}{c^2}
#   = \frac{a}{c} + \frac{bc - ad}{c^2}\,\varepsilon
# \end{aligned}$$
#
# Now read $a, b$ as a function and its derivative, $u(x), u'(x)$, and $c, d$ as $v(x), v'(x)$.
# The dual parts are the **sum rule** $(u + v)' = u' + v'$, the **product rule**
# $(uv)' = u'v + uv'$ and the **quotient rule** $(u/v)' = (u'v - uv')/v^2$. Nobody told the
# arithmetic about derivatives: $\varepsilon^2 = 0$ is enough.
#
# With numbers, $u = 3 + 2\varepsilon$ and $v = 5 + 7\varepsilon$:

# %%
a, b, c, d = 3.0, 2.0, 5.0, 7.0
u, v = adkit.Dual(a, b), adkit.Dual(c, d)
print(f"u + v = {show(u + v):14}  rule: (a + c) + (b + d) ε       = {a + c:g} + {b + d:g} ε")
print(f"u · v = {show(u * v):14}  rule: ac + (ad + bc) ε         = {a * c:g} + {a * d + b * c:g} ε")
print(f"u / v = {show(u / v):14}  rule: a/c + (bc - ad)/c² ε     = {a / c:g} - {(a * d - b * c) / c**2:g} ε")

# %% [markdown]
# Powers follow from the binomial theorem, every term after the second containing
# $\varepsilon^2$: $(a + b\varepsilon)^n = a^n + n\,a^{n-1} b\,\varepsilon$, the **power rule**.

# %%
print(f"u³    = {show(u**3):14}  rule: a³ + 3a²b ε               = {a**3:g} + {3 * a**2 * b:g} ε")

# %% [markdown]
# ## Functions: the Taylor series stops after the first-order term
#
# For a smooth function, Taylor's theorem at $a$ with the step $b\varepsilon$ gives
#
# $$f(a + b\varepsilon) = f(a) + f'(a)\,b\varepsilon + \frac{f''(a)}{2!}\,b^2\varepsilon^2 + \dots
#   = f(a) + b\,f'(a)\,\varepsilon,$$
#
# since every term from $\varepsilon^2$ on is zero. So the natural extension of a function to dual
# numbers is
#
# $$\sin(a + b\varepsilon) = \sin a + b \cos a\;\varepsilon, \qquad
#   e^{a + b\varepsilon} = e^a + b\,e^a\,\varepsilon, \qquad
#   \ln(a + b\varepsilon) = \ln a + \frac{b}{a}\,\varepsilon.$$
#
# adkit stores $f'$ for each elementary function in its table of rules, so `np.sin`, `np.exp`,
# `np.log` (or `adkit.sin`, ...) accept dual numbers:

# %%
a, b = 0.5, 2.0
x = adkit.Dual(a, b)
print(f"sin(x) = {show(np.sin(x)):20}  rule: sin a + b cos a ε = {np.sin(a):.6g} + {b * np.cos(a):.6g} ε")
print(f"exp(x) = {show(np.exp(x)):20}  rule: e^a + b e^a ε     = {np.exp(a):.6g} + {b * np.exp(a):.6g} ε")
print(f"ln(x)  = {show(np.log(x)):20}  rule: ln a + (b/a) ε    = {np.log(a):.6g} + {b / a:.6g} ε")

# %% [markdown]
# No magic is needed for that either. The sine *is* its series,
# $\sin x = x - \frac{x^3}{3!} + \frac{x^5}{5!} - \dots$, which needs only $+$, $\times$ and
# division by numbers. Sum it on a dual number and the cosine appears in the dual part, because
# the dual part of each $x^{2k+1}/(2k+1)!$ is $x^{2k}/(2k)!$, a term of the cosine's series:

# %%
def sin_series(x, terms=12):
    """sin x = x - x³/3! + x⁵/5! - ..., with + and × only."""
    term = total = x
    for k in range(1, terms):
        term = -term * x * x / ((2 * k) * (2 * k + 1))
        total = total + term
    return total


s = sin_series(adkit.Dual(0.5, 1.0))
print(f"series on 0.5 + ε:   {s.real:.12f} + {s.dual:.12f} ε")
print(f"sin 0.5 and cos 0.5: {np.sin(0.5):.12f}   {np.cos(0.5):.12f}")

# %% [markdown]
# ## Derivatives fall out of arithmetic
#
# Put $b = 1$: evaluating $f$ at $x + \varepsilon$ gives the value and the derivative together,
#
# $$f(x + \varepsilon) = f(x) + f'(x)\,\varepsilon.$$
#
# A polynomial, $p(x) = 3x^3 - 2x^2 + x - 5$, with $p'(x) = 9x^2 - 4x + 1$ by hand. At $x = 2$:
# $p(2) = 13$ and $p'(2) = 29$.

# %%
def p(x):
    return 3 * x**3 - 2 * x**2 + x - 5


def p_horner(x):  # the same polynomial, computed differently
    return ((3 * x - 2) * x + 1) * x - 5


def dp(x):  # the hand derivative
    return 9 * x**2 - 4 * x + 1


print("p(2 + ε)        =", show(p(adkit.Dual(2.0, 1.0))))
print("p_horner(2 + ε) =", show(p_horner(adkit.Dual(2.0, 1.0))))
print("by hand: p(2) =", p(2.0), " p'(2) =", dp(2.0))

# %% [markdown]
# Both programs give $13 + 29\,\varepsilon$: the arithmetic follows whatever operations the
# program performs, and every correct program for $p$ yields $p'$.
#
# **Composite functions and the chain rule.** If $g(a + b\varepsilon) = g(a) + g'(a)\,b\,\varepsilon$,
# then feeding that into $f$ gives
#
# $$f\big(g(a) + g'(a)\,b\,\varepsilon\big) = f(g(a)) + f'(g(a))\,g'(a)\,b\,\varepsilon,$$
#
# the **chain rule**: each function multiplies the dual part it receives by its own derivative
# and passes it on. A damped oscillation, $h(x) = e^{-x^2/2} \sin 3x$, has by hand
# $h'(x) = e^{-x^2/2}\,(3 \cos 3x - x \sin 3x)$:

# %%
def h(x):
    return np.exp(-(x**2) / 2) * np.sin(3 * x)


def dh(x):  # the hand derivative
    return np.exp(-(x**2) / 2) * (3 * np.cos(3 * x) - x * np.sin(3 * x))


print("h(1 + ε) =", show(h(adkit.Dual(1.0, 1.0))))
print(f"by hand:  h(1) = {h(1.0):.6g},  h'(1) = {dh(1.0):.6g}")

# %% [markdown]
# A dual number can hold arrays: with a real part of 301 points and a dual part of ones, one
# evaluation gives $h$ and $h'$ on the whole grid. The dual part is the slope of the tangent line,
# $h(a) + h'(a)(x - a)$, drawn here at $a = 1$:

# %%
xs = np.linspace(-3, 3, 301)
hx = h(adkit.Dual(xs, np.ones_like(xs)))
a = 1.0
ha = h(adkit.Dual(a, 1.0))

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(xs, hx.real, color="C0", label="$h(x)$: real part")
ax.plot(xs, hx.dual, color="C1", label=r"$h'(x)$: dual part")
ax.plot(xs[::15], dh(xs[::15]), "o", color="C1", mfc="none", label=r"$h'(x)$ by hand")
near = np.linspace(a - 0.6, a + 0.6, 2)
ax.plot(near, ha.real + ha.dual * (near - a), "--", color="C3", label=f"tangent at $x = {a:g}$")
ax.plot([a], [ha.real], "o", color="C3")
ax.axhline(0, color="0.8", lw=0.8)
ax.set_xlabel("$x$")
ax.set_title(r"$h(x + \varepsilon) = h(x) + h'(x)\,\varepsilon$ for $h(x) = e^{-x^2/2}\,\sin 3x$")
ax.legend(loc="lower right", fontsize=9)
plt.show()

print("dual part = hand derivative at all 301 points:", np.allclose(hx.dual, dh(xs), rtol=0, atol=1e-14))

# %% [markdown]
# Compare with notebook 1: the complex step $f(x + ih)$ also carries a derivative in its second
# part, but $i^2 = -1$ leaves an $h^2 f'''/6$ error behind and $h$ must be chosen. With
# $\varepsilon^2 = 0$ there is no error term and no step at all: the dual part is $f'(x)$ up to
# ordinary floating-point rounding.

# %% [markdown]
# ## Second derivatives: duals of duals (optional)
#
# The real and dual parts may themselves be dual numbers. Take two independent nudges,
# $\varepsilon_1^2 = \varepsilon_2^2 = 0$ (but $\varepsilon_1 \varepsilon_2 \neq 0$), and evaluate
# at $x + \varepsilon_1 + \varepsilon_2$. Taylor's series stops after the second-order term, with
# $(\varepsilon_1 + \varepsilon_2)^2 = 2\varepsilon_1\varepsilon_2$:
#
# $$f(x + \varepsilon_1 + \varepsilon_2) = f(x) + f'(x)\,\varepsilon_1 + f'(x)\,\varepsilon_2
#   + f''(x)\,\varepsilon_1\varepsilon_2 .$$
#
# In adkit, the inner `Dual(x, 1)` carries $\varepsilon_1$, and the outer dual number
# `Dual(inner, Dual(1, 0))` adds $\varepsilon_2$ (adkit keeps the two nudges apart by giving the
# outer one its own tag). The coefficient of $\varepsilon_1\varepsilon_2$ is the dual part of the
# dual part:

# %%
X = adkit.Dual(adkit.Dual(2.0, 1.0), adkit.Dual(1.0, 0.0))  # 2 + ε1 + ε2
Y = p(X)
print("p(2 + ε1 + ε2) =", Y)
print(f"p(2) = {Y.real.real:g},  p'(2) = {Y.real.dual:g} = {Y.dual.real:g},  p''(2) = {Y.dual.dual:g}")
print("by hand: p''(x) = 18x - 4, p''(2) =", 18 * 2 - 4)
print("adkit.derivative(p, order=2)(2.0) =", adkit.derivative(p, order=2)(2.0))

# %% [markdown]
# `adkit.derivative(f, order=k)` nests dual numbers this way, $k$ deep.

# %% [markdown]
# ## A teaser: many directions at once
#
# For a function of two variables, $f(x, y) = x^2 y + \sin y$, seeding $x$ with
# $\varepsilon$ gives $\partial f / \partial x$, and seeding $y$ gives $\partial f / \partial y$: two
# evaluations. Instead, give the dual part *a vector*, one entry per direction: $x = 1.5 +
# (1, 0)\,\varepsilon$ and $y = 2 + (0, 1)\,\varepsilon$. The arithmetic is the same, applied to
# each entry, and one evaluation returns the whole gradient
# $\nabla f = (2xy,\; x^2 + \cos y) = (6,\; 2.25 + \cos 2)$:

# %%
def f(x, y):
    return x**2 * y + np.sin(y)


x = adkit.Dual(1.5, np.array([1.0, 0.0]))
y = adkit.Dual(2.0, np.array([0.0, 1.0]))
out = f(x, y)
print(f"f(1.5, 2) = {out.real:.6g},  dual part = gradient = {out.dual}")
print(f"by hand: (2xy, x² + cos y) = ({2 * 1.5 * 2.0:g}, {1.5**2 + np.cos(2.0):.6g})")

# %% [markdown]
# This is **vector mode**. The next notebook builds forward-mode AD from these pieces: tangents
# pushed through a program step by step, directional derivatives, and whole Jacobians.
#
# **Summary.**
#
# * A dual number $a + b\,\varepsilon$ with $\varepsilon^2 = 0$ carries a value and a derivative.
# * Its arithmetic *is* the sum, product, quotient and chain rules; each elementary function
#   extends by its first-order Taylor expansion, $f(a + b\varepsilon) = f(a) + b f'(a)\,\varepsilon$.
# * Evaluating a program on $x + \varepsilon$ returns $f(x) + f'(x)\,\varepsilon$: exact derivatives
#   at the cost of a few extra operations per operation, with no step and no formula.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: arithmetic by hand
#
# Compute $(2 + 3\varepsilon)(4 - \varepsilon)$ and $(2 + 3\varepsilon)/(4 - \varepsilon)$ on
# paper, then check with `adkit.Dual`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
u, v = adkit.Dual(2.0, 3.0), adkit.Dual(4.0, -1.0)
# product: ac + (ad + bc) ε = 8 + (-2 + 12) ε;  quotient: a/c + (bc - ad)/c² ε = 0.5 + (12 + 2)/16 ε
assert (u * v).real == 8 and (u * v).dual == 10
assert (u / v).real == 0.5 and (u / v).dual == 14 / 16
print("(2 + 3ε)(4 - ε) =", show(u * v), "   (2 + 3ε)/(4 - ε) =", show(u / v))

# %% [markdown]
# ### Exercise 2: the square root of a dual number
#
# Find $c$ in $\sqrt{a + b\varepsilon} = \sqrt a + c\,\varepsilon$ by squaring both sides
# (and dropping $\varepsilon^2$). Check your rule on `np.sqrt(adkit.Dual(4.0, 1.0))`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
# (√a + c ε)² = a + 2 √a c ε, so 2 √a c = b and c = b / (2 √a): the derivative of √x times b
a, b = 4.0, 1.0
root = np.sqrt(adkit.Dual(a, b))
assert root.real == np.sqrt(a) and root.dual == b / (2 * np.sqrt(a))
print("sqrt(4 + ε) =", show(root))

# %% [markdown]
# ### Exercise 3: a second derivative with duals of duals
#
# Evaluate the damped oscillation $h$ at $1 + \varepsilon_1 + \varepsilon_2$ as in the section
# on second derivatives, read off $h''(1)$, and compare with `adkit.derivative(h, order=2)(1.0)`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
H = h(adkit.Dual(adkit.Dual(1.0, 1.0), adkit.Dual(1.0, 0.0)))
assert abs(H.dual.dual - adkit.derivative(h, order=2)(1.0)) < 1e-14
assert H.real.dual == H.dual.real  # both are h'(1)
print(f"h''(1) = {H.dual.dual:.6g}, the coefficient of ε1 ε2")
