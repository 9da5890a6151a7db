"""The core under the notebook-native features: fork, mounts, diff approvals, background runs."""

from __future__ import annotations

import asyncio
import threading
import time

import pandas as pd
import pytest

from deepagents_nb import (
    ConfigurationError,
    HitlAction,
    InMemoryCheckpointer,
    ToolCall,
    create_deep_agent,
    tool,
)
from deepagents_nb.background import RunCancelledError
from deepagents_nb.middleware.mounts import render
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptedModel


def write(path: str, content: str) -> ToolCall:
    return ToolCall(name="write_file", args={"file_path": path, "content": content})


def test_fork_starts_a_new_thread_from_a_version_and_leaves_the_original() -> None:
    model = ScriptedModel([write("/a.md", "v1"), "one", "two", "forked answer"])
    agent = create_deep_agent(model=model)
    agent.handle_message("first", thread_id="main")
    agent.handle_message("second", thread_id="main")
    versions = agent.history("main")
    assert [v.version for v in versions] == [1, 2, 3, 4, 5]  # each message, then each step

    fork = agent.fork("main", 3, new_thread_id="alt")
    assert fork == "alt"
    assert agent.get_state("alt") == agent.load_state("main", 3).state  # type: ignore[union-attr]
    assert agent.history("alt")[0].metadata == {"forked_from": "main", "forked_version": 3}
    agent.handle_message("on the fork", thread_id="alt")

    main = [m.content for m in agent.get_state("main").messages if m.role == "user"]
    alt = [m.content for m in agent.get_state("alt").messages if m.role == "user"]
    assert main == ["first", "second"]
    assert alt == ["first", "on the fork"]
    assert agent.fork("main", 1).startswith("main-fork-")
    with pytest.raises(ConfigurationError, match="has no version 9"):
        agent.fork("main", 9)
    with pytest.raises(Exception, match="changed since it was loaded"):
        agent.fork("main", 1, new_thread_id="alt")  # never overwrites a thread


def test_mounted_variables_read_like_files_and_are_read_only() -> None:
    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "sales": [120, 95]})
    notes = "Q3 focus: South America"
    seen: list[str] = []

    def model(request: ModelRequest) -> ToolCall | str | list[ToolCall]:
        last = request.messages[-1]
        if last.role == "user":
            return [
                ToolCall(name="ls", args={"path": "/kernel"}),
                ToolCall(name="read_file", args={"file_path": "/kernel/sales.csv"}),
                ToolCall(name="read_file", args={"file_path": "/kernel/notes.txt"}),
                write("/kernel/notes.txt", "overwritten"),
                ToolCall(
                    name="edit_file",
                    args={
                        "file_path": "/kernel/sales.csv",
                        "old_string": "Oslo",
                        "new_string": "X",
                    },
                ),
            ]
        seen.extend(m.content for m in request.messages if m.role == "tool")
        return "read them"

    agent = create_deep_agent(model=FunctionModel(model))
    paths = agent.mount(sales=frame, notes=notes)
    assert paths == {"/kernel/sales.csv": "sales", "/kernel/notes.txt": "notes"}
    result = agent.handle_message("look at my data")

    listing, table, text, write_error, edit_error = seen
    assert listing == "/kernel/notes.txt\n/kernel/sales.csv"
    assert "DataFrame with 2 rows and 2 columns" in table
    assert "city (object), sales (int64)" in table or "city (str), sales (int64)" in table
    assert "Oslo,120" in table
    assert "Q3 focus: South America" in text
    assert "already exists and write_file never overwrites" in write_error
    assert "mounted read-only" in edit_error
    assert notes == "Q3 focus: South America"
    assert frame["city"].tolist() == ["Oslo", "Lima"]  # the kernel objects are untouched
    assert result.state.files == {}  # mounts are not copied into the thread
    agent.unmount("notes")
    assert list(agent.mount()) == ["/kernel/sales.csv"]


def test_render_bounds_rows_and_text() -> None:
    big = pd.DataFrame({"n": range(100)})
    rendered = render("big", big, max_rows=5)
    assert "100 rows" in rendered and "first 5 rows" in rendered
    assert rendered.count("\n") == 2 + 6  # two header lines, the CSV header, five rows
    assert render("x", {"a": 1}) == "{'a': 1}"
    assert "more characters not shown" in render("s", "y" * 30_000)


def test_gated_file_edits_carry_a_unified_diff() -> None:
    model = ScriptedModel(
        [
            write("/plan.md", "step one\nstep two\n"),
            ToolCall(
                name="edit_file",
                args={"file_path": "/plan.md", "old_string": "step two", "new_string": "step 2"},
            ),
            "done",
        ]
    )
    agent = create_deep_agent(
        model=model,
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"write_file": True, "edit_file": True},
    )
    created = agent.handle_message("plan", thread_id="t").interrupt
    assert created is not None
    assert created.diff == ("--- /dev/null\n+++ b/plan.md\n@@ -0,0 +1,2 @@\n+step one\n+step two\n")
    edited = agent.resume_with_approval(HitlAction.accept(), thread_id="t").interrupt
    assert edited is not None and edited.diff is not None
    assert "-step two\n+step 2\n" in edited.diff and " step one\n" in edited.diff
    assert agent.resume_with_approval(HitlAction.accept(), thread_id="t").text == "done"


def test_other_gated_tools_have_no_diff() -> None:
    @tool
    def pay(amount: int) -> str:
        """Pay."""
        return "paid"

    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="pay", args={"amount": 1})]),
        tools=[pay],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"pay": True},
    )
    assert agent.handle_message("pay").interrupt.diff is None  # type: ignore[union-attr]


def slow_steps(gate: threading.Event) -> FunctionModel:
    """Calls a tool forever; each model call waits until the test opens `gate`, once."""

    async def respond(request: ModelRequest) -> ToolCall:
        steps = sum(1 for m in request.messages if m.role == "tool")
        if steps >= 2:
            while not gate.is_set():
                await asyncio.sleep(0.01)
        return write(f"/step{steps}.md", "x")

    return FunctionModel(respond)


def test_background_run_can_be_cancelled_and_keeps_completed_steps() -> None:
    gate = threading.Event()
    agent = create_deep_agent(model=slow_steps(gate))
    handle = agent.start("work", thread_id="bg")
    deadline = time.monotonic() + 5
    while handle.steps < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not handle.done()
    assert handle.status.startswith("running (2 steps saved")
    assert handle.cancel()
    with pytest.raises(RunCancelledError, match="cancelled after 2 steps saved"):
        handle.result(timeout=5)
    assert "last tool write_file" in handle.status
    assert set(agent.get_state("bg").files) == {"/step0.md", "/step1.md"}


def test_background_run_finishes_while_the_caller_does_other_work() -> None:
    agent = create_deep_agent(model=ScriptedModel([write("/x.md", "1"), "finished"]))
    seen: list[str] = []
    handle = agent.start("go", thread_id="t")
    handle.on_event(lambda e: seen.append(e.event_type))
    assert handle.result(timeout=5).text == "finished"
    assert handle.done() and handle.status.startswith("finished (2 steps saved")
    time.sleep(0.05)
    assert seen[0] == "agent_started" and seen[-1] == "agent_completed"
