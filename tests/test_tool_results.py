"""Large tool results as files, and old results cleared before summarization."""

from __future__ import annotations

import pytest
from helpers import Recorder

from deepagents_nb import ConfigurationError, ToolCall, create_deep_agent, tool
from deepagents_nb.events import ContextEdited
from deepagents_nb.middleware.summarization import SummarizationConfig
from deepagents_nb.models.testing import ScriptedModel

BIG = "".join(f"line {i:06d}: " + "x" * 60 + "\n" for i in range(10_000))  # ~ 700 KB


@tool
def dump() -> str:
    """Return a very long log."""
    return BIG


async def test_a_700_kb_result_reaches_the_model_as_a_preview_and_whole_as_a_file() -> None:
    assert len(BIG) > 700_000
    model = ScriptedModel(
        [
            ToolCall("dump", {}, id="big"),
            ToolCall(
                "read_file", {"file_path": "/large_tool_results/big", "offset": 5000, "limit": 2}
            ),
            "Seen.",
        ]
    )
    agent = create_deep_agent(model=model, tools=[dump])

    result = await agent.ahandle_message("Look at the log")

    preview = model.requests[1].messages[-1].content
    assert len(preview) < 30_000
    assert preview.startswith("line 000000: ") and preview.rstrip().endswith(
        "line 009999: " + "x" * 60
    )
    assert f"The whole result ({len(BIG):,} characters, 10,001 lines) is in " in preview
    assert "/large_tool_results/big: read_file it with offset and limit" in preview
    page = model.requests[2].messages[-1].content
    assert "line 005000: " in page and "line 005001: " in page and "line 005002" not in page
    assert result.state.files["/large_tool_results/big"] == BIG


async def test_the_model_cannot_overwrite_a_kept_result() -> None:
    model = ScriptedModel(
        [
            ToolCall("dump", {}, id="big"),
            ToolCall("write_file", {"file_path": "/large_tool_results/new", "content": "x"}),
            "ok",
        ]
    )
    result = await create_deep_agent(model=model, tools=[dump]).ahandle_message("go")

    refused = [m for m in result.messages if m.role == "tool"][-1]
    assert refused.is_error and "is read-only: it keeps a tool's whole result" in refused.content


async def test_old_results_are_cleared_first_and_summarization_stays_the_last_resort() -> None:
    @tool
    def fetch(page: int) -> str:
        """Fetch a page."""
        return f"page {page}: " + "y" * 4_000

    calls = [ToolCall("fetch", {"page": i}, id=f"p{i}") for i in range(6)]
    recorder = Recorder()
    model = ScriptedModel([*calls, "done"])
    agent = create_deep_agent(
        model=model,
        tools=[fetch],
        summarization=SummarizationConfig(max_tokens_before_summary=50_000),
        event_broadcasters=[recorder],
        context_window=8_000,  # clearing past half of it: 4,000 tokens
    )

    result = await agent.ahandle_message("Read six pages")
    await agent.dispatcher.flush()

    last = model.requests[-1].messages
    tools = [m for m in last if m.role == "tool"]
    assert [m.content.startswith("[Result of fetch cleared") for m in tools] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert "/large_tool_results/p0: read_file it" in tools[0].content
    assert result.state.files["/large_tool_results/p0"].startswith("page 0: ")  # nothing lost
    edits = [e for e in recorder.events if isinstance(e, ContextEdited)]
    assert edits and all(e.kind == "cleared" for e in edits)
    assert edits[0].tokens_after < edits[0].tokens_before


def test_settings_have_two_spellings_and_refuse_nonsense() -> None:
    from deepagents_nb import ConfigurableAgentBuilder

    agent = (
        ConfigurableAgentBuilder()
        .with_model(ScriptedModel([]))
        .with_max_tool_result_chars(5_000)
        .with_tool_result_clearing(None)
        .build()
    )
    results = next(m for m in agent.middleware if m.name == "tool_results")
    assert (results.max_chars, results.clear_at) == (5_000, None)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="at least 1000"):
        create_deep_agent(model=ScriptedModel([]), max_tool_result_chars=10)
    with pytest.raises(ConfigurationError, match=r"must be in \(0, 1\]"):
        create_deep_agent(model=ScriptedModel([]), clear_tool_results_at=1.5)
