"""`StateSizer` gives `len(dump_state(state))` step after step, measuring only what changed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deepagents_nb import create_deep_agent
from deepagents_nb.events import StateCheckpointed
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot, TodoItem
from deepagents_nb.state_size import StateSizer

Step = Callable[[AgentStateSnapshot], None]

STEPS: list[tuple[str, Step]] = [
    ("a user message", lambda s: s.messages.append(Message.user('hé "quoted"\n\ttab ✓'))),
    (
        "a tool call",
        lambda s: s.messages.append(
            Message.assistant(tool_calls=[ToolCall(name="w", args={"x": [1, 2.5, None]}, id="c1")])
        ),
    ),
    ("its result", lambda s: s.messages.append(Message.tool("c1", "w", "ok", is_error=True))),
    ("a file", lambda s: s.files.update({"/a.md": "é" * 100 + "\n\\"})),
    ("a second file", lambda s: s.files.update({'/b "x".md': "B"})),
    ("a file changed", lambda s: s.files.update({"/a.md": "A2"})),
    ("a file deleted", lambda s: s.files.pop("/a.md")),
    ("todos", lambda s: setattr(s, "todos", [TodoItem(content="t", status="in_progress")])),
    ("extras", lambda s: s.extra.update({"k": {"nested": [True, "ü"]}})),
    ("a summary", lambda s: setattr(s, "messages", [Message.user("summary"), s.messages[-1]])),
    (
        "a message replaced in place",
        lambda s: s.messages.__setitem__(0, Message(role="user", content="x", metadata={"m": 1})),
    ),
    ("everything emptied", lambda s: setattr(s, "messages", [])),
    ("no files", lambda s: s.files.clear()),
]


def test_each_step_gives_the_serialized_size() -> None:
    sizer = StateSizer()
    state = AgentStateSnapshot()
    assert sizer.size(state) == len(dump_state(state))
    for what, step in STEPS:
        step(state)
        assert sizer.size(state) == len(dump_state(state)), what
        assert sizer.size(state) == len(dump_state(state)), f"{what}, measured again"


@pytest.mark.filterwarnings("ignore:no price is known")
def test_checkpoint_events_report_the_serialized_size() -> None:
    model = ScriptedModel(
        [ToolCall(name="write_file", args={"file_path": "/n.md", "content": "note ✓"}), "Done."]
    )
    agent = create_deep_agent(model=model)
    events = list(agent.stream("Write a note.", thread_id="t"))
    sizes = [e.state_size_bytes for e in events if isinstance(e, StateCheckpointed)]
    state = agent.get_state("t")
    assert len(sizes) == 2 and sizes[0] < sizes[-1]
    assert sizes[-1] == len(dump_state(state))
