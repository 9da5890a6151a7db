"""`InMemoryCheckpointer`: threads kept in this process, gone when it ends."""

from __future__ import annotations

from typing import Any

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import CheckpointConflictError
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo
from deepagents_nb.state import AgentStateSnapshot


class InMemoryCheckpointer:
    """Keeps every version of every thread in a dict.

    States are stored as copies whose containers are private to the store
    (messages are immutable), so saving costs a few pointer copies rather than
    a serialization. Use `SqliteCheckpointer` for threads that must survive a
    kernel restart.
    """

    def __init__(self) -> None:
        self._threads: dict[str, list[Checkpoint]] = {}

    def __repr__(self) -> str:
        return f"InMemoryCheckpointer({len(self._threads)} threads)"

    async def save(
        self,
        thread_id: str,
        state: AgentStateSnapshot,
        *,
        expected_version: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        versions = self._threads.setdefault(thread_id, [])
        latest = versions[-1].version if versions else 0
        if expected_version is not None and expected_version != latest:
            raise CheckpointConflictError(thread_id, expected_version, latest)
        version = latest + 1
        versions.append(
            Checkpoint(thread_id, version, state.copy_for_run(), utc_now(), dict(metadata or {}))
        )
        return version

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None:
        versions = self._threads.get(thread_id)
        if not versions:
            return None
        if version is None:
            found = versions[-1]
        elif 1 <= version <= len(versions):  # versions are 1, 2, ... in list order
            found = versions[version - 1]
        else:
            return None
        return Checkpoint(
            found.thread_id,
            found.version,
            found.state.copy_for_run(),
            found.created_at,
            dict(found.metadata),
        )

    async def delete(self, thread_id: str) -> None:
        self._threads.pop(thread_id, None)

    async def list_threads(self) -> list[str]:
        return sorted(self._threads)

    async def history(self, thread_id: str) -> list[CheckpointInfo]:
        return [
            CheckpointInfo(c.thread_id, c.version, c.created_at, dict(c.metadata))
            for c in self._threads.get(thread_id, [])
        ]
