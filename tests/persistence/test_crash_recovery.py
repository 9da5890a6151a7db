"""kill -9 during a tool: side-effecting calls become interrupts, never silent second runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepagents_nb import (
    HitlAction,
    Message,
    SqliteCheckpointer,
    ToolCall,
    create_deep_agent,
    tool,
)
from deepagents_nb.hitl import CallClaim, PendingCall, PendingTurn, store_pending
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.state import AgentStateSnapshot

WORKER = Path(__file__).parents[1] / "exactly_once_worker.py"


def _kill_during_tool(tmp_path: Path, action: str) -> Path:
    """Run the worker until its tool has started, then kill -9 it."""
    db = tmp_path / "threads.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(tmp_path), action],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ran = tmp_path / "ran"
    deadline = time.monotonic() + 60
    while not ran.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the worker's tool never started"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    return db


def _recovering_agent(db: Path, ran: list[str], script: list[object]) -> object:
    @tool(side_effects=True)
    def send(to: str) -> str:
        """Send a message."""
        ran.append(to)
        return "sent"

    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        ran.append(key)
        return f"value of {key}"

    return create_deep_agent(
        model=ScriptedModel(script),  # type: ignore[arg-type]
        tools=[send, lookup],
        checkpointer=SqliteCheckpointer(db),
        general_purpose_agent=False,
    )


def test_a_crash_during_a_side_effecting_call_becomes_an_interrupt(tmp_path: Path) -> None:
    db = _kill_during_tool(tmp_path, "run-side-effect")
    assert (tmp_path / "ran").read_text() == "send bob\n"

    ran: list[str] = []
    agent = _recovering_agent(db, ran, ["Not sent again."])
    interrupt = agent.current_interrupt("t")  # type: ignore[attr-defined]
    assert interrupt is not None and interrupt.reason == "crash"
    assert interrupt.tool_name == "send" and interrupt.tool_args == {"to": "bob"}
    assert "interrupted by a crash; it may have run" in (interrupt.policy_note or "")
    with pytest.raises(Exception, match="waiting for approval of send"):
        agent.handle_message("Hello?", thread_id="t")  # type: ignore[attr-defined]

    result = agent.resume_with_approval(HitlAction.reject("it went out"), thread_id="t")  # type: ignore[attr-defined]
    assert result.text == "Not sent again." and ran == []
    tool_message = next(m for m in result.state.messages if m.role == "tool")
    assert "interrupted by a crash and may have run" in tool_message.content
    assert "it went out" in tool_message.content


def test_accept_after_a_crash_runs_the_call_again(tmp_path: Path) -> None:
    db = _kill_during_tool(tmp_path, "run-side-effect")
    ran: list[str] = []
    agent = _recovering_agent(db, ran, ["Sent."])
    result = agent.resume_with_approval(HitlAction.accept(), thread_id="t")  # type: ignore[attr-defined]
    assert result.text == "Sent." and ran == ["bob"]
    assert agent.current_interrupt("t") is None  # type: ignore[attr-defined]


def test_a_crash_during_the_first_step_keeps_the_users_message(tmp_path: Path) -> None:
    db = _kill_during_tool(tmp_path, "run-plain")
    ran: list[str] = []
    agent = _recovering_agent(db, ran, ["Answer."])
    state = agent.get_state("t")  # type: ignore[attr-defined]
    assert [m.content for m in state.messages if m.role == "user"] == ["Go."]
    # An ordinary tool is at-least-once: nothing waits, the thread goes on.
    assert agent.current_interrupt("t") is None  # type: ignore[attr-defined]
    assert agent.handle_message("Again.", thread_id="t").text == "Answer."  # type: ignore[attr-defined]


def test_a_crash_during_an_approved_call_becomes_an_interrupt(tmp_path: Path) -> None:
    """A claim whose process is gone (here: a pid that cannot be alive) is a crash."""
    ran: list[str] = []
    agent = _recovering_agent(tmp_path / "threads.db", ran, ["Skipped."])
    call = ToolCall(name="send", args={"to": "ann"})
    dead = CallClaim(run_id="gone", owner=f"{socket.gethostname()}:999999999:dead")
    state = AgentStateSnapshot(messages=[Message.user("Go."), Message.assistant(tool_calls=[call])])
    store_pending(state, PendingTurn(calls=[PendingCall(call=call, started=dead)]))
    agent.save_state("t", state)  # type: ignore[attr-defined]
    interrupt = agent.current_interrupt("t")  # type: ignore[attr-defined]
    assert interrupt is not None and interrupt.reason == "crash"
    agent.resume_with_approval(HitlAction.respond("Already sent."), thread_id="t")  # type: ignore[attr-defined]
    messages = agent.get_state("t").messages  # type: ignore[attr-defined]
    assert ran == [] and any(m.content == "Already sent." for m in messages)
