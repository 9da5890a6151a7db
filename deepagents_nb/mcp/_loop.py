"""Every MCP session lives on deepagents-nb's one private event loop.

The MCP SDK's sessions run in anyio task groups bound to the loop that opened
them; an agent may be called from Jupyter's loop (`await agent.arun(...)`) and
from sync calls (the private loop) in turn. Hopping to one loop keeps a session
usable from both, as `kernel/_loop.py` does for kernels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from deepagents_nb import _sync

T = TypeVar("T")


async def on_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` on the private loop, from whichever loop the caller is on.

    Cancelling the caller cancels `coro` too.
    """
    loop = _sync._background_loop()
    if asyncio.get_running_loop() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


def run_on_loop(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run `coro` on the private loop from sync code, waiting at most `timeout` seconds."""
    future = _sync.submit(coro)
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()
        raise
