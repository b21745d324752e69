"""The scene: what a drawing of a computation shows, where everything goes, and drawing it.

Shared by the graph (:mod:`adkit.views.graph`), the trace's colours
(:mod:`adkit.views.trace`) and the sweep player (:mod:`adkit.views.player`).
A :class:`Scene` is what to draw, before geometry: one box per variable
(:func:`variable_scene`), the same at a step of a sweep (:func:`step_scene`),
or one box per band of layers for large graphs (:func:`grouped_scene`);
:func:`choose_scene` picks one for a width. :func:`geometry` places it
(with :mod:`adkit.views.layout`), :func:`render` draws it with matplotlib.

Drawing conventions: inputs are green, operations white, outputs orange
with an arrow to their name; tangents (forward mode) are blue and flow
along the edges, adjoints (reverse mode) are vermilion and flow back along
dashed arrows.

Drawings are made for the width they will be shown at (``PAGE_WIDTH``, a
notebook page or the documentation's column), so that no text shows below
7 pt: a graph too wide is folded into rows (an edge to a later row ends at a
dashed tag with the variable's name and starts again from the same tag);
larger graphs show fewer lines per box, and the largest are drawn grouped by
layer band and operation, with a message saying so.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from adkit.views.layout import LayoutBox, Wrapped, place_labels, spring_layout, wrapped_layout
from adkit.views.record import Computation, Variable, definition, format_value, symbol_name, variable_name
from adkit.views.steps import partial_sums

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from adkit.views.steps import SweepStep

__all__ = [
    "Geometry",
    "Scene",
    "SceneEdge",
    "SceneNode",
    "axes_width",
    "choose_scene",
    "geometry",
    "grouped_scene",
    "partial_text",
    "png",
    "render",
    "step_scene",
    "text_width",
    "variable_scene",
]

#: What a box and an edge can show.
SHOW = ("value", "tangent", "adjoint", "partial")
#: What a step of each sweep shows: the numbers it computes, and the partials it multiplies by.
SHOW_FOR_SWEEP = {"forward": ("value", "tangent", "partial"), "reverse": ("value", "adjoint", "partial")}
LAYOUTS = ("layered", "spring")
#: Colours shared with the trace's table: inputs green, outputs orange, the active step yellow.
INPUT_COLOR = "#e5f5e0"
OUTPUT_COLOR = "#fee6ce"
ACTIVE_COLOR = "#fff3a0"
TANGENT_COLOR = "#0072B2"  # Okabe-Ito blue
ADJOINT_COLOR = "#D55E00"  # Okabe-Ito vermilion
EDGE_COLOR = "#555555"
KIND_STYLE = {  # face, edge
    "input": (INPUT_COLOR, "#31a354"),
    "operation": ("#ffffff", "#636363"),
    "output": (OUTPUT_COLOR, "#e6550d"),
    "group": ("#f2f2f2", "#636363"),
    "port": ("none", "#999999"),
}
FONT_SIZE = 9.0
LABEL_FONT_SIZE = FONT_SIZE * 0.85  # edge labels
LEGEND_FONT_SIZE = FONT_SIZE * 0.9
LINE_HEIGHT = FONT_SIZE * 1.5 / 72  # inches
PAD_X, PAD_Y = 0.1, 0.07
FLOW_OFFSET = 0.08  # how far below an edge its adjoint arrow runs, in inches
LABEL_LIFT = 0.11  # how far above its edge a label sits, in inches
#: The width a drawing is made for, in inches: with the 0.1-inch margin Jupyter's inline backend adds
#: on each side, 720 pixels at its 100 dots per inch, the documentation's content column at its widest
#: and less than a notebook page in JupyterLab. Drawn no wider, the smallest text (edge labels,
#: 7.65 pt) shows at 7.65 pt or more in both places.
PAGE_WIDTH = 7.0
#: A drawing up to this many times wider than the page is shrunk to fit rather than folded into rows:
#: the smallest text then still shows at 7.65 / 1.13 × 100 / 96 = 7.05 pt or more.
SHRINK_SLACK = 1.13
#: Without an explicit ``max_nodes``, graphs above this many nodes are drawn grouped.
AUTO_MAX_NODES = 60
#: Without explicit ``show`` and ``max_nodes``, a drawing of every node may be this many times as
#: tall as it is wide; taller, it shows less per box, and then it is grouped.
MAX_ASPECT = 2.5
#: The levels of detail tried in turn when ``show`` is not given: everything, then less per box.
DETAIL = (SHOW, ("value", "partial"), ("value",), ())


def partial_text(partial: Any, precision: int) -> str:
    """An edge label ``∂v_j/∂v_i``: the number; for arrays the common value or the shape; ``J``: a Jacobian.

    >>> partial_text(2.0, 4), partial_text(np.full(3, 0.5), 4), partial_text(np.arange(3.0), 4)
    ('2', '0.5', '∂(3,)')
    """
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
    tag: str = ""  # its short name, on the tags where an edge leaves one row and comes back in the next


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


def choose_scene(
    comp: Computation,
    show: tuple[str, ...] | None,
    max_nodes: int | None,
    precision: int,
    width: float,
    layout: str = "layered",
) -> Scene:
    """What to draw of ``comp`` at ``width`` inches: every node with ``show``, fewer lines, or groups.

    Above ``max_nodes`` (default ``AUTO_MAX_NODES``) nodes: grouped. Otherwise
    every node, with ``show`` when given; when not, the first level of
    ``DETAIL`` whose drawing (folded into rows at ``width``) is at most
    ``MAX_ASPECT`` times as tall as wide, and past the last level grouped
    (unless ``max_nodes`` asked for every node).
    """
    n = len(comp.variables)
    limit = AUTO_MAX_NODES if max_nodes is None else max_nodes
    if n > limit:
        return grouped_scene(comp, limit)
    if show is not None:
        return variable_scene(comp, show, precision)
    scene = variable_scene(comp, DETAIL[0], precision)
    for level in DETAIL:
        scene = variable_scene(comp, level, precision)
        if layout != "layered":
            return scene
        geo = geometry(scene, layout, width)
        if geo.height <= MAX_ASPECT * max(geo.width, width):
            break
    else:
        if max_nodes is None:
            reason = f"too many to draw one by one at {width:g} inches wide"
            return grouped_scene(comp, limit, reason=reason)
    left_out = [
        name for key, name in zip(SHOW, ("values", "tangents", "adjoints", "edge labels")) if key not in level
    ]
    if level != DETAIL[0]:
        scene.message = (
            f"{n} nodes: {_join(left_out)} left out so that the text stays readable at this "
            "width; draw(show=...) chooses what to show"
        )
    return scene


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _title(v: Variable) -> str:
    name = variable_name(v.number, "latex")
    defn = definition(v, "mathtext")
    if defn.count("$") == 2 and defn.startswith("$") and defn.endswith("$"):
        return f"${name} = {defn[1:-1]}$"
    return f"${name}$ = {defn}"


def variable_scene(
    comp: Computation, show: tuple[str, ...], precision: int, state: SweepStep | None = None
) -> Scene:
    """One box per variable showing ``show``; ``state`` (a sweep step) blanks what is not known yet.

    >>> comp = adkit.trace(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0).computation
    >>> [node.lines for node in variable_scene(comp, ("value",), 4).nodes][2]
    [('$v_{1} = v_{-1} \\\\times v_{0}$', 'title'), ('10', 'value')]
    """
    mode = None if state is None else state.mode
    nodes = []
    sums_so_far = None
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
        if "adjoint" in show and state is not None:  # room for every partial sum, so boxes keep their size
            if sums_so_far is None:
                sums_so_far = partial_sums(comp)
            sums = sums_so_far.get(v.number, ())
            sizing += [rf"$\bar v$ = {format_value(p, precision)} so far" for p in sums]
        nodes.append(
            SceneNode(
                v.number,
                v.layer,
                v.kind,
                lines,
                sizing,
                status,
                v.output_names,
                variable_name(v.number, "mathtext"),
            )
        )
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
        label = partial_text(e.partial, precision) if "partial" in show else ""
        edges.append(SceneEdge(e.source, e.target, label, status))
    message = "" if state is None else state.caption
    return Scene(
        nodes,
        edges,
        tangent="tangent" in show,
        adjoint="adjoint" in show,
        partial="partial" in show,
        mode=mode,
        message=message,
    )


def step_scene(comp: Computation, step: SweepStep, precision: int = 4) -> Scene:
    """The drawing of ``comp`` at a step of a sweep: what that sweep computes, as far as it has got.

    >>> comp = adkit.trace(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0).computation
    >>> first = step_scene(comp, adkit.views.steps.sweep_steps(comp, "reverse")[0])
    >>> [node.status for node in first.nodes], first.nodes[0].lines[-1]   # v̄-1 so far: 1 of 6
    (['normal', 'normal', 'normal', 'active'], ('$\\\\bar v$ = 1 so far', 'adjoint-partial'))
    """
    return variable_scene(comp, SHOW_FOR_SWEEP[step.mode], precision, step)


def grouped_scene(comp: Computation, max_nodes: int, reason: str = "too many to draw one by one") -> Scene:
    """Too many nodes to draw one by one: one box per band of consecutive layers.

    The inputs form the first box; the other layers are cut into at most
    ``min(12, max_nodes - 1)`` bands of consecutive layers, each drawn as one
    box counting its operations by kind. Edges between bands are drawn with
    their number; edges inside a band are counted in the message.

    >>> comp = adkit.trace(lambda x: np.sum(np.sin(x) * x), np.ones(3)).computation
    >>> [node.lines[0][0] for node in grouped_scene(comp, max_nodes=3).nodes]
    ['1 input', '2 operations', '1 operation']
    """
    variables = comp.variables
    deepest = max(v.layer for v in variables)
    n_bands = max(1, min(deepest, 12, max_nodes - 1))

    def band(v: Variable) -> int:  # bands of as equal a number of layers as can be
        return 0 if v.is_input else 1 + (v.layer - 1) * n_bands // deepest

    members: dict[int, list[Variable]] = {}
    for v in variables:
        members.setdefault(band(v), []).append(v)
    nodes = []
    for b in sorted(members):
        vs = members[b]
        outputs = tuple(name for v in vs for name in v.output_names)
        if b == 0:
            lines = [
                (f"{len(vs)} input{'s' if len(vs) > 1 else ''}", "title"),
                (", ".join(comp.input_names) if len(vs) <= 4 else f"{vs[0].name} … {vs[-1].name}", "note"),
            ]
            nodes.append(SceneNode(b, 0, "input", lines, [t for t, _ in lines], "normal", outputs, "inputs"))
            continue
        layers = sorted({v.layer for v in vs})
        span = f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}–{layers[-1]}"
        counts: dict[str, int] = {}
        for v in vs:
            counts[v.primitive.symbol] = counts.get(v.primitive.symbol, 0) + 1
        kinds = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: ties keep first appearance
        lines = [(f"{len(vs)} operation{'s' * (len(vs) > 1)}", "title"), (span, "note")]
        lines += [(f"{symbol} × {count}", "value") for symbol, count in kinds[:3]]
        if len(kinds) > 3:
            lines.append((f"+ {len(kinds) - 3} more kinds", "note"))
        kind = "output" if outputs else "group"
        nodes.append(SceneNode(b, b, kind, lines, [t for t, _ in lines], "normal", outputs, span))
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
        f"{len(variables):,} nodes and {len(comp.edges):,} edges are {reason}: drawn "
        f"as {len(nodes)} groups of consecutive layers ({inside:,} edges inside a group not drawn).\n"
        f"draw(max_nodes={len(variables)}) draws every node; to_dot() and adkit.trace list them all."
    )
    return Scene(nodes, edges, tangent=False, adjoint=False, partial=True, message=message, grouped=True)


# -- geometry and matplotlib ----------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in inches at ``size`` points (mathtext understood), as matplotlib lays it out.

    >>> round(text_width("v1 = x1", 9.0), 2), text_width("$v_{1}$", 9.0) < text_width("v_{1}", 9.0)
    (0.49, True)
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    if not text:
        return 0.0
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath="$" in text)
    return float(width) / 72.0


def _box_size(node: SceneNode) -> tuple[float, float]:
    if node.kind == "port":
        return round(text_width(node.lines[0][0], FONT_SIZE) + 2 * PAD_X, 4), round(LINE_HEIGHT + 0.08, 4)
    widths = [text_width(t, FONT_SIZE, bold=(k == 0)) for k, t in enumerate(node.sizing)]
    width = max(max(widths, default=0.0) + 2 * PAD_X, 0.7)
    return round(width, 4), round(len(node.lines) * LINE_HEIGHT + 2 * PAD_Y, 4)


LEGEND_ROW = 0.2  # inches per row of the legend
MESSAGE_ROW = 0.2  # inches per line of the message on top
LABEL_PAD = 0.15 * LABEL_FONT_SIZE / 72  # the white box behind an edge label, in inches
MIN_COLUMN_GAP = 0.55  # between columns without labels: room for the edges to slant


@dataclass
class Geometry:
    """A scene's layout plus the bands around it (inches), and what is drawn where.

    ``scene`` is what is drawn: the scene given, plus the tags (``"port"``
    nodes) and edge pieces of a layout folded into rows. ``labels[k]`` is
    where the label of ``scene.edges[k]`` goes (``None``: left out, it would
    overlap something). The layout is drawn ``dx`` from the left, ``bottom``
    above the figure's bottom edge.
    """

    layout: Any
    scene: Scene
    labels: list[Any]
    right: float  # room for the output arrows
    bottom: float  # the legend
    top: float  # the message
    width: float
    message: list[str]
    legend_columns: int
    dx: float = 0.0

    @property
    def height(self) -> float:
        return self.layout.height + self.bottom + self.top

    @property
    def hidden_labels(self) -> int:
        return sum(1 for e, place in zip(self.scene.edges, self.labels) if e.label and place is None)


def geometry(scene: Scene, layout: str = "layered", width: float = PAGE_WIDTH) -> Geometry:
    """Place a scene's boxes, edges and labels for a drawing ``width`` inches wide (see ``layout``).

    A layered layout wider than ``width`` is folded into rows
    (:func:`adkit.views.layout.wrapped_layout`); the message on top is
    wrapped to the width and the legend gets as many columns as fit.
    """
    right = 0.55 if any(n.outputs for n in scene.nodes) else 0.0
    boxes = [LayoutBox(n.key, n.layer, *_box_size(n)) for n in scene.nodes]
    links = [(e.source, e.target) for e in scene.edges]
    if layout == "layered":
        # the gap before each column leaves room for the labels of the edges into it
        layer_of = {n.key: n.layer for n in scene.nodes}
        gaps = [MIN_COLUMN_GAP] * (max(layer_of.values(), default=0) + 1)
        for e in scene.edges:
            if e.label:
                layer = layer_of[e.target]
                gaps[layer] = max(gaps[layer], text_width(e.label, LABEL_FONT_SIZE) + 2 * LABEL_PAD + 0.3)
        port_size = {n.key: _box_size(_port_node(n, "out", 0)) for n in scene.nodes}
        wrapped = wrapped_layout(boxes, links, width * SHRINK_SLACK - right, port_size, column_gap=gaps)
        drawn, lay = _folded_scene(scene, wrapped), wrapped.layout
    else:
        drawn, lay = scene, spring_layout(boxes, links)
    label_height = LABEL_FONT_SIZE * 1.2 / 72 + 2 * LABEL_PAD
    sizes = [(text_width(e.label, LABEL_FONT_SIZE) + 2 * LABEL_PAD, label_height) for e in drawn.edges]
    labels = (
        place_labels(lay, sizes, lift=LABEL_LIFT)
        if any(e.label for e in drawn.edges)
        else ([None] * len(drawn.edges))
    )
    content = lay.width + right
    entries = [text_width(text, LEGEND_FONT_SIZE) for text in _legend_labels(drawn, 0)]
    entry = max(entries) + (2.2 + 0.8) * LEGEND_FONT_SIZE / 72  # handle and the space after it
    spacing = 1.2 * LEGEND_FONT_SIZE / 72
    fig_width = max(content, 3.0, min(width, 3 * entry + 2 * spacing + 0.2), entry + 0.2)
    # wrapped with 5 % to spare: Agg draws text a few per cent wider than text_to_path measures it
    message = _wrap(scene.message, (max(fig_width, min(width, _widest(scene.message) + 0.5)) - 0.5) / 1.05)
    fig_width = max(fig_width, _widest("\n".join(message)) * 1.05 + 0.5)
    columns = max(1, min(3, int((fig_width - 0.2 + spacing) // (entry + spacing))))
    rows = -(-len(entries) // columns)
    top = 0.2 + MESSAGE_ROW * len(message) if message else 0.05
    return Geometry(
        lay,
        drawn,
        labels,
        right,
        0.22 + LEGEND_ROW * rows,
        top,
        fig_width,
        message,
        columns,
        dx=round((fig_width - content) / 2, 6),
    )


def _widest(text: str) -> float:
    return max((text_width(line, FONT_SIZE) for line in text.split("\n")), default=0.0)


def _wrap(text: str, width: float) -> list[str]:
    """``text``'s lines, each broken at spaces to fit ``width`` inches at ``FONT_SIZE``."""
    lines: list[str] = []
    for paragraph in text.split("\n") if text else []:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, FONT_SIZE) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _port_node(node: SceneNode, side: str, row: int) -> SceneNode:
    """The tag that stands for ``node`` where its edges leave a row (``"out"``) or come back (``"in"``)."""
    text = node.tag
    status = "pending" if node.status == "pending" else "normal"
    return SceneNode(("port", side, node.key, row), 0, "port", [(text, "port")], [text], status)


EDGE_PRIORITY = ("active", "done", "normal", "pending")  # a piece carrying several edges shows the first


def _folded_scene(scene: Scene, wrapped: Wrapped) -> Scene:
    """The scene as drawn in a folded layout: with its tags, and edges cut into the links drawn."""
    if not wrapped.ports:
        return scene
    by_key = {n.key: n for n in scene.nodes}
    nodes = list(scene.nodes) + [_port_node(by_key[p.source], p.side, p.row) for p in wrapped.ports]
    edges = []
    for (source, target), carried in zip(wrapped.links, wrapped.carries):
        originals = [scene.edges[k] for k in carried]
        status = min((e.status for e in originals), key=EDGE_PRIORITY.index)
        label = originals[0].label if target in by_key else ""  # the piece into the target has the label
        edges.append(SceneEdge(source, target, label, status))
    return dataclasses.replace(scene, nodes=nodes, edges=edges)


def png(figure: Figure, dpi: int) -> bytes:
    """``figure`` as PNG bytes, the same bytes for the same drawing (no software version written in).

    >>> from matplotlib.figure import Figure
    >>> figure = Figure(figsize=(2, 1))
    >>> png(figure, dpi=10)[:4], png(figure, dpi=10) == png(figure, dpi=10)
    (b'\\x89PNG', True)
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def axes_width(ax: Axes) -> float:
    """The width of ``ax`` on its figure, in inches.

    >>> from matplotlib.figure import Figure
    >>> axes_width(Figure(figsize=(4, 3)).add_axes((0.0, 0.0, 0.5, 1.0)))
    2.0
    """
    return float(ax.get_position().width * ax.figure.get_size_inches()[0])


MAX_HEIGHT = 300.0  # inches: a drawing is shrunk rather than drawn taller (matplotlib's limit is near it)


def render(
    scene: Scene,
    ax: Axes | None = None,
    layout: str = "layered",
    figure: Any = None,
    width: float | None = None,
) -> Axes:
    """Draw a scene into ``ax`` (or a new figure sized to it, on ``figure`` if given); returns the Axes.

    Geometry is in inches, for a drawing ``width`` inches wide (default:
    the Axes' width, or ``PAGE_WIDTH``); drawn into a smaller Axes,
    everything (fonts and lines too) shrinks by the same factor, so the
    picture keeps its look.
    """
    if width is None:
        width = PAGE_WIDTH if ax is None else axes_width(ax)
    geo = geometry(scene, layout, width)
    if ax is None:
        shrink = min(1.0, width / geo.width, MAX_HEIGHT / geo.height)
        size = (geo.width * shrink, geo.height * shrink)
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
    _draw_edges(ax, geo, scale)
    _draw_boxes(ax, geo, scale)
    if geo.message:
        ax.text(
            geo.width / 2,
            geo.height - 0.08,
            "\n".join(geo.message),
            fontsize=FONT_SIZE * scale,
            ha="center",
            va="top",
            color="#222222",
            weight="bold" if scene.mode else "normal",
            linespacing=1.3,
            zorder=4,
        )
    _draw_legend(ax, geo, scale)
    return ax


def _sweep_color(scene: Scene) -> str:
    return {"forward": TANGENT_COLOR, "reverse": ADJOINT_COLOR}.get(scene.mode or "", EDGE_COLOR)


def _draw_edges(ax: Axes, geo: Geometry, scale: float) -> None:
    """Data flow forward (blue when tangents are shown); adjoint flow back, dashed, just below it."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    scene, lay = geo.scene, geo.layout
    forward_color = TANGENT_COLOR if scene.tangent else EDGE_COLOR
    for e, path, label_at in zip(scene.edges, lay.paths, geo.labels):
        active = e.status == "active"
        alpha = 0.25 if e.status == "pending" else 1.0
        color = _sweep_color(scene) if active and scene.mode == "forward" else forward_color
        points = [(x + geo.dx, y + geo.bottom) for x, y in path]
        ax.add_patch(
            FancyArrowPatch(
                path=Path(points),
                arrowstyle="-|>",
                mutation_scale=10 * scale,
                color=color,
                lw=(2.6 if active else 1.2) * scale,
                alpha=alpha,
                shrinkA=0,
                shrinkB=0,
                zorder=1,
            )
        )
        if scene.adjoint:
            back = [(x + geo.dx, y + geo.bottom - FLOW_OFFSET) for x, y in reversed(path)]
            width = 2.6 if active and scene.mode == "reverse" else 1.1
            ax.add_patch(
                FancyArrowPatch(
                    path=Path(back),
                    arrowstyle="-|>",
                    mutation_scale=9 * scale,
                    color=ADJOINT_COLOR,
                    lw=width * scale,
                    alpha=alpha,
                    linestyle=(0, (4, 2)),
                    shrinkA=0,
                    shrinkB=0,
                    zorder=1,
                )
            )
        if e.label and label_at is not None:
            background = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}
            ax.text(
                label_at[0] + geo.dx,
                label_at[1] + geo.bottom,
                e.label,
                fontsize=LABEL_FONT_SIZE * scale,
                ha="center",
                va="center",
                color="#333333",
                alpha=alpha,
                zorder=3,
                bbox=background,
            )


LINE_COLOR = {
    "tangent": TANGENT_COLOR,
    "adjoint": ADJOINT_COLOR,
    "adjoint-partial": ADJOINT_COLOR,
    "note": "#555555",
    "port": "#555555",
}


def _draw_boxes(ax: Axes, geo: Geometry, scale: float) -> None:
    """One rounded box per node with its lines of text; outputs get an arrow to their name."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    scene, lay = geo.scene, geo.layout
    fs = FONT_SIZE * scale
    for node in scene.nodes:
        x, y = lay.centers[node.key]
        x, y = x + geo.dx, y + geo.bottom
        w, h = lay.sizes[node.key]
        face, edge = KIND_STYLE[node.kind]
        lw = (2.0 if node.kind == "output" else 1.0) * scale
        alpha = 0.35 if node.status == "pending" else 1.0
        if node.status == "active":
            face, edge, lw = ACTIVE_COLOR, _sweep_color(scene), 3.0 * scale
        style = (0, (2, 2)) if node.kind == "port" else "solid"
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=0.06",
                fc=face,
                ec=edge,
                lw=lw,
                ls=style,
                alpha=alpha,
                zorder=2,
            )
        )
        top = y + h / 2 - PAD_Y
        for k, (text, role) in enumerate(node.lines):
            if text:
                partial = role == "adjoint-partial"
                ax.text(
                    x,
                    top - (k + 0.5) * LINE_HEIGHT if node.kind != "port" else y,
                    text,
                    fontsize=fs,
                    ha="center",
                    va="center",
                    color=LINE_COLOR.get(role, "#111111"),
                    alpha=alpha * (0.6 if partial else 1.0),
                    weight="bold" if role == "title" else "normal",
                    style="italic" if partial else "normal",
                    zorder=4,
                )
        for k, name in enumerate(node.outputs):
            start = (x + w / 2, y - k * 0.22)
            end = (x + w / 2 + 0.4, start[1])
            ax.add_patch(
                FancyArrowPatch(
                    start,
                    end,
                    arrowstyle="-|>",
                    mutation_scale=10 * scale,
                    color=KIND_STYLE["output"][1],
                    lw=1.5 * scale,
                    shrinkA=0,
                    shrinkB=0,
                    zorder=2,
                )
            )
            ax.text(
                end[0] + 0.03,
                end[1],
                symbol_name(name, "mathtext"),
                fontsize=fs * 1.1,
                ha="left",
                va="center",
                zorder=4,
            )


def _legend_labels(scene: Scene, hidden: int) -> list[str]:
    """The legend's texts (``hidden``: edge labels left out)."""
    labels = ["input", "operations" if scene.grouped else "operation", "output"]
    labels.append(r"tangent $\dot v$ flows forward" if scene.tangent else "data flow")
    if scene.adjoint:
        labels.append(r"adjoint $\bar v$ flows back")
    if scene.partial and any(e.label for e in scene.edges):
        note = "number of edges" if scene.grouped else r"$\partial v_j / \partial v_i$"
        labels.append(f"edge label: {note}")
        if hidden:
            labels.append(f"{hidden} edge label{'s' * (hidden > 1)} left out (overlap)")
    if any(n.kind == "port" for n in scene.nodes):
        labels.append("continued in another row")
    return labels


def _draw_legend(ax: Axes, geo: Geometry, scale: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scene = geo.scene
    (in_face, in_edge), (out_face, out_edge) = KIND_STYLE["input"], KIND_STYLE["output"]
    op_face, op_edge = KIND_STYLE["group" if scene.grouped else "operation"]
    texts = _legend_labels(scene, geo.hidden_labels)
    handles = [
        Patch(fc=in_face, ec=in_edge, label=texts[0]),
        Patch(fc=op_face, ec=op_edge, label=texts[1]),
        Patch(fc=out_face, ec=out_edge, lw=2, label=texts[2]),
    ]
    if scene.tangent:
        handles.append(Line2D([], [], color=TANGENT_COLOR, lw=1.5, label=texts[3]))
    else:
        handles.append(Line2D([], [], color=EDGE_COLOR, lw=1.2, label=texts[3]))
    if scene.adjoint:
        handles.append(Line2D([], [], color=ADJOINT_COLOR, lw=1.5, ls=(0, (4, 2)), label=texts[4]))
    for text in texts[len(handles) :]:
        if text == "continued in another row":
            face, edge = KIND_STYLE["port"]
            handles.append(Patch(fc=face, ec=edge, ls=(0, (2, 2)), label=text))
        else:
            handles.append(Line2D([], [], color="none", label=text))
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=geo.legend_columns,
        frameon=False,
        fontsize=LEGEND_FONT_SIZE * scale,
        handlelength=2.2,
        columnspacing=1.2,
    )
