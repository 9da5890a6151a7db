"""The serialized size of a thread's state, kept up to date instead of serialized anew.

`StateCheckpointed.state_size_bytes` is `len(dump_state(state))`. Serializing the
whole state after every step to count it would cost time in proportion to the
history and the files; `StateSizer` measures each message once and each file
content once, so a step costs in proportion to what it changed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import to_json

from deepagents_nb.messages import Message
from deepagents_nb.serialization import FORMAT_VERSION
from deepagents_nb.state import AgentStateSnapshot, TodoItem

# dump_state's bytes around the fields: {"format":1,"state":{"messages":[...],
# "todos":[...],"files":{...},"extra":{...}}}
_FIXED = len(b'{"format":%d,"state":{"messages":[' % FORMAT_VERSION) + len(
    b'],"todos":,"files":{},"extra":}}'
)


@cache
def _messages() -> TypeAdapter[Message]:
    return TypeAdapter(Message)


@cache
def _todos() -> TypeAdapter[list[TodoItem]]:
    return TypeAdapter(list[TodoItem])


class StateSizer:
    """`size(state) == len(dump_state(state))`, measuring only what changed since the last call.

    Messages are immutable: the ones already measured (the same objects, in the
    same order) are not measured again. A file is measured again only when its
    content is another `str` object. Todos and extras, small, are measured each time.
    """

    def __init__(self) -> None:
        self._measured: list[Message] = []
        self._message_bytes: list[int] = []
        self._files: dict[str, tuple[str, int]] = {}  # path -> (content, bytes of its entry)

    def size(self, state: AgentStateSnapshot) -> int:
        return (
            _FIXED
            + self._size_of_messages(state.messages)
            + len(_todos().dump_json(state.todos))
            + self._size_of_files(state.files)
            + len(to_json(state.extra))
        )

    def _size_of_messages(self, messages: list[Message]) -> int:
        known = len(self._measured)
        # List comparison checks identity first: an unchanged history costs a pointer
        # comparison per message. A rewritten one (a summary) is measured again.
        if len(messages) < known or messages[:known] != self._measured:
            self._measured, self._message_bytes, known = [], [], 0
        for message in messages[known:]:
            self._measured.append(message)
            self._message_bytes.append(len(_messages().dump_json(message)))
        return sum(self._message_bytes) + max(len(messages) - 1, 0)  # and the commas

    def _size_of_files(self, files: dict[str, str]) -> int:
        entries: dict[str, tuple[str, int]] = {}
        for path, content in files.items():
            known = self._files.get(path)
            if known is not None and known[0] is content:
                entries[path] = known
            else:  # "path":"content"
                entries[path] = (content, len(to_json(path)) + 1 + len(to_json(content)))
        self._files = entries
        return sum(size for _, size in entries.values()) + max(len(entries) - 1, 0)


def sizer_of(store: dict[str, Any]) -> StateSizer:
    """The sizer kept in a run's `metadata` (one per run, measuring its thread)."""
    sizer = store.get(_KEY)
    if sizer is None:
        sizer = store[_KEY] = StateSizer()
    assert isinstance(sizer, StateSizer)
    return sizer


_KEY = "deepagents_nb.state_size"
