"""`PostgresCheckpointer`: threads in PostgreSQL, through psycopg 3 and its async pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import CheckpointConflictError, CheckpointerError
from deepagents_nb.persistence import _postgres_files as files_sql
from deepagents_nb.persistence._contents import (
    ContentHashes,
    ImageTexts,
    KnownContents,
    assemble_files,
    decode_file_map,
    encode_file_map,
    with_images,
)
from deepagents_nb.persistence._lazy import PerLoop, optional_dependency
from deepagents_nb.persistence._records import (
    corrupt,
    decode_checkpoint,
    decode_info,
    encode_metadata,
)
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo, ClosingCheckpointer
from deepagents_nb.serialization import dump_apart
from deepagents_nb.state import AgentStateSnapshot

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

_LATEST = "SELECT COALESCE(MAX(version), 0) FROM {table} WHERE thread_id = %s"
_HISTORY = "SELECT version, created_at, metadata FROM {table} WHERE thread_id = %s ORDER BY version"
_THREADS = "SELECT DISTINCT thread_id FROM {table}"
_SAVE_ATTEMPTS = 20  # for expected_version=None, when other writers take the next versions


class PostgresCheckpointer(ClosingCheckpointer):
    """Keeps every version of every thread in one PostgreSQL table.

    Each distinct file content and image is stored once, in `<table>_file_contents`,
    so a step sends and writes only the files it changed and the images it added.

        async with PostgresCheckpointer("postgresql://app@db/agents") as checkpointer:
            agent = create_deep_agent(model=model, checkpointer=checkpointer)
            ...

    The tables are created on first use; a table from an earlier release gains
    its `files` column and the content tables, its rows staying as they are (and
    loading as before). Each event loop that uses the checkpointer gets its own
    pool; `await close()` (or leaving `async with`) closes them.

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
        names = files_sql.related_names(table)
        identifiers = {key: sql.Identifier(*parts) for key, parts in names.items()}
        self._quoted_table = files_sql.quoted(names["table"])
        self._sql = {
            key: sql.SQL(text).format(**identifiers)
            for key, text in {
                "save": files_sql.SAVE,
                "latest": _LATEST,
                "load_latest": files_sql.LOAD_LATEST,
                "load_version": files_sql.LOAD_VERSION,
                "history": _HISTORY,
                "threads": _THREADS,
                "lock": files_sql.LOCK,
                "delete": files_sql.DELETE,
                "migrated": files_sql.MIGRATED,
                "has_lz4": files_sql.HAS_LZ4,
                "use_lz4": files_sql.USE_LZ4,
            }.items()
        }
        self._schema = [sql.SQL(text).format(**identifiers) for text in files_sql.SCHEMA]
        self._table_ready = False
        self._pools: PerLoop[AsyncConnectionPool[AsyncConnection[Any]]] = PerLoop(
            self._open, _close
        )
        # Shared by the event loops, which may run on different threads: a lost
        # update to either only costs hashing or sending a content again.
        self._hashes = ContentHashes()
        self._texts = ImageTexts()
        self._known = KnownContents()

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
        # Everything is read now, before the first await: the caller may change
        # `state` while the save waits for a connection.
        data, images = dump_apart(state)
        files = with_images(state.files, images, self._texts)
        hashes = {path: self._hashes(content) for path, content in files.items()}
        by_hash = {digest: files[path] for path, digest in hashes.items()}
        known = by_hash.keys() & self._known.get(thread_id)
        params = {
            "thread": thread_id,
            "created": utc_now(),
            "metadata": encode_metadata(metadata),
            "state": data,
            "files": encode_file_map(hashes),
            "expected": expected_version,
            **files_sql.contents_to_send(by_hash, known),
        }
        unique_violation = self._psycopg.errors.UniqueViolation
        async with self._connection("save") as conn:
            for _ in range(_SAVE_ATTEMPTS):
                try:
                    row = await (await conn.execute(self._sql["save"], params)).fetchone()
                except unique_violation:
                    # A concurrent writer inserted the same next version first.
                    if expected_version is not None:
                        break
                    continue
                assert row is not None  # the statement always returns one row
                saved, latest, missing = row
                if saved is not None:
                    self._known.set(thread_id, by_hash)
                    return int(saved)
                if not missing or expected_version not in (None, latest):
                    raise CheckpointConflictError(thread_id, expected_version, latest)
                # Contents it was believed to hold are gone (another process deleted
                # the thread): send them all.
                params.update(files_sql.contents_to_send(by_hash, set()))
            latest = await (await conn.execute(self._sql["latest"], (thread_id,))).fetchone()
        raise CheckpointConflictError(thread_id, expected_version, latest[0] if latest else None)

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None:
        params: tuple[Any, ...] = (thread_id,) if version is None else (thread_id, version)
        query = self._sql["load_latest" if version is None else "load_version"]
        async with self._connection("load") as conn:
            # Binary: the contents come as bytes, without escaping.
            rows = await (await conn.execute(query, params, binary=True)).fetchall()
        found: dict[str, bytes] = {}
        head = None
        for row in rows:
            if row[5] is None:
                head = row[:5]
            else:
                found[row[5]] = row[6]
        if head is None:
            return None
        number, created_at, metadata, state, refs = head
        info = _info(thread_id, number, created_at, metadata)
        if refs is None:  # written before contents were kept apart: files inline
            return decode_checkpoint(info, state)
        paths = decode_file_map(thread_id, number, refs)
        try:
            contents = {digest: content.decode() for digest, content in found.items()}
        except UnicodeDecodeError:
            raise corrupt(thread_id, number, "a file content is not UTF-8") from None
        files = assemble_files(thread_id, number, paths, contents, self._hashes)
        self._known.set(thread_id, contents)
        return decode_checkpoint(info, state, files)

    async def delete(self, thread_id: str) -> None:
        async with self._connection("delete") as conn, conn.transaction():
            # Waits for the saves in flight and holds off the others: see _postgres_files.
            await conn.execute(self._sql["lock"])
            await conn.execute(self._sql["delete"], {"thread": thread_id})
        self._known.forget(thread_id)

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
                await self._migrate(pool)
                self._table_ready = True
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _migrate(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        """Create the tables, or give a table from an earlier release its content tables."""
        async with pool.connection() as conn:
            cursor = await conn.execute(self._sql["migrated"], (self._quoted_table,))
            migrated = await cursor.fetchone()
            if migrated and migrated[0]:
                return
            lz4 = await (await conn.execute(self._sql["has_lz4"])).fetchone()
            async with conn.transaction():
                await conn.execute(self._schema[0], (self._quoted_table,))
                for statement in self._schema[1:]:
                    await conn.execute(statement)
                if lz4 and lz4[0]:
                    await conn.execute(self._sql["use_lz4"])

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
