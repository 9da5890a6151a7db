"""The one serializer every checkpointer uses, so every backend stores the same JSON.

The stored form is an envelope `{"format": 1, "state": {...}}`; the format
number lets later versions migrate old threads instead of misreading them.
Format 2 is a state without its `files`, which the backend keeps apart (SQLite
and PostgreSQL store each distinct file content once, Redis once per thread); a
release that predates it refuses it with "upgrade deepagents-nb" instead of
loading a thread without its files.

Format 3 is format 2 with the images kept apart too: the backend keeps each
image's base64 text beside the files, under a key of the version's map, so each
distinct image is stored once like a file content. The state says where each
goes: a message's images are left out of it and listed after it, `"images":
[[message index, key, media type], ...]`; an image of a paused turn (JSON in
`extra`) holds its key where its base64 text was. A state without images is
format 2, byte for byte, and a release that predates format 3 refuses it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from itertools import compress, count
from operator import attrgetter, is_
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic.main import IncEx
from pydantic_core import PydanticSerializationError

from deepagents_nb.exceptions import CheckpointerError, CorruptCheckpointError
from deepagents_nb.hitl import PENDING_KEY
from deepagents_nb.messages import Image, MediaType
from deepagents_nb.state import AgentStateSnapshot, storable_todo
from deepagents_nb.text import storable_json, storable_message

FORMAT_VERSION = 1
FILES_APART_FORMAT = 2
IMAGES_APART_FORMAT = 3
_NO_FILES = {"files"}
# Formats a load may meet where another is expected. Format 3 where format 1 is expected
# is not among them: only backends that keep contents apart write it, and to one that
# does not, it reads as a newer format.
_KNOWN = {FORMAT_VERSION: "with its files", FILES_APART_FORMAT: "without its files"}
_IMAGES = attrgetter("images")


class _Header(BaseModel):
    format: int


class _Envelope(_Header):
    state: AgentStateSnapshot
    images: list[tuple[int, str, MediaType]] = Field(default_factory=list)  # format 3


def dump_state(state: AgentStateSnapshot, *, files_apart: bool = False) -> bytes:
    """Serialize a state to UTF-8 JSON bytes.

    `files_apart=True` leaves `files` out (format 2), for a backend that keeps file
    contents itself and gives them back to `load_state`.
    """
    exclude, number = (_NO_FILES, FILES_APART_FORMAT) if files_apart else (None, FORMAT_VERSION)
    return b'{"format":%d,"state":%s}' % (number, _body(state, exclude))


def dump_apart(state: AgentStateSnapshot) -> tuple[bytes, dict[str, bytes | str]]:
    """Serialize a state without its files, and without its images when it has some.

    Returns the bytes (format 2 when there are no images: those of
    `dump_state(state, files_apart=True)`; else format 3) and the images kept
    apart by their keys, none of them a path of `state.files`: a message's image
    as its bytes, a paused turn's as its base64 text (`image_text` of the bytes).
    The backend stores them with the files, and gives both back to `load_state`.

    A state without images costs one pass over its messages at C speed (and
    over its paused turn, if any), nothing else.
    """
    with_images = list(compress(count(), map(_IMAGES, state.messages)))
    pending = state.extra.get(PENDING_KEY)
    if not with_images and not pending:
        return dump_state(state, files_apart=True), {}
    keys = _Keys(state.files)
    table = [
        (index, keys(image.data), image.media_type)
        for index in with_images
        for image in state.messages[index].images
    ]
    extra = state.extra
    if pending:
        turn = _swap_turn(pending, keys)
        if turn is not pending:
            extra = {**extra, PENDING_KEY: turn}
    if not keys.images:  # a paused turn without images
        return dump_state(state, files_apart=True), {}
    shadow = AgentStateSnapshot.model_construct(
        messages=state.messages, todos=state.todos, files=state.files, extra=extra
    )
    no_images: dict[int, IncEx | bool] = {index: {"images"} for index in with_images}
    exclude: dict[str, IncEx | bool] = {"files": True, "messages": no_images}
    listed = json.dumps(table, separators=(",", ":")).encode()
    envelope = b'{"format":%d,"state":%s,"images":%s}'
    return envelope % (IMAGES_APART_FORMAT, _body(shadow, exclude), listed), keys.images


def image_text(data: bytes) -> str:
    """An image's bytes as the base64 text a state's JSON holds them in (URL-safe)."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def _body(state: AgentStateSnapshot, exclude: IncEx | None) -> bytes:
    try:
        return state.model_dump_json(exclude=exclude).encode()
    except PydanticSerializationError:
        return _storable_body(state, exclude).encode()


def _storable_body(state: AgentStateSnapshot, exclude: IncEx | None) -> str:
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
    """Read bytes written by `dump_state` or `dump_apart`; a `CorruptCheckpointError` otherwise.

    `files` are the contents kept apart from a format-2 or format-3 state, by the
    keys of its map (the paths of its files, and the keys of its images), and
    required for one.
    """
    expected = (FORMAT_VERSION,) if files is None else (FILES_APART_FORMAT, IMAGES_APART_FORMAT)
    try:
        envelope = _Envelope.model_validate_json(data)
    except ValidationError as exc:
        # A newer version may have changed the state's shape: say so, not "corrupt".
        try:
            stored_format = _Header.model_validate_json(data).format
        except ValidationError:
            stored_format = expected[0]
        if stored_format not in expected:
            raise _unsupported(stored_format, expected) from exc
        raise CorruptCheckpointError(
            f"stored state is not a deepagents-nb checkpoint: {exc.errors()[0]['msg']} "
            f"at {'.'.join(str(p) for p in exc.errors()[0]['loc']) or 'top level'}"
        ) from exc
    if envelope.format not in expected:
        raise _unsupported(envelope.format, expected)
    if files is not None:
        if envelope.format == IMAGES_APART_FORMAT:
            files = _put_images_back(envelope.state, envelope.images, files)
        envelope.state.files = files
    return envelope.state


def _unsupported(stored_format: int, expected: tuple[int, ...]) -> CorruptCheckpointError:
    wanted = " or ".join(str(number) for number in expected)
    if stored_format in _KNOWN:  # known, but not here
        return CorruptCheckpointError(
            f"checkpoint format {stored_format} (a state {_KNOWN[stored_format]}) where format "
            f"{wanted} was expected: the stored files and the state do not match"
        )
    return CorruptCheckpointError(
        f"checkpoint format {stored_format} is not supported by this version "
        f"(expected {wanted}); upgrade deepagents-nb"
    )


# ----- images kept apart (format 3) ---------------------------------------------------------


class _Keys:
    """Names each image object of a state being dumped by a key no file's path is."""

    def __init__(self, files: dict[str, str]) -> None:
        self._files = files
        self._by_id: dict[int, str] = {}
        self.images: dict[str, bytes | str] = {}  # keeps each object alive: its id stays its own

    def __call__(self, image: bytes | str) -> str:
        key = self._by_id.get(id(image))
        if key is None:
            key = f"image:{len(self.images)}"
            while key in self._files:  # "~" * k + "image:n": still one key per n
                key = "~" + key
            self._by_id[id(image)] = key
            self.images[key] = image
        return key


class _Restore:
    """The images of a format-3 state, from the contents the backend kept apart."""

    def __init__(self, contents: dict[str, str]) -> None:
        self._contents = contents
        self._decoded: dict[int, bytes] = {}  # one bytes object per content, however many keys
        self.used: set[str] = set()

    def text(self, key: Any) -> str:
        content = self._contents.get(key) if isinstance(key, str) else None
        if content is None:
            raise CorruptCheckpointError(f"the content of image {key!r} is not among those stored")
        self.used.add(key)
        return content

    def data(self, key: str) -> bytes:
        text = self.text(key)
        data = self._decoded.get(id(text))
        if data is None:
            try:
                data = base64.b64decode(text, altchars=b"-_", validate=True)
            except ValueError:
                raise CorruptCheckpointError(
                    f"the content of image {key!r} is not base64"
                ) from None
            self._decoded[id(text)] = data
        return data


def _put_images_back(
    state: AgentStateSnapshot, table: list[tuple[int, str, MediaType]], contents: dict[str, str]
) -> dict[str, str]:
    """Give a format-3 state its images back; the files are the other contents."""
    restore = _Restore(contents)
    images: dict[int, list[Image]] = {}
    try:
        for index, key, media_type in table:
            images.setdefault(index, []).append(
                Image(data=restore.data(key), media_type=media_type)
            )
    except ValidationError as exc:
        raise CorruptCheckpointError(
            f"a stored image is not one: {exc.errors()[0]['msg']}"
        ) from None
    messages = state.messages
    for index, found in images.items():
        if not 0 <= index < len(messages):
            raise CorruptCheckpointError(
                f"images are listed for message {index}, which is not there"
            )
        messages[index] = replace(messages[index], images=tuple(found))
    pending = state.extra.get(PENDING_KEY)
    if pending:
        state.extra[PENDING_KEY] = _swap_turn(pending, restore.text)
    return {key: content for key, content in contents.items() if key not in restore.used}


# A paused turn is JSON (hitl.PendingTurn dumped): its images are dicts whose "data" is
# base64 text, in its calls' results and in the states of sub-agents paused with it.
# Each function gives its value with every image's "data" passed through `swap` (to its
# key when dumped, back to its text when loaded), copying only what changes; a shape
# other than expected is left alone, the same way both times.


def _swap_turn(turn: Any, swap: Callable[[str], str]) -> Any:
    return _changed(turn, "calls", lambda calls: _each(calls, lambda c: _swap_call(c, swap)))


def _swap_call(call: Any, swap: Callable[[str], str]) -> Any:
    call = _changed(
        call, "result", lambda r: _changed(r, "images", lambda i: _swap_images(i, swap))
    )
    return _changed(call, "subagent_state", lambda state: _swap_state(state, swap))


def _swap_state(state: Any, swap: Callable[[str], str]) -> Any:
    state = _changed(
        state,
        "messages",
        lambda messages: _each(
            messages, lambda m: _changed(m, "images", lambda i: _swap_images(i, swap))
        ),
    )
    return _changed(
        state, "extra", lambda e: _changed(e, PENDING_KEY, lambda t: _swap_turn(t, swap))
    )


def _swap_images(images: Any, swap: Callable[[str], str]) -> Any:
    return _each(
        images, lambda i: _changed(i, "data", lambda d: swap(d) if isinstance(d, str) else d)
    )


def _changed(node: Any, key: str, change: Callable[[Any], Any]) -> Any:
    """`node` with `change` applied to `node[key]`: a copy if that changes, else `node`."""
    if not isinstance(node, dict) or key not in node:
        return node
    value = change(node[key])
    return node if value is node[key] else {**node, key: value}


def _each(items: Any, change: Callable[[Any], Any]) -> Any:
    """`items` with `change` applied to each: a new list if any changes, else `items`."""
    if not isinstance(items, list):
        return items
    changed = [change(item) for item in items]
    return items if all(map(is_, changed, items)) else changed
