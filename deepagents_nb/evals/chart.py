"""The plotly chart of an evaluation: per metric, one bar per agent, side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

# The cost charts' indigo, amber and green first, so one notebook reads as one palette.
AGENT_COLORS = ("#6366f1", "#f59e0b", "#15803d", "#db2777", "#0891b2", "#7c3aed", "#b91c1c")


def scores_figure(summary: pd.DataFrame, metrics: Sequence[str], title: str) -> go.Figure:
    """Grouped bars from `EvalReport.summary()`: x is the metrics (scorers, pass rate),
    one trace per agent (its y values are its means, 0 to 1). Hover shows the agent's
    rows, failures and cost; a metric with no score (NaN) draws no bar."""
    fig = go.Figure()
    fig.update_layout(
        title=title,
        barmode="group",
        height=420,
        margin={"l": 60, "r": 30, "t": 70, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        yaxis={"title": "score", "range": [0, 1.08], "tickformat": ".0%"},
    )
    labels = [m.replace("_", " ") for m in metrics]
    for position, (agent, row) in enumerate(summary.iterrows()):
        values = [_value(row.get(m)) for m in metrics]
        cost = row.get("cost_usd")
        spent = "cost unknown" if cost is None or pd.isna(cost) else f"${float(cost):.4f}"
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=str(agent),
                marker_color=AGENT_COLORS[position % len(AGENT_COLORS)],
                text=["" if v is None else f"{v:.0%}" for v in values],
                textposition="outside",
                hovertemplate=(
                    f"<b>{agent}</b> · %{{x}}: %{{y:.1%}}<br>{int(row['done'])}/"
                    f"{int(row['rows'])} rows answered, {spent}<extra></extra>"
                ),
            )
        )
    if summary.empty:
        fig.add_annotation(
            text="No agents evaluated", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False
        )
    return fig


def _value(value: object) -> float | None:
    if value is None or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)
