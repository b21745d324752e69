"""Drawing a 1,000-node computational graph: ``adkit.graph(...).draw()``, to pixels.

The function is a chain of three inputs and 999 elementary operations
(``y = sin(y) * x_k + 0.5``, repeated 333 times), so the graph has 1,002
nodes, 1,332 edges and 1,000 layers. Above ``max_nodes`` (60) nodes,
``Graph.draw`` draws one box per band of consecutive layers with a message
saying so; the goal is that this takes under 2 seconds, so a large graph
never hangs a notebook or becomes a hairball.

Timed, per call (median of interleaved samples, see harness.py):

* ``adkit.graph(f, ...)``: recording the tape, numbering, the tangent and
  adjoint sweeps, and the local partial of every edge;
* ``Graph.draw()`` plus ``canvas.draw()``: building the figure and rendering
  it to pixels with Agg (the draw time that the target is about);
* ``Graph._repr_png_()``: what Jupyter does to show a ``Graph``.

Run through ``benchmarks/run.py draw`` (pinned, results saved), or on its
own: ``python benchmarks/bench_draw.py [--quick]`` prints the median draw time.
"""

from __future__ import annotations

import sys

import harness

N_BLOCKS = 333  # 3 operations each: 999 operations, 1,002 nodes with the inputs
GOAL_SECONDS = 2.0


def chain(a, b, c):
    import numpy as np

    y = a
    for k in range(N_BLOCKS):
        y = np.sin(y) * (a, b, c)[k % 3] + 0.5
    return y


def run(quick: bool = False) -> harness.Report:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import adkit

    args = (0.1, 0.2, 0.3)
    g = adkit.graph(chain, *args)
    nodes, edges = g.nx.number_of_nodes(), g.nx.number_of_edges()

    def draw() -> None:
        ax = g.draw()
        ax.figure.canvas.draw()
        plt.close(ax.figure)

    candidates = {
        "adkit.graph(f, ...) (record + sweeps)": lambda: adkit.graph(chain, *args),
        "Graph.draw() + render to pixels": draw,
        "Graph._repr_png_() (Jupyter)": g._repr_png_,
    }
    repeats, rounds = (1, 3) if quick else (3, 5)
    times = harness.measure(candidates, repeats=repeats, rounds=rounds, warmup=1)
    draw_median = harness.median(times["Graph.draw() + render to pixels"])
    rows = [
        [name, harness.fmt_time(harness.median(t)), harness.fmt_time(harness.iqr(t)), len(t)]
        for name, t in times.items()
    ]
    note = "Drawn grouped into bands of layers (max_nodes=60), with a message."
    headers = ["step", "median", "IQR", "samples"]
    table = harness.Table(f"A graph of {nodes:,} nodes and {edges:,} edges", headers, rows, notes=[note])
    target = harness.Target(
        f"draw a {nodes:,}-node graph",
        harness.fmt_time(draw_median),
        f"< {GOAL_SECONDS:g} s",
        draw_median < GOAL_SECONDS,
    )
    return harness.Report(
        name="draw",
        title="Drawing a 1,000-node graph",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        tables=[table],
        targets=[target],
        data={"nodes": nodes, "edges": edges, "samples": times, "summary": harness.summary(times)},
    )


def main(argv: list[str]) -> int:
    harness.setup()  # one BLAS thread and one CPU, before NumPy is imported
    report = run(quick="--quick" in argv)
    print(report.markdown())
    summary = report.data["summary"]["Graph.draw() + render to pixels"]
    print(
        f"median draw time of a {report.data['nodes']:,}-node graph: {summary['median']:.3f} s "
        f"(IQR {summary['iqr']:.3f} s, {summary['samples']} samples)"
    )
    return 0 if all(t.met for t in report.targets) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
