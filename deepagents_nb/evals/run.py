"""`aevaluate`: every case on every agent (through `agent.amap`), then every scorer.

Each agent's cases are one batch whose id is a digest of the evaluation's name, the
agent (label, model, instructions, tools, settings), the output type and the cases'
inputs: the same evaluation run again finds its rows' threads and skips the
finished ones, while a changed prompt or model runs afresh.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from deepagents_nb.agent import DeepAgent
from deepagents_nb.batch import batch_parts
from deepagents_nb.batch.frame import STATUS_COLUMNS
from deepagents_nb.evals.dataset import Dataset
from deepagents_nb.evals.report import EvalReport, ScorerInfo, typed
from deepagents_nb.evals.scorers import Attempt, Score, Scorer, as_scorers
from deepagents_nb.evals.values import digest
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.output import OUTPUT_KEY, OutputMode, OutputSpec

if TYPE_CHECKING:
    import pandas as pd

    from deepagents_nb.batch.progress import Progress
    from deepagents_nb.tracking import Budget

RESERVED = (
    "agent",
    "case",
    "input",
    "expected",
    "output",
    "status",
    "error",
    "passed",
    "score_errors",
    "total_tokens",
    "cost_usd",
    "duration_ms",
    "thread_id",
)
"""The report's own columns; scorers and metadata keys may not take these names."""


async def aevaluate(
    dataset: Dataset,
    agents: DeepAgent | Sequence[DeepAgent] | Mapping[str, DeepAgent],
    scorers: Sequence[Any],
    *,
    output_type: Any = None,
    output_mode: OutputMode | None = None,
    concurrency: int = 8,
    budget: Budget | None = None,
    progress: bool | Progress = True,
    name: str | None = None,
) -> EvalReport:
    """See `Dataset.evaluate`."""
    if not isinstance(dataset, Dataset):
        raise ConfigurationError(f"evaluate runs a Dataset, not {type(dataset).__name__}")
    labelled = label_agents(agents)
    checked = as_scorers(scorers, reserved=RESERVED)
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, got {concurrency}")
    eval_name = name or dataset.name

    async def one(label: str, agent: DeepAgent) -> list[dict[str, Any]]:
        spec = agent._output(output_type, output_mode)
        frame = await agent.amap(
            _inputs(dataset),
            output_type=spec,
            concurrency=concurrency,
            batch_id=batch_id(eval_name, label, agent, spec, dataset),
            budget=budget,
            progress=progress,
        )
        return await _rows(label, agent, spec, frame, dataset)

    per_agent = await asyncio.gather(*(one(label, a) for label, a in labelled.items()))
    rows = [row for rows in per_agent for row in rows]
    attempts = [Attempt(row["agent"], row["_case"], row["output"]) for row in rows if _ok(row)]
    # A display given as `progress=` is for the agents' batches; a judge's batch shows the
    # default one (a widget or a bar) unless progress is off.
    judged = await asyncio.gather(
        *(_scored(s, attempts, concurrency, progress is not False) for s in checked)
    )
    _fill(rows, checked, judged)
    info = [
        ScorerInfo(s.name, type(s).__name__, s.threshold, s.reports_usage, s.gives_reasons)
        for s in checked
    ]
    return EvalReport(
        _frame(rows, info),
        name=eval_name,
        dataset=dataset.name,
        agents=list(labelled),
        scorers=info,
        cases=len(dataset),
    )


def label_agents(
    agents: DeepAgent | Sequence[DeepAgent] | Mapping[str, DeepAgent],
) -> dict[str, DeepAgent]:
    """Agents by label: one agent or a list by `agent.name`, a dict by its keys."""
    if isinstance(agents, DeepAgent):
        return {agents.name: agents}
    if isinstance(agents, Mapping):
        pairs = [(str(label), agent) for label, agent in agents.items()]
    elif isinstance(agents, Sequence) and not isinstance(agents, str | bytes):
        pairs = [(getattr(a, "name", ""), a) for a in agents]
        names = [label for label, _ in pairs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigurationError(
                f"several agents are named {', '.join(map(repr, twice))}: name them "
                f"(create_deep_agent(name=...)) or pass a dict {{label: agent}}"
            )
    else:
        raise ConfigurationError(
            f"evaluate takes an agent, a list of agents or a dict of them, not {agents!r}"
        )
    for label, agent in pairs:
        if not isinstance(agent, DeepAgent):
            raise ConfigurationError(f"{agent!r} (as {label!r}) is not an agent (DeepAgent)")
        if not label:
            raise ConfigurationError("an agent's label cannot be empty")
    if not pairs:
        raise ConfigurationError("give at least one agent to evaluate")
    return dict(pairs)


def batch_id(
    eval_name: str, label: str, agent: DeepAgent, spec: OutputSpec[Any] | None, dataset: Dataset
) -> str:
    """`eval-<name>-<label>-<digest>`: stable while the evaluation asks the same."""
    parts = [eval_name, label, *batch_parts(agent, spec), dataset.fingerprint()]
    return f"eval-{_slug(eval_name)}-{_slug(label)}-{digest(*parts)}"


def _slug(text: str) -> str:
    # Batch ids name threads: keep them readable and free of "/" (a thread separator).
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "x"


def _inputs(dataset: Dataset) -> pd.Series:
    import pandas as pd

    names = pd.Index([c.name for c in dataset], dtype=object)
    return pd.Series([c.input for c in dataset], index=names, dtype=object)


async def _rows(
    label: str,
    agent: DeepAgent,
    spec: OutputSpec[Any] | None,
    frame: pd.DataFrame,
    dataset: Dataset,
) -> list[dict[str, Any]]:
    """One record per case from `agent.map`'s frame; structured outputs read back whole
    from the rows' threads (the frame has only their fields, flattened)."""
    status = frame.iloc[:, -len(STATUS_COLUMNS) :].set_axis(list(STATUS_COLUMNS), axis=1)

    async def output(position: int) -> Any:
        if status["status"].iat[position] != "done":
            return None
        if spec is None:
            return frame.iloc[position, 0]  # the text, in the `output` column
        stored = await agent.checkpointer.load(status["thread_id"].iat[position])
        kept = stored.state.extra.get(OUTPUT_KEY) if stored is not None else None
        if not isinstance(kept, dict) or "value" not in kept:
            return None
        return spec.from_json(kept["value"])

    outputs = await asyncio.gather(*(output(i) for i in range(len(frame))))
    rows = []
    for position, case in enumerate(dataset):
        line = status.iloc[position]
        rows.append(
            {
                "agent": label,
                "case": case.name,
                "input": case.input,
                "expected": case.expected,
                "output": outputs[position],
                "status": line["status"],
                "error": line["error"],
                "total_tokens": int(line["total_tokens"]),
                "cost_usd": line["cost_usd"],
                "duration_ms": line["duration_ms"],
                "thread_id": line["thread_id"],
                "_case": case,
            }
        )
    return rows


def _ok(row: Mapping[str, Any]) -> bool:
    return bool(row["status"] == "done")


async def _scored(
    scorer: Scorer, attempts: list[Attempt], concurrency: int, progress: bool
) -> list[Score]:
    try:
        scores = await scorer.ascore_many(attempts, concurrency=concurrency, progress=progress)
    except Exception as exc:  # a broken scorer costs its column, not the report
        return [Score(None, error=f"{type(exc).__name__}: {exc}") for _ in attempts]
    if len(scores) != len(attempts):
        error = f"{scorer.name} gave {len(scores)} scores for {len(attempts)} outputs"
        return [Score(None, error=error) for _ in attempts]
    return scores


def _fill(rows: list[dict[str, Any]], scorers: list[Scorer], judged: list[list[Score]]) -> None:
    """Scores into the rows (none for rows without an output), and whether each passed."""
    done = [row for row in rows if _ok(row)]
    for row in rows:
        row["passed"] = _ok(row)
        row["score_errors"] = None
    for scorer, scores in zip(scorers, judged, strict=True):
        for row in rows:
            row[scorer.name] = None
            row[f"{scorer.name}_reason"] = None
            row[f"{scorer.name}_tokens"] = 0
            row[f"{scorer.name}_cost_usd"] = 0.0
        for row, score in zip(done, scores, strict=True):
            row[scorer.name] = score.value
            row[f"{scorer.name}_reason"] = score.reason
            row[f"{scorer.name}_tokens"] = score.tokens
            row[f"{scorer.name}_cost_usd"] = score.cost_usd
            if score.error is not None:
                note = f"{scorer.name}: {score.error}"
                row["score_errors"] = "; ".join(filter(None, [row["score_errors"], note]))
                row["passed"] = False
            elif score.value is not None and score.value < scorer.threshold:
                row["passed"] = False


def _frame(rows: list[dict[str, Any]], scorers: list[ScorerInfo]) -> pd.DataFrame:
    """The report's frame: the columns in their order, then the cases' metadata (a key
    that is a column already is `metadata_<key>`)."""
    import pandas as pd

    columns = [*RESERVED[:7], *(s.name for s in scorers), "passed"]
    columns += [f"{s.name}_reason" for s in scorers if s.gives_reasons]
    columns += ["score_errors", "total_tokens", "cost_usd", "duration_ms"]
    for s in scorers:
        if s.reports_usage:
            columns += [f"{s.name}_tokens", f"{s.name}_cost_usd"]
    columns.append("thread_id")
    keys = list(dict.fromkeys(k for row in rows for k in row["_case"].metadata))
    renamed = {k: k if k not in columns else f"metadata_{k}" for k in keys}
    records = []
    for row in rows:
        record = {c: row.get(c) for c in columns}
        metadata: dict[str, Any] = row["_case"].metadata
        record.update({renamed[k]: metadata.get(k) for k in keys})
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=[*columns, *renamed.values()])
    return typed(frame, scorers)
