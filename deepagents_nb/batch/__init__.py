"""Batch runs: `agent.map` over a DataFrame, resumable, rate-limit aware, with progress.

    results = agent.map(df, "Classify: {text}", output_type=Label, concurrency=16)

Each row runs in its own thread `"{batch_id}/{label}"` of the agent's
checkpointer, so running the same batch again skips the rows already done (0
model calls), retries the failed ones and continues the paused ones whose
decision was recorded (`agent.batch_interrupts`, `agent.decide_batch`). One
`RateLimiter` shared by all rows adapts concurrency to the provider's 429s. A row
that fails is a row with its error: the batch never raises for one row.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from deepagents_nb.batch.frame import to_frame
from deepagents_nb.batch.inputs import Row, Rows, to_rows
from deepagents_nb.batch.limiter import LimitedModel, RateLimiter
from deepagents_nb.batch.progress import Progress, choose
from deepagents_nb.batch.rows import RowOutcome, RowRunner, record_decision
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.hitl import AgentInterrupt, HitlAction, pending_turn, waiting_interrupt
from deepagents_nb.output import OutputMode, OutputSpec
from deepagents_nb.tracking import Budget

if TYPE_CHECKING:
    import pandas as pd

    from deepagents_nb.agent import DeepAgent

Backend = Literal["local", "ray"]

__all__ = [
    "BatchBackend",
    "BatchInterrupt",
    "LocalBackend",
    "RateLimiter",
    "amap",
    "batch_interrupts",
    "decide_batch",
]


@dataclass(frozen=True)
class BatchInterrupt:
    """A paused row: its label, thread and what it waits for."""

    label: Any
    thread_id: str
    interrupt: AgentInterrupt


async def amap(
    agent: DeepAgent,
    inputs: Any,
    prompt: str | None = None,
    *,
    output_type: Any = None,
    output_mode: OutputMode | None = None,
    concurrency: int = 8,
    batch_id: str | None = None,
    backend: Backend = "local",
    budget: Budget | None = None,
    rpm: float | None = None,
    tpm: float | None = None,
    progress: bool | Progress = True,
    ray_address: str | None = None,
    agent_factory: Callable[[], DeepAgent] | None = None,
) -> pd.DataFrame:
    """Run `agent` on every row of `inputs`; see `DeepAgent.map`."""
    rows_backend = _backend(agent, backend, concurrency, rpm, tpm, ray_address, agent_factory)
    rows = to_rows(inputs, prompt)
    output = agent._output(output_type, output_mode)
    if batch_id is None:
        batch_id = default_batch_id(agent, prompt, output, rows)
        print(f"batch {batch_id}: {len(rows.rows)} rows (the same call resumes it)")
    limiter = RateLimiter(concurrency, rpm=rpm, tpm=tpm)
    runner = RowRunner(_limited(agent, limiter), batch_id, output)
    spent = _Spent(budget)
    runner.over_budget = spent.reason
    display = choose(progress)
    display.start(len(rows.rows), batch_id)
    outcomes: list[RowOutcome | None] = [None] * len(rows.rows)

    def finished(outcome: RowOutcome) -> None:
        spent.add(outcome)
        outcomes[outcome.row.position] = outcome
        display.row(outcome)

    try:
        await rows_backend.run(rows.rows, runner, finished)
    finally:
        display.finish()
    done = [o for o in outcomes if o is not None]
    return to_frame(done, rows.index, structured=output is not None)


def _backend(
    agent: DeepAgent,
    backend: Backend,
    concurrency: int,
    rpm: float | None,
    tpm: float | None,
    ray_address: str | None,
    agent_factory: Callable[[], DeepAgent] | None,
) -> BatchBackend:
    """Where the rows run; a Ray batch is checked here, before anything starts."""
    if backend == "local":
        if ray_address is not None or agent_factory is not None:
            raise ConfigurationError('ray_address and agent_factory are for backend="ray"')
        return LocalBackend(concurrency)
    if backend == "ray":
        from deepagents_nb.batch.ray_backend import (
            RayBackend,
            check_shared_store,
            require_factory,
        )

        factory = require_factory(agent_factory)
        check_shared_store(agent, "this agent")
        return RayBackend(factory, concurrency, rpm=rpm, tpm=tpm, ray_address=ray_address)
    raise ConfigurationError(f'backend must be "local" or "ray", got {backend!r}')


class BatchBackend(Protocol):
    """Where a batch's rows run: here on asyncio (`LocalBackend`) or on a cluster."""

    async def run(
        self,
        rows: Sequence[Row],
        runner: RowRunner,
        finished: Callable[[RowOutcome], None],
    ) -> None:
        """Run every row (`runner.run(row)`, which never raises) and report each outcome
        to `finished` as it arrives; on cancellation, stop and leave finished rows stored."""
        ...


@dataclass
class LocalBackend:
    """Rows as asyncio tasks in this process, at most `concurrency` at once."""

    concurrency: int

    async def run(
        self,
        rows: Sequence[Row],
        runner: RowRunner,
        finished: Callable[[RowOutcome], None],
    ) -> None:
        slots = asyncio.Semaphore(self.concurrency)

        async def one(row: Row) -> None:
            async with slots:
                outcome = await runner.run(row)
            finished(outcome)

        tasks = [asyncio.ensure_future(one(row)) for row in rows]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()  # cancelled (Ctrl-C, a Cancel button): finished rows stay stored


def default_batch_id(
    agent: DeepAgent, prompt: str | None, output: OutputSpec[Any] | None, rows: Rows
) -> str:
    """`batch-` and a digest of what the rows are asked (`batch_parts`, the prompt and
    the rows): the same batch asked again gets the same id, and so finds its rows'
    threads; an agent changed in between starts afresh."""
    parts = [*batch_parts(agent, output), prompt or "", rows.fingerprint()]
    return "batch-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def batch_parts(agent: DeepAgent, output: OutputSpec[Any] | None) -> list[str]:
    """What makes an agent answer differently: its model, instructions, tools and
    settings, and the output type asked for (batch ids are digests of these)."""
    config = agent.config
    tools = sorted((t.name, t.description) for t in agent.tools.values())
    return [
        agent.name,
        agent.model.provider,
        agent.model.model_name,
        agent.system_prompt,
        json.dumps(tools),
        f"{config.temperature}|{config.max_tokens}|{config.max_turns}",
        json.dumps(output.format.schema, sort_keys=True) if output is not None else "",
        output.mode if output is not None else "",
    ]


def _limited(agent: DeepAgent, limiter: RateLimiter) -> DeepAgent:
    """The agent with its model behind `limiter` (same tools, store, ledger, events)."""
    from deepagents_nb.agent import DeepAgent

    # The agent's own store even when none was configured (its default in-memory one):
    # a copy's fresh store would hide the rows from a re-run and from `agent.get_state`.
    model = LimitedModel(agent.model, limiter)
    config = replace(agent.config, model=model, checkpointer=agent.checkpointer)
    with warnings.catch_warnings():  # the agent warned about its set-up already
        warnings.simplefilter("ignore")
        return DeepAgent(config)


class _Spent:
    """A batch's tokens and cost so far, against `Budget.max_*_per_batch`."""

    def __init__(self, budget: Budget | None) -> None:
        self.budget = budget
        self.tokens = 0
        self.cost = 0.0

    def add(self, outcome: RowOutcome) -> None:
        self.tokens += outcome.total_tokens
        self.cost += outcome.cost_usd or 0.0

    def reason(self) -> str | None:
        budget = self.budget
        if budget is None:
            return None
        if budget.max_tokens_per_batch is not None and self.tokens >= budget.max_tokens_per_batch:
            return f"the batch's token budget ({budget.max_tokens_per_batch:,}) is spent"
        if budget.max_cost_per_batch is not None and self.cost >= budget.max_cost_per_batch:
            return f"the batch's cost budget (${budget.max_cost_per_batch:g}) is spent"
        return None


async def batch_interrupts(agent: DeepAgent, batch_id: str) -> list[BatchInterrupt]:
    """The rows of `batch_id` that wait for an approval, in thread order."""
    prefix = f"{batch_id}/"
    found = []
    for thread in sorted(t for t in await agent.alist_threads() if t.startswith(prefix)):
        stored = await agent.checkpointer.load(thread)
        if stored is None:
            continue
        interrupt = waiting_interrupt(pending_turn(stored.state), thread)
        if interrupt is not None:
            found.append(BatchInterrupt(thread[len(prefix) :], thread, interrupt))
    return found


async def decide_batch(
    agent: DeepAgent,
    batch_id: str,
    decisions: HitlAction | Mapping[Any, HitlAction],
) -> int:
    """Record decisions for paused rows (one action for all, or by row label); the next
    `map` of the batch carries them out. Returns how many rows got a decision."""
    waiting = await batch_interrupts(agent, batch_id)
    by_label: Iterable[tuple[BatchInterrupt, HitlAction]]
    if isinstance(decisions, HitlAction):
        by_label = [(w, decisions) for w in waiting]
    else:
        wanted = {str(label): action for label, action in decisions.items()}
        unknown = set(wanted) - {str(w.label) for w in waiting}
        if unknown:
            raise ConfigurationError(
                f"no paused row labelled {', '.join(sorted(unknown))} in batch {batch_id!r}"
            )
        by_label = [(w, wanted[str(w.label)]) for w in waiting if str(w.label) in wanted]
    count = 0
    for paused, action in by_label:
        await record_decision(agent, paused.thread_id, action)
        count += 1
    return count
