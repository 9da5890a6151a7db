"""The run loop of a `DeepAgent`.

    request -> model -> tool calls: approval gate -> hooks -> validate -> run -> events
            -> reduce state -> checkpoint -> repeat until the model answers.

A turn whose calls are not all done (one waits for approval, or a sub-agent
waits for one) is kept in the thread's state as a `PendingTurn`; resuming
decides the first waiting call, runs nothing twice, and goes on.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.events import (
    AgentCompleted,
    AgentFailed,
    AgentStarted,
    EventBase,
    InterruptRaised,
    InterruptResolved,
    StateCheckpointed,
    StreamingToken,
)
from deepagents_nb.exceptions import (
    AgentSignal,
    ConfigurationError,
    MaxTurnsExceededError,
    ModelAPIError,
    NoPendingInterruptError,
    PendingInterruptError,
)
from deepagents_nb.hitl import (
    AgentInterrupt,
    CallResult,
    Decision,
    HitlAction,
    PendingCall,
    PendingTurn,
    SubAgentSuspended,
    log_decision,
    pending_turn,
    store_pending,
)
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.middleware.base import overrides
from deepagents_nb.models.base import ModelRequest, ModelResponse, ResponseComplete
from deepagents_nb.security import preview, redact_pii, sanitize_json
from deepagents_nb.state import AgentStateSnapshot, apply_update
from deepagents_nb.state_size import sizer_of
from deepagents_nb.tool_calls import ToolCaller, ms_since

if TYPE_CHECKING:
    from deepagents_nb.agent import AgentResult, DeepAgent

EventSink = Callable[[EventBase], None]


@dataclass
class _Start:
    """How a run begins: a new user message, or a decision on a paused turn."""

    text: str | None = None
    action: HitlAction | None = None


class Runner:
    """Runs one `DeepAgent`'s threads. Everything per agent is prepared here once."""

    def __init__(self, agent: DeepAgent) -> None:
        self.agent = agent
        self.config = agent.config
        self.model = agent.model
        middleware = agent.middleware
        self._schemas = tuple(t.schema for t in agent.tools.values())
        # Only hooks a middleware overrides are called: unused hooks cost nothing.
        self._before_model = [m for m in middleware if overrides(m, "before_model")]
        self._after_model = [m for m in middleware if overrides(m, "after_model")]
        self._describers = [m for m in middleware if overrides(m, "describe_call")]
        self._execute = ToolCaller(agent.tools, middleware).execute

    # ----- entry points --------------------------------------------------------------------

    async def run(
        self,
        text: str,
        thread_id: str,
        state: AgentStateSnapshot | None = None,
        sink: EventSink | None = None,
        parent: RunContext | None = None,
    ) -> AgentResult:
        """A new user message. With `parent`, a sub-agent run: never saved, and
        reporting its events to the parent's listeners."""
        if not isinstance(text, str):
            raise ConfigurationError(f"the message must be a str, got {type(text).__name__}")
        return await self._go(_Start(text=text), thread_id, state, sink, parent)

    async def resume(
        self,
        action: HitlAction,
        thread_id: str,
        state: AgentStateSnapshot | None = None,
        sink: EventSink | None = None,
        parent: RunContext | None = None,
    ) -> AgentResult:
        """Decide the waiting call of a paused thread and continue the run."""
        if not isinstance(action, HitlAction):
            raise ConfigurationError(
                f"resume_with_approval needs a HitlAction (HitlAction.accept(), .edit(...), "
                f".reject(...), .respond(...)), got {action!r}"
            )
        return await self._go(_Start(action=action), thread_id, state, sink, parent)

    # ----- the loop ------------------------------------------------------------------------

    async def _go(
        self,
        start: _Start,
        thread_id: str,
        state: AgentStateSnapshot | None,
        sink: EventSink | None,
        parent: RunContext | None,
    ) -> AgentResult:
        started = time.perf_counter()
        persist = parent is None
        stored = await self.agent.checkpointer.load(thread_id) if persist else None
        version = stored.version if stored else 0
        if state is not None:
            state = state.copy_for_run()
        else:
            state = stored.state if stored else AgentStateSnapshot()
        paused = pending_turn(state)
        if start.action is None and paused is not None:
            raise PendingInterruptError(
                f"thread {thread_id!r} is waiting for approval of "
                f"{_head_name(paused)}; answer it with agent.resume_with_approval(...)"
            )
        if start.action is not None and paused is None:
            raise NoPendingInterruptError(
                f"thread {thread_id!r} has no pending interrupt to resume (never paused, "
                f"or already resumed)"
            )
        run = self._context(thread_id, state, sink, parent)
        if run.listening:
            said = start.text if start.text is not None else f"(resumed: {start.action})"
            shown = preview(said, sanitize=run.sanitize)
            run.emit(AgentStarted(message_preview=shown, **run.event_meta()))
        try:
            if start.text is not None:
                run.add_message(Message.user(start.text))
            if paused is not None and start.action is not None:
                interrupt = await self._decide(run, paused, start.action)
                version = await self._close_turn(run, paused, interrupt, version, persist)
                if interrupt is not None:
                    return await self._pause(run, interrupt, started, persist)
            for _ in range(self.config.max_turns):
                if run.tracker is not None:
                    run.tracker.check_budget(thread_id=run.thread_id, run_id=run.run_id)
                response = await self._call_model(run)
                calls = run.add_message(response.message).tool_calls
                if calls:
                    turn = await self._start_turn(run, calls)
                    interrupt = await self._next_interrupt(run, turn)
                    version = await self._close_turn(run, turn, interrupt, version, persist)
                    if interrupt is not None:
                        return await self._pause(run, interrupt, started, persist)
                elif persist:
                    version = await self._checkpoint(run, version)
                if not calls:
                    break
            else:
                raise MaxTurnsExceededError(self.config.max_turns)
        except (Exception, asyncio.CancelledError) as exc:
            if run.listening and not isinstance(exc, AgentSignal):
                run.emit(
                    AgentFailed(
                        duration_ms=ms_since(started),
                        error_type=type(exc).__name__,
                        error_message=preview(str(exc), sanitize=run.sanitize, max_length=500),
                        **run.event_meta(),
                    )
                )
            if persist:
                await self.agent.dispatcher.flush()
            raise
        answer = state.messages[-1].content
        if run.listening:
            run.emit(
                AgentCompleted(
                    duration_ms=ms_since(started),
                    response_preview=preview(answer, sanitize=run.sanitize),
                    response=redact_pii(answer) if run.sanitize else answer,
                    **run.event_meta(),
                )
            )
        return await self._result(run, answer, started, None, persist)

    def _context(
        self,
        thread_id: str,
        state: AgentStateSnapshot,
        sink: EventSink | None,
        parent: RunContext | None,
    ) -> RunContext:
        dispatcher = self.agent.dispatcher
        if parent is not None:
            sink = parent.emit if parent.listening else None
        policies = dict(self.config.interrupt_on)
        if parent is not None:
            policies.update(parent.policies)  # a parent's gate can never be lifted below it
        return RunContext(
            thread_id=thread_id,
            run_id=uuid.uuid4().hex,
            agent_name=self.agent.name,
            state=state,
            emit=_emitter(dispatcher.emit if dispatcher.has_listeners else None, sink),
            model=self.model,
            depth=parent.depth + 1 if parent else 0,
            sanitize=self.config.pii_sanitization,
            listening=sink is not None or dispatcher.has_listeners,
            streaming=parent.streaming
            if parent
            else sink is not None or dispatcher.wants_streaming,
            tracker=parent.tracker if parent else self.config.token_tracking,
            policies=policies,
        )

    async def _result(
        self,
        run: RunContext,
        text: str,
        started: float,
        interrupt: AgentInterrupt | None,
        persist: bool,
    ) -> AgentResult:
        from deepagents_nb.agent import AgentResult

        if persist:
            await self.agent.dispatcher.flush()
        return AgentResult(
            text=text,
            messages=run.added,
            state=run.state,
            usage=run.usage,
            thread_id=run.thread_id,
            run_id=run.run_id,
            duration_ms=ms_since(started),
            interrupt=interrupt,
        )

    async def _pause(
        self, run: RunContext, interrupt: AgentInterrupt, started: float, persist: bool
    ) -> AgentResult:
        if not persist:
            # A sub-agent cannot wait on its own: its parent pauses, keeping this state.
            raise SubAgentSuspended(self.agent.name, interrupt, run.state)
        if run.listening:
            args = interrupt.tool_args if isinstance(interrupt.tool_args, dict) else {}
            run.emit(
                InterruptRaised(
                    tool_name=interrupt.tool_name,
                    call_id=interrupt.call_id,
                    args=sanitize_json(args, redact_strings=True) if run.sanitize else args,
                    policy_note=interrupt.policy_note,
                    agent_path=interrupt.agent_path,
                    **run.event_meta(),
                )
            )
        return await self._result(run, f"Paused: {interrupt}", started, interrupt, persist)

    async def _call_model(self, run: RunContext) -> ModelResponse:
        request = ModelRequest(
            messages=tuple(run.state.messages),
            system=self.agent.system_prompt,
            tools=self._schemas,
            max_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
        )
        for m in self._before_model:
            request = await m.before_model(request, run)
        started = time.perf_counter()
        if run.streaming:
            response = await self._stream_model(request, run)
        else:
            response = await self.model.complete(request)
        if not response.duration_ms:
            response.duration_ms = ms_since(started)
        for m in self._after_model:
            response = await m.after_model(response, run)
        run.record_usage(response, self.model)
        return response

    async def _stream_model(self, request: ModelRequest, run: RunContext) -> ModelResponse:
        meta = run.event_meta()
        async for event in self.model.stream(request):
            if isinstance(event, ResponseComplete):
                return event.response
            if event.text:
                token = redact_pii(event.text) if run.sanitize else event.text
                run.emit(StreamingToken(token=token, **meta))
        raise ModelAPIError(
            "the model's stream ended before its response was complete",
            provider=self.model.provider,
        )

    async def _checkpoint(self, run: RunContext, version: int) -> int:
        version = await self.agent.checkpointer.save(
            run.thread_id, run.state, expected_version=version, metadata={"run_id": run.run_id}
        )
        if run.listening:
            run.emit(
                StateCheckpointed(
                    checkpoint_id=f"{run.thread_id}:{version}",
                    state_size_bytes=sizer_of(run.metadata).size(run.state),
                    **run.event_meta(),
                )
            )
        return version

    # ----- turns: tool calls, approvals, paused sub-agents ---------------------------------

    async def _start_turn(self, run: RunContext, calls: Sequence[ToolCall]) -> PendingTurn:
        """Run every call that needs no approval (concurrently); mark the others waiting."""
        turn = PendingTurn(calls=[PendingCall(call=c) for c in calls])
        ready = []
        for entry in turn.calls:
            policy = run.policies.get(entry.call.name)
            if policy is not None and not policy.allow_auto:
                entry.waiting = "approval"
            else:
                ready.append(entry)
        if len(ready) == 1:
            _settle(ready[0], await self._execute(ready[0].call, run))
        elif ready:
            outcomes = await asyncio.gather(*(self._execute(e.call, run) for e in ready))
            for entry, outcome in zip(ready, outcomes, strict=True):
                _settle(entry, outcome)
        return turn

    async def _next_interrupt(self, run: RunContext, turn: PendingTurn) -> AgentInterrupt | None:
        head = turn.head()
        if head is None:
            return None
        if head.interrupt is None:  # an approval: a sub-agent's wait brings its own
            policy = run.policies[head.call.name]
            head.interrupt = AgentInterrupt(
                tool_name=head.call.name,
                tool_args=head.call.args,
                call_id=head.call.id,
                policy_note=policy.note,
                thread_id=run.thread_id,
                diff=await self._describe(head.call, run),
            )
        elif head.interrupt.thread_id != run.thread_id:
            head.interrupt = head.interrupt.model_copy(update={"thread_id": run.thread_id})
        return head.interrupt

    async def _describe(self, call: ToolCall, run: RunContext) -> str | None:
        ctx = ToolContext(run=run, call_id=call.id)
        for m in self._describers:
            described = await m.describe_call(call, ctx)
            if described is not None:
                return described
        return None

    async def _decide(
        self, run: RunContext, turn: PendingTurn, action: HitlAction
    ) -> AgentInterrupt | None:
        """Apply `action` to the first waiting call; return the next interrupt, if any."""
        head = turn.head()
        assert head is not None and head.interrupt is not None  # checked by the caller
        interrupt = head.interrupt
        log_decision(
            run.state,
            Decision(
                action=action.action,
                tool_name=interrupt.tool_name,
                call_id=interrupt.call_id,
                note=interrupt.policy_note,
                reason=action.reason,
                agent_path=interrupt.agent_path,
            ),
        )
        if run.listening:
            run.emit(
                InterruptResolved(
                    tool_name=interrupt.tool_name,
                    call_id=interrupt.call_id,
                    action=action.action,
                    agent_path=interrupt.agent_path,
                    **run.event_meta(),
                )
            )
        if head.waiting == "subagent":
            outcome = await self._execute(head.call, run, resume=(action, head.subagent_state))
        elif action.action == "accept":
            outcome = await self._execute(head.call, run)
        elif action.action == "edit":
            call = replace(
                head.call, name=action.tool_name or head.call.name, args=action.tool_args or {}
            )
            outcome = await self._execute(call, run)
        elif action.action == "reject":
            why = f" Reason: {action.reason}" if action.reason else ""
            outcome = CallResult(content=f"The user rejected this tool call.{why}", is_error=True)
        else:
            outcome = CallResult(content=action.message or "")
        head.interrupt = None
        _settle(head, outcome)
        return await self._next_interrupt(run, turn)

    async def _close_turn(
        self,
        run: RunContext,
        turn: PendingTurn,
        interrupt: AgentInterrupt | None,
        version: int,
        persist: bool,
    ) -> int:
        """Keep a paused turn in the state, or apply a finished one in call order; save."""
        if interrupt is not None:
            store_pending(run.state, turn)
        else:
            store_pending(run.state, None)
            for entry in turn.calls:
                assert entry.result is not None
                apply_update(run.state, entry.result.update)
                run.add_message(
                    Message.tool(
                        entry.call.id,
                        entry.call.name,
                        entry.result.content,
                        is_error=entry.result.is_error,
                    )
                )
        return await self._checkpoint(run, version) if persist else version


def _settle(entry: PendingCall, outcome: CallResult | SubAgentSuspended) -> None:
    """Record a call's outcome: done, or waiting inside a sub-agent."""
    if isinstance(outcome, CallResult):
        entry.result = outcome
        if entry.waiting is not None:  # pydantic assignments are not free: only when needed
            entry.waiting = entry.subagent = entry.subagent_state = None
        return
    entry.waiting = "subagent"
    entry.subagent = outcome.agent_name
    entry.subagent_state = outcome.state
    entry.interrupt = outcome.interrupt.model_copy(
        update={"agent_path": [outcome.agent_name, *outcome.interrupt.agent_path]}
    )


def _head_name(turn: PendingTurn) -> str:
    head = turn.head()
    return head.call.name if head is not None else "a tool"


def _emitter(dispatch: EventSink | None, sink: EventSink | None) -> EventSink:
    if dispatch is None:
        return sink or _silent
    if sink is None:
        return dispatch

    def emit(event: EventBase) -> None:
        dispatch(event)
        sink(event)

    return emit


def _silent(event: EventBase) -> None:
    """The emitter of a run nobody listens to."""
