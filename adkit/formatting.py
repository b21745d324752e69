"""How adkit writes numbers, constants, durations and quoted input in what it shows.

One function for each, so that a trace, a graph, the command line, the
cost model's reasons and the measurement tables write them alike.

>>> number(11.652071455), constant(0.5), duration(8.234e-5), snippet("x  +\\n y")
('11.652', '0.5', '82.3 µs', 'x + y')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adkit.core import primal

__all__ = ["constant", "duration", "number", "snippet"]


def number(x: float, digits: int = 5) -> str:
    """``x`` with ``digits`` significant digits (Python's ``g`` format), and no minus on zero.

    >>> number(11.652071455), number(1.7163378145, 6), number(-0.0), number(1e-12), number(float("inf"))
    ('11.652', '1.71634', '0', '1e-12', 'inf')
    """
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def constant(x: Any) -> str:
    """A constant operand as a definition shows it: the number (6 digits), or ``array`` and its shape.

    >>> constant(2.0), constant(1 / 3), constant(np.ones((3, 4)))
    ('2', '0.333333', 'array(3, 4)')
    """
    x = primal(x)
    if np.ndim(x) == 0:
        return number(x, 6)
    return f"array{np.shape(x)}"


def duration(seconds: float) -> str:
    """A time in the unit that fits, with 3 significant digits: ``82.3 µs``, ``7.53 ms``, ``1.2 s``.

    >>> duration(8.234e-5), duration(0.00753), duration(1.2), duration(110e-6)
    ('82.3 µs', '7.53 ms', '1.2 s', '110 µs')
    """
    for scale, unit in ((1.0, "s"), (1e-3, "ms")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e6:.3g} µs"


def snippet(text: str, limit: int = 40) -> str:
    """``text`` made safe to quote in a one-line message: spaces collapsed, control characters escaped.

    Longer than ``limit`` characters, it is cut and ends in ``...``.

    >>> snippet("ln(x)\\t+\\x00 y"), snippet("x" * 50, 10)
    ('ln(x) +\\\\x00 y', 'xxxxxxx...')
    """
    text = " ".join(text.split())
    text = "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii") for c in text
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."
