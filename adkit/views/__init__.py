"""Seeing the computation: evaluation traces, graph drawings, and sweeps to step through.

* :mod:`~adkit.views.record`: one evaluation recorded on a tape, numbered as
  in Baydin et al. 2018, with tangents, adjoints and local partials;
* :mod:`~adkit.views.trace`: :class:`Trace`, the table of those numbers;
* :mod:`~adkit.views.graph`: :class:`Graph`, the networkx graph and its drawing;
* :mod:`~adkit.views.layout`: where boxes and edges go (pure geometry);
* :mod:`~adkit.views.sweep`: the sweeps step by step, as a widget or an animation.
"""

from adkit.views.graph import Graph, graph
from adkit.views.sweep import SweepStep, SweepWidget
from adkit.views.trace import Trace, TraceRow, trace

__all__ = ["Graph", "SweepStep", "SweepWidget", "Trace", "TraceRow", "graph", "trace"]
