"""Vertex elimination (cross-country mode): forward, reverse and Markowitz orders on the linearized graph.

Record a scalar program (every variable a number) and label each edge
``v_i → v_j`` with its local partial ``c_ji = ∂v_j/∂v_i``: the *linearized
graph*. Eliminating an intermediate vertex ``v`` connects each predecessor
``i`` to each successor ``j`` directly::

    c_ji += c_jv · c_vi        (|P(v)| · |S(v)| multiplications)

creating the edge when it was not there (fill-in). When every intermediate
vertex is gone, the edges from inputs to outputs hold the Jacobian: the
chain rule summed over all paths (Griewank and Walther, *Evaluating
Derivatives*, ch. 9; Naumann, *The Art of Differentiating Computer
Programs*, ch. 7). The order matters only for the work:

* ``"forward"``: in evaluation order (the numbering ``v1, v2, ...``): the
  forward mode with sparse tangents;
* ``"reverse"``: in the opposite order: the reverse mode with sparse adjoints;
* ``"markowitz"``: always the vertex with the fewest ``|P(v)| · |S(v)|``
  in the current graph (ties: the earliest), a greedy cross-country order.

Every order gives the same Jacobian; the counts differ, and on a graph with
a bottleneck (many inputs funnel into a chain of operations that fans out to
many outputs) Markowitz beats both pure modes: each link of the chain costs
it one multiplication, where forward elimination pays ``n`` and reverse ``m``.

Multiplications are counted as the algorithm makes them: by an edge of
``±1`` too (``v4 = v1 + v2``). :func:`compare` eliminates in every order and
returns a :class:`Comparison` with the counts, a bar chart, drawings of the
graph at each step and a widget to step through them.

>>> import numpy as np
>>> comparison = compare(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
>>> comparison.counts
{'forward': 6, 'reverse': 6, 'markowitz': 6}
>>> comparison.jacobian            # 1/x1 + x2, x1 - cos x2
array([[5.5       , 1.71633781]])
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from adkit.formatting import number
from adkit.views.record import Computation, definition, record, variable_name

if TYPE_CHECKING:
    from matplotlib.animation import FuncAnimation
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from adkit.views.frames import FramePlayer

__all__ = [
    "ORDERS",
    "Comparison",
    "Elimination",
    "EliminationStep",
    "LinearizedGraph",
    "compare",
    "eliminate",
    "linearize",
]

#: The orders :func:`compare` tries.
ORDERS = ("forward", "reverse", "markowitz")

Edge = tuple[Any, Any]  # (source, target) vertex keys


@dataclass(frozen=True)
class Vertex:
    """A vertex of the linearized graph: an input, an intermediate variable or an output."""

    key: Any  # the number i of v_i; ("y", k) for the k-th output when it needs a vertex of its own
    kind: str  # "input", "intermediate" or "output"
    name: str  # v-1, v3, y2 (text)
    title: str  # for drawings (mathtext): "$v_{3} = \\sin v_{0}$"
    output_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinearizedGraph:
    """A scalar program's graph with each edge's local partial ``∂v_j/∂v_i``.

    ``edges`` maps ``(source, target)`` to the partial. Vertices are keyed
    by the numbers of the trace (``v_{1-n} .. v_0`` inputs, ``v_1 .. v_l``
    intermediates, in evaluation order by generation). An output that is
    read by a later operation, is an input, or is returned twice gets an
    output vertex of its own (``("y", k)``, an edge of partial 1 from the
    variable), so that outputs are never eliminated.

    >>> def f(x1, x2):
    ...     u = x1 * x2                             # v1: an output, and read by v2
    ...     return u, u + x1
    >>> g = linearize(f, 2.0, 5.0)
    >>> g.n, g.m, g.intermediates, g.outputs        # v1 is eliminated; y0 stands for it
    (2, 2, (1,), (('y', 0), 2))
    """

    vertices: dict[Any, Vertex]
    edges: dict[Edge, float]
    inputs: tuple[Any, ...]
    intermediates: tuple[Any, ...]
    outputs: tuple[Any, ...]
    function_name: str = "f"
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """The number of inputs (independent variables)."""
        return len(self.inputs)

    @property
    def m(self) -> int:
        """The number of outputs (dependent variables)."""
        return len(self.outputs)

    def __repr__(self) -> str:
        return (
            f"<LinearizedGraph of {self.function_name}: {self.n} inputs, {len(self.intermediates)} "
            f"intermediate vertices, {self.m} outputs, {len(self.edges)} edges>"
        )


def linearize(f: Callable[..., Any], *args: float) -> LinearizedGraph:
    """The linearized graph of ``f`` at ``args``: one vertex per scalar variable, each edge its partial.

    ``f`` is a scalar program: its arguments and every value it computes are
    numbers (it may return several, as a tuple).

    >>> g = linearize(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0)
    >>> g.edges                                  # (source, target): ∂target/∂source
    {(-1, 1): 5.0, (0, 1): 2.0, (1, 2): 1.0, (-1, 2): 1.0}
    """
    comp = record(f, args, None, None, "elimination.linearize")
    return _from_computation(comp)


def _from_computation(comp: Computation) -> LinearizedGraph:
    for v in comp.variables:
        if v.shape != ():
            what = f"argument {v.input_name}" if v.is_input else f"{v.name} = {definition(v, 'text')}"
            raise ValueError(
                f"vertex elimination works on the graph of a scalar program, where every variable is a "
                f"number, but {what} has shape {v.shape}. Pass the inputs as separate numbers "
                "(f(x1, x2, ...)) and compute with numbers; adkit.graph draws array programs."
            )
    readers: dict[int, int] = {}
    for e in comp.edges:
        readers[e.source] = readers.get(e.source, 0) + 1
    vertices: dict[Any, Vertex] = {}
    edges: dict[Edge, float] = {}
    inputs, intermediates, outputs = [], [], []
    returned: dict[int, int] = {}
    for number_ in comp.outputs:
        returned[number_] = returned.get(number_, 0) + 1
    own_vertex = {
        k
        for k, y in enumerate(comp.outputs)
        if readers.get(y, 0) or returned[y] > 1 or comp.variable(y).is_input
    }
    kept_as_output = {y for k, y in enumerate(comp.outputs) if k not in own_vertex}
    names_of: dict[int, list[str]] = {}
    for k, (y, name) in enumerate(zip(comp.outputs, comp.output_names)):
        if k not in own_vertex:
            names_of.setdefault(y, []).append(name)
    for v in comp.variables:
        defn = definition(v, "mathtext")
        plain = defn[1:-1] if defn.count("$") == 2 and defn.startswith("$") and defn.endswith("$") else None
        name = variable_name(v.number, "latex")
        title = f"${name} = {plain}$" if plain is not None else f"${name}$ = {defn}"
        if v.is_input:
            kind = "input"
            inputs.append(v.number)
        elif v.number in kept_as_output:
            kind = "output"
        else:
            kind = "intermediate"
            intermediates.append(v.number)
        vertices[v.number] = Vertex(v.number, kind, v.name, title, tuple(names_of.get(v.number, ())))
    for e in comp.edges:
        edges[(e.source, e.target)] = float(e.partial)
    for k, (y, name) in enumerate(zip(comp.outputs, comp.output_names)):
        if k in own_vertex:
            key = ("y", k)
            source = variable_name(y, "latex")
            vertices[key] = Vertex(key, "output", name, f"${name} = {source}$", (name,))
            edges[(y, key)] = 1.0
            outputs.append(key)
        else:
            outputs.append(y)
    return LinearizedGraph(
        vertices,
        edges,
        tuple(inputs),
        tuple(intermediates),
        tuple(outputs),
        comp.function_name,
        comp.input_names,
        comp.output_names,
    )


# -- elimination ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EliminationStep:
    """One vertex eliminated: its predecessors and successors then, the work, and the edges after it.

    ``created`` are the edges made by this step (fill-in), ``updated`` the
    edges it added a product to; ``edges`` is the whole graph's edges after
    the step.

    >>> first = eliminate(linearize(lambda x1, x2: np.sin(x1 * x2), 2.0, 5.0), "forward").steps[0]
    >>> first.vertex, first.predecessors, first.successors, first.multiplications, first.created
    (1, (-1, 0), (2,), 2, ((-1, 2), (0, 2)))
    """

    index: int  # 1-based
    vertex: Any
    predecessors: tuple[Any, ...]
    successors: tuple[Any, ...]
    multiplications: int
    total: int  # multiplications so far
    created: tuple[Edge, ...]
    updated: tuple[Edge, ...]
    edges: dict[Edge, float] = field(repr=False)


@dataclass(frozen=True)
class Elimination:
    """All intermediate vertices eliminated in one order: the steps, the multiplications, the Jacobian.

    ``v1 = x1 x2, v2 = sin v1, v3 = v2 + x1``; reverse order eliminates
    ``v2`` (1 x 1, making the edge v1 → v3), then ``v1`` ({x1, x2} x {v3}):

    >>> result = eliminate(linearize(lambda x1, x2: np.sin(x1 * x2) + x1, 2.0, 5.0), "reverse")
    >>> result.sequence, result.multiplications, result.fill_in
    ((2, 1), 3, 2)
    >>> result.jacobian                         # [x2 cos(x1 x2) + 1, x1 cos(x1 x2)]
    array([[-3.19535765, -1.67814306]])
    """

    graph: LinearizedGraph
    order: str
    steps: tuple[EliminationStep, ...]
    jacobian: np.ndarray  # m x n

    @property
    def multiplications(self) -> int:
        """Multiplications of all steps: the sum of ``|P(v)| · |S(v)|`` over the vertices eliminated."""
        return self.steps[-1].total if self.steps else 0

    @property
    def fill_in(self) -> int:
        """Edges created on the way."""
        return sum(len(s.created) for s in self.steps)

    @property
    def sequence(self) -> tuple[Any, ...]:
        """The vertices in the order they were eliminated."""
        return tuple(s.vertex for s in self.steps)

    def __repr__(self) -> str:
        names = ", ".join(self.graph.vertices[v].name for v in self.sequence)
        return f"<Elimination ({self.order}): {self.multiplications} multiplications; order {names}>"


def eliminate(graph: LinearizedGraph, order: str | Sequence[Any] = "markowitz") -> Elimination:
    """Eliminate every intermediate vertex of ``graph`` in ``order``; count the multiplications.

    ``order`` is ``"forward"``, ``"reverse"``, ``"markowitz"`` or a sequence
    of the intermediate vertices (each once).

    >>> g = linearize(lambda x: np.sin(np.cos(x)) * x, 0.5)   # v1 = cos v0, v2 = sin v1, v3 = v2 v0
    >>> e = eliminate(g, "reverse")
    >>> e.sequence, e.multiplications, e.jacobian   # v2, then v1 (1 x 1 each); sin cos x - x cos cos x sin x
    ((2, 1), 2, array([[0.6160169]]))
    """
    name, sequence = _order(graph, order)
    preds: dict[Any, dict[Any, float]] = {v: {} for v in graph.vertices}
    succs: dict[Any, dict[Any, float]] = {v: {} for v in graph.vertices}
    for (i, j), c in graph.edges.items():
        preds[j][i] = c
        succs[i][j] = c
    remaining = list(graph.intermediates)
    position = {v: k for k, v in enumerate(graph.intermediates)}
    steps, total = [], 0
    for k in range(len(graph.intermediates)):
        if sequence is None:  # Markowitz: the cheapest vertex now, the earliest of equals
            v = min(remaining, key=lambda u: (len(preds[u]) * len(succs[u]), position[u]))
        else:
            v = sequence[k]
        remaining.remove(v)
        created, updated = [], []
        for i, c_vi in preds[v].items():
            for j, c_jv in succs[v].items():
                if i in preds[j]:
                    updated.append((i, j))
                    preds[j][i] += c_jv * c_vi
                else:
                    created.append((i, j))
                    preds[j][i] = c_jv * c_vi
                succs[i][j] = preds[j][i]
        mults = len(preds[v]) * len(succs[v])
        total += mults
        step_preds, step_succs = tuple(preds[v]), tuple(succs[v])
        for i in preds[v]:
            del succs[i][v]
        for j in succs[v]:
            del preds[j][v]
        preds[v], succs[v] = {}, {}
        edges = {(i, j): c for j in preds for i, c in preds[j].items()}
        steps.append(
            EliminationStep(
                k + 1, v, step_preds, step_succs, mults, total, tuple(created), tuple(updated), edges
            )
        )
    index_in = {x: a for a, x in enumerate(graph.inputs)}
    jacobian = np.zeros((graph.m, graph.n))
    for row, y in enumerate(graph.outputs):
        if y in index_in:  # cannot happen: an input returned as an output has a vertex of its own
            jacobian[row, index_in[y]] = 1.0
        for i, c in preds[y].items():
            jacobian[row, index_in[i]] += c
    return Elimination(graph, name, tuple(steps), jacobian)


def _order(graph: LinearizedGraph, order: str | Sequence[Any]) -> tuple[str, list[Any] | None]:
    if isinstance(order, str):
        if order == "forward":
            return order, list(graph.intermediates)
        if order == "reverse":
            return order, list(reversed(graph.intermediates))
        if order == "markowitz":
            return order, None
        raise ValueError(f"order must be one of {', '.join(ORDERS)} or a sequence of vertices, got {order!r}")
    sequence = list(order)
    if sorted(map(repr, sequence)) != sorted(map(repr, graph.intermediates)):
        names = ", ".join(graph.vertices[v].name for v in graph.intermediates)
        raise ValueError(f"an order must list every intermediate vertex once ({names}), got {sequence!r}")
    return "custom", sequence


# -- the comparison -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """The elimination orders side by side: ``counts`` (multiplications), ``results``, a plot, the steps.

    ``jacobian`` is the ``m x n`` Jacobian (the same from every order).

    >>> comparison = compare(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    >>> comparison.counts, comparison.best
    ({'forward': 6, 'reverse': 6, 'markowitz': 6}, 'forward')
    >>> comparison.jacobian                     # [1/x1 + x2, x1 - cos x2]
    array([[5.5       , 1.71633781]])
    """

    graph: LinearizedGraph
    results: dict[str, Elimination]

    @property
    def counts(self) -> dict[str, int]:
        """The multiplications of each order, by name."""
        return {name: e.multiplications for name, e in self.results.items()}

    @property
    def jacobian(self) -> np.ndarray:
        """The ``m x n`` Jacobian (every order gives the same, up to rounding)."""
        return next(iter(self.results.values())).jacobian

    @property
    def best(self) -> str:
        """The order with the fewest multiplications (the first of equals)."""
        return min(self.results, key=lambda name: self.results[name].multiplications)

    def __repr__(self) -> str:
        g = self.graph
        lines = [
            f"Vertex elimination on the linearized graph of {g.function_name}: n = {g.n} inputs, "
            f"{len(g.intermediates)} intermediate vertices, m = {g.m} outputs, {len(g.edges)} edges"
        ]
        lines += [
            f"  {name:<10} {e.multiplications:>5} multiplications, {e.fill_in:>3} fill-in edges"
            for name, e in self.results.items()
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{e.multiplications}</td><td>{e.fill_in}</td></tr>"
            for name, e in self.results.items()
        )
        g = self.graph
        return (
            f"<p>Vertex elimination on the linearized graph of {html.escape(g.function_name)}: "
            f"n = {g.n}, {len(g.intermediates)} intermediate vertices, m = {g.m}, "
            f"{len(g.edges)} edges</p>"
            "<table><tr><th>order</th><th>multiplications</th><th>fill-in edges</th></tr>"
            f"{rows}</table>"
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """A bar chart of the multiplications of each order; returns the Axes.

        >>> [int(bar.get_height()) for bar in compare(lambda x: np.sin(x) * x, 1.0).plot().patches]
        [1, 1, 1]
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5.0, 3.0))
        names = list(self.results)
        counts = [self.results[name].multiplications for name in names]
        best = min(counts)
        colors = ["#009E73" if c == best else "#999999" for c in counts]
        bars = ax.bar(names, counts, color=colors)
        ax.bar_label(bars, [str(c) for c in counts], padding=2, fontsize=9)
        g = self.graph
        ax.set_ylabel("multiplications")
        ax.set_title(
            f"Jacobian of {g.function_name} by vertex elimination\n"
            f"n = {g.n}, m = {g.m}, {len(g.intermediates)} intermediate vertices",
            fontsize=10,
        )
        ax.set_ylim(0, max(counts) * 1.18 + 1)
        ax.spines[["top", "right"]].set_visible(False)
        return ax

    # -- the steps, drawn ----------------------------------------------------------------------------

    def _result(self, order: str) -> Elimination:
        if order not in self.results:
            raise ValueError(f"order must be one of {', '.join(self.results)}, got {order!r}")
        return self.results[order]

    def caption(self, order: str = "markowitz", step: int = 0) -> str:
        """What step ``step`` of ``order`` did (step 0: the graph before any elimination).

        >>> compare(lambda x: np.sin(x) * x, 1.0).caption("forward", 1).split(" = ")[0]
        'step 1/1: eliminated v1: 1 predecessor × 1 successor'
        """
        return caption(self._result(order), step)

    def draw(
        self, order: str = "markowitz", step: int = 0, ax: Axes | None = None, precision: int = 3
    ) -> Axes:
        """The linearized graph after ``step`` eliminations in ``order``: what is left, with its partials.

        The vertex eliminated next is highlighted, and so are the edges the
        last step made or changed (thick). Step 0 is the graph before any
        elimination; the last step leaves the inputs joined to the outputs
        by the Jacobian's entries.

        >>> ax = compare(lambda x: np.sin(x) * x, 1.0).draw("reverse", step=1)
        >>> [text.get_text() for text in ax.texts][1:2]   # the input left, then v2 = v1 v0 and y
        ['$v_{0} = x$']
        """
        from adkit.views.scene import render

        return render(step_scene(self._result(order), step, precision), ax=ax)

    def widget(self, order: str = "markowitz", interval: int = 1200) -> FramePlayer:
        """An ipywidgets player stepping through the elimination in ``order``, a frame per vertex.

        >>> player = compare(lambda x: np.sin(x) * x, 1.0).widget("forward")
        >>> player.slider.value = 1
        >>> player.caption_html.value[:30]
        '<b>step 1/1: eliminated v1: 1 '
        """
        from adkit.views.frames import FramePlayer

        result = self._result(order)
        return FramePlayer(
            len(result.steps) + 1,
            lambda k, figure: _draw_into(result, k, figure),
            lambda k: caption(result, k),
            lambda k: steps_table(result, k),
            interval=interval,
            description=f"{order} step",
            start=0,
            title=f"{order} elimination of {self.graph.function_name}",
        )

    def animate(self, order: str = "markowitz", interval: int = 1200) -> FuncAnimation:
        """The elimination in ``order`` as a ``matplotlib.animation.FuncAnimation``, a frame per step.

        >>> "<script" in compare(lambda x: np.sin(x) * x, 1.0).animate().to_jshtml()
        True
        """
        from matplotlib.animation import FuncAnimation
        from matplotlib.figure import Figure

        from adkit.views.scene import geometry, render

        result = self._result(order)
        widest = max(
            (geometry(step_scene(result, k)) for k in range(len(result.steps) + 1)),
            key=lambda geo: geo.width * geo.height,
        )
        figure = Figure(figsize=(widest.width, widest.height))

        def frame(k: int) -> list:
            figure.clear()
            render(step_scene(result, k), ax=figure.add_axes((0.0, 0.0, 1.0, 1.0)), width=widest.width)
            return []

        return FuncAnimation(figure, frame, frames=len(result.steps) + 1, interval=interval, repeat=True)


def compare(f: Callable[..., Any], *args: float, orders: Sequence[str] = ORDERS) -> Comparison:
    """Eliminate the intermediate vertices of ``f``'s linearized graph at ``args`` in each of ``orders``.

    Returns a :class:`Comparison`: ``counts`` of multiplications per order,
    the common ``jacobian``, ``plot()``, and ``draw`` / ``widget`` /
    ``animate`` to step through an elimination. The Jacobian of
    ``f: R^n -> R^m`` costs ``|P(v)| · |S(v)|`` multiplications per vertex
    ``v``, summed in the order of elimination.

    >>> import numpy as np
    >>> def bottleneck(x1, x2, x3):  # three inputs, a chain, three outputs
    ...     u = np.tanh(np.exp(np.sin(np.cos(x1 * x2 * x3))))
    ...     return np.sin(u), np.cos(u), np.exp(u)
    >>> compare(bottleneck, 0.3, 0.5, 0.7).counts
    {'forward': 23, 'reverse': 24, 'markowitz': 17}
    """
    graph = linearize(f, *args)
    if not isinstance(orders, (tuple, list)) or not orders:
        raise ValueError(f"orders must be a non-empty sequence of {', '.join(ORDERS)}, got {orders!r}")
    return Comparison(graph, {order: eliminate(graph, order) for order in orders})


# -- the scenes of the steps (adkit.views.scene draws them) ------------------------------------------------


def caption(result: Elimination, step: int) -> str:
    """The caption of frame ``step`` (0: before any elimination) of an elimination.

    >>> caption(eliminate(linearize(lambda x: np.exp(x) * x, 1.0), "reverse"), 0)[:50]
    'reverse order: 1 intermediate vertices to eliminat'
    """
    graph, steps = result.graph, result.steps
    if not 0 <= step <= len(steps):
        raise ValueError(f"step must be between 0 and {len(steps)}, got {step!r}")
    name = graph.vertices
    if step == 0:
        first = f"; first: {name[steps[0].vertex].name}" if steps else ""
        return (
            f"{result.order} order: {len(steps)} intermediate vertices to eliminate{first}. Each edge "
            "holds its local partial ∂v_j/∂v_i."
        )
    s = steps[step - 1]
    p, q = len(s.predecessors), len(s.successors)
    mults = s.multiplications
    text = (
        f"step {step}/{len(steps)}: eliminated {name[s.vertex].name}: {p} predecessor{'s' * (p != 1)} × "
        f"{q} successor{'s' * (q != 1)} = {mults} multiplication{'s' * (mults != 1)} (total {s.total})"
    )
    if s.created:
        text += "; new edges " + ", ".join(f"{name[i].name}→{name[j].name}" for i, j in s.created)
    if step < len(steps):
        text += f"; next: {name[steps[step].vertex].name}"
    else:
        text += ". Done: the edges from the inputs to the outputs hold the Jacobian."
    return text


def steps_table(result: Elimination, step: int) -> str:
    """The steps done up to frame ``step``, as an HTML table (the widget shows it beside the graph).

    >>> steps_table(eliminate(linearize(lambda x: np.exp(x) * x, 1.0)), 1).count("<tr")
    2
    """
    name = result.graph.vertices
    rows = []
    for s in result.steps:
        style = ' style="background:#fff3a0"' if s.index == step else ""
        faded = ' style="color:#999999"' if s.index > step else style
        rows.append(
            f"<tr{faded}><td>{s.index}</td><td>{html.escape(name[s.vertex].name)}</td>"
            f"<td>{len(s.predecessors)} × {len(s.successors)}</td><td>{s.multiplications}</td>"
            f"<td>{s.total}</td></tr>"
        )
    return (
        "<table><tr><th>step</th><th>vertex</th><th>|P| × |S|</th><th>mults</th><th>total</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def step_scene(result: Elimination, step: int, precision: int = 3) -> Any:
    """The :class:`adkit.views.scene.Scene` of the graph after ``step`` eliminations.

    >>> scene = step_scene(eliminate(linearize(lambda x: np.exp(x) * x, 1.0)), 1)
    >>> [node.key for node in scene.nodes], [(e.source, e.target, e.label) for e in scene.edges]
    ([0, 2], [(0, 2, '5.44')])
    """
    from adkit.views.scene import Scene, SceneEdge, SceneNode

    graph, steps = result.graph, result.steps
    if not 0 <= step <= len(steps):
        raise ValueError(f"step must be between 0 and {len(steps)}, got {step!r}")
    edges = graph.edges if step == 0 else steps[step - 1].edges
    gone = {s.vertex for s in steps[:step]}
    alive = [v for v in graph.vertices if v not in gone]
    layer = _layers(alive, edges, graph.inputs)
    following = steps[step].vertex if step < len(steps) else None
    changed = set() if step == 0 else set(steps[step - 1].created) | set(steps[step - 1].updated)
    kinds = {"input": "input", "intermediate": "operation", "output": "output"}
    nodes = []
    for v in alive:
        vertex = graph.vertices[v]
        status = "active" if v == following else "normal"
        nodes.append(
            SceneNode(
                v,
                layer[v],
                kinds[vertex.kind],
                [(vertex.title, "title")],
                [vertex.title],
                status,
                vertex.output_names,
                vertex.name,
            )
        )
    lines = [
        SceneEdge(i, j, number(c, precision), "active" if (i, j) in changed else "normal")
        for (i, j), c in edges.items()
    ]
    return Scene(nodes, lines, tangent=False, adjoint=False, partial=True, message=caption(result, step))


def _layers(alive: list[Any], edges: dict[Edge, float], inputs: tuple[Any, ...]) -> dict[Any, int]:
    """Columns for the drawing: the longest path from an input, in the current graph."""
    preds: dict[Any, list[Any]] = {v: [] for v in alive}
    for i, j in edges:
        preds[j].append(i)
    layer: dict[Any, int] = {}
    for v in alive:  # the vertices come in evaluation order: predecessors first
        layer[v] = 0 if v in inputs else 1 + max((layer[i] for i in preds[v]), default=0)
    return layer


def _draw_into(result: Elimination, step: int, figure: Figure) -> None:
    from adkit.views.scene import render

    scene = step_scene(result, step)
    scene.message = ""  # the widget's caption says it
    render(scene, figure=figure)
