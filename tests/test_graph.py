"""The computational graph: structure, order, labels, layout geometry, drawings, DOT.

Pictures are compared with baselines in tests/baseline/ by matplotlib's own
``compare_images`` (RMS tolerance ``TOL``). To regenerate them after an
intended change of the drawing, run the tests with ADKIT_REGENERATE_BASELINES=1
and look at the new images before committing them.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.testing.compare import compare_images
from PIL import Image

import adkit
from adkit.views import Graph, graph, trace
from adkit.views.layout import Layout, LayoutBox, edges_through_boxes, layered_layout, wrapped_layout
from adkit.views.scene import FLOW_OFFSET, SHOW, geometry, grouped_scene, variable_scene

BASELINE = Path(__file__).parent / "baseline"
TOL = 4.0  # RMS difference on a 0-255 scale: survives antialiasing noise, not a moved box or a changed label
# matplotlib's own settings for reproducible text in image tests
STYLE = {"font.family": "DejaVu Sans", "text.hinting": "none", "mathtext.fontset": "dejavusans"}


def running_example(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def check_image(fig: Figure, name: str, tmp_path: Path, dpi: int = 60) -> None:
    """Compare ``fig`` with tests/baseline/``name``; write the baseline when asked to."""
    actual = tmp_path / name
    fig.savefig(actual, dpi=dpi, metadata={"Software": None})
    expected = BASELINE / name
    if os.environ.get("ADKIT_REGENERATE_BASELINES") == "1":
        BASELINE.mkdir(exist_ok=True)
        expected.write_bytes(actual.read_bytes())
    assert expected.exists(), f"no baseline {expected}; run with ADKIT_REGENERATE_BASELINES=1 and inspect it"
    result = compare_images(str(expected), str(actual), tol=TOL)
    assert result is None, result


def chain(n: int):
    """A function of three inputs with about ``3 n`` operations in a long chain."""

    def f(a, b, c):
        y = a
        for i in range(n):
            y = np.sin(y) * (a, b, c)[i % 3] + 0.5
        return y

    return f


def network(hidden: int):
    """y = Σ_j w_j tanh(W_j1 x1 + W_j2 x2 + b_j) written with Python scalars, as in tutorial 05."""
    rng = np.random.default_rng(hidden)
    w_in, b, w_out = rng.normal(size=(hidden, 2)), rng.normal(size=hidden), rng.normal(size=hidden)

    def f(x1, x2):
        return w_out @ np.stack([np.tanh(w_in[j, 0] * x1 + w_in[j, 1] * x2 + b[j]) for j in range(hidden)])

    return f


def random_program(rng: np.random.Generator, size: int):
    """A random function of 2-4 inputs built from +, -, *, sin, tanh, reading random earlier values."""
    n_inputs = int(rng.integers(2, 5))
    plan = []
    for k in range(size - n_inputs):
        op = ["add", "sub", "mul", "sin", "tanh"][int(rng.integers(5))]
        plan.append((op, int(rng.integers(n_inputs + k)), int(rng.integers(n_inputs + k))))

    ops = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "sin": lambda a, b: np.sin(a),
        "tanh": lambda a, b: np.tanh(a),
    }

    def f(*xs):
        vs = list(xs)
        for op, i, j in plan:
            vs.append(ops[op](vs[i], vs[j]))
        return vs[-1]

    return f, [float(x) for x in rng.uniform(0.5, 1.5, n_inputs)]


# -- structure ---------------------------------------------------------------------------------


def test_running_example_structure():
    g = graph(running_example, 2.0, 5.0).nx
    assert list(g.nodes) == [-1, 0, 1, 2, 3, 4, 5]
    assert sorted(g.edges) == [(-1, 1), (-1, 2), (0, 2), (0, 3), (1, 4), (2, 4), (3, 5), (4, 5)]
    assert [g.nodes[i]["kind"] for i in g] == ["input", "input"] + ["operation"] * 4 + ["output"]
    assert [g.nodes[i]["symbol"] for i in g] == [None, None, "ln", "*", "sin", "+", "-"]
    assert [g.nodes[i]["name"] for i in g] == ["v-1", "v0", "v1", "v2", "v3", "v4", "v5"]
    assert g.nodes[5]["outputs"] == ("y",)
    assert g.graph["function"] == "running_example"
    # node order is a topological order, and layers are the topological generations
    assert nx.is_directed_acyclic_graph(g)
    position = {n: k for k, n in enumerate(g)}
    assert all(position[u] < position[v] for u, v in g.edges)
    generations = [sorted(gen) for gen in nx.topological_generations(g)]
    assert generations == [[-1, 0], [1, 2, 3], [4], [5]]
    assert all(g.nodes[n]["layer"] == k for k, gen in enumerate(generations) for n in gen)


def test_running_example_edge_partials_against_closed_forms():
    x1, x2 = 2.0, 5.0
    g = graph(running_example, x1, x2).nx
    expected = {
        (-1, 1): 1 / x1,
        (-1, 2): x2,
        (0, 2): x1,
        (0, 3): math.cos(x2),
        (1, 4): 1.0,
        (2, 4): 1.0,
        (4, 5): 1.0,
        (3, 5): -1.0,
    }
    for (u, v), partial in expected.items():
        assert g.edges[u, v]["partial"] == pytest.approx(partial, rel=1e-12)


def test_flows_along_edges_add_up_to_the_tangents_and_adjoints():
    for f, args in [
        (running_example, (2.0, 5.0)),
        (lambda x, y: x * x + x * y + 2, (3.0, 2.0)),
        (lambda x: np.sum(np.sin(x) * x), (np.array([0.5, 1.0, 2.0]),)),
    ]:
        g = graph(f, *args).nx
        for n, data in g.nodes(data=True):
            incoming = [g.edges[u, n]["tangent"] for u in g.predecessors(n)]
            if incoming:
                np.testing.assert_allclose(sum(incoming), data["tangent"], rtol=1e-12, atol=1e-15)
            outgoing = [g.edges[n, v]["adjoint"] for v in g.successors(n)]
            if outgoing and data["kind"] != "output":
                np.testing.assert_allclose(sum(outgoing), data["adjoint"], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("f", "args", "nodes", "edges", "definitions"),
    [
        (lambda x, y: (x + y) * (x - y), (3.0, 2.0), 5, 6, ["x", "y", "v-1 + v0", "v-1 - v0", "v1 * v2"]),
        (
            lambda x, y: x * x + x * y + 2,
            (3.0, 2.0),
            6,
            6,
            ["x", "y", "v-1 * v-1", "v-1 * v0", "v1 + v2", "v3 + 2"],
        ),
    ],
)
def test_small_graphs(f, args, nodes, edges, definitions):
    g = graph(f, *args).nx
    assert (g.number_of_nodes(), g.number_of_edges()) == (nodes, edges)
    assert [g.nodes[n]["definition"] for n in g] == definitions


def test_an_operand_used_twice_is_one_edge_with_the_total_partial():
    g = graph(lambda x, y: x * x + x * y + 2, 3.0, 2.0).nx
    assert g.edges[-1, 1]["positions"] == (0, 1)
    assert g.edges[-1, 1]["partial"] == pytest.approx(2 * 3.0)


def test_order_is_deterministic():
    f, args = random_program(np.random.default_rng(7), 40)
    first, second = graph(f, *args), graph(f, *args)
    assert list(first.nx.nodes) == list(second.nx.nodes)
    assert list(first.nx.edges) == list(second.nx.edges)
    assert first.to_dot() == second.to_dot()
    a, b = (geometry(variable_scene(g.computation, ("value",), 4)) for g in (first, second))
    assert a.layout.centers == b.layout.centers and a.layout.paths == b.layout.paths


def test_nx_is_a_copy():
    g = graph(running_example, 2.0, 5.0)
    g.nx.remove_node(5)
    assert g.nx.number_of_nodes() == 7


def test_repr_and_len():
    g = graph(running_example, 2.0, 5.0)
    assert repr(g) == "<adkit.Graph of running_example: 7 nodes, 8 edges; inputs x1, x2; outputs y>"
    assert len(g) == 7
    assert g.trace["v3"].definition == "sin(v0)"


# -- geometry: edges never pass through boxes -----------------------------------------------------


def test_the_through_box_check_can_fail():
    lay = Layout(
        centers={"a": (0.5, 1.0), "b": (2.0, 1.0), "c": (3.5, 1.0)},
        sizes={k: (1.0, 0.5) for k in "abc"},
        paths=[[(1.0, 1.0), (3.0, 1.0)]],
        label_points=[(2.0, 1.0)],
        width=4.0,
        height=2.0,
    )
    assert edges_through_boxes(lay, [("a", "c")]) == [(0, "b")]


def test_layered_layout_keeps_edges_out_of_boxes_on_random_dags():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(2, 51))
        layer, boxes, edges = {}, [], []
        for i in range(n):
            parents = (
                []
                if i < 2 or rng.random() < 0.1
                else sorted({int(p) for p in rng.integers(0, i, size=int(rng.integers(1, 4)))})
            )
            layer[i] = 1 + max((layer[p] for p in parents), default=-1)
            edges += [(p, i) for p in parents]
            boxes.append(LayoutBox(i, layer[i], float(rng.uniform(0.5, 2.5)), float(rng.uniform(0.3, 1.2))))
        lay = layered_layout(boxes, edges)
        assert edges_through_boxes(lay, edges) == []
        # boxes do not overlap each other either
        for a in boxes:
            (xa, ya), (wa, ha) = lay.centers[a.key], lay.sizes[a.key]
            for b in boxes:
                if b.key <= a.key:
                    continue
                (xb, yb), (wb, hb) = lay.centers[b.key], lay.sizes[b.key]
                assert abs(xa - xb) >= (wa + wb) / 2 - 1e-9 or abs(ya - yb) >= (ha + hb) / 2 - 1e-9


def test_folded_layouts_fit_the_width_and_keep_edges_out_of_boxes_on_random_dags():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = int(rng.integers(10, 61))
        layer, boxes, edges = {}, [], []
        for i in range(n):
            picks = rng.integers(0, i, size=int(rng.integers(1, 3))) if i >= 2 else []
            parents = sorted({int(p) for p in picks})
            layer[i] = 1 + max((layer[p] for p in parents), default=-1)
            edges += [(p, i) for p in parents]
            boxes.append(LayoutBox(i, layer[i], float(rng.uniform(0.6, 1.4)), float(rng.uniform(0.3, 0.9))))
        folded = wrapped_layout(boxes, edges, 6.0, {i: (0.4, 0.3) for i in range(n)}, column_gap=0.6)
        lay = folded.layout
        assert lay.width <= 6.0 + 1e-9 and len(folded.rows) > 1
        assert edges_through_boxes(lay, folded.links) == []
        # every edge is drawn: within a row, or to an "out" tag and on from an "in" tag in the target's row
        assert sorted(k for carried in folded.carries for k in carried) == sorted(
            k for k, (u, v) in enumerate(edges) for _ in range(1 if _same_row(folded, layer, u, v) else 2)
        )
        ports = {p.key: p for p in folded.ports}
        for (a, b), carried in zip(folded.links, folded.carries):
            for k in carried:
                u, v = edges[k]
                if a in ports:  # from the "in" tag of u to v
                    assert (ports[a].side, ports[a].source, b) == ("in", u, v)
                else:  # from u to v, or to u's "out" tag
                    assert a == u and (b == v or (ports[b].side, ports[b].source) == ("out", u))
        # the rows are stacked: every box of a later row lies below every box of an earlier one
        row_of_layer = {lr: r for r, layers in enumerate(folded.rows) for lr in layers}
        row = {key: ports[key].row if key in ports else row_of_layer[layer[key]] for key in lay.centers}
        for a in lay.centers:
            for b in lay.centers:
                if row[a] < row[b]:
                    assert lay.centers[a][1] - lay.sizes[a][1] / 2 > lay.centers[b][1] + lay.sizes[b][1] / 2


def _same_row(folded, layer, u, v):
    return any(layer[u] in ls and layer[v] in ls for ls in folded.rows)


@pytest.mark.parametrize("seed", range(12))
def test_drawn_graphs_up_to_50_nodes_keep_edges_out_of_boxes(seed):
    f, args = random_program(np.random.default_rng(seed), 10 + 40 * seed // 11)
    g = graph(f, *args)
    assert len(g) <= 50
    scene = variable_scene(g.computation, ("value", "tangent", "adjoint", "partial"), 4)
    geo = geometry(scene)
    links = [(e.source, e.target) for e in scene.edges]
    assert edges_through_boxes(geo.layout, links) == []
    # the dashed adjoint arrows run FLOW_OFFSET below the edges: clear of the boxes too
    below = dataclasses.replace(
        geo.layout, paths=[[(x, y - FLOW_OFFSET) for x, y in path] for path in geo.layout.paths]
    )
    assert edges_through_boxes(below, links) == []


def test_layout_rejects_an_edge_that_does_not_go_down_the_layers():
    with pytest.raises(ValueError, match="higher layer"):
        layered_layout([LayoutBox("a", 1, 1, 1), LayoutBox("b", 1, 1, 1)], [("a", "b")])


# -- drawing -----------------------------------------------------------------------------------


def artists(ax):
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return boxes, arrows, [t.get_text() for t in ax.texts]


def test_draw_shows_what_is_asked():
    g = graph(running_example, 2.0, 5.0)
    ax = g.draw()
    boxes, arrows, texts = artists(ax)
    assert len(boxes) == 7
    assert len(arrows) == 8 + 8 + 1  # data flow, adjoint flow back, the output's arrow
    assert r"$v_{3} = \sin v_{0}$" in texts and r"$v_{-1} = x_{1}$" in texts
    assert r"$\dot v$ = 5.5" in texts and r"$\bar v$ = 1.716" in texts
    assert "0.5" in texts and "-1" in texts  # edge partials
    assert "$y$" in texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "tangent $\\dot v$ flows forward" in legend and "adjoint $\\bar v$ flows back" in legend

    ax = g.draw(show=("value",))
    boxes, arrows, texts = artists(ax)
    assert len(arrows) == 8 + 1
    assert not any("dot v" in t or "bar v" in t for t in texts)
    assert "0.5" not in texts and "11.65" in texts


def test_draw_into_a_given_axes_scales_to_it():
    g = graph(running_example, 2.0, 5.0)
    _, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    assert g.draw(ax=right) is right
    assert len(left.patches) == 0 and len(right.patches) > 7
    font = right.texts[0].get_fontsize()
    assert font < 9.0  # shrunk to fit the smaller axes


def test_spring_layout_draws_too():
    _, arrows, _ = artists(graph(running_example, 2.0, 5.0).draw(layout="spring", show=("value",)))
    assert len(arrows) == 9


def test_large_graph_is_grouped_with_a_message():
    g = graph(chain(333), 0.1, 0.2, 0.3)
    assert len(g) > 1000
    ax = g.draw()
    boxes, _, texts = artists(ax)
    assert len(boxes) <= 60
    message = next(t for t in texts if "too many" in t)
    assert f"{len(g):,} nodes" in message and "max_nodes" in message
    scene = grouped_scene(g.computation, 60)
    assert scene.nodes[0].lines[0][0] == "3 inputs"
    assert sum(int(n.lines[0][0].split()[0]) for n in scene.nodes[1:]) == len(g) - 3
    inside = int(message.split("(")[1].split()[0].replace(",", ""))
    assert sum(int(e.label[1:]) for e in scene.edges) + inside == g.nx.number_of_edges()


def variable_boxes(ax):
    """The boxes of variables or groups (not the dashed tags where an edge continues in another row)."""
    return [p for p in artists(ax)[0] if p.get_linestyle() == "solid"]


def test_max_nodes_draws_every_node_when_raised():
    g = graph(chain(20), 0.1, 0.2, 0.3)
    assert len(variable_boxes(g.draw(max_nodes=10, show=()))) < len(g)
    assert len(variable_boxes(g.draw(max_nodes=100, show=()))) == len(g)


# -- readable at every size ---------------------------------------------------------------------

#: Where a drawing is shown, in CSS pixels (96 to the inch): the documentation's content column at its
#: widest (pydata theme, measured in Chromium), narrower than a JupyterLab notebook page.
PAGE_PIXELS = 720
DPI = 100  # Jupyter's inline backend saves figures at matplotlib's default of 100 dots per inch
SMALLEST_POINTS = 7.0


def shown_font_sizes(fig: Figure, page_pixels: int = PAGE_PIXELS) -> list[float]:
    """Each text's size in points as a reader sees it: the PNG saved at DPI, scaled down to fit the page.

    A browser shows a PNG one pixel per CSS pixel (96 to the inch) and shrinks it to the page's width.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")  # as Jupyter's inline backend saves
    pixels = Image.open(buffer).size[0]
    shown = min(pixels, page_pixels) / pixels  # the browser's scale
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    return [size * DPI / 96 * shown for size in sizes]


def texts_inside_and_apart(fig: Figure) -> None:
    """Every text lies inside the figure, and no two edge labels (texts on a white box) overlap."""
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    labels = []
    for t in fig.findobj(matplotlib.text.Text):
        if not (t.get_text() and t.get_visible()):
            continue
        box = t.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, t.get_text()
        if t.get_bbox_patch() is not None:
            labels.append(t.get_bbox_patch().get_window_extent(renderer))
    for k, a in enumerate(labels):
        for b in labels[k + 1 :]:
            assert not a.overlaps(b), (a, b)


def drawings():
    """Graphs from 5 to 200 nodes: random programs and long chains, drawn as a learner would draw them."""
    for size in (5, 12, 20, 33, 53, 63, 120, 200):
        f, args = random_program(np.random.default_rng(size), size)
        yield f"random {size} nodes", f, args, {}
    for size in (20, 33):
        f, args = random_program(np.random.default_rng(size), size)
        yield f"random {size} nodes, show everything", f, args, {"show": SHOW}
    # every node drawn (mathtext makes each box cost about 10 ms to measure and draw: 63 is enough here)
    f, args = random_program(np.random.default_rng(63), 63)
    yield "random 63 nodes, max_nodes=200", f, args, {"max_nodes": 200}
    for hidden in (3, 16):  # tutorial 05's network, one hidden unit at a time: 19 and 84 nodes
        yield f"network of {hidden} hidden units", network(hidden), (0.5, -1.0), {}
    yield "chain of 54 nodes", chain(17), (0.1, 0.2, 0.3), {}
    yield "chain of 54 nodes, max_nodes=100", chain(17), (0.1, 0.2, 0.3), {"max_nodes": 100}
    yield "running example", running_example, (2.0, 5.0), {}


@pytest.mark.parametrize(
    ("name", "f", "args", "kwargs"), list(drawings()), ids=lambda x: x if isinstance(x, str) else ""
)
def test_drawings_are_readable_at_every_size(name, f, args, kwargs):
    fig = graph(f, *args).draw(**kwargs).figure
    assert fig.get_size_inches()[0] <= PAGE_PIXELS / DPI - 0.2 + 1e-9  # with Jupyter's margins: the page
    assert min(shown_font_sizes(fig)) >= SMALLEST_POINTS
    texts_inside_and_apart(fig)


def test_the_readability_check_can_fail():
    """The old drawing of a 19-node network: 13.8 inches wide (and Jupyter's margins), its text at 5 pt."""
    fig = Figure(figsize=(13.8, 5.8))
    fig.text(0.0, 0.5, "v1 = 1.2 × v-1", fontsize=9, ha="left")
    fig.text(1.0, 0.5, "v2 = -2 × v0", fontsize=9, ha="right")
    assert min(shown_font_sizes(fig)) == pytest.approx(9 * 720 / (1380 + 20) * DPI / 96, rel=1e-3)
    assert min(shown_font_sizes(fig)) < SMALLEST_POINTS


def test_long_chains_are_folded_into_rows_with_every_node():
    g = graph(chain(17), 0.1, 0.2, 0.3)
    ax = g.draw(max_nodes=100, show=("value",))
    assert len(variable_boxes(ax)) == len(g) == 54
    width, height = ax.figure.get_size_inches()
    assert width <= 7.0 and height > 2 * width  # rows stacked, not a 30-inch strip
    tags = [t.get_text() for t in ax.texts if t.get_text().startswith("$v_") and "=" not in t.get_text()]
    assert tags and all(tags.count(tag) >= 2 for tag in tags)  # each continued edge: a tag at each end


def test_larger_graphs_show_less_per_box_then_are_grouped():
    small = graph(running_example, 2.0, 5.0).draw()
    assert len(variable_boxes(small)) == 7 and not any("left out" in t.get_text() for t in small.texts)
    f, args = random_program(np.random.default_rng(40), 40)
    ax = graph(f, *args).draw()
    note = next(t.get_text() for t in ax.texts if "left out" in t.get_text())
    assert "draw(show=...)" in note
    assert len(variable_boxes(ax)) == 40
    grouped = graph(chain(17), 0.1, 0.2, 0.3).draw()  # 54 nodes in 51 layers: too long one by one
    assert len(variable_boxes(grouped)) < 20
    assert any("draw(max_nodes=54)" in t.get_text() for t in grouped.texts)


def test_repr_png_is_a_deterministic_png():
    g = graph(running_example, 2.0, 5.0)
    png = g._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == graph(running_example, 2.0, 5.0)._repr_png_()
    assert plt.get_fignums() == []  # nothing left registered with pyplot


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"show": ("value", "gradient")}, r"show takes any of .*'gradient'"),
        ({"layout": "circular"}, r"layout must be one of \('layered', 'spring'\)"),
        ({"max_nodes": 0}, r"max_nodes must be a positive integer"),
    ],
)
def test_draw_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        graph(running_example, 2.0, 5.0).draw(**kwargs)


def test_graph_bad_input():
    with pytest.raises(TypeError, match=r"adkit\.graph needs the function"):
        graph("f", 1.0)
    with pytest.raises(ValueError, match=r"adkit\.graph: the seed"):
        graph(running_example, 2.0, 5.0, seed=(1.0, 2.0, 3.0))


def test_graph_is_the_public_adkit_graph():
    assert adkit.graph is graph and adkit.Graph is Graph


# -- Graphviz -----------------------------------------------------------------------------------


def test_to_dot():
    dot = graph(running_example, 2.0, 5.0).to_dot()
    lines = dot.splitlines()
    assert lines[0] == 'digraph "running_example" {' and lines[-1] == "}"
    assert sum(" -> " in line for line in lines) == 8 + 1
    assert '  "v-1" -> "v1" [label="0.5"];' in lines
    assert '  "v3" -> "v5" [label="-1"];' in lines
    assert '  { rank=same; "v1"; "v2"; "v3"; }' in lines
    node = next(line for line in lines if line.startswith('  "v0" [label='))
    assert r'label="v0 = x2\n5\ntangent 0\nadjoint 1.716"' in node
    assert dot.count("{") == dot.count("}")


# -- pictures against baselines -------------------------------------------------------------------


@pytest.fixture
def style():
    with matplotlib.style.context("default"), matplotlib.rc_context(STYLE):
        yield


def test_image_running_example(style, tmp_path):
    ax = graph(running_example, 2.0, 5.0).draw()
    check_image(ax.figure, "graph_running_example.png", tmp_path)


def test_image_running_example_adjoints(style, tmp_path):
    ax = graph(running_example, 2.0, 5.0).draw(show=("value", "adjoint", "partial"))
    check_image(ax.figure, "graph_running_example_adjoints.png", tmp_path)


def test_image_grouped(style, tmp_path):
    ax = graph(chain(60), 0.1, 0.2, 0.3).draw()
    check_image(ax.figure, "graph_grouped.png", tmp_path, dpi=40)


def test_image_trace_table(style, tmp_path):
    ax = trace(running_example, 2.0, 5.0).draw()
    check_image(ax.figure, "trace_running_example.png", tmp_path)
