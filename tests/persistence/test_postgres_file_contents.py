"""PostgreSQL keeps each distinct file content once: sharing, freeing, races, old tables."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Set
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from checkpointer_backends import drop_postgres_tables, open_backend, postgres_dsn, unique_name
from psycopg import sql

from deepagents_nb.exceptions import CorruptCheckpointError
from deepagents_nb.messages import Message
from deepagents_nb.persistence import _postgres_files
from deepagents_nb.persistence._postgres_files import related_names
from deepagents_nb.persistence.postgres import PostgresCheckpointer
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot

# The table, and a save, as deepagents-nb wrote them before contents were kept apart.
LEGACY_SCHEMA = """
CREATE TABLE {table} (
    thread_id  text        NOT NULL,
    version    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    metadata   jsonb       NOT NULL,
    state      bytea       NOT NULL,
    PRIMARY KEY (thread_id, version)
)
"""
LEGACY_SAVE = """
INSERT INTO {table} (thread_id, version, created_at, metadata, state)
SELECT %s, COALESCE(MAX(version), 0) + 1, now(), '{{}}', %s FROM {table} WHERE thread_id = %s
RETURNING version
"""


@pytest.fixture
async def checkpointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    async with open_backend("postgres", tmp_path, monkeypatch) as cp:
        yield cp


def state(files: dict[str, str], text: str = "hi") -> AgentStateSnapshot:
    return AgentStateSnapshot(messages=[Message.user(text)], files=files)


def statement(table: str, query: str) -> sql.Composed:
    """`query` with `{table}`, `{contents}` and `{links}` naming the tables of `table`."""
    names = {key: sql.Identifier(*parts) for key, parts in related_names(table).items()}
    return sql.SQL(query).format(**names)


async def rows(table: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(postgres_dsn(), autocommit=True) as conn:
        cursor = await conn.execute(statement(table, query), params)
        return await cursor.fetchall() if cursor.description else []


async def contents(table: str) -> list[str]:
    found = await rows(table, "SELECT content FROM {contents}")
    return sorted(bytes(content).decode() for (content,) in found)


async def links(table: str) -> list[tuple[str, str]]:
    return sorted((thread, digest) for thread, digest in await rows(table, "SELECT * FROM {links}"))


async def waiting_on_a_lock(pattern: str) -> None:
    """Wait until a session running a statement LIKE `pattern` waits for a lock."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with await psycopg.AsyncConnection.connect(postgres_dsn()) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE %s",
                (pattern,),
            )
            found = await cursor.fetchone()
        if found and found[0]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no statement like {pattern!r} ever waited for a lock")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_versions_load_as_saved_while_files_are_added_changed_and_deleted(
    checkpointer: PostgresCheckpointer,
) -> None:
    saved = [
        state({"/a.md": "A", "/b.md": "B"}),
        state({"/a.md": "A2", "/b.md": "B", "/c.md": "C"}),  # changed and added
        state({"/c.md": "C", "/a.md": "A2"}),  # deleted, and in another order
        state({"/b.md": "B", "/d.md": "é ✓ " * 5000, "/nul.bin": "a\x00b"}),  # an old one back
        state({}),
    ]
    for snapshot in saved:
        await checkpointer.save("t", snapshot)
    async with PostgresCheckpointer(postgres_dsn(), table=checkpointer.table) as fresh:
        for cp in (checkpointer, fresh):  # the process that saved, and another one
            for number, expected in enumerate(saved, start=1):
                loaded = await cp.load("t", number)
                assert loaded is not None and loaded.state == expected, f"version {number}"
                assert loaded.state.model_dump_json() == expected.model_dump_json()  # order


async def test_identical_contents_are_stored_once(checkpointer: PostgresCheckpointer) -> None:
    await checkpointer.save("a", state({"/one.md": "same", "/two.md": "same", "/own.md": "a's"}))
    await checkpointer.save("b", state({"/copy.md": "same"}))
    loaded = await checkpointer.load("b")
    assert loaded is not None and loaded.state.files == {"/copy.md": "same"}

    assert await contents(checkpointer.table) == ["a's", "same"]
    assert await links(checkpointer.table) == sorted(
        [("a", sha256("same")), ("a", sha256("a's")), ("b", sha256("same"))]
    )


async def test_a_save_sends_only_the_contents_its_thread_does_not_hold(
    checkpointer: PostgresCheckpointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[list[str]] = []
    real = _postgres_files.contents_to_send

    def spy(by_hash: dict[str, str], known: Set[str]) -> dict[str, Any]:
        params = real(by_hash, known)
        sent.append(params["hashes"])
        return params

    monkeypatch.setattr(_postgres_files, "contents_to_send", spy)
    table = checkpointer.table
    files = {f"/notes/{i}.md": f"note {i}\n" * 100 for i in range(5)}
    await checkpointer.save("t", state(files))
    assert len(sent.pop()) == 5
    stored = await rows(table, "SELECT hash, xmin::text FROM {contents} ORDER BY hash")
    linked = await rows(table, "SELECT hash, xmin::text FROM {links} ORDER BY hash")

    live = state(files).copy_for_run()  # the next step: same files, a new message
    live.messages.append(Message.assistant("done"))
    await checkpointer.save("t", live)
    assert sent.pop() == []
    async with PostgresCheckpointer(postgres_dsn(), table=table) as restarted:
        reloaded = await restarted.load("t")  # equal contents in new str objects
        assert reloaded is not None
        await restarted.save("t", reloaded.state)
        assert sent.pop() == []

    # Not a row written again: each content and link keeps the transaction that wrote it.
    assert await rows(table, "SELECT hash, xmin::text FROM {contents} ORDER BY hash") == stored
    assert await rows(table, "SELECT hash, xmin::text FROM {links} ORDER BY hash") == linked
    # A version's row holds no content, only its map path -> hash, in the files' order.
    ((held, refs),) = await rows(table, "SELECT state, files FROM {table} WHERE version = 3")
    assert b"note 0" not in held
    assert list(refs) == list(files)

    files["/notes/2.md"] = "changed"
    await checkpointer.save("t", state(files))
    assert sent.pop() == [sha256("changed")]


async def test_delete_frees_the_contents_no_other_thread_uses(
    checkpointer: PostgresCheckpointer,
) -> None:
    table = checkpointer.table
    await checkpointer.save("gone", state({"/s.md": "shared", "/g.md": "gone 1"}))
    await checkpointer.save("gone", state({"/s.md": "shared", "/g.md": "gone 2"}))
    await checkpointer.save("kept", state({"/s.md": "shared", "/k.md": "kept"}))
    assert await contents(table) == ["gone 1", "gone 2", "kept", "shared"]

    await checkpointer.delete("gone")

    assert await contents(table) == ["kept", "shared"]
    assert {thread for thread, _ in await links(table)} == {"kept"}
    kept = await checkpointer.load("kept")
    assert kept is not None and kept.state.files == {"/s.md": "shared", "/k.md": "kept"}

    await checkpointer.save("new", state({"/s.md": "shared"}))  # saved again after the delete
    await checkpointer.delete("kept")
    assert await contents(table) == ["shared"]
    await checkpointer.delete("new")

    assert await contents(table) == []
    assert await links(table) == []


async def test_a_table_from_before_content_hashing_keeps_its_threads() -> None:
    table = unique_name("legacy")
    old = [state({"/a.md": "A", "/b.md": "B"}, "one"), state({"/a.md": "A2"}, "two")]
    when = [datetime(2024, 5, n, 12, tzinfo=timezone.utc) for n in (1, 2)]
    await rows(table, LEGACY_SCHEMA)
    for number, snapshot in enumerate(old, start=1):
        await rows(
            table,
            "INSERT INTO {table} VALUES ('t', %s, %s, %s, %s)",
            number,
            when[number - 1],
            json.dumps({"n": number}),
            dump_state(snapshot),
        )
    try:
        async with PostgresCheckpointer(postgres_dsn(), table=table) as cp:
            for number, expected in enumerate(old, start=1):
                loaded = await cp.load("t", number)
                assert loaded is not None and loaded.state == expected
                assert (loaded.metadata, loaded.created_at) == ({"n": number}, when[number - 1])
            newer = state({"/a.md": "A2", "/c.md": "C"}, "three")
            assert await cp.save("t", newer, expected_version=2) == 3
            assert [info.version for info in await cp.history("t")] == [1, 2, 3]

            # A process of the earlier release still writes its own rows, files inline.
            older_writer = state({"/z.md": "Z"}, "four")
            (four,) = await rows(table, LEGACY_SAVE, "t", dump_state(older_writer), "t")
            assert four == (4,)
            for number, expected in enumerate([*old, newer, older_writer], start=1):
                loaded = await cp.load("t", number)
                assert loaded is not None and loaded.state == expected, f"version {number}"

            # The old rows are left as they were; the new one keeps its files apart.
            assert await rows(table, "SELECT version, files IS NULL FROM {table} ORDER BY 1") == [
                (1, True),
                (2, True),
                (3, False),
                (4, True),
            ]
            assert await contents(table) == ["A2", "C"]

            await cp.delete("t")
            assert await cp.list_threads() == []
            assert await contents(table) == []
            assert await links(table) == []
    finally:
        await drop_postgres_tables(postgres_dsn(), table)


async def test_checkpointers_opening_a_new_table_at_once_all_succeed() -> None:
    table = unique_name("opened")
    openers = [PostgresCheckpointer(postgres_dsn(), table=table) for _ in range(4)]
    try:
        assert await asyncio.gather(*(cp.list_threads() for cp in openers)) == [[]] * 4
        assert await openers[0].save("t", state({"/a.md": "A"})) == 1
        loaded = await openers[3].load("t")
        assert loaded is not None and loaded.state.files == {"/a.md": "A"}
    finally:
        for cp in openers:
            await cp.close()
        await drop_postgres_tables(postgres_dsn(), table)


async def test_a_missing_content_names_the_thread_and_version(
    checkpointer: PostgresCheckpointer,
) -> None:
    await checkpointer.save("t", state({"/a.md": "A"}))
    await checkpointer.save("t", state({"/a.md": "A", "/b.md": "lost"}))
    await rows(checkpointer.table, "DELETE FROM {contents} WHERE hash = %s", sha256("lost"))

    with pytest.raises(
        CorruptCheckpointError,
        match=rf"thread 't' version 2: the content of '/b.md' \({sha256('lost')}\) is missing",
    ):
        await checkpointer.load("t")
    first = await checkpointer.load("t", 1)  # the other versions stay readable
    assert first is not None and first.state.files == {"/a.md": "A"}


@pytest.mark.parametrize("refs", ['["a list"]', '{"/a.md": 1}', '"text"'])
async def test_a_broken_map_of_files_names_the_thread_and_version(
    checkpointer: PostgresCheckpointer, refs: str
) -> None:
    await checkpointer.save("t", state({"/a.md": "A"}))
    await rows(checkpointer.table, "UPDATE {table} SET files = %s::json", refs)
    with pytest.raises(CorruptCheckpointError, match="thread 't' version 1: the map of files"):
        await checkpointer.load("t")


async def test_a_content_that_is_not_utf8_names_the_thread_and_version(
    checkpointer: PostgresCheckpointer,
) -> None:
    await checkpointer.save("t", state({"/a.md": "A"}))
    await rows(checkpointer.table, "UPDATE {contents} SET content = '\\xff'::bytea")
    with pytest.raises(CorruptCheckpointError, match="thread 't' version 1: a file content is not"):
        await checkpointer.load("t")


@pytest.mark.parametrize("stem", ["threads", "t" * 50])  # 63 characters: names shortened
async def test_checkpointers_on_two_tables_keep_their_contents_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stem: str
) -> None:
    first, second = unique_name(stem), unique_name(stem)
    async with (
        open_backend("postgres", tmp_path, monkeypatch, table=first) as one,
        open_backend("postgres", tmp_path, monkeypatch, table=second) as two,
    ):
        await one.save("t", state({"/a.md": "same", "/b.md": "one's"}))
        await two.save("t", state({"/a.md": "same"}))
        assert await contents(first) == ["one's", "same"]
        assert await contents(second) == ["same"]

        await two.delete("t")

        assert await contents(second) == []
        assert await contents(first) == ["one's", "same"]
        loaded = await one.load("t")
        assert loaded is not None and loaded.state.files == {"/a.md": "same", "/b.md": "one's"}


async def test_threads_saving_the_same_new_content_at_once_all_land(
    checkpointer: PostgresCheckpointer,
) -> None:
    files = {"/big.md": "the same new content\n" * 1000, "/small.md": "also shared"}
    threads = [f"t{i}" for i in range(5)]
    assert await asyncio.gather(*(checkpointer.save(t, state(files)) for t in threads)) == [1] * 5
    assert await contents(checkpointer.table) == sorted(files.values())
    assert len(await links(checkpointer.table)) == 10
    for thread_id in threads:
        loaded = await checkpointer.load(thread_id)
        assert loaded is not None and loaded.state.files == files


async def test_a_content_another_save_is_storing_is_waited_for_not_a_conflict(
    checkpointer: PostgresCheckpointer,
) -> None:
    table = checkpointer.table
    async with await psycopg.AsyncConnection.connect(postgres_dsn()) as rival:
        await rival.execute(
            statement(table, "INSERT INTO {contents} VALUES (%s, %s)"), (sha256("new"), b"new")
        )
        saving = asyncio.ensure_future(
            checkpointer.save("t", state({"/n.md": "new"}), expected_version=0)
        )
        await waiting_on_a_lock(f'%INSERT INTO "{table}_file_contents"%')
        await rival.commit()
    assert await saving == 1
    assert await contents(table) == ["new"]
    assert await links(table) == [("t", sha256("new"))]


async def test_a_delete_waits_for_a_save_in_flight_and_keeps_what_it_uses(
    checkpointer: PostgresCheckpointer,
) -> None:
    table = checkpointer.table
    await checkpointer.save("a", state({"/s.md": "shared"}))
    async with await psycopg.AsyncConnection.connect(postgres_dsn()) as rival:
        # Holds the key of b's version 1: the save of b stops inside its statement,
        # having found "shared" stored already.
        await rival.execute(
            statement(table, "INSERT INTO {table} VALUES ('b', 1, now(), '{{}}', %s)"),
            (dump_state(AgentStateSnapshot()),),
        )
        saving = asyncio.ensure_future(checkpointer.save("b", state({"/copy.md": "shared"})))
        await waiting_on_a_lock(f'%INSERT INTO "{table}" (thread_id, version%')
        deleting = asyncio.ensure_future(checkpointer.delete("a"))
        await waiting_on_a_lock(f'LOCK TABLE "{table}"%')
        await rival.rollback()
    assert await saving == 1
    await deleting

    assert await checkpointer.list_threads() == ["b"]
    loaded = await checkpointer.load("b")
    assert loaded is not None and loaded.state.files == {"/copy.md": "shared"}
    assert await contents(table) == ["shared"]


async def test_a_save_waits_for_a_delete_in_flight_and_stores_again_what_it_frees(
    checkpointer: PostgresCheckpointer,
) -> None:
    table = checkpointer.table
    files = {"/s.md": "mine", "/t.md": "also mine"}
    await checkpointer.save("a", state(files))
    async with await psycopg.AsyncConnection.connect(postgres_dsn()) as rival:
        # Holds a's links: the delete stops inside its transaction, the table locked.
        await rival.execute(statement(table, "SELECT FROM {links} FOR UPDATE"))
        deleting = asyncio.ensure_future(checkpointer.delete("a"))
        await waiting_on_a_lock(f'%DELETE FROM "{table}_thread_contents"%')
        # Started before the delete ends, so it believes a's contents are stored.
        saving = asyncio.ensure_future(checkpointer.save("a", state(files)))
        await waiting_on_a_lock(f'%INSERT INTO "{table}" (thread_id, version%')
        await rival.commit()
    await deleting
    assert await saving == 1

    assert [info.version for info in await checkpointer.history("a")] == [1]
    loaded = await checkpointer.load("a")
    assert loaded is not None and loaded.state.files == files
    assert await contents(table) == sorted(files.values())


async def test_a_save_stores_again_what_another_process_deleted(
    checkpointer: PostgresCheckpointer,
) -> None:
    files = {"/a.md": "A", "/b.md": "B"}
    await checkpointer.save("t", state(files))
    async with PostgresCheckpointer(postgres_dsn(), table=checkpointer.table) as other:
        await other.delete("t")
    assert await contents(checkpointer.table) == []

    # This process still believes the thread holds both contents.
    assert await checkpointer.save("t", state(files), expected_version=0) == 1
    loaded = await checkpointer.load("t")
    assert loaded is not None and loaded.state.files == files
    assert await contents(checkpointer.table) == ["A", "B"]
