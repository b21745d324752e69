"""The evaluation trace: one row per variable with its definition, primal, tangent and adjoint.

The table of Baydin et al. 2018 (*Automatic differentiation in machine
learning: a survey*, Tables 2 and 3), read off one recorded evaluation (see
:mod:`adkit.views.record` for the numbering): the inputs ``v_{1-n} .. v_0``,
the intermediate variables ``v_1 .. v_l`` in topological order, then the
outputs ``y = v_k``. It shows as an HTML table in Jupyter, as aligned text
with ``print``, and converts to LaTeX, Markdown and a matplotlib picture.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from adkit.views.record import (
    Computation,
    Variable,
    definition,
    format_value,
    record,
    symbol_name,
    variable_name,
)
from adkit.views.scene import ACTIVE_COLOR, INPUT_COLOR, OUTPUT_COLOR

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from adkit.views.steps import SweepStep

__all__ = ["Trace", "TraceRow", "trace"]

HEADER = ("variable", "definition", "primal", "tangent", "adjoint")
PARTIAL_NOTE = "a partial sum: the sweep has not reached this variable yet"


class TraceRow(NamedTuple):
    """One row of a :class:`Trace`.

    ``kind`` is ``"input"``, ``"intermediate"`` or ``"output"``; an output row
    (``y = v5``) repeats its variable's numbers. ``number`` is ``i`` of
    ``v_i`` (for an output row, of the variable it names). ``tangent`` is
    ``None`` when some primitive on the way has no forward (JVP) rule.

    >>> adkit.trace(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0)["v1"]
    TraceRow(name='v1', number=1, kind='intermediate', definition='v-1 * v0', value=10.0, tangent=5.0,
             adjoint=1.0, layer=1)
    """

    name: str
    number: int
    kind: str
    definition: str
    value: Any
    tangent: Any
    adjoint: Any
    layer: int


class Trace:
    """The evaluation trace of ``f`` at a point: primal, tangent and adjoint of every variable.

    Make one with :func:`adkit.trace`. ``print(trace)`` gives aligned text,
    Jupyter shows an HTML table, ``to_latex()`` / ``to_markdown()`` convert
    it and ``draw()`` renders it with matplotlib. ``trace["v3"]``,
    ``trace[3]`` and ``trace["y"]`` give single rows; iterating gives all.
    Array-valued variables show their shape and a short summary.

    >>> t = adkit.trace(lambda x1, x2: x1 * x2 + x1, 2.0, 5.0)
    >>> [row.name for row in t]
    ['v-1', 'v0', 'v1', 'v2', 'y']
    >>> t["y"].tangent, t["v-1"].adjoint   # ∂y/∂x1 = x2 + 1 both ways
    (6.0, 6.0)
    """

    def __init__(self, computation: Computation):
        self._computation = computation
        rows = []
        for v in computation.variables:
            kind = "input" if v.is_input else "intermediate"
            rows.append(
                TraceRow(
                    v.name, v.number, kind, definition(v, "text"), v.value, v.tangent, v.adjoint, v.layer
                )
            )
        for name, number in zip(computation.output_names, computation.outputs):
            v = computation.variable(number)
            rows.append(TraceRow(name, number, "output", v.name, v.value, v.tangent, v.adjoint, v.layer))
        self._rows = rows

    # -- reading ---------------------------------------------------------------------------

    @property
    def rows(self) -> list[TraceRow]:
        """Every row: inputs, intermediate variables, outputs."""
        return list(self._rows)

    @property
    def computation(self) -> Computation:
        """The recorded evaluation the trace shows; ``adkit.Graph(trace.computation)`` is its graph."""
        return self._computation

    @property
    def seed(self) -> tuple[Any, ...]:
        """The input tangent ``ẋ``, one entry per input."""
        return self._computation.seed

    @property
    def cotangent(self) -> tuple[Any, ...]:
        """The output cotangent ``ȳ``, one entry per output."""
        return self._computation.cotangent

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[TraceRow]:
        return iter(self._rows)

    def __getitem__(self, key: str | int) -> TraceRow:
        for row in self._rows:
            if (isinstance(key, str) and row.name == key) or (
                isinstance(key, (int, np.integer)) and row.kind != "output" and row.number == key
            ):
                return row
        names = ", ".join(row.name for row in self._rows)
        raise KeyError(f"no row {key!r} in this trace; its rows are {names}")

    # -- the table, cell by cell -----------------------------------------------------------

    def _cells(
        self, style: str, precision: int, state: SweepStep | None = None
    ) -> list[tuple[TraceRow, list[str], list[str]]]:
        """Per row: the cell texts and each cell's status (``""``, ``"partial"``, ``"pending"``)."""
        comp = self._computation
        out = []
        for row in self._rows:
            v = comp.variable(row.number)
            if row.kind == "output":
                name = symbol_name(row.name, style)
                defn = variable_name(row.number, "latex" if style == "mathtext" else style)
                defn = f"${defn}$" if style == "mathtext" else defn
            else:
                name = variable_name(row.number, "latex" if style == "mathtext" else style)
                name = f"${name}$" if style == "mathtext" else name
                defn = definition(v, style)
            texts, status = [name, defn], ["", ""]
            for cell, state_of in (
                (row.value, _value_state),
                (row.tangent, _tangent_state),
                (row.adjoint, _adjoint_state),
            ):
                s, shown = state_of(v, state)
                if cell is None:
                    texts.append("n/a")
                elif s == "pending":
                    texts.append("")
                else:
                    texts.append(format_value(shown if shown is not None else cell, precision))
                status.append(s)
            out.append((row, texts, status))
        return out

    def _caption(self, dot: str = "ẋ", bar: str = "ȳ") -> list[str]:
        comp = self._computation
        point = ", ".join(
            f"{name} = {format_value(v.value)}" for name, v in zip(comp.input_names, comp.inputs)
        )
        seed = ", ".join(format_value(s) for s in comp.seed)
        seed = f"({seed})" if len(comp.seed) > 1 else seed
        ct = ", ".join(format_value(c) for c in comp.cotangent)
        ct = f"({ct})" if len(comp.cotangent) > 1 else ct
        lines = [f"Evaluation trace of {comp.function_name} at {point}"]
        tangents = f"tangents along {dot} = {seed}"
        if not comp.has_tangents:
            tangents = "no tangents (a primitive has no JVP rule)"
        lines.append(f"{tangents}; adjoints from {bar} = {ct}")
        return lines

    # -- the formats -----------------------------------------------------------------------

    def to_text(self, precision: int = 5, state: SweepStep | None = None) -> str:
        """The trace as aligned plain text (what ``print`` shows).

        >>> t = adkit.trace(lambda x: x * x + 1.0, 3.0)
        >>> print(t.to_text())
        Evaluation trace of <lambda> at x = 3
        tangents along ẋ = 1; adjoints from ȳ = 1
        variable  definition  primal  tangent  adjoint
        v0        x                3        1        6
        v1        v0 * v0          9        6        1
        v2        v1 + 1          10        6        1
        y         v2              10        6        1
        """
        cells = self._cells("text", precision, state)
        table = [list(HEADER)] + [
            [text + (" *" if s == "partial" else "") for text, s in zip(texts, status)]
            for _, texts, status in cells
        ]
        widths = [max(len(r[k]) for r in table) for k in range(len(HEADER))]
        lines = []
        for k, r in enumerate(table):
            marker = (
                k > 0
                and state is not None
                and cells[k - 1][0].kind != "output"
                and cells[k - 1][0].number == state.active
            )
            parts = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
            parts += [r[j].rjust(widths[j]) if k else r[j].ljust(widths[j]) for j in range(2, 5)]
            lines.append(("  ".join(parts) + ("  <" if marker else "")).rstrip())
        caption = self._caption()
        if state is not None:
            caption.append(state.caption)
            if any("partial" in status for _, _, status in cells):
                caption.append(f"* {PARTIAL_NOTE}")
        return "\n".join(caption + lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def to_markdown(self, precision: int = 5) -> str:
        """The trace as a Markdown table, names and definitions in ``$...$`` math.

        >>> print(adkit.trace(lambda x: x * x, 3.0).to_markdown())
        | variable | definition | primal | tangent | adjoint |
        |---|---|--:|--:|--:|
        | $v_{0}$ | $x$ | 3 | 1 | 6 |
        | $v_{1}$ | $v_{0} \\times v_{0}$ | 9 | 6 | 1 |
        | $y$ | $v_{1}$ | 9 | 6 | 1 |
        """
        lines = ["| " + " | ".join(HEADER) + " |", "|---|---|--:|--:|--:|"]
        for _, texts, _ in self._cells("latex", precision):
            name, defn = (f"${t}$".replace("|", r"\vert ") for t in texts[:2])
            lines.append("| " + " | ".join([name, defn] + [t.replace("|", r"\|") for t in texts[2:]]) + " |")
        return "\n".join(lines)

    def to_latex(self, precision: int = 5) -> str:
        r"""The trace as a LaTeX ``tabular`` (plain LaTeX, no packages needed).

        >>> print(adkit.trace(lambda x: x * x, 3.0).to_latex())
        % Evaluation trace of <lambda> at x = 3
        % tangents along xdot = 1; adjoints from ybar = 1
        \begin{tabular}{llrrr}
        \hline
        variable & definition & primal & tangent $\dot v$ & adjoint $\bar v$ \\
        \hline
        $v_{0}$ & $x$ & $3$ & $1$ & $6$ \\
        \hline
        $v_{1}$ & $v_{0} \times v_{0}$ & $9$ & $6$ & $1$ \\
        \hline
        $y$ & $v_{1}$ & $9$ & $6$ & $1$ \\
        \hline
        \end{tabular}
        """
        lines = [f"% {line}" for line in self._caption(dot="xdot", bar="ybar")]
        lines += [
            r"\begin{tabular}{llrrr}",
            r"\hline",
            r"variable & definition & primal & tangent $\dot v$ & adjoint $\bar v$ \\",
            r"\hline",
        ]
        previous = None
        for row, texts, _ in self._cells("latex", precision):
            if previous is not None and row.kind != previous:
                lines.append(r"\hline")
            previous = row.kind
            numbers = [_latex_number(t) for t in texts[2:]]
            lines.append(f"${texts[0]}$ & ${texts[1]}$ & " + " & ".join(numbers) + r" \\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines)

    def to_html(self, precision: int = 5, state: SweepStep | None = None) -> str:
        """The trace as an HTML table (what Jupyter shows); ``state`` marks a sweep step.

        With ``state`` the columns get fixed widths, those of the complete
        table, so that a player stepping through a sweep does not change the
        table's width from one step to the next.
        """
        cells = self._cells("html", precision, state)
        cell_style = "padding:2px 10px;border-bottom:1px solid #ddd;"
        columns, table_style = "", "border-collapse:collapse;font-family:monospace"
        if state is not None:
            # the monospace font makes a character 1ch wide; +2 for a partial sum's "…" and a margin
            full = [texts for _, texts, _ in self._cells("text", precision)]
            headers = ("variable", "definition", "primal", "tangent v̇", "adjoint v̄")
            widths = [max(len(h), *(len(texts[k]) for texts in full)) + 2 for k, h in enumerate(headers)]
            columns = (
                "<colgroup>"
                + "".join(f'<col style="width:calc({w}ch + 20px)">' for w in widths)
                + ("</colgroup>")
            )
            table_style += f";table-layout:fixed;width:calc({sum(widths)}ch + {20 * len(widths)}px)"
        head = "".join(
            f'<th style="{cell_style}text-align:{"left" if k < 2 else "right"}">{h}</th>'
            for k, h in enumerate(("variable", "definition", "primal", "tangent v&#775;", "adjoint v&#772;"))
        )
        body = []
        for row, texts, status in cells:
            active = state is not None and row.kind != "output" and row.number == state.active
            background = {"input": INPUT_COLOR, "output": OUTPUT_COLOR}.get(row.kind)
            background = ACTIVE_COLOR if active else background
            attrs = (
                f' class="adkit-active" style="background:{background};font-weight:bold"'
                if active
                else (f' style="background:{background}"' if background else "")
            )
            tds = []
            for k, (text, s) in enumerate(zip(texts, status)):
                align = "left" if k < 2 else "right"
                if s == "partial":
                    text = f'<span style="color:#888" title="{PARTIAL_NOTE}">{text}…</span>'
                elif k >= 2:
                    text = html.escape(text)
                tds.append(f'<td style="{cell_style}text-align:{align}">{text}</td>')
            body.append(f"<tr{attrs}>{''.join(tds)}</tr>")
        caption = "<br>".join(html.escape(line) for line in self._caption())
        if state is not None:
            caption += f"<br><b>{html.escape(state.caption)}</b>"
        return (
            f'<table class="adkit-trace" style="{table_style}">'
            f'<caption style="caption-side:top;text-align:left">{caption}</caption>'
            f"{columns}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def draw(
        self, ax: Axes | None = None, precision: int = 5, state: SweepStep | None = None, caption: bool = True
    ) -> Axes:
        """Render the table with matplotlib (for pictures and animations); returns the Axes.

        ``state`` (a sweep step) highlights the active row and blanks what is
        not known yet; ``caption`` puts the point, seed and cotangent on top.

        >>> ax = adkit.trace(lambda x: x * x, 3.0).draw()
        >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
        """
        cells = self._cells("mathtext", precision, state)
        if ax is None:
            import matplotlib.pyplot as plt

            height = 0.75 + 0.22 * (len(cells) + 1)
            fig, ax = plt.subplots(figsize=(6.5, height))
            fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.65 / height)  # the caption
        ax.set_axis_off()
        text = [
            [t + (" …" if s == "partial" else "") for t, s in zip(texts, status)]
            for _, texts, status in cells
        ]
        header = ["variable", "definition", "primal", r"tangent $\dot v$", r"adjoint $\bar v$"]
        table = ax.table(cellText=text, colLabels=header, loc="upper left", cellLoc="right")
        table.auto_set_font_size(False)
        table.set_fontsize(10)
        table.auto_set_column_width(list(range(len(header))))
        table.scale(1.0, 1.35)
        for (r, c), cell in table.get_celld().items():
            cell.set_edgecolor("#cccccc")
            cell.set_linewidth(0.6)
            if c < 2:
                cell.set_text_props(ha="left")
                cell.PAD = 0.04
            if r == 0:
                cell.set_text_props(weight="bold")
                cell.set_facecolor("#f0f0f0")
                continue
            row, _, status = cells[r - 1]
            active = state is not None and row.kind != "output" and row.number == state.active
            if active:
                cell.set_facecolor(ACTIVE_COLOR)
                cell.set_text_props(weight="bold")
            elif row.kind in ("input", "output"):
                cell.set_facecolor(INPUT_COLOR if row.kind == "input" else OUTPUT_COLOR)
            if status[c] == "partial":
                cell.set_text_props(color="#888888")
        if caption:
            lines = self._caption() + ([state.caption] if state is not None else [])
            ax.set_title("\n".join(lines), fontsize=10, loc="left")
        return ax


def _latex_number(text: str) -> str:
    if not text:
        return ""
    if text.startswith("("):  # an array summary
        return r"\texttt{" + text.replace(" ", r"\ ") + "}"
    return f"${text}$"


def _value_state(v: Variable, state: SweepStep | None) -> tuple[str, Any]:
    if state is None or v.number in state.values:
        return "", None
    return "pending", None


def _tangent_state(v: Variable, state: SweepStep | None) -> tuple[str, Any]:
    if state is None or (state.mode == "forward" and v.number in state.tangents):
        return "", None
    return "pending", None


def _adjoint_state(v: Variable, state: SweepStep | None) -> tuple[str, Any]:
    if state is None:
        return "", None
    if state.mode != "reverse" or v.number not in state.adjoints:
        return "pending", None
    return ("" if v.number in state.final else "partial"), state.adjoints[v.number]


def trace(f: Callable[..., Any], *args: Any, seed: Any = None, cotangent: Any = None) -> Trace:
    """The evaluation trace of ``f`` at ``args``: primal, tangent and adjoint of every variable.

    Rows follow Baydin et al. 2018 (Tables 2 and 3): inputs ``v_{1-n} .. v_0``
    (one per argument), intermediate variables ``v_1 .. v_l`` ordered by
    topological generation (their layer in :func:`adkit.graph`), then the
    outputs ``y = v_l``. Each row gives its definition (``v3 = sin(v0)``),
    primal value, tangent ``v̇ = (∂v/∂x) ẋ`` (forward mode along ``seed``)
    and adjoint ``v̄ = ȳᵀ (∂y/∂v)`` (reverse mode from ``cotangent``).

    Args:
        f: a function of numbers or arrays, written with NumPy or adkit
            operations; it returns a number, an array, or a tuple of them.
        *args: the point: one number or array per argument of ``f``.
        seed: the input tangent ``ẋ``, one entry per argument shaped like it
            (a bare value when ``f`` has one argument). Default ``e_1``: one
            in the first entry of the first argument, zero elsewhere.
        cotangent: the output cotangent ``ȳ``, shaped like the output (a
            tuple for several outputs). Default: one for a scalar output,
            ones for an array, as the survey's ``ȳ = 1``.

    Returns:
        a :class:`Trace`.

    Raises:
        TypeError: ``f`` is not callable, an argument is not a number or
            array, or ``f`` returns something else.
        ValueError: ``seed`` or ``cotangent`` has the wrong shape, or the
            output does not depend on the arguments.

    >>> import numpy as np
    >>> t = adkit.trace(lambda x1, x2: np.log(x1) + x1 * x2 - np.sin(x2), 2.0, 5.0)
    >>> t["v3"].definition, round(t["v3"].value, 3)
    ('sin(v0)', -0.959)
    >>> round(t["v0"].adjoint, 3)   # ∂y/∂x2 = x1 - cos x2
    1.716
    """
    return Trace(record(f, args, seed, cotangent, "trace"))
