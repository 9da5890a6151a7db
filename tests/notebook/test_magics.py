"""`%%agent` and `%agent` through IPython's in-process shell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from deepagents_nb import AgentResult, HitlPolicy, InMemoryCheckpointer, ToolCall, create_deep_agent
from deepagents_nb import tool as make_tool
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptedModel


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "deepagents_nb")
    yield ip
    for name in ("bot", "topic", "out", "gated", "not_an_agent", "notes"):
        ip.user_ns.pop(name, None)


@make_tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


def test_cell_magic_interpolates_and_stores_the_result(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ScriptedModel([ToolCall(name="shout", args={"text": "hi"}), "Cats are great."])
    shell.user_ns["bot"] = create_deep_agent(model=model, tools=[shout])
    shell.user_ns["topic"] = "cats"

    shell.run_cell_magic("agent", "-a bot -t t1 -o out --no-widgets", "Tell me about {topic}.")

    assert model.requests[0].messages[-1].content == "Tell me about cats."
    result = shell.user_ns["out"]
    assert isinstance(result, AgentResult) and result.thread_id == "t1"
    printed = capsys.readouterr().out
    assert "→ shout" in printed and "✓ HI" in printed and "Cats are great." in printed


def test_bad_input_gives_short_usage_errors(shell: InteractiveShell) -> None:
    shell.user_ns["not_an_agent"] = 42
    with pytest.raises(UsageError, match="no variable named 'missing'"):
        shell.run_cell_magic("agent", "-a missing", "hi")
    with pytest.raises(UsageError, match="is not a DeepAgent but a int"):
        shell.run_cell_magic("agent", "-a not_an_agent", "hi")
    with pytest.raises(UsageError, match=r"uses \{nowhere\} but no variable 'nowhere'"):
        shell.run_cell_magic("agent", "-a not_an_agent", "about {nowhere}")
    with pytest.raises(UsageError, match="cell is empty"):
        shell.run_cell_magic("agent", "", "   ")
    with pytest.raises(UsageError, match="unknown command 'frobnicate'"):
        shell.run_line_magic("agent", "frobnicate -a not_an_agent")
    with pytest.raises(UsageError):
        shell.run_line_magic("agent", "threads --bogus-option")


def test_literal_braces_survive(shell: InteractiveShell) -> None:
    model = ScriptedModel(["ok"])
    shell.user_ns["bot"] = create_deep_agent(model=model)
    shell.run_cell_magic("agent", "-a bot --no-widgets", 'Return {{"a": 1}}')
    assert model.requests[0].messages[-1].content == 'Return {"a": 1}'


def test_line_commands(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    script = [
        ToolCall(name="write_todos", args={"todos": [{"content": "Plan", "status": "completed"}]}),
        ToolCall(name="write_file", args={"file_path": "/a.md", "content": "hello"}),
        "done",
    ]
    shell.user_ns["bot"] = create_deep_agent(model=ScriptedModel(script))
    shell.run_cell_magic("agent", "-a bot -t work --no-widgets", "go")

    assert shell.run_line_magic("agent", "threads -a bot") == ["work"]
    todos = shell.run_line_magic("agent", "todos -a bot -t work")
    assert repr(todos) == "☑ Plan (completed)" and "Plan" in todos._repr_html_()
    files = shell.run_line_magic("agent", "files -a bot -t work")
    assert repr(files) == "/a.md (5 characters)" and "hello" in files._repr_html_()
    shell.run_line_magic("agent", "reset -a bot -t work")
    assert shell.run_line_magic("agent", "threads -a bot") == []
    shell.run_line_magic("agent", "help")
    assert "approve" in capsys.readouterr().out


def test_approve_and_reject_without_widgets(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[str] = []

    @make_tool
    def deploy(env: str) -> str:
        """Deploy."""
        ran.append(env)
        return f"deployed to {env}"

    script = [
        ToolCall(name="deploy", args={"env": "staging"}),
        ToolCall(name="deploy", args={"env": "prod"}),
        "finished",
    ]
    shell.user_ns["gated"] = create_deep_agent(
        model=ScriptedModel(script),
        tools=[deploy],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"deploy": HitlPolicy(note="Deploys need a human")},
    )
    shell.run_cell_magic("agent", "-a gated -t d --no-widgets", "ship it")
    printed = capsys.readouterr().out
    assert "Approval needed for deploy: Deploys need a human" in printed
    assert "%agent approve" in printed and "(-t d)" in printed

    shell.run_line_magic("agent", "approve -a gated -t d")
    assert ran == ["staging"]
    assert "Approval needed for deploy" in capsys.readouterr().out  # the second deploy

    shell.run_line_magic("agent", "reject not on a Friday -a gated -t d")
    assert ran == ["staging"]
    state = shell.user_ns["gated"].get_state("d")
    rejected = [m for m in state.messages if m.role == "tool"][-1]
    assert rejected.content == "The user rejected this tool call. Reason: not on a Friday"
    with pytest.raises(UsageError, match="no pending approval"):
        shell.run_line_magic("agent", "approve -a gated -t d")


def test_default_agent_without_a_key_is_a_short_error(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY"):
        shell.run_cell_magic("agent", "--no-widgets", "hello")


def test_mount_and_export(shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []

    def model(request: ModelRequest) -> ToolCall | str:
        last = request.messages[-1]
        if last.role == "user":
            return ToolCall(name="read_file", args={"file_path": "/kernel/notes.txt"})
        if last.name == "read_file":
            seen.append(last.content)
            return ToolCall(name="write_file", args={"file_path": "/out.md", "content": "summary"})
        return "wrote /out.md"

    shell.user_ns["bot"] = create_deep_agent(model=FunctionModel(model))
    shell.user_ns["notes"] = "buy milk"
    shell.run_cell_magic("agent", "-a bot -t m --mount notes --no-widgets", "summarise my notes")
    assert seen == ["     1\tbuy milk"]

    shell.run_line_magic("agent", "export /out.md out -a bot -t m")
    assert shell.user_ns["out"] == "summary"
    assert shell.user_ns["notes"] == "buy milk"
    with pytest.raises(UsageError, match=r"no file '/nope\.md'"):
        shell.run_line_magic("agent", "export /nope.md out -a bot -t m")
    with pytest.raises(UsageError, match="usage: %agent export"):
        shell.run_line_magic("agent", "export /out.md -a bot -t m")
    with pytest.raises(UsageError, match="cannot mount ghost"):
        shell.run_cell_magic("agent", "-a bot --mount ghost --no-widgets", "hi")


def test_background_cell_returns_a_handle(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.user_ns["bot"] = create_deep_agent(model=ScriptedModel(["later"]))
    shell.run_cell_magic("agent", "-a bot -t bg --background --no-widgets -o out", "go")
    assert "Started in the background on thread 'bg'" in capsys.readouterr().out
    handle = shell.user_ns["out"]
    assert handle.result(timeout=5).text == "later"
