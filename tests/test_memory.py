"""Memory files: in the system prompt each run, edited under /memories/ only with approval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deepagents_nb import (
    ConfigurableAgentBuilder,
    ConfigurationError,
    DeepAgent,
    HitlAction,
    HitlPolicy,
    InMemoryCheckpointer,
    Message,
    Middleware,
    ToolCall,
    create_deep_agent,
    tool,
)
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.middleware.fs_backends import FileToolError, StateBackend
from deepagents_nb.middleware.memory import MemoryMiddleware, memory_files
from deepagents_nb.middleware.routes import RoutedBackend
from deepagents_nb.models.testing import ScriptedModel


def make_agent(model: ScriptedModel, *middleware: Middleware, **kwargs: Any) -> DeepAgent:
    """`create_deep_agent(model=..., middleware=[...])`, as a user writes it."""
    return create_deep_agent(model=model, middleware=list(middleware), **kwargs)


def approving_agent(model: ScriptedModel, *middleware: Middleware, **kwargs: Any) -> DeepAgent:
    """An agent whose memory writes wait for approval (gated by path, by default)."""
    return make_agent(model, *middleware, checkpointer=InMemoryCheckpointer(), **kwargs)


def tool_results(agent: DeepAgent) -> list[Message]:
    return [m for m in agent.get_state().messages if m.role == "tool"]


@pytest.fixture
def agents_md(tmp_path: Path) -> Path:
    path = tmp_path / "AGENTS.md"
    path.write_text("# Project\nAlways answer in French.\n")
    return path


def test_each_file_is_in_the_prompt_under_a_heading_naming_it(
    tmp_path: Path, agents_md: Path
) -> None:
    (tmp_path / "USER.md").write_text("The user is called Ada.")
    model = ScriptedModel(["ok"])
    agent = make_agent(model, MemoryMiddleware([agents_md, tmp_path / "USER.md"]))

    agent.handle_message("hi")

    system = model.requests[0].system
    assert system is not None
    assert "### AGENTS.md (/memories/AGENTS.md)\n\n# Project\nAlways answer in French." in system
    assert "### USER.md (/memories/USER.md)\n\nThe user is called Ada." in system
    assert system.index("## Memory") < system.index("### AGENTS.md") < system.index("### USER.md")
    # The text is read when a run starts, not when the agent is built.
    assert "## Memory" in agent.system_prompt
    assert "Always answer in French" not in agent.system_prompt


def test_memory_is_read_once_per_run_so_edits_show_in_the_next_run(agents_md: Path) -> None:
    @tool
    def scribble() -> str:
        """Change the memory file on disk, as a person might during a run."""
        agents_md.write_text("Always answer in German.")
        return "done"

    model = ScriptedModel([ToolCall(name="scribble", args={}), "first", "second"])
    agent = make_agent(model, MemoryMiddleware(agents_md), tools=[scribble])

    agent.handle_message("one")
    agent.handle_message("two")

    systems = [r.system or "" for r in model.requests]
    assert ["French" in s for s in systems] == [True, True, False]
    assert "Always answer in German." in systems[2]


def test_the_agent_lists_and_reads_memory_files(agents_md: Path) -> None:
    model = ScriptedModel(
        [
            ToolCall(name="ls", args={"path": "/memories"}),
            ToolCall(name="read_file", args={"file_path": "/memories/AGENTS.md"}),
            "done",
        ]
    )
    agent = make_agent(model, MemoryMiddleware(agents_md))

    agent.handle_message("look")

    listing, content = tool_results(agent)
    assert listing.content == "/memories/AGENTS.md"
    assert "Always answer in French." in content.content
    assert not content.is_error


def test_an_edit_waits_for_approval_and_reaches_the_file_only_when_accepted(
    agents_md: Path,
) -> None:
    edit = ToolCall(
        name="edit_file",
        args={"file_path": "/memories/AGENTS.md", "old_string": "French", "new_string": "German"},
    )
    model = ScriptedModel([edit, "Noted.", "ok"])
    agent = approving_agent(model, MemoryMiddleware(agents_md))

    paused = agent.handle_message("From now on answer in German.")

    assert paused.interrupt is not None
    assert paused.interrupt.tool_name == "edit_file"
    assert paused.interrupt.diff is not None
    assert "-Always answer in French." in paused.interrupt.diff
    assert "+Always answer in German." in paused.interrupt.diff
    assert agents_md.read_text() == "# Project\nAlways answer in French.\n"

    done = agent.resume_with_approval(HitlAction.accept())

    assert done.interrupt is None
    assert agents_md.read_text() == "# Project\nAlways answer in German.\n"
    assert tool_results(agent)[-1].content == "Replaced 1 occurrence in /memories/AGENTS.md."
    agent.handle_message("next")
    assert "Always answer in German." in (model.requests[-1].system or "")


def test_a_rejected_edit_leaves_the_file_alone(agents_md: Path) -> None:
    edit = ToolCall(
        name="edit_file",
        args={"file_path": "/memories/AGENTS.md", "old_string": "French", "new_string": "Klingon"},
    )
    agent = approving_agent(ScriptedModel([edit, "Fine."]), MemoryMiddleware(agents_md))

    assert agent.handle_message("Answer in Klingon.").interrupt is not None
    agent.resume_with_approval(HitlAction.reject("no"))

    assert agents_md.read_text() == "# Project\nAlways answer in French.\n"
    result = tool_results(agent)[-1]
    assert result.is_error and "rejected" in result.content


def test_only_memory_writes_wait_for_approval(agents_md: Path, tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            ToolCall(name="write_file", args={"file_path": "/notes.md", "content": "draft"}),
            ToolCall(
                name="edit_file",
                args={"file_path": "/notes.md", "old_string": "draft", "new_string": "final"},
            ),
            ToolCall(name="write_file", args={"file_path": "/memories/AGENTS.md", "content": "x"}),
            "done",
        ]
    )
    agent = make_agent(model, MemoryMiddleware(agents_md), checkpointer=InMemoryCheckpointer())

    paused = agent.handle_message("go")

    assert paused.interrupt is not None
    assert paused.interrupt.tool_args == {"file_path": "/memories/AGENTS.md", "content": "x"}
    assert paused.interrupt.policy_note == f"writes the memory file {agents_md.resolve()}"
    assert paused.state.files["/notes.md"] == "final"


def test_a_memory_write_by_a_sub_agent_waits_for_approval_too(agents_md: Path) -> None:
    edit = ToolCall(
        name="edit_file",
        args={"file_path": "/memories/AGENTS.md", "old_string": "French", "new_string": "Latin"},
    )
    task = ToolCall(
        name="task",
        args={"description": "update the memory", "subagent_type": "general-purpose"},
    )
    model = ScriptedModel([task, edit, "sub done", "all done"])
    agent = make_agent(model, MemoryMiddleware(agents_md), checkpointer=InMemoryCheckpointer())

    paused = agent.handle_message("go")

    assert paused.interrupt is not None and paused.interrupt.tool_name == "edit_file"
    assert "French" in agents_md.read_text()
    agent.resume_with_approval(HitlAction.accept())
    assert "Latin" in agents_md.read_text()


def test_approval_can_be_turned_off(agents_md: Path) -> None:
    edit = ToolCall(
        name="edit_file",
        args={"file_path": "/memories/AGENTS.md", "old_string": "French", "new_string": "Dutch"},
    )
    agent = make_agent(ScriptedModel([edit, "done"]), MemoryMiddleware(agents_md, approval=False))

    result = agent.handle_message("go")

    assert result.interrupt is None
    assert "Dutch" in agents_md.read_text()


def test_a_missing_file_is_an_empty_section_the_agent_may_create(tmp_path: Path) -> None:
    user_md = tmp_path / "USER.md"
    create = ToolCall(
        name="write_file", args={"file_path": "/memories/USER.md", "content": "Likes tea.\n"}
    )
    model = ScriptedModel([create, "saved", "ok"])
    agent = approving_agent(model, MemoryMiddleware(user_md))

    paused = agent.handle_message("remember I like tea")

    assert (
        "### USER.md (/memories/USER.md)\n\n(this file does not exist yet; write_file on "
        "/memories/USER.md creates it)" in (model.requests[0].system or "")
    )
    assert paused.interrupt is not None and not user_md.exists()
    assert paused.interrupt.diff is not None and "+Likes tea." in paused.interrupt.diff
    agent.resume_with_approval(HitlAction.accept())
    assert user_md.read_text() == "Likes tea.\n"
    agent.handle_message("hi")
    assert "### USER.md (/memories/USER.md)\n\nLikes tea." in (model.requests[-1].system or "")


def test_a_file_in_a_missing_folder_is_refused_when_the_agent_is_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"memory file .*nowhere.*AGENTS\.md.*not exist"):
        MemoryMiddleware([tmp_path / "nowhere" / "AGENTS.md"])
    with pytest.raises(ConfigurationError, match="is a folder"):
        MemoryMiddleware([tmp_path])
    with pytest.raises(ConfigurationError, match="at least one file"):
        MemoryMiddleware([])


def test_two_files_with_one_name_need_names_of_their_own(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "AGENTS.md").write_text("user-wide")
    (tmp_path / "AGENTS.md").write_text("project")
    with pytest.raises(ConfigurationError, match=r"two memory files are named 'AGENTS\.md'"):
        MemoryMiddleware([tmp_path / "home" / "AGENTS.md", tmp_path / "AGENTS.md"])
    with pytest.raises(ConfigurationError, match="plain file name"):
        MemoryMiddleware({"a/b.md": tmp_path / "AGENTS.md"})

    model = ScriptedModel(["ok"])
    memory = MemoryMiddleware(
        {"user.md": tmp_path / "home" / "AGENTS.md", "AGENTS.md": tmp_path / "AGENTS.md"}
    )
    make_agent(model, memory).handle_message("hi")

    system = model.requests[0].system or ""
    assert "### user.md (/memories/user.md)\n\nuser-wide" in system
    assert "### AGENTS.md (/memories/AGENTS.md)\n\nproject" in system


def test_a_linked_file_is_followed_once_and_keeps_the_given_name(tmp_path: Path) -> None:
    (tmp_path / "CLAUDE.md").write_text("shared")
    (tmp_path / "AGENTS.md").symlink_to(tmp_path / "CLAUDE.md")

    assert memory_files([tmp_path / "AGENTS.md"]) == {"AGENTS.md": tmp_path / "CLAUDE.md"}


async def test_the_backend_writes_only_memory_files_and_only_approved_calls(
    agents_md: Path,
) -> None:
    memory = MemoryMiddleware(agents_md)
    backend = RoutedBackend(StateBackend(), memory.file_routes())
    run = RunContext("t", "r", "a", _state(), lambda e: None, ScriptedModel([]))
    call = ToolCall(name="write_file", args={"file_path": "/memories/AGENTS.md"})

    with pytest.raises(FileToolError, match=r"the memory files are /memories/AGENTS\.md\."):
        await backend.write(ToolContext(run, "c", approved=call), "/memories/notes.md", "x")
    with pytest.raises(FileToolError, match=r"^/memories/AGENTS\.md changes only with"):
        await backend.write(ToolContext(run, "c"), "/memories/AGENTS.md", "x")
    assert "French" in agents_md.read_text()

    await backend.write(ToolContext(run, "c", approved=call), "/memories/AGENTS.md", "new")
    assert agents_md.read_text() == "new"
    assert not (agents_md.parent / "notes.md").exists()
    assert await backend.read(ToolContext(run, "c"), "/memories/notes.md") is None


def test_approval_policy_gates_writes_to_memory_paths_only(agents_md: Path) -> None:
    memory = MemoryMiddleware(agents_md, approval=HitlPolicy(note="check it"))

    def policy(name: str, args: dict[str, Any] | str) -> HitlPolicy | None:
        return memory.approval_policy(ToolCall(name=name, args=args))

    assert policy("edit_file", {"file_path": "memories//AGENTS.md"}) == HitlPolicy(note="check it")
    assert policy("write_file", {"file_path": "/memories/AGENTS.md"}) is not None
    assert policy("read_file", {"file_path": "/memories/AGENTS.md"}) is None
    assert policy("edit_file", {"file_path": "/AGENTS.md"}) is None
    assert policy("edit_file", {"file_path": "/memories/other.md"}) is None
    assert policy("edit_file", {"file_path": "/memories/../x"}) is None
    assert policy("edit_file", '{"file_path": "/memories/AGENTS.md"') is None
    assert (
        MemoryMiddleware(agents_md, approval=False).approval_policy(
            ToolCall(name="edit_file", args={"file_path": "/memories/AGENTS.md"})
        )
        is None
    )


def test_a_long_or_unreadable_file_is_cut_or_explained_in_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "long.md").write_text("x" * 30)
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "blank.md").write_text("\n")
    model = ScriptedModel(["ok"])
    memory = MemoryMiddleware(
        [tmp_path / "long.md", tmp_path / "bad.md", tmp_path / "blank.md"], max_chars=10
    )
    make_agent(model, memory).handle_message("hi")

    system = model.requests[0].system or ""
    assert (
        "xxxxxxxxxx\n[... 20 more characters not shown; read_file /memories/long.md shows them]"
        in system
    )
    assert "(could not be read: /memories/bad.md is not UTF-8 text" in system
    assert "### blank.md (/memories/blank.md)\n\n(empty)" in system
    with pytest.raises(ConfigurationError, match="max_chars"):
        MemoryMiddleware(tmp_path / "long.md", max_chars=0)


def test_every_model_call_of_a_run_gets_the_same_prompt(agents_md: Path) -> None:
    model = ScriptedModel([ToolCall(name="ls", args={}), ToolCall(name="ls", args={}), "done"])
    agent = make_agent(model, MemoryMiddleware(agents_md))

    agent.handle_message("go")

    assert len({r.system for r in model.requests}) == 1
    assert (model.requests[0].system or "").count("Always answer in French.") == 1


def test_the_memory_keyword_and_builder_method(agents_md: Path) -> None:
    model = ScriptedModel(["ok", "ok"])
    keyword: Any = {"memory": [agents_md]}
    create_deep_agent(model=model, **keyword).handle_message("hi")
    builder: Any = ConfigurableAgentBuilder().with_model(model)
    builder.with_memory([agents_md]).build().handle_message("hi")

    assert all("Always answer in French." in (r.system or "") for r in model.requests)


def _state() -> Any:
    from deepagents_nb import AgentStateSnapshot

    return AgentStateSnapshot()
