"""Nested containers of arrays ("pytrees", as JAX calls them).

A pytree is a number, an array, a traced value, or a tuple / list / dict /
namedtuple of pytrees. ``None`` is an empty subtree. Dicts are walked in
sorted key order, as in JAX, so a flattening is deterministic.

>>> leaves, tree = flatten({"b": [1.0, 2.0], "a": (3.0,)})
>>> leaves
[3.0, 1.0, 2.0]
>>> tree
{'a': (*,), 'b': [*, *]}
>>> unflatten(tree, [30.0, 10.0, 20.0])
{'a': (30.0,), 'b': [10.0, 20.0]}

Both directions are loops over an explicit stack, never recursion, so a tree
nested thousands deep is no problem; and a structure is a flat tuple, so
comparing and hashing one (``mode="auto"`` remembers its choice per input
structure) does not recurse either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class TreeDef(tuple):
    """The structure of a pytree without its leaves: its nodes in postorder.

    Each node is ``(kind, number of children, meta)`` with ``kind`` one of
    ``"leaf"``, ``"none"``, ``"tuple"``, ``"list"``, ``"dict"`` (``meta``: the
    sorted keys) and ``"namedtuple"`` (``meta``: the class); a node follows
    its children. A flat tuple: cheap to make, hashable, compared without
    recursion.
    """

    __slots__ = ()

    @property
    def num_leaves(self) -> int:
        return self.count(_LEAF)

    def __repr__(self) -> str:
        parts: list[str] = []  # the rendered subtrees not yet placed in their parent
        for kind, n, meta in self:
            if kind == "leaf" or kind == "none":
                parts.append("*" if kind == "leaf" else "None")
                continue
            children = parts[len(parts) - n :]
            del parts[len(parts) - n :]
            if kind == "dict":
                parts.append("{" + ", ".join(f"{k!r}: {c}" for k, c in zip(meta, children)) + "}")
            elif kind == "list":
                parts.append("[" + ", ".join(children) + "]")
            else:
                parts.append("(" + ", ".join(children) + ("," if n == 1 else "") + ")")
        return parts[0]


_LEAF = ("leaf", 0, None)
_NONE = ("none", 0, None)
#: the nodes of tuples and lists of a few children, shared: no new tuple per node
_TUPLES = [("tuple", n, None) for n in range(16)]
_LISTS = [("list", n, None) for n in range(16)]
#: ``TreeDef`` without its Python-level constructor
_treedef = tuple.__new__
LEAF = _treedef(TreeDef, (_LEAF,))


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in order, and its structure."""
    t = type(tree)
    if (
        t is np.ndarray
        or t is float
        or not (  # a single array or number: the most common case
            t is tuple or t is list or tree is None or isinstance(tree, (tuple, list, dict))
        )
    ):
        return [tree], LEAF
    # A loop over a stack, not recursion. Children are pushed in order, so the last
    # is visited first: that walk, reversed, is the postorder, leaves left to right.
    leaves: list[Any] = []
    nodes: list[tuple] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        t = type(node)
        if t is tuple or t is list:  # the common case first
            n = len(node)
            nodes.append((_TUPLES if t is tuple else _LISTS)[n] if n < 16 else (t.__name__, n, None))
            stack += node
        elif node is None:
            nodes.append(_NONE)
        elif isinstance(node, (tuple, list)):
            # a namedtuple is rebuilt as one, other sequences as tuples
            named = hasattr(t, "_fields")
            nodes.append(("namedtuple", len(node), t) if named else ("tuple", len(node), None))
            stack += node
        elif isinstance(node, dict):
            try:
                keys = tuple(sorted(node))
            except TypeError as err:
                raise TypeError("adkit needs dict keys that can be sorted (e.g. all strings)") from err
            nodes.append(("dict", len(keys), keys))
            stack += [node[k] for k in keys]
        else:
            leaves.append(node)
            nodes.append(_LEAF)
    leaves.reverse()
    nodes.reverse()
    return leaves, _treedef(TreeDef, nodes)


def unflatten(tree: TreeDef, leaves: Sequence[Any]) -> Any:
    """Rebuild a pytree of structure ``tree`` from ``leaves``."""
    if len(tree) == 1 and len(leaves) == 1 and tree[0] is _LEAF:
        return leaves[0]
    values: list[Any] = []  # the subtrees built and not yet placed in their parent
    i = 0
    try:
        for node in tree:  # postorder: children first, then their parent
            if node is _LEAF:
                values.append(leaves[i])
                i += 1
                continue
            kind, n, meta = node
            if kind == "none":
                values.append(None)
                continue
            children = values[len(values) - n :]
            del values[len(values) - n :]
            if kind == "tuple":
                values.append(tuple(children))
            elif kind == "list":
                values.append(children)
            elif kind == "namedtuple":
                values.append(meta(*children))
            else:
                values.append(dict(zip(meta, children)))
    except IndexError:
        i = -1
    if i != len(leaves):
        raise ValueError(f"the structure {tree!r} holds {tree.num_leaves} leaves, not {len(leaves)}")
    return values[0]
