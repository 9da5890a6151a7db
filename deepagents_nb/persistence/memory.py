"""`InMemoryCheckpointer`: threads kept in this process, gone when it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from deepagents_nb.exceptions import CheckpointConflictError
from deepagents_nb.messages import Message
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo
from deepagents_nb.state import AgentStateSnapshot, TodoItem


@dataclass(slots=True)
class _Version:
    """One saved version: its messages are the first `length` of a shared log."""

    log: list[Message]
    length: int
    todos: tuple[TodoItem, ...]
    files: dict[str, str]
    extra: dict[str, Any]
    created_at: float  # seconds since the epoch: a third of a datetime's size
    metadata: dict[str, Any]


class InMemoryCheckpointer:
    """Keeps every version of every thread in a dict.

    Versions share structure, so keeping all of them costs little more than
    keeping the last: a thread's messages live in one append-only log that each
    version refers to by length (history rewritten, e.g. by a summary, starts a
    new log), and todos, files, extras and metadata that did not change since
    the previous version are the previous version's objects. Stored containers
    are private to the store; loads hand out copies. Use `SqliteCheckpointer`
    for threads that must survive a kernel restart.
    """

    def __init__(self) -> None:
        self._threads: dict[str, list[_Version]] = {}

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
        latest = len(versions)  # versions are 1, 2, ... in list order
        if expected_version is not None and expected_version != latest:
            raise CheckpointConflictError(thread_id, expected_version, latest)
        previous = versions[-1] if versions else _NOTHING
        versions.append(
            _Version(
                log=_log_for(state.messages, previous.log),
                length=len(state.messages),
                todos=_shared(tuple(state.todos), previous.todos, tuple),
                files=_shared(state.files, previous.files, dict),
                extra=_shared(state.extra, previous.extra, dict),
                created_at=time.time(),
                metadata=_shared(metadata or {}, previous.metadata, dict),
            )
        )
        return latest + 1

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None:
        versions = self._threads.get(thread_id)
        if not versions:
            return None
        if version is None:
            version = len(versions)
        elif not 1 <= version <= len(versions):
            return None
        found = versions[version - 1]
        state = AgentStateSnapshot.model_construct(
            messages=found.log[: found.length],
            todos=list(found.todos),
            files=dict(found.files),
            extra=dict(found.extra),
        )
        return Checkpoint(
            thread_id, version, state, _datetime(found.created_at), dict(found.metadata)
        )

    async def delete(self, thread_id: str) -> None:
        self._threads.pop(thread_id, None)

    async def list_threads(self) -> list[str]:
        return sorted(self._threads)

    async def history(self, thread_id: str) -> list[CheckpointInfo]:
        return [
            CheckpointInfo(thread_id, number, _datetime(v.created_at), dict(v.metadata))
            for number, v in enumerate(self._threads.get(thread_id, []), start=1)
        ]


_NOTHING = _Version([], 0, (), {}, {}, 0.0, {})  # "previous" of a first save; never changed
M = TypeVar("M", bound=Collection[Any])


def _log_for(messages: list[Message], log: list[Message]) -> list[Message]:
    """The previous version's log when `messages` continue or cut it, else a new one.

    List comparison checks identity first, so an unchanged prefix costs a pointer
    comparison per message.
    """
    if log:
        known = len(log)
        if len(messages) >= known and messages[:known] == log:
            log.extend(messages[known:])  # earlier versions keep their lengths
            return log
        if messages == log[: len(messages)]:
            return log
    return list(messages)


def _shared(value: M, previous: M, copy: Callable[[M], M]) -> M:
    """The previous version's private object when equal to `value`, else a private copy."""
    return previous if value == previous else copy(value)


def _datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)
