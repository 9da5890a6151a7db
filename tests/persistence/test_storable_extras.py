"""Text UTF-8 cannot hold never stops a save, wherever it enters; a paused turn is never lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepagents_nb import (
    CheckpointerError,
    HitlAction,
    SqliteCheckpointer,
    ToolCall,
    ToolContext,
    create_deep_agent,
    tool,
)
from deepagents_nb.exceptions import CorruptCheckpointError
from deepagents_nb.hitl import PENDING_KEY
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.serialization import dump_state, load_state
from deepagents_nb.state import AgentStateSnapshot

SURROGATE_NAME = "caf\udce9.txt"  # how os.listdir shows a Latin-1 file name


@tool
def listing() -> str:
    """List the workspace."""
    return f"notes.md\n{SURROGATE_NAME}"


@tool
def remember(ctx: ToolContext) -> str:
    """Remember something."""
    ctx.set_extra("last\ud800", {"name": SURROGATE_NAME, "items": ["\udfff"]})
    return "remembered"


@tool
def deploy(service: str) -> str:
    """Deploy a service."""
    return f"deployed {service}"


def agent(tmp_path: Path, script: list[object]) -> object:
    return create_deep_agent(
        model=ScriptedModel(script),  # type: ignore[arg-type]
        tools=[listing, remember, deploy],
        checkpointer=SqliteCheckpointer(tmp_path / "threads.db"),
        interrupt_on={"deploy": True},
        general_purpose_agent=False,
    )


def test_a_result_kept_in_a_paused_turn_and_a_reject_reason_are_stored(tmp_path: Path) -> None:
    calls = [
        ToolCall(name="listing", args={}),
        ToolCall(name="remember", args={}),
        ToolCall(name="deploy", args={"service": "api"}),
    ]
    a = agent(tmp_path, [calls, "ok"])
    paused = a.handle_message("go", thread_id="t")  # type: ignore[attr-defined]
    assert paused.interrupt is not None
    # A new agent (a restarted kernel) finds the pending approval in the file.
    again = agent(tmp_path, ["ok"])
    assert again.current_interrupt("t").tool_name == "deploy"  # type: ignore[attr-defined]
    done = again.resume_with_approval(HitlAction.reject("non \udc80 merci"), thread_id="t")  # type: ignore[attr-defined]
    assert done.text == "ok"
    state = again.get_state("t")  # type: ignore[attr-defined]
    results = [m.content for m in state.messages if m.role == "tool"]
    assert results[0] == "notes.md\ncaf\ufffd.txt"
    assert "non \ufffd merci" in results[2]
    assert state.extra["last\ufffd"] == {"name": "caf\ufffd.txt", "items": ["\ufffd"]}


def test_a_users_extra_with_lone_surrogates_is_saved_with_replacements() -> None:
    state = AgentStateSnapshot(extra={"k\udc00": ["\ud800 ok", {"\udfff": 1}]})
    loaded = load_state(dump_state(state))
    assert loaded.extra == {"k\ufffd": ["\ufffd ok", {"\ufffd": 1}]}


def test_a_value_json_cannot_hold_is_a_checkpointer_error() -> None:
    state = AgentStateSnapshot(extra={"f": object(), "s": "\ud800"})
    with pytest.raises(CheckpointerError, match="cannot be stored as JSON"):
        dump_state(state)


def test_a_corrupted_pending_approval_is_a_clear_error(tmp_path: Path) -> None:
    a = agent(tmp_path, [ToolCall(name="deploy", args={"service": "api"})])
    a.handle_message("go", thread_id="t")  # type: ignore[attr-defined]
    state = a.get_state("t")  # type: ignore[attr-defined]
    state.extra[PENDING_KEY] = {"calls": [{"call": "not a call"}]}
    a.save_state("t", state)  # type: ignore[attr-defined]
    with pytest.raises(CorruptCheckpointError, match=r"pending approval .* cannot be read"):
        a.current_interrupt("t")  # type: ignore[attr-defined]
    with pytest.raises(CorruptCheckpointError, match="pending approval"):
        a.resume_with_approval(HitlAction.accept(), thread_id="t")  # type: ignore[attr-defined]
    json.dumps(a.get_state("t").extra)  # the rest of the thread still loads
