"""Seeing the computation: evaluation traces, graph drawings, and sweeps to step through.

From the bottom up (each module imports only those above it in this list):

* :mod:`~adkit.views.record`: one evaluation recorded on a tape, numbered as
  in Baydin et al. 2018, with tangents, adjoints and local partials;
* :mod:`~adkit.views.layout`: where boxes and edges go (pure geometry);
* :mod:`~adkit.views.steps`: the sweeps one variable at a time (:class:`SweepStep`);
* :mod:`~adkit.views.scene`: what a drawing shows, where, and drawing it (matplotlib);
* :mod:`~adkit.views.trace`: :class:`Trace`, the table of those numbers;
* :mod:`~adkit.views.player`: the sweeps played as a widget or an animation;
* :mod:`~adkit.views.graph`: :class:`Graph`, the networkx graph and its drawing.

networkx, matplotlib and ipywidgets are imported when first used: ``SweepWidget``
and ``animate`` (the player, which needs ipywidgets) when first read from here.
"""

from typing import TYPE_CHECKING, Any

from adkit.views.graph import Graph, graph
from adkit.views.steps import SweepStep, sweep_steps
from adkit.views.trace import Trace, TraceRow, trace

if TYPE_CHECKING:
    from adkit.views.player import SweepWidget, animate

__all__ = [
    "Graph",
    "SweepStep",
    "SweepWidget",
    "Trace",
    "TraceRow",
    "animate",
    "graph",
    "sweep_steps",
    "trace",
]

_PLAYER = ("SweepWidget", "animate")


def __getattr__(name: str) -> Any:
    if name in _PLAYER:
        from adkit.views import player

        return getattr(player, name)
    raise AttributeError(f"module 'adkit.views' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
