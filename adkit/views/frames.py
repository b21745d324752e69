"""A player for any sequence of drawings: a slider with a play button, the picture, a caption and a table.

:class:`adkit.views.player.SweepWidget` plays the sweeps of a graph; this
player plays frames someone else draws (the steps of a vertex elimination,
:meth:`adkit.elimination.Comparison.widget`). As the sweep player, it sets
its ``Output`` from the kernel side (a PNG of the figure), which JupyterLab,
nbval and plain Python all see.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as widgets

from adkit.views.scene import png

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FramePlayer"]


class FramePlayer(widgets.VBox):
    """Frames ``start .. start + count - 1`` played with a slider: ``draw(k, figure)`` draws frame ``k``.

    ``caption(k)`` is the text above the picture and ``table(k)`` (optional)
    HTML shown beside it; ``title`` names the player in its text form.
    ``frame`` is the frame the slider is on; moving the slider (or pressing
    play) redraws ``picture`` and updates ``caption_html`` and
    ``table_html``; ``figure`` is the matplotlib Figure drawn on.

    >>> from adkit.views.frames import FramePlayer
    >>> player = FramePlayer(3, lambda k, fig: fig.add_subplot().set_title(str(k)), lambda k: f"frame {k}")
    >>> player.slider.value = 2
    >>> player.frame, player.caption_html.value
    (2, '<b>frame 2</b>')
    """

    def __init__(
        self,
        count: int,
        draw: Callable[[int, Figure], object],
        caption: Callable[[int], str],
        table: Callable[[int], str] | None = None,
        interval: int = 1000,
        dpi: int = 100,
        description: str = "step",
        start: int = 0,
        title: str = "frames",
    ):
        from matplotlib.figure import Figure

        if count < 1:
            raise ValueError(f"a player needs at least one frame, got count={count}")
        self.figure = Figure()
        self.title, self.count = title, count
        self._draw, self._caption, self._table, self._dpi = draw, caption, table, dpi
        last = start + count - 1
        self.play = widgets.Play(
            value=start, min=start, max=last, step=1, interval=interval, description="play"
        )
        self.slider = widgets.IntSlider(
            value=start,
            min=start,
            max=last,
            description=description,
            continuous_update=True,
            readout=True,
            style={"description_width": "initial"},
        )
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.caption_html = widgets.HTML()
        self.picture = widgets.Output()
        self.table_html = widgets.HTML()
        below_if_narrow = widgets.Layout(flex_flow="row wrap", align_items="flex-start")
        super().__init__(
            [
                widgets.HBox([self.play, self.slider]),
                self.caption_html,
                widgets.HBox([self.picture, self.table_html], layout=below_if_narrow),
            ]
        )
        self.slider.observe(self._on_change, names="value")
        self._show(start)

    @property
    def frame(self) -> int:
        """The frame shown (the slider's value)."""
        return self.slider.value

    def __repr__(self) -> str:
        return f"<adkit player: {self.title}, {self.count} frames>"

    def _on_change(self, change: dict) -> None:
        self._show(change["new"])

    def _show(self, k: int) -> None:
        self.figure.clear()
        self._draw(k, self.figure)
        text = self._caption(k)
        encoded = base64.b64encode(png(self.figure, self._dpi)).decode("ascii")
        data = {"image/png": encoded, "text/plain": f"<{text}>"}
        self.picture.outputs = ({"output_type": "display_data", "metadata": {}, "data": data},)
        self.caption_html.value = f"<b>{text}</b>"
        if self._table is not None:
            self.table_html.value = self._table(k)
