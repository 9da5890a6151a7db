"""The one serializer every checkpointer uses, so every backend stores the same JSON.

The stored form is an envelope `{"format": 1, "state": {...}}`; the format
number lets later versions migrate old threads instead of misreading them.
Format 2 is a state without its `files`, which the backend keeps apart (SQLite
and PostgreSQL store each distinct file content once, Redis once per thread); a
release that predates it refuses it with "upgrade deepagents-nb" instead of
loading a thread without its files.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from deepagents_nb.exceptions import CheckpointerError, CorruptCheckpointError
from deepagents_nb.state import AgentStateSnapshot, storable_todo
from deepagents_nb.text import storable_json, storable_message

FORMAT_VERSION = 1
FILES_APART_FORMAT = 2
_NO_FILES = {"files"}


class _Header(BaseModel):
    format: int


class _Envelope(_Header):
    state: AgentStateSnapshot


def dump_state(state: AgentStateSnapshot, *, files_apart: bool = False) -> bytes:
    """Serialize a state to UTF-8 JSON bytes.

    `files_apart=True` leaves `files` out (format 2), for a backend that keeps file
    contents itself and gives them back to `load_state`.
    """
    exclude, number = (_NO_FILES, FILES_APART_FORMAT) if files_apart else (None, FORMAT_VERSION)
    try:
        body = state.model_dump_json(exclude=exclude)
    except PydanticSerializationError:
        body = _storable_body(state, exclude)
    return b'{"format":%d,"state":%s}' % (number, body.encode())


def _storable_body(state: AgentStateSnapshot, exclude: set[str] | None) -> str:
    """The state's JSON with lone surrogates replaced wherever they hide (a user's or a
    middleware's `extra`, a state given by hand): saved with U+FFFD rather than not at all."""
    storable = AgentStateSnapshot.model_construct(
        messages=[storable_message(m) for m in state.messages],
        todos=[storable_todo(t) for t in state.todos],
        files=storable_json(state.files),
        extra=storable_json(state.extra),
    )
    try:
        return storable.model_dump_json(exclude=exclude)
    except (PydanticSerializationError, ValueError) as exc:
        raise CheckpointerError(f"the thread's state cannot be stored as JSON: {exc}") from exc


def load_state(data: bytes | str, files: dict[str, str] | None = None) -> AgentStateSnapshot:
    """Read bytes written by `dump_state`; a clear `CorruptCheckpointError` otherwise.

    `files` are those kept apart from a format-2 state, and required for one.
    """
    expected = FORMAT_VERSION if files is None else FILES_APART_FORMAT
    try:
        envelope = _Envelope.model_validate_json(data)
    except ValidationError as exc:
        # A newer version may have changed the state's shape: say so, not "corrupt".
        try:
            stored_format = _Header.model_validate_json(data).format
        except ValidationError:
            stored_format = expected
        if stored_format != expected:
            raise _unsupported(stored_format, expected) from exc
        raise CorruptCheckpointError(
            f"stored state is not a deepagents-nb checkpoint: {exc.errors()[0]['msg']} "
            f"at {'.'.join(str(p) for p in exc.errors()[0]['loc']) or 'top level'}"
        ) from exc
    if envelope.format != expected:
        raise _unsupported(envelope.format, expected)
    if files is not None:
        envelope.state.files = files
    return envelope.state


def _unsupported(stored_format: int, expected: int) -> CorruptCheckpointError:
    if stored_format in (FORMAT_VERSION, FILES_APART_FORMAT):  # known, but not here
        where = "with" if stored_format == FORMAT_VERSION else "without"
        return CorruptCheckpointError(
            f"checkpoint format {stored_format} (a state {where} its files) where format "
            f"{expected} was expected: the stored files and the state do not match"
        )
    return CorruptCheckpointError(
        f"checkpoint format {stored_format} is not supported by this version "
        f"(expected {expected}); upgrade deepagents-nb"
    )
