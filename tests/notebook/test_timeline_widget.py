"""`Timeline`: rewind a thread to a version and fork from it, with real clicks."""

from __future__ import annotations

import re
from html import unescape

import pytest
from IPython.core.formatters import format_display_data

from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.agent import DeepAgent
from deepagents_nb.display import state_html
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.widgets import Timeline


def write(path: str, content: str) -> ToolCall:
    return ToolCall(name="write_file", args={"file_path": path, "content": content})


def three_versions() -> DeepAgent:
    model = ScriptedModel(
        [
            write("/a.md", "first draft"),
            ToolCall(
                name="edit_file",
                args={"file_path": "/a.md", "old_string": "first", "new_string": "second"},
            ),
            "Done.",
            "More.",
        ]
    )
    agent = create_deep_agent(model=model)
    agent.handle_message("draft it", thread_id="main")
    return agent


def test_the_list_shows_each_version_with_tool_messages_tokens_and_time() -> None:
    timeline = Timeline(three_versions(), "main")
    labels = [label for label, _ in timeline.list.options]
    # The user's message is saved on its own first, then each step.
    assert [value for _, value in timeline.list.options] == [4, 3, 2, 1]  # newest first
    assert re.fullmatch(r"v1 · \d\d:\d\d:\d\d · no tool yet · 1 message · ~\d+ tokens", labels[3])
    assert re.fullmatch(r"v2 · \d\d:\d\d:\d\d · write_file · 3 messages · ~\d+ tokens", labels[2])
    assert " · edit_file · 5 messages · " in labels[1] and " · edit_file · 6 messages" in labels[0]
    assert "4 versions" in timeline.title.value and "estimated" in timeline.title.value
    assert timeline.list.value == 4 and timeline.selected is not None
    assert "second draft" in timeline.state.value


def test_picking_a_version_shows_that_state() -> None:
    agent = three_versions()
    timeline = Timeline(agent, "main")
    timeline.list.value = 2  # what a click in the list does
    old = agent.load_state("main", 2)
    assert old is not None
    assert state_html(old.state) in timeline.state.value
    assert "first draft" in timeline.state.value and "second draft" not in timeline.state.value
    assert timeline.select(3).files == {"/a.md": "second draft"}
    with pytest.raises(ValueError, match="no version 7"):
        timeline.select(7)


def test_fork_from_here_copies_the_version_and_leaves_the_original() -> None:
    agent = three_versions()
    before = agent.get_state("main")
    timeline = Timeline(agent, "main")
    timeline.list.value = 2
    timeline.fork_name.value = "alt"
    timeline.fork_button.click()

    assert timeline.forks == ["alt"] and timeline.fork_name.value == ""
    assert "thread 'alt' starts from version 2 of 'main'" in unescape(timeline.status.value)
    version_two = agent.load_state("main", 2)
    assert version_two is not None and agent.get_state("alt") == version_two.state
    assert [v.version for v in agent.history("main")] == [1, 2, 3, 4]
    assert agent.get_state("main") == before

    agent.handle_message("go on", thread_id="alt")  # the fork lives its own life
    assert agent.get_state("main") == before
    assert [label for label, _ in Timeline(agent, "alt").list.options][-1].endswith(
        "forked from main v2"
    )

    timeline.fork_button.click()  # without a name: a fresh id
    assert len(timeline.forks) == 2 and timeline.forks[1].startswith("main-fork-")


def test_a_taken_name_is_an_error_in_the_widget() -> None:
    agent = three_versions()
    timeline = Timeline(agent, "main")
    timeline.fork_name.value = "main"
    timeline.fork_button.click()
    assert "Could not fork" in timeline.status.value and "#b91c1c" in timeline.status.value
    assert timeline.forks == [] and timeline.fork_name.value == "main"
    assert [v.version for v in agent.history("main")] == [1, 2, 3, 4]


def test_reload_keeps_the_selection_and_shows_new_versions() -> None:
    agent = three_versions()
    timeline = Timeline(agent, "main")
    timeline.list.value = 2
    agent.handle_message("again", thread_id="main")
    timeline.refresh_button.click()
    assert [value for _, value in timeline.list.options] == [6, 5, 4, 3, 2, 1]
    assert timeline.list.value == 2


def test_an_empty_thread() -> None:
    timeline = Timeline(create_deep_agent(model=ScriptedModel([])), "nothing")
    assert timeline.list.options == () and timeline.fork_button.disabled
    assert "no saved versions" in timeline.state.value
    with pytest.raises(ValueError, match="no version to fork"):
        timeline.fork()


def test_saved_output_lists_the_versions_as_text_and_html() -> None:
    timeline = Timeline(three_versions(), "main")
    data, _ = format_display_data(timeline)  # type: ignore[no-untyped-call]
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == timeline.widget.model_id
    assert data["text/plain"].startswith("Timeline of thread 'main' (tokens estimated at")
    assert data["text/plain"].count("\n  v") == 4
    assert data["text/html"].count("<li>v") == 4
