"""The one serializer every checkpointer uses, so every backend stores the same JSON.

The stored form is an envelope `{"format": 1, "state": {...}}`; the format
number lets later versions migrate old threads instead of misreading them.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from deepagents_nb.exceptions import CorruptCheckpointError
from deepagents_nb.state import AgentStateSnapshot

FORMAT_VERSION = 1


class _Header(BaseModel):
    format: int


class _Envelope(_Header):
    state: AgentStateSnapshot


def dump_state(state: AgentStateSnapshot) -> bytes:
    """Serialize a state to UTF-8 JSON bytes."""
    return b'{"format":%d,"state":%s}' % (FORMAT_VERSION, state.model_dump_json().encode())


def load_state(data: bytes | str) -> AgentStateSnapshot:
    """Read bytes written by `dump_state`; a clear `CorruptCheckpointError` otherwise."""
    try:
        envelope = _Envelope.model_validate_json(data)
    except ValidationError as exc:
        # A newer version may have changed the state's shape: say so, not "corrupt".
        try:
            stored_format = _Header.model_validate_json(data).format
        except ValidationError:
            stored_format = FORMAT_VERSION
        if stored_format != FORMAT_VERSION:
            raise _unsupported(stored_format) from exc
        raise CorruptCheckpointError(
            f"stored state is not a deepagents-nb checkpoint: {exc.errors()[0]['msg']} "
            f"at {'.'.join(str(p) for p in exc.errors()[0]['loc']) or 'top level'}"
        ) from exc
    if envelope.format != FORMAT_VERSION:
        raise _unsupported(envelope.format)
    return envelope.state


def _unsupported(stored_format: int) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f"checkpoint format {stored_format} is not supported by this version "
        f"(expected {FORMAT_VERSION}); upgrade deepagents-nb"
    )
