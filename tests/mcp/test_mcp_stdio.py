"""Scripted agents against real MCP servers over stdio: mcp-server-time, mcp-server-git
(PyPI) and @modelcontextprotocol/server-everything (npm)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import process_gone
from mcp_support import (
    build_agent,
    child_pids,
    everything_stdio,
    git_server,
    kill,
    mcp_of,
    time_server,
)

from deepagents_nb import ConfigurationError, HitlAction, InMemoryCheckpointer, Message, ToolFailed
from deepagents_nb.events import ToolCompleted, ToolStarted
from deepagents_nb.mcp import MCPServer, MCPServerError, mcp_report
from deepagents_nb.messages import ToolCall
from deepagents_nb.models.testing import ScriptedModel

pytest.importorskip("mcp")


def _tool_message(messages: list[Message], call_id: str) -> Message:
    return next(m for m in messages if m.role == "tool" and m.tool_call_id == call_id)


# ----- mcp-server-time ---------------------------------------------------------------------------


def test_a_scripted_agent_calls_mcp_server_time_from_sync_and_async_code() -> None:
    model = ScriptedModel(
        [
            ToolCall("get_current_time", {"timezone": "Europe/Paris"}, id="now"),
            "It is evening in Paris.",
            ToolCall(
                "convert_time",
                {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
                id="tokyo",
            ),
            "21:00 in Tokyo.",
        ]
    )
    agent = build_agent(model, [time_server()])
    mcp = mcp_of(agent)
    try:
        assert {"get_current_time", "convert_time"} <= set(agent.tools)
        run = agent.stream("What time is it in Paris?", thread_id="a")
        events = list(run)
        assert run.result is not None
        now = json.loads(_tool_message(run.result.messages, "now").content)
        assert now["timezone"] == "Europe/Paris"
        started = next(e for e in events if isinstance(e, ToolStarted))
        assert started.tool_name == "get_current_time"
        assert any(isinstance(e, ToolCompleted) for e in events)

        # Another thread, from async code on another event loop: the same session.
        result = asyncio.run(agent.ahandle_message("Noon UTC in Tokyo?", thread_id="b"))
        tokyo = json.loads(_tool_message(result.messages, "tokyo").content)
        assert tokyo["target"]["datetime"].endswith("T21:00:00+09:00")
        connection = mcp.connections[0]
        assert connection.name == "time" and connection.status == "running"
        assert connection.restarts == 0
        assert len(child_pids("mcp_server_time")) == 1
    finally:
        agent.close()
    assert child_pids("mcp_server_time") == []
    assert mcp.connections[0].status == "stopped"


async def test_arguments_that_break_the_schema_never_reach_the_server() -> None:
    model = ScriptedModel([ToolCall("get_current_time", {"zone": "UTC"}, id="bad"), "Sorry."])
    agent = build_agent(model, [time_server()])
    try:
        result = await agent.ahandle_message("time?")
    finally:
        await agent.aclose()
    sent = _tool_message(result.messages, "bad")
    assert sent.is_error
    assert sent.content == (
        "Invalid arguments for tool 'get_current_time': "
        "arguments: 'timezone' is a required property."
    )


def test_a_closed_agent_starts_its_server_again_on_the_next_call() -> None:
    model = ScriptedModel(
        [
            ToolCall("get_current_time", {"timezone": "UTC"}, id="one"),
            "ok",
            ToolCall("get_current_time", {"timezone": "UTC"}, id="two"),
            "ok again",
        ]
    )
    with build_agent(model, [time_server(name="clock")]) as agent:
        agent.handle_message("time?")
        first = child_pids("mcp_server_time")
        agent.close()
        assert all(process_gone(pid) for pid in first)
        result = agent.handle_message("and now?")
        assert not _tool_message(result.messages, "two").is_error
        assert mcp_of(agent).connections[0].status == "running"
    assert child_pids("mcp_server_time") == []


def test_a_sub_agent_uses_the_mcp_tools_too() -> None:
    model = ScriptedModel(
        [
            ToolCall(
                "task",
                {"description": "Tell the time in Oslo", "subagent_type": "general-purpose"},
                id="delegate",
            ),
            ToolCall("get_current_time", {"timezone": "Europe/Oslo"}, id="sub-call"),
            "It is morning in Oslo.",
            "The sub-agent says: morning.",
        ]
    )
    agent = build_agent(model, [time_server()])
    try:
        result = agent.handle_message("Time in Oslo?")
    finally:
        agent.close()
    assert result.text == "The sub-agent says: morning."
    assert _tool_message(result.messages, "delegate").content == "It is morning in Oslo."
    sub_request = model.requests[2]
    sent = _tool_message(sub_request.messages, "sub-call")
    assert json.loads(sent.content)["timezone"] == "Europe/Oslo"


# ----- mcp-server-git: approvals by glob ---------------------------------------------------------


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (tmp_path / "notes.md").write_text("# notes\n")
    git("add", "notes.md")
    git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
    (tmp_path / "todo.md").write_text("- write tests\n")
    return tmp_path


def test_a_glob_gated_mcp_tool_waits_for_approval_then_runs(repository: Path) -> None:
    model = ScriptedModel(
        [ToolCall("git_status", {"repo_path": str(repository)}, id="status"), "One new file."]
    )
    agent = build_agent(
        model,
        [git_server(repository)],
        interrupt_on={"git_*": True},
        checkpointer=InMemoryCheckpointer(),
    )
    try:
        paused = agent.handle_message("What changed?", thread_id="ops")
        interrupt = paused.interrupt
        assert interrupt is not None and interrupt.tool_name == "git_status"
        # The approver sees which server the call goes to.
        assert interrupt.diff is not None
        assert interrupt.diff.startswith(
            "# MCP server 'git': python -m mcp_server_git --repository"
        )
        assert len(model.requests) == 1  # nothing ran yet

        done = agent.resume_with_approval(HitlAction.accept(), thread_id="ops")
        status = _tool_message(done.messages, "status")
        assert not status.is_error and "todo.md" in status.content
        assert done.text == "One new file."
    finally:
        agent.close()


def test_a_gate_pattern_that_matches_no_tool_is_refused(repository: Path) -> None:
    agent = build_agent(
        ScriptedModel(["hi"]),
        [git_server(repository)],
        interrupt_on={"gti_*": True},
        checkpointer=InMemoryCheckpointer(),
    )
    try:
        with pytest.raises(ConfigurationError, match=r"'gti_\*'.* match.* no tool"):
            agent.handle_message("hi")
    finally:
        agent.close()


def test_prefix_and_allowed_tools_shape_what_the_agent_gets(repository: Path) -> None:
    server = git_server(repository, prefix="repo", allowed_tools=["git_log", "git_status"])
    agent = build_agent(ScriptedModel(["hi"]), [server])
    try:
        mcp_tools = sorted(n for n in agent.tools if n.startswith("repo_"))
        assert mcp_tools == ["repo_git_log", "repo_git_status"]
        assert "git_commit" not in agent.tools
    finally:
        agent.close()


def test_allowed_tools_naming_a_missing_tool_is_a_clear_error(repository: Path) -> None:
    server = git_server(repository, allowed_tools=["git_stauts"])
    with pytest.raises(ConfigurationError, match="names 'git_stauts', which it does not have"):
        build_agent(ScriptedModel(["hi"]), [server])
    assert child_pids("mcp_server_git") == []


# ----- server-everything: images, errors, structured content, links, timeouts ---------------------


def test_everything_over_stdio_results_of_every_kind() -> None:
    model = ScriptedModel(
        [
            [
                ToolCall("get-tiny-image", {}, id="image"),
                ToolCall("get-structured-content", {"location": "Chicago"}, id="weather"),
                ToolCall("get-resource-links", {"count": 2}, id="links"),
                ToolCall("gzip-file-as-resource", {"data": "file:///etc/passwd"}, id="error"),
            ],
            ToolCall(
                "read_file",
                {"file_path": "/mcp/everything/demo/resource/dynamic/text/2"},
                id="read",
            ),
            "Seen everything.",
        ]
    )
    agent = build_agent(model, [everything_stdio()])
    try:
        run = agent.stream("Show me")
        events = list(run)
    finally:
        agent.close()
    assert run.result is not None
    messages = run.result.messages

    image = _tool_message(messages, "image")
    assert len(image.images) == 1 and image.images[0].media_type == "image/png"
    assert image.images[0].placeholder() in image.content

    weather = json.loads(_tool_message(messages, "weather").content)
    assert weather == {"temperature": 36, "conditions": "Light rain / drizzle", "humidity": 82}

    links = _tool_message(messages, "links").content
    assert "[resource link " in links
    assert "read it with read_file /mcp/everything/demo/resource/dynamic/text/2" in links

    error = _tool_message(messages, "error")
    assert error.is_error and "Unsupported URL protocol" in error.content
    failed = [e for e in events if isinstance(e, ToolFailed)]
    assert [e.tool_name for e in failed] == ["gzip-file-as-resource"]

    read = _tool_message(messages, "read")
    assert not read.is_error and "Resource 2" in read.content


def test_a_call_past_its_timeout_is_cancelled_and_the_server_keeps_serving() -> None:
    model = ScriptedModel(
        [
            ToolCall("trigger-long-running-operation", {"duration": 30, "steps": 30}, id="slow"),
            ToolCall("get-sum", {"a": 2, "b": 3}, id="sum"),
            "5",
        ]
    )
    agent = build_agent(model, [everything_stdio(timeout=1)])
    try:
        started = time.monotonic()
        result = agent.handle_message("Slow, then quick")
        elapsed = time.monotonic() - started
    finally:
        agent.close()
    slow = _tool_message(result.messages, "slow")
    assert slow.is_error
    assert slow.content == (
        "Tool 'trigger-long-running-operation' did not finish within 1 s and was cancelled "
        "(MCP server 'everything')."
    )
    assert _tool_message(result.messages, "sum").content == "The sum of 2 and 3 is 5."
    assert elapsed < 15


def test_resources_are_read_only_files_under_mcp() -> None:
    docs = "/mcp/everything/demo/resource/static/document"
    model = ScriptedModel(
        [
            ToolCall("ls", {"path": "/mcp/everything"}, id="ls"),
            ToolCall("read_file", {"file_path": f"{docs}/features.md", "limit": 3}, id="read"),
            ToolCall("write_file", {"file_path": f"{docs}/new.md", "content": "x"}, id="write"),
            ToolCall("grep", {"pattern": "Everything Server", "path": docs}, id="grep"),
            "Read.",
        ]
    )
    agent = build_agent(model, [everything_stdio()])
    try:
        result = agent.handle_message("Look around")
        report = mcp_report(agent)
    finally:
        agent.close()
    listing = _tool_message(result.messages, "ls").content.splitlines()
    assert f"{docs}/features.md" in listing
    read = _tool_message(result.messages, "read").content
    assert read.splitlines()[0] == "     1\t# Everything Server - Features"
    write = _tool_message(result.messages, "write")
    assert write.is_error and "read-only" in write.content
    assert f"{docs}/features.md" in _tool_message(result.messages, "grep").content
    assert "everything" in agent.system_prompt and "/mcp/everything/" in agent.system_prompt

    (server,) = report.servers
    assert server.name == "everything" and server.status == "running"
    assert "get-sum" in server.tools
    assert any(p.startswith("args-prompt(") for p in server.prompts)
    assert "demo://resource/static/document/features.md" in server.resources


# ----- faults -----------------------------------------------------------------------------------


def test_a_server_that_crashes_mid_call_fails_that_call_and_is_restarted() -> None:
    model = ScriptedModel(
        [
            ToolCall("trigger-long-running-operation", {"duration": 20, "steps": 20}, id="slow"),
            ToolCall("get-sum", {"a": 1, "b": 1}, id="after"),
            "Recovered.",
        ]
    )
    agent = build_agent(model, [everything_stdio()])
    mcp = mcp_of(agent)
    (pid,) = child_pids("server-everything")

    def crash() -> None:
        time.sleep(1.0)
        kill(pid)

    killer = threading.Thread(target=crash)
    killer.start()
    try:
        result = agent.handle_message("Go")
    finally:
        killer.join()
        agent.close()
    slow = _tool_message(result.messages, "slow")
    assert slow.is_error
    assert "stopped during the call; it is started again for the next call" in slow.content
    assert _tool_message(result.messages, "after").content == "The sum of 1 and 1 is 2."
    assert mcp.connections[0].restarts == 1
    assert result.text == "Recovered."


def test_a_server_that_died_while_idle_is_restarted_by_the_next_call() -> None:
    model = ScriptedModel([ToolCall("get-sum", {"a": 4, "b": 4}, id="sum"), "8"])
    agent = build_agent(model, [everything_stdio()])
    try:
        (pid,) = child_pids("server-everything")
        kill(pid)
        assert process_gone(pid)
        deadline = time.monotonic() + 5
        while mcp_of(agent).connections[0].status != "crashed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "crashed" in repr(mcp_report(agent))
        result = agent.handle_message("4 + 4?")
        assert _tool_message(result.messages, "sum").content == "The sum of 4 and 4 is 8."
        assert mcp_of(agent).connections[0].restarts == 1
    finally:
        agent.close()


def test_a_missing_command_fails_fast_naming_it() -> None:
    server = MCPServer.stdio("deepagents-no-such-mcp-server", ["--stdio"], name="ghost")
    started = time.monotonic()
    with pytest.raises(MCPServerError) as caught:
        build_agent(ScriptedModel(["hi"]), [server])
    assert time.monotonic() - started < 5
    assert str(caught.value) == (
        "MCP server 'ghost' (deepagents-no-such-mcp-server --stdio) could not start: the command "
        "'deepagents-no-such-mcp-server' was not found (is it installed, and on PATH?)"
    )


def test_a_server_that_exits_at_once_shows_its_stderr() -> None:
    code = "import sys; sys.stderr.write('config error: no token\\n'); sys.exit(3)"
    server = MCPServer.stdio(sys.executable, ["-c", code])
    started = time.monotonic()
    with pytest.raises(MCPServerError) as caught:
        build_agent(ScriptedModel(["hi"]), [server])
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "exited before answering the MCP handshake" in message
    assert message.endswith("Its stderr ended with:\n  | config error: no token")


def test_a_server_that_never_answers_the_handshake_times_out() -> None:
    code = "import sys, time; print('starting', file=sys.stderr, flush=True); time.sleep(60)"
    server = MCPServer.stdio(sys.executable, ["-c", code], name="mute", start_timeout=1)
    started = time.monotonic()
    with pytest.raises(MCPServerError) as caught:
        build_agent(ScriptedModel(["hi"]), [server])
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith("MCP server 'mute' (python -c ")
    assert "did not answer the MCP handshake within 1 s (start_timeout=); it was stopped" in message
    assert message.endswith("  | starting")
    assert child_pids("time.sleep(60)") == []


def test_servers_stop_when_the_interpreter_exits() -> None:
    time_server()  # skips without mcp-server-time
    script = """
import atexit, sys
from deepagents_nb import create_deep_agent
from deepagents_nb.mcp import MCPMiddleware, MCPServer
from deepagents_nb.models.testing import ScriptedModel

mcp = MCPMiddleware([MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"])])
# Exit handlers run last-registered first: this one runs after deepagents-nb's own.
atexit.register(lambda: print("at exit:", mcp.connections[0].status, flush=True))
agent = create_deep_agent(model=ScriptedModel(["hi"]), middleware=[mcp])
tool = agent.tools["get_current_time"]
print("direct:", tool(timezone="UTC").is_error, flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["direct: False", "at exit: stopped"]
