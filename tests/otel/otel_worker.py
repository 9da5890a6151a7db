"""One process of the cross-process test: pause a run, or resume it, tracing to a file.

    python otel_worker.py pause|resume DB SPANS_JSON

Sets the global tracer provider and uses `create_deep_agent(tracing=True)`, as a
user would; the spans it finished are written to SPANS_JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from deepagents_nb import HitlAction, SqliteCheckpointer, ToolCall, create_deep_agent, tool
from deepagents_nb.models.testing import ScriptedModel


@tool
def pay(amount: int) -> str:
    """Pay an amount."""
    return f"paid {amount}"


def main(mode: str, db: str, out: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    script: list[Any] = [ToolCall(name="pay", args={"amount": 5})] if mode == "pause" else ["Paid."]
    agent = create_deep_agent(
        model=_scripted(script),
        tools=[pay],
        checkpointer=SqliteCheckpointer(db),
        interrupt_on={"pay": True},
        tracing=True,
    )
    if mode == "pause":
        assert agent.handle_message("Pay 5", "bill").interrupt is not None
    else:
        assert agent.resume_with_approval(HitlAction.accept(), "bill").text == "Paid."
    agent.close()
    spans = []
    for span in exporter.get_finished_spans():
        context = span.get_span_context()
        assert context is not None
        spans.append(
            {
                "name": span.name,
                "trace_id": context.trace_id,
                "span_id": context.span_id,
                "parent": span.parent.span_id if span.parent else None,
                "links": [[link.context.trace_id, link.context.span_id] for link in span.links],
                "attributes": dict(span.attributes or {}),
                "events": [e.name for e in span.events],
            }
        )
    with open(out, "w") as file:
        json.dump(spans, file)


def _scripted(script: list[Any]) -> ScriptedModel:
    return ScriptedModel(script)


if __name__ == "__main__":
    main(*sys.argv[1:4])
