"""Event dispatching: faulty broadcasters never hurt the run or each other."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from helpers import Recorder

from deepagents_nb import (
    AgentCompleted,
    AgentStarted,
    EventDispatcher,
    StreamingToken,
    TodoItem,
    TodosUpdated,
    create_deep_agent,
)
from deepagents_nb.events import AGENT_EVENT_ADAPTER
from deepagents_nb.models.testing import ScriptedModel

META = {"thread_id": "t", "run_id": "r", "agent_name": "a"}


class Raising:
    id = "raising"

    def __init__(self) -> None:
        self.calls = 0

    async def broadcast(self, event: object) -> None:
        self.calls += 1
        raise RuntimeError("broadcaster bug")


class Hanging:
    id = "hanging"

    async def broadcast(self, event: object) -> None:
        await asyncio.sleep(3600)


class NonStreaming(Recorder):
    supports_streaming = False


def test_raising_and_hanging_broadcasters_do_not_break_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = Recorder("good")
    raising = Raising()
    dispatcher = EventDispatcher([raising, Hanging(), good], timeout=0.2)
    agent = create_deep_agent(model=ScriptedModel(["fine"]), event_dispatcher=dispatcher)

    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        result = agent.handle_message("hi")
    elapsed = time.perf_counter() - started

    assert result.text == "fine"
    assert good.types()[0] == "AgentStarted" and good.types()[-1] == "AgentCompleted"
    # It kept receiving after failing (every event but the tokens it did not opt in to).
    assert raising.calls == len(good.events) - len(good.of(StreamingToken)) > 2
    assert elapsed < 2.0  # bounded by the flush timeout, not by the hanging broadcaster
    assert "broadcaster 'raising' failed" in caplog.text
    assert "hanging" in caplog.text


async def test_streaming_tokens_reach_only_broadcasters_that_opt_in() -> None:
    streaming, plain = Recorder("s"), NonStreaming("p")
    agent = create_deep_agent(
        model=ScriptedModel(["one two three"]),
        event_broadcasters=[streaming, plain],
        pii_sanitization=False,  # token by token (a sanitized stream holds a short tail back)
    )
    await agent.ahandle_message("hi")
    assert len(streaming.of(StreamingToken)) == 3
    assert plain.of(StreamingToken) == []
    assert plain.types() == [t for t in streaming.types() if t != "StreamingToken"]


async def test_no_streaming_when_nobody_wants_tokens() -> None:
    plain = NonStreaming("p")
    model = ScriptedModel(["text"])
    calls: list[str] = []
    original = model.complete

    async def spy(request):  # type: ignore[no-untyped-def]
        calls.append("complete")
        return await original(request)

    model.complete = spy  # type: ignore[method-assign]
    await create_deep_agent(model=model, event_broadcasters=[plain]).ahandle_message("hi")
    assert calls == ["complete"]


def test_dispatcher_replaces_same_id_and_rejects_non_broadcasters() -> None:
    first, second = Recorder("same"), Recorder("same")
    dispatcher = EventDispatcher([first])
    dispatcher.add_broadcaster(second)
    assert dispatcher.broadcasters == (second,)
    dispatcher.remove_broadcaster("same")
    assert not dispatcher.has_listeners
    with pytest.raises(TypeError, match="not an EventBroadcaster"):
        dispatcher.add_broadcaster(object())  # type: ignore[arg-type]


async def test_sync_broadcast_functions_are_accepted() -> None:
    seen: list[str] = []

    class SyncOne:
        id = "sync"

        def broadcast(self, event: object) -> None:
            seen.append(type(event).__name__)

    dispatcher = EventDispatcher([SyncOne()])  # type: ignore[list-item]
    dispatcher.emit(AgentStarted(message_preview="x", **META))
    await dispatcher.flush()
    assert seen == ["AgentStarted"]


def test_events_round_trip_through_json_by_their_tag() -> None:
    todos = [TodoItem(content="a", status="completed"), TodoItem(content="b")]
    event = TodosUpdated.counted(todos, **META)
    assert (event.pending_count, event.in_progress_count, event.completed_count) == (1, 0, 1)
    restored = AGENT_EVENT_ADAPTER.validate_json(event.model_dump_json())
    assert restored == event
    assert '"event_type":"todos_updated"' in event.model_dump_json()


async def test_a_dispatcher_shared_by_two_agents_sees_both() -> None:
    recorder = Recorder()
    dispatcher = EventDispatcher([recorder])
    one = create_deep_agent(model=ScriptedModel(["1"]), name="one", event_dispatcher=dispatcher)
    two = create_deep_agent(model=ScriptedModel(["2"]), name="two", event_dispatcher=dispatcher)
    await asyncio.gather(one.ahandle_message("a"), two.ahandle_message("b"))
    completed = {e.agent_name for e in recorder.of(AgentCompleted)}
    assert completed == {"one", "two"}
