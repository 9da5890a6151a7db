"""Running async code from sync calls, also inside a running event loop (a Jupyter cell).

Sync calls run their coroutine on one private event loop in a daemon thread.
Blocking the caller's thread is what a sync call means; the caller's own loop
(Jupyter's) is never re-entered, so no `nest_asyncio` patching is needed, and
clients that bind to a loop (httpx, redis) keep working across calls because
the private loop lives as long as the process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from deepagents_nb.exceptions import ConfigurationError

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(
                target=_loop.run_forever, name="deepagents-nb-loop", daemon=True
            )
            _thread.start()
        return _loop


def _check_not_on_loop() -> asyncio.AbstractEventLoop:
    loop = _background_loop()
    if threading.current_thread() is _thread:
        raise ConfigurationError(
            "a sync agent method was called from async code running on the agent's own "
            "loop; use the async twin (await agent.ahandle_message(...)) there"
        )
    return loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion and return its result, from any sync context."""
    try:
        loop = _check_not_on_loop()
    except ConfigurationError:
        coro.close()
        raise
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except KeyboardInterrupt:
        # Interrupting the kernel stops the run too, not just the wait for it.
        future.cancel()
        raise


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Start `coro` on the private loop and return at once (for background runs)."""
    try:
        loop = _check_not_on_loop()
    except ConfigurationError:
        coro.close()
        raise
    return asyncio.run_coroutine_threadsafe(coro, loop)


_DONE = object()


def iterate_sync(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from sync code; items arrive as they are produced."""
    loop = _check_not_on_loop()
    items: queue.Queue[Any] = queue.Queue()

    async def pump() -> None:
        try:
            async for item in agen:
                items.put(item)
        except BaseException as exc:
            items.put(_Failure(exc))
            raise
        finally:
            items.put(_DONE)

    future = asyncio.run_coroutine_threadsafe(pump(), loop)
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        if not future.done():
            future.cancel()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
