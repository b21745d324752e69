"""The workloads written for tangent-ad, which transforms a function's source read from its file.

tangent-ad (Google's Tangent, maintained as ``tangent-ad``) generates the
derivative's Python source from the function's own source, so the workloads
it differentiates live here as plain NumPy functions: the W1 chain (with the
number of blocks as an argument, since tangent refuses ``//``) and the W2
loss (with ``np.dot`` and the parameters as separate arguments).
"""

import numpy as np


def chain(x, blocks):
    """The W1 chain: 8 operations a block, the input fed back twice per block (bench_w1_chain.chain)."""
    y = x
    for _ in range(blocks):
        t = y * x
        t = np.sin(t)
        t = t + x
        t = np.tanh(t)
        t = t**2
        t = np.exp(t)
        t = t * 0.5
        y = t + 0.25
    return y


def mlp_loss(W1, b1, W2, b2, W3, b3, X, Y):
    """The W2 loss: mean((tanh(tanh(X W1 + b1) W2 + b2) W3 + b3 - Y)^2) (bench_w2_mlp.loss)."""
    h1 = np.tanh(np.dot(X, W1) + b1)
    h2 = np.tanh(np.dot(h1, W2) + b2)
    d = np.dot(h2, W3) + b3 - Y
    return np.mean(d * d)
