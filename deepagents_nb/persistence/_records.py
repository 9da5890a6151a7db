"""Fields every backend stores beside the state, and reading a stored version back.

States go through `serialization.dump_state`/`load_state` only; metadata is JSON
text and times are ISO 8601 text, so every backend keeps the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from deepagents_nb.exceptions import CheckpointerError, CorruptCheckpointError
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo
from deepagents_nb.serialization import load_state


def encode_metadata(metadata: dict[str, Any] | None) -> str:
    """Metadata as compact JSON text; refuses what JSON cannot hold (NaN included)."""
    try:
        return json.dumps(
            metadata or {}, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise CheckpointerError(f"checkpoint metadata must be JSON-serializable: {exc}") from exc


def corrupt(thread_id: str, version: int, problem: str) -> CorruptCheckpointError:
    """The error for unreadable stored data, naming where it is."""
    return CorruptCheckpointError(f"thread {thread_id!r} version {version}: {problem}")


def decode_info(
    thread_id: str, version: int, created_at: str | datetime, metadata: Any
) -> CheckpointInfo:
    """A history entry from stored fields; `CorruptCheckpointError` if they are unreadable."""
    if isinstance(created_at, datetime):
        when = created_at
    else:
        try:
            when = datetime.fromisoformat(created_at)
        except (TypeError, ValueError):
            raise corrupt(thread_id, version, f"bad timestamp {created_at!r}") from None
    if isinstance(metadata, (str, bytes)):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            raise corrupt(thread_id, version, "metadata is not JSON") from None
    if not isinstance(metadata, dict):
        raise corrupt(thread_id, version, "metadata is not a JSON object")
    return CheckpointInfo(thread_id, version, when, metadata)


def decode_checkpoint(
    info: CheckpointInfo, state: bytes | str | None, files: dict[str, str] | None = None
) -> Checkpoint:
    """A checkpoint from its history entry and stored state bytes (and files kept apart)."""
    if state is None:
        raise corrupt(info.thread_id, info.version, "the state is missing")
    try:
        snapshot = load_state(state, files)
    except CorruptCheckpointError as exc:
        raise corrupt(info.thread_id, info.version, str(exc)) from exc
    return Checkpoint(info.thread_id, info.version, snapshot, info.created_at, info.metadata)
