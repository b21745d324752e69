"""A staged program (``adkit.compile``) as a graph: one box per step, drawn like ``adkit.graph``'s.

``adkit.graph(program)`` (a :class:`~adkit.staging.Program`, from
``adkit.compile(f).program(*args)``) gives a :class:`ProgramGraph`: inputs,
each equation (named as in the generated source, ``v3 = tanh(v1)``, ``x̄1 =
…``) and each guard is a box, each operand an edge, laid out by topological
generation with the same layout and drawing code as the computational graph.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from adkit.staging import Equation, Program, Ref, show_value
from adkit.views.scene import AUTO_MAX_NODES, PAGE_WIDTH, Scene, SceneEdge, SceneNode, render


class ProgramGraph:
    """The data flow of a staged program: ``.nx`` (a ``networkx.DiGraph``), ``.draw()``, a PNG in Jupyter.

    >>> import numpy as np
    >>> import adkit
    >>> program = adkit.compile(adkit.grad(lambda x: np.sin(x) * x)).program(1.0)
    >>> g = adkit.graph(program)
    >>> [g.nx.nodes[k]["definition"] for k in g.nx]
    ['x', 'sin(x)', 'cos(x)', 'x * t1', 'v1 + t2', 'x̄ + 0.0']
    """

    def __init__(self, program: Program, names: dict[int, str], lines: dict[int, str]) -> None:
        self.program = program
        self._names = names
        self._lines = lines

    @property
    def nx(self) -> nx.DiGraph:
        """Nodes: the inputs' and equations' variable numbers (guards: ``("guard", k)``), in program order,
        with ``name``, ``definition``, ``kind`` (``"input"``, ``"operation"``, ``"guard"``, ``"output"``)
        and ``layer``; an edge from each operand to the step reading it."""
        g = nx.DiGraph(function=self.program.name)
        layer: dict[int, int] = {}
        outputs = {o.id for o in self.program.outputs if type(o) is Ref}
        for ref in self.program.inputs:
            layer[ref.id] = 0
            name = self._names[ref.id]
            g.add_node(ref.id, name=name, definition=name, kind="input", layer=0)
        for k, eq in enumerate(self.program.equations):
            reads = [r for r in eq.reads if r.id in layer]
            depth = 1 + max((layer[r.id] for r in reads), default=0)
            if eq.out is None:
                key: Any = ("guard", k)
                kind, name = "guard", "guard"
            else:
                key, name = eq.out.id, self._names.get(eq.out.id, f"%{eq.out.id}")
                kind = "output" if eq.out.id in outputs else "operation"
                layer[key] = depth
            definition = self._lines.get(k, _definition(eq))
            g.add_node(key, name=name, definition=definition, kind=kind, layer=depth)
            for r in dict.fromkeys(reads):
                g.add_edge(r.id, key)
        return g

    def __repr__(self) -> str:
        g = self.nx
        size = f"{g.number_of_nodes()} nodes, {g.number_of_edges()} edges"
        return f"<ProgramGraph of {self.program.name}: {size}>"

    def draw(self, ax: Any = None, max_nodes: int | None = None, width: float = PAGE_WIDTH) -> Any:
        """Draw the program with matplotlib (``max_nodes``, default 60: above it, a note instead).

        Returns the matplotlib Axes.
        """
        g = self.nx
        limit = AUTO_MAX_NODES if max_nodes is None else max_nodes
        if g.number_of_nodes() > limit:
            note = f"{self.program.name}: {g.number_of_nodes()} steps, too many to draw (max_nodes={limit})"
            node = SceneNode("note", 0, "operation", [(_plain(note), "title")], [_plain(note)])
            return render(Scene([node], [], False, False, False), ax=ax, width=width)
        nodes = []
        for key, data in g.nodes(data=True):
            kind, name, definition = data["kind"], data["name"], data["definition"]
            title = (
                name
                if kind == "input"
                else f"guard: {definition}"
                if kind == "guard"
                else f"{name} = {definition}"
            )
            text = _plain(title)
            box = "operation" if kind == "guard" else kind
            nodes.append(SceneNode(key, data["layer"], box, [(text, "title")], [text], tag=_plain(name)))
        edges = [SceneEdge(u, v) for u, v in g.edges]
        return render(Scene(nodes, edges, False, False, False), ax=ax, width=width)

    def _repr_png_(self) -> bytes:
        import io

        import matplotlib.pyplot as plt

        ax = self.draw()
        buffer = io.BytesIO()
        ax.figure.savefig(buffer, format="png", dpi=100)
        plt.close(ax.figure)
        return buffer.getvalue()


def _plain(text: str) -> str:
    """Text for matplotlib: dollar signs would start mathtext."""
    return text.replace("$", r"\$")


def _definition(eq: Equation) -> str:
    if eq.kind == "guard":
        return f"{'' if eq.params['expect'] else 'not '}{show_value(eq.args[0])}"
    return f"{eq.name}({', '.join(show_value(a) for a in eq.args)})"


def program_graph(program: Program) -> ProgramGraph:
    """The graph of ``program`` with the names and expressions of its generated source."""
    from adkit.codegen import generate

    generated = generate(program)
    return ProgramGraph(program, dict(generated.names), generated.expressions)
