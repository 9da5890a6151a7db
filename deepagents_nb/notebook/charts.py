"""Plotly charts of token usage and cost, from `agent.usage.to_dataframe()`.

from deepagents_nb.notebook.charts import cost_figure
cost_figure(agent.usage.to_dataframe()).show()
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

INPUT_COLOR = "#6366f1"
OUTPUT_COLOR = "#f59e0b"
COST_COLOR = "#15803d"


def _numbers(df: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column, NaN where unknown; zeros for token columns a frame lacks."""
    if column not in df.columns:
        zeros: pd.Series = pd.Series(0.0, index=df.index, dtype="float64")
        return zeros
    numbers: pd.Series = pd.to_numeric(df[column], errors="coerce").astype("float64")
    return numbers


def _labels(df: pd.DataFrame, column: str, default: str = "") -> pd.Series:
    if column not in df.columns:
        return pd.Series(default, index=df.index, dtype="object")
    labels: pd.Series = df[column].astype("object").where(df[column].notna(), default)
    return labels.astype(str)


def _models(df: pd.DataFrame) -> pd.Series:
    provider, model = _labels(df, "provider"), _labels(df, "model", "unknown")
    return (provider + ":" + model).str.lstrip(":")


def nice_step(top: float, ticks: int = 4) -> float:
    """A tick step of 1, 2 or 5 times a power of ten that splits 0..`top` in about `ticks`."""
    if not math.isfinite(top) or top <= 0:
        return 1.0
    raw = top / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    return float(f"{step:.1g}")  # 0.30000000000000004 -> 0.3


def cost_axis(top: float) -> dict[str, object]:
    """A USD axis from 0 to past `top`: round steps, labels like $0.020."""
    step = nice_step(top)
    decimals = max(2, -math.floor(math.log10(step)))
    upper = step * max(1, math.ceil(top / step - 1e-9))
    return {
        "tickmode": "linear",
        "tick0": 0,
        "dtick": step,
        "range": [0, upper * 1.05],  # room for the highest marker
        "tickformat": f"$.{decimals}f",
    }


def cost_figure(df: pd.DataFrame, *, title: str = "Tokens and cost") -> go.Figure:
    """Tokens (stacked input/output bars) and cost (USD, right axis) per request and per model.

    Takes `UsageLedger.to_dataframe()`; an empty frame gives an empty chart that
    says so, and unknown costs (NaN) are left out of the cost series instead of
    counting as $0.
    """
    fig = make_subplots(
        rows=2,
        cols=1,
        specs=[[{"secondary_y": True}], [{"secondary_y": True}]],
        subplot_titles=("Per request", "Per model"),
        vertical_spacing=0.2,
    )
    fig.update_layout(
        title=title,
        barmode="stack",
        height=560,
        margin={"l": 60, "r": 60, "t": 70, "b": 40},
        legend={"orientation": "h", "y": -0.08},
    )
    if df is None or df.empty:
        fig.add_annotation(
            text="No model requests yet", x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False
        )
        return fig
    data = df.reset_index(drop=True)
    data = data.assign(
        _in=_numbers(data, "input_tokens").fillna(0),
        _out=_numbers(data, "output_tokens").fillna(0),
        _cost=_numbers(data, "cost_usd"),
        _model=_models(data),
    )
    known_cost = bool(data["_cost"].notna().any())

    requests = [f"#{i + 1}" for i in range(len(data))]
    who = _labels(data, "agent") + " · " + data["_model"]
    for column, name, color in (("_in", "input", INPUT_COLOR), ("_out", "output", OUTPUT_COLOR)):
        fig.add_trace(
            go.Bar(
                x=requests,
                y=data[column],
                name=f"{name} tokens",
                legendgroup=name,
                marker_color=color,
                hovertext=who,
                hovertemplate="%{x} %{hovertext}<br>%{y:,.0f} " + name + " tokens<extra></extra>",
            ),
            row=1,
            col=1,
        )
    if known_cost:
        fig.add_trace(
            go.Scatter(
                x=requests,
                y=data["_cost"],
                name="cost (USD)",
                legendgroup="cost",
                mode="lines+markers",
                line={"color": COST_COLOR},
                hovertemplate="%{x}: $%{y:.6f}<extra></extra>",
            ),
            row=1,
            col=1,
            secondary_y=True,
        )

    per_model = data.groupby("_model", sort=True).agg(
        _in=("_in", "sum"), _out=("_out", "sum"), requests=("_in", "size")
    )
    # min_count=1: a model whose costs are all unknown sums to NaN, not to $0.
    per_model["_cost"] = data.groupby("_model", sort=True)["_cost"].sum(min_count=1)
    models = per_model.index.tolist()
    for column, name, color in (("_in", "input", INPUT_COLOR), ("_out", "output", OUTPUT_COLOR)):
        fig.add_trace(
            go.Bar(
                x=models,
                y=per_model[column],
                name=f"{name} tokens",
                legendgroup=name,
                showlegend=False,
                marker_color=color,
                customdata=per_model["requests"],
                hovertemplate="%{x} (%{customdata} requests)<br>%{y:,.0f} "
                + name
                + " tokens<extra></extra>",
            ),
            row=2,
            col=1,
        )
    if known_cost:
        fig.add_trace(
            go.Scatter(
                x=models,
                y=per_model["_cost"],
                name="cost (USD)",
                legendgroup="cost",
                showlegend=False,
                mode="markers",
                marker={"color": COST_COLOR, "size": 11, "symbol": "diamond"},
                hovertemplate="%{x}: $%{y:.6f}<extra></extra>",
            ),
            row=2,
            col=1,
            secondary_y=True,
        )
    else:
        fig.update_layout(title=f"{title} (cost unknown: no price for these models)")
    fig.update_yaxes(title_text="tokens", secondary_y=False)
    fig.update_yaxes(title_text="USD", secondary_y=True, showgrid=False, rangemode="tozero")
    if known_cost:
        # Plotly's own ticks for a second axis can be odd (0.01788, 0.01431, ...).
        for row, top in ((1, data["_cost"].max()), (2, per_model["_cost"].max())):
            fig.update_yaxes(cost_axis(float(top)), row=row, col=1, secondary_y=True)
    return fig
