"""Virtual files of SQLite checkpoints, each distinct content stored once.

A version's row holds its state without `files` and, in its `files` column, a
JSON map path -> SHA-256 of the content. Contents live in `file_contents`, one
row per distinct content whichever paths, versions and threads hold it, so a
step that changed one file writes one content. `thread_contents` says which
thread uses which content: deleting a thread frees what no other thread uses
without reading any state. All three functions run inside the caller's
transaction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from deepagents_nb.persistence._records import corrupt

# `file_contents` keeps its rowid: its rows are large, which WITHOUT ROWID suits badly.
SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS file_contents (
        hash    TEXT PRIMARY KEY,
        content TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS thread_contents (
        thread_id TEXT NOT NULL,
        hash      TEXT NOT NULL,
        PRIMARY KEY (thread_id, hash)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS thread_contents_by_hash ON thread_contents (hash)",
)


class ContentHashes:
    """SHA-256 of file contents, remembered for the `str` objects seen lately.

    Successive states of a run share the `str` of every file a step left alone,
    so a save hashes only new contents. Each entry keeps its `str` alive, so its
    `id` cannot pass to another object while the entry exists; everything is
    forgotten at once when the entries would hold more than `limit` characters.
    """

    def __init__(self, limit: int = 16 * 2**20) -> None:
        self._limit = limit
        self._seen: dict[int, tuple[str, str]] = {}
        self._size = 0

    def __call__(self, content: str) -> str:
        seen = self._seen.get(id(content))
        if seen is not None and seen[0] is content:
            return seen[1]
        digest = hashlib.sha256(content.encode()).hexdigest()
        if self._size + len(content) > self._limit:
            self._seen.clear()
            self._size = 0
        self._seen[id(content)] = (content, digest)
        self._size += len(content)
        return digest


def write_files(
    db: sqlite3.Connection, thread_id: str, files: dict[str, str], hashes: dict[str, str]
) -> str:
    """Store the contents not stored yet; the map path -> hash for the version's row."""
    refs = json.dumps(hashes, separators=(",", ":"), ensure_ascii=False)
    if not files:
        return refs
    # A content this thread already uses is stored, and stays until the thread goes:
    # one indexed look-up skips it, and an unchanged step writes no content at all.
    used = db.execute(
        "SELECT hash FROM thread_contents "
        "WHERE thread_id = ? AND hash IN (SELECT value FROM json_each(?))",
        (thread_id, refs),
    ).fetchall()
    known = {digest for (digest,) in used}
    new = {hashes[path]: text for path, text in files.items() if hashes[path] not in known}
    if new:
        # OR IGNORE: another thread may have stored the same content.
        db.executemany(
            "INSERT OR IGNORE INTO file_contents (hash, content) VALUES (?, ?)", new.items()
        )
        db.executemany(
            "INSERT INTO thread_contents (thread_id, hash) VALUES (?, ?)",
            [(thread_id, digest) for digest in new],
        )
    return refs


def read_files(db: sqlite3.Connection, thread_id: str, version: int, refs: str) -> dict[str, str]:
    """The files of a version from its map path -> hash, in the order they were saved."""
    try:
        paths: Any = json.loads(refs)
    except ValueError:
        raise corrupt(thread_id, version, "the map of files is not JSON") from None
    if not isinstance(paths, dict) or not all(isinstance(h, str) for h in paths.values()):
        raise corrupt(thread_id, version, "the map of files is not a JSON object of hashes")
    if not paths:
        return {}
    contents = dict(
        db.execute(
            "SELECT hash, content FROM file_contents "
            "WHERE hash IN (SELECT value FROM json_each(?))",
            (refs,),
        ).fetchall()
    )
    files = {}
    for path, digest in paths.items():
        content = contents.get(digest)
        if content is None:
            raise corrupt(thread_id, version, f"the content of {path!r} ({digest}) is missing")
        files[path] = content
    return files


def free_files(db: sqlite3.Connection, thread_id: str) -> None:
    """Forget which contents a thread uses, deleting those no other thread uses."""
    db.execute(
        "DELETE FROM file_contents "
        "WHERE hash IN (SELECT hash FROM thread_contents WHERE thread_id = ?1) "
        "AND NOT EXISTS (SELECT 1 FROM thread_contents AS other "
        "WHERE other.hash = file_contents.hash AND other.thread_id <> ?1)",
        (thread_id,),
    )
    db.execute("DELETE FROM thread_contents WHERE thread_id = ?", (thread_id,))
