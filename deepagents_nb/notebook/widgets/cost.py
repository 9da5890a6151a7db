"""`CostPanel`: tokens and cost of model requests, as totals, a plotly chart and a table.

The chart is sent as an output of an `Output` widget in plotly's own mimetype
(`application/vnd.plotly.v1+json`), rendered by the `jupyterlab-plotly`
extension that ships inside the plotly package (JupyterLab 4, Notebook 7),
with an HTML rendering (plotly.js from its CDN) for frontends without it.
`FigureWidget` would need anywidget, which is not a dependency.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from deepagents_nb.context_window import ContextUsage
from deepagents_nb.events import EventBase, TokenUsage
from deepagents_nb.notebook.charts import cost_figure
from deepagents_nb.notebook.widgets._base import FONT, MUTED_COLOR, WidgetView
from deepagents_nb.notebook.widgets._throttle import Pacing

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent

TABLE_COLUMNS = [
    "timestamp",
    "thread_id",
    "agent",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "duration_ms",
    "tokens_per_second",
    "cost_usd",
]
"""Columns of the full table, one click away (`frame` keeps them all)."""

COMPACT_COLUMNS = {
    "timestamp": "time",
    "cost_usd": "cost",
    "agent": "agent",
    "model": "model",
    "input_tokens": "in",
    "output_tokens": "out",
    "duration_ms": "ms",
}
"""The columns that matter at a glance, cost near the left, and their short headers."""

_NOWRAP = "<style>.dnb-usage td, .dnb-usage th {white-space:nowrap; padding:1px 8px}</style>"


def compact_table(df: pd.DataFrame) -> pd.DataFrame:
    """`df` cut to `COMPACT_COLUMNS`: clock times, costs as $0.000123, counts with commas."""
    table: pd.DataFrame = pd.DataFrame(index=df.index)
    for column, header in COMPACT_COLUMNS.items():
        if column not in df.columns:
            continue
        values = df[column]
        if column == "timestamp":
            times = pd.to_datetime(values, errors="coerce", utc=True)
            table[header] = times.dt.strftime("%H:%M:%S").fillna("—")
        elif column == "cost_usd":
            costs = pd.to_numeric(values, errors="coerce")
            table[header] = costs.map(lambda c: "—" if pd.isna(c) else f"${c:.6f}")
        elif column in {"input_tokens", "output_tokens", "duration_ms"}:
            counts = pd.to_numeric(values, errors="coerce")
            table[header] = counts.map(lambda n: "—" if pd.isna(n) else f"{n:,.0f}")
        else:
            table[header] = values.astype("object").where(values.notna(), "—").astype(str)
    return table


def figure_output(fig: Any) -> dict[str, Any]:
    """An `Output` widget output showing `fig` (plotly's mimetype, HTML as fallback)."""
    return {
        "output_type": "display_data",
        "data": {
            "application/vnd.plotly.v1+json": json.loads(fig.to_json()),
            "text/html": fig.to_html(include_plotlyjs="cdn", full_html=False),
            "text/plain": "Tokens and cost chart (plotly)",
        },
        "metadata": {},
    }


def totals_html(df: pd.DataFrame) -> str:
    """One line: requests, tokens in and out, and cost (known costs only)."""
    if df.empty:
        return f"<span style='{FONT};color:{MUTED_COLOR}'>No model requests yet.</span>"

    def total(column: str) -> int:
        if column not in df.columns:
            return 0
        return int(pd.to_numeric(df[column], errors="coerce").fillna(0).sum())

    costs = pd.to_numeric(df.get("cost_usd", pd.Series(dtype="float64")), errors="coerce")
    unknown = len(df) - int(costs.notna().sum())
    if unknown == len(df):
        cost = "cost unknown (no price for these models)"
    else:
        known = float(costs.sum())
        cost = f"${known:.6f}" if not unknown else f"≥ ${known:.6f} ({unknown} without a price)"
    return (
        f"<span style='{FONT}'><b>{len(df):,}</b> requests · <b>{total('input_tokens'):,}</b> in"
        f" / <b>{total('output_tokens'):,}</b> out tokens"
        f" · {total('cache_read_tokens'):,} cached · <b>{escape(cost)}</b></span>"
    )


def gauge_html(usage: ContextUsage | None) -> str:
    """The context meter: the last request's prompt against the model's context window."""
    if usage is None:
        return ""
    fraction = usage.fraction
    if fraction is None:
        style = f"{FONT};color:{MUTED_COLOR}"
        return f"<div class='dnb-context' style='{style}'>{escape(str(usage))}</div>"
    shown = min(1.0, fraction)
    colour = "#15803d" if shown < 0.6 else "#b45309" if shown < 0.85 else "#b91c1c"
    return (
        f"<div class='dnb-context' style='{FONT};margin:4px 0'>Context: {escape(str(usage))}"
        f"<div style='background:#e5e7eb;height:6px;border-radius:3px;max-width:420px'>"
        f"<div class='dnb-context-bar' style='background:{colour};height:6px;"
        f"border-radius:3px;width:{shown:.1%}'></div></div></div>"
    )


class CostPanel(WidgetView):
    """Totals, `cost_figure` and the request table of an agent's usage ledger.

    With `thread_id`, only that thread's requests (its sub-agents' included).
    While a run streams, `TokenUsage` events redraw it at most once per ten
    pacing intervals.

    Example::

        agent = create_deep_agent(model=..., token_tracking=True)
        CostPanel(agent)
    """

    def __init__(
        self,
        agent: DeepAgent | None = None,
        thread_id: str | None = None,
        *,
        pacing: Pacing | None = None,
        max_rows: int = 200,
    ) -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.max_rows = max_rows
        self.frame = pd.DataFrame()
        self.totals = widgets.HTML()
        self.gauge = widgets.HTML()
        self.chart = widgets.Output()
        self.table = widgets.HTML()
        table_box = widgets.Box(
            [self.table], layout=widgets.Layout(max_height="320px", overflow="auto")
        )
        self.widget = widgets.VBox([self.totals, self.gauge, self.chart, table_box])
        self.widget.add_class("dnb-cost")  # stable selectors (styling, tests/e2e)
        self.chart.add_class("dnb-cost-chart")
        self._throttle = (pacing or Pacing()).slower(10).throttle(self.refresh)
        if agent is not None:
            self.refresh()
        else:
            self.update(self.frame)

    def handle(self, event: EventBase) -> None:
        """Redraw from the ledger after model requests (throttled)."""
        if isinstance(event, TokenUsage) and self.agent is not None:
            self._throttle.request()

    def refresh(self) -> None:
        """Read the agent's ledger again."""
        self._throttle.cancel()
        if self.agent is None:
            return
        ledger = self.agent.usage
        if not ledger.enabled:
            self.totals.value = (
                f"<span style='{FONT};color:{MUTED_COLOR}'>Token tracking is off: create the "
                f"agent with <code>token_tracking=True</code> to see tokens and cost here.</span>"
            )
            return
        df = ledger.to_dataframe()
        if self.thread_id is not None and "thread_id" in df.columns:
            df = df[df["thread_id"] == self.thread_id]
            self.gauge.value = gauge_html(self.agent.context_usage(self.thread_id))
        self.update(df)

    def update(self, df: pd.DataFrame) -> None:
        """Show `df` (rows like `UsageLedger.to_dataframe()`)."""
        self.frame = df
        self.totals.value = totals_html(df)
        self.chart.outputs = (figure_output(cost_figure(df)),)
        if df.empty:
            self.table.value = ""
            return
        more = len(df) - self.max_rows
        note = (
            f"<div style='{FONT};color:{MUTED_COLOR}'>last {self.max_rows:,} of "
            f"{len(df):,} requests</div>"
            if more > 0
            else ""
        )
        recent = df.tail(self.max_rows)
        compact = compact_table(recent).to_html(index=False, border=0, classes="dnb-usage")
        full = recent[[c for c in TABLE_COLUMNS if c in df.columns] or list(df.columns)]
        every = full.to_html(
            index=False, border=0, na_rep="—", float_format=_number, classes="dnb-usage-full"
        )
        self.table.value = (
            f"{_NOWRAP}{note}<div style='font-size:12px'>{compact}</div>"
            f"<details class='dnb-usage-details' style='font-size:12px'><summary>"
            f"All columns ({len(full.columns)})</summary>{every}</details>"
        )


def _number(value: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:.6f}" if abs(value) < 1 else f"{value:,.1f}"
