"""Sub-agents through the `task` tool: isolation, file merge, concurrency, events."""

from __future__ import annotations

import asyncio

import pytest
from helpers import Recorder

from deepagents_nb import (
    AgentCompleted,
    ConfigurationError,
    SubAgentCompleted,
    SubAgentStarted,
    TokenUsage,
    ToolCall,
    ToolContext,
    ToolStarted,
    create_deep_agent,
)
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptedModel


def task(description: str, subagent_type: str, call_id: str | None = None) -> ToolCall:
    args = {"description": description, "subagent_type": subagent_type}
    return ToolCall(name="task", args=args, **({"id": call_id} if call_id else {}))


def slow_writer(name: str, delay: float) -> FunctionModel:
    """A sub-agent model: writes /<name>.md after `delay` seconds, then answers."""

    async def respond(request: ModelRequest) -> ToolCall | str:
        if request.messages[-1].role == "user":
            await asyncio.sleep(delay)
            return ToolCall(
                name="write_file", args={"file_path": f"/{name}.md", "content": f"by {name}"}
            )
        return f"{name} finished"

    return FunctionModel(respond, model_name=name)


def test_task_description_lists_the_subagents() -> None:
    agent = create_deep_agent(
        model=ScriptedModel([]),
        subagents=[SubAgentConfig("researcher", "Finds facts on the web.", "Research well.")],
    )
    description = agent.tools["task"].description
    assert "- general-purpose: General-purpose agent" in description
    assert "- researcher: Finds facts on the web." in description


async def test_two_subagents_run_concurrently_isolated_and_merge_files() -> None:
    recorder = Recorder()
    researcher, writer = slow_writer("researcher", 0.3), slow_writer("writer", 0.3)
    parent = ScriptedModel(
        [
            ToolCall(name="write_file", args={"file_path": "/brief.md", "content": "the brief"}),
            [task("Research X", "researcher", "t1"), task("Write Y", "writer", "t2")],
            "All done.",
        ]
    )
    agent = create_deep_agent(
        model=parent,
        instructions="secret parent instructions",
        subagents=[
            SubAgentConfig("researcher", "Researches.", "You research.", model=researcher),
            SubAgentConfig("writer", "Writes.", "You write.", model=writer),
        ],
        event_broadcasters=[recorder],
    )

    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await agent.ahandle_message("Do the project", thread_id="p")
    elapsed = loop.time() - started

    assert elapsed < 0.55  # two 0.3 s sub-agents in parallel, not 0.6 s in a row
    assert result.text == "All done."
    task_results = [m.content for m in result.messages if m.role == "tool"][1:]
    assert task_results == ["researcher finished", "writer finished"]
    assert result.state.files == {
        "/brief.md": "the brief",
        "/researcher.md": "by researcher",
        "/writer.md": "by writer",
    }
    # Isolation: the sub-agent saw only its instruction and its own prompt, not the parent's chat.
    first = researcher.requests[0]
    assert [m.content for m in first.messages] == ["Research X"]
    assert first.system is not None and first.system.startswith("You research.")
    assert "secret parent instructions" not in first.system
    assert "task" not in [t.name for t in first.tools]  # no recursive delegation
    # Sub-agent threads are ephemeral: only the parent's thread is stored.
    assert await agent.checkpointer.list_threads() == ["p"]

    started_events = recorder.of(SubAgentStarted)
    assert sorted(e.subagent_name for e in started_events) == ["researcher", "writer"]  # type: ignore[attr-defined]
    assert all(e.delegation_depth == 1 and e.depth == 0 for e in started_events)  # type: ignore[attr-defined]
    assert len(recorder.of(SubAgentCompleted)) == 2
    inner_tools = [e for e in recorder.of(ToolStarted) if e.depth == 1]
    assert sorted(e.agent_name for e in inner_tools) == ["researcher", "writer"]
    inner_usage = [e for e in recorder.of(TokenUsage) if e.depth == 1]
    assert {e.agent_name for e in inner_usage} == {"researcher", "writer"}
    # The parent's usage includes its sub-agents' calls: 3 parent + 2 x 2 sub-agent calls.
    assert result.usage.requests == 7
    assert [e.agent_name for e in recorder.of(AgentCompleted)][-1] == "agent"


def test_general_purpose_subagent_inherits_tools_and_instructions() -> None:
    def respond(request: ModelRequest) -> ToolCall | str:
        last = request.messages[-1]
        if request.system and request.system.startswith("Main rules") and last.content == "sub job":
            return "sub answer"
        if last.role == "user":
            return task("sub job", "general-purpose")
        return f"parent got: {last.content}"

    agent = create_deep_agent(model=FunctionModel(respond), instructions="Main rules")
    assert agent.handle_message("go").text == "parent got: sub answer"


def test_unknown_subagent_type_is_an_error_the_model_can_fix() -> None:
    model = ScriptedModel([task("x", "nobody"), "ok"])
    result = create_deep_agent(model=model).handle_message("go")
    error = next(m for m in result.messages if m.role == "tool")
    assert error.is_error
    assert error.content == "Error: Unknown subagent_type 'nobody'. Choose one of: general-purpose."


def test_custom_subagent_object_and_deep_agent_as_subagent() -> None:
    class Calculator:
        name = "calculator"
        description = "Adds numbers."

        async def run(self, instruction: str, ctx: ToolContext) -> str:
            return str(sum(int(n) for n in instruction.split("+")))

    expert = create_deep_agent(
        model=ScriptedModel(
            [ToolCall(name="write_file", args={"file_path": "/x.md", "content": "x"}), "expert ok"]
        ),
        name="expert",
        description="Knows everything.",
    )
    parent = ScriptedModel([[task("2+3", "calculator"), task("go", "expert")], "end"])
    agent = create_deep_agent(
        model=parent, subagents=[Calculator(), expert], general_purpose_agent=False
    )
    assert "- expert: Knows everything." in agent.tools["task"].description
    result = agent.handle_message("go")
    assert [m.content for m in result.messages if m.role == "tool"] == ["5", "expert ok"]
    assert result.state.files == {"/x.md": "x"}


def test_subagent_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="cannot be a sub-agent"):
        create_deep_agent(model=ScriptedModel([]), subagents=[object()])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="two sub-agents are named 'a'"):
        create_deep_agent(
            model=ScriptedModel([]),
            subagents=[SubAgentConfig("a", "x", "y"), SubAgentConfig("a", "x", "y")],
        )


def test_subagent_sees_parent_files_including_this_turns_writes() -> None:
    seen: list[str] = []

    def sub(request: ModelRequest) -> ToolCall | str:
        if request.messages[-1].role == "user":
            return ToolCall(name="read_file", args={"file_path": "/data.txt"})
        seen.append(request.messages[-1].content)
        return "read it"

    parent = ScriptedModel(
        [
            ToolCall(name="write_file", args={"file_path": "/data.txt", "content": "42"}),
            task("read /data.txt", "reader"),
            "ok",
        ]
    )
    agent = create_deep_agent(
        model=parent,
        subagents=[SubAgentConfig("reader", "Reads.", "Read.", model=FunctionModel(sub))],
    )
    agent.handle_message("go")
    assert seen == ["     1\t42"]
