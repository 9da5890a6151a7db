"""`PerLoop`: the async backends' clients, one per event loop, closed with their loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from deepagents_nb.persistence._lazy import PerLoop


class Clients:
    """Opens numbered fake clients and records which were closed, and where."""

    def __init__(self, fail_first: bool = False) -> None:
        self.opened = 0
        self.closed: list[tuple[int, asyncio.AbstractEventLoop]] = []
        self.fail_first = fail_first

    async def open(self) -> int:
        await asyncio.sleep(0.01)
        self.opened += 1
        if self.fail_first and self.opened == 1:
            raise ConnectionError("refused")
        return self.opened

    async def close(self, client: int) -> None:
        self.closed.append((client, asyncio.get_running_loop()))


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop running in another thread, like the one behind the sync calls."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


async def test_one_client_per_loop_even_when_asked_at_once() -> None:
    clients = Clients()
    per_loop = PerLoop(clients.open, clients.close)
    assert await asyncio.gather(*(per_loop.get() for _ in range(5))) == [1] * 5
    assert clients.opened == 1
    await per_loop.aclose()


async def test_a_failed_open_is_retried_by_the_next_call() -> None:
    clients = Clients(fail_first=True)
    per_loop = PerLoop(clients.open, clients.close)
    with pytest.raises(ConnectionError):
        await per_loop.get()
    assert await per_loop.get() == 2
    await per_loop.aclose()
    assert [client for client, _ in clients.closed] == [2]


async def test_aclose_closes_here_now_and_elsewhere_when_that_loop_runs(
    other_loop: asyncio.AbstractEventLoop,
) -> None:
    clients = Clients()
    per_loop = PerLoop(clients.open, clients.close)
    here = await per_loop.get()
    there = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(per_loop.get(), other_loop))
    assert (here, there) == (1, 2)

    await per_loop.aclose()
    for _ in range(100):
        if len(clients.closed) == 2:
            break
        await asyncio.sleep(0.01)

    assert sorted(clients.closed, key=lambda c: c[0]) == [
        (1, asyncio.get_running_loop()),
        (2, other_loop),
    ]
    assert await per_loop.get() == 3  # usable again


def test_a_loop_that_ends_closes_its_client() -> None:
    clients = Clients()
    per_loop = PerLoop(clients.open, clients.close)
    assert asyncio.run(per_loop.get()) == 1
    assert [client for client, _ in clients.closed] == [1]
    assert asyncio.run(per_loop.get()) == 2
