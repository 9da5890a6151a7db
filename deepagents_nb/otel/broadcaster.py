"""`OpenTelemetryBroadcaster`: a run's events as a tree of spans.

Spans are made from events after the fact, with the events' own timestamps, so
a run never waits on an exporter: events are delivered in the background (see
`deepagents_nb.broadcast`), mostly while the run waits for its model. The tree of
one top-level run:

    invoke_agent {agent}            one per run, the trace's root
    ├── chat {model}                one per model request
    └── execute_tool {tool}         one per tool call
        └── invoke_agent {sub}      a sub-agent started by this `task` call

A run that pauses for an approval ends its spans (`deepagents.paused`); the
run that resumes it starts a new trace linked to the paused one.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode

from deepagents_nb import __version__
from deepagents_nb.events import (
    AgentCompleted,
    AgentFailed,
    AgentStarted,
    ContextEdited,
    EventBase,
    InterruptRaised,
    InterruptResolved,
    TodosUpdated,
    TokenUsage,
    ToolCompleted,
    ToolFailed,
    ToolStarted,
)
from deepagents_nb.otel import conventions as c
from deepagents_nb.otel.ids import (
    SeededIds,
    run_span_context,
    seed_tracer,
    span_id_for,
    trace_id_for,
)
from deepagents_nb.otel.metrics import GenAIMetrics

_REMEMBERED_RUNS = 10_000
"""Ended runs whose span a resumed run of this process can link to."""


@dataclass
class _Run:
    span: Span
    start: int
    thread: str
    root: str
    """The run id of the top-level run of this trace."""
    tokens: list[int] = field(default_factory=lambda: [0, 0])
    cost: float | None = None
    model: tuple[str, str] | None = None
    """(provider, model) of the run's first model request."""


class OpenTelemetryBroadcaster:
    """Turns an agent's events into OpenTelemetry spans (GenAI semantic conventions).

        agent.add_broadcaster(OpenTelemetryBroadcaster())    # the global provider
        agent.add_broadcaster(OpenTelemetryBroadcaster(provider, meter_provider=meters))

    Args:
        tracer_provider: Where spans go; the global one (`opentelemetry.trace`)
            when None, looked up at the first run, so it may be set after this.
            Give it a `BatchSpanProcessor`: spans end on the run's event loop, and a
            `SimpleSpanProcessor` would export each one there, waiting on the receiver.
        meter_provider: When given, `gen_ai.client.token.usage` and
            `gen_ai.client.operation.duration` histograms are recorded too.
        capture_content: Put messages on the spans (the user's message and the
            answer, each model response, tool arguments and result previews),
            sanitized like events when the agent sanitizes (the default). Off by
            default: spans then carry names, ids, models, tokens and cost only.
        id: The broadcaster's id on an agent.
    """

    def __init__(
        self,
        tracer_provider: Any = None,
        *,
        meter_provider: Any = None,
        capture_content: bool = False,
        id: str = "opentelemetry",
    ) -> None:
        self._provider = tracer_provider
        self._tracer: trace.Tracer | None = None
        self._ids: SeededIds | None = None
        self._metrics = GenAIMetrics(meter_provider) if meter_provider is not None else None
        self.captures_content = capture_content
        self._id = id
        self._lock = threading.Lock()  # a background run delivers from another thread
        self._runs: dict[str, _Run] = {}
        self._tools: dict[tuple[str, str], tuple[Span, str]] = {}
        self._ended: OrderedDict[str, SpanContext] = OrderedDict()
        self._handlers: dict[type[EventBase], Callable[[Any], None]] = {
            AgentStarted: self._agent_started,
            AgentCompleted: self._agent_completed,
            AgentFailed: self._agent_failed,
            TokenUsage: self._token_usage,
            ToolStarted: self._tool_started,
            ToolCompleted: self._tool_completed,
            ToolFailed: self._tool_failed,
            InterruptRaised: self._interrupt_raised,
            InterruptResolved: self._interrupt_resolved,
            ContextEdited: self._span_event,
            TodosUpdated: self._span_event,
        }

    @property
    def id(self) -> str:
        return self._id

    async def broadcast(self, event: EventBase) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            with self._lock:
                handler(event)

    @property
    def open_spans(self) -> int:
        """Spans started and not yet ended (runs in progress, tools running)."""
        return len(self._runs) + len(self._tools)

    # ----- runs ----------------------------------------------------------------------------

    @property
    def tracer(self) -> trace.Tracer:
        if self._tracer is None:
            provider = self._provider or trace.get_tracer_provider()
            self._tracer = provider.get_tracer("deepagents_nb", __version__)
            self._ids = seed_tracer(self._tracer)
        return self._tracer

    def _agent_started(self, event: AgentStarted) -> None:
        tracer = self.tracer
        parent = self._task_call(event) if event.depth else None
        root = parent[1] if parent else event.run_id
        if self._ids is not None:
            self._ids.span_id = span_id_for(event.run_id)
            self._ids.trace_id = trace_id_for(event.run_id)  # unused below a parent
        links = []
        if event.resumes:
            paused = self._ended.get(event.resumes)
            if paused is None and self._ids is not None and not event.depth:
                paused = run_span_context(event.resumes)  # paused in another process
            if paused is not None:
                links.append(Link(paused, {c.RUN_ID: event.resumes}))
        try:
            span = tracer.start_span(
                f"invoke_agent {event.agent_name}",
                context=trace.set_span_in_context(parent[0]) if parent else None,
                kind=SpanKind.INTERNAL,
                attributes=c.agent_attributes(event, self.captures_content),
                links=links,
                start_time=_ns(event.timestamp),
            )
        finally:
            if self._ids is not None:
                self._ids.span_id = self._ids.trace_id = None
        self._runs[event.run_id] = _Run(span, _ns(event.timestamp), event.thread_id, root)

    def _task_call(self, event: AgentStarted) -> tuple[Span, str] | None:
        """The open `task` call span a sub-agent's run belongs to (and its root)."""
        # A sub-agent's thread is "<parent thread>/<sub-agent>/<task call id>".
        head, _, call_id = event.thread_id.rpartition("/")
        parent_thread, _, name = head.rpartition("/")
        if name != event.agent_name:
            return None
        key = (parent_thread, call_id)
        if key not in self._tools:
            # The call started in a run that paused: its span went with that run. The
            # run resuming it (the newest open one of the parent thread) gets a new one.
            parent = next(
                (r for r in reversed(self._runs.values()) if r.thread == parent_thread), None
            )
            if parent is None:
                return None
            span = self.tracer.start_span(
                "execute_tool task",
                context=trace.set_span_in_context(parent.span),
                kind=SpanKind.INTERNAL,
                attributes={**c.call_attributes("task", call_id), c.RESUMED: True},
                start_time=_ns(event.timestamp),
            )
            self._tools[key] = (span, parent.root)
        return self._tools[key]

    def _agent_completed(self, event: AgentCompleted) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        if self.captures_content:
            run.span.set_attribute(c.OUTPUT_MESSAGES, c.text_message("assistant", event.response))
        self._end_run(event.run_id, event.timestamp)

    def _agent_failed(self, event: AgentFailed) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        _fail(run.span, event.error_type, event.error_message, event.timestamp)
        self._end_run(event.run_id, event.timestamp)

    def _interrupt_raised(self, event: InterruptRaised) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        attributes: dict[str, Any] = {
            c.TOOL_NAME: event.tool_name,
            c.TOOL_CALL_ID: event.call_id,
            "deepagents.agent_path": event.agent_path,
        }
        if event.policy_note:
            attributes["deepagents.policy_note"] = event.policy_note
        if self.captures_content:
            attributes[c.TOOL_ARGUMENTS] = json.dumps(event.args, ensure_ascii=False, default=str)
        run.span.add_event("approval_requested", attributes, _ns(event.timestamp))
        # The run stops here: it and whatever of its tree is still open end, marked paused.
        for span in self._open_in(run.root):
            span.set_attribute(c.PAUSED, True)
        self._end_run(event.run_id, event.timestamp)

    def _interrupt_resolved(self, event: InterruptResolved) -> None:
        run = self._runs.get(event.run_id)
        if run is not None:
            attributes = {
                c.TOOL_NAME: event.tool_name,
                c.TOOL_CALL_ID: event.call_id,
                "deepagents.action": event.action,
                "deepagents.agent_path": event.agent_path,
            }
            run.span.add_event("approval_resolved", attributes, _ns(event.timestamp))

    def _end_run(self, run_id: str, when: datetime) -> None:
        run = self._runs.pop(run_id)
        if run.root == run_id:
            # A top-level run ended: nothing of its tree may stay open (a sub-agent
            # stopped by its parent's pause, a cancelled tool).
            for other in [k for k, r in self._runs.items() if r.root == run_id]:
                self._end_run(other, when)
            for key in [k for k, (_, root) in self._tools.items() if root == run_id]:
                self._tools.pop(key)[0].end(_ns(when))
        input_tokens, output_tokens = run.tokens
        run.span.set_attributes({c.INPUT_TOKENS: input_tokens, c.OUTPUT_TOKENS: output_tokens})
        if run.model is not None:
            run.span.set_attributes({c.PROVIDER: run.model[0], c.REQUEST_MODEL: run.model[1]})
        if run.cost is not None:
            run.span.set_attribute(c.COST, run.cost)
        self._ended[run_id] = run.span.get_span_context()
        while len(self._ended) > _REMEMBERED_RUNS:
            self._ended.popitem(last=False)
        run.span.end(_ns(when))

    def _open_in(self, root: str) -> list[Span]:
        runs = [r.span for r in self._runs.values() if r.root == root]
        return runs + [span for span, tree in self._tools.values() if tree == root]

    # ----- model requests ------------------------------------------------------------------

    def _token_usage(self, event: TokenUsage) -> None:
        run = self._runs.get(event.run_id)
        attributes = c.chat_attributes(event, self.captures_content)
        model = attributes[c.REQUEST_MODEL]
        end = _ns(event.timestamp)
        start = end - int(event.duration_ms * 1_000_000)
        span = self.tracer.start_span(
            f"chat {model}",
            context=trace.set_span_in_context(run.span) if run else None,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            # A model's own timing may start before its run's clock did: keep it inside.
            start_time=max(start, run.start) if run else start,
        )
        span.end(end)
        if run is not None:
            run.tokens[0] += event.usage.input_tokens
            run.tokens[1] += event.usage.output_tokens
            if event.estimated_cost is not None:
                run.cost = (run.cost or 0.0) + event.estimated_cost
            run.model = run.model or (attributes[c.PROVIDER], model)
        if self._metrics is not None:
            self._metrics.record_chat(attributes, event.duration_ms / 1000)

    # ----- tools ---------------------------------------------------------------------------

    def _tool_started(self, event: ToolStarted) -> None:
        run = self._runs.get(event.run_id)
        span = self.tracer.start_span(
            f"execute_tool {event.tool_name}",
            context=trace.set_span_in_context(run.span) if run else None,
            kind=SpanKind.INTERNAL,
            attributes=c.tool_attributes(event, self.captures_content),
            start_time=_ns(event.timestamp),
        )
        self._tools[(event.thread_id, event.call_id)] = (span, run.root if run else event.run_id)

    def _tool_completed(self, event: ToolCompleted) -> None:
        opened = self._tools.pop((event.thread_id, event.call_id), None)
        if opened is None:
            return
        span = opened[0]
        if self.captures_content:
            span.set_attribute(c.TOOL_RESULT, event.result_summary)
        if not event.success:
            # The tool ran and answered with an error for the model to see.
            span.set_status(Status(StatusCode.ERROR, event.result_summary))
            span.set_attribute(c.ERROR_TYPE, "tool_error")
        span.end(_ns(event.timestamp))

    def _tool_failed(self, event: ToolFailed) -> None:
        opened = self._tools.pop((event.thread_id, event.call_id), None)
        if opened is not None:
            _fail(opened[0], "tool_error", event.error_message, event.timestamp)
            opened[0].end(_ns(event.timestamp))

    # ----- everything else -----------------------------------------------------------------

    def _span_event(self, event: ContextEdited | TodosUpdated) -> None:
        """Context edits and todo updates, as events of their run's span (checkpoints, one
        per step, are left out: they cost more than they tell)."""
        run = self._runs.get(event.run_id)
        if run is None:
            return
        skip = {"thread_id", "run_id", "agent_name", "depth", "timestamp", "event_type", "todos"}
        attributes = {
            f"deepagents.{key}": value
            for key, value in event.model_dump(exclude=skip).items()
            if isinstance(value, str | int | float | bool)
        }
        run.span.add_event(event.event_type, attributes, _ns(event.timestamp))


def _fail(span: Span, error_type: str, message: str, when: datetime) -> None:
    span.set_status(Status(StatusCode.ERROR, message))
    span.set_attribute(c.ERROR_TYPE, error_type)
    span.add_event(
        "exception", {"exception.type": error_type, "exception.message": message}, _ns(when)
    )


def _ns(when: datetime) -> int:
    """An event's timestamp as OpenTelemetry's nanoseconds since the epoch."""
    return int(when.timestamp() * 1_000_000) * 1_000
