"""Record a session to a JSONL cassette, replay it offline; mismatches fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TEST_KEY, ModelFactory
from fake_vendor import Call, FakeVendor, Reply, Tokens
from helpers import Recorder

from deepagents_nb import StreamingToken, create_deep_agent, tool
from deepagents_nb.exceptions import ConfigurationError, ModelBehaviorError
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.models.base import ModelRequest, ResponseComplete, TextDelta
from deepagents_nb.models.recording import RecordingModel, ReplayModel
from deepagents_nb.models.testing import ScriptedModel


@tool
def lookup(word: str) -> str:
    """Look a word up."""
    return f"{word}: a greeting"


def ask(text: str) -> ModelRequest:
    return ModelRequest(messages=[Message.user(text)], system="Be brief.")


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_a_real_session_replays_offline(
    stream: bool, tmp_path: Path, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    cassette = tmp_path / "session.jsonl"
    first = Reply(
        "Looking it up.",
        calls=[Call("lookup", {"word": "hello"}, id="call_1")],
        tokens=Tokens(input=50, output=12),
    )
    vendor.script(first, Reply("Hello is a greeting.", tokens=Tokens(80, 6, cache_read=40)))

    async def run(model: object) -> tuple[str, list[str], object]:
        recorder = Recorder()
        recorder.supports_streaming = stream
        agent = create_deep_agent(model=model, tools=[lookup], event_broadcasters=[recorder])
        result = await agent.ahandle_message("What does hello mean?")
        tokens = [e.token for e in recorder.of(StreamingToken)]  # type: ignore[attr-defined]
        return result.text, tokens, result.usage

    recorded = await run(RecordingModel(model_for("anthropic"), cassette))
    sent = len(vendor.requests)
    replay = ReplayModel(cassette)
    replayed = await run(replay)

    assert replayed == recorded
    assert recorded[0] == "Hello is a greeting."
    assert len(vendor.requests) == sent == 2  # the replay made no request
    assert (replay.provider, replay.model_name, replay.remaining) == (
        "anthropic",
        "claude-sonnet-4-6",
        0,
    )
    text = cassette.read_text()
    assert TEST_KEY not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 2 and all(line["format"] == 1 for line in lines)
    assert (lines[0]["stream"] is not None) is stream


async def test_replayed_streams_keep_the_recorded_pieces(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    recording = RecordingModel(ScriptedModel(["Hi there, friend."]), cassette)
    pieces = [e.text async for e in recording.stream(ask("hi")) if isinstance(e, TextDelta)]

    events = [e async for e in ReplayModel(cassette).stream(ask("hi"))]

    assert [e.text for e in events if isinstance(e, TextDelta)] == pieces
    assert isinstance(events[-1], ResponseComplete)
    assert events[-1].response.message.content == "Hi there, friend."


async def test_a_changed_request_fails_with_the_first_difference(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    await RecordingModel(ScriptedModel(["Paris."]), cassette).complete(ask("Capital of France?"))

    with pytest.raises(ModelBehaviorError) as caught:
        await ReplayModel(cassette).complete(ask("Capital of Italy?"))

    message = str(caught.value)
    assert "request.messages[0].content" in message
    assert "Capital of Italy?" in message and "Capital of France?" in message
    assert "Re-record" in message


async def test_more_calls_than_recorded_fail(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    await RecordingModel(ScriptedModel(["one"]), cassette).complete(ask("q"))
    replay = ReplayModel(cassette)
    await replay.complete(ask("q"))

    with pytest.raises(ModelBehaviorError, match="all 1 recordings were used"):
        await replay.complete(ask("q"))


async def test_requests_match_by_content_in_any_order(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    recording = RecordingModel(ScriptedModel(["A", "B"]), cassette)
    await recording.complete(ask("a"))
    await recording.complete(ask("b"))
    replay = ReplayModel(cassette)

    second = await replay.complete(ask("b"))
    first = await replay.complete(ask("a"))

    assert (first.message.content, second.message.content) == ("A", "B")


async def test_ignored_fields_may_change(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    await RecordingModel(ScriptedModel(["ok"]), cassette).complete(ask("q"))
    changed = ModelRequest(messages=[Message.user("q")], system="A new system prompt.")

    response = await ReplayModel(cassette, ignore=["system"]).complete(changed)

    assert response.message.content == "ok"
    with pytest.raises(ConfigurationError, match="cannot ignore"):
        ReplayModel(cassette, ignore=["colour"])


async def test_tool_calls_and_usage_survive_the_cassette(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    call = ToolCall(id="call_9", name="lookup", args='{"word": broken')
    original = await RecordingModel(ScriptedModel([call]), cassette).complete(ask("q"))

    replayed = await ReplayModel(cassette).complete(ask("q"))

    assert replayed.message == original.message
    assert replayed.usage == original.usage
    assert (replayed.stop_reason, replayed.provider) == ("tool_use", "scripted")


def test_cassette_problems_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="record one first"):
        ReplayModel(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(ConfigurationError, match=r"bad\.jsonl:1"):
        ReplayModel(bad)
    future = tmp_path / "future.jsonl"
    future.write_text('{"format": 99}\n')
    with pytest.raises(ConfigurationError, match="format 99"):
        ReplayModel(future)


async def test_recording_appends_only_when_asked(tmp_path: Path) -> None:
    cassette = tmp_path / "nested" / "c.jsonl"
    await RecordingModel(ScriptedModel(["1"]), cassette).complete(ask("q"))
    await RecordingModel(ScriptedModel(["2"]), cassette, append=True).complete(ask("q"))
    assert len(cassette.read_text().splitlines()) == 2

    RecordingModel(ScriptedModel([]), cassette)

    assert cassette.read_text() == ""
