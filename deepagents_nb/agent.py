"""`DeepAgent`: the run loop.

    request -> model -> for each tool call: hooks -> validate -> run -> events
            -> reduce state -> checkpoint -> repeat until the model answers.

Async inside; every public async method has a sync twin that also works inside
a running event loop (a Jupyter cell).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from deepagents_nb._sync import iterate_sync, run_sync
from deepagents_nb.broadcast import EventBroadcaster, EventDispatcher
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.events import (
    AgentCompleted,
    AgentFailed,
    AgentStarted,
    EventBase,
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
    ToolArgumentsError,
    ToolExecutionError,
)
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.middleware.base import Middleware, ToolHandler, overrides
from deepagents_nb.models.base import ChatModel, ModelRequest, ModelResponse, ResponseComplete
from deepagents_nb.persistence.base import Checkpointer
from deepagents_nb.persistence.memory import InMemoryCheckpointer
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
from deepagents_nb.tools import Tool, ToolOutcome
from deepagents_nb.usage import Usage, UsageTracker

EventSink = Callable[[EventBase], None]


@dataclass
class AgentConfig:
    """Everything `ConfigurableAgentBuilder` and `create_deep_agent` collect."""

    instructions: str = ""
    name: str = "agent"
    description: str = ""
    model: ChatModel | None = None
    tools: list[Tool] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)
    checkpointer: Checkpointer | None = None
    dispatcher: EventDispatcher = field(default_factory=EventDispatcher)
    pii_sanitization: bool = True
    max_turns: int = 50
    max_tokens: int | None = None
    temperature: float | None = None
    token_tracking: UsageTracker | None = None


@dataclass
class AgentResult:
    """What a run produced.

    `messages` are the messages this run added (the user's message first);
    `state` is the thread's whole state after the run.
    """

    text: str
    messages: list[Message]
    state: AgentStateSnapshot
    usage: Usage
    thread_id: str
    run_id: str
    duration_ms: float
    interrupt: Any = None

    def __str__(self) -> str:
        return self.text


class DeepAgent:
    """An agent with tools, middleware, a checkpointer and event broadcasters.

    Build one with `create_deep_agent(...)` or `ConfigurableAgentBuilder(...)`.
    Threads are kept by the checkpointer (in memory unless one is configured),
    so consecutive messages on one `thread_id` continue one conversation.
    """

    def __init__(self, config: AgentConfig) -> None:
        if config.model is None:
            raise ConfigurationError(
                "the agent has no model: pass model=... (a ChatModel, or ScriptedModel for "
                "offline use) or call .with_model(...)"
            )
        if config.max_turns < 1:
            raise ConfigurationError(f"max_turns must be at least 1, got {config.max_turns}")
        self.config = config
        self.name = config.name
        self.model: ChatModel = config.model
        self.checkpointer: Checkpointer = config.checkpointer or InMemoryCheckpointer()
        self.dispatcher = config.dispatcher
        self._middleware = list(config.middleware)
        self._tools: dict[str, Tool] = {}
        for tool in [*config.tools, *(t for m in self._middleware for t in m.tools())]:
            if tool.name in self._tools:
                raise ConfigurationError(
                    f"two tools are named {tool.name!r}; tool names must be unique"
                )
            self._tools[tool.name] = tool
        self._schemas = tuple(tool.schema for tool in self._tools.values())
        sections = [config.instructions, *(m.system_prompt() for m in self._middleware)]
        self.system_prompt = "\n\n".join(s for s in sections if s)
        # Only hooks a middleware overrides are called: unused hooks cost nothing.
        self._before_model = [m for m in self._middleware if overrides(m, "before_model")]
        self._after_model = [m for m in self._middleware if overrides(m, "after_model")]
        self._before_tool = [m for m in self._middleware if overrides(m, "before_tool")]
        self._after_tool = [m for m in self._middleware if overrides(m, "after_tool")]
        self._tool_handler: ToolHandler = self._invoke_tool
        for m in reversed([m for m in self._middleware if overrides(m, "wrap_tool")]):
            self._tool_handler = partial(m.wrap_tool, call_next=self._tool_handler)

    def __repr__(self) -> str:
        return (
            f"DeepAgent(name={self.name!r}, model={self.model.model_name!r}, "
            f"tools={list(self._tools)})"
        )

    @property
    def tools(self) -> dict[str, Tool]:
        return dict(self._tools)

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        return tuple(self._middleware)

    def add_broadcaster(self, broadcaster: EventBroadcaster) -> None:
        """Send this agent's events to `broadcaster` too."""
        self.dispatcher.add_broadcaster(broadcaster)

    # ----- public entry points -------------------------------------------------------------

    async def ahandle_message(
        self, text: str, thread_id: str = "default", state: AgentStateSnapshot | None = None
    ) -> AgentResult:
        """Send a user message and run until the model answers.

        `state`, when given, replaces the thread's stored state as the starting point.
        """
        return await self._run(text, thread_id, state, sink=None)

    def handle_message(
        self, text: str, thread_id: str = "default", state: AgentStateSnapshot | None = None
    ) -> AgentResult:
        """Sync twin of `ahandle_message`; works inside a Jupyter cell too."""
        return run_sync(self.ahandle_message(text, thread_id, state))

    def astream(
        self, text: str, thread_id: str = "default", state: AgentStateSnapshot | None = None
    ) -> AgentRun:
        """Run and yield events as they happen (text arrives as `StreamingToken`s).

        run = agent.astream("hi")
        async for event in run:
            ...
        print(run.result.text)
        """
        return AgentRun(partial(self._run, text, thread_id, state))

    def stream(
        self, text: str, thread_id: str = "default", state: AgentStateSnapshot | None = None
    ) -> SyncAgentRun:
        """Sync twin of `astream`: iterate events, then read `.result`."""
        return SyncAgentRun(self.astream(text, thread_id, state))

    async def aget_state(self, thread_id: str = "default") -> AgentStateSnapshot:
        """The thread's latest state (empty for a thread never run)."""
        checkpoint = await self.checkpointer.load(thread_id)
        return checkpoint.state if checkpoint else AgentStateSnapshot()

    def get_state(self, thread_id: str = "default") -> AgentStateSnapshot:
        return run_sync(self.aget_state(thread_id))

    # ----- the loop ------------------------------------------------------------------------

    async def _run(
        self,
        text: str,
        thread_id: str,
        state: AgentStateSnapshot | None,
        sink: EventSink | None = None,
        parent: RunContext | None = None,
    ) -> AgentResult:
        """One run. With `parent`, this is a sub-agent run: ephemeral (never saved)
        and reporting its events to the parent's listeners."""
        if not isinstance(text, str):
            raise ConfigurationError(f"the message must be a str, got {type(text).__name__}")
        started = time.perf_counter()
        persist = parent is None
        stored = await self.checkpointer.load(thread_id) if persist else None
        version = stored.version if stored else 0
        if state is not None:
            state = state.copy_for_run()
        else:
            state = stored.state if stored else AgentStateSnapshot()
        if parent is not None:
            sink = parent.emit if parent.listening else None
        run = RunContext(
            thread_id=thread_id,
            run_id=uuid.uuid4().hex,
            agent_name=self.name,
            state=state,
            emit=self._emitter(sink),
            model=self.model,
            depth=parent.depth + 1 if parent else 0,
            sanitize=self.config.pii_sanitization,
            listening=sink is not None or self.dispatcher.has_listeners,
            streaming=parent.streaming
            if parent
            else sink is not None or self.dispatcher.wants_streaming,
            tracker=parent.tracker if parent else self.config.token_tracking,
        )
        if run.listening:
            run.emit(AgentStarted(message_preview=self._preview(text), **run.event_meta()))
        run.add_message(Message.user(text))
        try:
            for _ in range(self.config.max_turns):
                if run.tracker is not None:
                    run.tracker.check_budget(thread_id=run.thread_id, run_id=run.run_id)
                response = await self._call_model(run)
                run.add_message(response.message)
                if response.message.tool_calls:
                    for message, update in await self._run_tools(response.message.tool_calls, run):
                        apply_update(state, update)
                        run.add_message(message)
                if persist:
                    version = await self._checkpoint(run, version)
                if not response.message.tool_calls:
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
                await self.dispatcher.flush()
            raise
        answer = state.messages[-1].content
        duration = _ms_since(started)
        if run.listening:
            run.emit(
                AgentCompleted(
                    duration_ms=duration,
                    response_preview=self._preview(answer),
                    response=redact_pii(answer) if run.sanitize else answer,
                    **run.event_meta(),
                )
            )
        if persist:
            await self.dispatcher.flush()
        return AgentResult(
            text=answer,
            messages=run.added,
            state=state,
            usage=run.usage,
            thread_id=thread_id,
            run_id=run.run_id,
            duration_ms=duration,
        )

    async def _call_model(self, run: RunContext) -> ModelResponse:
        request = ModelRequest(
            messages=tuple(run.state.messages),
            system=self.system_prompt,
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

    async def _run_tools(
        self, calls: Sequence[ToolCall], run: RunContext
    ) -> list[tuple[Message, StateUpdate]]:
        if len(calls) == 1:
            return [await self._run_tool(calls[0], run)]
        # Independent calls run concurrently; results keep the model's call order.
        return list(await asyncio.gather(*(self._run_tool(call, run) for call in calls)))

    async def _run_tool(self, call: ToolCall, run: RunContext) -> tuple[Message, StateUpdate]:
        ctx = ToolContext(run=run, call_id=call.id)
        listening = run.listening
        started = time.perf_counter()
        if listening:
            args = call.args if isinstance(call.args, dict) else {"raw": call.args}
            run.emit(
                ToolStarted(
                    tool_name=call.name,
                    call_id=call.id,
                    input_summary=self._payload_preview(args),
                    args=sanitize_json(args, redact_strings=True) if run.sanitize else args,
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
            duration = _ms_since(started)
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
        update = ctx.update if not outcome.is_error else StateUpdate()
        return (
            Message.tool(call.id, call.name, outcome.content, is_error=outcome.is_error),
            update,
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

    async def _checkpoint(self, run: RunContext, version: int) -> int:
        version = await self.checkpointer.save(
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

    # ----- events --------------------------------------------------------------------------

    def _emitter(self, sink: EventSink | None) -> EventSink:
        dispatch = self.dispatcher.emit
        if sink is None:
            return dispatch if self.dispatcher.has_listeners else _silent

        def emit(event: EventBase) -> None:
            dispatch(event)
            sink(event)

        return emit

    def _preview(self, text: str, length: int = MAX_PREVIEW_LENGTH) -> str:
        return (
            safe_preview(text, length) if self.config.pii_sanitization else truncate(text, length)
        )

    def _payload_preview(self, value: Any) -> str:
        if self.config.pii_sanitization:
            return sanitize_tool_payload(value)
        return truncate(value if isinstance(value, str) else str(value))


def _silent(event: EventBase) -> None:
    """The emitter of a run nobody listens to."""


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class AgentRun:
    """The events of one run as they happen; `result` once the iteration ends."""

    def __init__(self, start: Callable[..., Any]) -> None:
        self._start = start
        self.result: AgentResult | None = None

    def __aiter__(self) -> AsyncIterator[EventBase]:
        return self._events()

    async def _events(self) -> AsyncIterator[EventBase]:
        queue: asyncio.Queue[EventBase | None] = asyncio.Queue()
        task = asyncio.ensure_future(self._start(sink=queue.put_nowait))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            self.result = task.result()
        finally:
            if not task.done():
                task.cancel()


class SyncAgentRun:
    """Sync twin of `AgentRun`."""

    def __init__(self, run: AgentRun) -> None:
        self._run = run

    def __iter__(self) -> Iterator[EventBase]:
        return iterate_sync(aiter(self._run))

    @property
    def result(self) -> AgentResult | None:
        return self._run.result
