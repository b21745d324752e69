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

__all__ = [
    "Layout",
    "LayoutBox",
    "Port",
    "Wrapped",
    "edges_through_boxes",
    "layered_layout",
    "place_labels",
    "row_breaks",
    "spring_layout",
    "wrapped_layout",
]

Point = tuple[float, float]
ENTRY_INSET = 0.1  # edges enter a box at least this far from its top and bottom (inches)
ENTRY_SPACING = 0.14  # and at most this far apart
PORT_GAP = 0.35  # between the last column of a folded row and its "out" ports (no labels there)


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
    # per edge, the segment its label may sit along (layered layouts: the slanted part into the target)
    label_segments: list[tuple[Point, Point]] = field(default_factory=list)


def layered_layout(
    boxes: Sequence[LayoutBox],
    edges: Sequence[tuple[Hashable, Hashable]],
    column_gap: float | Sequence[float] = 0.8,
    row_gap: float = 0.35,
    track: float = 0.3,
    margin: float = 0.15,
    sweeps: int = 8,
    small: frozenset = frozenset(),
) -> Layout:
    """Place ``boxes`` in columns by layer and route ``edges`` around them (see the module doc).

    ``column_gap`` is the space between columns (one number, or one per gap);
    ``track`` is the height a dummy slot (an edge passing a column) takes;
    two boxes of ``small`` above each other are only ``track / 2`` apart.

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
    ys = _heights(layers, up, down, height_of, row_gap, track, small)

    widths = [max((box_of[k].width for k in layer if k in box_of), default=0.2) for layer in layers]
    gaps = [column_gap] * max(n_layers - 1, 0) if isinstance(column_gap, (int, float)) else list(column_gap)
    if len(gaps) != max(n_layers - 1, 0):
        raise ValueError(f"column_gap: {len(gaps)} gaps given for {n_layers} layers")
    columns, x = [], margin
    for w, gap in zip(widths, gaps + [0.0]):
        columns.append((x, x + w))
        x += w + gap
    total_width = x + margin
    top = max((ys[k] + height_of[k] / 2 for k in ys), default=0.0)
    bottom = min((ys[k] - height_of[k] / 2 for k in ys), default=0.0)
    shift = margin - bottom

    def centre(key: Hashable, layer: int) -> Point:
        left, right = columns[layer]
        return (round((left + right) / 2, 6), round(ys[key] + shift, 6))

    centers = {b.key: centre(b.key, b.layer) for b in boxes}
    sizes = {b.key: (b.width, b.height) for b in boxes}

    def y_before(chain: list[Hashable]) -> float:
        """Height of the chain's element in the column before its target (the source or a dummy)."""
        prev = chain[-2]
        return centers[prev][1] if prev == chain[0] else round(ys[prev] + shift, 6)

    # several edges into one box enter at points spread down its left side, in the order of where
    # they come from, so that their arrowheads and labels do not pile up at one point
    entries: dict[Hashable, list[int]] = {}
    for k, chain in enumerate(chains):
        entries.setdefault(chain[-1], []).append(k)
    entry_y: dict[int, float] = {}
    for v, ks in entries.items():
        ks.sort(key=lambda k: (-y_before(chains[k]), k))
        span = min(max(box_of[v].height - 2 * ENTRY_INSET, 0.0), ENTRY_SPACING * (len(ks) - 1))
        for j, k in enumerate(ks):
            step = span / (len(ks) - 1) if len(ks) > 1 else 0.0
            entry_y[k] = round(centers[v][1] + span / 2 - j * step, 6)
    paths, labels, segments = [], [], []
    for k, chain in enumerate(chains):
        u, v = chain[0], chain[-1]
        (xu, yu), (xv, _) = centers[u], centers[v]
        yv = entry_y[k]
        lu, lv = box_of[u].layer, box_of[v].layer
        pts = [(xu + box_of[u].width / 2, yu), (columns[lu][1], yu)]
        for layer, d in zip(range(lu + 1, lv), chain[1:-1]):
            y = round(ys[d] + shift, 6)
            pts += [(columns[layer][0], y), (columns[layer][1], y)]
        pts += [(columns[lv][0], yv), (xv - box_of[v].width / 2, yv)]
        path = _dedupe([(round(px, 6), round(py, 6)) for px, py in pts])
        paths.append(path)
        # the label's place: along the slanted segment into the target's column, which lies in the
        # gap between two columns (where there are no boxes); by default mid-way
        start, end = (columns[lv - 1][1], y_before(chain)), (columns[lv][0], yv)
        segments.append((start, end))
        labels.append((round((start[0] + end[0]) / 2, 6), round((start[1] + end[1]) / 2, 6)))
    return Layout(centers, sizes, paths, labels, total_width, top - bottom + 2 * margin, columns, segments)


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

            def barycenter(
                key: Hashable, neighbours: dict = neighbours, pos: dict = pos, here: dict = here
            ) -> tuple[float, int]:
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


def _heights(
    layers: list[list[Hashable]],
    up: dict,
    down: dict,
    height_of: dict,
    row_gap: float,
    track: float,
    small: frozenset = frozenset(),
    passes: int = 10,
) -> dict[Hashable, float]:
    """Vertical centres: near the neighbours' mean, at least the minimum gap apart (y upwards)."""

    def gaps(layer: list[Hashable]) -> list[float]:
        out = [0.0]
        for a, b in itertools.pairwise(layer):
            both_boxes = height_of[a] > 0 and height_of[b] > 0
            gap = (track / 2 if a in small and b in small else row_gap) if both_boxes else track
            out.append(out[-1] + (height_of[a] + height_of[b]) / 2 + gap)
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


def spring_layout(
    boxes: Sequence[LayoutBox],
    edges: Sequence[tuple[Hashable, Hashable]],
    margin: float = 0.15,
    seed: int = 0,
) -> Layout:
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
    centers = {
        b.key: (round(float(pos[b.key][0] - x0), 6), round(float(pos[b.key][1] - y0), 6)) for b in boxes
    }
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


def edges_through_boxes(
    layout: Layout, edges: Sequence[tuple[Hashable, Hashable]], inset: float = 1e-6
) -> list[tuple[int, Hashable]]:
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


# -- wrapping: a layout too wide for the page, folded into rows ---------------------------------------


@dataclass(frozen=True)
class Port:
    """Where an edge leaves one row of a wrapped layout (``"out"``) and comes back in the next (``"in"``).

    ``source`` is the box whose value the port carries, so a drawing labels
    both ends with its name, as an off-page connector.
    """

    key: Hashable
    source: Hashable
    side: str  # "out" at the right end of a row, "in" at the left end of a later one
    row: int


@dataclass
class Wrapped:
    """A layout folded into rows stacked top to bottom, and what was drawn to fold it.

    ``layout`` places the boxes and the ports; ``links`` are the edges
    actually drawn (``layout.paths[k]`` is the path of ``links[k]``), and
    ``carries[k]`` the positions of the original edges that ``links[k]``
    stands for: an edge inside a row is one link, an edge across rows a
    link to an ``"out"`` port at the end of the source's row and a link from
    an ``"in"`` port at the start of the target's row (as off-page connectors:
    nothing is drawn in the rows between). Edges leaving one box share its
    ``"out"`` port, and its ``"in"`` port in each later row that reads it.
    """

    layout: Layout
    ports: list[Port]
    links: list[tuple[Hashable, Hashable]]
    carries: list[list[int]]
    rows: list[list[int]]  # the layers in each row


def row_breaks(
    widths: Sequence[float], gaps: Sequence[float], max_width: float, margin: float, port_width: float
) -> list[list[int]]:
    """Layers (columns ``widths`` wide, ``gaps[j]`` before layer ``j``) cut greedily into rows.

    Every row but the first starts with a column of ``"in"`` ports
    (``gaps[j]`` before its first layer ``j``: the edges from them carry that
    layer's labels) and every row but the last ends with one of ``"out"``
    ports (``PORT_GAP`` after its last layer), ``port_width`` wide; no row is
    wider than ``max_width`` unless one layer alone is.

    >>> row_breaks([1.0] * 6, [0.5] * 6, max_width=4.5, margin=0.1, port_width=0.4)
    [[0, 1], [2, 3], [4, 5]]
    """
    rows: list[list[int]] = []
    current: list[int] = []
    width = 2 * margin + PORT_GAP + port_width  # the first row has no "in" ports; reserve the "out" ones
    for layer, w in enumerate(widths):
        added = w + (gaps[layer] if current else 0.0)
        if current and width + added > max_width:
            rows.append(current)
            current = []
            width = 2 * margin + port_width + gaps[layer] + PORT_GAP + port_width
            added = w
        current.append(layer)
        width += added
    if current:
        rows.append(current)
    return rows


def wrapped_layout(
    boxes: Sequence[LayoutBox],
    edges: Sequence[tuple[Hashable, Hashable]],
    max_width: float,
    port_size: dict[Hashable, tuple[float, float]],
    column_gap: float | Sequence[float] = 0.8,
    row_gap: float = 0.35,
    band_gap: float = 0.3,
    margin: float = 0.15,
) -> Wrapped:
    """:func:`layered_layout`, folded into rows when it would be wider than ``max_width`` inches.

    Consecutive layers are cut into rows (:func:`row_breaks`), each row laid
    out on its own and stacked below the previous one, ``band_gap`` apart. An
    edge to a later row ends at an ``"out"`` port at the right of its row and
    continues from an ``"in"`` port at the left of the target's row.
    ``port_size[source]`` is the size of the ports that carry ``source``;
    ``column_gap`` is one number or, per layer, the gap before it. A layout
    that fits is returned unfolded.

    >>> boxes = [LayoutBox(k, k, 1.0, 0.5) for k in range(6)]
    >>> w = wrapped_layout(boxes, [(k, k + 1) for k in range(5)], 5.5, {k: (0.4, 0.25) for k in range(6)})
    >>> w.rows, [(p.source, p.side, p.row) for p in w.ports]
    ([[0, 1], [2, 3], [4, 5]], [(1, 'out', 0), (1, 'in', 1), (3, 'out', 1), (3, 'in', 2)])
    """
    n_layers = max((b.layer for b in boxes), default=-1) + 1
    widths = [0.0] * n_layers
    for b in boxes:
        widths[b.layer] = max(widths[b.layer], b.width)
    widths = [w or 0.2 for w in widths]  # as layered_layout sizes a column of dummy slots only
    gap_before = [float(column_gap)] * n_layers if isinstance(column_gap, (int, float)) else list(column_gap)
    if len(gap_before) != n_layers:
        raise ValueError(f"column_gap: {len(gap_before)} gaps given for {n_layers} layers")
    full = layered_layout(boxes, edges, column_gap=gap_before[1:], row_gap=row_gap, margin=margin)
    if full.width <= max_width or n_layers < 2:
        return Wrapped(full, [], list(edges), [[k] for k in range(len(edges))], [list(range(n_layers))])
    port_width = max((w for w, _ in port_size.values()), default=0.4)
    rows = row_breaks(widths, gap_before, max_width, margin, port_width)
    row_of_layer = {layer: r for r, row in enumerate(rows) for layer in row}
    row_of = {b.key: row_of_layer[b.layer] for b in boxes}

    ports: dict[Hashable, Port] = {}
    links: dict[tuple[Hashable, Hashable], list[int]] = {}  # insertion-ordered: deterministic

    def port(source: Hashable, side: str, row: int) -> Hashable:
        key = ("port", side, source, row)
        ports.setdefault(key, Port(key, source, side, row))
        return key

    def link(a: Hashable, b: Hashable, k: int) -> None:
        links.setdefault((a, b), []).append(k)

    for k, (u, v) in enumerate(edges):
        ru, rv = row_of[u], row_of[v]
        if ru == rv:
            link(u, v, k)
            continue
        link(u, port(u, "out", ru), k)
        link(port(u, "in", rv), v, k)

    # lay out each row: ports in a column of their own at each end
    row_layouts = []
    for r, row in enumerate(rows):
        first = 1 if r > 0 else 0
        row_boxes = [
            LayoutBox(b.key, b.layer - row[0] + first, b.width, b.height) for b in boxes if row_of[b.key] == r
        ]
        last = len(row) + first
        for p in ports.values():
            if p.row == r:
                w, h = port_size[p.source]
                row_boxes.append(LayoutBox(p.key, 0 if p.side == "in" else last, w, h))
        row_links = [(a, b) for a, b in links if _row(a, row_of) == r]
        n_columns = max(b.layer for b in row_boxes) + 1
        gaps = ([gap_before[row[0]]] if first else []) + [gap_before[layer] for layer in row[1:]]
        if n_columns == last + 1:  # a column of "out" ports: no labels before it
            gaps.append(PORT_GAP)
        row_ports = frozenset(p.key for p in ports.values() if p.row == r)
        row_layouts.append(
            (
                layered_layout(
                    row_boxes, row_links, column_gap=gaps, row_gap=row_gap, margin=margin, small=row_ports
                ),
                row_links,
            )
        )

    # stack the rows, the first on top (y grows upwards)
    centers: dict[Hashable, Point] = {}
    sizes: dict[Hashable, tuple[float, float]] = {}
    path_of: dict[tuple[Hashable, Hashable], tuple[list[Point], Point, tuple[Point, Point]]] = {}
    total = sum(lay.height for lay, _ in row_layouts) + band_gap * (len(rows) - 1)
    top = total
    for lay, row_links in row_layouts:
        dy = top - lay.height

        def up(p: Point, dy: float = dy) -> Point:
            return (p[0], round(p[1] + dy, 6))

        centers.update({key: up(c) for key, c in lay.centers.items()})
        sizes.update(lay.sizes)
        for ab, path, label, segment in zip(row_links, lay.paths, lay.label_points, lay.label_segments):
            path_of[ab] = ([up(p) for p in path], up(label), (up(segment[0]), up(segment[1])))
        top = dy - band_gap
    order = list(links)
    layout = Layout(
        centers,
        sizes,
        [path_of[ab][0] for ab in order],
        [path_of[ab][1] for ab in order],
        max(lay.width for lay, _ in row_layouts),
        total,
        [],
        [path_of[ab][2] for ab in order],
    )
    return Wrapped(layout, list(ports.values()), order, [links[ab] for ab in order], rows)


def _row(key: Hashable, row_of: dict[Hashable, int]) -> int:
    """The row a link is drawn in: its source's (a port knows its row; a box is looked up)."""
    if isinstance(key, tuple) and len(key) == 4 and key[0] == "port":
        return key[3]
    return row_of[key]


def place_labels(
    layout: Layout, sizes: Sequence[tuple[float, float]], lift: float = 0.0, gap: float = 0.02
) -> list[Point | None]:
    """A place for each edge's label (``sizes[k]``: width, height) where it overlaps no box or label.

    Tried in turn: points along the edge's label segment (mid-way first, then
    towards the source, where edges into one box are further apart), raised
    by ``lift``. ``None`` where none is free: better no label than one that
    hides another.
    """
    taken: list[tuple[float, float, float, float]] = [
        (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        for (cx, cy), (w, h) in ((layout.centers[k], layout.sizes[k]) for k in layout.centers)
    ]
    segments = layout.label_segments or [(p, p) for p in layout.label_points]
    places: list[Point | None] = []
    for (a, b), (w, h) in zip(segments, sizes):
        place = None
        for t in (0.5, 0.3, 0.7, 0.15, 0.85):
            x, y = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]) + lift
            rect = (x - w / 2 - gap, y - h / 2 - gap, x + w / 2 + gap, y + h / 2 + gap)
            if not any(_overlap(rect, other) for other in taken):
                place = (round(x, 6), round(y, 6))
                taken.append(rect)
                break
        places.append(place)
    return places


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
