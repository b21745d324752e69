# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Computational graphs: seeing both sweeps
#
# Every evaluation of a function is a **directed acyclic graph**. Its nodes are
# the variables of the evaluation trace: the inputs $v_{1-n},\dots,v_0$ and one
# $v_j$ per elementary operation. An edge $v_i \to v_j$ says that the
# operation computing $v_j$ reads $v_i$, and it carries a number: the *local
# partial derivative* $\partial v_j/\partial v_i$, known as soon as the values
# are.
#
# Both modes of AD are the chain rule applied on this graph:
#
# * **forward mode** pushes tangents along the edges,
#   $\dot v_j = \sum_{i \to j} \frac{\partial v_j}{\partial v_i}\,\dot v_i$;
# * **reverse mode** pulls adjoints back against them,
#   $\bar v_i = \sum_{i \to j} \bar v_j\,\frac{\partial v_j}{\partial v_i}$.
#
# This notebook draws graphs with `adkit.graph`, reads them as `networkx`
# graphs, exports them to Graphviz, draws a larger function, and steps through
# both sweeps one variable at a time.

# %% [markdown]
# ## Learning objectives
#
# After this notebook you can
#
# * draw the computational graph of a function with its values, tangents, adjoints and local
#   partial derivatives, and read it as a `networkx` graph;
# * check the forward and reverse rules at every node of a graph;
# * write a derivative as a sum over paths of products of partials, and explain why AD never
#   enumerates the paths;
# * step through both sweeps, one variable at a time.

# %%
# %matplotlib inline
import base64
from itertools import pairwise

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from IPython.display import Image, display

import adkit

np.set_printoptions(precision=6, suppress=True)
rng = np.random.default_rng(5)

# %% [markdown]
# ## 1. Drawing a graph
#
# The running example, $f(x_1, x_2) = \ln x_1 + x_1 x_2 - \sin x_2$ at $(2, 5)$.
# `adkit.graph(f, *args)` evaluates $f$ once, records it, and returns a `Graph`;
# `.draw(show=...)` draws it with matplotlib. With `show=("value",)` each box
# holds the variable's definition and its value:


# %%
def f(x1, x2):
    return np.log(x1) + x1 * x2 - np.sin(x2)


g = adkit.graph(f, 2.0, 5.0)
print(g)
g.draw(show=("value",))
plt.show()

# %% [markdown]
# The boxes are arranged in **layers** (topological generations): a box's
# operands are all in earlier layers, so reading left to right is one valid
# evaluation order. Inputs are green and the output orange.
#
# ## 2. Forward mode on the graph
#
# `show=("value", "tangent", "partial")` adds the tangent $\dot v$ of every
# variable (blue) and writes the local partial $\partial v_j/\partial v_i$ on
# each edge. The seed is $\dot x = (1, 0)$, so the tangents are derivatives
# with respect to $x_1$. Check one node by the rule above:
# $v_2 = v_{-1} v_0$ has partials $v_0 = 5$ and $v_{-1} = 2$ on its two
# incoming edges, so $\dot v_2 = 5 \cdot 1 + 2 \cdot 0 = 5$.

# %%
g.draw(show=("value", "tangent", "partial"))
plt.show()

# %% [markdown]
# `g.nx` is the same graph as a `networkx.DiGraph`: node `i` is $v_i$, and the
# numbers are attributes (`value`, `tangent`, `adjoint` on nodes; `partial` on
# edges). So the forward rule can be checked at every node, with `networkx`
# doing the bookkeeping:

# %%
G = g.nx
print(type(G).__name__, G.number_of_nodes(), "nodes,", G.number_of_edges(), "edges")
for j in G.nodes:
    if G.nodes[j]["kind"] == "input":
        continue
    pushed = sum(G.edges[i, j]["partial"] * G.nodes[i]["tangent"] for i in G.predecessors(j))
    print(f"{G.nodes[j]['name']:>3} = {G.nodes[j]['definition']:<9}  "
          f"sum over incoming edges {pushed:7.4g}   tangent {G.nodes[j]['tangent']:7.4g}")

# %% [markdown]
# ## 3. Reverse mode on the graph
#
# `show=("value", "adjoint", "partial")` shows the adjoints $\bar v$
# (vermilion), seeded with $\bar y = 1$ at the output. The dashed arrows run
# against the edges: that is the direction adjoints travel. Check the input
# $x_2 = v_0$: it has two outgoing edges, to $v_2$ (partial $x_1 = 2$) and to
# $v_3 = \sin v_0$ (partial $\cos 5 = 0.2837$), so
# $\bar v_0 = 2\,\bar v_2 + 0.2837\,\bar v_3 = 2 - 0.2837 = 1.716$.

# %%
g.draw(show=("value", "adjoint", "partial"))
plt.show()

# %%
for i in reversed(list(G.nodes)):
    if G.nodes[i]["kind"] == "output":
        continue
    pulled = sum(G.edges[i, j]["partial"] * G.nodes[j]["adjoint"] for j in G.successors(i))
    print(f"{G.nodes[i]['name']:>3} = {G.nodes[i]['definition']:<9}  "
          f"sum over outgoing edges {pulled:7.4g}   adjoint {G.nodes[i]['adjoint']:7.4g}")

# %% [markdown]
# Without `show`, `.draw()` shows all four at once (values, tangents, adjoints
# and partials); that is also what Jupyter displays for a bare `Graph`.
#
# ## 4. A derivative is a sum over paths
#
# Unrolling either rule gives a closed formula: $\partial y/\partial x_k$ is the
# sum, over every path from $x_k$ to $y$, of the product of the partials along
# the path. `networkx` lists the paths:

# %%
output = next(n for n in G.nodes if G.nodes[n]["kind"] == "output")
for source in (-1, 0):
    total = 0.0
    for path in nx.all_simple_paths(G, source, output):
        product = np.prod([G.edges[a, b]["partial"] for a, b in pairwise(path)])
        total += product
        route = " -> ".join(G.nodes[n]["name"] for n in path)
        print(f"  {route:<22} product of partials {product:8.4g}")
    print(f"dy/d{G.nodes[source]['definition']} = {total:.6g}   (adjoint {G.nodes[source]['adjoint']:.6g})\n")

# %% [markdown]
# So why not compute derivatives this way? Because the number of paths can
# explode. Repeat a *diamond*, $x \mapsto \sin x + \cos x$, thirty times: every
# stage doubles the paths, while the graph only grows by three nodes.


# %%
def diamonds(x, stages=30):
    for _ in range(stages):
        x = np.sin(x) + np.cos(x)
    return x


D = adkit.graph(diamonds, 0.5).nx
paths_to = {}
for node in nx.topological_sort(D):  # count the paths from the input to each node, layer by layer
    paths_to[node] = sum(paths_to[p] for p in D.predecessors(node)) or 1
print(f"{D.number_of_nodes()} nodes, {D.number_of_edges()} edges")
print(f"{paths_to[max(D.nodes)]:,} paths from the input to the output")

# %% [markdown]
# Forward and reverse mode never enumerate paths. Each visits every edge once
# and *factors* the sum: forward mode accumulates it from the inputs (the
# tangent of a node is the path sum from $x$ to that node), reverse mode from
# the output (the adjoint of a node is the path sum from that node to $y$).
# The path count above was computed the same way, by one pass in
# topological order. AD is dynamic programming on the path sum.
#
# ## 5. Graphviz
#
# `.to_dot()` writes the graph as Graphviz text, with the same colours and
# layers. Render it with `dot -Tpng graph.dot -o graph.png`, or paste it into
# any online Graphviz viewer. It always holds every node, even when `.draw()`
# groups them.

# %%
print(g.to_dot(show=("value", "adjoint", "partial")))

# %% [markdown]
# ## 6. A larger function
#
# A small neural network with two inputs, $H$ hidden units and one output,
#
# $$y = \sum_{j=1}^{H} w_j \tanh\left(W_{j1} x_1 + W_{j2} x_2 + b_j\right),$$
#
# written with Python scalars, one hidden unit at a time. AD sees the
# operations the program *runs*, not the formula: with $H = 3$ every
# multiplication and addition is a node.


# %%
def make_network(W, b, w):
    def network(x1, x2):
        hidden = [np.tanh(W[j, 0] * x1 + W[j, 1] * x2 + b[j]) for j in range(len(b))]
        return w @ np.stack(hidden)

    return network


small = make_network(W=np.array([[1.2, -2.0], [0.5, 1.5], [-1.0, 0.5]]), b=np.array([0.5, 0.2, 0.8]),
                     w=np.array([1.0, -0.5, 2.0]))
g_small = adkit.graph(small, 0.5, -1.0)
print(g_small)
g_small.draw(show=("value",))
plt.show()

# %% [markdown]
# A drawing is made no wider than a page (`width=7` inches: 720 pixels with its margins), so
# its text stays readable: a graph with more layers than fit side by side is
# folded into rows, and an edge that continues in a later row leaves its row at
# a dashed tag with the variable's name and comes back at the same tag.
#
# With $H = 16$ hidden units the graph has 84 nodes. A drawing of every box
# would be unreadable, so above 60 nodes (or when a drawing of every node
# would be very tall) `.draw()` groups consecutive layers into one box each,
# counts the operations of each kind inside, and labels the arrows with the
# number of edges between groups. `draw(max_nodes=...)` sets the limit;
# `to_dot()` and `adkit.trace` keep every node.

# %%
H = 16
W, b, w = rng.normal(size=(H, 2)), rng.normal(size=H), rng.normal(size=H)
g_large = adkit.graph(make_network(W, b, w), 0.5, -1.0)
print(g_large)
g_large.draw()
plt.show()

# %% [markdown]
# The same network written with arrays, $y = w^{\mathsf T} \tanh(Wx + b)$, is
# five nodes, whatever $H$ is: each array operation is **one** node, whose
# value is an array (the boxes show its shape and first entries) and whose
# local partial is a Jacobian block rather than a number. Vectorized code
# makes small graphs and short tapes, which is why it also differentiates
# faster.


# %%
def network_vectorized(x):
    return w @ np.tanh(W @ x + b)


g_vec = adkit.graph(network_vectorized, np.array([0.5, -1.0]))
print(g_vec)
g_vec.draw(show=("value",))
plt.show()
print(f"same output: {float(g_vec.nx.nodes[max(g_vec.nx.nodes)]['value']):.6g} and "
      f"{g_large.nx.nodes[max(g_large.nx.nodes)]['value']:.6g}")

# %% [markdown]
# ## 7. Stepping through the sweeps
#
# `graph.sweep_widget(mode="forward")` is a player: press ▶ or drag the
# slider, and it moves through the sweep one variable at a time, highlighting
# the active variable in the drawing and in the trace beside it. In forward
# mode each step computes a value and its tangent from variables already
# known:

# %%
forward_player = g.sweep_widget(mode="forward")
display(forward_player)

# %% [markdown]
# Widgets need a live kernel: in a stored notebook or on the documentation
# site the player above shows nothing. So here are four of its steps as
# pictures (taken from the player by moving its slider, as you would), and
# then all seven steps as text.


# %%
def sweep_frames(player, steps):
    """The pictures of a sweep player at some of its steps (numbered from 1, as its slider), as they are."""
    for k in steps:
        player.slider.value = k  # what dragging the slider does
        print(player.step.caption)  # what the player writes above its picture
        display(Image(data=base64.b64decode(player.picture.outputs[0]["data"]["image/png"])))
    player.slider.value = 1  # back to the start


sweep_frames(forward_player, steps=[1, 3, 4, 7])

# %%
for step in g.sweep_steps("forward"):
    print(step.caption)

# %% [markdown]
# The **reverse sweep** starts after the forward pass has computed every value,
# at the output with $\bar y = 1$, and visits the variables in the opposite
# order. At each step the active variable's adjoint is complete (everything
# that reads it comes later in the trace and has been visited already), and it
# adds $\bar v_j\,\partial v_j/\partial v_i$ to each of its operands. Adjoints
# still waiting for contributions are shown as partial sums ("so far"): watch
# $\bar v_0$ go from $-0.2837$ (through $\sin$) to $1.716$ (through the product).

# %%
reverse_player = g.sweep_widget(mode="reverse")
display(reverse_player)

# %%
sweep_frames(reverse_player, steps=[1, 3, 4, 7])

# %%
for step in g.sweep_steps("reverse"):
    print(step.caption)

# %% [markdown]
# The trace table can be drawn at any step too: `trace.draw(state=step)`
# highlights the active row, greys out partial sums and leaves blank what
# the sweep has not reached. After step 4 of the reverse sweep:

# %%
step = g.sweep_steps("reverse")[3]
g.trace.draw(state=step)
plt.show()

# %% [markdown]
# For a page without widgets, `graph.animate(mode)` makes a matplotlib
# animation of the same steps: `IPython.display.HTML(g.animate("reverse").to_jshtml())`
# embeds it in the page (one picture per step, so it is heavy), and
# `g.animate("reverse").save("sweep.gif", writer="pillow")` writes a GIF for
# slides.
#
# ## Summary
#
# * `adkit.graph(f, *args)` records one evaluation as a graph: nodes are the
#   variables $v_i$, edges carry the local partials $\partial v_j/\partial v_i$.
# * `.draw(show=(...))` picks any of `"value"`, `"tangent"`, `"adjoint"`,
#   `"partial"`; large graphs are grouped (`max_nodes`); `.to_dot()` exports to
#   Graphviz; `.nx` is a `networkx.DiGraph` with every number as an attribute.
# * A derivative is the sum over paths of the products of partials; forward
#   and reverse mode compute it without enumerating paths, by accumulating
#   from the inputs or from the output.
# * `.sweep_widget(mode="forward" | "reverse")` steps through a sweep;
#   `.sweep_steps(mode)` gives the same steps as data, and `trace.draw(state=step)`
#   and `.animate(mode)` give static pictures and animations of them.
#
# ## Exercises
#
# Each exercise is followed by a collapsed cell with a solution that checks
# itself: click it (or the "show" toggle on the documentation site) to reveal it.

# %% [markdown]
# ### Exercise 1: a derivative as a sum over paths
#
# Draw the graph of $h(x) = x \sin x$ on paper: how many paths lead from $x$ to the output, and
# what is the product of partials along each? Their sum is $h'(x)$. Check the paths and the sum
# with `adkit.graph(h, 0.7).nx` and `networkx`, and the result with `adkit.derivative`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def h(x):
    return x * np.sin(x)


H_graph = adkit.graph(h, 0.7).nx
paths = list(nx.all_simple_paths(H_graph, 0, max(H_graph.nodes)))
products = [np.prod([H_graph.edges[a, b]["partial"] for a, b in pairwise(path)]) for path in paths]
# two paths: x -> v2 directly (partial sin x), and x -> sin x -> v2 (cos x times x)
assert len(paths) == 2
assert np.allclose(sorted(products), sorted([np.sin(0.7), 0.7 * np.cos(0.7)]), rtol=1e-15)
assert abs(sum(products) - (np.sin(0.7) + 0.7 * np.cos(0.7))) < 1e-15
assert abs(sum(products) - adkit.derivative(h)(0.7)) < 1e-15
print(f"{len(paths)} paths; products {[f'{p:.4g}' for p in products]}; sum = h'(0.7) = {sum(products):.6g}")

# %% [markdown]
# ### Exercise 2: predict the size of a graph
#
# For `diamonds(x, stages=5)`, predict the number of nodes, of edges and of paths from the input
# to the output before asking `adkit.graph`. Then the same for 30 stages (the section above).

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
def graph_size(stages):
    small = adkit.graph(lambda x: diamonds(x, stages), 0.5).nx
    count = len(list(nx.all_simple_paths(small, 0, max(small))))
    return small.number_of_nodes(), small.number_of_edges(), count


# each stage adds 3 nodes (sin, cos, +) and 4 edges, and doubles the paths
assert graph_size(5) == (1 + 3 * 5, 4 * 5, 2**5)
assert (D.number_of_nodes(), D.number_of_edges(), paths_to[max(D.nodes)]) == (1 + 3 * 30, 4 * 30, 2**30)
print("5 stages: (nodes, edges, paths) =", graph_size(5), "; 30 stages:", (1 + 3 * 30, 4 * 30, 2**30))

# %% [markdown]
# ### Exercise 3: the forward rule for another seed
#
# Using only the graph `g.nx` of the running example (its partials), compute every node's
# tangent along the seed $(\dot x_1, \dot x_2) = (0, 1)$ with the forward rule, in topological
# order. Compare with `adkit.trace(f, 2.0, 5.0, seed=(0.0, 1.0))`.

# %% jupyter={"source_hidden": true} tags=["solution", "hide-input"]
tangent = {}
for node in nx.topological_sort(G):
    if G.nodes[node]["kind"] == "input":
        tangent[node] = {-1: 0.0, 0: 1.0}[node]
    else:
        tangent[node] = sum(G.edges[i, node]["partial"] * tangent[i] for i in G.predecessors(node))
trace_seed = adkit.trace(f, 2.0, 5.0, seed=(0.0, 1.0))
for node, value in tangent.items():
    assert abs(trace_seed[G.nodes[node]["name"]].tangent - value) < 1e-15
print("tangents along (0, 1):", {G.nodes[n]["name"]: round(t, 4) for n, t in tangent.items()})
