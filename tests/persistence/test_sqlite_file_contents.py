"""SQLite keeps each distinct file content once: sharing, freeing, old files, lost contents."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from deepagents_nb.exceptions import CorruptCheckpointError
from deepagents_nb.messages import Message
from deepagents_nb.persistence import SqliteCheckpointer
from deepagents_nb.persistence._contents import ContentHashes, KnownContents
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot

# The table and rows as deepagents-nb wrote them before contents were kept apart.
LEGACY_SCHEMA = """
CREATE TABLE checkpoints (
    thread_id  TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    metadata   TEXT    NOT NULL,
    state      BLOB    NOT NULL,
    PRIMARY KEY (thread_id, version)
)
"""


def state(files: dict[str, str], text: str = "hi") -> AgentStateSnapshot:
    return AgentStateSnapshot(messages=[Message.user(text)], files=files)


def query(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def contents(path: Path) -> list[str]:
    return sorted(content for (content,) in query(path, "SELECT content FROM file_contents"))


async def test_versions_load_as_saved_while_files_are_added_changed_and_deleted(
    tmp_path: Path,
) -> None:
    saved = [
        state({"/a.md": "A", "/b.md": "B"}),
        state({"/a.md": "A2", "/b.md": "B", "/c.md": "C"}),  # changed and added
        state({"/c.md": "C", "/a.md": "A2"}),  # deleted, and in another order
        state({"/b.md": "B", "/d.md": "é ✓ " * 5000}),  # an old content comes back
        state({}),
    ]
    async with SqliteCheckpointer(tmp_path / "threads.db") as cp:
        for snapshot in saved:
            await cp.save("t", snapshot)
        for number, expected in enumerate(saved, start=1):
            loaded = await cp.load("t", number)
            assert loaded is not None and loaded.state == expected, f"version {number}"
            assert loaded.state.model_dump_json() == expected.model_dump_json()  # file order


async def test_identical_contents_are_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("a", state({"/one.md": "same", "/two.md": "same", "/own.md": "a's"}))
        await cp.save("b", state({"/copy.md": "same"}))
        loaded = await cp.load("b")
        assert loaded is not None and loaded.state.files == {"/copy.md": "same"}

    assert contents(path) == ["a's", "same"]


async def test_a_save_after_an_unchanged_step_writes_no_content(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    files = {f"/notes/{i}.md": f"note {i}\n" * 100 for i in range(5)}
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", state(files))
        stored = query(path, "SELECT rowid, hash FROM file_contents ORDER BY rowid")
        links = query(path, "SELECT thread_id, hash FROM thread_contents ORDER BY hash")

        live = state(files).copy_for_run()  # the next step: same files, a new message
        live.messages.append(Message.assistant("done"))
        await cp.save("t", live)
        reloaded = await cp.load("t")  # equal contents in new str objects, as after a restart
        assert reloaded is not None
        await cp.save("t", reloaded.state)

        assert query(path, "SELECT rowid, hash FROM file_contents ORDER BY rowid") == stored
        assert query(path, "SELECT thread_id, hash FROM thread_contents ORDER BY hash") == links
        assert len(stored) == 5
        # A version's row holds no content, only its map path -> hash.
        (row,) = query(path, "SELECT state, files FROM checkpoints WHERE version = 3")
        assert b"note 0" not in row[0]
        assert list(json.loads(row[1])) == list(files)


async def test_delete_frees_the_contents_no_other_thread_uses(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("gone", state({"/s.md": "shared", "/g.md": "gone 1"}))
        await cp.save("gone", state({"/s.md": "shared", "/g.md": "gone 2"}))
        await cp.save("kept", state({"/s.md": "shared", "/k.md": "kept"}))
        assert contents(path) == ["gone 1", "gone 2", "kept", "shared"]

        await cp.delete("gone")

        assert contents(path) == ["kept", "shared"]
        assert {thread for (thread,) in query(path, "SELECT thread_id FROM thread_contents")} == {
            "kept"
        }
        kept = await cp.load("kept")
        assert kept is not None and kept.state.files == {"/s.md": "shared", "/k.md": "kept"}

        await cp.save("new", state({"/s.md": "shared"}))  # saved again after the delete
        await cp.delete("kept")
        assert contents(path) == ["shared"]
        await cp.delete("new")

    assert contents(path) == []
    assert query(path, "SELECT * FROM thread_contents") == []


async def test_a_database_from_before_content_hashing_keeps_its_threads(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    old = [state({"/a.md": "A", "/b.md": "B"}, "one"), state({"/a.md": "A2"}, "two")]
    with sqlite3.connect(path) as db:
        db.execute(LEGACY_SCHEMA)
        db.executemany(
            "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?)",
            [
                ("t", n, f"2024-05-0{n}T12:00:00+00:00", json.dumps({"n": n}), dump_state(s))
                for n, s in enumerate(old, start=1)
            ],
        )
    db.close()

    async with SqliteCheckpointer(path) as cp:
        for number, expected in enumerate(old, start=1):
            loaded = await cp.load("t", number)
            assert loaded is not None and loaded.state == expected
            assert loaded.metadata == {"n": number}
        newer = state({"/a.md": "A2", "/c.md": "C"}, "three")
        assert await cp.save("t", newer, expected_version=2) == 3
        assert [info.version for info in await cp.history("t")] == [1, 2, 3]
        for number, expected in enumerate([*old, newer], start=1):
            loaded = await cp.load("t", number)
            assert loaded is not None and loaded.state == expected

        # The old rows are left as they were; the new one keeps its files apart.
        assert query(path, "SELECT version, files IS NULL FROM checkpoints") == [
            (1, 1),
            (2, 1),
            (3, 0),
        ]
        assert contents(path) == ["A2", "C"]
        assert query(path, "PRAGMA page_size") == [(4096,)]  # an existing file keeps its pages

        await cp.delete("t")
        assert await cp.list_threads() == []
        assert contents(path) == []


async def test_a_new_database_uses_16_kb_pages(tmp_path: Path) -> None:
    # Its rows are large (file contents, states): bigger pages, fewer overflow pages.
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", state({"/a.md": "A"}))
    assert query(path, "PRAGMA page_size") == [(16384,)]


async def test_a_missing_content_names_the_thread_and_version(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", state({"/a.md": "A"}))
        await cp.save("t", state({"/a.md": "A", "/b.md": "lost"}))
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM file_contents WHERE content = 'lost'")
        db.close()

        digest = hashlib.sha256(b"lost").hexdigest()
        with pytest.raises(
            CorruptCheckpointError,
            match=rf"thread 't' version 2: the content of '/b.md' \({digest}\) is missing",
        ):
            await cp.load("t")
        first = await cp.load("t", 1)  # the other versions stay readable
        assert first is not None and first.state.files == {"/a.md": "A"}


@pytest.mark.parametrize("refs", ["{not json", '["a list"]', '{"/a.md": 1}'])
async def test_a_broken_map_of_files_names_the_thread_and_version(
    tmp_path: Path, refs: str
) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", state({"/a.md": "A"}))
        with sqlite3.connect(path) as db:
            db.execute("UPDATE checkpoints SET files = ?", (refs,))
        db.close()
        with pytest.raises(CorruptCheckpointError, match="thread 't' version 1: the map of files"):
            await cp.load("t")


def test_content_hashes_never_mix_up_strings_whose_ids_are_reused() -> None:
    # A small limit makes the memory forget often, so freed ids come back as new strings.
    hashes = ContentHashes(limit=64)
    for i in range(2000):
        text = f"content {i:06d}"
        assert hashes(text) == hashlib.sha256(text.encode()).hexdigest()
        assert hashes(text) == hashlib.sha256(text.encode()).hexdigest()  # remembered


def test_known_contents_keep_the_latest_per_thread_and_forget_the_oldest_threads() -> None:
    # The hint every store that keeps contents apart uses to send only new contents.
    known = KnownContents(limit=5)
    known.set("a", ["h1", "h2"])
    known.set("b", ["h3"])
    known.set("a", ["h2", "h4"])  # a's latest version: it replaces, and a is now newest
    assert (known.get("a"), known.get("b")) == ({"h2", "h4"}, {"h3"})
    known.set("c", ["h5", "h6", "h7"])  # 6 hashes > 5: b, used longest ago, goes
    assert (known.get("a"), known.get("b"), known.get("c")) == (
        {"h2", "h4"},
        frozenset(),
        {"h5", "h6", "h7"},
    )
    known.forget("a")
    assert known.get("a") == frozenset()
    known.set("d", ["x"] * 3)  # duplicates count once: 3 + 1 fit the limit
    assert known.get("c") == {"h5", "h6", "h7"} and known.get("d") == {"x"}
