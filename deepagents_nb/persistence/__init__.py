"""Checkpointers: the protocol and its backends.

Backends with optional dependencies (`redis`, `postgres`, `dynamodb`) are
imported from their own modules, so their drivers load only when used; the names
below resolve on first access, and a missing driver raises
`MissingDependencyError` with the `pip install` line when the backend is created.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from deepagents_nb.persistence.base import Checkpoint, Checkpointer, CheckpointInfo
from deepagents_nb.persistence.memory import InMemoryCheckpointer
from deepagents_nb.persistence.sqlite import SqliteCheckpointer

if TYPE_CHECKING:
    from deepagents_nb.persistence.dynamodb import DynamoDbCheckpointer
    from deepagents_nb.persistence.postgres import PostgresCheckpointer
    from deepagents_nb.persistence.redis import RedisCheckpointer

_LAZY = {
    "DynamoDbCheckpointer": "dynamodb",
    "PostgresCheckpointer": "postgres",
    "RedisCheckpointer": "redis",
}

__all__ = [
    "Checkpoint",
    "CheckpointInfo",
    "Checkpointer",
    "DynamoDbCheckpointer",
    "InMemoryCheckpointer",
    "PostgresCheckpointer",
    "RedisCheckpointer",
    "SqliteCheckpointer",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"deepagents_nb.persistence.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
