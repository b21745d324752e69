"""Nested containers of arrays ("pytrees", as JAX calls them).

A pytree is a number, an array, a traced value, or a tuple / list / dict /
namedtuple of pytrees. ``None`` is an empty subtree. Dicts are walked in
sorted key order, as in JAX, so a flattening is deterministic.

>>> leaves, tree = flatten({"b": [1.0, 2.0], "a": (3.0,)})
>>> leaves
[3.0, 1.0, 2.0]
>>> unflatten(tree, [30.0, 10.0, 20.0])
{'a': (30.0,), 'b': [10.0, 20.0]}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class TreeDef(NamedTuple):
    """The structure of a pytree without its leaves (a tuple: cheap to make, hashable)."""

    kind: str  # "leaf", "none", "tuple", "list", "dict", "namedtuple"
    children: tuple[TreeDef, ...] = ()
    meta: Any = None  # dict keys or the namedtuple class

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(child.num_leaves for child in self.children)

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children))
            return "{" + inner + "}"
        if self.kind == "list":
            return f"[{inner}]"
        return f"({inner})"


#: ``TreeDef`` without its Python-level ``__new__`` (a third of a flattening's time)
_treedef = tuple.__new__
LEAF = TreeDef("leaf")
NONE = TreeDef("none")


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in order, and its structure."""
    leaves: list[Any] = []
    return leaves, _walk(tree, leaves)


# Module-level recursion rather than a closure that calls itself: such a
# closure is a reference cycle, which would keep every traced value of a
# differentiation alive until the garbage collector runs.
def _walk(node: Any, leaves: list[Any]) -> TreeDef:
    t = type(node)
    if t is tuple or t is list:  # the common case first
        return _treedef(TreeDef, (t.__name__, tuple([_walk(c, leaves) for c in node]), None))
    if node is None:
        return NONE
    if _is_namedtuple(node):
        return TreeDef("namedtuple", tuple([_walk(c, leaves) for c in node]), t)
    if isinstance(node, (tuple, list)):
        return TreeDef("tuple", tuple([_walk(c, leaves) for c in node]))  # other sequences: tuples
    if isinstance(node, dict):
        try:
            keys = tuple(sorted(node))
        except TypeError as err:
            raise TypeError("adkit needs dict keys that can be sorted (e.g. all strings)") from err
        return TreeDef("dict", tuple([_walk(node[k], leaves) for k in keys]), keys)
    leaves.append(node)
    return LEAF


def unflatten(tree: TreeDef, leaves: list[Any]) -> Any:
    """Rebuild a pytree of structure ``tree`` from ``leaves``."""
    return _build(tree, iter(leaves))


def _build(node: TreeDef, leaves: Any) -> Any:
    kind = node.kind
    if kind == "leaf":
        return next(leaves)
    if kind == "none":
        return None
    children = [_build(c, leaves) for c in node.children]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "namedtuple":
        return node.meta(*children)
    return dict(zip(node.meta, children))


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``fn`` to each leaf (and the matching leaves of ``rest``)."""
    leaves, treedef = flatten(tree)
    others = [flatten(r)[0] for r in rest]
    return unflatten(treedef, [fn(leaf, *(o[i] for o in others)) for i, leaf in enumerate(leaves)])
