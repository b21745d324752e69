"""Interactive views for Jupyter: ``ModeExplorer``, sliders over n and m that measure the modes.

ipywidgets is imported when an explorer is made, not when ``adkit`` is.
Pictures reach the page the way that works in JupyterLab, under nbval and in
plain Python alike: the kernel renders a PNG and replaces the ``Output``
widget's outputs (never ``with out:``, which captures nothing outside a
kernel and leaks into the cell under nbval).
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from adkit.compare import (
    COLORS,
    FAMILIES,
    LABELS,
    METHODS,
    ModeComparison,
    compare_modes,
    get_family,
    operation_count,
)
from adkit.modes import estimate


def _ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - ipywidgets is a dependency of adkit
        raise ImportError("adkit.widgets needs ipywidgets: pip install ipywidgets") from None
    return ipywidgets


def _png(fig: Any, dpi: int = 80) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _exponent(value: int, name: str, max_exponent: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    e = round(math.log2(value))
    if 2**e != value or e > max_exponent:
        raise ValueError(f"{name} must be a power of two from 1 to {2**max_exponent}, got {value}")
    return e


class ModeExplorer:
    """Sliders for n and m (log scale), a family, the modes to measure: the costs, redrawn on change.

    Each change measures the full Jacobian of the chosen family at ``(n, m)``
    with :func:`adkit.compare_modes` (median of ``repeats`` runs) and draws
    two panels: the median time of each chosen mode, with the cost model's
    estimate for forward and reverse mode; and the (n, m) plane, with the
    shapes measured so far (which of forward and reverse won) and where
    ``mode="auto"`` switches, by :func:`adkit.modes.estimate`.

    Sliders update on release (``continuous_update=False``); changes within
    ``debounce`` seconds are measured once, when the kernel's event loop
    runs (with no running loop, or ``debounce=0``, at once). A progress bar
    moves while measuring. In a stored notebook the explorer's output also
    holds a PNG of its picture, shown where widgets cannot be.

    >>> explorer = ModeExplorer(n=4, m=2, repeats=1, methods=("forward", "reverse"))
    >>> explorer
    ModeExplorer(family='dense', n=4, m=2, methods=('forward', 'reverse'))
    >>> explorer.n_slider.value = 8  # what moving the slider does
    >>> explorer.comparison.shapes
    [(8, 2)]
    """

    def __init__(
        self,
        family: str = "dense",
        n: int = 16,
        m: int = 4,
        methods: Sequence[str] = METHODS,
        repeats: int = 3,
        debounce: float = 0.25,
        max_exponent: int = 10,
    ):
        widgets = _ipywidgets()
        if not isinstance(max_exponent, (int, np.integer)) or not 1 <= max_exponent <= 14:
            raise ValueError(f"max_exponent must be an integer from 1 to 14, got {max_exponent!r}")
        fam = get_family(family)
        if fam.name not in FAMILIES:
            raise ValueError(f"ModeExplorer shows the built-in families {list(FAMILIES)}, got {family!r}")
        n_exp, m_exp = _exponent(n, "n", max_exponent), _exponent(m, "m", max_exponent)
        if isinstance(methods, str) or any(meth not in METHODS for meth in methods):
            raise ValueError(f"methods must be a subset of {METHODS}, got {methods!r}")
        if not isinstance(repeats, (int, np.integer)) or repeats < 1:
            raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
        if not isinstance(debounce, (int, float)) or debounce < 0:
            raise ValueError(f"debounce must be a number of seconds >= 0, got {debounce!r}")
        self.repeats = int(repeats)
        self.debounce = float(debounce)
        self.max_exponent = int(max_exponent)
        #: measured shapes so far, per family: {(n, m): winner of forward and reverse}
        self.history: dict[str, dict[tuple[int, int], str]] = {}
        #: how many times the explorer measured (each change measures once)
        self.measurements = 0
        self.comparison: ModeComparison | None = None
        self.figure: Any = None
        self._pending: Any = None
        self._boundaries: dict[str, Any] = {}
        #: the sizes last chosen on each slider, restored when a family frees a size again
        self._chosen = {"n": 2**n_exp, "m": 2**m_exp}
        self._syncing = False

        slider = dict(
            base=2,
            min=0,
            max=self.max_exponent,
            step=1,
            continuous_update=False,
            readout_format=".0f",
            style={"description_width": "initial"},
        )
        self.n_slider = widgets.FloatLogSlider(value=2**n_exp, description="n (inputs)", **slider)
        self.m_slider = widgets.FloatLogSlider(value=2**m_exp, description="m (outputs)", **slider)
        self.family_dropdown = widgets.Dropdown(options=list(FAMILIES), value=fam.name, description="family")
        self.checkboxes = {
            meth: widgets.Checkbox(
                value=meth in methods,
                description=LABELS[meth],
                indent=False,
                layout=widgets.Layout(width="auto"),
            )
            for meth in METHODS
        }
        self.progress = widgets.IntProgress(
            value=0, min=0, max=1, description="measuring", layout=widgets.Layout(width="40%")
        )
        self.status = widgets.Label(value="")
        self.output = widgets.Output()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.family_dropdown, self.n_slider, self.m_slider]),
                widgets.HBox(list(self.checkboxes.values())),
                widgets.HBox([self.progress, self.status]),
                self.output,
            ]
        )
        self._sync_sliders()
        self.refresh()
        for control in (self.n_slider, self.m_slider, self.family_dropdown, *self.checkboxes.values()):
            control.observe(self._changed, names="value")

    # -- state -------------------------------------------------------------------------

    @property
    def family(self) -> str:
        """The family shown."""
        return self.family_dropdown.value

    @property
    def n(self) -> int:
        """The number of inputs shown (1 for the broadcast family)."""
        return 1 if self.family == "broadcast" else round(self.n_slider.value)

    @property
    def m(self) -> int:
        """The number of outputs shown (n for the elementwise family, 1 for the reduction)."""
        if self.family == "elementwise":
            return self.n
        return 1 if self.family == "reduction" else round(self.m_slider.value)

    @property
    def methods(self) -> tuple[str, ...]:
        """The modes ticked."""
        return tuple(meth for meth, box in self.checkboxes.items() if box.value)

    def __repr__(self) -> str:
        return f"ModeExplorer(family={self.family!r}, n={self.n}, m={self.m}, methods={self.methods!r})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The widget view, with a PNG of the current picture and a text line as fallbacks."""
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        if self.figure is not None:
            bundle["image/png"] = base64.b64encode(_png(self.figure)).decode("ascii")
        bundle["text/plain"] = repr(self)
        return bundle

    # -- reacting to the controls -------------------------------------------------------

    def _sync_sliders(self) -> None:
        """Disable the sizes the family fixes and show the value it fixes them to (m = 1 for a reduction).

        A size the family frees again gets back the value last chosen on its slider.
        """
        self._syncing = True  # the values set here are not the user's and measure nothing by themselves
        try:
            self.n_slider.disabled = self.family == "broadcast"
            self.m_slider.disabled = self.family in ("elementwise", "reduction")
            self.n_slider.value = 1 if self.n_slider.disabled else self._chosen["n"]
            fixed_m = {"elementwise": self._chosen["n"], "reduction": 1}.get(self.family)
            self.m_slider.value = self._chosen["m"] if fixed_m is None else fixed_m
        finally:
            self._syncing = False

    def _changed(self, change: Any = None) -> None:
        if self._syncing:
            return
        owner = None if change is None else change.get("owner")
        if owner in (self.n_slider, self.m_slider) and not owner.disabled:
            self._chosen["n" if owner is self.n_slider else "m"] = round(change["new"])
        self._sync_sliders()
        self._schedule()

    def _schedule(self) -> None:
        """Measure after ``debounce`` seconds of quiet (at once without a running event loop)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.debounce > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                self.status.value = "waiting for the sliders to settle..."
                self._pending = loop.call_later(self.debounce, self._run_pending)
                return
        self.refresh()

    def _run_pending(self) -> None:
        self._pending = None
        self.refresh()

    def _tick(self, done: int, total: int) -> None:
        self.progress.max = total
        self.progress.value = done

    def refresh(self) -> None:
        """Measure at the current (n, m) and redraw."""
        methods = self.methods
        if not methods:
            self.status.value = "tick at least one mode to measure"
            return
        family = FAMILIES[self.family]
        sizes = {"n": [self.n], "m": [self.m]}
        self.status.value = f"measuring {self.family} at n = {self.n}, m = {self.m}..."
        self.progress.bar_style = "info"
        self._tick(0, len(methods))
        comparison = compare_modes(
            family,
            **{s + "s": sizes[s] for s in family.sizes},
            repeats=self.repeats,
            methods=methods,
            memory=False,
            progress=self._tick,
        )
        self.measurements += 1
        self.comparison = comparison
        n, m = comparison.shapes[0]
        if "forward" in methods and "reverse" in methods:
            self.history.setdefault(self.family, {})[(n, m)] = comparison.winner(n, m)[0]
        self.figure = self.draw()
        import IPython.display

        self.output.outputs = ()
        self.output.append_display_data(IPython.display.Image(data=_png(self.figure)))
        self.progress.bar_style = "success"
        fastest = min(comparison.records, key=lambda r: r["time"])
        self.status.value = (
            f"n = {n}, m = {m}: fastest {LABELS[fastest['method']]} "
            f"({fastest['time'] * 1e3:.3g} ms, median of {self.repeats})"
        )

    # -- the picture -------------------------------------------------------------------

    def draw(self) -> Any:
        """The current picture as a matplotlib Figure (times at (n, m); the (n, m) plane)."""
        from matplotlib.figure import Figure

        # a fixed layout: constrained layout measures every tick label and costs a second a redraw
        fig = Figure(figsize=(10, 3.8))
        bars, plane = fig.subplots(1, 2, width_ratios=[1.25, 1])
        fig.subplots_adjust(left=0.2, right=0.97, bottom=0.15, top=0.86, wspace=0.3)
        self._draw_bars(bars)
        self._draw_plane(plane)
        return fig

    def _draw_bars(self, ax: Any) -> None:
        assert self.comparison is not None
        records = self.comparison.records
        n, m = self.comparison.shapes[0]
        names = [LABELS[r["method"]] + (f" → {r['chosen']}" if r["chosen"] else "") for r in records]
        times = [r["time"] * 1e3 for r in records]
        rows = np.arange(len(records))
        ax.barh(rows, times, color=[COLORS[r["method"]] for r in records])
        ends = []
        for row, r in zip(rows, records):
            end = r["time"] * 1e3
            if r.get("estimate") is not None and r["method"] in ("forward", "reverse"):
                ax.plot([r["estimate"] * 1e3], [row], "k|", ms=14, mew=2)
                end = max(end, r["estimate"] * 1e3)
            # the time is written after the bar and after the estimate's tick, so the tick never crosses it
            ax.annotate(
                f"{r['time'] * 1e3:.3g} ms",
                (end, row),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
            ends.append(end)
        ax.set_yticks(rows, names, fontsize=8)
        ax.invert_yaxis()
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

        ax.set_xscale("log")
        ax.set_xlim(min(times) / 2, max(ends) * 8)  # room for the last label
        # 1, 2 and 5 of each decade: at least two labelled ticks even when the times are close together
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=12))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("median time (ms); | = the cost model's estimate")
        ax.set_title(f"{self.family}: the full Jacobian at n = {n}, m = {m}", fontsize=10)

    def _model_margin(self) -> tuple[np.ndarray, np.ndarray]:
        """Forward minus reverse estimated cost at the family's shapes (powers of two), cached."""
        name = self.family
        if name not in self._boundaries:
            family = FAMILIES[name]
            exps = np.arange(self.max_exponent + 1)
            margin = np.full((len(exps), len(exps)), np.nan)
            for i, me in enumerate(exps):
                for j, ne in enumerate(exps):
                    n, m = 2**ne, 2**me
                    sizes = {"n": n, "m": m}
                    if (
                        (name == "elementwise" and n != m)
                        or (name == "reduction" and m != 1)
                        or (name == "broadcast" and n != 1)
                    ):
                        continue
                    f, x = family(*(sizes[s] for s in family.sizes))
                    count = operation_count(f, x)
                    fwd, rev = estimate(n, m, count.workload)
                    margin[i, j] = fwd - rev
            self._boundaries[name] = (2.0**exps, margin)
        return self._boundaries[name]

    def _draw_plane(self, ax: Any) -> None:
        sizes, margin = self._model_margin()
        gn, gm = np.meshgrid(sizes, sizes)
        defined = np.isfinite(margin)
        if defined.all():
            ax.contourf(gn, gm, margin, levels=[-np.inf, 0, np.inf], colors=["#dbe9f6", "#f9dede"])
            if margin.min() < 0 < margin.max():
                ax.contour(gn, gm, margin, levels=[0], colors="C2", linewidths=2, linestyles="--")
        else:  # a family of one free size: the model's pick along the shapes it has
            ax.scatter(
                gn[defined],
                gm[defined],
                c=np.where(margin[defined] <= 0, "#9ec5e8", "#f2a7a7"),
                s=60,
                marker="s",
                zorder=1,
            )
        for (n, m), win in self.history.get(self.family, {}).items():
            forward = win == "forward"
            ax.scatter(
                [n],
                [m],
                c="C0" if forward else "C3",
                marker="o" if forward else "s",
                edgecolors="k",
                linewidths=0.5,
                s=40,
                zorder=3,
            )
        ax.scatter([self.n], [self.m], s=220, facecolors="none", edgecolors="k", linewidths=1.5, zorder=4)
        from matplotlib.ticker import FixedLocator, NullLocator

        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ticks = [2**e for e in range(0, self.max_exponent + 1, 2)]
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(FixedLocator(ticks))
            axis.set_minor_locator(NullLocator())
            axis.set_major_formatter(lambda v, _: f"{v:.0f}")
        lim = (0.7, 2**self.max_exponent * 1.4)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel("n (inputs)")
        ax.set_ylabel("m (outputs)")
        ax.set_title(
            "measured: ● forward faster, ■ reverse faster\n"
            "shaded: auto's pick (blue forward); dashed: its boundary",
            fontsize=9,
        )


__all__ = ["ModeExplorer"]
