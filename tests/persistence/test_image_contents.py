"""Images are kept apart like file contents: each distinct image stored once, by hash.

SQLite and PostgreSQL store each distinct image once per store (shared by threads,
freed with the last thread using it), Redis once per thread (expiring with it). A
state without images is stored exactly as before (format 2). What a backend holds
is read from its tables and keys directly.
"""

from __future__ import annotations

import json
import random
import sqlite3
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from checkpointer_backends import busy_state, open_backend, postgres_dsn, redis_url

from deepagents_nb.exceptions import CorruptCheckpointError
from deepagents_nb.hitl import CallResult, PendingCall, PendingTurn, pending_turn, store_pending
from deepagents_nb.messages import Image, Message, ToolCall
from deepagents_nb.persistence import InMemoryCheckpointer, SqliteCheckpointer
from deepagents_nb.serialization import (
    FILES_APART_FORMAT,
    IMAGES_APART_FORMAT,
    dump_apart,
    dump_state,
    image_text,
    load_state,
)
from deepagents_nb.state import AgentStateSnapshot

BACKENDS = ["sqlite", "postgres", "redis"]
SHARED_BY_THREADS = {"sqlite": True, "postgres": True, "redis": False}


def png(size: int, seed: int = 7) -> bytes:
    """A PNG of about `size` bytes; its pixel data is random, so nothing compresses it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
    pixels = random.Random(seed).randbytes(size)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PLOT = Image.from_bytes(png(200_000))
TEXT = image_text(PLOT.data)  # how each backend stores it: 266,744 characters


def run_with_image(versions: int = 10, image: Image = PLOT) -> list[AgentStateSnapshot]:
    """A thread's states, step by step: a user's image, then the steps answering it."""
    messages = [Message.system("You are careful."), Message.user("Why bimodal?", [image])]
    states = []
    for step in range(versions):
        messages = [*messages, Message.assistant(f"step {step}")]
        states.append(AgentStateSnapshot(messages=messages, files={"/notes.md": "bimodal"}))
    return states


# ----- what each backend holds -------------------------------------------------------------


@dataclass
class Held:
    contents: list[str]  # each stored content (file or image), every thread's
    state_bytes: int  # all versions' states together


async def held(name: str, cp: Any) -> Held:
    if name == "sqlite":
        with sqlite3.connect(cp.path) as db:
            contents = [c for (c,) in db.execute("SELECT content FROM file_contents")]
            (states,) = db.execute("SELECT COALESCE(SUM(LENGTH(state)), 0) FROM checkpoints")
        db.close()
        return Held(sorted(contents), states[0])
    if name == "postgres":
        found = await _pg(cp, "SELECT content FROM {contents}")
        (states,) = await _pg(cp, "SELECT COALESCE(SUM(octet_length(state)), 0) FROM {table}")
        return Held(sorted(bytes(c).decode() for (c,) in found), int(states[0]))
    contents, state_bytes = [], 0
    async with _redis() as client:
        async for key in client.scan_iter(f"{cp.prefix}:thread:*"):
            values = await client.hvals(key)
            if key.endswith(b":contents"):
                contents += [value.decode() for value in values]
            elif key.endswith(b":states"):
                state_bytes += sum(map(len, values))
    return Held(sorted(contents), state_bytes)


async def stored_version(name: str, cp: Any, thread_id: str, version: int) -> tuple[bytes, Any]:
    """A version's stored state bytes and its map (key -> hash), as the backend holds them."""
    if name == "sqlite":
        with sqlite3.connect(cp.path) as db:
            state, refs = db.execute(
                "SELECT state, files FROM checkpoints WHERE thread_id = ? AND version = ?",
                (thread_id, version),
            ).fetchone()
        db.close()
        return state, json.loads(refs)
    if name == "postgres":
        ((state, refs),) = await _pg(
            cp,
            "SELECT state, files::text FROM {table} WHERE thread_id = %s AND version = %s",
            thread_id,
            version,
        )
        return bytes(state), json.loads(refs)
    async with _redis() as client:
        thread = f"{cp.prefix}:thread:{thread_id}"
        state = await client.hget(f"{thread}:states", str(version))
        refs = await client.hget(f"{thread}:files", str(version))
    return state, json.loads(refs)


async def change_content(name: str, cp: Any, old: str, new: str | None) -> None:
    """Change a stored content in place (`new`), or remove it (None)."""
    if name == "sqlite":
        with sqlite3.connect(cp.path) as db:
            if new is None:
                db.execute("DELETE FROM file_contents WHERE content = ?", (old,))
            else:
                db.execute("UPDATE file_contents SET content = ? WHERE content = ?", (new, old))
        db.close()
    elif name == "postgres":
        if new is None:
            await _pg(cp, "DELETE FROM {contents} WHERE content = %s", old.encode())
        else:
            query = "UPDATE {contents} SET content = %s WHERE content = %s"
            await _pg(cp, query, new.encode(), old.encode())
    else:
        async with _redis() as client:
            async for key in client.scan_iter(f"{cp.prefix}:thread:*:contents"):
                for digest, content in (await client.hgetall(key)).items():
                    if content.decode() == old:
                        if new is None:
                            await client.hdel(key, digest)
                        else:
                            await client.hset(key, digest, new)


async def _pg(cp: Any, query: str, *params: Any) -> list[Any]:
    import psycopg
    from psycopg import sql

    from deepagents_nb.persistence._postgres_files import related_names

    names = {key: sql.Identifier(*parts) for key, parts in related_names(cp.table).items()}
    async with await psycopg.AsyncConnection.connect(postgres_dsn(), autocommit=True) as conn:
        cursor = await conn.execute(sql.SQL(query).format(**names), params)
        return await cursor.fetchall() if cursor.description else []


def another(name: str, cp: Any) -> Any:
    """A new checkpointer on the same store, as another process opens it."""
    if name == "sqlite":
        return SqliteCheckpointer(cp.path)
    if name == "postgres":
        from deepagents_nb.persistence.postgres import PostgresCheckpointer

        return PostgresCheckpointer(postgres_dsn(), table=cp.table)
    from deepagents_nb.persistence.redis import RedisCheckpointer

    return RedisCheckpointer(redis_url(), prefix=cp.prefix)


def _redis() -> Any:
    import redis.asyncio

    return redis.asyncio.Redis.from_url(redis_url())


# ----- each backend -------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
async def test_an_image_saved_over_ten_versions_is_stored_once(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    states = run_with_image(10)
    async with open_backend(name, tmp_path, monkeypatch) as cp:
        for snapshot in states:
            await cp.save("t", snapshot)

        stored = await held(name, cp)
        assert stored.contents == sorted([TEXT, "bimodal"])  # the image once, beside the file
        # Before, every version held the image's 266,744 base64 characters: 2.68 MB.
        assert stored.state_bytes < 12_000
        for number, expected in enumerate(states, start=1):
            loaded = await cp.load("t", number)
            assert loaded is not None and loaded.state == expected, f"version {number}"
            assert loaded.state.messages[1].images[0].data == PLOT.data
            assert loaded.state.files == {"/notes.md": "bimodal"}

        # A checkpointer that never saw the thread (another kernel) reads it the same way.
        async with another(name, cp) as fresh:
            loaded = await fresh.load("t", 4)
            assert loaded is not None and loaded.state == states[3]


@pytest.mark.parametrize("name", BACKENDS)
async def test_threads_sharing_an_image_share_it_where_files_are_shared_and_deleting_frees_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = Image.from_bytes(png(5_000, seed=1))
    async with open_backend(name, tmp_path, monkeypatch) as cp:
        for snapshot in run_with_image(3):
            await cp.save("a", snapshot)
        for snapshot in run_with_image(2):  # the same image, in equal but other bytes
            await cp.save("b", load_state(dump_state(snapshot), None))
        await cp.save("c", run_with_image(1, own)[0])

        copies = 1 if SHARED_BY_THREADS[name] else 2
        stored = (await held(name, cp)).contents
        assert stored.count(TEXT) == copies and stored.count(image_text(own.data)) == 1

        await cp.delete("a")
        assert (await held(name, cp)).contents.count(TEXT) == 1
        loaded = await cp.load("b")
        assert loaded is not None and loaded.state.messages[1].images == (PLOT,)

        await cp.delete("b")
        stored = (await held(name, cp)).contents
        assert TEXT not in stored and image_text(own.data) in stored
        await cp.delete("c")
        assert (await held(name, cp)).contents == []


@pytest.mark.parametrize("name", BACKENDS)
async def test_a_tampered_or_missing_image_is_a_corrupt_checkpoint(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_backend(name, tmp_path, monkeypatch) as cp:
        await cp.save("t", run_with_image(1)[0])
        tampered = image_text(png(200_000, seed=8))  # another image, same size
        await change_content(name, cp, TEXT, tampered)
        with pytest.raises(
            CorruptCheckpointError,
            match=r"thread 't' version 1: the content of 'image:0' does not match its hash",
        ):
            await cp.load("t")

        await change_content(name, cp, tampered, None)
        with pytest.raises(
            CorruptCheckpointError, match=r"thread 't' version 1: the content of 'image:0' \("
        ):
            await cp.load("t")


@pytest.mark.parametrize("name", BACKENDS)
async def test_a_state_without_images_is_stored_exactly_as_before(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = busy_state(40, 5)
    paused = plain.copy_for_run()  # a paused turn, its finished call without images
    call = ToolCall("write_file", {"path": "/a"}, id="c1")
    store_pending(
        paused, PendingTurn(calls=[PendingCall(call=call, result=CallResult(content="ok"))])
    )
    async with open_backend(name, tmp_path, monkeypatch) as cp:
        for number, snapshot in enumerate([plain, paused], start=1):
            await cp.save("t", snapshot)
            state, refs = await stored_version(name, cp, "t", number)
            assert state == dump_state(snapshot, files_apart=True)
            assert json.loads(state)["format"] == FILES_APART_FORMAT
            assert list(refs) == list(snapshot.files)


@pytest.mark.parametrize("name", BACKENDS)
async def test_images_of_a_paused_turn_and_its_sub_agent_are_kept_apart_too(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = Image.from_bytes(png(20_000, seed=2))
    call, asked = ToolCall("plot", {}, id="p1"), ToolCall("deploy", {}, id="d1")
    sub_state = AgentStateSnapshot(messages=[Message.tool("s1", "plot", "[chart]", images=[chart])])
    turn = PendingTurn(
        calls=[
            PendingCall(call=call, result=CallResult(content="[plot]", images=(PLOT,))),
            PendingCall(call=asked, waiting="subagent", subagent="ops", subagent_state=sub_state),
        ]
    )
    snapshot = run_with_image(1)[0]  # PLOT in a message too: one content for both
    store_pending(snapshot, turn)
    async with open_backend(name, tmp_path, monkeypatch) as cp:
        await cp.save("t", snapshot)
        await cp.save("t", snapshot)

        stored = await held(name, cp)
        assert stored.contents == sorted([TEXT, image_text(chart.data), "bimodal"])
        state, refs = await stored_version(name, cp, "t", 2)
        assert json.loads(state)["format"] == IMAGES_APART_FORMAT
        assert TEXT[:1000].encode() not in state and next(iter(refs)) == "/notes.md"

        loaded = await cp.load("t")
        assert loaded is not None and loaded.state == snapshot
        reloaded = pending_turn(loaded.state)
        assert reloaded is not None and reloaded.calls[0].result is not None
        assert reloaded.calls[0].result.images == (PLOT,)
        sub = reloaded.calls[1].subagent_state
        assert sub is not None and sub.messages[0].images == (chart,)


async def test_sqlite_encodes_and_hashes_images_off_the_event_loop_and_once(
    tmp_path: Path,
) -> None:
    async with SqliteCheckpointer(tmp_path / "threads.db") as cp:
        where: list[tuple[str, str]] = []

        def spy(name: str, compute: Callable[[Any], str]) -> Callable[[Any], str]:
            def call(value: Any) -> str:
                where.append((name, threading.current_thread().name))
                return compute(value)

            return call

        cp._texts._compute = spy("encode", cp._texts._compute)
        cp._hashes._compute = spy("hash", cp._hashes._compute)
        for snapshot in run_with_image(10):
            await cp.save("t", snapshot)

    # Once each (the file's content and the image's text are hashed), on the worker.
    assert sorted(name for name, _ in where) == ["encode", "hash", "hash"]
    assert all(thread.startswith("deepagents-sqlite") for _, thread in where)
    assert threading.current_thread().name not in {thread for _, thread in where}


async def test_redis_image_contents_expire_with_their_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_backend("redis", tmp_path, monkeypatch, ttl_seconds=60) as cp:
        await cp.save("t", run_with_image(1)[0])
        async with _redis() as client:
            key = f"{cp.prefix}:thread:t:contents"
            assert TEXT.encode() in await client.hvals(key)
            assert 0 < await client.pttl(key) <= 60_000


async def test_in_memory_versions_share_one_copy_of_an_image() -> None:
    cp = InMemoryCheckpointer()
    for snapshot in run_with_image(10):
        await cp.save("t", snapshot)
    for number in range(1, 11):
        loaded = await cp.load("t", number)
        assert loaded is not None and loaded.state.messages[1].images[0].data is PLOT.data


# ----- the format ---------------------------------------------------------------------------


def test_dump_apart_names_images_by_keys_no_file_uses() -> None:
    shown_twice = Message.tool("p1", "plot", "[plot]", images=[PLOT])
    copy = Image(data=bytes(bytearray(PLOT.data)), media_type="image/png")  # another object
    snapshot = AgentStateSnapshot(
        messages=[Message.user("look", [PLOT]), shown_twice, Message.user("again", [copy])],
        files={"image:0": "a file named like a key", "/a.md": "A"},
    )

    data, images = dump_apart(snapshot)

    assert list(images) == ["~image:0", "image:1"]  # one key per object; "image:0" is a file
    assert images["~image:0"] is PLOT.data and images["image:1"] is copy.data
    assert json.loads(data)["images"] == [
        [0, "~image:0", "image/png"],
        [1, "~image:0", "image/png"],
        [2, "image:1", "image/png"],
    ]
    contents = {**snapshot.files, "~image:0": TEXT, "image:1": TEXT}
    loaded = load_state(data, contents)
    assert loaded == snapshot and list(loaded.files) == ["image:0", "/a.md"]
    # Images of one content share one bytes object once loaded.
    assert loaded.messages[0].images[0].data is loaded.messages[2].images[0].data


def test_format_3_needs_its_contents_and_names_what_is_wrong() -> None:
    data, _ = dump_apart(run_with_image(1)[0])
    contents = {"/notes.md": "bimodal", "image:0": TEXT}

    with pytest.raises(CorruptCheckpointError, match="format 3 is not supported"):
        load_state(data)  # where format 1 is expected (a backend that keeps nothing apart)
    with pytest.raises(CorruptCheckpointError, match=r"image 'image:0' is not among those"):
        load_state(data, {"/notes.md": "bimodal"})
    with pytest.raises(CorruptCheckpointError, match=r"image 'image:0' is not base64"):
        load_state(data, {**contents, "image:0": "not base64!"})
    with pytest.raises(CorruptCheckpointError, match=r"a stored image is not one"):
        load_state(data, {**contents, "image:0": ""})
    moved = data.replace(b'"images":[[1,', b'"images":[[9,')
    with pytest.raises(CorruptCheckpointError, match=r"message 9, which is not there"):
        load_state(moved, contents)


def test_a_paused_turn_without_the_state_it_came_from_is_left_as_it_was() -> None:
    # Shapes other than a paused turn's are not touched, when dumped nor when loaded.
    odd = {"hitl_pending": {"calls": [{"result": {"images": [{"data": 3}, "x"]}}, 7]}}
    snapshot = AgentStateSnapshot(messages=[Message.user("hi", [PLOT])], extra=odd)

    data, images = dump_apart(snapshot)

    assert list(images) == ["image:0"] and json.loads(data)["state"]["extra"] == odd
    assert load_state(data, {"image:0": TEXT}) == snapshot


def test_a_state_with_images_and_a_lone_surrogate_keeps_both() -> None:
    # The slower path that replaces lone surrogates leaves the images out the same way.
    snapshot = AgentStateSnapshot(
        messages=[Message.user("hi", [PLOT]), Message.assistant("ok")], extra={"note": "\ud800"}
    )

    data, images = dump_apart(snapshot)

    assert json.loads(data)["state"]["extra"] == {"note": "\ufffd"} and list(images) == ["image:0"]
    loaded = load_state(data, {"image:0": TEXT})
    assert loaded.messages == snapshot.messages
