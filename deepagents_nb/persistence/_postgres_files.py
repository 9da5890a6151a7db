"""The SQL of `PostgresCheckpointer`, whose file contents are each stored once.

A version's row in the versions table `T` holds its state without `files` and, in
its `files` column, the map path -> SHA-256 of the content (see _contents).
`T_file_contents` keeps one row per distinct content whichever paths, versions
and threads hold it; `T_thread_contents` says which thread uses which content, so
deleting a thread frees what no other thread uses without reading any state. A
link implies its content: a save writes both in one statement, a delete removes
both in one transaction. A version's images are contents of its map too (see
_contents).

Freeing races with saves: a save of another thread may find a content stored (and
so not write it) while a delete, not yet seeing that save's new link, removes it.
A delete therefore locks the versions table against every save (SHARE ROW
EXCLUSIVE conflicts with the ROW EXCLUSIVE a save's INSERT takes, and with
itself) before it looks at the links: a save in flight commits first and its
links are seen; a later save waits, and its statement then starts on a snapshot
in which the freed contents are gone, so it stores them again. Deletes are rare
and short; loads never wait. Locking each content row instead would not do under
READ COMMITTED: the delete's check for other links would still use a snapshot
taken before the save committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Any

MAX_IDENTIFIER = 63  # bytes; PostgreSQL would cut longer names, and two could meet

# Run in one transaction, so the `files` column (checked by MIGRATED) says the
# content tables exist too; an advisory lock keeps two processes opening a new table
# from both creating it. The primary key makes (thread, version) unique: of two
# writers adding the same version, the second fails on it instead of overwriting.
# `files` is `json`, not `jsonb`, to keep the files' order; it is NULL in rows
# written before it existed (ADD COLUMN for a table from then), whose `state` holds
# the files inline. Contents are bytea: text cannot hold NUL, which a file may.
SCHEMA = (
    "SELECT pg_advisory_xact_lock(hashtext(%s))",
    """
    CREATE TABLE IF NOT EXISTS {table} (
        thread_id  text        NOT NULL,
        version    integer     NOT NULL,
        created_at timestamptz NOT NULL,
        metadata   jsonb       NOT NULL,
        state      bytea       NOT NULL,
        files      json,
        PRIMARY KEY (thread_id, version)
    )
    """,
    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS files json",
    """
    CREATE TABLE IF NOT EXISTS {contents} (
        hash    text  PRIMARY KEY,
        content bytea NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS {links} (
        thread_id text NOT NULL,
        hash      text NOT NULL,
        PRIMARY KEY (thread_id, hash)
    )
    """,
    "CREATE INDEX IF NOT EXISTS {by_hash} ON {links} (hash)",
)
# File contents are compressed with lz4 where the server has it (PostgreSQL 14 and
# later, when built with it), which takes a sixth of the default pglz's time: in the
# server, a first save of 50 files of 10 KB went from 2.0 to 0.35 ms.
HAS_LZ4 = """
SELECT EXISTS (
    SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)
)
"""
USE_LZ4 = "ALTER TABLE {contents} ALTER content SET COMPRESSION lz4"
MIGRATED = """
SELECT EXISTS (
    SELECT FROM pg_attribute
    WHERE attrelid = to_regclass(%s) AND attname = 'files' AND NOT attisdropped
)
"""
# One statement checks the expected version and the contents the thread is believed
# to hold (`known`), then stores the new contents, links them to the thread and
# inserts the next version; when a check fails it writes nothing and says why. ON
# CONFLICT DO NOTHING: another thread may hold the content, or a concurrent save be
# storing it (this one then waits for that one's outcome). Hashes come sorted, so
# two saves storing the same contents wait on each other in one order, never in a
# deadlock.
SAVE = """
WITH latest AS (
    SELECT COALESCE(MAX(version), 0) AS version FROM {table} WHERE thread_id = %(thread)s
), missing AS (
    SELECT array_agg(k.hash) AS hashes FROM unnest(%(known)s::text[]) AS k(hash)
    WHERE NOT EXISTS (
        SELECT FROM {links} AS l WHERE l.thread_id = %(thread)s AND l.hash = k.hash
    )
), ok AS (
    SELECT version FROM latest, missing WHERE missing.hashes IS NULL
    AND (%(expected)s::integer IS NULL OR version = %(expected)s::integer)
), stored AS (
    INSERT INTO {contents} (hash, content)
    SELECT * FROM unnest(%(hashes)s::text[], %(contents)b::bytea[]) WHERE EXISTS (SELECT FROM ok)
    ON CONFLICT DO NOTHING
), linked AS (
    INSERT INTO {links} (thread_id, hash)
    SELECT %(thread)s, hash FROM unnest(%(hashes)s::text[]) AS hash WHERE EXISTS (SELECT FROM ok)
    ON CONFLICT DO NOTHING
), saved AS (
    INSERT INTO {table} (thread_id, version, created_at, metadata, state, files)
    SELECT %(thread)s, version + 1, %(created)s, %(metadata)s::jsonb, %(state)b, %(files)s::json
    FROM ok
    RETURNING version
)
SELECT (SELECT version FROM saved), (SELECT version FROM latest), (SELECT hashes FROM missing)
"""
# One statement, so one snapshot: a delete cannot free the contents between reading
# the version and reading its files. The version's row comes with `hash` NULL, then
# a row for each distinct content (rows rather than arrays, which the server builds
# and sends far more slowly). A map that is not an object reads no content.
_LOAD_VERSION_ROW = """
WITH v AS (
    SELECT version, created_at, metadata, state, files FROM {table} WHERE thread_id = %s
"""
_LOAD_CONTENTS = """
)
SELECT version, created_at, metadata, state, files, NULL::text AS hash, NULL::bytea FROM v
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, c.hash, c.content FROM {contents} AS c
WHERE c.hash IN (
    SELECT f.value FROM v,
    json_each_text(CASE json_typeof(v.files) WHEN 'object' THEN v.files END) AS f
)
"""
LOAD_LATEST = _LOAD_VERSION_ROW + "ORDER BY version DESC LIMIT 1" + _LOAD_CONTENTS
LOAD_VERSION = _LOAD_VERSION_ROW + "AND version = %s" + _LOAD_CONTENTS
# Taken first by a delete's transaction (see above).
LOCK = "LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"
# The versions, the thread's links, and the contents no other thread links to. All
# three see one snapshot, in which the thread's own links still exist.
DELETE = """
WITH versions AS (DELETE FROM {table} WHERE thread_id = %(thread)s),
gone AS (DELETE FROM {links} WHERE thread_id = %(thread)s RETURNING hash)
DELETE FROM {contents} AS c USING gone
WHERE c.hash = gone.hash AND NOT EXISTS (
    SELECT FROM {links} AS other WHERE other.hash = gone.hash AND other.thread_id <> %(thread)s
)
"""


def related_names(table: str) -> dict[str, tuple[str, ...]]:
    """The identifiers of the versions table and of its content tables and index.

    Named after the table, in its schema, so checkpointers with different tables
    never share contents (nor free each other's).
    """
    *schema, name = table.split(".")
    return {
        "table": (*schema, name),
        "contents": (*schema, _fit(f"{name}_file_contents")),
        "links": (*schema, _fit(f"{name}_thread_contents")),
        "by_hash": (_fit(f"{name}_thread_contents_by_hash"),),  # in the table's schema
    }


def quoted(parts: Iterable[str]) -> str:
    """A qualified name as SQL text (for `to_regclass` and the advisory lock's key)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def _fit(name: str) -> str:
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return name.encode()[: MAX_IDENTIFIER - 13].decode(errors="ignore") + "_" + digest


def contents_to_send(by_hash: dict[str, str], known: AbstractSet[str]) -> dict[str, Any]:
    """The save's parameters for the contents: those to store, and those it should hold."""
    send = sorted(by_hash.keys() - known)
    return {
        "hashes": send,
        "contents": [by_hash[digest].encode() for digest in send],
        "known": sorted(known),
    }
