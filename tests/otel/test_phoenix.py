"""A traced run reaches a real OTLP receiver: Arize Phoenix, started by `.ci/run`.

Spans go over OTLP/HTTP through the OpenTelemetry SDK's own exporter; what arrived
is read back through Phoenix's REST API. Locally: `phoenix serve` (pip install
arize-phoenix) and DEEPAGENTS_NB_PHOENIX_URL=http://127.0.0.1:6006.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import httpx
from helpers import require_service
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from otel_support import agent_with_subagent

from deepagents_nb.otel import OpenTelemetryBroadcaster

PHOENIX_URL = os.environ.get("DEEPAGENTS_NB_PHOENIX_URL", "http://127.0.0.1:6006")


def phoenix_is_up(wait: float) -> bool:
    """Whether Phoenix answers, waiting up to `wait` s (CI starts it in the background)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            if httpx.get(f"{PHOENIX_URL}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def received(project: str, count: int) -> list[dict[str, Any]]:
    """The spans Phoenix holds for `project`, once it holds `count` (ingestion is async)."""
    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = httpx.get(f"{PHOENIX_URL}/v1/projects/{project}/spans", timeout=10)
        if reply.status_code == 200:
            spans = reply.json()["data"]
            if len(spans) >= count:
                return spans
        time.sleep(0.5)
    raise AssertionError(f"Phoenix holds {len(spans)} spans of {project}, expected {count}")


def test_a_run_with_a_tool_and_a_subagent_arrives_as_one_nested_trace() -> None:
    require_service(
        "Arize Phoenix",
        phoenix_is_up(wait=90 if os.environ.get("CI") else 2),
        f"run `phoenix serve` or set DEEPAGENTS_NB_PHOENIX_URL; tried {PHOENIX_URL}",
    )
    project = f"deepagents-nb-{uuid.uuid4().hex[:8]}"
    # Phoenix files spans under the project its resource attribute names.
    resource = Resource.create(
        {"service.name": "deepagents-nb-tests", "openinference.project.name": project}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{PHOENIX_URL}/v1/traces")))
    agent = agent_with_subagent(OpenTelemetryBroadcaster(provider))
    result = agent.handle_message("How many people live in Paris?", "paris")
    assert provider.force_flush(10_000)
    provider.shutdown()

    arrived = received(project, 8)
    assert len(arrived) == 8
    spans = {s["name"]: s for s in arrived}
    root = spans["invoke_agent planner"]
    task = spans["execute_tool task"]
    sub = spans["invoke_agent checker"]
    assert {s["context"]["trace_id"] for s in spans.values()} == {root["context"]["trace_id"]}
    assert root["parent_id"] is None
    assert (
        task["parent_id"] == spans["execute_tool lookup"]["parent_id"] == root["context"]["span_id"]
    )
    assert sub["parent_id"] == task["context"]["span_id"]
    assert spans["chat checker-model"]["parent_id"] == sub["context"]["span_id"]

    assert root["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["attributes"]["gen_ai.agent.name"] == "planner"
    assert root["attributes"]["gen_ai.conversation.id"] == "paris"
    assert root["attributes"]["deepagents.run_id"] == result.run_id
    assert root["attributes"]["gen_ai.usage.input_tokens"] == 450
    chat = spans["chat gpt-4o"]["attributes"]
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.provider.name"] == "openai"
    assert chat["gen_ai.request.model"] == "gpt-4o"
    assert chat["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    chats = [s["attributes"] for s in arrived if s["name"] == "chat gpt-4o"]
    assert sorted(c["gen_ai.usage.output_tokens"] for c in chats) == [12, 20, 30]
    assert chat["deepagents.cost_usd"] > 0
    assert task["attributes"]["gen_ai.tool.name"] == "task"
    assert task["attributes"]["gen_ai.tool.call.id"] == "call-2"
