"""Stepping through the sweeps: one variable at a time, forward or reverse.

The **forward sweep** evaluates the variables in trace order ``v_{1-n} .. v_l``;
at each step the active variable gets its primal value and its tangent
``v̇_j = Σ_i (∂v_j/∂v_i) v̇_i`` from variables already known.

The **reverse sweep** (after the forward pass has computed every primal)
visits the variables in the opposite order, starting from the outputs'
cotangents ``ȳ``. When it reaches ``v_j`` its adjoint is complete, since every
variable that reads ``v_j`` comes later in the trace and was visited before;
it then adds ``v̄_j ∂v_j/∂v_i`` to the adjoint of each operand ``v_i``.
Adjoints not yet complete are shown as partial sums ("so far").

:class:`SweepWidget` plays the steps with an ipywidgets slider; :func:`animate`
makes a ``matplotlib.animation.FuncAnimation`` of them for pages without
widgets.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from adkit.views.graph import geometry, render
from adkit.views.record import Computation, format_value

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.figure import Figure

    from adkit.views.graph import Graph

__all__ = ["SweepStep", "SweepWidget", "animate", "sweep_steps"]

MODES = ("forward", "reverse")
DOT, BAR = "\u0307", "\u0304"  # combining dot and bar: v̇, v̄
SHOW_FOR = {"forward": ("value", "tangent", "partial"), "reverse": ("value", "adjoint", "partial")}


@dataclass(frozen=True)
class SweepStep:
    """The state of a sweep after its ``index``-th step (0-based) out of ``total``.

    ``values`` and ``tangents`` hold the numbers of the variables whose primal
    and tangent are known; ``adjoints`` the adjoints accumulated so far
    (partial sums), of which those in ``final`` are complete. ``edges`` are
    the ``(source, target)`` pairs along which something flows at this step.

    >>> step = adkit.graph(lambda x: np.sin(x) * x, 1.0).sweep_steps("reverse")[0]
    >>> step.active, sorted(step.final), round(step.adjoints[0], 4)   # v̄0 so far: v1 = sin 1
    (2, [2], 0.8415)
    """

    mode: str
    index: int
    total: int
    active: int
    values: frozenset[int]
    tangents: frozenset[int]
    adjoints: dict[int, Any]
    final: frozenset[int]
    edges: tuple[tuple[int, int], ...]
    caption: str


def _check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be 'forward' or 'reverse', got {mode!r}")
    return mode


def sweep_steps(comp: Computation, mode: str = "forward") -> list[SweepStep]:
    """The steps of the forward or reverse sweep over a recorded computation, one per variable.

    >>> g = adkit.graph(lambda x1, x2: x1 * x2, 2.0, 5.0)
    >>> [s.caption for s in g.sweep_steps("reverse")]  # doctest: +NORMALIZE_WHITESPACE
    ['step 1/3: v̄1 = 1 (the output cotangent ȳ); v̄-1 += 5 · v̄1 = 5, v̄0 += 2 · v̄1 = 2',
     'step 2/3: v̄0 = 2 is complete (∂y/∂x2)',
     'step 3/3: v̄-1 = 5 is complete (∂y/∂x1)']
    """
    _check_mode(mode)
    variables = comp.variables
    total = len(variables)
    numbers = [v.number for v in variables]
    steps = []
    if mode == "forward":
        tangents_known = comp.has_tangents
        for k, n in enumerate(numbers):
            known = frozenset(numbers[: k + 1])
            edges = tuple((e.source, e.target) for e in comp.edges_into(n))
            text = f"step {k + 1}/{total}: " + _forward_text(comp, n)
            tangents = known if tangents_known else frozenset()
            steps.append(SweepStep(mode, k, total, n, known, tangents, {}, frozenset(), edges, text))
        return steps
    everything = frozenset(numbers)
    adjoints: dict[int, Any] = {}
    seeded = set()
    for number, cotangent in zip(comp.outputs, comp.cotangent):
        adjoints[number] = cotangent if number not in adjoints else adjoints[number] + cotangent
        seeded.add(number)
    final: set[int] = set()
    for k, n in enumerate(reversed(numbers)):
        v = comp.variable(n)
        if n not in adjoints:  # nothing reads it: its adjoint is zero
            adjoints[n] = np.zeros(v.shape) if v.shape else 0.0
        final.add(n)
        sent = []
        for e in comp.edges_into(n):
            adjoints[e.source] = e.adjoint if e.source not in adjoints else adjoints[e.source] + e.adjoint
            sent.append(e)
        text = f"step {k + 1}/{total}: " + _reverse_text(comp, n, adjoints[n], n in seeded, sent, adjoints)
        steps.append(SweepStep(mode, k, total, n, everything, frozenset(), dict(adjoints), frozenset(final),
                               tuple((e.source, e.target) for e in sent), text))  # fmt: skip
    return steps


def _name(number: int, accent: str = "") -> str:
    return f"v{accent}{number}"


def _forward_text(comp: Computation, n: int) -> str:
    v = comp.variable(n)
    value = format_value(v.value)
    if v.is_input:
        text = f"{v.name} = {v.input_name} = {value}"
        if v.tangent is not None:
            text += f"; {_name(n, DOT)} = {format_value(v.tangent)} (the seed)"
        return text
    from adkit.views.record import definition

    text = f"{v.name} = {definition(v, 'text')} = {value}"
    if v.tangent is None:
        return text
    edges = comp.edges_into(n)
    if edges and all(e.partial is not None and np.ndim(e.partial) == 0 for e in edges):
        sum_ = ""
        for k, e in enumerate(edges):
            sign = ("-" if k == 0 else " - ") if e.partial < 0 else ("" if k == 0 else " + ")
            sum_ += f"{sign}{format_value(abs(e.partial))} · {_name(e.source, DOT)}"
        return text + f"; {_name(n, DOT)} = {sum_} = {format_value(v.tangent)}"
    return text + f"; {_name(n, DOT)} = {format_value(v.tangent)}"


def _reverse_text(comp: Computation, n: int, adjoint: Any, seeded: bool, sent: list, adjoints: dict) -> str:
    v = comp.variable(n)
    head = f"{_name(n, BAR)} = {format_value(adjoint)}"
    if seeded:
        head += " (the output cotangent ȳ)" if len(comp.outputs) == 1 else " (an output cotangent)"
    if v.is_input:
        return head + (f" is complete (∂y/∂{v.input_name})" if len(comp.outputs) == 1 else " is complete")
    pushes = []
    for e in sent:
        if e.partial is not None and np.ndim(e.partial) == 0:
            pushes.append(f"{_name(e.source, BAR)} += {format_value(e.partial)} · {_name(n, BAR)} = "
                          f"{format_value(adjoints[e.source])}")  # fmt: skip
        else:
            pushes.append(f"{_name(e.source, BAR)} += {format_value(e.adjoint)}")
    return head + ("; " + ", ".join(pushes) if pushes else "")


def _step_scene(graph: Graph, step: SweepStep) -> Any:
    from adkit.views.graph import _scene

    return _scene(graph.computation, SHOW_FOR[step.mode], 4, step)


def _check_size(graph: Graph, max_nodes: int, what: str) -> None:
    if len(graph) > max_nodes:
        raise ValueError(
            f"{what} steps through one variable at a time; this graph has {len(graph)} variables, more "
            f"than max_nodes={max_nodes}. Trace a smaller input, or pass a larger max_nodes."
        )


def _png(fig: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


class SweepWidget(widgets.VBox):
    """A player for a sweep: play button and slider, the graph at that step, and the trace.

    Moving ``slider`` (or pressing play) redraws ``picture`` (an ``Output``
    holding a PNG of the graph with the active variable highlighted) and
    ``table`` (the trace as HTML with the matching row highlighted).
    ``step`` is the current :class:`SweepStep`. The slider counts steps from
    1, as the captions do; the picture is drawn at 100 dots per inch and at
    most ``PAGE_WIDTH`` inches wide, so its text shows at 9 pt; the table
    keeps one width through the steps and goes below the picture when the
    page is too narrow for both side by side.

    >>> w = adkit.graph(lambda x: np.sin(x) * x, 1.0).sweep_widget("reverse")
    >>> w.slider.value = 2
    >>> w.step.caption
    'step 2/3: v̄1 = 1; v̄0 += 0.5403 · v̄1 = 1.3818'
    """

    def __init__(self, graph: Graph, mode: str = "forward", interval: int = 1000, max_nodes: int = 60,
                 dpi: int = 100):  # fmt: skip
        from matplotlib.figure import Figure

        _check_mode(mode)
        _check_size(graph, max_nodes, "sweep_widget")
        self.graph = graph
        self.mode = mode
        self.steps = graph.sweep_steps(mode)
        self._trace = graph.trace
        self._figure = Figure()
        self._dpi = dpi
        total = len(self.steps)
        self.play = widgets.Play(value=1, min=1, max=total, step=1, interval=interval, description="play")
        self.slider = widgets.IntSlider(value=1, min=1, max=total, description=f"{mode} step",
                                        continuous_update=True, readout=True,
                                        style={"description_width": "initial"})  # fmt: skip
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.caption = widgets.HTML()
        self.picture = widgets.Output()
        self.table = widgets.HTML()
        # side by side where the page is wide enough, the table below the picture where it is not
        below_if_narrow = widgets.Layout(flex_flow="row wrap", align_items="flex-start")
        super().__init__([widgets.HBox([self.play, self.slider]), self.caption,
                          widgets.HBox([self.picture, self.table], layout=below_if_narrow)])  # fmt: skip
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
        fig = self._figure
        fig.clear()
        scene = _step_scene(self.graph, step)
        scene.message = ""  # the caption above the picture says it
        render(scene, figure=fig)
        png = base64.b64encode(_png(fig, self._dpi)).decode("ascii")
        # Set the Output's state from the kernel side: this works in JupyterLab, under nbval and in
        # plain Python alike (a `with out:` block captures nothing outside a kernel).
        self.picture.outputs = ({"output_type": "display_data", "metadata": {},
                                 "data": {"image/png": png, "text/plain": f"<{step.caption}>"}},)  # fmt: skip
        self.caption.value = f"<b>{step.caption}</b>"
        self.table.value = self._trace.to_html(state=step)

    def __repr__(self) -> str:
        return (f"<adkit sweep widget: {self.mode} sweep of {self.graph.computation.function_name}, "
                f"{len(self.steps)} steps>")  # fmt: skip


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

    _check_mode(mode)
    _check_size(graph, max_nodes, "animate")
    steps = graph.sweep_steps(mode)
    trace = graph.trace
    geo = geometry(_step_scene(graph, steps[0]))
    # the table below the graph, so that the frame is no wider than a page and its text stays readable
    table_width, table_height = 6.5, 0.35 + 0.3 * (len(trace) + 1)
    width, height = max(geo.width, table_width), geo.height + table_height
    fig = Figure(figsize=(width, height))
    split = table_height / height

    def draw_frame(k: int) -> list:
        fig.clear()
        graph_axes = fig.add_axes(((width - geo.width) / 2 / width, split, geo.width / width, 1.0 - split))
        render(_step_scene(graph, steps[k]), ax=graph_axes, width=geo.width)
        table_axes = fig.add_axes(((width - table_width) / 2 / width, 0.0, table_width / width, split * 0.97))
        trace.draw(ax=table_axes, precision=4, state=steps[k], caption=False)
        return []

    return FuncAnimation(fig, draw_frame, frames=len(steps), interval=interval, repeat=True)
