"""Redis specifics: expiry, listing without KEYS, prefixes, and unreadable data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from checkpointer_backends import open_backend, redis_url

from deepagents_nb.exceptions import CheckpointerError, ConfigurationError, CorruptCheckpointError
from deepagents_nb.persistence.redis import RedisCheckpointer
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot, TodoItem


@pytest.fixture
async def client() -> AsyncIterator[redis.asyncio.Redis]:
    async with redis.asyncio.Redis.from_url(redis_url()) as client:
        yield client


@pytest.fixture
async def checkpointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    async with open_backend("redis", tmp_path, monkeypatch) as cp:
        yield cp


async def test_ttl_applies_to_every_key_of_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: redis.asyncio.Redis
) -> None:
    async with open_backend("redis", tmp_path, monkeypatch, ttl_seconds=60) as cp:
        await cp.save("t", AgentStateSnapshot(files={"/a.md": "A"}))
        await cp.save("t", AgentStateSnapshot(files={"/a.md": "A", "/b.md": "B"}))
        keys = sorted([key.decode() async for key in client.scan_iter(f"{cp.prefix}:thread:*")])
        assert keys == [
            f"{cp.prefix}:thread:t:{name}" for name in ("contents", "files", "info", "states")
        ]
        for key in keys:
            assert 0 < await client.pttl(key) <= 60_000


async def test_without_ttl_nothing_expires(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    await checkpointer.save("t", AgentStateSnapshot())
    async for key in client.scan_iter(f"{checkpointer.prefix}:*"):
        assert await client.ttl(key) == -1, key


async def test_an_expired_thread_is_gone_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_backend("redis", tmp_path, monkeypatch, ttl_seconds=0.2) as cp:
        await cp.save("short", AgentStateSnapshot())
        assert await cp.list_threads() == ["short"]
        await asyncio.sleep(0.35)
        assert await cp.load("short") is None
        assert await cp.history("short") == []
        assert await cp.list_threads() == []
        assert await cp.save("short", AgentStateSnapshot(), expected_version=0) == 1


async def test_each_save_extends_the_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with open_backend("redis", tmp_path, monkeypatch, ttl_seconds=0.4) as cp:
        for _ in range(3):
            await cp.save("busy", AgentStateSnapshot())
            await asyncio.sleep(0.2)
        assert [info.version for info in await cp.history("busy")] == [1, 2, 3]


async def test_list_threads_does_not_use_keys(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    for thread_id in ("a", "b"):
        await checkpointer.save(thread_id, AgentStateSnapshot())

    async def calls(command: str) -> int:
        stats = await client.info("commandstats")
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    before = [await calls("keys"), await calls("scan")]
    assert await checkpointer.list_threads() == ["a", "b"]
    assert [await calls("keys"), await calls("scan")] == before


async def test_prefixes_keep_stores_apart(
    checkpointer: RedisCheckpointer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await checkpointer.save("mine", AgentStateSnapshot())
    async with open_backend("redis", tmp_path, monkeypatch) as other:
        await other.save("theirs", AgentStateSnapshot())
        assert await other.list_threads() == ["theirs"]
        assert await other.load("mine") is None
    assert await checkpointer.list_threads() == ["mine"]


async def test_the_state_is_stored_as_the_shared_json(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    state = AgentStateSnapshot(todos=[TodoItem(content="x")], files={"/a.md": "A"})
    await checkpointer.save("t", state)
    stored = await client.hget(f"{checkpointer.prefix}:thread:t:states", "1")
    assert stored == dump_state(state, files_apart=True)  # the files are kept apart


async def test_corrupt_state_names_the_thread_and_version(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    await checkpointer.save("t", AgentStateSnapshot())
    await client.hset(f"{checkpointer.prefix}:thread:t:states", "1", b"\x00\xffgarbage")
    with pytest.raises(CorruptCheckpointError, match=r"thread 't' version 1: .*Invalid JSON"):
        await checkpointer.load("t")


async def test_a_missing_state_is_reported_not_returned_empty(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    await checkpointer.save("t", AgentStateSnapshot())
    await client.hdel(f"{checkpointer.prefix}:thread:t:states", "1")
    with pytest.raises(CorruptCheckpointError, match="thread 't' version 1: the state is missing"):
        await checkpointer.load("t", 1)


async def test_corrupt_version_info_names_the_thread_and_version(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    await checkpointer.save("t", AgentStateSnapshot())
    await client.hset(f"{checkpointer.prefix}:thread:t:info", "1", "{oops")
    with pytest.raises(CorruptCheckpointError, match="thread 't' version 1"):
        await checkpointer.history("t")


async def test_an_unreachable_server_is_a_checkpointer_error() -> None:
    cp = RedisCheckpointer("redis://127.0.0.1:1/0")
    with pytest.raises(CheckpointerError, match="Redis save failed"):
        await cp.save("t", AgentStateSnapshot())
    await cp.close()


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="ttl_seconds"):
        RedisCheckpointer("redis://127.0.0.1:1/0", ttl_seconds=0)


async def _connected_clients(client: redis.asyncio.Redis) -> int:
    return int((await client.info("clients"))["connected_clients"])


async def test_thousands_of_concurrent_saves_wait_for_a_connection_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: redis.asyncio.Redis
) -> None:
    # redis-py's default pool raised "Too many connections" past 100 at once.
    async with open_backend("redis", tmp_path, monkeypatch) as cp:
        before = await _connected_clients(client)
        versions = await asyncio.gather(
            *(cp.save(f"t{i}", AgentStateSnapshot(files={"/a.md": str(i)})) for i in range(2000))
        )
        assert versions == [1] * 2000
        assert await _connected_clients(client) - before <= cp.max_connections
        assert len(await cp.list_threads()) == 2000
        loaded = await cp.load("t1999")
        assert loaded is not None and loaded.state.files == {"/a.md": "1999"}


async def test_max_connections_bounds_the_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: redis.asyncio.Redis
) -> None:
    async with open_backend("redis", tmp_path, monkeypatch, max_connections=3) as cp:
        before = await _connected_clients(client)
        await asyncio.gather(*(cp.save(f"t{i}", AgentStateSnapshot()) for i in range(300)))
        assert 1 <= await _connected_clients(client) - before <= 3
        assert len(await cp.list_threads()) == 300


async def test_a_call_that_waits_too_long_for_a_connection_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: redis.asyncio.Redis
) -> None:
    options: dict[str, Any] = {"max_connections": 1, "pool_timeout": 0.05}
    async with open_backend("redis", tmp_path, monkeypatch, **options) as cp:
        await cp.save("warm", AgentStateSnapshot())  # the pool's one connection is open
        await client.execute_command("CLIENT", "PAUSE", "400", "ALL")
        results = await asyncio.gather(
            cp.save("a", AgentStateSnapshot()),
            cp.save("b", AgentStateSnapshot()),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        assert len(failed) == 1 and results.count(1) == 1
        assert isinstance(failed[0], CheckpointerError)
        assert "all 1 connections stayed busy for 0.05 s" in str(failed[0])
        assert "max_connections" in str(failed[0])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_connections": 0}, "max_connections must be at least 1"),
        ({"max_connections": 2.5}, "max_connections must be an int"),
        ({"pool_timeout": 0}, "pool_timeout must be positive"),
    ],
)
def test_pool_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RedisCheckpointer("redis://127.0.0.1:1/0", **options)
