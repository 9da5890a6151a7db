"""Delivery to broadcasters: order, timeouts and failures, on the fast and the slow path.

A coroutine that finishes without suspending is delivered without a timer; one that
suspends is put under the timeout. Both paths must keep the same rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from deepagents_nb import AgentStarted, EventDispatcher
from deepagents_nb import broadcast as broadcast_module
from deepagents_nb.broadcast import _resume
from deepagents_nb.events import EventBase
from deepagents_nb.exceptions import ConfigurationError

META = {"thread_id": "t", "run_id": "r", "agent_name": "a"}


def started(i: int) -> AgentStarted:
    return AgentStarted(message_preview=str(i), **META)


class Scripted:
    """Records each delivery; `behave(i)` decides what delivery `i` does after it starts."""

    def __init__(self, broadcaster_id: str = "scripted") -> None:
        self.id = broadcaster_id
        self.trace: list[tuple[str, str]] = []

    async def behave(self, i: str) -> None:
        pass

    async def broadcast(self, event: EventBase) -> None:
        assert isinstance(event, AgentStarted)
        i = event.message_preview
        self.trace.append(("start", i))
        try:
            await self.behave(i)
        except asyncio.CancelledError:
            self.trace.append(("cancelled", i))
            raise
        self.trace.append(("end", i))


def delivered(*indexes: int, cancelled: int | None = None) -> list[tuple[str, str]]:
    trace = []
    for i in indexes:
        trace.append(("start", str(i)))
        trace.append(("cancelled" if i == cancelled else "end", str(i)))
    return trace


@pytest.fixture
def timers(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Deadlines of the timeouts the dispatcher arms."""
    armed: list[float] = []
    real = broadcast_module._timeout_at

    @asynccontextmanager
    async def counting(when: float) -> AsyncIterator[None]:
        armed.append(when)
        async with real(when):
            yield

    monkeypatch.setattr(broadcast_module, "_timeout_at", counting)
    return armed


async def deliver(broadcaster: Any, count: int, timeout: float) -> None:
    dispatcher = EventDispatcher([broadcaster], timeout=timeout)
    for i in range(count):
        dispatcher.emit(started(i))
    await dispatcher.flush(timeout=10)


async def test_broadcasters_that_never_suspend_get_every_event_in_order_without_a_timer(
    timers: list[float],
) -> None:
    fast = Scripted()
    await deliver(fast, 20, timeout=5)
    assert fast.trace == delivered(*range(20))
    assert timers == []


async def test_broadcasters_that_suspend_briefly_get_every_event_and_awaited_results(
    timers: list[float],
) -> None:
    received: list[int] = []

    class Suspending(Scripted):
        async def behave(self, i: str) -> None:
            await asyncio.sleep(0)
            loop = asyncio.get_running_loop()
            answer: asyncio.Future[int] = loop.create_future()
            loop.call_later(0.001, answer.set_result, int(i))
            received.append(await answer)

    slow = Suspending()
    await deliver(slow, 5, timeout=5)
    assert slow.trace == delivered(*range(5))
    assert received == [0, 1, 2, 3, 4]
    assert len(timers) == 5


async def test_a_broadcaster_that_hangs_past_the_timeout_is_skipped_for_that_event_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class HangsOnOne(Scripted):
        async def behave(self, i: str) -> None:
            if i == "1":
                await asyncio.sleep(3600)

    hanging = HangsOnOne("hangs")
    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        await deliver(hanging, 3, timeout=0.05)
    assert hanging.trace == delivered(0, 1, 2, cancelled=1)
    assert caplog.text.count("broadcaster 'hangs' took over") == 1


async def test_a_broadcaster_spinning_on_bare_yields_is_still_timed_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # sleep(0) yields no future: the task throws the cancellation into the coroutine.
    class Spins(Scripted):
        async def behave(self, i: str) -> None:
            while i == "0":
                await asyncio.sleep(0)

    spinning = Spins("spins")
    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        await deliver(spinning, 2, timeout=0.05)
    assert spinning.trace == delivered(0, 1, cancelled=0)
    assert "broadcaster 'spins' took over" in caplog.text


async def test_the_timeout_counts_from_the_call_not_from_the_first_suspension() -> None:
    class BlocksThenAwaits(Scripted):
        async def behave(self, i: str) -> None:
            time.sleep(0.2)  # longer than the timeout, before suspending at all
            await asyncio.sleep(0.01)

    blocking = BlocksThenAwaits()
    await deliver(blocking, 1, timeout=0.1)
    assert blocking.trace == delivered(0, cancelled=0)


async def test_failures_before_and_after_suspending_are_logged_and_delivery_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Fails(Scripted):
        async def behave(self, i: str) -> None:
            if i == "1":
                await asyncio.sleep(0)
            if i in ("0", "1"):
                raise RuntimeError(f"bug {i}")

    failing = Fails("fails")
    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        await deliver(failing, 3, timeout=5)
    assert failing.trace == [("start", "0"), ("start", "1"), ("start", "2"), ("end", "2")]
    # The first failure in full, the second counted and named when the dispatcher flushes.
    assert [r.getMessage() for r in caplog.records] == [
        "broadcaster 'fails' failed on AgentStarted; it keeps receiving events "
        "(later failures are counted, not logged one by one)",
        "broadcaster 'fails' failed 1 more time (latest: RuntimeError('bug 1') on AgentStarted)",
    ]
    first = caplog.records[0]
    assert first.exc_info is not None and str(first.exc_info[1]) == "bug 0"


async def test_a_broadcaster_failing_on_every_event_logs_one_traceback_and_then_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class AlwaysFails(Scripted):
        async def behave(self, i: str) -> None:
            raise ValueError(f"broken {i}")

    failing = AlwaysFails("broken")
    dispatcher = EventDispatcher([failing])
    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        for batch in (range(8), range(8, 11)):
            for i in batch:
                dispatcher.emit(started(i))
            await dispatcher.flush()
        await dispatcher.flush()  # nothing new: nothing more to say
    assert len(failing.trace) == 11  # every event was still offered
    assert [r.exc_info is not None for r in caplog.records] == [True, False, False]
    assert [r.getMessage() for r in caplog.records[1:]] == [
        "broadcaster 'broken' failed 7 more times (latest: ValueError('broken 7') on AgentStarted)",
        "broadcaster 'broken' failed 3 more times "
        "(latest: ValueError('broken 10') on AgentStarted)",
    ]


async def test_repeated_timeouts_are_logged_once_and_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class AlwaysHangs(Scripted):
        async def behave(self, i: str) -> None:
            await asyncio.sleep(3600)

    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        await deliver(AlwaysHangs("stuck"), 3, timeout=0.02)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("broadcaster 'stuck' took over 0.02s for AgentStarted")
    assert messages[1] == "broadcaster 'stuck' timed out 2 more times (latest: AgentStarted)"


async def test_flush_waits_flush_timeout_for_a_hanging_broadcaster_not_the_delivery_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    class Hangs(Scripted):
        async def behave(self, i: str) -> None:
            await release.wait()

    hanging = Hangs("hangs")
    dispatcher = EventDispatcher([hanging], timeout=60, flush_timeout=0.1)
    dispatcher.emit(started(0))
    began = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        await dispatcher.flush()
    waited = time.perf_counter() - began
    assert 0.09 <= waited < 5  # bounded by flush_timeout, far from the 60 s delivery timeout
    assert "not waiting longer than 0.1s for broadcasters ['hangs']" in caplog.text
    release.set()  # the event still arrives, in the background
    await dispatcher.flush(timeout=10)
    assert hanging.trace == delivered(0)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "1", True, None])
def test_timeouts_must_be_finite_seconds(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="must be a"):
        EventDispatcher(flush_timeout=bad)
    with pytest.raises(ConfigurationError, match="must be a"):
        EventDispatcher(timeout=bad)


async def test_awaitables_other_than_coroutines_are_awaited_under_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[str] = []

    class ReturnsFutures:
        id = "futures"

        def broadcast(self, event: EventBase) -> asyncio.Future[None]:
            assert isinstance(event, AgentStarted)
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if event.message_preview != "1":  # the second one never completes
                future.set_result(None)
                done.append(event.message_preview)
            return future

    with caplog.at_level(logging.WARNING, logger="deepagents_nb.events"):
        await deliver(ReturnsFutures(), 3, timeout=0.05)
    assert done == ["0", "2"]
    assert caplog.text.count("broadcaster 'futures' took over") == 1


@types.coroutine
def _suspend(token: str) -> Generator[str, Any, Any]:
    return (yield token)


def test_resume_forwards_what_the_task_sends_throws_and_closes() -> None:
    seen: list[object] = []

    async def body() -> None:
        try:
            seen.append(await _suspend("first"))
            try:
                await _suspend("second")
            except ValueError as exc:
                seen.append(exc.args[0])
            await _suspend("third")
        finally:
            seen.append("finally")

    coro = body()
    rest = _resume(coro, coro.send(None))
    assert rest.send(None) == "first"  # the step taken by hand is yielded again, unchanged
    assert rest.send(42) == "second"
    assert rest.throw(ValueError("thrown")) == "third"
    rest.close()
    assert seen == [42, "thrown", "finally"]
    assert coro.cr_frame is None  # closed, not left suspended


def test_resume_returns_when_the_coroutine_finishes() -> None:
    async def body() -> None:
        await _suspend("only")

    coro = body()
    rest = _resume(coro, coro.send(None))
    assert rest.send(None) == "only"
    with pytest.raises(StopIteration):
        rest.send(None)
