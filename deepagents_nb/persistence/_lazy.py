"""What the optional backends create late: driver imports, and clients per event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from deepagents_nb.exceptions import MissingDependencyError

T = TypeVar("T")


@contextlib.contextmanager
def optional_dependency(feature: str, extra: str) -> Iterator[None]:
    """Turn an `ImportError` raised in the block into `MissingDependencyError`.

    with optional_dependency("RedisCheckpointer", "redis"):
        import redis.asyncio
    """
    try:
        yield
    except ImportError as exc:
        raise MissingDependencyError(feature, extra) from exc


class PerLoop(Generic[T]):
    """One client per event loop, opened on first use in that loop.

    Async drivers (redis.asyncio, psycopg_pool) bind their connections to the loop
    that opened them, while a notebook uses one checkpointer from two loops: its own
    (`await` in a cell) and the private loop behind the sync calls. Each client is
    held by a task of its loop, which closes it when cancelled: by `aclose()`, or
    when `asyncio.run` (or pytest) ends the loop and cancels what is left.
    """

    def __init__(
        self, open_client: Callable[[], Awaitable[T]], close_client: Callable[[T], Awaitable[None]]
    ) -> None:
        self._open = open_client
        self._close = close_client
        self._loops: dict[asyncio.AbstractEventLoop, tuple[asyncio.Future[T], asyncio.Task[None]]]
        self._loops = {}

    async def get(self) -> T:
        """The running loop's client, opened now if this is the loop's first call."""
        loop = asyncio.get_running_loop()
        held = self._loops.get(loop)
        if held is None or held[1].done():  # never opened, failed to open, or closed
            ready: asyncio.Future[T] = loop.create_future()
            held = self._loops[loop] = (ready, loop.create_task(self._hold(loop, ready)))
        # Shielded: a caller cancelled while the client opens must not fail the others.
        return await asyncio.shield(held[0])

    async def aclose(self) -> None:
        """Close the clients: this loop's now, other loops' when they next run.

        Waiting for another loop could deadlock (a Jupyter cell blocks its loop's
        thread while a sync call runs on the private loop), so those are only told.
        """
        current = asyncio.get_running_loop()
        held, self._loops = self._loops, {}
        for loop, (_, task) in held.items():
            if loop is current:
                task.cancel()
                await asyncio.wait([task])
            elif not loop.is_closed():
                loop.call_soon_threadsafe(task.cancel)

    async def _hold(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[T]) -> None:
        try:
            client = await self._open()
        except Exception as exc:
            ready.set_exception(exc)  # for the callers; a later get() tries again
            return
        except BaseException:
            ready.cancel()
            raise
        ready.set_result(client)
        try:
            await loop.create_future()  # held until cancelled
        finally:
            if self._loops.get(loop, (None,))[0] is ready:
                del self._loops[loop]  # drop the loop with its client
            await self._close(client)
