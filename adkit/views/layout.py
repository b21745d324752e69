"""Where the boxes and edges of a graph drawing go: a layered (Sugiyama-style) layout.

Pure geometry, in inches, no matplotlib. Steps:

1. **layers** are given (topological generations: every edge goes from a
   lower layer to a higher one); an edge spanning several layers gets a
   *dummy* point in each layer it crosses, which reserves a slot there;
2. **order** within each layer: barycenter sweeps down and up, keeping the
   order with the fewest crossings (ties broken by the previous order, so
   the result is deterministic);
3. **coordinates**: layers are columns left to right; within a column each
   item sits as close as possible to the mean height of its neighbours,
   subject to a minimum gap to the next item (an isotonic regression,
   solved exactly by pool-adjacent-violators);
4. **edges** leave a box at its right side, run through their dummy slots
   horizontally and enter the target at its left side. Slanted segments lie
   only in the gaps between columns, where there are no boxes, and dummy
   slots are separated from boxes, so no edge passes through a box.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

__all__ = ["Layout", "LayoutBox", "edges_through_boxes", "layered_layout", "spring_layout"]

Point = tuple[float, float]


@dataclass(frozen=True)
class LayoutBox:
    """A box to place: its layer (column) and size in inches."""

    key: Hashable
    layer: int
    width: float
    height: float


@dataclass
class Layout:
    """Placed boxes (centres; y grows upwards) and edge polylines, all in inches."""

    centers: dict[Hashable, Point]
    sizes: dict[Hashable, tuple[float, float]]
    paths: list[list[Point]]  # one per edge, from the source's side to the target's side
    label_points: list[Point]  # where each edge's label goes
    width: float
    height: float
    columns: list[tuple[float, float]] = field(default_factory=list)  # (left, right) of each layer


def layered_layout(boxes: Sequence[LayoutBox], edges: Sequence[tuple[Hashable, Hashable]],
                   column_gap: float = 0.8, row_gap: float = 0.35, track: float = 0.3,
                   margin: float = 0.15, sweeps: int = 8) -> Layout:  # fmt: skip
    """Place ``boxes`` in columns by layer and route ``edges`` around them (see the module doc).

    ``track`` is the height a dummy slot (an edge passing a column) takes.

    >>> lay = layered_layout([LayoutBox("a", 0, 1, 0.5), LayoutBox("b", 1, 1, 0.5)], [("a", "b")])
    >>> lay.paths[0]
    [(1.15, 0.4), (1.95, 0.4)]
    """
    box_of = {b.key: b for b in boxes}
    for u, v in edges:
        if box_of[v].layer <= box_of[u].layer:
            raise ValueError(f"edge {u!r} -> {v!r} does not go to a higher layer")
    n_layers = max((b.layer for b in boxes), default=-1) + 1
    height_of: dict[Hashable, float] = {b.key: b.height for b in boxes}
    layers: list[list[Hashable]] = [[] for _ in range(n_layers)]
    for b in boxes:
        layers[b.layer].append(b.key)
    # chains of dummy slots for long edges; every link then joins adjacent layers
    chains: list[list[Hashable]] = []
    for k, (u, v) in enumerate(edges):
        chain = [u]
        for layer in range(box_of[u].layer + 1, box_of[v].layer):
            d = ("dummy", k, layer)
            layers[layer].append(d)
            height_of[d] = 0.0
            chain.append(d)
        chains.append(chain + [v])
    up: dict[Hashable, list[Hashable]] = {key: [] for key in height_of}
    down: dict[Hashable, list[Hashable]] = {key: [] for key in height_of}
    for chain in chains:
        for a, b in itertools.pairwise(chain):
            down[a].append(b)
            up[b].append(a)

    layers = _order(layers, up, down, sweeps)
    ys = _heights(layers, up, down, height_of, row_gap, track)

    widths = [max((box_of[k].width for k in layer if k in box_of), default=0.2) for layer in layers]
    columns, x = [], margin
    for w in widths:
        columns.append((x, x + w))
        x += w + column_gap
    total_width = x - column_gap + margin
    top = max((ys[k] + height_of[k] / 2 for k in ys), default=0.0)
    bottom = min((ys[k] - height_of[k] / 2 for k in ys), default=0.0)
    shift = margin - bottom

    def centre(key: Hashable, layer: int) -> Point:
        left, right = columns[layer]
        return (round((left + right) / 2, 6), round(ys[key] + shift, 6))

    centers = {b.key: centre(b.key, b.layer) for b in boxes}
    sizes = {b.key: (b.width, b.height) for b in boxes}
    paths, labels = [], []
    for chain in chains:
        u, v = chain[0], chain[-1]
        (xu, yu), (xv, yv) = centers[u], centers[v]
        lu, lv = box_of[u].layer, box_of[v].layer
        pts = [(xu + box_of[u].width / 2, yu), (columns[lu][1], yu)]
        for layer, d in zip(range(lu + 1, lv), chain[1:-1]):
            y = round(ys[d] + shift, 6)
            pts += [(columns[layer][0], y), (columns[layer][1], y)]
        pts += [(columns[lv][0], yv), (xv - box_of[v].width / 2, yv)]
        path = _dedupe([(round(px, 6), round(py, 6)) for px, py in pts])
        paths.append(path)
        # the label sits mid-way along the slanted segment into the target's column; the
        # chain's element before the target (the source or a dummy) is in the column before
        prev = chain[-2]
        y_prev = yu if prev == u else round(ys[prev] + shift, 6)
        labels.append((round((columns[lv - 1][1] + columns[lv][0]) / 2, 6), round((y_prev + yv) / 2, 6)))
    return Layout(centers, sizes, paths, labels, total_width, top - bottom + 2 * margin, columns)


def _dedupe(points: list[Point]) -> list[Point]:
    out = [points[0]]
    for p in points[1:]:
        if p != out[-1]:
            out.append(p)
    return out


def _order(layers: list[list[Hashable]], up: dict, down: dict, sweeps: int) -> list[list[Hashable]]:
    """Barycenter ordering; returns the arrangement with the fewest crossings seen."""
    best = [list(layer) for layer in layers]
    best_crossings = _crossings(best, down)
    current = [list(layer) for layer in layers]
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        indices = range(1, len(current)) if downward else range(len(current) - 2, -1, -1)
        for i in indices:
            ref = current[i - 1] if downward else current[i + 1]
            pos = {k: j for j, k in enumerate(ref)}
            here = {k: j for j, k in enumerate(current[i])}
            neighbours = up if downward else down

            def barycenter(key: Hashable, neighbours: dict = neighbours, pos: dict = pos,
                           here: dict = here) -> tuple[float, int]:  # fmt: skip
                ns = neighbours[key]
                b = sum(pos[n] for n in ns) / len(ns) if ns else here[key] * len(pos) / max(len(here), 1)
                return (b, here[key])

            current[i] = sorted(current[i], key=barycenter)
        c = _crossings(current, down)
        if c < best_crossings:
            best, best_crossings = [list(layer) for layer in current], c
    return best


def _crossings(layers: list[list[Hashable]], down: dict) -> int:
    """Edge crossings between adjacent layers (inversions of target positions)."""
    total = 0
    for a, b in itertools.pairwise(layers):
        pos = {k: j for j, k in enumerate(b)}
        targets = [pos[t] for k in a for t in sorted(down[k], key=pos.__getitem__)]
        seen: list[int] = []
        for t in targets:
            # edges already seen that end strictly below t cross this one
            total += len(seen) - bisect.bisect_right(seen, t)
            bisect.insort(seen, t)
    return total


def _heights(layers: list[list[Hashable]], up: dict, down: dict, height_of: dict,
             row_gap: float, track: float, passes: int = 10) -> dict[Hashable, float]:  # fmt: skip
    """Vertical centres: near the neighbours' mean, at least the minimum gap apart (y upwards)."""
    def gaps(layer: list[Hashable]) -> list[float]:
        out = [0.0]
        for a, b in itertools.pairwise(layer):
            both_boxes = height_of[a] > 0 and height_of[b] > 0
            out.append(out[-1] + (height_of[a] + height_of[b]) / 2 + (row_gap if both_boxes else track))
        return out

    offsets = [gaps(layer) for layer in layers]
    # rank positions grow downwards here; flipped at the end
    y = {k: off - offs[-1] / 2 for layer, offs in zip(layers, offsets) for k, off in zip(layer, offs)}
    for p in range(passes):
        downward = p % 2 == 0
        order = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        if p == passes - 1:
            order = range(len(layers))
        for i in order:
            layer, offs = layers[i], offsets[i]
            wanted = []
            for k in layer:
                ns = (up[k] if downward else down[k]) if p < passes - 1 else up[k] + down[k]
                wanted.append(sum(y[n] for n in ns) / len(ns) if ns else y[k])
            z = _isotonic([w - o for w, o in zip(wanted, offs)])
            for k, zk, o in zip(layer, z, offs):
                y[k] = zk + o
    return {k: -v for k, v in y.items()}


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in values:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks.pop()
            blocks.append([(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2])
    out = []
    for mean, count in blocks:
        out += [mean] * int(count)
    return out


def spring_layout(boxes: Sequence[LayoutBox], edges: Sequence[tuple[Hashable, Hashable]],
                  margin: float = 0.15, seed: int = 0) -> Layout:  # fmt: skip
    """A force-directed layout (networkx's ``spring_layout``, seeded); edges are straight lines.

    Unlike :func:`layered_layout` it does not keep edges clear of boxes.
    """
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(b.key for b in boxes)
    g.add_edges_from(edges)
    spread = max(max((b.width for b in boxes), default=1.0), 1.0) * 1.6
    scale = spread * max(1.0, len(boxes) ** 0.5)
    pos = nx.spring_layout(g, seed=seed, scale=scale, iterations=200)
    sizes = {b.key: (b.width, b.height) for b in boxes}
    xs = [pos[b.key][0] - b.width / 2 for b in boxes]
    ys = [pos[b.key][1] - b.height / 2 for b in boxes]
    x0, y0 = min(xs, default=0.0) - margin, min(ys, default=0.0) - margin
    centers = {b.key: (round(float(pos[b.key][0] - x0), 6), round(float(pos[b.key][1] - y0), 6))
               for b in boxes}  # fmt: skip
    paths, labels = [], []
    for u, v in edges:
        a, b = _clip(centers[u], centers[v], sizes[u]), _clip(centers[v], centers[u], sizes[v])
        paths.append([a, b])
        labels.append(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
    width = max((c[0] + sizes[k][0] / 2 for k, c in centers.items()), default=0.0) + margin
    height = max((c[1] + sizes[k][1] / 2 for k, c in centers.items()), default=0.0) + margin
    return Layout(centers, sizes, paths, labels, width, height)


def _clip(c: Point, towards: Point, size: tuple[float, float]) -> Point:
    """Where the segment from a box's centre ``c`` towards ``towards`` leaves the box."""
    dx, dy = towards[0] - c[0], towards[1] - c[1]
    w, h = size[0] / 2, size[1] / 2
    t = min(w / abs(dx) if dx else float("inf"), h / abs(dy) if dy else float("inf"), 1.0)
    return (c[0] + t * dx, c[1] + t * dy)


def edges_through_boxes(layout: Layout, edges: Sequence[tuple[Hashable, Hashable]],
                        inset: float = 1e-6) -> list[tuple[int, Hashable]]:  # fmt: skip
    """Pairs ``(edge position, box key)`` where an edge crosses the inside of a box.

    An edge may touch its own source and target boxes only at their sides.
    """
    hits = []
    for k, ((_u, _v), path) in enumerate(zip(edges, layout.paths)):
        for key, (cx, cy) in layout.centers.items():
            w, h = layout.sizes[key]
            box = (cx - w / 2 + inset, cy - h / 2 + inset, cx + w / 2 - inset, cy + h / 2 - inset)
            if any(_segment_hits(a, b, box) for a, b in itertools.pairwise(path)):
                hits.append((k, key))
    return hits


def _segment_hits(a: Point, b: Point, box: tuple[float, float, float, float]) -> bool:
    """Whether segment ``ab`` meets the open rectangle ``box`` (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = box
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q <= 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 >= t1:
                return False
    return True
