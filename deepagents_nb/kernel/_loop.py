"""Every kernel operation runs on deepagents-nb's one private event loop.

jupyter_client's sockets belong to the loop that made them, and an agent may be
called from Jupyter's loop (`await agent.arun(...)`) and from sync calls (the
private loop) in turn; hopping to one loop keeps a kernel usable from both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from deepagents_nb import _sync

T = TypeVar("T")


async def on_kernel_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` on the private loop, from whichever loop the caller is on."""
    loop = _sync._background_loop()
    if asyncio.get_running_loop() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
