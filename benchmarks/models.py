"""The functions the Jacobian benchmarks differentiate, for each library, with exact derivatives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class TanhNet:
    """``f(x) = tanh(W2 tanh(W1 x))``: R^n -> R^m through a hidden layer, seeded weights."""

    W1: np.ndarray  # (hidden, n)
    W2: np.ndarray  # (m, hidden)
    x: np.ndarray  # (n,), the point the Jacobian is taken at

    @classmethod
    def make(cls, n: int, m: int, hidden: int = 64, seed: int = 0) -> TanhNet:
        rng = np.random.default_rng(seed)
        W1 = rng.standard_normal((hidden, n)) / np.sqrt(n)
        W2 = rng.standard_normal((m, hidden)) / np.sqrt(hidden)
        return cls(W1, W2, rng.standard_normal(n))

    def numpy_f(self) -> Callable[[Any], Any]:
        """For plain NumPy and adkit (which reaches ``np.tanh`` and ``@`` through NumPy's protocols).

        ``x`` may also be an ``(n, k)`` block of k points, one per column.
        """
        W1, W2 = self.W1, self.W2
        return lambda x: np.tanh(W2 @ np.tanh(W1 @ x))

    def autograd_f(self) -> Callable[[Any], Any]:
        import autograd.numpy as anp

        W1, W2 = self.W1, self.W2
        return lambda x: anp.tanh(W2 @ anp.tanh(W1 @ x))

    def torch_f(self) -> Callable[[Any], Any]:
        import torch

        W1, W2 = torch.from_numpy(self.W1), torch.from_numpy(self.W2)
        return lambda x: torch.tanh(W2 @ torch.tanh(W1 @ x))

    def jacobian(self) -> np.ndarray:
        """The exact Jacobian, ``diag(1 - y²) W2 diag(1 - h²) W1``, of shape (m, n)."""
        h = np.tanh(self.W1 @ self.x)
        y = np.tanh(self.W2 @ h)
        return (1 - y**2)[:, None] * ((self.W2 * (1 - h**2)) @ self.W1)
