"""Edges of the front end: empty arrays, deeply nested pytrees."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import adkit

# -- empty arrays: the empty Jacobian, of shape f(x).shape + x.shape (as JAX) ---------------------

EMPTY = {
    "empty in, scalar out": (lambda x: np.sum(x**2), np.zeros(0)),
    "empty in, empty out": (lambda x: 2.0 * x, np.zeros((3, 0))),
    "empty in, vector out": (lambda x: np.sum(x) + np.ones(2), np.zeros(0)),
    "vector in, empty out": (lambda x: 2.0 * x[:0], np.ones(3)),
    "vector in, empty matrix out": (lambda x: np.outer(x, x)[:, :0], np.ones(3)),
}


@pytest.mark.parametrize("name", EMPTY)
@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("chunk", [None, 2])
def test_jacobian_with_an_empty_input_or_output(name, mode, chunk):
    """Issue 11: raised ``range() arg 3 must not be zero``."""
    f, x = EMPTY[name]
    jac = adkit.jacobian(f, mode=mode, chunk=chunk)(x)
    assert isinstance(jac, np.ndarray) and jac.dtype == np.float64
    assert jac.shape == np.shape(f(x)) + x.shape


@pytest.mark.parametrize("shape", [(0,), (2, 0)])
def test_hessian_of_an_empty_input(shape):
    hessian = adkit.hessian(lambda x: np.sum(x**2))(np.zeros(shape))
    assert hessian.shape == shape + shape


def test_jacobian_with_one_empty_argument_among_others():
    dx, dy = adkit.jacobian(lambda x, y: np.sum(x) * y, argnums=(0, 1))(np.zeros(0), np.ones(2))
    assert dx.shape == (2, 0)
    np.testing.assert_array_equal(dy, np.zeros((2, 2)))  # the sum of nothing is 0


# -- pytrees: no recursion, however deep ---------------------------------------------------------

DEPTH = 3000  # well past Python's recursion limit (1000)


def nested(depth, leaf, wrap):
    tree = leaf
    for _ in range(depth):
        tree = wrap(tree)
    return tree


def innermost(tree):
    while isinstance(tree, (list, tuple, dict)):
        tree = tree["x"] if isinstance(tree, dict) else tree[0]
    return tree


@pytest.mark.parametrize(
    "wrap",
    [lambda t: [t], lambda t: (t, None), lambda t: {"x": t, "y": 1.0}],
    ids=["lists", "tuples with None", "dicts"],
)
def test_a_pytree_nested_thousands_deep(wrap):
    """Issue 11: a pytree nested about 1000 deep raised RecursionError."""
    tree = nested(DEPTH, np.array([1.0, 2.0]), wrap)
    leaves, structure = adkit.pytree.flatten(tree)
    assert len(leaves) == structure.num_leaves
    again = adkit.pytree.unflatten(structure, leaves)
    assert innermost(again) is leaves[0]
    assert adkit.pytree.flatten(again)[1] == structure  # compared and hashed without recursion
    assert hash(adkit.pytree.flatten(again)[1]) == hash(structure)
    assert len(repr(structure)) > DEPTH
    grad = adkit.grad(lambda t: np.sum(innermost(t) ** 2))(tree)
    np.testing.assert_array_equal(innermost(grad), [2.0, 4.0])
    auto = adkit.jacobian(lambda t: innermost(t) * 3.0)  # auto mode remembers its choice per structure
    for _ in range(2):
        np.testing.assert_array_equal(innermost(auto(tree)), 3.0 * np.eye(2))


def test_pytree_structures_tell_containers_apart():
    Point = collections.namedtuple("Point", "x y")
    trees = [
        (1.0,),
        [1.0],
        {"a": 1.0},
        {"b": 1.0},
        Point(1.0, 2.0),
        (1.0, 2.0),
        None,
        1.0,
        ((1.0,),),
        ([], ()),
    ]
    structures = [adkit.pytree.flatten(t)[1] for t in trees]
    assert len(set(structures)) == len(trees)
    for tree, structure in zip(trees, structures):
        leaves = adkit.pytree.flatten(tree)[0]
        rebuilt = adkit.pytree.unflatten(structure, leaves)
        assert rebuilt == tree and type(rebuilt) is type(tree)
    assert repr(structures[0]) == "(*,)" and repr(structures[2]) == "{'a': *}"
    assert repr(adkit.pytree.flatten([(1.0, None), {"w": 2.0}])[1]) == "[(*, None), {'w': *}]"


def test_unflatten_refuses_the_wrong_number_of_leaves():
    _, structure = adkit.pytree.flatten((1.0, [2.0, 3.0]))
    for wrong in ([1.0, 2.0], [1.0, 2.0, 3.0, 4.0]):
        with pytest.raises(ValueError, match=r"the structure \(\*, \[\*, \*\]\) holds 3 leaves, not"):
            adkit.pytree.unflatten(structure, wrong)
