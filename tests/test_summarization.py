"""Summarization boundaries, and the whole deep-agent stack in one scripted run."""

from __future__ import annotations

import pytest

from deepagents_nb import ConfigurationError, Message, ToolCall, create_deep_agent
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.middleware.summarization import (
    SUMMARY_PREFIX,
    SummarizationConfig,
    find_cut,
)
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptedModel


def conversation() -> list[Message]:
    call = ToolCall(name="ls", args={}, id="c1")
    return [
        Message.user("u1"),  # 0
        Message.assistant("a1"),  # 1
        Message.user("u2"),  # 2
        Message.assistant(tool_calls=[call, ToolCall(name="ls", id="c2")]),  # 3
        Message.tool("c1", "ls", "r1"),  # 4
        Message.tool("c2", "ls", "r2"),  # 5
        Message.assistant("a2"),  # 6
    ]


@pytest.mark.parametrize(
    ("keep", "cut"),
    [(1, 6), (2, 3), (3, 3), (4, 3), (5, 2), (7, 0), (20, 0), (0, 7)],
)
def test_cut_never_separates_a_tool_call_from_its_results(keep: int, cut: int) -> None:
    messages = conversation()
    assert find_cut(messages, keep) == cut
    if cut < len(messages):
        assert messages[cut].role != "tool"


def test_config_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="max_tokens_before_summary"):
        SummarizationConfig(max_tokens_before_summary=0)


def test_long_thread_is_summarized_by_the_model_and_keeps_recent_messages() -> None:
    summarizer = ScriptedModel(["The user asked about cats; 3 facts were found."])
    model = ScriptedModel(["first answer " * 20, "second answer", "third answer"])
    agent = create_deep_agent(
        model=model,
        summarization=SummarizationConfig(
            max_tokens_before_summary=50, messages_to_keep=2, model=summarizer
        ),
    )
    agent.handle_message("tell me about cats " * 5, thread_id="t")  # ~ 95 chars: not yet
    assert summarizer.requests == []
    result = agent.handle_message("and dogs?", thread_id="t")  # history now over 50 tokens

    assert len(summarizer.requests) == 1
    transcript = summarizer.requests[0].messages[0].content
    assert transcript == "user: " + "tell me about cats " * 5  # only what is not kept
    sent = model.requests[1].messages
    assert sent[0].content.startswith(SUMMARY_PREFIX)
    assert "3 facts were found" in sent[0].content
    assert [m.content for m in sent[1:]] == ["first answer " * 20, "and dogs?"]
    # The thread itself was condensed, so the summary is not redone from scratch next time.
    stored = agent.get_state("t").messages
    assert stored[0].metadata == {"summary": True}
    assert [m.content for m in stored[1:]] == ["first answer " * 20, "and dogs?", "second answer"]
    assert result.usage.requests == 2  # the summary call counts too


def test_summarization_can_be_switched_off() -> None:
    model = ScriptedModel(["x" * 1000, "y"])
    agent = create_deep_agent(model=model, summarization=False)
    agent.handle_message("a" * 1000, thread_id="t")
    agent.handle_message("b", thread_id="t")
    assert len(model.requests[1].messages) == 3


def test_deep_agent_end_to_end() -> None:
    """Plans, writes and edits files, delegates to two sub-agents at once, gets summarized."""

    def sub_model(name: str) -> FunctionModel:
        def respond(request: ModelRequest) -> ToolCall | str:
            if request.messages[-1].role == "user":
                path, text = f"/{name}.md", f"notes from {name}"
                return ToolCall(name="write_file", args={"file_path": path, "content": text})
            return f"{name}: saved /{name}.md"

        return FunctionModel(respond, model_name=name)

    plan = [
        {"content": "Write the outline", "status": "in_progress"},
        {"content": "Delegate research", "status": "pending"},
    ]
    done = [{"content": c["content"], "status": "completed"} for c in plan]
    script = [
        ToolCall(name="write_todos", args={"todos": plan}),
        ToolCall(name="write_file", args={"file_path": "/outline.md", "content": "1. TBD\n"}),
        ToolCall(
            name="edit_file",
            args={"file_path": "/outline.md", "old_string": "TBD", "new_string": "Intro"},
        ),
        [
            ToolCall(name="task", args={"description": "facts", "subagent_type": "facts"}),
            ToolCall(name="task", args={"description": "quotes", "subagent_type": "quotes"}),
        ],
        ToolCall(name="write_todos", args={"todos": done}),
        "The report is ready.",
    ]
    summarizer = FunctionModel(lambda request: "Outline written; research delegated.")
    agent = create_deep_agent(
        model=ScriptedModel(script),
        subagents=[
            SubAgentConfig("facts", "Finds facts.", "Find facts.", model=sub_model("facts")),
            SubAgentConfig("quotes", "Finds quotes.", "Find quotes.", model=sub_model("quotes")),
        ],
        summarization=SummarizationConfig(
            max_tokens_before_summary=60, messages_to_keep=4, model=summarizer
        ),
    )
    result = agent.handle_message("Write a report", thread_id="report")

    assert result.text == "The report is ready."
    assert result.state.files == {
        "/outline.md": "1. Intro\n",
        "/facts.md": "notes from facts",
        "/quotes.md": "notes from quotes",
    }
    assert all(t.status == "completed" for t in result.state.todos)
    assert len(summarizer.requests) >= 1
    assert result.state.messages[0].content.startswith(SUMMARY_PREFIX)
    assert not any(m.is_error for m in result.messages if m.role == "tool")


def test_incremental_estimate_matches_a_full_count() -> None:
    from deepagents_nb.context import RunContext
    from deepagents_nb.middleware.summarization import SummarizationMiddleware, estimate_tokens
    from deepagents_nb.state import AgentStateSnapshot

    middleware = SummarizationMiddleware()
    state = AgentStateSnapshot()
    run = RunContext(
        thread_id="t", run_id="r", agent_name="a", state=state, emit=lambda e: None,
        model=ScriptedModel([]),
    )  # fmt: skip
    for step in range(1, 8):
        state.messages.append(Message.user("x" * (37 * step)))
        state.messages.append(Message.assistant(tool_calls=[ToolCall(name="ls", args={"p": step})]))
        assert middleware._estimate(state.messages, run) == estimate_tokens(state.messages)
    state.messages[:] = [Message.user("short")]  # a summary rewrote the thread
    assert middleware._estimate(state.messages, run) == estimate_tokens(state.messages)
