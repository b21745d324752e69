"""Reverse mode: the tape, the imperative Var API, memory, threads, long chains."""

import gc
import math
import threading
import weakref

import numpy as np
import pytest

import adkit
from adkit import Tape, Var


def test_grad_accumulates_as_in_pytorch_and_zero_grad_resets():
    x = Var(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    (x * x).backward()  # the leaf stays usable after backward, and .grad adds up
    assert x.grad == 12.0
    x.zero_grad()
    (x * 2.0).backward()
    assert x.grad == 2.0


def test_retain_graph_allows_a_second_sweep():
    x = Var(np.array([1.0, 2.0]))
    y = np.sum(np.sin(x))
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    np.testing.assert_allclose(first, np.cos([1.0, 2.0]))
    assert y.tape.freed


def test_backward_with_a_cotangent_on_an_array_output():
    x = Var(np.array([1.0, 2.0, 3.0]))
    y = x**2
    y.backward(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, 12.0])


def test_the_tape_lists_nodes_in_evaluation_order():
    with Tape() as tape:
        x = Var(2.0)
        y = Var(5.0)
        z = x * x + x * y + 2
    assert [n.label for n in tape.nodes] == ["input", "input", "t0 * t0", "t0 * t1", "t2 + t3", "t4 + 2"]
    assert [n.inputs for n in tape.nodes] == [(), (), (0, 0), (0, 1), (2, 3), (4, None)]
    assert [float(n.value) for n in tape.nodes] == [2.0, 5.0, 4.0, 10.0, 14.0, 16.0]
    assert tape.nodes[2].primitive is adkit.multiply and z.index == 5
    z.backward()
    assert (x.grad, y.grad) == (2 * 2.0 + 5.0, 2.0)


def test_array_nodes_record_shapes_and_broadcasting_is_undone():
    with Tape() as tape:
        w = Var(np.ones((3, 2)))
        b = Var(np.zeros(2))
        out = np.sum(np.tanh(np.ones((4, 3)) @ w + b))
    assert [n.shape for n in tape.nodes] == [(3, 2), (2,), (4, 2), (4, 2), (4, 2), ()]
    out.backward()
    assert w.grad.shape == (3, 2) and b.grad.shape == (2,)
    expected_b = np.sum(1 - np.tanh(np.full((4, 2), 3.0)) ** 2, axis=0)
    np.testing.assert_allclose(b.grad, expected_b)


def test_indexing_scatter_adds_repeated_indices():
    g = adkit.grad(lambda x: np.sum(x[np.array([0, 2, 0])] * np.array([1.0, 2.0, 3.0])))(np.zeros(3))
    np.testing.assert_array_equal(g, [4.0, 0.0, 2.0])


def test_a_million_operation_chain_needs_no_recursion():
    def chain(x):
        for _ in range(1_000_000):
            x = x * 0.9999999 + 1e-7
        return x

    value, g = adkit.value_and_grad(chain)(1.0)
    assert g == pytest.approx(0.9999999**1_000_000, rel=1e-9)
    assert value == pytest.approx(1.0)


def test_an_unreferenced_tape_is_freed_without_the_garbage_collector():
    gc.disable()
    try:
        tape = Tape()
        x = tape.leaf(np.ones(3))
        y = np.sum(np.exp(x) * x)
        ref = weakref.ref(tape)
        del tape, x, y
        assert ref() is None  # no reference cycle: refcounting alone freed it
    finally:
        gc.enable()


def test_compact_entries_are_not_tracked_by_the_garbage_collector():
    tape = Tape()
    x = tape.leaf(0.5)
    y = adkit.sin(x * 2.0) + x * x
    gc.collect()
    assert not any(gc.is_tracked(e) for e in tape._entries)
    assert y.value == pytest.approx(math.sin(1.0) + 0.25)


def test_backward_frees_the_tape_memory():
    x = Var(np.ones(1000))
    y = np.sum(x * x)
    tape = y.tape
    y.backward()
    assert tape.freed and len(tape) == 0


def test_threads_take_gradients_independently():
    results = {}

    def work(k):
        for _ in range(200):
            x = Var(float(k))
            y = x * x * x  # imperative API: each thread has its own current tape
            y.backward()
            g = adkit.grad(lambda t: t**k)(2.0)
            results.setdefault(k, set()).add((x.grad, g))

    threads = [threading.Thread(target=work, args=(k,)) for k in (2, 3, 4, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: {(3.0 * k * k, k * 2.0 ** (k - 1))} for k in (2, 3, 4, 5)}


def test_vjp_with_a_cotangent_of_any_shape():
    a = np.arange(6.0).reshape(2, 3)
    out, pullback = adkit.vjp(lambda x: a @ x, np.ones((3, 4)))
    u = np.random.default_rng(0).normal(size=(2, 4))
    (ct,) = pullback(u)
    np.testing.assert_allclose(ct, a.T @ u)
    np.testing.assert_allclose(out, a @ np.ones((3, 4)))


def test_vjp_pulls_back_a_batch_of_cotangents_in_one_sweep():
    w = np.random.default_rng(2).normal(size=(3, 4))
    _, pullback = adkit.vjp(lambda x, y: (np.tanh(w @ x), np.sum(x) * y), np.ones(4), 2.0)
    u = np.random.default_rng(3).normal(size=(5, 3))
    v = np.random.default_rng(4).normal(size=5)
    ct_x, ct_y = pullback((u, v))
    assert ct_x.shape == (5, 4) and ct_y.shape == (5,)
    for k in range(5):
        single_x, single_y = pullback((u[k], v[k]))
        np.testing.assert_allclose(ct_x[k], single_x, rtol=1e-14)
        assert ct_y[k] == pytest.approx(single_y)
    with pytest.raises(ValueError, match="same leading axis"):
        pullback((u, 1.0))


@pytest.mark.parametrize("chunk", [None, 1, 3, 100])
def test_reverse_jacobian_in_chunks_equals_the_whole(chunk):
    w = np.random.default_rng(1).normal(size=(5, 4))
    f = lambda x: np.tanh(w @ x)
    x = np.linspace(-1, 1, 4)
    jac = adkit.jacobian(f, mode="reverse", chunk=chunk)(x)
    expected = (1 - np.tanh(w @ x) ** 2)[:, None] * w
    np.testing.assert_allclose(jac, expected, rtol=1e-14)


def test_leaves_and_intermediate_nodes():
    x = Var(1.0)
    y = x * 2.0
    assert x.is_leaf and not y.is_leaf
    assert repr(x) == "Var(1.000)"
    y.backward()
    assert repr(x) == "Var(1.000, grad=2.000)"


@pytest.mark.parametrize(
    "call",
    [
        lambda: adkit.grad(lambda p, x: np.sum(np.tanh(x @ p[0][0] + p[0][1])))(
            [(np.ones((3, 3)), np.ones(3))], np.ones((2, 3))
        ),
        lambda: adkit.jacobian(np.sin, mode="forward")(np.ones(3)),
        lambda: adkit.jacobian(np.sin, mode="reverse")(np.ones(3)),
        lambda: adkit.jacobian(np.sin, mode="auto")(np.ones(3)),
        lambda: adkit.hessian(lambda x: np.sum(np.sin(x)))(np.ones(3)),
        lambda: adkit.jvp(np.sin, (1.0,), (1.0,)),
        lambda: adkit.vjp(np.sin, np.ones(2))[1](np.ones(2)),
        lambda: adkit.trace(lambda a, b: a * b, 1.0, 2.0),
    ],
    ids=["grad", "forward jacobian", "reverse jacobian", "auto jacobian", "hessian", "jvp", "vjp", "trace"],
)
def test_a_differentiation_leaves_no_reference_cycles(call):
    """Garbage that only the collector can free would keep whole tapes alive between collections."""
    gc.collect()
    gc.disable()
    try:
        call()
        assert gc.collect() == 0
    finally:
        gc.enable()
