"""Vertex elimination (issue 15): every order gives the Jacobian, the counts of hand-checked graphs.

Jacobians are compared with adkit's forward mode and with central
differences; the multiplication counts of two small graphs are worked out by
hand in the docstrings below.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adkit
from adkit import numerical
from adkit.elimination import ORDERS, compare, eliminate, linearize


def survey(x1, x2):
    """Baydin et al.'s example: v1 = ln v-1, v2 = v-1 v0, v3 = sin v0, v4 = v1 + v2, v5 = v4 - v3.

    Edges: v-1→v1 (1/x1), v-1→v2 (x2), v0→v2 (x1), v0→v3 (cos x2), v1→v4, v2→v4, v4→v5 (1), v3→v5 (-1).
    forward (v1 v2 v3 v4): v1 {v-1}x{v4} = 1, v2 {v-1,v0}x{v4} = 2, v3 {v0}x{v5} = 1, v4 {v-1,v0}x{v5} = 2: 6.
    reverse (v4 v3 v2 v1): v4 {v1,v2}x{v5} = 2, v3 {v0}x{v5} = 1, v2 {v-1,v0}x{v5} = 2, v1 {v-1}x{v5} = 1: 6.
    Markowitz: v1 (1x1) and v3 (1x1) first, then v2 ({v-1,v0}x{v4}: 2, before v4's 2x1: it comes
    first), then v4 ({v-1,v0}x{v5}): 1 + 1 + 2 + 2 = 6.
    """
    return np.log(x1) + x1 * x2 - np.sin(x2)


def bottleneck(x1, x2, x3):
    """Three inputs funnel into a chain of four operations that fans out to three outputs.

    v1 = x1 x2, v2 = v1 x3, v3 = cos v2, v4 = sin v3, v5 = exp v4, v6 = tanh v5; y = sin, cos, exp of v6.
    forward: v1 2x1, v2 3x1, v3 3x1, v4 3x1, v5 3x1, v6 3x3: 2 + 3 + 3 + 3 + 3 + 9 = 23.
    reverse: v6 1x3, v5 1x3, v4 1x3, v3 1x3, v2 2x3, v1 2x3: 3 + 3 + 3 + 3 + 6 + 6 = 24.
    Markowitz: the chain v3, v4, v5 at 1x1 each (3), then v1 2x1 (2), then v2 {x1,x2,x3}x{v6}
    (3, before v6's 1x3), then v6 3x3 (9): 17. Greedy, not optimal: v2 before v1 gives 16.
    """
    u = np.tanh(np.exp(np.sin(np.cos(x1 * x2 * x3))))
    return np.sin(u), np.cos(u), np.exp(u)


def dense_jacobian(f, args):
    """adkit's forward-mode Jacobian of ``f`` as an m x n matrix."""

    def vector_f(x):
        out = f(*x)
        return adkit.stack(list(out)) if isinstance(out, tuple) else adkit.stack([out])

    return np.asarray(adkit.jacobian(vector_f, mode="forward")(np.array(args, dtype=float)))


def central(f, args):
    def vector_f(x):
        out = f(*x)
        return np.array(out if isinstance(out, tuple) else [out], dtype=float)

    return np.asarray(numerical.jacobian(vector_f, np.array(args, dtype=float)))


def test_the_hand_checked_survey_graph():
    comparison = compare(survey, 2.0, 5.0)
    assert comparison.counts == {"forward": 6, "reverse": 6, "markowitz": 6}
    steps = {
        order: [
            (s.vertex, len(s.predecessors), len(s.successors), s.multiplications)
            for s in comparison.results[order].steps
        ]
        for order in ORDERS
    }
    assert steps["forward"] == [(1, 1, 1, 1), (2, 2, 1, 2), (3, 1, 1, 1), (4, 2, 1, 2)]
    assert steps["reverse"] == [(4, 2, 1, 2), (3, 1, 1, 1), (2, 2, 1, 2), (1, 1, 1, 1)]
    assert steps["markowitz"] == [(1, 1, 1, 1), (3, 1, 1, 1), (2, 2, 1, 2), (4, 2, 1, 2)]
    forward = comparison.results["forward"].steps
    assert forward[0].created == ((-1, 4),) and forward[1].updated == ((-1, 4),)
    np.testing.assert_allclose(comparison.jacobian, [[1 / 2.0 + 5.0, 2.0 - np.cos(5.0)]], rtol=1e-15)


def test_markowitz_beats_both_pure_modes_on_a_bottleneck():
    comparison = compare(bottleneck, 0.3, 0.5, 0.7)
    assert comparison.counts == {"forward": 23, "reverse": 24, "markowitz": 17}
    assert comparison.best == "markowitz"
    graph = comparison.graph
    better = eliminate(graph, [3, 4, 5, 2, 1, 6])
    assert better.multiplications == 16 and better.order == "custom"
    for result in [*comparison.results.values(), better]:
        np.testing.assert_allclose(result.jacobian, dense_jacobian(bottleneck, (0.3, 0.5, 0.7)), rtol=1e-13)


def _operation(kind: str, x, y, c: float):
    if kind == "add":
        return x + y
    if kind == "sub":
        return x - c * y
    if kind == "mul":
        return x * y
    if kind == "sin":
        return np.sin(x)
    if kind == "exp":
        return np.exp(0.3 * x)
    if kind == "tanh":
        return np.tanh(x + c)
    if kind == "square":
        return x * x
    return c * x


def random_program(seed: int, n: int, length: int):
    """A random scalar program of ``length`` operations on ``n`` inputs, returning a few of its variables."""
    rng = np.random.default_rng(seed)
    ops = []
    for k in range(length):
        kind = rng.choice(["add", "sub", "mul", "sin", "exp", "tanh", "square", "scale"])
        ops.append((str(kind), int(rng.integers(0, n + k)), int(rng.integers(0, n + k)), float(rng.normal())))
    returned = sorted({int(i) for i in rng.integers(n, n + length, size=int(rng.integers(1, 4)))})
    if rng.random() < 0.3:
        returned.append(int(rng.integers(0, n)))  # an input returned as an output
    if rng.random() < 0.3:
        returned.append(returned[0])  # a variable returned twice

    def program(*xs):
        v = list(xs)
        for kind, a, b, c in ops:
            v.append(_operation(kind, v[a], v[b], c))
        return tuple(v[i] for i in returned)

    return program


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 4), st.integers(1, 12))
def test_every_order_reproduces_the_dense_jacobian(seed, n, length):
    f = random_program(seed, n, length)
    args = tuple(np.random.default_rng(seed).uniform(0.2, 1.2, size=n))
    try:
        graph = linearize(f, *args)
    except ValueError as err:  # an output that is an input only, or that does not depend on the inputs
        assert "constant" in str(err) or "does not depend" in str(err)
        return
    dense = dense_jacobian(f, args)
    np.testing.assert_allclose(dense, central(f, args), rtol=1e-5, atol=1e-6)
    rng = np.random.default_rng(seed)
    shuffled = list(graph.intermediates)
    rng.shuffle(shuffled)
    for order in [*ORDERS, shuffled]:
        np.testing.assert_allclose(eliminate(graph, order).jacobian, dense, rtol=1e-12, atol=1e-14)


def test_every_order_of_a_small_graph_gives_the_same_jacobian():
    graph = linearize(survey, 2.0, 5.0)
    jacobians = [eliminate(graph, order).jacobian for order in itertools.permutations(graph.intermediates)]
    assert len(jacobians) == 24
    for j in jacobians:
        np.testing.assert_allclose(j, jacobians[0], rtol=1e-15)


def test_outputs_read_later_returned_twice_or_inputs_get_vertices_of_their_own():
    def f(x1, x2):
        u = x1 * x2
        return u, np.sin(u), x1, u

    graph = linearize(f, 0.5, 2.0)
    assert graph.outputs == (("y", 0), 2, ("y", 2), ("y", 3))
    assert graph.intermediates == (1,)
    result = eliminate(graph, "forward")
    np.testing.assert_allclose(result.jacobian, dense_jacobian(f, (0.5, 2.0)), rtol=1e-15)


def test_what_elimination_refuses():
    with pytest.raises(ValueError, match="scalar program"):
        compare(lambda x: np.sum(x * x), np.ones(3))
    graph = linearize(survey, 2.0, 5.0)
    with pytest.raises(ValueError, match="order must be one of"):
        eliminate(graph, "sideways")
    with pytest.raises(ValueError, match="every intermediate vertex once"):
        eliminate(graph, [1, 2, 3])
    comparison = compare(survey, 2.0, 5.0)
    with pytest.raises(ValueError, match="step must be between 0 and 4"):
        comparison.draw("forward", 5)
    with pytest.raises(ValueError, match="order must be one of"):
        comparison.widget("diagonal")
    with pytest.raises(ValueError, match="orders"):
        compare(survey, 2.0, 5.0, orders=())


# -- pictures ----------------------------------------------------------------------------------------------


def test_the_plot_has_a_bar_per_order():
    ax = compare(bottleneck, 0.3, 0.5, 0.7).plot()
    assert [p.get_height() for p in ax.patches] == [23, 24, 17]
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_each_frame_draws_what_is_left_of_the_graph():
    from adkit.elimination import step_scene

    result = compare(survey, 2.0, 5.0).results["reverse"]
    first, last = step_scene(result, 0), step_scene(result, 4)
    assert len(first.nodes) == 7 and len(first.edges) == 8
    assert [n.key for n in first.nodes if n.status == "active"] == [4]  # the vertex eliminated next
    assert sorted(n.key for n in last.nodes) == [-1, 0, 5] and len(last.edges) == 2
    after_one = step_scene(result, 1)
    assert {(e.source, e.target) for e in after_one.edges if e.status == "active"} == {(1, 5), (2, 5)}
    assert "2 predecessors × 1 successor = 2 multiplications" in after_one.message
    import matplotlib.pyplot as plt

    ax = compare(survey, 2.0, 5.0).draw("reverse", 2)
    assert ax.figure.get_size_inches()[0] <= 7.0 + 1e-9
    plt.close(ax.figure)


def test_the_widget_steps_through_the_elimination():
    comparison = compare(survey, 2.0, 5.0)
    player = comparison.widget("forward")
    assert player.slider.min == 0 and player.slider.max == 4
    first = player.picture.outputs[0]["data"]["image/png"]
    player.slider.value = 2
    assert player.frame == 2
    assert player.caption_html.value.startswith("<b>step 2/4: eliminated v2")
    assert player.picture.outputs[0]["data"]["image/png"] != first
    assert '<tr style="background:#fff3a0"><td>2</td>' in player.table_html.value


def test_the_animation_has_a_frame_per_step():
    anim = compare(survey, 2.0, 5.0).animate("markowitz")
    html = anim.to_jshtml()
    assert html.count("frames[") >= 5  # the graph before and after each of the 4 eliminations
