"""adkit.compare_modes: the records, the structure of the costs, auto's choice, and the plots.

Timings are asserted only where the difference is structural and large
(a quantity that grows a hundredfold between n = 2 and n = 200), as medians,
with factors far below what is measured.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
import pytest
from matplotlib.testing.compare import compare_images

import adkit
import adkit.compare as compare
from adkit.compare import METHODS, RECORD_FIELDS, Family, ModeComparison, compare_modes

BASELINE = Path(__file__).parent / "baseline"
UPDATE = os.environ.get("ADKIT_UPDATE_BASELINES") == "1"  # write the baselines instead of comparing


def check_image(fig, name: str, tmp_path: Path, tol: float = 3.0, update: bool = UPDATE) -> None:
    """Compare a figure with tests/baseline/NAME (RMS tolerance ``tol``, in grey levels)."""
    actual = tmp_path / name
    fig.savefig(actual, dpi=72)
    expected = BASELINE / name
    if update:
        BASELINE.mkdir(exist_ok=True)
        expected.write_bytes(actual.read_bytes())
    assert expected.exists(), f"no baseline {expected}; run with ADKIT_UPDATE_BASELINES=1 to create it"
    diff = compare_images(str(expected), str(actual), tol=tol)
    assert diff is None, diff


# -- measuring -----------------------------------------------------------------------------


def test_records_are_complete_for_every_shape_and_method():
    result = compare_modes("dense", ns=[2, 5], ms=[3], repeats=1)
    records = result.records
    assert [(r["n"], r["m"], r["method"]) for r in records] == [
        (n, 3, method) for n in (2, 5) for method in METHODS
    ]
    for r in records:
        assert set(RECORD_FIELDS) <= set(r), set(RECORD_FIELDS) - set(r)
        assert r["family"] == "dense" and r["repeats"] == 1
        assert r["time"] > 0 and r["eval_time"] > 0
        assert r["ops"] >= r["workload"]["ops"] == 4  # matmul, tanh, matmul, tanh
        assert r["flops"] > 0 and r["memory"] > 0
        assert r["error"] < (1e-8 if r["method"] == "central" else 1e-12)
        assert (r["chosen"] in ("forward", "reverse")) == (r["method"] == "auto")
        assert (r["estimate"] is not None) == (r["method"] in ("forward", "reverse", "auto"))
    passes = {r["method"]: r["passes"] for r in records if r["n"] == 5}
    assert passes | {"auto": None} == {
        "forward": 1,
        "forward_passes": 5,
        "reverse": 2,
        "reverse_sweeps": 4,
        "central": 10,
        "auto": None,
    }
    plain = (int, float, str, type(None))
    assert all(
        isinstance(v, plain) or (isinstance(v, dict) and all(isinstance(w, plain) for w in v.values()))
        for r in records
        for v in r.values()
    )


@pytest.mark.parametrize(
    ("family", "sizes", "shapes"),
    [
        ("elementwise", dict(ns=[1, 4]), [(1, 1), (4, 4)]),
        ("reduction", dict(ns=[3]), [(3, 1)]),
        ("broadcast", dict(ms=[1, 6]), [(1, 1), (1, 6)]),
        ("outer", dict(ms=[2]), [(1, 2)]),
        ("dense", dict(ns=[1], ms=[1, 2]), [(1, 1), (1, 2)]),
    ],
)
def test_each_family_has_its_shape_and_exact_jacobians(family, sizes, shapes):
    result = compare_modes(family, repeats=1, memory=False, **sizes)
    assert result.shapes == shapes
    assert all(r["memory"] is None for r in result.records)
    assert max(r["error"] for r in result.records if r["method"] != "central") < 1e-12
    assert max(r["error"] for r in result.records) < 1e-8


def test_a_user_function_of_a_size():
    def make(n):
        w = np.arange(2 * n, dtype=float).reshape(2, n)
        return (lambda x: np.exp(w @ x / n)), np.linspace(0, 1, n)

    result = compare_modes(make, ns=[3, 4], repeats=1, methods=["reverse", "central"])
    assert result.shapes == [(3, 2), (4, 2)]
    assert result.family == "make"
    assert all(r["error"] < 1e-8 for r in result.records)


def test_a_family_of_two_sizes():
    family = Family("affine", lambda n, m: ((lambda x: np.ones((m, n)) @ x), np.ones(n)), sizes=("n", "m"))
    result = compare_modes(family, ns=[2], ms=[5], repeats=1, methods=("forward",))
    assert result.shapes == [(2, 5)]


def test_progress_is_reported():
    seen = []
    compare_modes(
        "reduction", ns=[2, 3], repeats=1, methods=("forward", "reverse"), progress=lambda *a: seen.append(a)
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_operation_count():
    f, x = compare.dense(hidden=4)(3, 2)
    count = compare.operation_count(f, x)
    assert count.ops == 4 and count.by_primitive == {"matmul": 2, "tanh": 2}
    bigger = compare.operation_count(*compare.dense(hidden=4)(30, 2))
    assert bigger.ops == 4 and bigger.flops > count.flops  # the first product grows with n


# -- the structure of the costs --------------------------------------------------------------


@pytest.fixture(scope="module")
def tall_and_wide():
    """Dense layers with a wide hidden layer, so that NumPy work dominates Python overhead."""
    methods = ("forward", "forward_passes", "reverse", "reverse_sweeps", "auto")
    return compare_modes(
        compare.dense(hidden=256), ns=[2, 200], ms=[2, 200], repeats=5, memory=False, methods=methods
    )


def test_forward_cost_grows_with_n_and_reverse_cost_with_m(tall_and_wide):
    t = tall_and_wide.time
    # measured here: ~190x and ~95x (one pass per input / one sweep per output) ...
    assert t("forward_passes", 200, 2) > 20 * t("forward_passes", 2, 2)
    assert t("reverse_sweeps", 2, 200) > 20 * t("reverse_sweeps", 2, 2)
    # ... and ~50x and ~20x in vector mode, where the directions travel together
    assert t("forward", 200, 2) > 3 * t("forward", 2, 2)
    assert t("reverse", 2, 200) > 3 * t("reverse", 2, 2)
    # while the other mode hardly notices (measured: about 1x)
    assert t("reverse_sweeps", 200, 2) < 10 * t("reverse_sweeps", 2, 2)
    assert t("forward_passes", 2, 200) < 10 * t("forward_passes", 2, 2)


def test_flops_and_operations_follow_the_theory(tall_and_wide):
    rec = {(r["method"], r["n"], r["m"]): r for r in tall_and_wide.records}
    assert rec["forward_passes", 200, 2]["ops"] == 100 * rec["forward_passes", 2, 2]["ops"]
    assert rec["reverse_sweeps", 2, 200]["ops"] == 67 * rec["reverse_sweeps", 2, 2]["ops"]  # 1 + m
    assert rec["forward", 200, 2]["flops"] > 50 * rec["forward", 2, 2]["flops"]


@pytest.mark.parametrize(("n", "m", "mode"), [(200, 2, "reverse"), (2, 200, "forward")])
def test_auto_picks_the_faster_mode_on_clear_cut_shapes(tall_and_wide, n, m, mode):
    auto = [r for r in tall_and_wide.records if (r["method"], r["n"], r["m"]) == ("auto", n, m)]
    chosen = auto[0]["chosen"]
    winner, factor = tall_and_wide.winner(n, m)
    assert winner == mode and factor > 3  # clear-cut: measured ~35x and ~20x
    assert chosen == mode


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("sideways",), {}, ValueError, "unknown family 'sideways'"),
        (("elementwise",), dict(ms=[2]), ValueError, "no free m.*m = n"),
        (("broadcast",), dict(ns=[2]), ValueError, "no free n.*n = 1"),
        (("dense",), dict(ns=[0]), ValueError, "positive integers"),
        (("dense",), dict(ns=[2.5]), ValueError, "positive integers"),
        (("dense",), dict(ns=3.5), TypeError, "sequence of positive integers"),
        (("dense",), dict(repeats=0), ValueError, "repeats"),
        (("dense",), dict(methods=["sideways"]), ValueError, "methods"),
        ((lambda n, m: None,), {}, TypeError, "ONE size"),
        ((lambda n: np.sin,), dict(ns=[2]), TypeError, r"must return \(f, x\)"),
        ((lambda n: (np.sin, "x"),), dict(ns=[2]), TypeError, "float or a NumPy array"),
        ((42,), {}, TypeError, "family name"),
    ],
)
def test_bad_input_is_explained(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        compare_modes(*args, **kwargs)


def test_bad_results_and_plots_are_explained():
    with pytest.raises(ValueError, match="at least one record"):
        ModeComparison([])
    with pytest.raises(ValueError, match="lacks the field"):
        ModeComparison([{"n": 1}])
    with pytest.raises(TypeError, match="not a dict"):
        ModeComparison([(1, 2)])
    only_forward = ModeComparison([r for r in synthetic_records() if r["method"] == "forward"])
    with pytest.raises(ValueError, match="kind must be one of"):
        only_forward.plot("pie")
    with pytest.raises(ValueError, match="both 'forward' and 'reverse'"):
        only_forward.plot("heatmap")
    with pytest.raises(ValueError, match="no records with m = 5"):
        only_forward.plot("curves", m=5)
    with pytest.raises(KeyError, match="no record"):
        only_forward.time("reverse", 2, 2)
    with pytest.raises(ValueError, match="hidden"):
        compare.dense(hidden=0)
    with pytest.raises(ValueError, match="sizes"):
        Family("x", lambda n: None, sizes=("k",))


# -- tables and pictures, from fixed records --------------------------------------------------


def synthetic_records() -> list[dict]:
    """Records with the costs of the theory (a fixed part plus a part per direction), no measuring."""
    out = []
    for m in (2, 8, 32, 128):
        for n in (2, 8, 32, 128):
            times = {
                "forward": 1e-4 * (1 + 0.05 * n),
                "forward_passes": 1e-4 * n,
                "reverse": 1.6e-4 * (1 + 0.05 * m),
                "reverse_sweeps": 1.2e-4 * m + 6e-5,
                "central": 2e-5 * n,
            }
            chosen = "forward" if n <= 1.1 * m else "reverse"
            times["auto"] = times[chosen] * 1.05
            for method, t in times.items():
                out.append(
                    dict(
                        family="synthetic",
                        n=n,
                        m=m,
                        method=method,
                        time=t,
                        eval_time=1e-5,
                        repeats=3,
                        ops=4,
                        passes=1,
                        flops=1000 * n,
                        memory=1000 * n,
                        error=0.0,
                        chosen=chosen if method == "auto" else None,
                        estimate=None,
                        workload=None,
                    )
                )
    return out


def fixed_model(n, m, work=None):
    """A cost model that does not move when adkit.modes is recalibrated: forward n, reverse 2 + 1.5 m."""
    return 1.0 + n, 2.0 + 1.5 * m


@pytest.fixture
def synthetic(monkeypatch):
    monkeypatch.setattr(compare, "estimate", fixed_model)
    with matplotlib.style.context("default"):
        yield ModeComparison(synthetic_records())


def test_table_and_html(synthetic):
    text = synthetic.to_markdown()
    lines = text.splitlines()
    assert lines[0].startswith("| n | m | method | time |")
    assert len(lines) == 2 + len(synthetic_records())
    assert "| 2 | 2 | forward (vector mode) | 110 µs |" in text
    assert "auto → forward" in text
    html = synthetic._repr_html_()
    assert html.count("<tr>") == 1 + len(synthetic_records()) and "<b>" in html
    assert "16 shape(s) × 6 method(s)" in repr(synthetic)
    assert synthetic.winner(128, 2) == ("reverse", pytest.approx(7.4 / 1.76))


@pytest.mark.parametrize(
    ("kind", "options"),
    [("curves", {}), ("curves", {"m": 32, "quantity": "flops"}), ("heatmap", {}), ("crossover", {})],
)
def test_plots_match_their_baselines(synthetic, tmp_path, kind, options):
    fig = synthetic.plot(kind, **options)
    suffix = "_".join(f"{k}{v}" for k, v in options.items())
    check_image(fig, f"compare_{kind}{'_' + suffix if suffix else ''}.png", tmp_path)


def test_the_image_check_can_fail(synthetic, tmp_path):
    records = synthetic_records()
    for r in records:
        if r["method"] == "forward":
            r["time"] *= 30
    with pytest.raises(AssertionError, match="did not match"):
        check_image(ModeComparison(records).plot("heatmap"), "compare_heatmap.png", tmp_path, update=False)


def test_auto_boundary_comes_from_the_cost_model(synthetic, monkeypatch):
    gn, gm = np.meshgrid([8.0, 1.0], [1.0, 8.0])
    assert np.sign(synthetic._model_margin(gn, gm)).tolist() == [[1, -1], [-1, -1]]  # fixed_model
    monkeypatch.setattr(compare, "estimate", lambda n, m, work=None: (m, n))  # the opposite model
    assert np.sign(synthetic._model_margin(gn, gm)).tolist() == [[-1, 0], [0, 1]]


def test_curves_against_m_for_the_broadcast_family(tmp_path):
    result = ModeComparison([dict(r, family="broadcast", n=1) for r in synthetic_records() if r["n"] == 2])
    ax = result.plot("curves").axes[0]
    assert ax.get_xlabel() == "m (outputs)" and ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert "O(m)" in labels and "O(n): flat in m" in labels


def test_compare_modes_is_public():
    assert adkit.compare_modes is compare_modes
