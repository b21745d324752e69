"""The computational graph: a networkx ``DiGraph``, a matplotlib drawing, Graphviz text.

Graph extraction (:mod:`adkit.views.record`) is kept apart from drawing
(:mod:`adkit.views.scene`) and from geometry (:mod:`adkit.views.layout`). A
node is a variable ``v_i`` of the evaluation trace; an edge ``v_i → v_j``
says that ``v_j``'s operation reads ``v_i``, labelled with the local partial
``∂v_j/∂v_i``. Layers are topological generations, as in the trace's
numbering. networkx is imported when ``Graph.nx`` is first read, ipywidgets
when a sweep player is made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from adkit.views import steps
from adkit.views.record import Computation, definition, format_value, record
from adkit.views.scene import (
    KIND_STYLE,
    LAYOUTS,
    PAGE_WIDTH,
    SHOW,
    axes_width,
    choose_scene,
    partial_text,
    png,
    render,
)
from adkit.views.trace import Trace

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes

    from adkit.views.player import SweepWidget

__all__ = ["Graph", "graph"]


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
            import networkx as nx

            g = nx.DiGraph(function=self._computation.function_name)
            for v in self._computation.variables:
                g.add_node(
                    v.number,
                    name=v.name,
                    kind=v.kind,
                    outputs=v.output_names,
                    definition=definition(v, "text"),
                    symbol=None if v.is_input else v.primitive.symbol,
                    value=v.value,
                    tangent=v.tangent,
                    adjoint=v.adjoint,
                    layer=v.layer,
                )
            for e in self._computation.edges:
                g.add_edge(
                    e.source,
                    e.target,
                    positions=e.positions,
                    partial=e.partial,
                    tangent=e.tangent,
                    adjoint=e.adjoint,
                )
            self._nx = g
        return self._nx.copy()

    def __len__(self) -> int:
        return len(self._computation.variables)

    def __repr__(self) -> str:
        comp = self._computation
        inputs, outputs = ", ".join(comp.input_names), ", ".join(comp.output_names)
        return (
            f"<adkit.Graph of {comp.function_name}: {len(comp.variables)} nodes, {len(comp.edges)} "
            f"edges; inputs {inputs}; outputs {outputs}>"
        )

    # -- pictures ----------------------------------------------------------------------------

    def draw(
        self,
        ax: Axes | None = None,
        show: Sequence[str] | None = None,
        layout: str = "layered",
        max_nodes: int | None = None,
        precision: int = 4,
        width: float | None = None,
    ) -> Axes:
        """Draw the graph with matplotlib, readable at the width it will be shown at; returns the Axes.

        A graph too wide for ``width`` is folded into rows stacked top to
        bottom; an edge to a later row leaves its row at a small tag with the
        variable's name and comes back at the same tag on the left of the
        target's row. Edge labels that would overlap something are left out
        (the legend says how many). With ``show`` and ``max_nodes`` left to
        ``None``, a large graph shows fewer lines per box and, larger still,
        is grouped, so that text stays at 9 pt; a note on top says what was
        left out.

        Args:
            ax: where to draw; by default a new pyplot figure sized to the graph.
            show: any of ``"value"`` (primal values), ``"tangent"`` (forward
                mode, blue), ``"adjoint"`` (reverse mode, vermilion, with
                dashed arrows flowing back) and ``"partial"`` (edge labels
                ``∂v_j/∂v_i``). Default: all four, or fewer for large graphs.
            layout: ``"layered"`` (columns by topological generation; edges
                never cross a box) or ``"spring"`` (force-directed, straight edges).
            max_nodes: above this many nodes the graph is drawn grouped by
                layer band and operation, with a message saying so; at or below
                it every node is drawn. Default: every node up to 60 nodes
                when the drawing is not too tall for its width.
            precision: significant digits of the numbers shown.
            width: the width in inches the drawing will be shown at (default
                ``PAGE_WIDTH``, 7 inches: a notebook page or the documentation's
                column at 100 dots per inch); with ``ax``, the Axes' width.

        >>> import matplotlib.pyplot as plt
        >>> g = adkit.graph(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0)
        >>> ax = g.draw(show=("value", "adjoint"))
        >>> plt.close(ax.figure)
        """
        if show is not None:
            show = _check_show(show)
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if max_nodes is not None and (not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1):
            raise ValueError(f"max_nodes must be a positive integer, got {max_nodes!r}")
        if width is not None and (not isinstance(width, (int, float, np.number)) or not width > 0):
            raise ValueError(f"width must be a positive number of inches, got {width!r}")
        if width is None:
            width = PAGE_WIDTH if ax is None else axes_width(ax)
        scene = choose_scene(self._computation, show, max_nodes, precision, float(width), layout)
        return render(scene, ax=ax, layout=layout, width=float(width))

    def _repr_png_(self) -> bytes:
        from matplotlib.figure import Figure

        fig = Figure()
        scene = choose_scene(self._computation, None, None, 4, PAGE_WIDTH, "layered")
        render(scene, ax=None, layout="layered", figure=fig)
        return png(fig, dpi=100)

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
        lines = [
            f"digraph {_dot_quote(comp.function_name)} {{",
            "  rankdir=LR;",
            '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        ]
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
            label = f" [label={_dot_quote(partial_text(e.partial, precision))}]" if "partial" in show else ""
            lines.append(f"  {source} -> {target}{label};")
        for name, number in zip(comp.output_names, comp.outputs):
            lines.append(f'  {_dot_quote(name)} [shape=plaintext, style="", label={_dot_quote(name)}];')
            lines.append(f"  {_dot_quote(comp.variable(number).name)} -> {_dot_quote(name)};")
        lines.append("}")
        return "\n".join(lines)

    # -- stepping through the sweeps ---------------------------------------------------------

    def sweep_steps(self, mode: str = "forward") -> list[steps.SweepStep]:
        """The steps of the forward or reverse sweep, one per variable (see :mod:`adkit.views.steps`)."""
        return steps.sweep_steps(self._computation, mode)

    def sweep_widget(self, mode: str = "forward", interval: int = 1000, max_nodes: int = 60) -> SweepWidget:
        """An ipywidgets player stepping through the ``"forward"`` or ``"reverse"`` sweep.

        A slider with a play button moves one variable at a time; the drawing
        highlights the active variable and shows the values accumulated so
        far, next to the trace with the matching row highlighted.
        """
        from adkit.views.player import SweepWidget  # here: ipywidgets is loaded when a player is made

        return SweepWidget(self, mode=mode, interval=interval, max_nodes=max_nodes)

    def animate(self, mode: str = "forward", interval: int = 1000, max_nodes: int = 60) -> FuncAnimation:
        """The sweep as a ``matplotlib.animation.FuncAnimation`` (for docs and HTML export).

        Show it with ``IPython.display.HTML(anim.to_jshtml())`` or save it
        with ``anim.save("sweep.gif")``.
        """
        from adkit.views.player import animate  # here: ipywidgets is loaded when a player is made

        return animate(self, mode=mode, interval=interval, max_nodes=max_nodes)


def graph(f: Callable[..., Any], *args: Any, seed: Any = None, cotangent: Any = None) -> Graph:
    """The computational graph of ``f`` at ``args``, with tangents (along ``seed``) and adjoints.

    One node per variable ``v_i`` of :func:`adkit.trace` (inputs, then one per
    elementary operation); an edge ``v_i → v_j`` for every operand, with the
    local partial ``∂v_j/∂v_i``. ``seed`` and ``cotangent`` are as in
    :func:`adkit.trace` (defaults ``e_1`` and ones). Given a staged program
    (``adkit.compile(f).program(*args)``) instead of ``f``, it draws the
    program's steps (:class:`adkit.views.staged.ProgramGraph`).

    Raises:
        TypeError, ValueError: as :func:`adkit.trace`.

    >>> import numpy as np
    >>> g = adkit.graph(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    >>> g.nx.number_of_nodes(), g.nx.number_of_edges()
    (7, 8)
    >>> [g.nx.nodes[i]["definition"] for i in g.nx]
    ['x1', 'x2', 'ln(v-1)', 'v-1 * v0', 'sin(v0)', 'v1 + v2', 'v4 - v3']
    """
    from adkit.staging import Program

    if isinstance(f, Program):  # a staged program (adkit.compile(f).program(*args)): its steps
        from adkit.views.staged import program_graph

        return program_graph(f)  # type: ignore[return-value]
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
