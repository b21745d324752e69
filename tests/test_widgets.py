"""adkit.widgets.ModeExplorer: observers, debouncing, progress, the static fallback (no kernel needed)."""

from __future__ import annotations

import asyncio
import base64

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import adkit
from adkit import widgets
from adkit.widgets import ModeExplorer

FAST = dict(repeats=1, methods=("forward", "reverse", "auto"))


def png_of_output(explorer: ModeExplorer) -> bytes:
    (output,) = explorer.output.outputs
    return base64.b64decode(output["data"]["image/png"])


@pytest.fixture
def explorer():
    return ModeExplorer(n=4, m=2, debounce=0, **FAST)


def test_the_first_picture_is_drawn_at_once(explorer):
    assert explorer.measurements == 1
    assert explorer.comparison.shapes == [(4, 2)]
    assert png_of_output(explorer).startswith(b"\x89PNG")
    assert explorer.progress.value == explorer.progress.max == 3
    assert explorer.status.value.startswith("n = 4, m = 2: fastest")


def test_moving_a_slider_measures_and_redraws(explorer):
    before = png_of_output(explorer)
    explorer.n_slider.value = 64
    assert explorer.measurements == 2
    assert explorer.comparison.shapes == [(64, 2)]
    assert png_of_output(explorer) != before
    explorer.m_slider.value = 16
    assert explorer.comparison.shapes == [(64, 16)]
    assert set(explorer.history["dense"]) == {(4, 2), (64, 2), (64, 16)}
    assert set(explorer.history["dense"].values()) <= {"forward", "reverse"}


def test_the_family_decides_which_sizes_are_free(explorer):
    explorer.family_dropdown.value = "elementwise"
    assert explorer.m_slider.disabled and not explorer.n_slider.disabled
    assert explorer.comparison.shapes == [(4, 4)]
    explorer.family_dropdown.value = "broadcast"
    assert explorer.n_slider.disabled and not explorer.m_slider.disabled
    assert explorer.comparison.shapes == [(1, 2)]
    explorer.family_dropdown.value = "reduction"
    assert explorer.comparison.shapes == [(4, 1)]
    assert "reduction" in repr(explorer)


def test_the_mode_checkboxes_choose_what_is_measured(explorer):
    explorer.checkboxes["auto"].value = False
    assert [r["method"] for r in explorer.comparison.records] == ["forward", "reverse"]
    explorer.checkboxes["central"].value = True
    assert [r["method"] for r in explorer.comparison.records] == ["forward", "reverse", "central"]
    count = explorer.measurements
    for box in explorer.checkboxes.values():
        box.value = False
    assert explorer.status.value == "tick at least one mode to measure"
    assert explorer.measurements == count + 2  # the two unticks that left something to measure


def test_changes_within_the_debounce_time_are_measured_once():
    async def scenario():
        explorer = ModeExplorer(n=4, m=2, debounce=0.05, **FAST)  # the first picture: at once
        assert explorer.measurements == 1
        for n in (8, 16, 32):
            explorer.n_slider.value = n
        assert explorer.measurements == 1 and "waiting" in explorer.status.value
        for _ in range(100):
            await asyncio.sleep(0.05)
            if explorer.measurements > 1:
                break
        await asyncio.sleep(0.2)
        return explorer

    explorer = asyncio.run(scenario())
    assert explorer.measurements == 2
    assert explorer.comparison.shapes == [(32, 2)]


def test_the_stored_output_has_a_picture_and_a_text(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    text = "ModeExplorer(family='dense', n=4, m=2, methods=('forward', 'reverse', 'auto'))"
    assert bundle["text/plain"] == text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n=3), "power of two"),
        (dict(m=0), "positive integer"),
        (dict(n=4096), "power of two from 1 to 1024"),
        (dict(family="sideways"), "unknown family"),
        (dict(methods=["sideways"]), "subset"),
        (dict(repeats=0), "repeats"),
        (dict(debounce=-1), "debounce"),
        (dict(max_exponent=0), "max_exponent"),
    ],
)
def test_bad_input_is_explained(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModeExplorer(**kwargs)


def test_module_is_reachable_from_adkit():
    assert adkit.widgets is widgets


# -- what the picture and the sliders show ---------------------------------------------------------


def test_a_size_the_family_fixes_shows_its_value_and_comes_back_after(explorer):
    explorer.m_slider.value = 16
    count = explorer.measurements
    explorer.family_dropdown.value = "reduction"
    assert explorer.m_slider.disabled and explorer.m_slider.value == 1  # not a stale 16 beside "m = 1"
    assert explorer.comparison.shapes == [(4, 1)] and "m = 1" in explorer.figure.axes[0].get_title()
    assert explorer.measurements == count + 1  # syncing the slider measured nothing more
    explorer.family_dropdown.value = "elementwise"
    assert explorer.m_slider.value == explorer.n_slider.value == 4
    explorer.n_slider.value = 8
    assert explorer.m_slider.value == 8 and explorer.comparison.shapes == [(8, 8)]
    explorer.family_dropdown.value = "broadcast"
    assert explorer.n_slider.disabled and explorer.n_slider.value == 1 and explorer.m_slider.value == 16
    explorer.family_dropdown.value = "dense"
    assert (explorer.n_slider.value, explorer.m_slider.value) == (8, 16)  # the sizes last chosen
    assert explorer.comparison.shapes == [(8, 16)]


def bar_axes(explorer):
    return explorer.figure.axes[0]


def test_the_time_axis_has_labelled_ticks_with_two_bars():
    explorer = ModeExplorer(n=4, m=2, debounce=0, repeats=1, methods=("forward", "reverse"))
    ax = bar_axes(explorer)
    FigureCanvasAgg(explorer.figure).draw()
    low, high = ax.get_xlim()
    shown = [t for t in ax.xaxis.get_major_ticks() if low <= t.get_loc() <= high and t.label1.get_text()]
    assert len(shown) >= 2


def test_the_estimate_tick_never_crosses_a_time_label(explorer):
    """The '|' of the cost model's estimate ends left of each bar's time label."""
    fig = explorer.figure
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = bar_axes(explorer)
    labels = [t for t in ax.texts if t.get_text().endswith(" ms")]
    ticks = [line for line in ax.lines if line.get_marker() == "|"]
    assert labels and ticks
    for tick in ticks:
        x, y = ax.transData.transform((tick.get_xdata()[0], tick.get_ydata()[0]))
        half = tick.get_markersize() / 2 * fig.dpi / 72 + tick.get_markeredgewidth()
        for label in labels:
            box = label.get_window_extent(renderer)
            crosses = box.x0 <= x <= box.x1 and box.y0 <= y + half and y - half <= box.y1
            assert not crosses, (label.get_text(), tick.get_xdata())
