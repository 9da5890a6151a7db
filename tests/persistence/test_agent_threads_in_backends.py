"""An agent keeps its threads in each backend: saved per step, continued by another agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from checkpointer_backends import STORED_BACKENDS, open_backend

from deepagents_nb import ToolCall, create_deep_agent, tool
from deepagents_nb.models.testing import ScriptedModel


@pytest.fixture(params=STORED_BACKENDS)
async def checkpointer(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    async with open_backend(request.param, tmp_path, monkeypatch) as cp:
        yield cp


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_a_thread_is_saved_each_step_and_continued_elsewhere(checkpointer: Any) -> None:
    first = create_deep_agent(
        model=ScriptedModel([ToolCall(name="add", args={"a": 5, "b": 3}), "5 + 3 = 8"]),
        tools=[add],
        checkpointer=checkpointer,
    )
    await first.ahandle_message("What is 5 + 3?", thread_id="math")

    # Another agent (a new kernel, say) picks the thread up from the store.
    second = create_deep_agent(model=ScriptedModel(["Still 8."]), checkpointer=checkpointer)
    result = await second.ahandle_message("Sure?", thread_id="math")

    assert result.text == "Still 8."
    stored = await checkpointer.load("math")
    assert [m.role for m in stored.state.messages] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]
    assert stored.state.messages[2].content == "8"
    history = await checkpointer.history("math")
    # Per run: the user's message as it arrives, then one version per model turn.
    assert [info.version for info in history] == [1, 2, 3, 4, 5]
    run_ids = [info.metadata["run_id"] for info in history]
    assert run_ids[0] == run_ids[1] == run_ids[2] != run_ids[3] == run_ids[4]
    first_saved = await checkpointer.load("math", version=1)
    assert first_saved is not None
    assert [m.role for m in first_saved.state.messages] == ["user"]
    assert await checkpointer.list_threads() == ["math"]
