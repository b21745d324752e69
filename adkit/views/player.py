"""The sweeps played step by step: an ipywidgets player, or a matplotlib animation.

:class:`SweepWidget` plays the steps of :func:`adkit.views.steps.sweep_steps`
with an ipywidgets slider; :func:`animate` makes a
``matplotlib.animation.FuncAnimation`` of them for pages without widgets.
Each frame is the graph's scene at that step (:func:`adkit.views.scene.step_scene`)
beside the trace's table with the matching row highlighted.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import ipywidgets as widgets

from adkit.views.scene import geometry, png, render, step_scene
from adkit.views.steps import SweepStep, check_mode

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation

    from adkit.views.graph import Graph

__all__ = ["SweepWidget", "animate"]


def _check_size(graph: Graph, max_nodes: int, what: str) -> None:
    if len(graph) > max_nodes:
        raise ValueError(
            f"{what} steps through one variable at a time; this graph has {len(graph)} variables, more "
            f"than max_nodes={max_nodes}. Trace a smaller input, or pass a larger max_nodes."
        )


class SweepWidget(widgets.VBox):
    """A player for a sweep: play button and slider, the graph at that step, and the trace.

    Moving ``slider`` (or pressing play) redraws ``picture`` (an ``Output``
    holding a PNG of the graph with the active variable highlighted) and
    ``table`` (the trace as HTML with the matching row highlighted);
    ``figure`` is the matplotlib Figure the picture is drawn on.
    ``step`` is the current :class:`~adkit.views.steps.SweepStep`. The slider counts steps from
    1, as the captions do; the picture is drawn at 100 dots per inch and at
    most ``PAGE_WIDTH`` inches wide, so its text shows at 9 pt; the table
    keeps one width through the steps and goes below the picture when the
    page is too narrow for both side by side.

    >>> w = adkit.graph(lambda x: np.sin(x) * x, 1.0).sweep_widget("reverse")
    >>> w.slider.value = 2
    >>> w.step.caption
    'step 2/3: v̄1 = 1; v̄0 += 0.5403 · v̄1 = 1.3818'
    """

    def __init__(
        self, graph: Graph, mode: str = "forward", interval: int = 1000, max_nodes: int = 60, dpi: int = 100
    ):
        from matplotlib.figure import Figure

        check_mode(mode)
        _check_size(graph, max_nodes, "sweep_widget")
        self.graph = graph
        self.mode = mode
        self.steps = graph.sweep_steps(mode)
        self._trace = graph.trace
        self.figure = Figure()
        self._dpi = dpi
        total = len(self.steps)
        self.play = widgets.Play(value=1, min=1, max=total, step=1, interval=interval, description="play")
        self.slider = widgets.IntSlider(
            value=1,
            min=1,
            max=total,
            description=f"{mode} step",
            continuous_update=True,
            readout=True,
            style={"description_width": "initial"},
        )
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.caption = widgets.HTML()
        self.picture = widgets.Output()
        self.table = widgets.HTML()
        # side by side where the page is wide enough, the table below the picture where it is not
        below_if_narrow = widgets.Layout(flex_flow="row wrap", align_items="flex-start")
        super().__init__(
            [
                widgets.HBox([self.play, self.slider]),
                self.caption,
                widgets.HBox([self.picture, self.table], layout=below_if_narrow),
            ]
        )
        self.slider.observe(self._on_step, names="value")
        self._show(1)

    @property
    def step(self) -> SweepStep:
        """The step the slider is on."""
        return self.steps[self.slider.value - 1]

    def _on_step(self, change: dict) -> None:
        self._show(change["new"])

    def _show(self, number: int) -> None:
        step = self.steps[number - 1]
        fig = self.figure
        fig.clear()
        scene = step_scene(self.graph.computation, step)
        scene.message = ""  # the caption above the picture says it
        render(scene, figure=fig)
        encoded = base64.b64encode(png(fig, self._dpi)).decode("ascii")
        # Set the Output's state from the kernel side: this works in JupyterLab, under nbval and in
        # plain Python alike (a `with out:` block captures nothing outside a kernel).
        data = {"image/png": encoded, "text/plain": f"<{step.caption}>"}
        self.picture.outputs = ({"output_type": "display_data", "metadata": {}, "data": data},)
        self.caption.value = f"<b>{step.caption}</b>"
        self.table.value = self._trace.to_html(state=step)

    def __repr__(self) -> str:
        return (
            f"<adkit sweep widget: {self.mode} sweep of {self.graph.computation.function_name}, "
            f"{len(self.steps)} steps>"
        )


def animate(graph: Graph, mode: str = "forward", interval: int = 1000, max_nodes: int = 60) -> FuncAnimation:
    """The sweep as a matplotlib animation: the graph at each step, the trace beside it.

    The figure is not registered with pyplot, so a notebook shows nothing
    until asked: ``IPython.display.HTML(anim.to_jshtml())``, or
    ``anim.save("sweep.gif", writer="pillow")``.

    >>> anim = adkit.graph(lambda x: np.sin(x) * x, 1.0).animate("reverse")
    >>> "<script" in anim.to_jshtml()
    True
    """
    from matplotlib.animation import FuncAnimation
    from matplotlib.figure import Figure

    check_mode(mode)
    _check_size(graph, max_nodes, "animate")
    steps = graph.sweep_steps(mode)
    trace = graph.trace
    geo = geometry(step_scene(graph.computation, steps[0]))
    # the table below the graph, so that the frame is no wider than a page and its text stays readable
    table_width, table_height = 6.5, 0.35 + 0.3 * (len(trace) + 1)
    width, height = max(geo.width, table_width), geo.height + table_height
    fig = Figure(figsize=(width, height))
    split = table_height / height

    def draw_frame(k: int) -> list:
        fig.clear()
        graph_axes = fig.add_axes(((width - geo.width) / 2 / width, split, geo.width / width, 1.0 - split))
        render(step_scene(graph.computation, steps[k]), ax=graph_axes, width=geo.width)
        table_axes = fig.add_axes(((width - table_width) / 2 / width, 0.0, table_width / width, split * 0.97))
        trace.draw(ax=table_axes, precision=4, state=steps[k], caption=False)
        return []

    return FuncAnimation(fig, draw_frame, frames=len(steps), interval=interval, repeat=True)
