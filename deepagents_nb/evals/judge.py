"""`Judge`: an LLM grades each output against a rubric (and the expected answer).

The judge is a small agent of its own: no tools, no middleware, a `Grade` as its
structured output, and its own token tracking, so what judging costs is reported
apart from what the agents cost. Its grades run through `agent.map`, so they share
one rate limiter and are kept in its checkpointer's threads: an output graded
once (same rubric, case and output) is not graded, nor paid for, again.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from deepagents_nb.agent import AgentConfig, DeepAgent
from deepagents_nb.evals.dataset import Case
from deepagents_nb.evals.scorers import Attempt, Score, Scorer
from deepagents_nb.evals.values import digest, json_text
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.models.registry import ModelSpec, resolve_model
from deepagents_nb.output import DEFAULT_RETRIES, OutputMode, OutputSpec
from deepagents_nb.tracking import TokenTrackingConfig, build_tracker

if TYPE_CHECKING:
    from deepagents_nb.batch.progress import Progress
    from deepagents_nb.ledger import UsageLedger
    from deepagents_nb.persistence.base import Checkpointer


class Grade(BaseModel):
    """A judge's verdict on one answer."""

    score: float = Field(ge=0, le=1, description="0: wrong or useless; 1: fully meets the rubric")
    reason: str = Field(description="One or two sentences saying why")


INSTRUCTIONS = """\
You grade answers that an AI agent gave to tasks. For each, read the task, the \
expected answer when there is one, and the agent's answer, then grade the agent's \
answer against the rubric below with a score from 0 (wrong or useless) to 1 (fully \
meets the rubric), and give a short reason. Grade only what the rubric asks.

Rubric:
{rubric}"""


class Judge(Scorer):
    """An LLM judge: `Judge("openai:gpt-4o-mini", "Is the answer correct and brief?")`.

    Args:
        model: Any model the agents accept: a `ChatModel` (a `FunctionModel` offline)
            or a `"provider:model"` string.
        rubric: What a good answer is.
        name: The score's column (also `{name}_reason`, `{name}_tokens`,
            `{name}_cost_usd`).
        threshold: The lowest score that passes.
        output_mode: How the judge's model gives its grade (`"tool"`, `"native"` or
            `"prompted"`, as for agents).
        checkpointer: Where grades are kept (in memory by default; a
            `SqliteCheckpointer` keeps them across restarts).
        token_tracking: Prices for a model the price list does not know
            (`TokenTrackingConfig(custom_costs=...)`).
    """

    reports_usage = True
    gives_reasons = True

    def __init__(
        self,
        model: ModelSpec,
        rubric: str,
        *,
        name: str = "judge",
        threshold: float = 0.5,
        output_mode: OutputMode = "tool",
        checkpointer: Checkpointer | None = None,
        token_tracking: TokenTrackingConfig | None = None,
    ) -> None:
        if not isinstance(rubric, str) or not rubric.strip():
            raise ConfigurationError("a Judge needs a rubric: what makes an answer good")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigurationError(f"a Judge's threshold is from 0 to 1, got {threshold!r}")
        tracking = token_tracking or TokenTrackingConfig(log_usage=False)
        if not tracking.enabled:
            raise ConfigurationError("a Judge tracks its own cost: token tracking must be on")
        self.name = name
        self.rubric = rubric
        self.threshold = threshold
        chat_model = resolve_model(model)
        config = AgentConfig(
            instructions=INSTRUCTIONS.format(rubric=rubric.strip()),
            name=name,
            model=chat_model,
            checkpointer=checkpointer,
            token_tracking=build_tracker(tracking, None),
            output=OutputSpec(Grade, output_mode, DEFAULT_RETRIES),
            max_turns=1 + DEFAULT_RETRIES,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.agent: DeepAgent = DeepAgent(config)
        # Grades of another rubric or model are other threads.
        self.batch_id = "judge-" + digest(
            name, rubric, chat_model.provider, chat_model.model_name, output_mode
        )

    @property
    def usage(self) -> UsageLedger:
        """Every model request the judge made (tokens and cost of judging)."""
        return self.agent.usage

    def __repr__(self) -> str:
        model = self.agent.model
        return f"Judge(name={self.name!r}, model={model.provider}:{model.model_name})"

    def prompt(self, case: Case, output: Any) -> str:
        """What the judge is asked about one output."""
        parts = [f"## Task\n{case.input}"]
        if case.expected is not None:
            parts.append(f"## Expected answer\n{json_text(case.expected)}")
        parts.append(f"## The agent's answer\n{json_text(output)}")
        return "\n\n".join(parts)

    async def ascore(self, case: Case, output: Any) -> Score:
        return (await self.ascore_many([Attempt("", case, output)]))[0]

    async def ascore_many(
        self,
        attempts: Sequence[Attempt],
        *,
        concurrency: int = 8,
        progress: bool | Progress = False,
    ) -> list[Score]:
        """Grade every attempt as one batch of the judge agent; never raises."""
        import pandas as pd

        if not attempts:
            return []
        prompts = [self.prompt(a.case, a.output) for a in attempts]
        # A label per agent, case and prompt: a changed output is a new thread, graded anew.
        labels = [
            f"{a.agent}|{a.case.name}|{digest(p)}" for a, p in zip(attempts, prompts, strict=True)
        ]
        unique = dict(zip(labels, prompts, strict=True))
        try:
            frame = await self.agent.amap(
                pd.Series(list(unique.values()), index=list(unique), dtype=object),
                batch_id=self.batch_id,
                concurrency=concurrency,
                progress=progress,
            )
        except Exception as exc:  # e.g. a model that cannot be reached at all
            return [Score(None, error=f"{type(exc).__name__}: {exc}") for _ in attempts]
        scores: list[Score] = []
        charged: set[str] = set()
        for label in labels:
            row = frame.loc[label]
            first = label not in charged  # the same prompt twice is graded and paid once
            charged.add(label)
            tokens = int(row["total_tokens"]) if first else 0
            cost = (None if pd.isna(row["cost_usd"]) else float(row["cost_usd"])) if first else 0.0
            if row["status"] == "done":
                grade, reason, error = float(row["score"]), str(row["reason"]), None
            else:
                grade, reason = None, None
                error = f"judge: {row['error'] or 'its run was ' + str(row['status'])}"
            scores.append(Score(grade, reason, error, tokens=tokens, cost_usd=cost))
        return scores
