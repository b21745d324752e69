"""Checkpointing (issue 15): the same derivatives with and without, less memory by what the schedule says.

Gradients are compared with the same computation taped step by step
(``loop.plain``, ``g`` itself) to the last bits that rounding allows, and with
central differences; the binomial schedule's counts with the closed form of
revolve and with a dynamic programme over every schedule; peak memory with
``tracemalloc``.
"""

from __future__ import annotations

import functools
import gc
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adkit
from adkit import numerical
from adkit.checkpointing import beta, repetitions, schedule, split, tradeoff

RNG = np.random.default_rng(15)


def block(x, w, scale=1.0):
    return np.tanh(w * np.sin(x) + scale * x**2)


def step(x, a):
    return x + a * np.sin(x) * x[::-1]


# -- a checkpointed function ----------------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["grad", "reverse", "forward", "hessian", "vjp twice"])
def test_a_checkpointed_function_has_the_same_derivatives(transform):
    checkpointed = adkit.checkpoint(block)
    w = RNG.normal(size=4)

    def loss(x, g):
        return np.sum(g(g(x, w, scale=0.5), 1.5 * w) ** 2)

    x = RNG.normal(size=4)
    with_, without = functools.partial(loss, g=checkpointed), functools.partial(loss, g=block)
    if transform == "grad":
        got, want = adkit.grad(with_)(x), adkit.grad(without)(x)
    elif transform in ("reverse", "forward"):
        inner = lambda x, g: g(x, w) * x
        got = adkit.jacobian(functools.partial(inner, g=checkpointed), mode=transform)(x)
        want = adkit.jacobian(functools.partial(inner, g=block), mode=transform)(x)
    elif transform == "hessian":
        got, want = adkit.hessian(with_)(x), adkit.hessian(without)(x)
    else:
        _, pullback = adkit.vjp(lambda x: checkpointed(x, w), x)
        u = RNG.normal(size=4)
        got = np.stack([pullback(u)[0], pullback(2 * u)[0] / 2])
        want = np.stack([adkit.vjp(lambda x: block(x, w), x)[1](u)[0]] * 2)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    if transform == "grad":
        np.testing.assert_allclose(got, numerical.jacobian(without, x), rtol=1e-6)


def test_gradients_reach_every_traced_argument_and_skip_constants():
    checkpointed = adkit.checkpoint(block)
    x, w = RNG.normal(size=3), RNG.normal(size=3)
    got = adkit.grad(lambda x, w: checkpointed(x, w).sum(), argnums=(0, 1))(x, w)
    want = adkit.grad(lambda x, w: block(x, w).sum(), argnums=(0, 1))(x, w)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    v = adkit.Var(x)  # the imperative API records it as one operation too
    checkpointed(v, w).sum().backward()
    np.testing.assert_allclose(v.grad, want[0], rtol=1e-14)


def test_the_tape_holds_one_entry_per_checkpointed_call():
    checkpointed = adkit.checkpoint(block)
    counts = {}
    for name, g in (("plain", block), ("checkpointed", checkpointed)):
        with adkit.Tape() as tape:
            x = adkit.Var(np.ones(3))
            for _ in range(5):
                x = g(x, 0.5)
        counts[name] = len(tape.nodes)
    assert counts == {"plain": 1 + 5 * 6, "checkpointed": 1 + 5}  # sin, *, x², *, +, tanh per block


def test_a_function_that_is_not_deterministic_is_refused():
    rng = np.random.default_rng(0)
    noisy = adkit.checkpoint(lambda x: x * rng.normal(size=x.shape))
    with pytest.raises(RuntimeError, match="not deterministic"):
        adkit.grad(lambda x: noisy(x).sum())(np.ones(3))


def test_what_checkpoint_refuses():
    with pytest.raises(TypeError, match="needs a function"):
        adkit.checkpoint(3.0)
    with pytest.raises(ValueError, match="snapshots= is for a loop"):
        adkit.checkpoint(block, snapshots=3)
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        adkit.checkpoint(step, steps=-1)
    with pytest.raises(ValueError, match="snapshots must be an integer >= 1"):
        adkit.checkpoint(step, steps=10, snapshots=0)
    with pytest.raises(ValueError, match=r"integer >= 0, got 2\.5: checkpoint\(step, steps=T"):
        adkit.checkpoint(step, steps=2.5)
    pair = adkit.checkpoint(lambda x: (x, x))
    with pytest.raises(TypeError, match="must return one number or array"):
        adkit.grad(lambda x: pair(x)[0].sum())(np.ones(2))


# -- a checkpointed loop --------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(0, 30), snapshots=st.integers(1, 8))
def test_a_checkpointed_loop_has_the_gradient_of_the_plain_loop(steps, snapshots):
    loop = adkit.checkpoint(step, steps=steps, snapshots=snapshots)
    x, a = RNG.normal(size=3) * 0.5, 0.1
    got = adkit.grad(lambda x, a: loop(x, a).sum(), argnums=(0, 1))(x, a)
    want = adkit.grad(lambda x, a: loop.plain(x, a).sum(), argnums=(0, 1))(x, a)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-14)
    assert loop.recomputed == schedule(steps, snapshots).recomputed


def test_a_checkpointed_loop_nests_and_sweeps_twice():
    loop = adkit.checkpoint(step, steps=12, snapshots=3)
    x = RNG.normal(size=3) * 0.5
    f, plain = (lambda x: loop(x, 0.2).sum()), (lambda x: loop.plain(x, 0.2).sum())
    np.testing.assert_allclose(adkit.hessian(f)(x), adkit.hessian(plain)(x), rtol=1e-12)
    np.testing.assert_allclose(
        adkit.jacobian(lambda x: loop(x, 0.2), mode="reverse")(x),
        adkit.jacobian(lambda x: loop.plain(x, 0.2), mode="forward")(x),
        rtol=1e-12,
    )
    np.testing.assert_allclose(adkit.grad(f)(x), numerical.jacobian(plain, x), rtol=1e-6)
    _, pullback = adkit.vjp(lambda x: loop(x, 0.2), x)
    first = pullback(np.ones(3))[0]
    assert loop.recomputed == schedule(12, 3).recomputed  # the forward pass's snapshots used
    np.testing.assert_allclose(pullback(np.ones(3))[0], first, rtol=1e-15)  # a second sweep recomputes them
    assert loop.recomputed > schedule(12, 3).recomputed


# -- the schedule -------------------------------------------------------------------------------------------


@functools.cache
def fewest_advances(length: int, free: int) -> int:
    """The fewest plain steps any schedule needs to reverse ``length`` steps from x_a with ``free`` slots,
    counting the first descent (revolve's count): a dynamic programme over every first split."""
    if length == 1:
        return 0
    if free == 0:
        return length * (length - 1) // 2
    return min(j + fewest_advances(length - j, free - 1) + fewest_advances(j, free) for j in range(1, length))


@pytest.mark.parametrize("snapshots", range(1, 7))
def test_the_schedule_is_optimal(snapshots):
    for steps in range(1, 45):
        # the forward pass has done the first descent (steps - 1 advances) and kept the last state
        optimum = fewest_advances(steps, snapshots - 1) - (steps - 1)
        assert schedule(steps, snapshots).recomputed == optimum, (steps, snapshots)
        assert schedule(steps, snapshots).peak_states <= snapshots + 1


@pytest.mark.parametrize(("steps", "snapshots"), [(10_000, 10), (10_000, 100), (10_000, 10_000), (777, 3)])
def test_the_schedule_matches_revolves_closed_form(steps, snapshots):
    """Griewank and Walther: r l - β(s + 1, r - 1) advances in all, the first descent's l - 1 included."""
    r = repetitions(steps, snapshots)
    assert beta(snapshots, r - 1) < steps <= beta(snapshots, r)
    assert schedule(steps, snapshots).recomputed == r * steps - beta(snapshots + 1, r - 1) - (steps - 1)


def test_split_points_lie_in_the_optimal_range():
    for free in range(1, 6):
        for length in range(2, 60):
            j = split(length, free)
            best = fewest_advances(length, free)
            assert j + fewest_advances(length - j, free - 1) + fewest_advances(j, free) == best


def test_the_tradeoff_plot_has_a_point_per_snapshot_count():
    result = tradeoff(1000, [2, 10, 100, 1000])
    assert [s.recomputed for s in result.schedules][-1] == 0
    assert "snapshots" in repr(result)
    ax = result.plot(measured={10: (12.0, 2637)})
    (line, marks) = ax.lines
    assert len(line.get_xdata()) == 4 and len(marks.get_xdata()) == 1
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


# -- memory -------------------------------------------------------------------------------------------------


def peak_bytes(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak - base


def test_peak_memory_is_lower_by_what_the_schedule_predicts():
    """Plain reverse mode keeps each step's tape; checkpointing at most ``peak_states`` states and one tape.

    The unit costs are measured, not assumed: a state is the array's bytes,
    one taped step the growth of the plain loop's peak per step. The saving
    predicted is ``T · (tape of a step) - peak_states · (state)``.
    """
    x0 = np.linspace(0.0, 1.0, 20_000)  # 160 KB a state: Python's own allocations do not matter
    state = x0.nbytes
    decay = lambda x: x + 0.01 * np.sin(x)
    steps = 80

    def plain(t):
        loop = adkit.checkpoint(decay, steps=t, snapshots=1)
        return peak_bytes(lambda: adkit.grad(lambda x: loop.plain(x).sum())(x0))

    per_step = (plain(steps) - plain(steps // 2)) / (steps - steps // 2)
    assert 1.9 * state < per_step < 2.1 * state  # sin keeps x, the product keeps sin(x): two states a step
    baseline = plain(steps)
    peaks = {}
    for snapshots in (1, 2, 4, 8, 16):
        loop = adkit.checkpoint(decay, steps=steps, snapshots=snapshots)
        peaks[snapshots] = peak_bytes(lambda loop=loop: adkit.grad(lambda x: loop(x).sum())(x0))
        predicted = steps * per_step - schedule(steps, snapshots).peak_states * state
        assert baseline - peaks[snapshots] == pytest.approx(predicted, rel=0.06), snapshots
    for snapshots in (2, 4, 8, 16):  # one more state held for each snapshot
        held = schedule(steps, snapshots).peak_states - schedule(steps, 1).peak_states
        assert peaks[snapshots] - peaks[1] == pytest.approx(held * state, rel=0.03, abs=0.05 * state)


def test_default_snapshots_are_the_square_root():
    assert adkit.checkpoint(step, steps=10_000).snapshots == 100
    assert adkit.checkpoint(step, steps=10).snapshots == math.isqrt(9) + 1
