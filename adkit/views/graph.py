"""The computational graph: a networkx ``DiGraph``, a matplotlib drawing, Graphviz text.

Graph extraction (:mod:`adkit.views.record`) is kept apart from drawing
(here) and from geometry (:mod:`adkit.views.layout`). A node is a variable
``v_i`` of the evaluation trace; an edge ``v_i → v_j`` says that ``v_j``'s
operation reads ``v_i``, labelled with the local partial ``∂v_j/∂v_i``.
Layers are topological generations, as in the trace's numbering.

Drawing conventions: inputs are green, operations white, outputs orange
with an arrow to their name; tangents (forward mode) are blue and flow
along the edges, adjoints (reverse mode) are vermilion and flow back along
dashed arrows. Graphs larger than ``max_nodes`` are drawn grouped by layer
band and operation, with a message saying so.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from adkit.views.layout import LayoutBox, layered_layout, spring_layout
from adkit.views.record import (
    Computation,
    Variable,
    definition,
    format_value,
    record,
    symbol_name,
    variable_name,
)
from adkit.views.trace import ACTIVE_COLOR, INPUT_COLOR, OUTPUT_COLOR, Trace

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes

    from adkit.views.sweep import SweepStep, SweepWidget

__all__ = ["Graph", "graph"]

SHOW = ("value", "tangent", "adjoint", "partial")
LAYOUTS = ("layered", "spring")
TANGENT_COLOR = "#0072B2"  # Okabe-Ito blue
ADJOINT_COLOR = "#D55E00"  # Okabe-Ito vermilion
EDGE_COLOR = "#555555"
KIND_STYLE = {  # face, edge
    "input": (INPUT_COLOR, "#31a354"),
    "operation": ("#ffffff", "#636363"),
    "output": (OUTPUT_COLOR, "#e6550d"),
    "group": ("#f2f2f2", "#636363"),
}
FONT_SIZE = 9.0
LINE_HEIGHT = FONT_SIZE * 1.5 / 72  # inches
PAD_X, PAD_Y = 0.1, 0.07
MAX_FIGURE_INCHES = 30.0
FLOW_OFFSET = 0.08  # how far below an edge its adjoint arrow runs, in inches


class Graph:
    """The computational graph of ``f`` at a point, with tangents and adjoints on it.

    Make one with :func:`adkit.graph`. ``.nx`` is a ``networkx.DiGraph``
    (nodes are the numbers ``i`` of ``v_i``, in trace order; edges ordered
    by target); ``.draw()`` draws it with matplotlib; Jupyter shows it as a
    PNG; ``.to_dot()`` writes Graphviz text; ``.sweep_widget()`` and
    ``.animate()`` step through the forward or reverse sweep.

    >>> g = adkit.graph(lambda x: np.sin(x) * x, 1.0)
    >>> [(u, v, round(d, 4)) for u, v, d in g.nx.edges(data="partial")]   # cos 1, sin 1, x
    [(0, 1, 0.5403), (0, 2, 0.8415), (1, 2, 1.0)]
    """

    def __init__(self, computation: Computation):
        self._computation = computation
        self._nx: nx.DiGraph | None = None

    @property
    def computation(self) -> Computation:
        """The recorded evaluation (shared with :class:`adkit.Trace`)."""
        return self._computation

    @property
    def trace(self) -> Trace:
        """The evaluation trace of the same computation."""
        return Trace(self._computation)

    @property
    def nx(self) -> nx.DiGraph:
        """A ``networkx.DiGraph`` in a deterministic order (a copy: change it freely).

        Node ``i`` is ``v_i``, with attributes ``name``, ``kind`` (``"input"``,
        ``"operation"``, ``"output"``), ``outputs``, ``definition``,
        ``symbol``, ``value``, ``tangent``, ``adjoint`` and ``layer``. Edge
        attributes: ``positions`` (the operand positions reading the source),
        ``partial``, ``tangent`` (what flows forward) and ``adjoint`` (what
        flows back).
        """
        if self._nx is None:
            g = nx.DiGraph(function=self._computation.function_name)
            for v in self._computation.variables:
                g.add_node(v.number, name=v.name, kind=v.kind, outputs=v.output_names,
                           definition=definition(v, "text"),
                           symbol=None if v.is_input else v.primitive.symbol,
                           value=v.value, tangent=v.tangent, adjoint=v.adjoint, layer=v.layer)  # fmt: skip
            for e in self._computation.edges:
                g.add_edge(e.source, e.target, positions=e.positions, partial=e.partial,
                           tangent=e.tangent, adjoint=e.adjoint)  # fmt: skip
            self._nx = g
        return self._nx.copy()

    def __len__(self) -> int:
        return len(self._computation.variables)

    def __repr__(self) -> str:
        comp = self._computation
        inputs, outputs = ", ".join(comp.input_names), ", ".join(comp.output_names)
        return (f"<adkit.Graph of {comp.function_name}: {len(comp.variables)} nodes, {len(comp.edges)} "
                f"edges; inputs {inputs}; outputs {outputs}>")  # fmt: skip

    # -- pictures ----------------------------------------------------------------------------

    def draw(self, ax: Axes | None = None, show: Sequence[str] = SHOW, layout: str = "layered",
             max_nodes: int = 60, precision: int = 4) -> Axes:  # fmt: skip
        """Draw the graph with matplotlib; returns the Axes.

        Args:
            ax: where to draw; by default a new pyplot figure sized to the graph.
            show: any of ``"value"`` (primal values), ``"tangent"`` (forward
                mode, blue), ``"adjoint"`` (reverse mode, vermilion, with
                dashed arrows flowing back) and ``"partial"`` (edge labels
                ``∂v_j/∂v_i``).
            layout: ``"layered"`` (columns by topological generation; edges
                never cross a box) or ``"spring"`` (force-directed, straight edges).
            max_nodes: above this many nodes the graph is drawn grouped by
                layer band and operation, with a message saying so.
            precision: significant digits of the numbers shown.

        >>> import matplotlib.pyplot as plt
        >>> g = adkit.graph(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0)
        >>> ax = g.draw(show=("value", "adjoint"))
        >>> plt.close(ax.figure)
        """
        show = _check_show(show)
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
            raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
        if len(self._computation.variables) > max_nodes:
            scene = _grouped_scene(self._computation, int(max_nodes))
        else:
            scene = _scene(self._computation, show, precision)
        return render(scene, ax=ax, layout=layout)

    def _repr_png_(self) -> bytes:
        from matplotlib.figure import Figure

        fig = Figure()
        render(_auto_scene(self._computation, SHOW, 4, 60), ax=None, layout="layered", figure=fig)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        return buffer.getvalue()

    def to_dot(self, show: Sequence[str] = SHOW, precision: int = 4) -> str:
        """Graphviz DOT text (render with ``dot -Tsvg``): one node per variable, same colours.

        >>> print(adkit.graph(lambda x: np.sin(x), 1.0).to_dot(show=()))
        digraph "<lambda>" {
          rankdir=LR;
          node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];
          { rank=same; "v0"; }
          { rank=same; "v1"; }
          "v0" [label="v0 = x", fillcolor="#e5f5e0", color="#31a354"];
          "v1" [label="v1 = sin(v0)", fillcolor="#fee6ce", color="#e6550d", penwidth=2];
          "v0" -> "v1";
          "y" [shape=plaintext, style="", label="y"];
          "v1" -> "y";
        }
        """
        show = _check_show(show)
        comp = self._computation
        lines = [f"digraph {_dot_quote(comp.function_name)} {{", "  rankdir=LR;",
                 '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];']
        for layer in sorted({v.layer for v in comp.variables}):
            members = " ".join(f"{_dot_quote(v.name)};" for v in comp.variables if v.layer == layer)
            lines.append(f"  {{ rank=same; {members} }}")
        for v in comp.variables:
            text = [f"{v.name} = {definition(v, 'text')}"]
            if "value" in show:
                text.append(format_value(v.value, precision))
            if "tangent" in show and v.tangent is not None:
                text.append(f"tangent {format_value(v.tangent, precision)}")
            if "adjoint" in show:
                text.append(f"adjoint {format_value(v.adjoint, precision)}")
            face, edge = KIND_STYLE[v.kind]
            extra = ", penwidth=2" if v.kind == "output" else ""
            label = _dot_quote("\n".join(text))
            colors = f'fillcolor="{face}", color="{edge}"{extra}'
            lines.append(f"  {_dot_quote(v.name)} [label={label}, {colors}];")
        for e in comp.edges:
            source, target = (_dot_quote(comp.variable(k).name) for k in (e.source, e.target))
            label = f" [label={_dot_quote(_partial_text(e.partial, precision))}]" if "partial" in show else ""
            lines.append(f"  {source} -> {target}{label};")
        for name, number in zip(comp.output_names, comp.outputs):
            lines.append(f'  {_dot_quote(name)} [shape=plaintext, style="", label={_dot_quote(name)}];')
            lines.append(f"  {_dot_quote(comp.variable(number).name)} -> {_dot_quote(name)};")
        lines.append("}")
        return "\n".join(lines)

    # -- stepping through the sweeps ---------------------------------------------------------

    def sweep_steps(self, mode: str = "forward") -> list[SweepStep]:
        """The steps of the forward or reverse sweep, one per variable (see :mod:`adkit.views.sweep`)."""
        from adkit.views.sweep import sweep_steps

        return sweep_steps(self._computation, mode)

    def sweep_widget(self, mode: str = "forward", interval: int = 1000, max_nodes: int = 60) -> SweepWidget:
        """An ipywidgets player stepping through the ``"forward"`` or ``"reverse"`` sweep.

        A slider with a play button moves one variable at a time; the drawing
        highlights the active variable and shows the values accumulated so
        far, next to the trace with the matching row highlighted.
        """
        from adkit.views.sweep import SweepWidget

        return SweepWidget(self, mode=mode, interval=interval, max_nodes=max_nodes)

    def animate(self, mode: str = "forward", interval: int = 1000, max_nodes: int = 60) -> FuncAnimation:
        """The sweep as a ``matplotlib.animation.FuncAnimation`` (for docs and HTML export).

        Show it with ``IPython.display.HTML(anim.to_jshtml())`` or save it
        with ``anim.save("sweep.gif")``.
        """
        from adkit.views.sweep import animate

        return animate(self, mode=mode, interval=interval, max_nodes=max_nodes)


def graph(f: Callable[..., Any], *args: Any, seed: Any = None, cotangent: Any = None) -> Graph:
    """The computational graph of ``f`` at ``args``, with tangents (along ``seed``) and adjoints.

    One node per variable ``v_i`` of :func:`adkit.trace` (inputs, then one per
    elementary operation); an edge ``v_i → v_j`` for every operand, with the
    local partial ``∂v_j/∂v_i``. ``seed`` and ``cotangent`` are as in
    :func:`adkit.trace` (defaults ``e_1`` and ones).

    Raises:
        TypeError, ValueError: as :func:`adkit.trace`.

    >>> import numpy as np
    >>> g = adkit.graph(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    >>> g.nx.number_of_nodes(), g.nx.number_of_edges()
    (7, 8)
    >>> [g.nx.nodes[i]["definition"] for i in g.nx]
    ['x1', 'x2', 'ln(v-1)', 'v-1 * v0', 'sin(v0)', 'v1 + v2', 'v4 - v3']
    """
    return Graph(record(f, args, seed, cotangent, "graph"))


def _check_show(show: Sequence[str]) -> tuple[str, ...]:
    if isinstance(show, str):
        show = (show,)
    bad = [s for s in show if s not in SHOW]
    if bad:
        raise ValueError(f"show takes any of {SHOW}; {bad[0]!r} is not one of them")
    return tuple(show)


def _dot_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _partial_text(partial: Any, precision: int) -> str:
    """An edge label: the number, or for arrays the common value or the shape."""
    if partial is None:
        return "J"
    if np.ndim(partial) == 0:
        return format_value(partial, precision)
    arr = np.asarray(partial)
    if arr.size and np.all(arr == arr.flat[0]):
        return format_value(arr.flat[0], precision)
    return f"∂{arr.shape}"


# -- the scene: what to draw, before geometry ---------------------------------------------


@dataclass
class SceneNode:
    """A box: its lines of text (with a role each: title, value, tangent, adjoint, note)."""

    key: Any
    layer: int
    kind: str
    lines: list[tuple[str, str]]
    sizing: list[str] = field(default_factory=list)  # the texts that fix its size
    status: str = "normal"  # "normal", "active" or "pending"
    outputs: tuple[str, ...] = ()


@dataclass
class SceneEdge:
    source: Any
    target: Any
    label: str = ""
    status: str = "normal"  # "normal", "active", "done" or "pending"


@dataclass
class Scene:
    nodes: list[SceneNode]
    edges: list[SceneEdge]
    tangent: bool  # draw the forward flow in the tangent colour
    adjoint: bool  # draw the backward flow arrows
    partial: bool
    mode: str | None = None  # the sweep being stepped through
    message: str = ""
    grouped: bool = False  # boxes are groups of variables, edge labels are counts


def _auto_scene(comp: Computation, show: tuple[str, ...], precision: int, max_nodes: int) -> Scene:
    if len(comp.variables) > max_nodes:
        return _grouped_scene(comp, max_nodes)
    return _scene(comp, show, precision)


def _title(v: Variable) -> str:
    name = variable_name(v.number, "latex")
    defn = definition(v, "mathtext")
    if defn.count("$") == 2 and defn.startswith("$") and defn.endswith("$"):
        return f"${name} = {defn[1:-1]}$"
    return f"${name}$ = {defn}"


def _scene(comp: Computation, show: tuple[str, ...], precision: int, state: SweepStep | None = None) -> Scene:
    """One box per variable; ``state`` (a sweep step) blanks what is not known yet."""
    mode = None if state is None else state.mode
    nodes = []
    for v in comp.variables:
        full: list[tuple[str, str]] = [(_title(v), "title")]
        if "value" in show:
            full.append((format_value(v.value, precision), "value"))
        if "tangent" in show:
            t = "n/a" if v.tangent is None else format_value(v.tangent, precision)
            full.append((rf"$\dot v$ = {t}", "tangent"))
        if "adjoint" in show:
            full.append((rf"$\bar v$ = {format_value(v.adjoint, precision)}", "adjoint"))
        lines = list(full)
        status = "normal"
        if state is not None:
            status = "active" if v.number == state.active else "normal"
            for k, (_, role) in enumerate(lines):
                unknown_value = role == "value" and v.number not in state.values
                unknown_tangent = role == "tangent" and (mode != "forward" or v.number not in state.tangents)
                if unknown_value or unknown_tangent:
                    lines[k] = ("", role)
                elif role == "adjoint":
                    if mode != "reverse" or v.number not in state.adjoints:
                        lines[k] = ("", role)
                    elif v.number not in state.final:
                        partial = format_value(state.adjoints[v.number], precision)
                        lines[k] = (rf"$\bar v$ = {partial} so far", "adjoint-partial")
            if v.number not in state.values:
                status = "pending"
        sizing = [t for t, _ in full]
        if "adjoint" in show and state is not None:  # room for any partial sum, so boxes keep their size
            sizing += [rf"$\bar v$ = {format_value(v.adjoint, precision)} so far",
                       rf"$\bar v$ = -0.{'0' * precision} so far"]
        nodes.append(SceneNode(v.number, v.layer, v.kind, lines, sizing, status, v.output_names))
    edges = []
    for e in comp.edges:
        status = "normal"
        if state is not None:
            if (e.source, e.target) in state.edges:
                status = "active"
            elif e.target in (state.values if mode == "forward" else state.final):
                status = "done"
            else:
                status = "pending"
        label = _partial_text(e.partial, precision) if "partial" in show else ""
        edges.append(SceneEdge(e.source, e.target, label, status))
    message = "" if state is None else state.caption
    return Scene(nodes, edges, tangent="tangent" in show, adjoint="adjoint" in show,
                 partial="partial" in show, mode=mode, message=message)  # fmt: skip


def _grouped_scene(comp: Computation, max_nodes: int) -> Scene:
    """Too many nodes to draw one by one: one box per band of consecutive layers.

    The inputs form the first box; the other layers are cut into at most
    ``min(12, max_nodes - 1)`` bands of consecutive layers, each drawn as one
    box counting its operations by kind. Edges between bands are drawn with
    their number; edges inside a band are counted in the message.
    """
    variables = comp.variables
    deepest = max(v.layer for v in variables)
    n_bands = max(1, min(deepest, 12, max_nodes - 1))
    per_band = math.ceil(deepest / n_bands) if deepest else 1

    def band(v: Variable) -> int:
        return 0 if v.is_input else 1 + (v.layer - 1) // per_band

    members: dict[int, list[Variable]] = {}
    for v in variables:
        members.setdefault(band(v), []).append(v)
    nodes = []
    for b in sorted(members):
        vs = members[b]
        outputs = tuple(name for v in vs for name in v.output_names)
        if b == 0:
            lines = [(f"{len(vs)} input{'s' if len(vs) > 1 else ''}", "title"),
                     (", ".join(comp.input_names) if len(vs) <= 4 else f"{vs[0].name} … {vs[-1].name}",
                      "note")]  # fmt: skip
            nodes.append(SceneNode(b, 0, "input", lines, [t for t, _ in lines], "normal", outputs))
            continue
        layers = sorted({v.layer for v in vs})
        span = f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}–{layers[-1]}"
        counts: dict[str, int] = {}
        for v in vs:
            counts[v.primitive.symbol] = counts.get(v.primitive.symbol, 0) + 1
        kinds = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: ties keep first appearance
        lines = [(f"{len(vs)} operations", "title"), (span, "note")]
        lines += [(f"{symbol} × {count}", "value") for symbol, count in kinds[:3]]
        if len(kinds) > 3:
            lines.append((f"+ {len(kinds) - 3} more kinds", "note"))
        kind = "output" if outputs else "group"
        nodes.append(SceneNode(b, b, kind, lines, [t for t, _ in lines], "normal", outputs))
    edge_counts: dict[tuple[int, int], int] = {}
    inside = 0
    band_of = {v.number: band(v) for v in variables}
    for e in comp.edges:
        a, b = band_of[e.source], band_of[e.target]
        if a == b:
            inside += 1
        else:
            edge_counts[(a, b)] = edge_counts.get((a, b), 0) + 1
    edges = [SceneEdge(a, b, f"×{n}") for (a, b), n in edge_counts.items()]
    message = (
        f"{len(variables):,} nodes and {len(comp.edges):,} edges are too many to draw one by one: drawn "
        f"as {len(nodes)} groups of consecutive layers ({inside:,} edges inside a group not drawn).\n"
        f"to_dot() exports every node for Graphviz, adkit.trace lists the numbers, and "
        f"draw(max_nodes={len(variables)}) draws every node (slowly)."
    )
    return Scene(nodes, edges, tangent=False, adjoint=False, partial=True, message=message, grouped=True)


# -- geometry and matplotlib ----------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in inches at ``size`` points (mathtext understood)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    if not text:
        return 0.0
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath="$" in text)
    return float(width) / 72.0


def _box_size(node: SceneNode) -> tuple[float, float]:
    widths = [_text_width(t, FONT_SIZE, bold=(k == 0)) for k, t in enumerate(node.sizing)]
    width = max(max(widths, default=0.0) + 2 * PAD_X, 0.7)
    return round(width, 4), round(len(node.lines) * LINE_HEIGHT + 2 * PAD_Y, 4)


@dataclass
class Geometry:
    """A scene's layout plus the bands around it (inches)."""

    layout: Any
    right: float  # room for the output arrows
    bottom: float  # the legend
    top: float  # the message

    @property
    def width(self) -> float:
        return self.layout.width + self.right

    @property
    def height(self) -> float:
        return self.layout.height + self.bottom + self.top


def geometry(scene: Scene, layout: str = "layered") -> Geometry:
    """Place a scene's boxes and edges (see :mod:`adkit.views.layout`)."""
    boxes = [LayoutBox(n.key, n.layer, *_box_size(n)) for n in scene.nodes]
    links = [(e.source, e.target) for e in scene.edges]
    if layout == "layered":
        label_width = max((_text_width(e.label, FONT_SIZE - 1) for e in scene.edges), default=0.0)
        lay = layered_layout(boxes, links, column_gap=max(0.75, label_width + 0.35))
    else:
        lay = spring_layout(boxes, links)
    right = 0.55 if any(n.outputs for n in scene.nodes) else 0.0
    top = 0.2 + 0.2 * (scene.message.count("\n") + 1) if scene.message else 0.05
    return Geometry(lay, right, 0.62, top)


def render(scene: Scene, ax: Axes | None = None, layout: str = "layered", figure: Any = None) -> Axes:
    """Draw a scene into ``ax`` (or a new figure sized to it, on ``figure`` if given); returns the Axes.

    Geometry is in inches; drawn into a smaller Axes, everything (fonts and
    lines too) shrinks by the same factor, so the picture keeps its look.
    """
    geo = geometry(scene, layout)
    if ax is None:
        shrink = min(1.0, MAX_FIGURE_INCHES / max(geo.width, geo.height))
        size = (max(geo.width * shrink, 3.0), max(geo.height * shrink, 1.5))
        if figure is None:
            import matplotlib.pyplot as plt

            figure = plt.figure(figsize=size)
        else:
            figure.set_size_inches(*size)
        ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    bbox = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    ax_w, ax_h = bbox.width * fig_w, bbox.height * fig_h
    scale = min(ax_w / geo.width, ax_h / geo.height)
    cx, cy = geo.width / 2, geo.height / 2
    ax.set_xlim(cx - ax_w / scale / 2, cx + ax_w / scale / 2)
    ax.set_ylim(cy - ax_h / scale / 2, cy + ax_h / scale / 2)
    ax.set_axis_off()
    _draw_edges(ax, scene, geo, scale)
    _draw_boxes(ax, scene, geo, scale)
    if scene.message:
        ax.text(geo.width / 2, geo.height - 0.08, scene.message, fontsize=FONT_SIZE * scale, ha="center",
                va="top", color="#222222", weight="bold" if scene.mode else "normal", zorder=4)  # fmt: skip
    _draw_legend(ax, scene, scale)
    return ax


def _sweep_color(scene: Scene) -> str:
    return {"forward": TANGENT_COLOR, "reverse": ADJOINT_COLOR}.get(scene.mode or "", EDGE_COLOR)


def _draw_edges(ax: Axes, scene: Scene, geo: Geometry, scale: float) -> None:
    """Data flow forward (blue when tangents are shown); adjoint flow back, dashed, just below it."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    lay = geo.layout
    forward_color = TANGENT_COLOR if scene.tangent else EDGE_COLOR
    for e, path, label_at in zip(scene.edges, lay.paths, lay.label_points):
        active = e.status == "active"
        alpha = 0.25 if e.status == "pending" else 1.0
        color = _sweep_color(scene) if active and scene.mode == "forward" else forward_color
        points = [(x, y + geo.bottom) for x, y in path]
        ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=10 * scale,
                                     color=color, lw=(2.6 if active else 1.2) * scale, alpha=alpha,
                                     shrinkA=0, shrinkB=0, zorder=1))  # fmt: skip
        if scene.adjoint:
            back = [(x, y + geo.bottom - FLOW_OFFSET) for x, y in reversed(path)]
            width = 2.6 if active and scene.mode == "reverse" else 1.1
            ax.add_patch(FancyArrowPatch(path=Path(back), arrowstyle="-|>", mutation_scale=9 * scale,
                                         color=ADJOINT_COLOR, lw=width * scale, alpha=alpha,
                                         linestyle=(0, (4, 2)), shrinkA=0, shrinkB=0, zorder=1))  # fmt: skip
        if e.label:
            background = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}
            x, y = label_at[0], label_at[1] + geo.bottom + 0.11
            ax.text(x, y, e.label, fontsize=FONT_SIZE * 0.85 * scale, ha="center", va="center",
                    color="#333333", alpha=alpha, zorder=3, bbox=background)  # fmt: skip


LINE_COLOR = {"tangent": TANGENT_COLOR, "adjoint": ADJOINT_COLOR, "adjoint-partial": ADJOINT_COLOR,
              "note": "#555555"}  # fmt: skip


def _draw_boxes(ax: Axes, scene: Scene, geo: Geometry, scale: float) -> None:
    """One rounded box per node with its lines of text; outputs get an arrow to their name."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    lay = geo.layout
    fs = FONT_SIZE * scale
    for node in scene.nodes:
        x, y = lay.centers[node.key]
        y += geo.bottom
        w, h = lay.sizes[node.key]
        face, edge = KIND_STYLE[node.kind]
        lw = (2.0 if node.kind == "output" else 1.0) * scale
        alpha = 0.35 if node.status == "pending" else 1.0
        if node.status == "active":
            face, edge, lw = ACTIVE_COLOR, _sweep_color(scene), 3.0 * scale
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                                    fc=face, ec=edge, lw=lw, alpha=alpha, zorder=2))  # fmt: skip
        top = y + h / 2 - PAD_Y
        for k, (text, role) in enumerate(node.lines):
            if text:
                partial = role == "adjoint-partial"
                ax.text(x, top - (k + 0.5) * LINE_HEIGHT, text, fontsize=fs, ha="center", va="center",
                        color=LINE_COLOR.get(role, "#111111"), alpha=alpha * (0.6 if partial else 1.0),
                        weight="bold" if role == "title" else "normal",
                        style="italic" if partial else "normal", zorder=4)  # fmt: skip
        for k, name in enumerate(node.outputs):
            start = (x + w / 2, y - k * 0.22)
            end = (min(x + w / 2 + 0.4, geo.width - 0.15), start[1])
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10 * scale,
                                         color=KIND_STYLE["output"][1], lw=1.5 * scale, shrinkA=0,
                                         shrinkB=0, zorder=2))  # fmt: skip
            ax.text(end[0] + 0.03, end[1], symbol_name(name, "mathtext"), fontsize=fs * 1.1, ha="left",
                    va="center", zorder=4)  # fmt: skip


def _draw_legend(ax: Axes, scene: Scene, scale: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    (in_face, in_edge), (out_face, out_edge) = KIND_STYLE["input"], KIND_STYLE["output"]
    op_face, op_edge = KIND_STYLE["group" if scene.grouped else "operation"]
    handles = [Patch(fc=in_face, ec=in_edge, label="input"),
               Patch(fc=op_face, ec=op_edge, label="operations" if scene.grouped else "operation"),
               Patch(fc=out_face, ec=out_edge, lw=2, label="output")]  # fmt: skip
    if scene.tangent:
        handles.append(Line2D([], [], color=TANGENT_COLOR, lw=1.5, label=r"tangent $\dot v$ flows forward"))
    else:
        handles.append(Line2D([], [], color=EDGE_COLOR, lw=1.2, label="data flow"))
    if scene.adjoint:
        handles.append(Line2D([], [], color=ADJOINT_COLOR, lw=1.5, ls=(0, (4, 2)),
                              label=r"adjoint $\bar v$ flows back"))  # fmt: skip
    if scene.partial and any(e.label for e in scene.edges):
        note = "number of edges" if scene.grouped else r"$\partial v_j / \partial v_i$"
        note = f"edge label: {note}"
        handles.append(Line2D([], [], color="none", label=note))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False,
              fontsize=FONT_SIZE * 0.9 * scale, handlelength=2.2, columnspacing=1.2)  # fmt: skip
