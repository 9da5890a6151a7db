"""Redis keeps each distinct file content once per thread and sends only new ones.

What a save sends is read from the save script's arguments (a spy on redis-py's
`AsyncScript`); what is stored, from the keys with a plain redis-py client.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from checkpointer_backends import open_backend, redis_url
from redis.commands.core import AsyncScript

from deepagents_nb.exceptions import (
    CheckpointConflictError,
    CheckpointerError,
    CorruptCheckpointError,
)
from deepagents_nb.messages import Message
from deepagents_nb.persistence import redis as redis_backend
from deepagents_nb.persistence.redis import RedisCheckpointer
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot

After = Callable[[list[Any]], Awaitable[None]]


def state(files: dict[str, str], text: str = "hi") -> AgentStateSnapshot:
    return AgentStateSnapshot(messages=[Message.user(text)], files=files)


def sha(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def sent(args: list[Any]) -> dict[str, str]:
    """The contents a save script call carried: ARGV is ..., map, n, n hashes, pairs."""
    n = int(args[6])
    pairs = args[7 + n :]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


class SaveCalls:
    """The arguments of every save script call; `after` runs once the next call returns."""

    def __init__(self) -> None:
        self.args: list[list[Any]] = []
        self.after: After | None = None

    def clear(self) -> None:
        self.args.clear()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> SaveCalls:
    spy = SaveCalls()
    original = AsyncScript.__call__

    async def call(
        self: AsyncScript, keys: Any = None, args: Any = None, client: Any = None
    ) -> Any:
        reply = await original(self, keys, args, client)
        if self.script == redis_backend._SAVE:
            spy.args.append(list(args))
            after, spy.after = spy.after, None
            if after is not None:
                await after(reply)
        return reply

    monkeypatch.setattr(AsyncScript, "__call__", call)
    return spy


@pytest.fixture
async def client() -> AsyncIterator[redis.asyncio.Redis]:
    async with redis.asyncio.Redis.from_url(redis_url()) as client:
        yield client


@pytest.fixture
async def checkpointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    async with open_backend("redis", tmp_path, monkeypatch) as cp:
        yield cp


def key(cp: RedisCheckpointer, thread_id: str, name: str) -> str:
    return f"{cp.prefix}:thread:{thread_id}:{name}"


async def stored(client: redis.asyncio.Redis, cp: RedisCheckpointer, thread_id: str) -> list[str]:
    contents = await client.hgetall(key(cp, thread_id, "contents"))
    return sorted(content.decode() for content in contents.values())


async def test_versions_load_as_saved_while_files_are_added_changed_deleted_and_reordered(
    checkpointer: RedisCheckpointer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = [
        state({"/a.md": "A", "/b.md": "B"}),
        state({"/a.md": "A2", "/b.md": "B", "/c.md": "C"}),  # changed and added
        state({"/c.md": "C", "/a.md": "A2"}),  # deleted, and in another order
        state({"/b.md": "B", "/d.md": "é ✓ " * 5000, "/e.md": "B"}),  # an old content back
        state({}),
        state({"/z.md": "Z", "/a.md": "A"}),
    ]
    for snapshot in saved:
        await checkpointer.save("t", snapshot)

    async def check(cp: RedisCheckpointer) -> None:
        for number, expected in enumerate(saved, start=1):
            loaded = await cp.load("t", number)
            assert loaded is not None and loaded.state == expected, f"version {number}"
            assert loaded.state.model_dump_json() == expected.model_dump_json()  # file order

    await check(checkpointer)
    # Another process (no memory of the thread) reads the same.
    async with RedisCheckpointer(redis_url(), prefix=checkpointer.prefix) as other:
        await check(other)


async def test_paths_that_look_like_hashes_in_the_maps_json_load_right(
    checkpointer: RedisCheckpointer,
) -> None:
    # The load script reads the hashes off the map's text: quotes, hex digits,
    # commas and braces in paths must not pass for values.
    files = {
        '"abc': "0",
        '"abc",': "1",
        'ff"}': "2",
        "/beef": "3",
        '\\"0",\\': "4",
        "/é/\u2028.md": "5",
        sha("1"): "1",
    }
    await checkpointer.save("t", state(files))
    async with RedisCheckpointer(redis_url(), prefix=checkpointer.prefix) as other:
        loaded = await other.load("t")
    assert loaded is not None and loaded.state.files == files
    assert list(loaded.state.files) == list(files)


async def test_a_save_sends_and_writes_only_contents_the_thread_lacks(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    await checkpointer.save("t", state({"/one.md": "same", "/two.md": "same", "/a.md": "A"}))
    await checkpointer.save("t", state({"/one.md": "same", "/a.md": "A", "/b.md": "B"}))

    assert [sent(args) for args in calls.args] == [
        {sha("same"): "same", sha("A"): "A"},  # one content for two paths
        {sha("B"): "B"},
    ]
    assert await stored(client, checkpointer, "t") == ["A", "B", "same"]


async def test_an_unchanged_step_sends_and_writes_no_content(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    files = {f"/notes/{i}.md": f"note {i}\n" * 100 for i in range(5)}
    await checkpointer.save("t", state(files))
    contents_key = key(checkpointer, "t", "contents")
    before = await client.hgetall(contents_key)
    assert len(before) == 5 and len(sent(calls.args[0])) == 5
    calls.clear()

    live = state(files).copy_for_run()  # the next step: same files, a new message
    live.messages.append(Message.assistant("done"))
    await checkpointer.save("t", live)
    # A resumed run: a checkpointer that knows nothing of the thread loads it (equal
    # contents in new str objects), then saves.
    async with RedisCheckpointer(redis_url(), prefix=checkpointer.prefix) as resumed:
        loaded = await resumed.load("t")
        assert loaded is not None
        await resumed.save("t", loaded.state)

    assert [sent(args) for args in calls.args] == [{}, {}]
    assert await client.hgetall(contents_key) == before
    # A version's state holds no content, only its map path -> hash, in order.
    state_json = await client.hget(key(checkpointer, "t", "states"), "3")
    assert state_json is not None and b"note 0" not in state_json
    refs = await client.hget(key(checkpointer, "t", "files"), "3")
    assert refs is not None
    assert json.loads(refs) == {path: sha(content) for path, content in files.items()}
    assert list(json.loads(refs)) == list(files)


async def test_a_checkpointer_that_never_saw_the_thread_sends_its_contents_again(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    await checkpointer.save("t", state({"/a.md": "A"}))
    calls.clear()
    async with RedisCheckpointer(redis_url(), prefix=checkpointer.prefix) as other:
        assert await other.save("t", state({"/a.md": "A"}), expected_version=1) == 2

    assert [sent(args) for args in calls.args] == [{sha("A"): "A"}]  # one call, no retry
    assert await stored(client, checkpointer, "t") == ["A"]


async def test_contents_lost_behind_the_checkpointers_back_are_sent_again_by_one_retry(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    await checkpointer.save("t", state({"/a.md": "A", "/b.md": "B"}))
    await client.delete(key(checkpointer, "t", "contents"))
    calls.clear()

    assert await checkpointer.save("t", state({"/b.md": "B", "/c.md": "C"})) == 2

    first, retry = calls.args
    assert sent(first) == {sha("C"): "C"}
    assert sent(retry) == {sha("C"): "C", sha("B"): "B"}
    loaded = await checkpointer.load("t")
    assert loaded is not None and loaded.state.files == {"/b.md": "B", "/c.md": "C"}
    calls.clear()
    # The memory was repaired, not only added to: A is known to be gone, and sent.
    await checkpointer.save("t", state({"/a.md": "A", "/b.md": "B", "/c.md": "C"}))
    assert [sent(args) for args in calls.args] == [{sha("A"): "A"}]
    assert await stored(client, checkpointer, "t") == ["A", "B", "C"]


async def test_a_thread_deleted_by_another_checkpointer_is_saved_whole_again(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    files = {"/a.md": "A", "/b.md": "B"}
    await checkpointer.save("t", state(files, "first life"))
    async with RedisCheckpointer(redis_url(), prefix=checkpointer.prefix) as other:
        await other.delete("t")
    calls.clear()

    assert await checkpointer.save("t", state(files, "second life"), expected_version=0) == 1

    assert [sent(args) for args in calls.args] == [{}, {sha("A"): "A", sha("B"): "B"}]
    loaded = await checkpointer.load("t")
    assert loaded is not None and loaded.state == state(files, "second life")
    assert [info.version for info in await checkpointer.history("t")] == [1]


async def test_a_conflict_is_reported_before_contents_are_checked(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    await checkpointer.save("t", state({"/a.md": "A"}))
    await client.delete(key(checkpointer, "t", "contents"))
    calls.clear()
    with pytest.raises(CheckpointConflictError):
        await checkpointer.save("t", state({"/a.md": "A"}), expected_version=5)
    assert len(calls.args) == 1  # no retry for a conflict
    assert await client.hlen(key(checkpointer, "t", "info")) == 1


async def test_contents_that_vanish_again_before_the_retry_save_nothing(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    await checkpointer.save("t", state({"/a.md": "A", "/b.md": "B"}))
    contents_key = key(checkpointer, "t", "contents")
    await client.hdel(contents_key, sha("A"))

    async def lose_b(reply: list[Any]) -> None:
        assert reply == [2, sha("A").encode()]  # A is missing: the retry will send it
        await client.hdel(contents_key, sha("B"))

    calls.after = lose_b
    with pytest.raises(CheckpointerError, match="contents of thread 't' vanished"):
        await checkpointer.save("t", state({"/a.md": "A", "/b.md": "B"}))

    assert len(calls.args) == 3  # the first save, then this one and its retry
    assert [info.version for info in await checkpointer.history("t")] == [1]
    assert await client.hlen(contents_key) == 0  # the retry wrote nothing either


async def test_ttl_applies_to_the_file_keys_and_each_save_renews_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: redis.asyncio.Redis
) -> None:
    async with open_backend("redis", tmp_path, monkeypatch, ttl_seconds=60) as cp:
        files = {"/a.md": "A", "/b.md": "B"}
        await cp.save("t", state(files))
        names = ("contents", "files", "info", "states")
        for name in names:
            assert 0 < await client.pttl(key(cp, "t", name)) <= 60_000, name
            await client.pexpire(key(cp, "t", name), 5_000)  # as if saved 55 s ago

        await cp.save("t", state(files, "unchanged files"))  # sends no content

        for name in names:
            assert 5_000 < await client.pttl(key(cp, "t", name)) <= 60_000, name


async def test_delete_removes_the_file_keys_of_that_thread_only(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, calls: SaveCalls
) -> None:
    await checkpointer.save("gone", state({"/s.md": "shared", "/g.md": "gone"}))
    await checkpointer.save("kept", state({"/s.md": "shared", "/k.md": "kept"}))

    await checkpointer.delete("gone")

    assert await client.exists(*(key(checkpointer, "gone", n) for n in ("contents", "files"))) == 0
    assert sorted([k.decode() async for k in client.scan_iter(f"{checkpointer.prefix}:*")]) == [
        *(key(checkpointer, "kept", n) for n in ("contents", "files", "info", "states")),
        f"{checkpointer.prefix}:threads",
    ]
    kept = await checkpointer.load("kept")
    assert kept is not None and kept.state.files == {"/s.md": "shared", "/k.md": "kept"}
    calls.clear()
    # The checkpointer forgot what the deleted thread held: no retry to find out.
    await checkpointer.save("gone", state({"/s.md": "shared"}))
    assert [sent(args) for args in calls.args] == [{sha("shared"): "shared"}]


async def test_threads_written_before_contents_were_kept_apart_load_and_grow(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    # The layout and bytes the previous release wrote: info and states hashes, format 1.
    old = [state({"/a.md": "A", "/b.md": "B"}, "one"), state({"/a.md": "A2"}, "two")]
    for number, snapshot in enumerate(old, start=1):
        info = {"created_at": f"2024-05-0{number}T12:00:00+00:00", "metadata": {"n": number}}
        await client.hset(key(checkpointer, "t", "info"), str(number), json.dumps(info))
        await client.hset(key(checkpointer, "t", "states"), str(number), dump_state(snapshot))
    await client.zadd(f"{checkpointer.prefix}:threads", {"t": float("inf")})

    assert await checkpointer.list_threads() == ["t"]
    for number, expected in enumerate(old, start=1):
        loaded = await checkpointer.load("t", number)
        assert loaded is not None and loaded.state == expected
        assert loaded.metadata == {"n": number}
    newer = state({"/a.md": "A2", "/c.md": "C"}, "three")
    assert await checkpointer.save("t", newer, expected_version=2) == 3
    assert [info.version for info in await checkpointer.history("t")] == [1, 2, 3]
    for number, expected in enumerate([*old, newer], start=1):
        loaded = await checkpointer.load("t", number)
        assert loaded is not None and loaded.state == expected

    # The old versions are left as they were; the new one keeps its files apart.
    assert await client.hkeys(key(checkpointer, "t", "files")) == [b"3"]
    assert await stored(client, checkpointer, "t") == ["A2", "C"]
    await checkpointer.delete("t")
    assert [k async for k in client.scan_iter(f"{checkpointer.prefix}:*")] == []


async def test_a_missing_content_names_the_thread_version_and_path(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis
) -> None:
    await checkpointer.save("t", state({"/a.md": "A"}))
    await checkpointer.save("t", state({"/a.md": "A", "/b.md": "lost"}))
    await client.hdel(key(checkpointer, "t", "contents"), sha("lost"))

    with pytest.raises(
        CorruptCheckpointError,
        match=rf"thread 't' version 2: the content of '/b.md' \({sha('lost')}\) is missing",
    ):
        await checkpointer.load("t")
    first = await checkpointer.load("t", 1)  # the other versions stay readable
    assert first is not None and first.state.files == {"/a.md": "A"}


@pytest.mark.parametrize("refs", ["{not json", '["a list"]', '{"/a.md": 1}'])
async def test_a_broken_map_of_files_names_the_thread_and_version(
    checkpointer: RedisCheckpointer, client: redis.asyncio.Redis, refs: str
) -> None:
    await checkpointer.save("t", state({"/a.md": "A"}))
    await client.hset(key(checkpointer, "t", "files"), "1", refs)
    with pytest.raises(CorruptCheckpointError, match="thread 't' version 1: the map of files"):
        await checkpointer.load("t")
