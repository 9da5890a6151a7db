"""PostgreSQL specifics: the primary key settles races, pools open and close, bad data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from checkpointer_backends import drop_postgres_tables, open_backend, postgres_dsn, unique_name
from psycopg import sql
from psycopg.conninfo import make_conninfo

from deepagents_nb.exceptions import (
    CheckpointConflictError,
    CheckpointerError,
    CorruptCheckpointError,
)
from deepagents_nb.persistence.postgres import PostgresCheckpointer
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot


@pytest.fixture
async def checkpointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    async with open_backend("postgres", tmp_path, monkeypatch) as cp:
        yield cp


async def execute(query: str, *params: Any, table: str = "") -> list[tuple[Any, ...]]:
    """Run `query` on a connection of its own, `{}` standing for the quoted `table`."""
    statement = sql.SQL(query).format(sql.Identifier(table)) if table else query
    async with await psycopg.AsyncConnection.connect(postgres_dsn(), autocommit=True) as conn:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []


async def insert_uncommitted_version_1(conn: psycopg.AsyncConnection[Any], table: str) -> None:
    await conn.execute(
        sql.SQL(
            "INSERT INTO {} (thread_id, version, created_at, metadata, state) "
            "VALUES ('t', 1, now(), '{{}}', %s)"
        ).format(sql.Identifier(table)),
        (dump_state(AgentStateSnapshot()),),
    )


async def wait_until_blocked_inserting(table: str) -> None:
    """Wait until some session's INSERT into `table` waits for a lock."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = await execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query LIKE %s",
            f'%INSERT INTO "{table}"%',
        )
        if waiting[0][0]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the save never waited on the rival's row")


@pytest.mark.parametrize(("expected", "outcome"), [(0, "conflict"), (None, 2)])
async def test_a_writer_that_loses_the_race_on_the_key(
    checkpointer: PostgresCheckpointer, expected: int | None, outcome: object
) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_dsn()) as rival:
        await insert_uncommitted_version_1(rival, checkpointer.table)
        # The save sees no version yet, tries version 1 and waits on the rival's key.
        saving = asyncio.ensure_future(
            checkpointer.save("t", AgentStateSnapshot(), expected_version=expected)
        )
        await wait_until_blocked_inserting(checkpointer.table)
        assert not saving.done()
        await rival.commit()

    if outcome == "conflict":
        with pytest.raises(CheckpointConflictError) as info:
            await saving
        assert (info.value.expected, info.value.actual) == (0, 1)
    else:
        assert await saving == outcome
    assert [i.version for i in await checkpointer.history("t")] == [1] + ([2] * (outcome == 2))


async def test_the_table_has_the_thread_and_version_as_primary_key(
    checkpointer: PostgresCheckpointer,
) -> None:
    rows = await execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
        checkpointer.table,
    )
    assert [name for (name,) in rows] == ["thread_id", "version"]


async def test_close_returns_every_connection() -> None:
    dsn = make_conninfo(postgres_dsn(), application_name=unique_name("closing"))
    table = unique_name("checkpoints")
    app = psycopg.conninfo.conninfo_to_dict(dsn)["application_name"]

    async def connections() -> int:
        async with await psycopg.AsyncConnection.connect(postgres_dsn()) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,)
            )
            row = await cursor.fetchone()
            return int(row[0]) if row else 0

    cp = PostgresCheckpointer(dsn, table=table, pool_size=2)
    try:
        await cp.save("t", AgentStateSnapshot())
        assert await connections() >= 1
        await cp.close()
        deadline = time.monotonic() + 5
        while await connections() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await connections() == 0
        assert await cp.save("t", AgentStateSnapshot(), expected_version=1) == 2  # reopens
    finally:
        await cp.close()
        await drop_postgres_tables(postgres_dsn(), table)


async def test_tables_in_a_schema() -> None:
    schema = unique_name("schema")
    await execute("CREATE SCHEMA {}", table=schema)
    try:
        async with PostgresCheckpointer(postgres_dsn(), table=f"{schema}.threads") as cp:
            await cp.save("t", AgentStateSnapshot())
            assert await cp.list_threads() == ["t"]
    finally:
        await execute("DROP SCHEMA {} CASCADE", table=schema)


async def test_corrupt_state_names_the_thread_and_version(
    checkpointer: PostgresCheckpointer,
) -> None:
    await checkpointer.save("t", AgentStateSnapshot())
    await checkpointer.save("t", AgentStateSnapshot())
    await execute(
        "UPDATE {} SET state = %s WHERE version = 2", b"\x00garbage", table=checkpointer.table
    )
    with pytest.raises(CorruptCheckpointError, match=r"thread 't' version 2: .*Invalid JSON"):
        await checkpointer.load("t")
    assert await checkpointer.load("t", 1) is not None


async def test_an_unreachable_database_fails_fast_saying_why() -> None:
    cp = PostgresCheckpointer("postgresql://nobody@127.0.0.1:1/none", connect_timeout=0.5)
    with pytest.raises(CheckpointerError, match=r"PostgreSQL connect failed: .*refused"):
        async with cp:
            pass
    with pytest.raises(CheckpointerError, match="PostgreSQL load failed"):
        await cp.load("t")
    await cp.close()
