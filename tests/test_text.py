"""Lone surrogates (a model's broken JSON escapes) never reach a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepagents_nb import SqliteCheckpointer, ToolCall, create_deep_agent
from deepagents_nb.messages import Message
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.text import REPLACEMENT, storable_json, storable_message, storable_text

LONE = json.loads('"\\ud800"')  # what a JSON parser makes of an unpaired escape


def test_storable_text_replaces_lone_surrogates_only() -> None:
    assert storable_text(f"a{LONE}b") == f"a{REPLACEMENT}b"
    assert storable_text("😀 é") == "😀 é"  # astral characters and accents are kept
    text = "plain ascii"
    assert storable_text(text) is text
    assert storable_json({f"k{LONE}": [LONE, 1, None]}) == {
        f"k{REPLACEMENT}": [REPLACEMENT, 1, None]
    }


def test_storable_message_copies_only_what_needs_it() -> None:
    clean = Message.assistant("ok", [ToolCall(name="w", args={"text": "fine"}, id="c")])
    assert storable_message(clean) is clean
    broken = Message.assistant(f"x{LONE}", [ToolCall(name="w", args={"text": LONE}, id="c")])
    fixed = storable_message(broken)
    assert fixed.content == f"x{REPLACEMENT}"
    assert fixed.tool_calls[0].args == {"text": REPLACEMENT} and fixed.tool_calls[0].id == "c"


@pytest.mark.filterwarnings("ignore:no price is known")
def test_a_run_with_broken_escapes_is_saved_by_a_stored_checkpointer(tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            ToolCall(name="write_file", args={"file_path": "/n.md", "content": f"note {LONE}"}),
            f"Saved {LONE}.",
        ]
    )
    store = SqliteCheckpointer(tmp_path / "threads.db")
    agent = create_deep_agent(model=model, checkpointer=store)

    result = agent.handle_message(f"Write {LONE} down.", thread_id="t")

    assert result.text == f"Saved {REPLACEMENT}."
    state = agent.get_state("t")
    assert state.files["/n.md"] == f"note {REPLACEMENT}"
    assert state.messages[0].content == f"Write {REPLACEMENT} down."
    assert state.messages[1].tool_calls[0].args["content"] == f"note {REPLACEMENT}"
    # Loaded back from the file by another agent: the same thread.
    other = create_deep_agent(model=ScriptedModel([]), checkpointer=SqliteCheckpointer(store.path))
    assert other.get_state("t") == state
