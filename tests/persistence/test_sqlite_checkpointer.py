"""SQLite specifics: the file on disk, other processes, and unreadable rows."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from checkpointer_backends import busy_state

from deepagents_nb.exceptions import (
    CheckpointConflictError,
    CheckpointerError,
    CorruptCheckpointError,
)
from deepagents_nb.messages import Message
from deepagents_nb.persistence import SqliteCheckpointer
from deepagents_nb.state import AgentStateSnapshot

# Run by other Python processes: argv = db path, thread id, expected version ("" for None).
SAVE_IN_ANOTHER_PROCESS = """
import asyncio, sys
from deepagents_nb.exceptions import CheckpointConflictError
from deepagents_nb.messages import Message
from deepagents_nb.persistence import SqliteCheckpointer
from deepagents_nb.state import AgentStateSnapshot

async def main(path, thread_id, expected):
    state = AgentStateSnapshot(messages=[Message.user("from " + str(__import__("os").getpid()))])
    async with SqliteCheckpointer(path) as cp:
        try:
            print(await cp.save(thread_id, state, expected_version=expected))
        except CheckpointConflictError:
            print("conflict")

path, thread_id, expected = sys.argv[1:]
asyncio.run(main(path, thread_id, int(expected) if expected else None))
"""
LOAD_IN_ANOTHER_PROCESS = """
import asyncio, sys
from deepagents_nb.persistence import SqliteCheckpointer

async def main(path, thread_id):
    async with SqliteCheckpointer(path) as cp:
        checkpoint = await cp.load(thread_id)
        print(checkpoint.version, checkpoint.state.model_dump_json())

asyncio.run(main(*sys.argv[1:]))
"""


def run_python(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, text=True
    )


async def test_creates_the_file_and_its_directories_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", AgentStateSnapshot())
    assert path.is_file()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_thread_survives_the_process_that_saved_it(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    saver = run_python(SAVE_IN_ANOTHER_PROCESS, path, "t", "0")
    assert saver.communicate(timeout=30)[0].strip() == "1"

    async with SqliteCheckpointer(path) as cp:
        loaded = await cp.load("t")
        assert loaded is not None and loaded.version == 1
        assert loaded.state.messages[0].content == f"from {saver.pid}"
        await cp.save("t", busy_state(), expected_version=1)

    loader = run_python(LOAD_IN_ANOTHER_PROCESS, path, "t")
    version, state_json = loader.communicate(timeout=30)[0].split(" ", 1)
    assert version == "2"
    assert AgentStateSnapshot.model_validate_json(state_json) == busy_state()


async def test_of_processes_saving_against_one_version_exactly_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:  # the table exists before the race starts
        await cp.save("t", AgentStateSnapshot())

    racers = [run_python(SAVE_IN_ANOTHER_PROCESS, path, "t", "1") for _ in range(4)]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in racers)

    assert outcomes == ["2", "conflict", "conflict", "conflict"]
    async with SqliteCheckpointer(path) as cp:
        assert [info.version for info in await cp.history("t")] == [1, 2]


async def test_two_checkpointers_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as first, SqliteCheckpointer(path) as second:
        await first.save("t", AgentStateSnapshot(), expected_version=0)
        with pytest.raises(CheckpointConflictError):
            await second.save("t", AgentStateSnapshot(), expected_version=0)
        assert await second.list_threads() == ["t"]


async def test_sqlite_runs_off_the_event_loop_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[threading.Thread] = []
    connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        used.append(threading.current_thread())
        connection: sqlite3.Connection = connect(*args, **kwargs)
        return connection

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    async with SqliteCheckpointer(tmp_path / "threads.db") as cp:
        await cp.save("t", AgentStateSnapshot())
        await asyncio.gather(*(cp.load("t") for _ in range(3)))
    assert len(used) == 1 and used[0] is not threading.current_thread()


async def test_close_then_use_again(tmp_path: Path) -> None:
    cp = SqliteCheckpointer(tmp_path / "threads.db")
    await cp.save("t", AgentStateSnapshot())
    await cp.close()
    await cp.close()  # twice is fine
    assert await cp.save("t", AgentStateSnapshot(), expected_version=1) == 2
    await cp.close()


async def test_memory_database() -> None:
    async with SqliteCheckpointer(":memory:") as cp:
        await cp.save("t", busy_state(10, 2))
        loaded = await cp.load("t")
        assert loaded is not None and loaded.state == busy_state(10, 2)


async def test_corrupt_state_bytes_name_the_thread_and_version(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", AgentStateSnapshot(messages=[Message.user("ok")]))
        await cp.save("t", AgentStateSnapshot())
        with sqlite3.connect(path) as db:
            db.execute("UPDATE checkpoints SET state = ? WHERE version = 2", (b"\xff{not json",))

        with pytest.raises(CorruptCheckpointError, match=r"thread 't' version 2: .*Invalid JSON"):
            await cp.load("t")
        first = await cp.load("t", 1)  # the other versions stay readable
        assert first is not None and first.state.messages[0].content == "ok"
        assert [info.version for info in await cp.history("t")] == [1, 2]


async def test_corrupt_metadata_names_the_thread_and_version(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    async with SqliteCheckpointer(path) as cp:
        await cp.save("t", AgentStateSnapshot())
        with sqlite3.connect(path) as db:
            db.execute("UPDATE checkpoints SET metadata = '[1, 2]'")
        with pytest.raises(CorruptCheckpointError, match="thread 't' version 1: metadata"):
            await cp.history("t")


async def test_metadata_that_is_not_json_is_refused(tmp_path: Path) -> None:
    async with SqliteCheckpointer(tmp_path / "threads.db") as cp:
        with pytest.raises(CheckpointerError, match="JSON-serializable"):
            await cp.save("t", AgentStateSnapshot(), metadata={"when": object()})
        assert await cp.list_threads() == []


async def test_a_path_that_cannot_be_a_database_is_a_checkpointer_error(tmp_path: Path) -> None:
    async with SqliteCheckpointer(tmp_path) as cp:  # a directory
        with pytest.raises(CheckpointerError, match="SQLite open failed"):
            await cp.list_threads()
