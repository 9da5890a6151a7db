"""One row of a batch: read its thread, skip it, continue it, or run it; never raise.

A row's thread is `"{batch_id}/{label}"` in the agent's checkpointer, so what a
row did survives the process. A thread that ended with an answer is done (its
output is read back: no model call); one paused for an approval continues when a
decision was recorded for it (`record_decision`), else stays paused; one left
unfinished by a failure or a crash starts again from a fresh thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from deepagents_nb.batch.inputs import Row
from deepagents_nb.hitl import AgentInterrupt, HitlAction, pending_turn, waiting_interrupt
from deepagents_nb.output import OUTPUT_KEY, OutputSpec
from deepagents_nb.state import AgentStateSnapshot

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent
    from deepagents_nb.results import AgentResult

Status = Literal["done", "failed", "paused", "skipped"]
DECISION_KEY = "batch_decision"
"""Where a paused row's recorded decision waits for the next `map` (in `state.extra`)."""


@dataclass
class RowOutcome:
    """What became of one row."""

    row: Row
    thread_id: str
    status: Status
    output: Any = None
    error: str | None = None
    total_tokens: int = 0
    cost_usd: float | None = 0.0
    duration_ms: float = 0.0
    interrupt: AgentInterrupt | None = None
    model_calls: int = 0
    from_store: bool = False


@dataclass
class RowRunner:
    """Runs rows for one batch: the agent (whose model the limiter wraps) and its settings."""

    agent: DeepAgent
    batch_id: str
    output: OutputSpec[Any] | None
    over_budget: Callable[[], str | None] = field(default=lambda: None)

    def thread_of(self, row: Row) -> str:
        return f"{self.batch_id}/{row.label}"

    async def run(self, row: Row) -> RowOutcome:
        """The row's outcome; every failure is an outcome, never an exception."""
        thread = self.thread_of(row)
        started = time.perf_counter()
        try:
            stored = await self.agent.checkpointer.load(thread)
            state = stored.state if stored is not None else None
            if state is not None:
                interrupt = waiting_interrupt(pending_turn(state), thread)
                if interrupt is not None:
                    action = _decision_for(state, interrupt)
                    if action is None:
                        return RowOutcome(row, thread, "paused", interrupt=interrupt)
                    return await self._finish(row, thread, started, resume=action)
                found = self._from_store(row, thread, state)
                if found is not None:
                    return found
                await self.agent.adelete_thread(thread)  # a failed or crashed try: start over
            why = self.over_budget()
            if why is not None:
                return RowOutcome(row, thread, "skipped", error=why)
            return await self._finish(row, thread, started)
        except Exception as exc:  # a row never fails the batch
            return self._failed(row, thread, started, exc)

    def _from_store(self, row: Row, thread: str, state: AgentStateSnapshot) -> RowOutcome | None:
        """A finished row's outcome, read back; None when the thread did not finish."""
        if self.output is not None:
            stored = state.extra.get(OUTPUT_KEY)
            if not isinstance(stored, dict) or "value" not in stored:
                return None
            value = self.output.from_json(stored["value"])
            return RowOutcome(row, thread, "done", output=value, from_store=True)
        last = state.messages[-1] if state.messages else None
        if last is not None and last.role == "assistant" and not last.tool_calls:
            return RowOutcome(row, thread, "done", output=last.content, from_store=True)
        return None

    async def _finish(
        self, row: Row, thread: str, started: float, resume: HitlAction | None = None
    ) -> RowOutcome:
        try:
            if resume is not None:
                result = await self.agent.aresume_with_approval(
                    resume, thread, output_type=self.output
                )
            else:
                result = await self.agent.ahandle_message(
                    row.prompt, thread, output_type=self.output
                )
        except Exception as exc:
            return self._failed(row, thread, started, exc)
        return self._outcome(row, thread, started, result)

    def _outcome(
        self, row: Row, thread: str, started: float, result: AgentResult[Any]
    ) -> RowOutcome:
        paused = result.interrupt is not None
        return RowOutcome(
            row,
            thread,
            "paused" if paused else "done",
            output=None if paused else result.output if self.output is not None else result.text,
            interrupt=result.interrupt,
            total_tokens=result.usage.total_tokens,
            cost_usd=self.agent.usage.total(thread_id=thread).cost_usd,
            duration_ms=(time.perf_counter() - started) * 1000,
            model_calls=result.usage.requests,
        )

    def _failed(self, row: Row, thread: str, started: float, exc: Exception) -> RowOutcome:
        return RowOutcome(
            row,
            thread,
            "failed",
            error=f"{type(exc).__name__}: {exc}",
            duration_ms=(time.perf_counter() - started) * 1000,
        )


def _decision_for(state: AgentStateSnapshot, interrupt: AgentInterrupt) -> HitlAction | None:
    """The decision recorded for the call the row waits on now (not an older one)."""
    recorded = state.extra.get(DECISION_KEY)
    if not isinstance(recorded, dict) or recorded.get("call_id") != interrupt.call_id:
        return None
    return HitlAction.model_validate(recorded["action"])


async def record_decision(agent: DeepAgent, thread_id: str, action: HitlAction) -> None:
    """Keep `action` in a paused row's thread; the next `map` of its batch continues it.

    Raises:
        NoPendingInterruptError: the thread waits for nothing.
        CheckpointConflictError: the thread changed meanwhile (decide again).
    """
    from deepagents_nb.exceptions import NoPendingInterruptError

    stored = await agent.checkpointer.load(thread_id)
    interrupt = None
    if stored is not None:
        interrupt = waiting_interrupt(pending_turn(stored.state), thread_id)
    if stored is None or interrupt is None:
        raise NoPendingInterruptError(f"thread {thread_id!r} is not waiting for a decision")
    stored.state.extra[DECISION_KEY] = {
        "call_id": interrupt.call_id,
        "action": action.model_dump(mode="json"),
    }
    await agent.checkpointer.save(thread_id, stored.state, expected_version=stored.version)
