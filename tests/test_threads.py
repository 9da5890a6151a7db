"""The agent's thread API over a checkpointer: save, load, versions, delete, list."""

from __future__ import annotations

import pytest

from deepagents_nb import (
    AgentStateSnapshot,
    CheckpointConflictError,
    InMemoryCheckpointer,
    Message,
    ToolCall,
    create_deep_agent,
)
from deepagents_nb.models.testing import ScriptedModel


def test_every_step_is_a_version_and_a_new_agent_continues_the_thread() -> None:
    store = InMemoryCheckpointer()
    first = create_deep_agent(
        model=ScriptedModel(
            [ToolCall(name="write_file", args={"file_path": "/a", "content": "1"}), "one"]
        ),
        checkpointer=store,
    )
    first.handle_message("start", thread_id="t")
    # The user's message as it arrives, then one version per step.
    assert [v.version for v in first.history("t")] == [1, 2, 3]
    assert first.load_state("t", version=1).state.messages[-1].content == "start"  # type: ignore[union-attr]
    assert first.load_state("t", version=2).state.files == {"/a": "1"}  # type: ignore[union-attr]

    second = create_deep_agent(model=ScriptedModel(["two"]), checkpointer=store)
    result = second.handle_message("continue", thread_id="t")
    assert [m.content for m in result.state.messages if m.role == "user"] == ["start", "continue"]
    assert result.state.files == {"/a": "1"}
    assert second.list_threads() == ["t"]


def test_save_load_delete() -> None:
    agent = create_deep_agent(model=ScriptedModel([]))
    state = AgentStateSnapshot(messages=[Message.user("hi")], files={"/f": "x"})
    assert agent.save_state("u", state) == 1
    assert agent.save_state("u") == 2  # re-saves the current state as a new version
    loaded = agent.load_state("u")
    assert loaded is not None and loaded.version == 2 and loaded.state == state
    assert agent.load_state("missing") is None
    agent.delete_thread("u")
    assert agent.list_threads() == [] and agent.get_state("u") == AgentStateSnapshot()


async def test_a_concurrent_writer_is_a_conflict_not_a_silent_overwrite() -> None:
    store = InMemoryCheckpointer()
    agent = create_deep_agent(model=ScriptedModel(["a"]), checkpointer=store)
    await store.save("t", AgentStateSnapshot(), expected_version=0)

    class Interloper(InMemoryCheckpointer):
        async def load(self, thread_id, version=None):  # type: ignore[no-untyped-def]
            checkpoint = await store.load(thread_id, version)
            await store.save(thread_id, AgentStateSnapshot(files={"/other": "writer"}))
            return checkpoint

        async def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return await store.save(*args, **kwargs)

    racing = create_deep_agent(model=ScriptedModel(["b"]), checkpointer=Interloper())
    with pytest.raises(CheckpointConflictError, match="changed since it was loaded"):
        await racing.ahandle_message("hi", thread_id="t")
    assert (await agent.aget_state("t")).files == {"/other": "writer"}  # the other write kept
