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
from typing import TYPE_CHECKING, Any

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
    ToolCompleted,
    ToolFailed,
    ToolStarted,
)
from deepagents_nb.exceptions import (
    AgentSignal,
    ConfigurationError,
    MaxTurnsExceededError,
    ModelAPIError,
    NoPendingInterruptError,
    PendingInterruptError,
    ToolArgumentsError,
    ToolExecutionError,
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
from deepagents_nb.middleware.base import ToolHandler, overrides
from deepagents_nb.models.base import ModelRequest, ModelResponse, ResponseComplete
from deepagents_nb.security import (
    MAX_PREVIEW_LENGTH,
    redact_pii,
    safe_preview,
    sanitize_json,
    sanitize_tool_payload,
    truncate,
)
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot, StateUpdate, apply_update
from deepagents_nb.tools import ToolOutcome

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
        tools = agent.tools
        self._tools = tools
        self._schemas = tuple(t.schema for t in tools.values())
        # Only hooks a middleware overrides are called: unused hooks cost nothing.
        self._before_model = [m for m in middleware if overrides(m, "before_model")]
        self._after_model = [m for m in middleware if overrides(m, "after_model")]
        self._before_tool = [m for m in middleware if overrides(m, "before_tool")]
        self._after_tool = [m for m in middleware if overrides(m, "after_tool")]
        self._describers = [m for m in middleware if overrides(m, "describe_call")]
        handler: ToolHandler = self._invoke_tool
        for m in reversed([m for m in middleware if overrides(m, "wrap_tool")]):
            handler = _bind_wrap(m.wrap_tool, handler)
        self._tool_handler = handler

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
            preview = start.text if start.text is not None else f"(resumed: {start.action})"
            run.emit(AgentStarted(message_preview=self._preview(preview), **run.event_meta()))
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
                run.add_message(response.message)
                calls = response.message.tool_calls
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
                        duration_ms=_ms_since(started),
                        error_type=type(exc).__name__,
                        error_message=self._preview(str(exc), 500),
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
                    duration_ms=_ms_since(started),
                    response_preview=self._preview(answer),
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
            duration_ms=_ms_since(started),
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
            response.duration_ms = _ms_since(started)
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
                    state_size_bytes=len(dump_state(run.state)),
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

    async def _execute(
        self,
        call: ToolCall,
        run: RunContext,
        resume: tuple[HitlAction, AgentStateSnapshot | None] | None = None,
    ) -> CallResult | SubAgentSuspended:
        try:
            content, is_error, update = await self._run_tool(call, run, resume)
        except SubAgentSuspended as suspended:
            return suspended
        return CallResult(content=content, is_error=is_error, update=update)

    async def _run_tool(
        self,
        call: ToolCall,
        run: RunContext,
        resume: tuple[HitlAction, AgentStateSnapshot | None] | None,
    ) -> tuple[str, bool, StateUpdate]:
        ctx = ToolContext(run=run, call_id=call.id, resume=resume)
        listening = run.listening
        started = time.perf_counter()
        if listening and resume is None:
            args = call.args if isinstance(call.args, dict) else {"raw": call.args}
            safe_args = sanitize_json(args, redact_strings=True) if run.sanitize else args
            run.emit(
                ToolStarted(
                    tool_name=call.name,
                    call_id=call.id,
                    # Sanitized once; the preview is cut from the sanitized arguments.
                    input_summary=self._payload_preview(safe_args),
                    args=safe_args,
                    **run.event_meta(),
                )
            )
        planned: ToolCall | ToolOutcome = call
        for m in self._before_tool:
            if isinstance(planned, ToolOutcome):
                break
            planned = await m.before_tool(planned, ctx)
        # A before_tool hook may rewrite the call or answer it without running the tool.
        if isinstance(planned, ToolOutcome):
            outcome = planned
        else:
            try:
                outcome = await self._tool_handler(planned, ctx)
            except AgentSignal:
                raise
            except Exception as exc:
                outcome = ToolOutcome(
                    f"Tool {call.name!r} failed: {type(exc).__name__}: {exc}", is_error=True
                )
        for m in self._after_tool:
            outcome = await m.after_tool(call, outcome, ctx)
        if listening:
            self._emit_tool_end(run, call, outcome, _ms_since(started))
        update = ctx.update if not outcome.is_error else StateUpdate()
        return outcome.content, outcome.is_error, update

    def _emit_tool_end(
        self, run: RunContext, call: ToolCall, outcome: ToolOutcome, duration: float
    ) -> None:
        if outcome.is_error:
            run.emit(
                ToolFailed(
                    tool_name=call.name,
                    call_id=call.id,
                    duration_ms=duration,
                    error_message=self._preview(outcome.content, 500),
                    **run.event_meta(),
                )
            )
        else:
            run.emit(
                ToolCompleted(
                    tool_name=call.name,
                    call_id=call.id,
                    duration_ms=duration,
                    result_summary=self._payload_preview(outcome.content),
                    **run.event_meta(),
                )
            )

    async def _invoke_tool(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        """Look the tool up, check the arguments, run it; every problem becomes an error result."""
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolOutcome(
                f"Unknown tool {call.name!r}. Available tools: {known}.", is_error=True
            )
        try:
            args = call.parsed_args()
        except ValueError as exc:
            return ToolOutcome(
                f"Invalid arguments for tool {call.name!r}: {exc}. "
                f"Send the arguments as a JSON object.",
                is_error=True,
            )
        try:
            return ToolOutcome(await tool.run(args, ctx))
        except ToolArgumentsError as exc:
            return ToolOutcome(str(exc), is_error=True)
        except ToolExecutionError as exc:
            return ToolOutcome(f"Error: {exc}", is_error=True)

    # ----- previews ------------------------------------------------------------------------

    def _preview(self, text: str, length: int = MAX_PREVIEW_LENGTH) -> str:
        if self.config.pii_sanitization:
            return safe_preview(text, length)
        return truncate(text, length)

    def _payload_preview(self, value: Any) -> str:
        if self.config.pii_sanitization:
            return sanitize_tool_payload(value)
        return truncate(value if isinstance(value, str) else str(value))


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


def _bind_wrap(wrap: Any, call_next: ToolHandler) -> ToolHandler:
    async def handler(call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        result: ToolOutcome = await wrap(call, ctx, call_next)
        return result

    return handler


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


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
