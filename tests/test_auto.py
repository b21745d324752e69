"""mode="auto": the same derivatives as the fixed modes, a sensible choice, and its explanation."""

import numpy as np
import pytest

import adkit
from adkit.modes import Workload, estimate, workload_of
from adkit.reverse import Tape

RNG = np.random.default_rng(0)
W = RNG.normal(size=(7, 5))

FUNCTIONS = [
    ("scalar", lambda x: np.sin(x) * np.exp(x), 0.3),
    ("vector to scalar", lambda x: np.sum(np.tanh(x) ** 2), RNG.normal(size=40)),
    ("scalar to vector", lambda t: np.sin(t * np.arange(1.0, 30.0)), 0.7),
    ("dense", lambda x: np.tanh(W @ x), RNG.normal(size=5)),
    ("matrix in, matrix out", lambda a: a @ a.T + np.linalg.inv(a + 5 * np.eye(3)), RNG.normal(size=(3, 3))),
    (
        "pytree",
        lambda p: {"y": p[0] @ p[1], "z": np.sum(p[1])},
        (RNG.normal(size=(2, 3)), RNG.normal(size=3)),
    ),
    ("elementwise", lambda x: np.sqrt(x) * np.log1p(x), RNG.random(12) + 0.5),
]


@pytest.mark.parametrize(("name", "f", "x"), FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_auto_agrees_with_forward_and_reverse(name, f, x):
    results = [adkit.jacobian(f, mode=mode)(x) for mode in ("forward", "reverse", "auto")]
    leaves = [adkit.pytree.flatten(r)[0] for r in results]
    for fwd, rev, auto in zip(*leaves):
        np.testing.assert_allclose(auto, fwd, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(rev, fwd, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("f", "args", "n", "m"),
    [
        (lambda x: np.sum(x**2), (np.ones(1000),), 1000, 1),
        (lambda t: t * np.ones(50), (2.0,), 1, 50),
        (lambda a, b: (a @ b, np.sum(a)), (np.ones((2, 3)), np.ones((3, 4))), 6, 9),
    ],
)
def test_explain_reports_n_and_m(f, args, n, m):
    choice = adkit.diff(f).explain(*args)
    assert (choice.n, choice.m) == (n, m)
    assert choice.mode in ("forward", "reverse") and choice.mode in choice.reason
    assert f"n = {n}" in choice.reason and f"m = {m}" in choice.reason
    assert "<table>" in choice._repr_html_()


def test_clear_cut_shapes_get_the_obvious_mode():
    assert adkit.diff(lambda x: np.sum(np.sin(x))).explain(np.ones(500)).mode == "reverse"
    assert adkit.diff(lambda t: np.sin(t * np.arange(500.0))).explain(1.5).mode == "forward"
    w = RNG.normal(size=(200, 3))
    assert adkit.diff(lambda x: np.tanh(w @ x)).explain(np.ones(3)).mode == "forward"
    assert adkit.diff(lambda x: np.tanh(w.T @ x)).explain(np.ones(200)).mode == "reverse"


def test_the_cost_model_grows_with_n_forward_and_m_reverse():
    work = Workload(ops=4, flops=1e4, linear=5e3)
    f1, r1 = estimate(10, 10, work)
    f2, r2 = estimate(100, 10, work)
    f3, r3 = estimate(10, 100, work)
    # more inputs cost forward mode much more than reverse mode (which only assembles a
    # larger Jacobian), and more outputs the other way round
    assert f2 - f1 > 5 * (r2 - r1) > 0
    assert r3 - r1 > 5 * (f3 - f1) > 0


def test_workload_reads_operations_and_flops_off_the_tape():
    tape = Tape()
    x = tape.leaf(np.ones(4))
    _ = np.tanh(np.ones((3, 4)) @ x)
    work = workload_of(tape)
    assert work.ops == 2
    tanh_flops = adkit.tanh.flops * 3
    assert work.flops == 2 * 3 * 4 + tanh_flops
    assert work.linear == 2 * 3 * 4 + 3


def test_auto_reuses_its_probe_and_remembers_the_choice():
    calls = []

    def f(x):
        calls.append(type(x).__name__)
        return np.sum(x**2)

    d = adkit.diff(f)
    g = d(np.ones(100))
    np.testing.assert_array_equal(g, 2 * np.ones(100))
    assert calls == ["Var"]  # one evaluation: the probe's tape was swept, not re-evaluated
    d(np.ones(100))
    assert calls == ["Var", "Var"]  # and the choice is remembered: no second probe
    calls.clear()
    adkit.diff(f)(3.0)  # n = 1: forward mode straight away
    assert calls == ["Dual"]


def test_explain_honours_a_fixed_mode():
    choice = adkit.diff(np.sin, mode="reverse").explain(1.0)
    assert choice.mode == "reverse" and "requested" in choice.reason


# -- why auto chose: the explanation in the learner's terms ----------------------------------------


def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


def recorded_workload(f, *args):
    tape = Tape()
    f(*(tape.leaf(a) for a in args))
    return workload_of(tape)


def first_n_where_reverse_is_cheaper(m, work, limit=100_000):
    """The crossover by walking n = 1, 2, 3 ... through the model (no doubling, no bisection)."""
    for n in range(1, limit):
        fwd, rev = estimate(n, m, work)
        if rev < fwd:
            return n
    return None


def test_why_auto_chose_forward_for_the_running_examples_gradient():
    choice = adkit.diff(running_example, argnums=(0, 1)).explain(2.0, 5.0)
    work = recorded_workload(running_example, 2.0, 5.0)
    assert (choice.mode, choice.n, choice.m, choice.ops) == ("forward", 2, 1, work.ops) and work.ops == 5
    # the crossover is the model's: the first n at which it prices reverse below forward, for this work
    assert choice.reverse_from == first_n_where_reverse_is_cheaper(1, work) > 2
    reason = choice.reason
    assert "reverse mode would get the gradient in one sweep" in reason
    assert "records the 5 operations on a tape" in reason
    assert "costs more than carrying 2 tangent directions through one forward pass" in reason
    assert reason.endswith(f"reverse mode is cheaper from n = {choice.reverse_from} inputs on.")
    assert f"about {choice.ratio:.2g}x cheaper" in reason


@pytest.mark.parametrize("m", [1, 3, 40])
@pytest.mark.parametrize("work", [Workload(5, 17.0, 5.0), Workload(2, 2e3, 1e3), Workload(40, 1e5, 4e4)])
def test_reverse_wins_from_is_where_the_choice_switches(m, work):
    crossover = adkit.modes.reverse_wins_from(m, work)
    assert crossover == first_n_where_reverse_is_cheaper(m, work)
    decide = adkit.modes.decide
    assert decide(crossover - 1, m, work).mode == "forward" if crossover > 1 else True
    assert all(decide(n, m, work).mode == "reverse" for n in (crossover, crossover + 1, 2 * crossover))
    assert decide(crossover, m, work).reverse_from == crossover


def test_the_reason_counts_in_words():
    one = adkit.modes.decide(2, 1, Workload(1, 2.0, 1.0)).reason
    assert "the 1 operation on a tape" in one and "1 operations" not in one
    assert "n = 2 inputs and m = 1 output:" in one
    many = adkit.modes.decide(1000, 1, Workload(3, 3e3, 1e3)).reason
    assert many.startswith("reverse mode") and "n = 1000 inputs" in many and "1 cotangent," in many
    curve = adkit.modes.decide(1, 1000, Workload(3, 3e3, 1e3)).reason
    assert "one forward pass with one tangent direction gives every derivative" in curve
    assert "sweep 1000 cotangents back" in curve


def test_explain_html_shows_the_crossover():
    choice = adkit.diff(running_example, argnums=(0, 1)).explain(2.0, 5.0)
    assert f"<td>n = {choice.reverse_from}</td>" in choice._repr_html_()
