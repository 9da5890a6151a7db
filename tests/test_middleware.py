"""The middleware stack, user middleware hooks, planning and prompt caching."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from helpers import Recorder

from deepagents_nb import (
    ConfigurableAgentBuilder,
    Middleware,
    PlanningComplete,
    TodosUpdated,
    ToolCall,
    ToolOutcome,
    create_deep_agent,
    tool,
)
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.middleware.base import ToolHandler
from deepagents_nb.models.base import ModelRequest, ModelResponse
from deepagents_nb.models.testing import ScriptedModel


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


def test_default_stack_is_in_the_seeds_order_and_user_middleware_comes_last() -> None:
    class Mine(Middleware):
        name = "mine"

    agent = create_deep_agent(model=ScriptedModel([]), tools=[echo], middleware=[Mine()])
    assert [m.name for m in agent.middleware] == [
        "planning",
        "filesystem",
        "subagents",
        "tool_results",
        "summarization",
        "anthropic_prompt_caching",
        "mine",
    ]
    assert list(agent.tools) == [
        "echo",
        "write_todos",
        "ls",
        "read_file",
        "write_file",
        "edit_file",
        "glob",
        "grep",
        "task",
    ]
    prompt = agent.system_prompt
    assert prompt.index("## Planning") < prompt.index("## Files") < prompt.index("## Sub-agents")


def test_parts_of_the_stack_can_be_switched_off() -> None:
    agent = (
        ConfigurableAgentBuilder()
        .with_model(ScriptedModel([]))
        .with_general_purpose_agent(False)
        .with_summarization(False)
        .with_prompt_caching(False)
        .with_read_todos()
        .build()
    )
    assert [m.name for m in agent.middleware] == [
        "planning",
        "filesystem",
        "subagents",
        "tool_results",
    ]
    assert "task" not in agent.tools  # no sub-agents, no task tool
    assert "read_todos" in agent.tools


class Tracing(Middleware):
    """Records every hook call and changes requests, calls, outcomes and responses."""

    name = "tracing"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def tools(self) -> list[Any]:
        return [echo]

    def system_prompt(self) -> str:
        return "## Tracing\nBe traced."

    async def before_model(self, request: ModelRequest, run: RunContext) -> ModelRequest:
        self.log.append(f"before_model:{len(request.messages)}")
        request.metadata["traced"] = True
        return request

    async def after_model(self, response: ModelResponse, run: RunContext) -> ModelResponse:
        self.log.append("after_model")
        return response

    async def before_tool(self, call: ToolCall, ctx: ToolContext) -> ToolCall | ToolOutcome:
        self.log.append(f"before_tool:{call.name}")
        if call.args == {"text": "blocked"}:
            return ToolOutcome("blocked by policy", is_error=True)
        return replace(call, args={"text": "rewritten"})

    async def wrap_tool(
        self, call: ToolCall, ctx: ToolContext, call_next: ToolHandler
    ) -> ToolOutcome:
        self.log.append("wrap:enter")
        outcome = await call_next(call, ctx)
        self.log.append("wrap:exit")
        return outcome

    async def after_tool(
        self, call: ToolCall, outcome: ToolOutcome, ctx: ToolContext
    ) -> ToolOutcome:
        self.log.append(f"after_tool:{outcome.content}")
        return ToolOutcome(outcome.content.upper(), outcome.is_error)


def test_user_middleware_hooks_run_in_order_and_can_change_everything() -> None:
    log: list[str] = []
    model = ScriptedModel(
        [
            ToolCall(name="echo", args={"text": "original"}),
            ToolCall(name="echo", args={"text": "blocked"}),
            "done",
        ]
    )
    agent = (
        ConfigurableAgentBuilder()
        .with_model(model)
        .with_general_purpose_agent(False)
        .with_middleware(Tracing(log))
        .build()
    )
    result = agent.handle_message("go")

    tool_results = [m.content for m in result.messages if m.role == "tool"]
    assert tool_results == ["REWRITTEN", "BLOCKED BY POLICY"]
    assert log == [
        "before_model:1",
        "after_model",
        "before_tool:echo",
        "wrap:enter",
        "wrap:exit",
        "after_tool:rewritten",
        "before_model:3",
        "after_model",
        "before_tool:echo",
        "after_tool:blocked by policy",  # answered by before_tool: the tool never ran
        "before_model:5",
        "after_model",
    ]
    assert all(r.metadata.get("traced") for r in model.requests)
    assert model.requests[0].system is not None and "## Tracing" in model.requests[0].system


def test_write_todos_replaces_the_list_and_emits_events() -> None:
    recorder = Recorder()
    plan = [
        {"content": "Research", "status": "in_progress"},
        {"content": "Write", "status": "pending"},
    ]
    done = [
        {"content": "Research", "status": "completed"},
        {"content": "Write", "status": "completed"},
    ]
    model = ScriptedModel(
        [
            ToolCall(name="write_todos", args={"todos": plan}),
            ToolCall(name="write_todos", args={"todos": done}),
            ToolCall(name="write_todos", args={"todos": [{"content": "x", "status": "doing"}]}),
            "finished",
        ]
    )
    agent = create_deep_agent(model=model, event_broadcasters=[recorder])
    result = agent.handle_message("plan it")

    assert [(t.content, t.status) for t in result.state.todos] == [
        ("Research", "completed"),
        ("Write", "completed"),
    ]
    tool_results = [m for m in result.messages if m.role == "tool"]
    assert tool_results[0].content == (
        "Updated the todo list: 2 items (0 done, 1 in progress, 1 pending).\n"
        "[~] Research\n[ ] Write"
    )
    # A bad status is an error the model can read, and the list is left as it was.
    assert tool_results[2].is_error and "status" in tool_results[2].content
    assert "pending" in tool_results[2].content
    updates = recorder.of(TodosUpdated)
    assert [(u.pending_count, u.in_progress_count, u.completed_count) for u in updates] == [  # type: ignore[attr-defined]
        (1, 1, 0),
        (0, 0, 2),
    ]
    assert len(recorder.of(PlanningComplete)) == 1
    description = agent.tools["write_todos"].description
    assert "replaces the previous one" in description and "in_progress" in description


def test_read_todos_sees_the_current_list() -> None:
    model = ScriptedModel(
        [
            ToolCall(name="write_todos", args={"todos": [{"content": "A", "status": "pending"}]}),
            ToolCall(name="read_todos"),
            "ok",
        ]
    )
    agent = create_deep_agent(model=model, read_todos=True)
    result = agent.handle_message("go")
    assert [m.content for m in result.messages if m.role == "tool"][1] == "[ ] A"


def test_prompt_caching_marks_anthropic_requests_only() -> None:
    def requests_of(provider: str, caching: bool) -> list[ModelRequest]:
        model = ScriptedModel(["hi"], provider=provider)
        create_deep_agent(model=model, prompt_caching=caching).handle_message("hello")
        return model.requests

    assert requests_of("anthropic", True)[0].metadata.get("prompt_caching") is True
    assert "prompt_caching" not in requests_of("openai", True)[0].metadata
    assert "prompt_caching" not in requests_of("anthropic", False)[0].metadata
