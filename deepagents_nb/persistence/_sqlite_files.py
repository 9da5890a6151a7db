"""Virtual files of SQLite checkpoints, each distinct content stored once.

A version's row holds its state without `files` and, in its `files` column, a
JSON map path -> SHA-256 of the content. Contents live in `file_contents`, one
row per distinct content whichever paths, versions and threads hold it, so a
step that changed one file writes one content. `thread_contents` says which
thread uses which content: deleting a thread frees what no other thread uses
without reading any state. All three functions run inside the caller's
transaction. A version's images are contents of its map too (see _contents).
"""

from __future__ import annotations

import sqlite3

from deepagents_nb.persistence._contents import assemble_files, decode_file_map, encode_file_map

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


def write_files(
    db: sqlite3.Connection, thread_id: str, files: dict[str, str], hashes: dict[str, str]
) -> str:
    """Store the contents not stored yet; the map path -> hash for the version's row."""
    refs = encode_file_map(hashes)
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
    paths = decode_file_map(thread_id, version, refs)
    if not paths:
        return {}
    contents = dict(
        db.execute(
            "SELECT hash, content FROM file_contents "
            "WHERE hash IN (SELECT value FROM json_each(?))",
            (refs,),
        ).fetchall()
    )
    return assemble_files(thread_id, version, paths, contents)


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
