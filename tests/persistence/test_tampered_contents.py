"""A file content changed in the store is refused when loaded, never trusted silently."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from checkpointer_backends import open_backend, postgres_dsn

from deepagents_nb.exceptions import CorruptCheckpointError
from deepagents_nb.messages import Message
from deepagents_nb.persistence import SqliteCheckpointer
from deepagents_nb.state import AgentStateSnapshot

STATE = AgentStateSnapshot(messages=[Message.user("hi")], files={"/plan.md": "deploy staging"})


async def test_sqlite_refuses_a_tampered_content(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", STATE)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE file_contents SET content = 'deploy production'")
    async with SqliteCheckpointer(path) as cp:
        with pytest.raises(CorruptCheckpointError, match=r"'/plan\.md' does not match its hash"):
            await cp.load("t")


async def test_postgres_refuses_a_tampered_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from psycopg import sql

    from deepagents_nb.persistence._postgres_files import related_names
    from deepagents_nb.persistence.postgres import PostgresCheckpointer

    async with open_backend("postgres", tmp_path, monkeypatch) as cp:
        await cp.save("t", STATE)
        contents = sql.Identifier(*related_names(cp.table)["contents"])
        async with await psycopg.AsyncConnection.connect(postgres_dsn(), autocommit=True) as db:
            await db.execute(
                sql.SQL("UPDATE {} SET content = %s").format(contents), [b"deploy production"]
            )
        # A checkpointer that never saw the thread, as in another kernel.
        async with PostgresCheckpointer(postgres_dsn(), table=cp.table) as fresh:
            with pytest.raises(CorruptCheckpointError, match="does not match its hash"):
                await fresh.load("t")
