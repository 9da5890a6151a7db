"""`SqliteCheckpointer`: threads in one SQLite file, the embedded default for notebooks."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import CheckpointConflictError, CheckpointerError
from deepagents_nb.persistence._contents import ContentHashes, ImageTexts, with_images
from deepagents_nb.persistence._records import decode_checkpoint, decode_info, encode_metadata
from deepagents_nb.persistence._sqlite_files import SCHEMA, free_files, read_files, write_files
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo, ClosingCheckpointer
from deepagents_nb.serialization import dump_apart
from deepagents_nb.state import AgentStateSnapshot

T = TypeVar("T")

# A rowid table rather than WITHOUT ROWID: states are large rows, and the primary
# key's index alone answers list_threads and the latest-version lookups. `files` is
# the version's map path (or image key) -> content hash (see _sqlite_files); NULL in
# rows written before it existed, whose `state` holds the files inline.
_CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS checkpoints (
    thread_id  TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    metadata   TEXT    NOT NULL,
    state      BLOB    NOT NULL,
    files      TEXT,
    PRIMARY KEY (thread_id, version)
)
"""
_COLUMNS = "version, created_at, metadata, state, files FROM checkpoints WHERE thread_id = ?"


class SqliteCheckpointer(ClosingCheckpointer):
    """Keeps every version of every thread in one SQLite file.

    sqlite3 runs on one worker thread, so the event loop never waits for the disk.
    WAL mode lets other readers (another kernel, a dashboard) read while a run
    writes. A save checks `expected_version` and inserts inside one write
    transaction, so of two processes saving against the same version one wins and
    the other gets `CheckpointConflictError`. Each distinct file content and image
    is stored once, so a step writes only the files it changed and the images it added.

        checkpointer = SqliteCheckpointer(".deepagents/threads.db")
        agent = create_deep_agent(model=model, checkpointer=checkpointer)

    Args:
        path: The database file, created with its parent directories on first use;
            `":memory:"` keeps the threads in this process only.
        timeout: Seconds to wait for another process's write lock before failing.
    """

    def __init__(
        self, path: str | os.PathLike[str] = ".deepagents/threads.db", *, timeout: float = 30.0
    ) -> None:
        self.path = os.fspath(path)
        self._timeout = timeout
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None  # used on the worker thread only
        self._hashes = ContentHashes()  # likewise
        self._texts = ImageTexts()  # likewise

    def __repr__(self) -> str:
        return f"SqliteCheckpointer({self.path!r})"

    async def close(self) -> None:
        """Close the connection and its thread; a later call opens them again."""
        if self._executor is None:
            return
        await self._call(self._disconnect)
        self._executor.shutdown(wait=False)
        self._executor = None

    async def save(
        self,
        thread_id: str,
        state: AgentStateSnapshot,
        *,
        expected_version: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        when, info = utc_now().isoformat(), encode_metadata(metadata)
        data, images = dump_apart(state)
        row = (thread_id, when, info, data)
        # The contents are hashed (and images encoded) on the worker thread; a copy of
        # the dict keeps the files as they are now, whatever the caller changes while
        # the save waits. Images, bytes and text, never change.
        files = dict(state.files)
        return await self._call(self._insert, row, files, images, expected_version)

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None:
        return await self._call(self._select, thread_id, version)

    async def delete(self, thread_id: str) -> None:
        await self._call(self._delete, thread_id)

    async def list_threads(self) -> list[str]:
        rows = await self._call(
            self._execute, "SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id"
        )
        return [thread_id for (thread_id,) in rows]

    async def history(self, thread_id: str) -> list[CheckpointInfo]:
        rows = await self._call(
            self._execute,
            "SELECT version, created_at, metadata FROM checkpoints "
            "WHERE thread_id = ? ORDER BY version",
            thread_id,
        )
        return [decode_info(thread_id, *row) for row in rows]

    # ----- on the worker thread ------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="deepagents-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            with self._errors("open"):
                db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
                # For a new file only (then fixed): rows of file contents and states are
                # large, and 16 KB pages store them in a quarter of the 4 KB pages.
                db.execute("PRAGMA page_size=16384")
                db.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL keeps every commit through a crash of the process;
                # only a power loss may drop the last ones, for far fewer fsyncs.
                db.execute("PRAGMA synchronous=NORMAL")
                _migrate(db)
            self._db = db
        return self._db

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _execute(self, sql: str, *params: Any) -> list[Any]:
        db = self._connection()
        with self._errors("query"):
            return db.execute(sql, params).fetchall()

    def _insert(
        self,
        row: tuple[str, str, str, bytes],
        files: dict[str, str],
        images: dict[str, bytes | str],
        expected: int | None,
    ) -> int:
        thread_id = row[0]
        # Hashed before taking the write lock, which other processes may be waiting for.
        files = with_images(files, images, self._texts)
        hashes = {path: self._hashes(content) for path, content in files.items()}
        db = self._connection()
        with self._errors("save"), _transaction(db, "IMMEDIATE"):
            # IMMEDIATE took the write lock: nobody can add a version between these two.
            (latest,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM checkpoints WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
            if expected is not None and expected != latest:
                raise CheckpointConflictError(thread_id, expected, latest)
            refs = write_files(db, thread_id, files, hashes)
            db.execute(
                "INSERT INTO checkpoints (thread_id, version, created_at, metadata, state, files) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (thread_id, latest + 1, *row[1:], refs),
            )
        return int(latest) + 1

    def _delete(self, thread_id: str) -> None:
        db = self._connection()
        with self._errors("delete"), _transaction(db, "IMMEDIATE"):
            free_files(db, thread_id)
            db.execute("DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,))

    def _select(self, thread_id: str, version: int | None) -> Checkpoint | None:
        params: tuple[Any, ...] = (thread_id,) if version is None else (thread_id, version)
        if version is None:
            sql = f"SELECT {_COLUMNS} ORDER BY version DESC LIMIT 1"
        else:
            sql = f"SELECT {_COLUMNS} AND version = ?"
        db = self._connection()
        # One read transaction: a delete in another process cannot free the
        # contents between reading the row and reading its files.
        with self._errors("load"), _transaction(db, "DEFERRED"):
            found = db.execute(sql, params).fetchone()
            if found is None:
                return None
            number, created_at, metadata, state, refs = found
            files = None if refs is None else read_files(db, thread_id, number, refs)
        return decode_checkpoint(decode_info(thread_id, number, created_at, metadata), state, files)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise CheckpointerError(f"SQLite {action} failed on {self.path}: {exc}") from exc


def _migrate(db: sqlite3.Connection) -> None:
    """Create the tables; a file from before content hashing gains `files` and its tables.

    Its rows stay as they are (`files` NULL) and load as before.
    """
    if _has_file_maps(db):
        return  # the column and the content tables are created in one transaction
    with _transaction(db, "IMMEDIATE"):
        db.execute(_CHECKPOINTS)
        if not _has_file_maps(db):  # checked again under the lock: another process may migrate
            db.execute("ALTER TABLE checkpoints ADD COLUMN files TEXT")
        for statement in SCHEMA:
            db.execute(statement)


def _has_file_maps(db: sqlite3.Connection) -> bool:
    return any(column[1] == "files" for column in db.execute("PRAGMA table_info(checkpoints)"))


@contextmanager
def _transaction(db: sqlite3.Connection, mode: Literal["DEFERRED", "IMMEDIATE"]) -> Iterator[None]:
    db.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
