"""`EvalReport`: an evaluation's rows, its summary per agent, a chart, save and compare.

report = dataset.evaluate([a, b], scorers=[ExactMatch(), judge])
report.summary()              # one row per agent: mean scores, pass rate, tokens, cost
report.chart()                # plotly: agents side by side, per scorer
report.save("evals/v1.json")
EvalReport.load("evals/v1.json").compare(report)   # before, after, delta
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepagents_nb.evals.values import as_jsonable
from deepagents_nb.exceptions import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

FORMAT = "deepagents-nb-eval"
VERSION = 1


@dataclass(frozen=True)
class ScorerInfo:
    """What the report needs to know of a scorer (and what a saved report keeps)."""

    name: str
    kind: str
    threshold: float
    reports_usage: bool = False
    gives_reasons: bool = False


def typed(frame: pd.DataFrame, scorers: Sequence[ScorerInfo]) -> pd.DataFrame:
    """The report's dtypes: scores and costs float (NaN when none), tokens int, `passed`
    bool; used when a report is made and when it is loaded, so both compare equal."""
    import pandas as pd

    floats = ["cost_usd", "duration_ms", *(s.name for s in scorers)]
    ints = ["total_tokens"]
    for s in scorers:
        if s.reports_usage:
            floats.append(f"{s.name}_cost_usd")
            ints.append(f"{s.name}_tokens")
    frame = frame.copy()
    for column in floats:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ints:
        frame[column] = pd.to_numeric(frame[column]).fillna(0).astype("int64")
    frame["passed"] = frame["passed"].astype(bool)
    for column in frame.columns:
        series = frame[column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            # Object columns with None for empty cells, under pandas 2 and 3 alike (whose
            # text dtype would turn a failed row's missing output into NaN).
            frame[column] = series.astype(object).where(series.notna(), None)
    return frame


class EvalReport:
    """An evaluation's result: `frame` has one row per case and agent.

    Columns: agent, case, input, expected, output, status, error, one per scorer
    (0 to 1; NaN without an output or when the scorer failed), passed, the
    scorers' reasons (`judge_reason`), score_errors, total_tokens, cost_usd and
    duration_ms (the agent's), each judge's tokens and cost (`judge_tokens`,
    `judge_cost_usd`), thread_id (open the run with `agent.get_state(thread_id)`),
    then the cases' metadata. A row passes when the agent answered and no score is
    below its scorer's threshold (or failed).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        name: str,
        dataset: str,
        agents: Sequence[str],
        scorers: Sequence[ScorerInfo],
        cases: int,
        created: str | None = None,
    ) -> None:
        self.frame = frame
        self.name = name
        self.dataset = dataset
        self.agents = list(agents)
        self.scorers = list(scorers)
        self.cases = cases
        self.created = created or datetime.now(timezone.utc).isoformat(timespec="seconds")

    @property
    def scorer_names(self) -> list[str]:
        return [s.name for s in self.scorers]

    def to_dataframe(self) -> pd.DataFrame:
        """The rows (a copy): one per case and agent."""
        rows: pd.DataFrame = self.frame.copy()
        return rows

    def failures(self) -> pd.DataFrame:
        """The rows that did not pass."""
        failed: pd.DataFrame = self.frame[~self.frame["passed"]]
        return failed

    def summary(self) -> pd.DataFrame:
        """One row per agent: rows, done, failed (no output), each scorer's mean (over
        the rows it scored), pass_rate (over all rows), total_tokens, mean_tokens,
        cost_usd (NaN when no price is known), each judge's tokens and cost, and
        mean_duration_ms."""
        import pandas as pd

        frame = self.frame
        groups = frame.groupby("agent", sort=False)
        out: pd.DataFrame = pd.DataFrame(index=pd.Index(self.agents, name="agent"))
        out["rows"] = groups.size()
        out["done"] = groups["status"].agg(lambda s: int((s == "done").sum()))
        out["failed"] = out["rows"] - out["done"]
        for name in self.scorer_names:
            out[name] = groups[name].mean()
        out["pass_rate"] = groups["passed"].mean()
        out["total_tokens"] = groups["total_tokens"].sum()
        out["mean_tokens"] = groups["total_tokens"].mean()
        out["cost_usd"] = groups["cost_usd"].sum(min_count=1)
        for s in self.scorers:
            if s.reports_usage:
                out[f"{s.name}_tokens"] = groups[f"{s.name}_tokens"].sum()
                out[f"{s.name}_cost_usd"] = groups[f"{s.name}_cost_usd"].sum(min_count=1)
        out["mean_duration_ms"] = groups["duration_ms"].mean()
        return out

    def chart(self, *, title: str | None = None) -> go.Figure:
        """A plotly bar chart: per scorer (and the pass rate), one bar per agent."""
        from deepagents_nb.evals.chart import scores_figure

        return scores_figure(
            self.summary(), [*self.scorer_names, "pass_rate"], title or f"Evaluation {self.name}"
        )

    def compare(self, baseline: EvalReport) -> pd.DataFrame:
        """This report against an earlier one: per agent and metric (each scorer's mean,
        pass_rate, cost_usd), `before` (the baseline), `after` (this) and `delta`. An
        agent or scorer only one report has gets NaN on the other side."""
        import pandas as pd

        if not isinstance(baseline, EvalReport):
            raise ConfigurationError(f"compare takes an EvalReport, not {baseline!r}")
        before, after = baseline.summary(), self.summary()
        metrics = list(dict.fromkeys([*self.scorer_names, *baseline.scorer_names]))
        metrics += ["pass_rate", "cost_usd"]
        agents = list(dict.fromkeys([*self.agents, *baseline.agents]))
        records = [
            {
                "agent": agent,
                "metric": metric,
                "before": _cell(before, agent, metric),
                "after": _cell(after, agent, metric),
            }
            for agent in agents
            for metric in metrics
        ]
        columns = ["agent", "metric", "before", "after"]
        table: pd.DataFrame = pd.DataFrame.from_records(records, columns=columns)
        table[["before", "after"]] = table[["before", "after"]].astype("float64")
        table["delta"] = table["after"] - table["before"]
        return table

    # ----- saving --------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON (rows and what produced them); returns the path.

        Structured outputs and expected answers are kept as their JSON data, so a
        loaded report has dicts where this one has models.
        """
        target = Path(path)
        document = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "dataset": self.dataset,
            "cases": self.cases,
            "agents": self.agents,
            "scorers": [asdict(s) for s in self.scorers],
            "created": self.created,
            "columns": [str(c) for c in self.frame.columns],
            "rows": [
                [_json_cell(v) for v in row]
                for row in self.frame.itertuples(index=False, name=None)
            ],
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1))
        return target

    @classmethod
    def load(cls, path: str | Path) -> EvalReport:
        """A report `save` wrote.

        Raises:
            ConfigurationError: the file is not a saved evaluation report.
        """
        import pandas as pd

        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read an evaluation report from {path}: {exc}"
            ) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ConfigurationError(f"{path} is not an evaluation report saved by save()")
        if document.get("version") != VERSION:
            raise ConfigurationError(
                f"{path} is a version {document.get('version')} report; this version of "
                f"deepagents-nb reads version {VERSION}"
            )
        scorers = [ScorerInfo(**s) for s in document["scorers"]]
        frame = pd.DataFrame.from_records(document["rows"], columns=document["columns"])
        return cls(
            typed(frame, scorers),
            name=document["name"],
            dataset=document["dataset"],
            agents=document["agents"],
            scorers=scorers,
            cases=document["cases"],
            created=document["created"],
        )

    # ----- display -------------------------------------------------------------------------

    def _headline(self) -> str:
        return (
            f"Evaluation {self.name!r}: dataset {self.dataset!r} ({self.cases} cases), "
            f"{len(self.agents)} agent(s), scorers {', '.join(self.scorer_names)}"
        )

    def _shown(self) -> pd.DataFrame:
        # Without timings, so it reads well and saved notebooks stay stable.
        shown: pd.DataFrame = self.summary().drop(columns="mean_duration_ms")
        return shown

    def __repr__(self) -> str:
        return f"{self._headline()}\n{self._shown().to_string()}"

    def _repr_html_(self) -> str:
        table = self._shown().to_html(float_format=lambda x: f"{x:.4g}", na_rep="-")
        return (
            f"<div><p style='font-family:system-ui,sans-serif'><b>{escape(self._headline())}"
            f"</b><br><small>{len(self.frame)} rows, {len(self.failures())} not passed; "
            f"<code>.frame</code> has them all, <code>.chart()</code> draws them</small></p>"
            f"{table}</div>"
        )


def _cell(summary: pd.DataFrame, agent: str, metric: str) -> float:
    if agent in summary.index and metric in summary.columns:
        value: Any = summary.at[agent, metric]
        return float(value)
    return math.nan


def _json_cell(value: Any) -> Any:
    """A cell as JSON: NaN and pandas' missing values as null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()  # numpy scalars from int and bool columns
        if isinstance(value, float) and math.isnan(value):
            return None
    try:
        return as_jsonable(value)
    except Exception:  # an exotic metadata value: keep its text rather than fail the save
        return str(value)
