"""Rich displays: HTML in a notebook, readable text elsewhere, everything escaped."""

from __future__ import annotations

from deepagents_nb import (
    AgentStateSnapshot,
    HitlPolicy,
    InMemoryCheckpointer,
    Message,
    ModelResponse,
    TodoItem,
    ToolCall,
    Usage,
    create_deep_agent,
)
from deepagents_nb.display import FilesView, TodoView, result_text
from deepagents_nb.models.testing import ScriptedModel


def test_result_renders_its_answer_usage_and_messages_escaped() -> None:
    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="ls"), "Use <b>bold</b> & mail a@b.com"])
    )
    result = agent.handle_message("hi", thread_id="t")
    html = result._repr_html_()
    assert "Use &lt;b&gt;bold&lt;/b&gt; &amp; mail a@b.com" in html
    assert "2 model calls" in html and "thread t" in html
    assert "<code>ls</code>" in html
    text = repr(result)
    assert text.startswith("AgentResult(thread_id='t')\n→ ls {}")
    assert result.run_id not in text  # stable across runs
    assert str(result) == result.text


def test_paused_result_shows_the_interrupt() -> None:
    from deepagents_nb import tool

    @tool
    def wipe(disk: str) -> str:
        """Wipe a disk."""
        return "wiped"

    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="wipe", args={"disk": "/dev/sda"})]),
        tools=[wipe],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"wipe": HitlPolicy(note="Irreversible")},
    )
    result = agent.handle_message("wipe it")
    html = result._repr_html_()
    assert "Approval needed" in html and "<code>wipe</code>" in html
    assert "Irreversible" in html and "/dev/sda" in html
    assert "⏸ Approval needed for wipe: Irreversible" in result_text(result)


def test_state_todos_and_files_views() -> None:
    state = AgentStateSnapshot(
        messages=[Message.user("<script>")],
        todos=[TodoItem(content="Plan", status="completed"), TodoItem(content="Do")],
        files={"/a.md": "x < y"},
    )
    html = state._repr_html_()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "x &lt; y" in html and "Plan" in html
    assert repr(TodoView(state.todos)) == "☑ Plan (completed)\n☐ Do (pending)"
    assert "color:#15803d" in TodoView(state.todos)._repr_html_()
    assert repr(FilesView(state.files)) == "/a.md (5 characters)"
    assert repr(TodoView([])) == "(no todos)" and repr(FilesView({})) == "(no files)"


def test_usage_ledger_renders_a_table_per_agent_and_model() -> None:
    response = ModelResponse(
        message=Message.assistant("ok"),
        usage=Usage(input_tokens=1_000_000, output_tokens=0),
        provider="openai",
        model="gpt-4o-mini",
    )
    agent = create_deep_agent(model=ScriptedModel([response]))
    agent.handle_message("hi")
    html = agent.usage._repr_html_()
    assert "<td>agent</td><td>gpt-4o-mini</td><td>1</td><td>1,000,000</td>" in html
    assert "$0.150000" in html
    off = create_deep_agent(model=ScriptedModel([]), token_tracking=False)
    assert "token tracking is off" in off.usage._repr_html_()
