"""The second-order check shared by the rule table, the contractions and the structure tests.

A first derivative taken in vector mode (a forward Jacobian: batched tangents; a reverse Jacobian:
batched cotangents) is differentiated again four ways: a forward Jacobian, a reverse Jacobian (chunks
that do not divide the count, so batches of different sizes meet), a ``jvp`` with a batch of
directions and a ``vjp`` with a batch of cotangents. A rule that lets its batch axes meet the stacked
axes of its operands (an inner level's batch) crashes or gives numbers that differ from ``second``.
Not a test module (its name does not start with ``test_``): the three test files import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import adkit


def chunk(count: int) -> int:
    """A chunk size that does not divide ``count`` (the last chunk is smaller), when there is one."""
    return count // 2 + 1 if count >= 3 else 1


def central_differences(fun: Callable, z: np.ndarray) -> np.ndarray:
    """Central differences of ``fun`` at the flat vector ``z``: shape ``fun(z).shape + (n,)``."""
    expected = np.zeros(np.shape(fun(z)) + (z.size,))
    for i in range(z.size):
        step = 1e-5 * max(1.0, abs(z[i]))
        plus, minus = z.copy(), z.copy()
        plus[i] += step
        minus[i] -= step
        expected[..., i] = (fun(plus) - fun(minus)) / (2 * step)
    return expected


def central_second(fun: Callable, z: np.ndarray) -> np.ndarray:
    """Central differences of ``fun``'s forward Jacobian at the flat vector ``z`` (shape ``(m, n, n)``)."""
    return central_differences(adkit.jacobian(fun, mode="forward"), z)


def every_nesting(
    fun: Callable, z: np.ndarray, second: np.ndarray, rng: np.random.Generator
) -> Iterator[tuple[str, Any, np.ndarray]]:
    """``(label, got, want)`` for each of the eight nestings of two vector-mode derivatives of ``fun``.

    ``second`` holds the second derivatives, shaped ``(m, n, n)`` (output shape first) for ``fun`` of
    the flat vector ``z``; ``rng`` draws three directions and two cotangents.
    """
    n = z.size
    m = second.size // (n * n) if n else 0
    directions = rng.standard_normal((3, n))
    cotangents = rng.standard_normal((2,) + second.shape[:-1])
    for inner in ("forward", "reverse"):
        jac = adkit.jacobian(fun, mode=inner, chunk=chunk(n if inner == "forward" else m))
        yield f"forward over {inner}", adkit.jacobian(jac, mode="forward", chunk=chunk(n))(z), second
        yield f"reverse over {inner}", adkit.jacobian(jac, mode="reverse", chunk=chunk(m * n))(z), second
        yield (
            f"batched jvp over {inner}",
            adkit.jvp(jac, (z,), (directions,))[1],
            np.moveaxis(second @ directions.T, -1, 0),
        )
        yield (
            f"batched vjp over {inner}",
            adkit.vjp(jac, z)[1](cotangents)[0],
            np.tensordot(cotangents, second, axes=second.ndim - 1),
        )
