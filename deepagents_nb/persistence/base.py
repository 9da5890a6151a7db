"""The `Checkpointer` protocol: where threads' states are kept between runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from deepagents_nb.state import AgentStateSnapshot


@dataclass(frozen=True)
class Checkpoint:
    """One saved version of a thread's state."""

    thread_id: str
    version: int
    state: AgentStateSnapshot
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointInfo:
    """A version in a thread's history, without its state."""

    thread_id: str
    version: int
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Checkpointer(Protocol):
    """Saves and loads threads' states; every save makes a new version.

    `save(..., expected_version=n)` fails with `CheckpointConflictError` unless
    the thread's latest version is `n` (0 for a thread never saved), so two
    writers never silently overwrite each other. `expected_version=None` skips
    the check.
    """

    async def save(
        self,
        thread_id: str,
        state: AgentStateSnapshot,
        *,
        expected_version: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int: ...

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None: ...

    async def delete(self, thread_id: str) -> None: ...

    async def list_threads(self) -> list[str]: ...

    async def history(self, thread_id: str) -> list[CheckpointInfo]: ...


_Closable = TypeVar("_Closable", bound="ClosingCheckpointer")


class ClosingCheckpointer:
    """`async with` for checkpointers that hold connections: `close()` on the way out."""

    async def close(self) -> None:
        """Release connections; a later call opens new ones."""

    async def __aenter__(self: _Closable) -> _Closable:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
