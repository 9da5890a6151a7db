"""`PostgresCheckpointer`: threads in PostgreSQL, through psycopg 3 and its async pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import CheckpointConflictError, CheckpointerError
from deepagents_nb.persistence._lazy import PerLoop, optional_dependency
from deepagents_nb.persistence._records import decode_checkpoint, decode_info, encode_metadata
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo, ClosingCheckpointer
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

# The primary key makes (thread, version) unique: of two writers adding the same
# version, the second fails on it instead of overwriting.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    thread_id  text        NOT NULL,
    version    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    metadata   jsonb       NOT NULL,
    state      bytea       NOT NULL,
    PRIMARY KEY (thread_id, version)
)
"""
# One statement checks the expected version and inserts the next one; no row comes
# back when the check fails.
_SAVE = """
INSERT INTO {table} (thread_id, version, created_at, metadata, state)
SELECT %(thread)s, COALESCE(MAX(version), 0) + 1, %(created)s, %(metadata)s::jsonb, %(state)s
FROM {table} WHERE thread_id = %(thread)s
HAVING %(expected)s::integer IS NULL OR COALESCE(MAX(version), 0) = %(expected)s::integer
RETURNING version
"""
_LATEST = "SELECT COALESCE(MAX(version), 0) FROM {table} WHERE thread_id = %s"
_LOAD = "SELECT version, created_at, metadata, state FROM {table} WHERE thread_id = %s"
_LOAD_LATEST = _LOAD + " ORDER BY version DESC LIMIT 1"
_LOAD_VERSION = _LOAD + " AND version = %s"
_HISTORY = "SELECT version, created_at, metadata FROM {table} WHERE thread_id = %s ORDER BY version"
_THREADS = "SELECT DISTINCT thread_id FROM {table}"
_DELETE = "DELETE FROM {table} WHERE thread_id = %s"
_SAVE_ATTEMPTS = 20  # for expected_version=None, when other writers take the next versions


class PostgresCheckpointer(ClosingCheckpointer):
    """Keeps every version of every thread in one PostgreSQL table.

        async with PostgresCheckpointer("postgresql://app@db/agents") as checkpointer:
            agent = create_deep_agent(model=model, checkpointer=checkpointer)
            ...

    The table is created on first use (`CREATE TABLE IF NOT EXISTS`). Each event
    loop that uses the checkpointer gets its own pool; `await close()` (or leaving
    `async with`) closes them.

    Args:
        dsn: A libpq connection string or URL.
        pool_size: Most connections a pool opens.
        table: Table name, optionally `schema.table`.
        connect_timeout: Seconds to wait for the first connection before failing.
    """

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 5,
        table: str = "deepagents_checkpoints",
        connect_timeout: float = 10.0,
    ) -> None:
        with optional_dependency("PostgresCheckpointer", "postgres"):
            import psycopg
            import psycopg_pool
            from psycopg import sql
        self.table = table
        self._dsn = dsn
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._psycopg = psycopg
        self._psycopg_pool = psycopg_pool
        name = sql.Identifier(*table.split("."))
        self._sql = {
            key: sql.SQL(text).format(table=name)
            for key, text in {
                "schema": _SCHEMA,
                "save": _SAVE,
                "latest": _LATEST,
                "load_latest": _LOAD_LATEST,
                "load_version": _LOAD_VERSION,
                "history": _HISTORY,
                "threads": _THREADS,
                "delete": _DELETE,
            }.items()
        }
        self._table_ready = False
        self._pools: PerLoop[AsyncConnectionPool[AsyncConnection[Any]]] = PerLoop(
            self._open, _close
        )

    def __repr__(self) -> str:
        return f"PostgresCheckpointer(table={self.table!r})"

    async def __aenter__(self) -> PostgresCheckpointer:
        async with self._connection("connect"):
            pass  # fail here, not at the first save, when the database is unreachable
        return self

    async def close(self) -> None:
        """Close the pools; a later call opens new ones."""
        await self._pools.aclose()

    async def save(
        self,
        thread_id: str,
        state: AgentStateSnapshot,
        *,
        expected_version: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        params = {
            "thread": thread_id,
            "created": utc_now(),
            "metadata": encode_metadata(metadata),
            "state": dump_state(state),
            "expected": expected_version,
        }
        unique_violation = self._psycopg.errors.UniqueViolation
        async with self._connection("save") as conn:
            for _ in range(_SAVE_ATTEMPTS):
                try:
                    saved = await (await conn.execute(self._sql["save"], params)).fetchone()
                except unique_violation:
                    # A concurrent writer inserted the same next version first.
                    if expected_version is not None:
                        break
                    continue
                if saved is not None:
                    return int(saved[0])
                break
            latest = await (await conn.execute(self._sql["latest"], (thread_id,))).fetchone()
        raise CheckpointConflictError(thread_id, expected_version, latest[0] if latest else None)

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None:
        params: tuple[Any, ...] = (thread_id,) if version is None else (thread_id, version)
        query = self._sql["load_latest" if version is None else "load_version"]
        async with self._connection("load") as conn:
            row = await (await conn.execute(query, params)).fetchone()
        if row is None:
            return None
        number, created_at, metadata, state = row
        return decode_checkpoint(_info(thread_id, number, created_at, metadata), state)

    async def delete(self, thread_id: str) -> None:
        async with self._connection("delete") as conn:
            await conn.execute(self._sql["delete"], (thread_id,))

    async def list_threads(self) -> list[str]:
        async with self._connection("list threads") as conn:
            rows = await (await conn.execute(self._sql["threads"])).fetchall()
        # Sorted here: the database's collation may not order like Python (and the others).
        return sorted(thread_id for (thread_id,) in rows)

    async def history(self, thread_id: str) -> list[CheckpointInfo]:
        async with self._connection("history") as conn:
            rows = await (await conn.execute(self._sql["history"], (thread_id,))).fetchall()
        return [_info(thread_id, *row) for row in rows]

    async def _open(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        pool = self._psycopg_pool.AsyncConnectionPool(
            self._dsn,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            kwargs={"autocommit": True},
        )
        try:
            try:
                await pool.open(wait=True, timeout=self._connect_timeout)
            except self._psycopg_pool.PoolTimeout:
                # The pool only says it timed out; one direct attempt says why.
                timeout = max(1, round(self._connect_timeout))
                conn = await self._psycopg.AsyncConnection.connect(
                    self._dsn, connect_timeout=timeout
                )
                await conn.close()
                raise
            if not self._table_ready:
                await self._create_table(pool)
                self._table_ready = True
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _create_table(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        errors = self._psycopg.errors
        # IF NOT EXISTS is not atomic: another process may create the table meanwhile.
        async with pool.connection() as conn:
            with suppress(errors.UniqueViolation, errors.DuplicateTable):
                await conn.execute(self._sql["schema"])

    @asynccontextmanager
    async def _connection(self, action: str) -> AsyncIterator[AsyncConnection[Any]]:
        try:
            pool = await self._pools.get()
            async with pool.connection() as conn:
                yield conn
        except self._psycopg.Error as exc:
            raise CheckpointerError(f"PostgreSQL {action} failed: {exc}") from exc


async def _close(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
    await pool.close()


def _info(thread_id: str, version: int, created_at: datetime, metadata: Any) -> CheckpointInfo:
    return decode_info(thread_id, version, created_at.astimezone(timezone.utc), metadata)
