"""Delivering events to broadcasters without letting one of them hurt the run.

Each broadcaster gets its own backlog and delivery task: `emit` only enqueues, so a
slow or hanging broadcaster never delays the agent or the other broadcasters.
A broadcaster that raises keeps receiving later events; one that takes longer
than `timeout` for an event is abandoned for that event. At the end of a run the
agent waits for delivery at most `flush_timeout` seconds (1 s by default).

A broadcaster's trouble is logged once, not once per event: its first failure
as a warning with the traceback (its first timeout as a warning), and the
failures after it as one line per `flush` ("failed 7 more times"), so a broken
broadcaster cannot bury a notebook in tracebacks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import sys
import types
from collections import deque
from collections.abc import Coroutine, Generator, Iterable
from typing import Any, Protocol, runtime_checkable

from deepagents_nb.events import EventBase, StreamingToken
from deepagents_nb.exceptions import ConfigurationError

logger = logging.getLogger("deepagents_nb.events")

if sys.version_info >= (3, 11):
    _timeout_at = asyncio.timeout_at
else:  # pragma: no cover - Python 3.10
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _timeout_at(when: float) -> Any:
        task = asyncio.current_task()
        handle = asyncio.get_running_loop().call_at(when, task.cancel)  # type: ignore[union-attr]
        try:
            yield
        except asyncio.CancelledError as exc:
            raise TimeoutError from exc
        finally:
            handle.cancel()


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], pending: Any) -> Generator[Any, Any, None]:
    """Await the rest of `coro`, which already ran up to its first suspension at `pending`.

    Passes on to `coro` what the task sends or throws in (results, cancellation),
    as `await coro` would have, had `coro` not been started by hand.
    """
    while True:
        try:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation, above all, must reach `coro`
                pending = coro.throw(exc)
            else:
                pending = coro.send(sent)
        except StopIteration:
            return


@runtime_checkable
class EventBroadcaster(Protocol):
    """Receives every event of the runs it is attached to.

    Set `supports_streaming = True` on the class to also receive
    `StreamingToken` events (one per piece of generated text), and
    `captures_content = True` for whole messages (sanitized) in `AgentStarted`
    and `TokenUsage` events.
    """

    @property
    def id(self) -> str:
        """A name unique among an agent's broadcasters (adding another with it replaces it)."""
        ...

    async def broadcast(self, event: EventBase) -> None:
        """Handle one event; raising or hanging here never stops the run (see the module)."""
        ...


class _Channel:
    """One broadcaster's backlog, drained by a task that exists only while there is work.

    No task outlives its backlog, so nothing is left pending on a loop that closes,
    and a dispatcher can be used from several event loops one after another.
    """

    def __init__(self, broadcaster: EventBroadcaster, timeout: float, max_backlog: int) -> None:
        self.broadcaster = broadcaster
        self.streaming = bool(getattr(broadcaster, "supports_streaming", False))
        self.backlog: deque[EventBase] = deque()
        self.timeout = timeout
        self.max_backlog = max_backlog
        self.dropped = 0
        self.worker: asyncio.Task[None] | None = None
        self.failures = _Tally("failed")
        self.timeouts = _Tally("timed out")

    def put(self, event: EventBase) -> None:
        if len(self.backlog) >= self.max_backlog:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning(
                    "broadcaster %r is not keeping up; dropping events", self.broadcaster.id
                )
            return
        self.backlog.append(event)
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self.backlog:
            event = self.backlog.popleft()
            # The deadline counts from the call, as if the whole delivery ran under the timeout.
            deadline = loop.time() + self.timeout
            try:
                result = self.broadcaster.broadcast(event)
                if isinstance(result, types.CoroutineType):
                    # Most broadcasters finish without suspending; arming a loop timer for
                    # them was most of the cost of delivery. Take the first step here and
                    # put only a suspended coroutine under the timeout.
                    try:
                        pending = result.send(None)
                    except StopIteration:
                        continue
                    async with _timeout_at(deadline):
                        await _resume(result, pending)
                elif inspect.isawaitable(result):
                    async with _timeout_at(deadline):
                        await result
            except TimeoutError:
                if self.timeouts.count():
                    logger.warning(
                        "broadcaster %r took over %.3gs for %s; skipped it (later timeouts "
                        "are counted, not logged one by one)",
                        self.broadcaster.id,
                        self.timeout,
                        event.__class__.__name__,
                    )
                self.timeouts.latest = event.__class__.__name__
            except Exception as exc:
                if self.failures.count():
                    logger.warning(
                        "broadcaster %r failed on %s; it keeps receiving events (later "
                        "failures are counted, not logged one by one)",
                        self.broadcaster.id,
                        event.__class__.__name__,
                        exc_info=True,
                    )
                self.failures.latest = f"{exc!r} on {event.__class__.__name__}"

    def report(self) -> None:
        """Log what went wrong since the last report, in one line per kind of trouble."""
        for tally in (self.failures, self.timeouts):
            if tally.unreported:
                logger.warning(
                    "broadcaster %r %s %d more time%s (latest: %s)",
                    self.broadcaster.id,
                    tally.verb,
                    tally.unreported,
                    "" if tally.unreported == 1 else "s",
                    tally.latest,
                )
                tally.unreported = 0


class _Tally:
    """How often one kind of trouble happened to a broadcaster, and how much is unlogged."""

    __slots__ = ("latest", "total", "unreported", "verb")

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.total = 0
        self.unreported = 0
        self.latest = ""

    def count(self) -> bool:
        """Count one more; True when it is the first, which is logged in full."""
        self.total += 1
        if self.total == 1:
            return True
        self.unreported += 1
        return False


class EventDispatcher:
    """Sends each event to several broadcasters.

    dispatcher = EventDispatcher([ConsoleLogger(), MyWebhook()])
    agent = create_deep_agent(model=..., event_dispatcher=dispatcher)

    Args:
        broadcasters: The broadcasters to start with.
        timeout: Seconds one delivery may take before it is abandoned (it runs in
            the background, so this never delays a run).
        flush_timeout: Seconds `flush` (called at the end of every run) waits for
            delivery; what is still queued then is delivered in the background.
            `create_deep_agent(broadcast_timeout=...)` sets it.
        max_backlog: Events kept per broadcaster that falls behind; later ones are
            dropped (with one warning).
    """

    def __init__(
        self,
        broadcasters: Iterable[EventBroadcaster] = (),
        *,
        timeout: float = 5.0,
        flush_timeout: float = 1.0,
        max_backlog: int = 100_000,
    ) -> None:
        self._broadcasters: list[EventBroadcaster] = []
        self.timeout = check_timeout(timeout, "timeout")
        self.flush_timeout = check_timeout(flush_timeout, "flush_timeout")
        self.max_backlog = max_backlog
        self._channels: dict[str, _Channel] = {}
        self._has_streaming = False
        self._has_content = False
        for broadcaster in broadcasters:
            self.add_broadcaster(broadcaster)

    @property
    def broadcasters(self) -> tuple[EventBroadcaster, ...]:
        """The attached broadcasters, in the order they were added."""
        return tuple(self._broadcasters)

    def add_broadcaster(self, broadcaster: EventBroadcaster) -> None:
        """Attach a broadcaster; one with the same `id` is replaced."""
        if not isinstance(broadcaster, EventBroadcaster):
            raise TypeError(
                f"{broadcaster!r} is not an EventBroadcaster: it needs an `id` "
                f"and an async `broadcast(event)` method"
            )
        self.remove_broadcaster(broadcaster.id)
        self._broadcasters.append(broadcaster)
        self._channels[broadcaster.id] = _Channel(broadcaster, self.timeout, self.max_backlog)
        self._refresh_wants()

    def remove_broadcaster(self, broadcaster_id: str) -> None:
        """Detach the broadcaster with this `id` (nothing happens if there is none)."""
        self._broadcasters = [b for b in self._broadcasters if b.id != broadcaster_id]
        self._channels.pop(broadcaster_id, None)
        self._refresh_wants()

    def _refresh_wants(self) -> None:
        self._has_streaming = any(
            getattr(b, "supports_streaming", False) for b in self._broadcasters
        )
        self._has_content = any(getattr(b, "captures_content", False) for b in self._broadcasters)

    @property
    def has_listeners(self) -> bool:
        """Whether any broadcaster is attached (if not, and nobody streams, no events are built)."""
        return bool(self._broadcasters)

    @property
    def wants_streaming(self) -> bool:
        """Whether any broadcaster asked for `StreamingToken` events."""
        return self._has_streaming

    @property
    def wants_content(self) -> bool:
        """Whether any broadcaster asked for whole messages (`captures_content`)."""
        return self._has_content

    def emit(self, event: EventBase) -> None:
        """Queue `event` for every broadcaster; returns at once. Needs a running loop."""
        if not self._broadcasters:
            return
        streaming = isinstance(event, StreamingToken)
        for channel in self._channels.values():
            if not streaming or channel.streaming:
                channel.put(event)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued event was delivered, at most `timeout` seconds.

        Without `timeout`, waits `flush_timeout`. Events still queued after that
        are delivered in the background. Then logs, one line per broadcaster, the
        failures and timeouts not logged yet.
        """
        workers = [
            c.worker
            for c in self._channels.values()
            if c.worker is not None and not c.worker.done()
        ]
        if workers:
            wait = self.flush_timeout if timeout is None else timeout
            _, slow = await asyncio.wait(workers, timeout=wait)
            if slow:
                names = [c.broadcaster.id for c in self._channels.values() if c.worker in slow]
                logger.warning(
                    "not waiting longer than %.3gs for broadcasters %s (their events are "
                    "delivered in the background)",
                    wait,
                    names,
                )
        for channel in self._channels.values():
            channel.report()


def check_timeout(value: float, name: str) -> float:
    """`value` as seconds, or a `ConfigurationError` saying what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}")
    if not value >= 0 or math.isinf(value):  # `not >=` also refuses NaN
        raise ConfigurationError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)
