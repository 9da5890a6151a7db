"""Shared set-up for the OpenTelemetry tests: an SDK provider with in-memory exporters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deepagents_nb import DeepAgent, ToolCall, create_deep_agent, tool
from deepagents_nb.messages import Message
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.models.base import ModelResponse
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.otel import OpenTelemetryBroadcaster
from deepagents_nb.usage import Usage


def memory_tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = named(spans, name)
    assert len(found) == 1, f"{len(found)} spans named {name!r} in {[s.name for s in spans]}"
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id


def trace_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.trace_id


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def times(span: ReadableSpan) -> tuple[int, int]:
    """A finished span's start and end, in nanoseconds."""
    assert span.start_time is not None and span.end_time is not None
    return span.start_time, span.end_time


@tool
def lookup(city: str) -> str:
    """Find a city's population."""
    if city == "Atlantis":
        raise ValueError("no such city")
    return f"{city}: 2.1 million"


def priced(
    item: ToolCall | list[ToolCall] | str, input_tokens: int, output_tokens: int
) -> ModelResponse:
    """A scripted response with known usage, from a model with a known price."""
    if isinstance(item, str):
        message = Message.assistant(item)
    else:
        message = Message.assistant(tool_calls=item if isinstance(item, list) else [item])
    return ModelResponse(
        message=message,
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=10),
        model="gpt-4o-2024-08-06",
        provider="openai",
        duration_ms=250.0,
    )


def agent_with_subagent(broadcaster: OpenTelemetryBroadcaster) -> DeepAgent:
    """A planner that calls `lookup`, then the `checker` sub-agent, then answers."""
    parent = ScriptedModel(
        [
            priced(ToolCall(name="lookup", args={"city": "Paris"}, id="call-1"), 100, 20),
            priced(
                ToolCall(
                    name="task",
                    args={"description": "Check the figure", "subagent_type": "checker"},
                    id="call-2",
                ),
                150,
                30,
            ),
            priced("Paris has 2.1 million people.", 200, 12),
        ],
        model_name="gpt-4o",
        provider="openai",
    )
    checker = ScriptedModel(["The figure is right."], model_name="checker-model")
    return create_deep_agent(
        model=parent,
        tools=[lookup],
        subagents=[SubAgentConfig("checker", "Checks figures.", "Check.", model=checker)],
        event_broadcasters=[broadcaster],
        name="planner",
    )
