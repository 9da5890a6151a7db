"""Events become spans in the GenAI conventions: the tree, its attributes, content."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from otel_support import (
    agent_with_subagent,
    attrs,
    lookup,
    memory_tracing,
    named,
    one,
    parent_of,
    priced,
    span_id,
    times,
    trace_id,
)

from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.otel import OpenTelemetryBroadcaster


def test_a_run_with_a_tool_and_a_subagent_is_one_nested_trace() -> None:
    provider, exporter = memory_tracing()
    broadcaster = OpenTelemetryBroadcaster(provider)
    agent = agent_with_subagent(broadcaster)
    result = agent.handle_message("How many people live in Paris?", "t1")  # type: ignore[attr-defined]
    spans = exporter.get_finished_spans()

    root = one(spans, "invoke_agent planner")
    sub = one(spans, "invoke_agent checker")
    lookup_span = one(spans, "execute_tool lookup")
    task_span = one(spans, "execute_tool task")
    chats = named(spans, "chat gpt-4o")
    sub_chat = one(spans, "chat checker-model")

    assert {trace_id(s) for s in spans} == {trace_id(root)}  # one trace
    assert parent_of(root) is None
    assert [parent_of(s) for s in chats] == [span_id(root)] * 3
    assert parent_of(lookup_span) == parent_of(task_span) == span_id(root)
    assert parent_of(sub) == span_id(task_span)  # the sub-agent under its task call
    assert parent_of(sub_chat) == span_id(sub)
    assert len(spans) == 8
    assert broadcaster.open_spans == 0

    assert attrs(root) | {"deepagents.run_id": "-"} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "planner",
        "gen_ai.conversation.id": "t1",
        "deepagents.run_id": "-",
        "deepagents.depth": 0,
        "gen_ai.usage.input_tokens": 450,
        "gen_ai.usage.output_tokens": 62,
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "deepagents.cost_usd": pytest.approx(attrs(root)["deepagents.cost_usd"]),
    }
    assert attrs(root)["deepagents.run_id"] == result.run_id
    first = attrs(chats[0])
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.provider.name"] == "openai"
    assert first["gen_ai.request.model"] == "gpt-4o"
    assert first["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert first["gen_ai.usage.input_tokens"] == 100
    assert first["gen_ai.usage.output_tokens"] == 20
    assert first["gen_ai.usage.cache_read.input_tokens"] == 10
    assert first["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert first["deepagents.cost_usd"] > 0
    assert sum(attrs(c)["deepagents.cost_usd"] for c in chats) == pytest.approx(
        attrs(root)["deepagents.cost_usd"]
    )
    # A request's span ends when its event was made and lasts its duration at most.
    start, end = times(chats[0])
    assert 0 < end - start <= 250e6
    assert attrs(lookup_span) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup",
        "gen_ai.tool.call.id": "call-1",
        "gen_ai.tool.type": "function",
    }
    assert attrs(sub)["deepagents.depth"] == 1
    assert attrs(sub)["gen_ai.conversation.id"] == "t1/checker/call-2"
    # Without capture_content no message text reaches a span.
    for span in spans:
        assert not any(
            k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.tool.call.a"))
            for k in attrs(span)
        )
    # Children lie inside their parents in time.
    for span in spans:
        parent = next((p for p in spans if span_id(p) == parent_of(span)), None)
        if parent is not None:
            assert times(parent)[0] <= times(span)[0] <= times(span)[1] <= times(parent)[1]


def test_capture_content_puts_sanitized_messages_on_the_spans() -> None:
    provider, exporter = memory_tracing()
    model = ScriptedModel(
        [ToolCall(name="lookup", args={"city": "Paris"}, id="c1"), "Mail sent to bob@example.com"]
    )
    agent = create_deep_agent(
        model=model,
        tools=[lookup],
        event_broadcasters=[OpenTelemetryBroadcaster(provider, capture_content=True)],
    )
    agent.handle_message("Write to alice@example.com about Paris")
    spans = exporter.get_finished_spans()
    root = one(spans, "invoke_agent agent")
    assert json.loads(attrs(root)["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Write to [EMAIL] about Paris"}]}
    ]
    assert json.loads(attrs(root)["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Mail sent to [EMAIL]"}]}
    ]
    first, second = named(spans, "chat scripted")
    assert json.loads(attrs(first)["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"city": "Paris"}}
            ],
            "finish_reason": "tool_use",
        }
    ]
    assert "[EMAIL]" in attrs(second)["gen_ai.output.messages"]
    tool_span = one(spans, "execute_tool lookup")
    assert json.loads(attrs(tool_span)["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert attrs(tool_span)["gen_ai.tool.call.result"] == "Paris: 2.1 million"


def test_content_is_left_raw_when_the_agent_does_not_sanitize() -> None:
    provider, exporter = memory_tracing()
    agent = create_deep_agent(
        model=ScriptedModel(["Mail sent to bob@example.com"]),
        event_broadcasters=[OpenTelemetryBroadcaster(provider, capture_content=True)],
        pii_sanitization=False,
    )
    agent.handle_message("Write to alice@example.com")
    root = one(exporter.get_finished_spans(), "invoke_agent agent")
    assert "alice@example.com" in attrs(root)["gen_ai.input.messages"]
    assert "bob@example.com" in attrs(root)["gen_ai.output.messages"]


def test_a_failing_tool_and_a_failing_run_have_error_status() -> None:
    provider, exporter = memory_tracing()
    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="lookup", args={"city": "Atlantis"}, id="c1")]),
        tools=[lookup],
        event_broadcasters=[OpenTelemetryBroadcaster(provider)],
    )
    with pytest.raises(Exception, match="ScriptedModel has 1 responses"):
        agent.handle_message("Atlantis?")
    spans = exporter.get_finished_spans()
    tool_span = one(spans, "execute_tool lookup")
    assert tool_span.status.status_code.name == "ERROR"
    assert "no such city" in (tool_span.status.description or "")
    assert attrs(tool_span)["error.type"] == "tool_error"
    root = one(spans, "invoke_agent agent")
    assert root.status.status_code.name == "ERROR"
    assert attrs(root)["error.type"] == "ModelBehaviorError"
    (exception,) = [e for e in root.events if e.name == "exception"]
    assert attrs(exception)["exception.type"] == "ModelBehaviorError"  # type: ignore[arg-type]


def test_metrics_record_tokens_and_durations_when_a_meter_provider_is_given() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    provider, _ = memory_tracing()
    agent = create_deep_agent(
        model=ScriptedModel(
            [
                priced(ToolCall(name="lookup", args={"city": "Rome"}), 100, 20),
                priced("Rome: 2.1 million", 200, 12),
            ]
        ),
        tools=[lookup],
        event_broadcasters=[OpenTelemetryBroadcaster(provider, meter_provider=meters)],
    )
    agent.handle_message("Rome?")
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    tokens = metrics["gen_ai.client.token.usage"]
    assert tokens.unit == "{token}"
    by_type = {p.attributes["gen_ai.token.type"]: p for p in tokens.data.data_points}
    assert (by_type["input"].sum, by_type["input"].count) == (300, 2)
    assert (by_type["output"].sum, by_type["output"].count) == (32, 2)
    assert by_type["input"].attributes["gen_ai.request.model"] == "scripted"
    assert by_type["input"].attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    (point,) = duration.data.data_points
    assert point.count == 2 and point.sum == pytest.approx(0.5)
    assert point.attributes["gen_ai.operation.name"] == "chat"


def test_tracing_keyword_and_builder_attach_the_broadcaster() -> None:
    from deepagents_nb import ConfigurableAgentBuilder

    agent = create_deep_agent(model=ScriptedModel([]), tracing=True)
    assert any(isinstance(b, OpenTelemetryBroadcaster) for b in agent.dispatcher.broadcasters)
    mine = OpenTelemetryBroadcaster(capture_content=True)
    built = ConfigurableAgentBuilder().with_model(ScriptedModel([])).with_tracing(mine).build()
    assert mine in built.dispatcher.broadcasters
    plain = create_deep_agent(model=ScriptedModel([]))
    assert not any(isinstance(b, OpenTelemetryBroadcaster) for b in plain.dispatcher.broadcasters)
    assert built.dispatcher.wants_content and not agent.dispatcher.wants_content


def test_tracing_refuses_what_is_not_a_switch_or_a_broadcaster() -> None:
    from deepagents_nb import ConfigurationError

    with pytest.raises(ConfigurationError, match="tracing="):
        create_deep_agent(model=ScriptedModel([]), tracing="yes")  # type: ignore[arg-type]


def test_without_the_extra_nothing_imports_it_and_tracing_says_what_to_install() -> None:
    code = """
import sys
sys.modules["opentelemetry"] = None  # as if deepagents-nb[otel] were not installed
import deepagents_nb
from deepagents_nb import ConfigurationError, create_deep_agent
from deepagents_nb.models.testing import ScriptedModel
assert create_deep_agent(model=ScriptedModel(["hi"])).handle_message("x").text == "hi"
try:
    create_deep_agent(model=ScriptedModel([]), tracing=True)
except ConfigurationError as error:
    print(error)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        'deepagents_nb.otel needs an optional dependency: pip install "deepagents-nb[otel]"'
    )


def test_importing_the_package_does_not_import_opentelemetry() -> None:
    code = "import sys, deepagents_nb; print([m for m in sys.modules if 'opentelemetry' in m])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
