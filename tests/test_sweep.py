"""Stepping through the sweeps: the steps' numbers, the widget, the animation.

Expected numbers come from closed forms of the running example of Baydin et
al. 2018, f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5).
"""

from __future__ import annotations

import base64
import io
import math
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure
from matplotlib.testing.compare import compare_images

from adkit.views import SweepWidget, graph
from adkit.views.scene import FONT_SIZE, geometry, render, step_scene, text_width, variable_scene

X1, X2 = 2.0, 5.0
BASELINE = Path(__file__).parent / "baseline"
STYLE = {"font.family": "DejaVu Sans", "text.hinting": "none", "mathtext.fontset": "dejavusans"}


def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def g():
    return graph(running_example, X1, X2)


# -- the steps -------------------------------------------------------------------------------------


def test_forward_steps_follow_the_trace_order(g):
    steps = g.sweep_steps("forward")
    assert [s.active for s in steps] == [-1, 0, 1, 2, 3, 4, 5]
    for k, s in enumerate(steps):
        assert s.values == s.tangents == frozenset(range(-1, k))
        assert s.adjoints == {} and s.final == frozenset()
        assert set(s.edges) == {(u, s.active) for u in g.nx.predecessors(s.active)}
    assert steps[2].caption == "step 3/7: v1 = ln(v-1) = 0.69315; v̇1 = 0.5 · v̇-1 = 0.5"
    assert steps[6].caption == "step 7/7: v5 = v4 - v3 = 11.652; v̇5 = 1 · v̇4 - 1 · v̇3 = 5.5"


def test_reverse_steps_accumulate_adjoints_as_the_survey():
    g = graph(running_example, X1, X2)
    steps = g.sweep_steps("reverse")
    assert [s.active for s in steps] == [5, 4, 3, 2, 1, 0, -1]
    expected_after = [  # the adjoints known after each step (Table 3, reverse adjoint trace)
        {5: 1, 4: 1, 3: -1},
        {5: 1, 4: 1, 3: -1, 1: 1, 2: 1},
        {5: 1, 4: 1, 3: -1, 1: 1, 2: 1, 0: -math.cos(X2)},
        {5: 1, 4: 1, 3: -1, 1: 1, 2: 1, 0: X1 - math.cos(X2), -1: X2},
        {5: 1, 4: 1, 3: -1, 1: 1, 2: 1, 0: X1 - math.cos(X2), -1: X2 + 1 / X1},
    ]
    for s, expected in zip(steps, expected_after):
        assert set(s.adjoints) == set(expected), s.caption
        for n, value in expected.items():
            assert s.adjoints[n] == pytest.approx(value, rel=1e-12), (s.caption, n)
    assert [sorted(s.final) for s in steps][:3] == [[5], [4, 5], [3, 4, 5]]
    assert set(steps[3].edges) == {(-1, 2), (0, 2)}
    assert steps[0].caption.startswith("step 1/7: v̄5 = 1 (the output cotangent ȳ); v̄4 += 1 · v̄5 = 1")
    assert steps[-1].caption == "step 7/7: v̄-1 = 5.5 is complete (∂y/∂x1)"


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (running_example, (X1, X2)),
        (lambda x, y: (x + y) * (x - y), (3.0, 2.0)),
        (lambda x, y: x * x + x * y + 2, (3.0, 2.0)),
        (lambda x: (np.sin(x) * x, np.exp(x)), (np.array([0.5, 1.0]),)),
    ],
)
def test_final_adjoints_of_the_stepped_sweep_equal_the_engines(f, args):
    g = graph(f, *args)
    last = g.sweep_steps("reverse")[-1]
    assert last.final == frozenset(g.nx.nodes)
    for n, data in g.nx.nodes(data=True):
        np.testing.assert_allclose(last.adjoints[n], data["adjoint"], rtol=1e-12, atol=1e-15)


def test_bad_mode(g):
    with pytest.raises(ValueError, match="mode must be 'forward' or 'reverse', got 'backward'"):
        g.sweep_steps("backward")
    with pytest.raises(ValueError, match="mode must be"):
        g.sweep_widget("both")
    with pytest.raises(ValueError, match="mode must be"):
        g.animate("sideways")


def test_too_large_for_stepping():
    def big(x):
        for _ in range(40):
            x = np.sin(x)
        return x

    with pytest.raises(ValueError, match=r"41 variables, more than max_nodes=30.*larger max_nodes"):
        graph(big, 1.0).sweep_widget(max_nodes=30)
    assert len(graph(big, 1.0).sweep_widget(max_nodes=50).steps) == 41


# -- the widget ------------------------------------------------------------------------------------


def picture(widget: SweepWidget) -> bytes:
    (output,) = widget.picture.outputs
    return base64.b64decode(output["data"]["image/png"])


def highlighted_row(widget: SweepWidget) -> str:
    rows = re.findall(r'<tr class="adkit-active"[^>]*>(.*?)</tr>', widget.table.value)
    assert len(rows) == 1
    return re.sub(r"<[^>]+>", "", rows[0].split("</td>")[0])


def test_widget_slider_changes_the_figure_and_the_highlighted_row(g):
    w = g.sweep_widget("reverse")
    assert w.slider.min == w.play.min == 1 and w.slider.max == w.play.max == 7
    assert w.step.active == 5 and highlighted_row(w) == "v5"
    first = picture(w)
    assert first.startswith(b"\x89PNG")
    w.slider.value = 4
    assert w.step.active == 2
    assert highlighted_row(w) == "v2"
    assert picture(w) != first
    assert "step 4/7" in w.caption.value
    # the trace beside it shows partial sums: v̄0 = 2 - cos 5 is not complete until step 6
    assert "1.7163…" in w.table.value
    w.slider.value = 1
    assert picture(w) == first and highlighted_row(w) == "v5"


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_widget_slider_counts_steps_as_the_captions_do(g, mode):
    w = g.sweep_widget(mode)
    for number in range(1, len(w.steps) + 1):
        w.slider.value = number
        assert w.step.caption.startswith(f"step {number}/7:")
        assert f"<b>step {number}/7:" in w.caption.value


def test_widget_label_is_not_cut_and_the_table_keeps_its_width(g):
    w = g.sweep_widget("forward")
    # ipywidgets cuts a description longer than its default width ("forward st..."): 'initial' fits it
    assert w.slider.description == "forward step" and w.slider.style.description_width == "initial"
    widths = set()
    for number in range(1, len(w.steps) + 1):
        w.slider.value = number
        (style,) = re.findall(r'<table class="adkit-trace" style="([^"]*)"', w.table.value)
        widths.add(
            (
                re.search(r"width:calc\([^)]*\)", style)[0],
                tuple(re.findall(r'<col style="([^"]*)"', w.table.value)),
            )
        )
    assert len(widths) == 1  # one table width and the same column widths at every step
    assert "table-layout:fixed" in style


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_the_boxes_keep_their_places_through_the_steps(g, mode):
    """Every box is sized for every text it shows in any step ("v̄ = 1.716 so far" ...): nothing moves."""
    layouts = [geometry(step_scene(g.computation, step)).layout for step in g.sweep_steps(mode)]
    assert all(lay.centers == layouts[0].centers and lay.sizes == layouts[0].sizes for lay in layouts)
    assert len(layouts[0].centers) == 7  # the running example fits a page: no tags of a folded drawing
    for step in g.sweep_steps(mode):
        for node in step_scene(g.computation, step).nodes:
            width, _ = layouts[0].sizes[node.key]
            assert all(text_width(text, FONT_SIZE) < width for text, _ in node.lines if text)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_widget_picture_text_is_readable(g, mode):
    """Shown at one pixel per CSS pixel (96 to the inch) on a 720-pixel page, no text is under 7 pt."""
    from PIL import Image

    w = g.sweep_widget(mode)
    for number in (1, 4, 7):
        w.slider.value = number
        pixels, _ = Image.open(io.BytesIO(picture(w))).size
        dpi = pixels / w.figure.get_size_inches()[0]
        sizes = [t.get_fontsize() for t in w.figure.findobj(matplotlib.text.Text) if t.get_text()]
        assert pixels <= 720 and min(sizes) * dpi / 96 >= 7.0


def test_widget_forward_mode_blanks_what_is_not_computed_yet(g):
    w = g.sweep_widget("forward")
    w.slider.value = 3
    assert highlighted_row(w) == "v1"
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>.*?</td>", w.table.value)]
    rows = [cells[k : k + 5] for k in range(0, len(cells), 5)]
    assert rows[2][2:4] == ["0.69315", "0.5"]
    assert rows[3][2:] == ["", "", ""]  # v2 is not evaluated yet
    assert all(r[4] == "" for r in rows)  # no adjoints in a forward sweep


def test_widget_repr_is_short_and_stable(g):
    expected = "<adkit sweep widget: reverse sweep of running_example, 7 steps>"
    assert repr(g.sweep_widget("reverse")) == expected


def test_widget_picture_in_output_has_text_for_nbval(g):
    (output,) = g.sweep_widget().picture.outputs
    assert output["output_type"] == "display_data"
    assert output["data"]["text/plain"] == "<step 1/7: v-1 = x1 = 2; v̇-1 = 1 (the seed)>"


# -- the animation ---------------------------------------------------------------------------------


def test_animation_has_one_frame_per_step():
    anim = graph(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0).animate("reverse", interval=500)
    assert isinstance(anim, FuncAnimation)
    page = anim.to_jshtml()
    assert len(re.findall(r"frames\[\d+\] = ", page)) == 4
    assert plt.get_fignums() == []  # the figure is not registered with pyplot


def test_animation_frames_differ():
    anim = graph(lambda x: np.sin(x) * x, 1.0).animate("forward")
    try:
        images = []
        for k in (0, 2):
            anim._func(k)  # draw frame k
            buffer = io.BytesIO()
            anim._fig.savefig(buffer, format="png", dpi=30)
            images.append(buffer.getvalue())
        assert images[0] != images[1]
    finally:
        anim.to_jshtml()  # render once, as a user would (an unrendered animation warns when deleted)


# -- a step as a picture -----------------------------------------------------------------------------


def test_image_reverse_step(g, tmp_path):
    import os

    step = g.sweep_steps("reverse")[3]
    with matplotlib.style.context("default"), matplotlib.rc_context(STYLE):
        fig = Figure()
        render(variable_scene(g.computation, ("value", "adjoint", "partial"), 4, step), figure=fig)
        actual = tmp_path / "sweep_reverse_step4.png"
        fig.savefig(actual, dpi=60, metadata={"Software": None})
    expected = BASELINE / "sweep_reverse_step4.png"
    if os.environ.get("ADKIT_REGENERATE_BASELINES") == "1":
        expected.write_bytes(actual.read_bytes())
    result = compare_images(str(expected), str(actual), tol=4.0)
    assert result is None, result
