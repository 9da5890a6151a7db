"""Delivering events to broadcasters without letting one of them hurt the run.

Each broadcaster gets its own backlog and delivery task: `emit` only enqueues, so a
slow or hanging broadcaster never delays the agent or the other broadcasters.
A broadcaster that raises is logged and keeps receiving later events; one that
takes longer than `timeout` for an event is abandoned for that event.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import types
from collections import deque
from collections.abc import Coroutine, Generator, Iterable
from typing import Any, Protocol, runtime_checkable

from deepagents_nb.events import EventBase, StreamingToken

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
    `StreamingToken` events (one per piece of generated text).
    """

    @property
    def id(self) -> str: ...

    async def broadcast(self, event: EventBase) -> None: ...


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
                logger.warning(
                    "broadcaster %r took over %.1fs for %s; skipped it",
                    self.broadcaster.id,
                    self.timeout,
                    event.__class__.__name__,
                )
            except Exception:
                logger.exception(
                    "broadcaster %r failed on %s", self.broadcaster.id, event.__class__.__name__
                )


class EventDispatcher:
    """Sends each event to several broadcasters.

    dispatcher = EventDispatcher([ConsoleLogger(), MyWebhook()])
    agent = create_deep_agent(model=..., event_dispatcher=dispatcher)
    """

    def __init__(
        self,
        broadcasters: Iterable[EventBroadcaster] = (),
        *,
        timeout: float = 5.0,
        max_backlog: int = 100_000,
    ) -> None:
        self._broadcasters: list[EventBroadcaster] = []
        self.timeout = timeout
        self.max_backlog = max_backlog
        self._channels: dict[str, _Channel] = {}
        self._has_streaming = False
        for broadcaster in broadcasters:
            self.add_broadcaster(broadcaster)

    @property
    def broadcasters(self) -> tuple[EventBroadcaster, ...]:
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
        self._has_streaming = self._has_streaming or bool(
            getattr(broadcaster, "supports_streaming", False)
        )

    def remove_broadcaster(self, broadcaster_id: str) -> None:
        self._broadcasters = [b for b in self._broadcasters if b.id != broadcaster_id]
        self._channels.pop(broadcaster_id, None)
        self._has_streaming = any(
            getattr(b, "supports_streaming", False) for b in self._broadcasters
        )

    @property
    def has_listeners(self) -> bool:
        return bool(self._broadcasters)

    @property
    def wants_streaming(self) -> bool:
        """Whether any broadcaster asked for `StreamingToken` events."""
        return self._has_streaming

    def emit(self, event: EventBase) -> None:
        """Queue `event` for every broadcaster; returns at once. Needs a running loop."""
        if not self._broadcasters:
            return
        streaming = isinstance(event, StreamingToken)
        for channel in self._channels.values():
            if not streaming or channel.streaming:
                channel.put(event)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued event was delivered, at most `timeout` seconds."""
        workers = [
            c.worker
            for c in self._channels.values()
            if c.worker is not None and not c.worker.done()
        ]
        if not workers:
            return
        _, slow = await asyncio.wait(workers, timeout=self.timeout if timeout is None else timeout)
        if slow:
            names = [c.broadcaster.id for c in self._channels.values() if c.worker in slow]
            logger.warning("not waiting longer for broadcasters %s", names)
