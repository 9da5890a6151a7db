"""Events and approvals name the MCP server a tool call goes to."""

from __future__ import annotations

import pytest
from mcp_support import build_agent, time_server

from deepagents_nb import InMemoryCheckpointer
from deepagents_nb.events import InterruptRaised, ToolCompleted, ToolFailed, ToolStarted
from deepagents_nb.hitl import AgentInterrupt
from deepagents_nb.mcp import MCPTool
from deepagents_nb.messages import ToolCall
from deepagents_nb.models.testing import ScriptedModel

pytest.importorskip("mcp")


def test_an_mcp_tool_says_which_server_it_calls() -> None:
    agent = build_agent(ScriptedModel(["hi"]), [time_server()])
    try:
        tool = agent.tools["convert_time"]
        assert isinstance(tool, MCPTool)
        assert tool.source == "mcp:time" and tool.remote_name == "convert_time"
        assert getattr(agent.tools["ls"], "source", None) is None
    finally:
        agent.close()


@pytest.mark.skipif(
    "source" not in ToolStarted.model_fields or "source" not in AgentInterrupt.model_fields,
    reason="events and interrupts carry no `source` field yet (events.py, hitl.py)",
)
def test_tool_events_and_interrupts_carry_the_server() -> None:
    model = ScriptedModel(
        [
            [
                ToolCall("get_current_time", {"timezone": "Europe/Lisbon"}, id="ok"),
                ToolCall("get_current_time", {"timezone": "Not/AZone"}, id="bad"),
            ],
            ToolCall("convert_time", {"source_timezone": "UTC", "time": "9:00"}, id="gated"),
        ]
    )
    agent = build_agent(
        model,
        [time_server()],
        interrupt_on={"convert_*": True},
        checkpointer=InMemoryCheckpointer(),
    )
    try:
        run = agent.stream("time?")
        events = list(run)
    finally:
        agent.close()
    ends = [e for e in events if isinstance(e, ToolStarted | ToolCompleted | ToolFailed)]
    assert {getattr(e, "source", None) for e in ends} == {"mcp:time"}
    raised = next(e for e in events if isinstance(e, InterruptRaised))
    assert getattr(raised, "source", None) == "mcp:time"
    assert run.result is not None and run.result.interrupt is not None
    assert getattr(run.result.interrupt, "source", None) == "mcp:time"
