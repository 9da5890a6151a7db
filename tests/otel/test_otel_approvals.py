"""Approvals on spans: a paused run's spans end marked paused, and the run that
resumes it links to it, in this process or in another one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from otel_support import attrs, memory_tracing, named, one, parent_of, span_id, times, trace_id

from deepagents_nb import HitlAction, InMemoryCheckpointer, ToolCall, create_deep_agent, tool
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.otel import OpenTelemetryBroadcaster

HERE = Path(__file__).parent


@tool
def pay(amount: int) -> str:
    """Pay an amount."""
    return f"paid {amount}"


def test_a_paused_run_ends_its_spans_and_the_resumed_run_links_to_it() -> None:
    provider, exporter = memory_tracing()
    broadcaster = OpenTelemetryBroadcaster(provider)
    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="pay", args={"amount": 5}, id="p1"), "Paid."]),
        tools=[pay],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"pay": True},
        event_broadcasters=[broadcaster],
    )
    paused = agent.handle_message("Pay 5", "bill")
    assert paused.interrupt is not None
    (first,) = named(exporter.get_finished_spans(), "invoke_agent agent")
    assert attrs(first)["deepagents.paused"] is True
    (requested,) = [e for e in first.events if e.name == "approval_requested"]
    assert dict(requested.attributes or {}) == {
        "gen_ai.tool.name": "pay",
        "gen_ai.tool.call.id": "p1",
        "deepagents.agent_path": (),
    }
    assert not named(exporter.get_finished_spans(), "execute_tool pay")  # it did not run
    assert broadcaster.open_spans == 0

    exporter.clear()
    resumed = agent.resume_with_approval(HitlAction.accept(), "bill")
    spans = exporter.get_finished_spans()
    second = one(spans, "invoke_agent agent")
    assert trace_id(second) != trace_id(first)  # a run, a trace
    (link,) = second.links
    assert (link.context.trace_id, link.context.span_id) == (trace_id(first), span_id(first))
    assert dict(link.attributes or {}) == {"deepagents.run_id": paused.run_id}
    assert attrs(second)["deepagents.run_id"] == resumed.run_id
    assert "deepagents.paused" not in attrs(second)
    (resolved,) = [e for e in second.events if e.name == "approval_resolved"]
    assert dict(resolved.attributes or {})["deepagents.action"] == "accept"
    assert parent_of(one(spans, "execute_tool pay")) == span_id(second)


def test_a_subagent_pausing_ends_its_whole_tree_marked_paused() -> None:
    provider, exporter = memory_tracing()
    broadcaster = OpenTelemetryBroadcaster(provider)
    sub_model = ScriptedModel([ToolCall(name="pay", args={"amount": 9}), "Sub paid."])
    agent = create_deep_agent(
        model=ScriptedModel(
            [
                ToolCall(name="task", args={"description": "pay 9", "subagent_type": "payer"}),
                "All paid.",
            ]
        ),
        subagents=[SubAgentConfig("payer", "Pays.", "Pay.", model=sub_model, tools=[pay])],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"pay": True},
        event_broadcasters=[broadcaster],
    )
    assert agent.handle_message("Pay 9", "t").interrupt is not None
    spans = exporter.get_finished_spans()
    root, task, sub = (
        one(spans, "invoke_agent agent"),
        one(spans, "execute_tool task"),
        one(spans, "invoke_agent payer"),
    )
    assert parent_of(sub) == span_id(task) and parent_of(task) == span_id(root)
    assert all(attrs(s)["deepagents.paused"] is True for s in (root, task, sub))
    assert times(sub)[1] <= times(root)[1]
    assert broadcaster.open_spans == 0

    exporter.clear()
    assert agent.resume_with_approval(HitlAction.accept(), "t").text == "All paid."
    spans = exporter.get_finished_spans()
    root2 = one(spans, "invoke_agent agent")
    assert [(link.context.span_id) for link in root2.links] == [span_id(root)]
    sub2 = one(spans, "invoke_agent payer")  # the sub-agent's run goes on, and says so
    assert [(link.context.span_id) for link in sub2.links] == [span_id(sub)]
    task2 = one(spans, "execute_tool task")  # the call goes on in the resuming run
    assert parent_of(task2) == span_id(root2) and parent_of(sub2) == span_id(task2)
    assert attrs(task2)["deepagents.resumed"] is True
    assert parent_of(one(spans, "execute_tool pay")) == span_id(one(spans, "invoke_agent payer"))
    assert broadcaster.open_spans == 0


def test_a_run_resumed_in_another_process_links_to_the_paused_one(tmp_path: Path) -> None:
    db = tmp_path / "threads.db"

    def run(mode: str) -> list[dict[str, object]]:
        out = tmp_path / f"{mode}.json"
        done = subprocess.run(
            [sys.executable, str(HERE / "otel_worker.py"), mode, str(db), str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        spans: list[dict[str, object]] = json.loads(out.read_text())
        return spans

    paused = [s for s in run("pause") if s["name"] == "invoke_agent agent"]
    resumed = [s for s in run("resume") if s["name"] == "invoke_agent agent"]
    assert len(paused) == len(resumed) == 1
    assert paused[0]["attributes"]["deepagents.paused"] is True  # type: ignore[index]
    assert "approval_requested" in paused[0]["events"]  # type: ignore[operator]
    assert resumed[0]["links"] == [[paused[0]["trace_id"], paused[0]["span_id"]]]
    assert resumed[0]["trace_id"] != paused[0]["trace_id"]
