"""The run loop of a `DeepAgent`.

    request -> model -> tool calls: approval gate -> hooks -> validate -> run -> events
            -> reduce state -> checkpoint -> repeat until the model answers.

A turn whose calls are not all done (one waits for approval, or a sub-agent
waits for one) is kept in the thread's state as a `PendingTurn`; resuming
claims the first waiting call in the store (one conditional save, so of two
racing resumes only one runs it), decides it, and goes on. Calls to gated or
side-effecting tools are marked started in the store before they run, so a
crash turns them into an interrupt instead of a silent second run.
"""

from __future__ import annotations

import asyncio
import json
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
    OutputDelta,
    StateCheckpointed,
    StreamingToken,
)
from deepagents_nb.exceptions import (
    AgentSignal,
    CheckpointConflictError,
    ConfigurationError,
    InterruptClaimedError,
    MaxTurnsExceededError,
    ModelAPIError,
    NoPendingInterruptError,
    PendingInterruptError,
)
from deepagents_nb.gates import Gates, check_keys
from deepagents_nb.hitl import (
    AgentInterrupt,
    CallClaim,
    CallResult,
    Decision,
    HitlAction,
    PendingCall,
    PendingTurn,
    SubAgentSuspended,
    claim_is_alive,
    crash_interrupt,
    hold_claims,
    log_decision,
    pending_turn,
    store_pending,
)
from deepagents_nb.messages import Image, Message, ToolCall, UserContent, user_message
from deepagents_nb.middleware.base import overrides
from deepagents_nb.middleware.subagents import AgentAsSubAgent, SubAgentMiddleware
from deepagents_nb.models.base import (
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    ToolCallDelta,
)
from deepagents_nb.output import FINAL_ANSWER, OUTPUT_KEY, OutputInvalid, OutputRun, OutputSpec
from deepagents_nb.results import AgentResult
from deepagents_nb.security import StreamRedactor, preview, redact_pii, sanitize_json
from deepagents_nb.state import AgentStateSnapshot, apply_update
from deepagents_nb.state_size import sizer_of
from deepagents_nb.tool_calls import ToolCaller, ms_since

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent

EventSink = Callable[[EventBase], None]


@dataclass
class _Start:
    """How a run begins: a new user message, or a decision on a paused turn."""

    text: str | None = None
    action: HitlAction | None = None
    images: tuple[Image, ...] = ()
    output: OutputSpec[Any] | None = None


class Runner:
    """Runs one `DeepAgent`'s threads. Everything per agent is prepared here once."""

    def __init__(self, agent: DeepAgent) -> None:
        self.agent = agent
        self.config = agent.config
        self.model = agent.model
        middleware = agent.middleware
        self._tools = agent.tools  # `agent.tools` copies: once here, not per interrupt
        self._schemas = tuple(t.schema for t in self._tools.values())
        # Only hooks a middleware overrides are called: unused hooks cost nothing.
        self._before_model = [m for m in middleware if overrides(m, "before_model")]
        self._after_model = [m for m in middleware if overrides(m, "after_model")]
        self._describers = [m for m in middleware if overrides(m, "describe_call")]
        self._execute = ToolCaller(self._tools, middleware).execute
        self._call_gates = [
            m.approval_policy for m in middleware if overrides(m, "approval_policy")
        ]
        self._gates = Gates(self.config.interrupt_on, call_gates=self._call_gates)
        self._side_effects = frozenset(t.name for t in self._tools.values() if t.side_effects)
        self._keys_checked = False

    # ----- entry points --------------------------------------------------------------------

    async def run(
        self,
        text: UserContent,
        thread_id: str,
        state: AgentStateSnapshot | None = None,
        sink: EventSink | None = None,
        parent: RunContext | None = None,
        output: OutputSpec[Any] | None = None,
    ) -> AgentResult:
        """A new user message (text, or text and images). With `parent`, a sub-agent
        run: never saved, and reporting its events to the parent's listeners. `output`
        replaces the agent's output type for this run."""
        try:
            message = user_message(text)
        except TypeError as exc:
            raise ConfigurationError(str(exc)) from None
        start = _Start(text=message.content, images=message.images, output=output)
        return await self._go(start, thread_id, state, sink, parent)

    async def resume(
        self,
        action: HitlAction,
        thread_id: str,
        state: AgentStateSnapshot | None = None,
        sink: EventSink | None = None,
        parent: RunContext | None = None,
        output: OutputSpec[Any] | None = None,
    ) -> AgentResult:
        """Decide the waiting call of a paused thread and continue the run."""
        if not isinstance(action, HitlAction):
            raise ConfigurationError(
                f"resume_with_approval needs a HitlAction (HitlAction.accept(), .edit(...), "
                f".reject(...), .respond(...)), got {action!r}"
            )
        return await self._go(_Start(action=action, output=output), thread_id, state, sink, parent)

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
        if not self._keys_checked:
            check_keys(self.config.interrupt_on, _tool_names(self.agent), self.agent.name)
            self._keys_checked = True
        paused = pending_turn(state)
        finished = None
        if paused is not None and paused.head() is None:
            # Every call has its result, but the process died before they were applied.
            finished, paused = paused, None
        _check_start(start, paused, thread_id)
        run = self._context(thread_id, state, sink, parent)
        spec = start.output or self.config.output
        if spec is not None:
            run.output = OutputRun(spec)
        if run.listening:
            said = start.text if start.text is not None else _resumed(start.action, run.sanitize)
            if start.images:  # events name images, never carry their bytes
                said = " ".join([said, *(image.placeholder() for image in start.images)])
            whole = None
            if run.content:
                whole = redact_pii(said) if run.sanitize else said
            run.emit(
                AgentStarted(
                    message_preview=preview(said, sanitize=run.sanitize),
                    message=whole,
                    resumes=paused.paused_run if paused and start.action else None,
                    **run.event_meta(),
                )
            )
        hold_claims(run.run_id, True)
        try:
            if finished is not None:
                version = await self._close_turn(run, finished, None, version, persist)
            if start.text is not None:
                if run.tracker is not None:  # a message over budget is not kept
                    run.tracker.check_budget(thread_id=run.thread_id, run_id=run.run_id)
                run.add_message(Message.user(start.text, start.images))
                if persist:  # kept even if the process dies during the first step
                    version = await self._checkpoint(run, version, step=False)
            if paused is not None and start.action is not None:
                version = await self._claim(run, paused, start.action, version, persist)
                await self._run_claimed(run, paused)
                version = await self._run_ready(run, paused, version, persist)
                interrupt = await self._next_interrupt(run, paused)
                version = await self._close_turn(run, paused, interrupt, version, persist)
                if interrupt is not None:
                    return await self._pause(run, interrupt, started, persist)
            for _ in range(self.config.max_turns):
                if run.output is not None and run.output.done:
                    break  # a resumed turn held the final answer
                if run.tracker is not None:
                    run.tracker.check_budget(thread_id=run.thread_id, run_id=run.run_id)
                response = await self._call_model(run)
                calls = run.add_message(response.message).tool_calls
                if calls:
                    turn = self._new_turn(run, calls)
                    version = await self._run_ready(run, turn, version, persist)
                    interrupt = await self._next_interrupt(run, turn)
                    version = await self._close_turn(run, turn, interrupt, version, persist)
                    if interrupt is not None:
                        return await self._pause(run, interrupt, started, persist)
                else:
                    if run.output is not None:
                        self._output_from_text(run, response.message.content)
                    if persist:
                        version = await self._checkpoint(run, version)
                if run.output is not None and run.output.error is not None:
                    raise run.output.error  # after the save: the thread keeps the answer
                if run.output.done if run.output is not None else not calls:
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
        finally:
            hold_claims(run.run_id, False)
        answer = state.messages[-1].content
        if run.output is not None:
            data = run.output.data
            answer = json.dumps(data, ensure_ascii=False)
            if run.listening:
                shown = sanitize_json(data, redact_strings=True) if run.sanitize else data
                run.emit(OutputDelta(value=shown, final=True, **run.event_meta()))
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
        # A parent's gates apply below it too, and cannot lift a sub-agent's own.
        gates = (
            self._gates
            if parent is None
            else Gates(self.config.interrupt_on, parent.gates, self._call_gates)
        )
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
            gates=gates,
            context_window=self.config.context_window,
            content=parent.content if parent else dispatcher.wants_content,
        )

    async def _result(
        self,
        run: RunContext,
        text: str,
        started: float,
        interrupt: AgentInterrupt | None,
        persist: bool,
    ) -> AgentResult:
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
            output=run.output.value if run.output is not None else None,
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
                    source=interrupt.source,
                    **run.event_meta(),
                )
            )
        return await self._result(run, f"Paused: {interrupt}", started, interrupt, persist)

    async def _call_model(self, run: RunContext) -> ModelResponse:
        system, tools, answer = self.agent.system_prompt, self._schemas, None
        if run.output is not None:
            spec = run.output.spec
            system = f"{system}\n\n{spec.instructions()}" if system else spec.instructions()
            tools = (*tools, spec.tool_schema()) if spec.mode == "tool" else tools
            answer = spec.format
        request = ModelRequest(
            messages=tuple(run.state.messages),
            system=system,
            tools=tools,
            max_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            output=answer,
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
        # Redacting token by token would let a card or an e-mail split over two through.
        redactor = StreamRedactor() if run.sanitize else None
        partial = _PartialOutput(run) if run.output is not None else None
        async for event in self.model.stream(request):
            if isinstance(event, ToolCallDelta):
                if partial is not None and event.name == FINAL_ANSWER:
                    partial.feed(event.arguments, call=event.index)
                continue
            if isinstance(event, ResponseComplete):
                rest = redactor.flush() if redactor is not None else ""
                if rest:
                    run.emit(StreamingToken(token=rest, **meta))
                return event.response
            if event.text:
                token = redactor.feed(event.text) if redactor is not None else event.text
                if token:
                    run.emit(StreamingToken(token=token, **meta))
                if partial is not None and partial.spec.mode != "tool":
                    partial.feed(event.text)
        raise ModelAPIError(
            "the model's stream ended before its response was complete",
            provider=self.model.provider,
        )

    def _output_from_text(self, run: RunContext, text: str) -> None:
        """Take a text answer as the output, or tell the model what to fix."""
        assert run.output is not None
        spec = run.output.spec
        try:
            if spec.mode == "tool":
                raise OutputInvalid(
                    f"Answer by calling {FINAL_ANSWER} with the answer as its arguments, "
                    f"not in text.",
                    text,
                )
            value = spec.parse_text(text)
        except OutputInvalid as invalid:
            run.output.reject(invalid)
            if run.output.error is None:
                run.add_message(Message.user(invalid.message))
            return
        _keep_output(run, value)

    async def _checkpoint(self, run: RunContext, version: int, step: bool = True) -> int:
        """Save the state if the thread is still at `version`.

        A step's save is announced with `StateCheckpointed`; the saves that guard
        a step (the user's message, a claim, a started marker) are not.
        """
        version = await self.agent.checkpointer.save(
            run.thread_id, run.state, expected_version=version, metadata={"run_id": run.run_id}
        )
        if step and run.listening:
            run.emit(
                StateCheckpointed(
                    checkpoint_id=f"{run.thread_id}:{version}",
                    state_size_bytes=sizer_of(run.metadata).size(run.state),
                    **run.event_meta(),
                )
            )
        return version

    # ----- turns: tool calls, approvals, paused sub-agents ---------------------------------

    def _new_turn(self, run: RunContext, calls: Sequence[ToolCall]) -> PendingTurn:
        """A model's calls as a turn: those a gate stops wait for approval; a
        `final_answer` is checked at once (it runs nothing) and taken when the turn ends."""
        turn = PendingTurn(calls=[PendingCall(call=c) for c in calls])
        gates = run.gates
        answering = run.output is not None and run.output.spec.mode == "tool"
        for entry in turn.calls:
            if answering and entry.call.name == FINAL_ANSWER:
                assert run.output is not None
                entry.result = _check_final_answer(run.output, entry.call)
            elif gates and gates.gate_call(entry.call) is not None:
                entry.waiting = "approval"
        return turn

    async def _run_ready(
        self, run: RunContext, turn: PendingTurn, version: int, persist: bool
    ) -> int:
        """Run (concurrently) every call that needs no decision and has no result yet.

        Calls to side-effecting tools are marked started in the store first.
        """
        ready = [e for e in turn.calls if e.result is None and not (e.waiting or e.started)]
        if not ready:
            return version
        marked = [e for e in ready if e.call.name in self._side_effects]
        if marked and persist:
            for entry in marked:
                entry.started = CallClaim(run_id=run.run_id)
            store_pending(run.state, turn)
            version = await self._checkpoint(run, version, step=False)
        if len(ready) == 1:
            _settle(ready[0], await self._execute(ready[0].call, run))
        else:
            outcomes = await asyncio.gather(*(self._execute(e.call, run) for e in ready))
            for entry, outcome in zip(ready, outcomes, strict=True):
                _settle(entry, outcome)
        return version

    async def _next_interrupt(self, run: RunContext, turn: PendingTurn) -> AgentInterrupt | None:
        head = turn.head()
        if head is None:
            return None
        if head.started is not None:  # left by a run that died while it ran
            return crash_interrupt(head, run.thread_id)
        if head.interrupt is None:  # an approval: a sub-agent's wait brings its own
            policy = run.gates.gate_call(head.call) if run.gates else None
            head.interrupt = AgentInterrupt(
                tool_name=head.call.name,
                tool_args=head.call.args,
                call_id=head.call.id,
                policy_note=policy.note if policy else None,
                thread_id=run.thread_id,
                diff=await self._describe(head.call, run),
                source=getattr(self._tools.get(head.call.name), "source", None),
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

    async def _claim(
        self, run: RunContext, turn: PendingTurn, action: HitlAction, version: int, persist: bool
    ) -> int:
        """Record `action` on the first waiting call and claim it, in one conditional save.

        A call that will run is marked started; one rejected or answered gets its
        result at once. Nothing runs before the save succeeds: a resume that loses
        the race raises `InterruptClaimedError` having changed nothing.
        """
        head = turn.head()
        assert head is not None  # checked by _check_start
        crashed = head.started
        interrupt = crash_interrupt(head, run.thread_id) if crashed else head.interrupt
        assert interrupt is not None
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
        if action.action in ("accept", "edit") or head.waiting == "subagent":
            # After a crash, accept re-applies the decision the call first ran under.
            decided = crashed.action if crashed and action.action == "accept" else action
            head.started = CallClaim(run_id=run.run_id, action=decided)
        else:
            head.started = head.interrupt = None
            _settle(head, _answer(action, crashed is not None))
        store_pending(run.state, turn)
        if persist:
            try:
                version = await self._checkpoint(run, version, step=False)
            except CheckpointConflictError as exc:
                raise InterruptClaimedError(
                    f"the call to {interrupt.tool_name} on thread {run.thread_id!r} was decided "
                    f"by another resume at the same time; this one ran nothing"
                ) from exc
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
        return version

    async def _run_claimed(self, run: RunContext, turn: PendingTurn) -> None:
        """Run the call `_claim` marked as this run's, as decided."""
        head = next((c for c in turn.calls if c.started and c.started.run_id == run.run_id), None)
        if head is None:  # rejected or answered: nothing runs
            return
        assert head.started is not None
        action = head.started.action
        if head.waiting == "subagent":
            resume = (action or HitlAction.accept(), head.subagent_state)
            outcome = await self._execute(head.call, run, resume=resume)
        elif action is None:  # an ungated side-effecting call, run again after a crash
            outcome = await self._execute(head.call, run)
        else:
            call = head.call
            if action.action == "edit":
                call = replace(
                    call, name=action.tool_name or call.name, args=action.tool_args or {}
                )
            outcome = await self._execute(call, run, approved=call)
        head.interrupt = None
        _settle(head, outcome)

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
            turn.paused_run = run.run_id
            store_pending(run.state, turn)
        else:
            store_pending(run.state, None)
            if run.output is not None:
                _take_final_answer(run, turn)
            for entry in turn.calls:
                assert entry.result is not None
                apply_update(run.state, entry.result.update)
                run.add_message(
                    Message.tool(
                        entry.call.id,
                        entry.call.name,
                        entry.result.content,
                        is_error=entry.result.is_error,
                        images=entry.result.images,
                    )
                )
        return await self._checkpoint(run, version) if persist else version


def _check_final_answer(output: OutputRun, call: ToolCall) -> CallResult:
    """A `final_answer` call's result: accepted for now, or the fields to fix."""
    try:
        output.spec.parse_args(call.args)
    except OutputInvalid as invalid:
        output.reject(invalid)
        return CallResult(content=invalid.message, is_error=True)
    return CallResult(content="Final answer received.")


def _take_final_answer(run: RunContext, turn: PendingTurn) -> None:
    """At a turn's end, take its valid `final_answer`, unless another call of the turn
    failed or was rejected (the answer may count on it): then the model answers again."""
    assert run.output is not None
    answers = [
        e
        for e in turn.calls
        if e.call.name == FINAL_ANSWER and e.result is not None and not e.result.is_error
    ]
    if not answers:
        return
    failed = [e.call.name for e in turn.calls if e.result is not None and e.result.is_error]
    if failed:
        for entry in answers:
            entry.result = CallResult(
                content=f"Not taken: {', '.join(failed)} in the same turn did not succeed, and "
                f"the answer may count on it. Deal with that, then call {FINAL_ANSWER} again.",
                is_error=True,
            )
        return
    try:  # parsed again: a resumed turn's answer was checked by an earlier process
        value = run.output.spec.parse_args(answers[-1].call.args)
    except OutputInvalid as invalid:  # another output type on resume
        answers[-1].result = CallResult(content=invalid.message, is_error=True)
        run.output.reject(invalid)
        return
    _keep_output(run, value)


def _keep_output(run: RunContext, value: Any) -> None:
    """The run's output, kept in the thread (a reloaded thread has it)."""
    assert run.output is not None
    run.output.take(value)
    run.state.extra[OUTPUT_KEY] = {
        "run_id": run.run_id,
        "type": run.output.spec.name,
        "value": run.output.data,
    }


class _PartialOutput:
    """Emits `OutputDelta`s as a JSON answer streams in: the text (native and prompted
    modes) or the `final_answer` call's arguments (tool mode)."""

    def __init__(self, run: RunContext) -> None:
        assert run.output is not None
        self.run = run
        self.spec = run.output.spec
        self.texts: dict[int, str] = {}
        self.last: Any = None

    def feed(self, text: str, call: int = 0) -> None:
        self.texts[call] = self.texts.get(call, "") + text
        value = self.spec.partial(self.texts[call])
        if value is None or value == self.last or value in ({}, []):
            return
        self.last = value
        run = self.run
        shown = sanitize_json(value, redact_strings=True) if run.sanitize else value
        run.emit(OutputDelta(value=shown, **run.event_meta()))


def _settle(entry: PendingCall, outcome: CallResult | SubAgentSuspended) -> None:
    """Record a call's outcome: done, or waiting inside a sub-agent."""
    if entry.started is not None:  # pydantic assignments are not free: only when needed
        entry.started = None
    if isinstance(outcome, CallResult):
        entry.result = outcome
        if entry.waiting is not None:
            entry.waiting = entry.subagent = entry.subagent_state = None
        return
    entry.waiting = "subagent"
    entry.subagent = outcome.agent_name
    entry.subagent_state = outcome.state
    entry.interrupt = outcome.interrupt.model_copy(
        update={"agent_path": [outcome.agent_name, *outcome.interrupt.agent_path]}
    )


def _answer(action: HitlAction, crashed: bool) -> CallResult:
    """The result of a call a human rejected or answered instead of running it."""
    if action.action == "respond":
        return CallResult(content=action.message or "")
    why = f" Reason: {action.reason}" if action.reason else ""
    if crashed:
        return CallResult(
            content=f"The call was interrupted by a crash and may have run; the user chose not "
            f"to run it again.{why}",
            is_error=True,
        )
    return CallResult(content=f"The user rejected this tool call.{why}", is_error=True)


def _resumed(action: HitlAction | None, sanitize: bool) -> str:
    """How a resumed run's start is shown: the decision, its arguments sanitized."""
    assert action is not None
    shown = action.model_dump(exclude_none=True)
    return f"(resumed: {sanitize_json(shown, redact_strings=True) if sanitize else shown})"


def _check_start(start: _Start, paused: PendingTurn | None, thread_id: str) -> None:
    """A new message needs a thread that is not paused; a decision needs a waiting call."""
    head = paused.head() if paused is not None else None
    if start.action is None:
        if paused is None:
            return
        name = head.call.name if head is not None else "a tool"
        if head is not None and head.started is not None and claim_is_alive(head.started):
            raise PendingInterruptError(
                f"thread {thread_id!r} is running {name} in another run right now; send the "
                f"message when that run has finished"
            )
        raise PendingInterruptError(
            f"thread {thread_id!r} is waiting for approval of {name}; answer it with "
            f"agent.resume_with_approval(...)"
        )
    if head is None:
        raise NoPendingInterruptError(
            f"thread {thread_id!r} has no pending interrupt to resume (never paused, "
            f"or already resumed)"
        )
    if head.started is not None and claim_is_alive(head.started):
        raise InterruptClaimedError(
            f"the call to {head.call.name} on thread {thread_id!r} is being run by another "
            f"resume (run {head.started.run_id} of process {head.started.owner}); this one "
            f"ran nothing"
        )


def _tool_names(agent: DeepAgent) -> set[str]:
    """The tools of `agent` and of every sub-agent below it."""
    names = set(agent.tools)
    for m in agent.middleware:
        if isinstance(m, SubAgentMiddleware):
            for sub in m.subagents.values():
                if isinstance(sub, AgentAsSubAgent) and sub.agent is not agent:
                    names |= _tool_names(sub.agent)
    return names


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
