"""Tests for messages, thread state and the checkpoint serializer."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace
from typing import Any

import pytest
from pydantic import ValidationError

from deepagents_nb.exceptions import CheckpointerError, CorruptCheckpointError, DeepAgentsError
from deepagents_nb.messages import Message, ToolCall, new_call_id
from deepagents_nb.serialization import (
    FILES_APART_FORMAT,
    FORMAT_VERSION,
    dump_state,
    load_state,
)
from deepagents_nb.state import (
    AgentStateSnapshot,
    StateUpdate,
    TodoItem,
    apply_update,
    merge_files,
)

# ----- messages ---------------------------------------------------------------------------


def test_message_constructors() -> None:
    assert Message.system("be brief") == Message(role="system", content="be brief")
    assert Message.user("hi") == Message(role="user", content="hi")

    plain = Message.assistant("hello")
    assert (plain.role, plain.content, plain.tool_calls) == ("assistant", "hello", ())

    call = ToolCall(name="add", args={"a": 1}, id="call_1")
    asking = Message.assistant(tool_calls=[call])
    assert (asking.role, asking.content, asking.tool_calls) == ("assistant", "", (call,))
    # A list given to the constructor is validated into the tuple too.
    assert Message(role="assistant", tool_calls=[call]).tool_calls == (call,)  # type: ignore[arg-type]

    answer = Message.tool("call_1", "add", "3")
    assert answer.role == "tool"
    assert (answer.tool_call_id, answer.name, answer.content) == ("call_1", "add", "3")
    assert answer.is_error is False
    assert Message.tool("call_1", "add", "boom", is_error=True).is_error is True


def test_message_defaults_text_and_str() -> None:
    m = Message.user("hi")
    assert m.text == "hi"
    assert (m.tool_call_id, m.name, m.is_error, m.metadata) == (None, None, False, None)
    assert str(m) == "user: hi"
    asking = Message.assistant("ok", [ToolCall(name="add", args={"a": 1})])
    assert str(asking) == "assistant: ok [calls add({'a': 1})]"


def test_message_role_is_checked() -> None:
    with pytest.raises(ValidationError):
        Message(role="robot", content="beep")  # type: ignore[arg-type]


def test_messages_are_frozen() -> None:
    m = Message.user("hi")
    with pytest.raises(FrozenInstanceError):
        m.content = "changed"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        m.role = "assistant"  # type: ignore[misc]
    assert m.content == "hi"
    call = ToolCall(name="add", args={})
    with pytest.raises(FrozenInstanceError):
        call.name = "sub"  # type: ignore[misc]
    # A changed copy is validated like a new message.
    assert replace(m, content="changed") == Message.user("changed")
    with pytest.raises(ValidationError):
        replace(m, role="robot")


def test_messages_are_slotted() -> None:
    # A thread keeps every message it ever had: no per-instance __dict__.
    assert not hasattr(Message.user("hi"), "__dict__")
    assert not hasattr(ToolCall(name="add"), "__dict__")


def test_messages_compare_by_value() -> None:
    # Equal messages compare equal, so a history can be checked against a copy.
    assert Message.user("a") == Message.user("a")
    assert Message.user("a") != Message.user("b")
    assert Message.user("a") != Message.system("a")


def test_tool_call_ids() -> None:
    a, b = ToolCall(name="x"), ToolCall(name="x")
    assert a.id.startswith("call_")
    assert len(a.id) == len("call_") + 24
    assert a.id != b.id
    assert new_call_id() != new_call_id()
    assert ToolCall(name="x", id="given").id == "given"
    assert a.args == {}


# ----- ToolCall.parsed_args ---------------------------------------------------------------


def test_parsed_args_of_a_dict() -> None:
    assert ToolCall(name="x", args={"a": 1, "b": [2]}).parsed_args() == {"a": 1, "b": [2]}


def test_parsed_args_of_a_json_string() -> None:
    call = ToolCall(name="x", args='{"a": 1, "nested": {"b": null}}')
    assert call.args == '{"a": 1, "nested": {"b": null}}'  # kept raw
    assert call.parsed_args() == {"a": 1, "nested": {"b": None}}


@pytest.mark.parametrize("raw", ["", "   ", "\n\t"])
def test_parsed_args_of_an_empty_string(raw: str) -> None:
    assert ToolCall(name="x", args=raw).parsed_args() == {}


@pytest.mark.parametrize("raw", ['{"a": 1', "{a: 1}", "not json", '{"a": 1}}'])
def test_parsed_args_of_invalid_json(raw: str) -> None:
    with pytest.raises(ValueError, match="not valid JSON") as info:
        ToolCall(name="x", args=raw).parsed_args()
    assert "at position" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "kind"), [("[1, 2]", "list"), ('"text"', "str"), ("3", "int"), ("null", "NoneType")]
)
def test_parsed_args_of_json_that_is_not_an_object(raw: str, kind: str) -> None:
    with pytest.raises(ValueError, match="must be a JSON object") as info:
        ToolCall(name="x", args=raw).parsed_args()
    assert str(info.value).endswith(f"got {kind}")


# ----- merge_files and apply_update -------------------------------------------------------


def test_merge_files_new_values_win_and_none_deletes() -> None:
    current = {"a.md": "A", "b.md": "B", "c.md": "C"}
    update: dict[str, str | None] = {"a.md": "A2", "b.md": None, "d.md": "D", "zz.md": None}
    merged = merge_files(current, update)
    assert merged == {"a.md": "A2", "c.md": "C", "d.md": "D"}
    # Neither input is touched.
    assert current == {"a.md": "A", "b.md": "B", "c.md": "C"}
    assert update == {"a.md": "A2", "b.md": None, "d.md": "D", "zz.md": None}
    assert merged is not current


def test_merge_files_keeps_falsy_values_that_are_not_none() -> None:
    assert merge_files({"a": "x"}, {"a": "", "b": 0, "c": False}) == {"a": "", "b": 0, "c": False}


def test_merge_files_with_empty_update_is_a_copy() -> None:
    current = {"a": "1"}
    merged = merge_files(current, {})
    assert merged == current
    assert merged is not current


def test_apply_update_files_todos_and_extra() -> None:
    state = AgentStateSnapshot(
        files={"keep.md": "k", "old.md": "o"},
        todos=[TodoItem(content="first")],
        extra={"mode": "draft", "count": 1},
    )
    update = StateUpdate(
        files={"old.md": None, "new.md": "n"},
        todos=[TodoItem(content="second", status="completed")],
        extra={"mode": None, "count": 2, "log": ["x"]},
    )
    apply_update(state, update)
    assert state.files == {"keep.md": "k", "new.md": "n"}
    assert state.todos == [TodoItem(content="second", status="completed")]
    assert state.extra == {"count": 2, "log": ["x"]}
    # The state's todo list is its own, not the update's.
    assert state.todos is not update.todos


def test_apply_update_leaves_untouched_parts_alone() -> None:
    todos = [TodoItem(content="keep me", status="in_progress")]
    state = AgentStateSnapshot(files={"a": "1"}, todos=todos, extra={"x": 1})
    apply_update(state, StateUpdate(files={"b": "2"}))
    assert state.todos == todos
    assert state.extra == {"x": 1}
    assert state.files == {"a": "1", "b": "2"}


def test_apply_update_with_empty_todo_list_clears_the_plan() -> None:
    state = AgentStateSnapshot(todos=[TodoItem(content="a")])
    apply_update(state, StateUpdate())
    assert state.todos == [TodoItem(content="a")]
    apply_update(state, StateUpdate(todos=[]))
    assert state.todos == []


def test_apply_update_does_not_change_a_copy_taken_before() -> None:
    state = AgentStateSnapshot(files={"a": "1"}, extra={"x": 1})
    before = state.copy_for_run()
    apply_update(state, StateUpdate(files={"a": "2"}, extra={"x": None}))
    assert before.files == {"a": "1"}
    assert before.extra == {"x": 1}


def test_state_update_is_empty() -> None:
    assert StateUpdate().is_empty()
    assert not StateUpdate(files={"a": None}).is_empty()
    assert not StateUpdate(todos=[]).is_empty()
    assert not StateUpdate(extra={"k": 1}).is_empty()


def test_todo_item_status_is_checked() -> None:
    assert TodoItem(content="x").status == "pending"
    with pytest.raises(ValidationError):
        TodoItem(content="x", status="done")  # type: ignore[arg-type]


# ----- copy_for_run -----------------------------------------------------------------------


def test_copy_for_run_is_equal_but_independent() -> None:
    state = AgentStateSnapshot(
        messages=[Message.user("hi")],
        todos=[TodoItem(content="t")],
        files={"a.md": "A"},
        extra={"k": "v"},
    )
    copy = state.copy_for_run()
    assert copy == state
    assert isinstance(copy, AgentStateSnapshot)

    copy.messages.append(Message.assistant("hello"))
    copy.todos.append(TodoItem(content="t2"))
    copy.files["b.md"] = "B"
    del copy.files["a.md"]
    copy.extra["k2"] = "v2"

    assert state.messages == [Message.user("hi")]
    assert state.todos == [TodoItem(content="t")]
    assert state.files == {"a.md": "A"}
    assert state.extra == {"k": "v"}
    # And the other way round.
    state.files["c.md"] = "C"
    assert "c.md" not in copy.files


def test_copy_for_run_shares_the_immutable_messages() -> None:
    state = AgentStateSnapshot(messages=[Message.user("hi")])
    copy = state.copy_for_run()
    assert copy.messages is not state.messages
    assert copy.messages[0] is state.messages[0]


# ----- dump_state / load_state ------------------------------------------------------------


def full_state() -> AgentStateSnapshot:
    return AgentStateSnapshot(
        messages=[
            Message.system("You are helpful."),
            Message.user("Add 2 and 3, then save ünïcödé notes ✓"),
            Message.assistant(
                "Let me add.",
                [
                    ToolCall(name="add", args={"a": 2, "b": 3}, id="call_a"),
                    ToolCall(name="broken", args="{not json", id="call_b"),
                ],
            ),
            Message.tool("call_a", "add", "5"),
            Message.tool("call_b", "broken", "Invalid arguments", is_error=True),
            Message(role="assistant", content="Done: 5", metadata={"usage": {"in": 10}}),
        ],
        todos=[
            TodoItem(content="add", status="completed"),
            TodoItem(content="save", status="in_progress"),
            TodoItem(content="report"),
        ],
        files={"notes.md": "# Notes\n\n2 + 3 = 5 ✓\n", "empty.txt": ""},
        extra={
            "interrupt": None,
            "decisions": [{"tool": "add", "approved": True, "score": 0.5}],
            "nested": {"a": {"b": [1, 2, 3]}},
        },
    )


def test_dump_and_load_round_trip() -> None:
    state = full_state()
    data = dump_state(state)
    assert isinstance(data, bytes)
    loaded = load_state(data)
    assert loaded == state
    assert loaded.messages[2].tool_calls[0].args == {"a": 2, "b": 3}
    assert loaded.messages[2].tool_calls[1].args == "{not json"
    assert loaded.messages[4].is_error is True
    assert loaded.todos[1].status == "in_progress"
    # Stable: dumping what was loaded gives the same bytes.
    assert dump_state(loaded) == data


def test_dump_state_envelope() -> None:
    envelope = json.loads(dump_state(full_state()))
    assert set(envelope) == {"format", "state"}
    assert envelope["format"] == FORMAT_VERSION == 1
    assert envelope["state"]["files"]["notes.md"] == "# Notes\n\n2 + 3 = 5 ✓\n"


def test_load_state_accepts_text() -> None:
    state = full_state()
    assert load_state(dump_state(state).decode()) == state


def test_empty_state_round_trip() -> None:
    assert load_state(dump_state(AgentStateSnapshot())) == AgentStateSnapshot()


def test_load_state_ignores_unknown_fields() -> None:
    data = b'{"format": 1, "state": {"files": {"a": "b"}, "later_feature": 1}, "note": "x"}'
    assert load_state(data) == AgentStateSnapshot(files={"a": "b"})


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff\xfegarbage",
        b"not json at all",
        b"",
        b'{"format": 1, "state": {',
        "{'format': 1}",
    ],
)
def test_load_state_on_garbage(data: bytes | str) -> None:
    with pytest.raises(CorruptCheckpointError) as info:
        load_state(data)
    message = str(info.value)
    assert message.startswith("stored state is not a deepagents-nb checkpoint: ")
    assert "Invalid JSON" in message


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ([1, 2, 3], "top level"),
        (None, "top level"),
        ({"state": {}}, "at format"),
        ({"format": 1}, "at state"),
        ({"format": "one", "state": {}}, "at format"),
        ({"format": 1, "state": []}, "at state"),
        ({"format": 1, "state": {"messages": "hi"}}, "at state.messages"),
        ({"format": 1, "state": {"messages": [{"role": "robot"}]}}, "at state.messages.0.role"),
        ({"format": 1, "state": {"todos": [{"content": "a", "status": "done"}]}}, "todos.0.status"),
        ({"format": 1, "state": {"files": {"a": 3}}}, "at state.files.a"),
    ],
)
def test_load_state_on_valid_json_of_the_wrong_shape(value: Any, where: str) -> None:
    with pytest.raises(CorruptCheckpointError) as info:
        load_state(json.dumps(value).encode())
    message = str(info.value)
    assert message.startswith("stored state is not a deepagents-nb checkpoint: ")
    assert where in message


@pytest.mark.parametrize(
    "data",
    [
        b'{"format": 3, "state": {}}',
        b'{"format": 3, "state": {"messages": []}}',
        # A newer version may have changed the state's shape entirely.
        b'{"format": 3, "state": {"messages": {"by_id": {}}}}',
        b'{"format": 3, "state": "compressed:..."}',
    ],
)
def test_load_state_on_a_future_format(data: bytes) -> None:
    with pytest.raises(CorruptCheckpointError) as info:
        load_state(data)
    assert str(info.value) == (
        "checkpoint format 3 is not supported by this version (expected 1); upgrade deepagents-nb"
    )


def test_a_state_with_its_files_apart_is_format_2_and_needs_them_back() -> None:
    # Format 2 is how SQLite stores a state whose file contents it keeps itself: a
    # release that knows only format 1 refuses it instead of losing the files.
    state = AgentStateSnapshot(messages=[Message.user("hi")], files={"/a": "A"}, extra={"k": 1})
    data = dump_state(state, files_apart=True)
    envelope = json.loads(data)
    assert envelope["format"] == FILES_APART_FORMAT == 2
    assert "files" not in envelope["state"]

    assert load_state(data, files={"/a": "A"}) == state
    with pytest.raises(CorruptCheckpointError, match=r"format 2 \(a state without its files\)"):
        load_state(data)
    with pytest.raises(CorruptCheckpointError, match=r"format 1 \(a state with its files\)"):
        load_state(dump_state(state), files={})


def test_load_state_on_an_unknown_older_format() -> None:
    with pytest.raises(CorruptCheckpointError, match="checkpoint format 0 is not supported"):
        load_state(b'{"format": 0, "state": {}}')


def test_corrupt_checkpoint_error_is_a_checkpointer_error() -> None:
    with pytest.raises(CheckpointerError):
        load_state(b"[]")
    with pytest.raises(DeepAgentsError):
        load_state(b"[]")
