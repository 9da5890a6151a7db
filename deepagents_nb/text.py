"""Text a checkpoint can store: no lone surrogates.

A model may write a JSON escape such as `"\\ud800"` with no partner; the vendor
SDK's JSON parser turns it into a Python string holding a lone surrogate, which
no UTF-8 encoder accepts, so every stored checkpointer would fail to save the
thread from then on. Text entering a thread's state (messages, tool arguments,
files, todos) passes through here: each lone surrogate becomes U+FFFD, the
replacement character, and everything else is left as it is.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from deepagents_nb.messages import Message

# Python strings hold surrogate pairs as one astral character, so any surrogate
# code point in a `str` is a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (the same object when it has none)."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def storable_json(value: Any) -> Any:
    """A JSON-like value whose strings (keys included) are storable."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v) for v in value]
    return value


def storable_message(message: Message) -> Message:
    """`message`, or a copy whose text and tool calls are storable."""
    # Checked before anything is copied: this runs for every message of every run.
    if _is_storable(message.content) and all(
        _is_storable(call.name) and _is_storable(call.args) for call in message.tool_calls
    ):
        return message
    calls = tuple(
        replace(call, name=storable_text(call.name), args=storable_json(call.args))
        for call in message.tool_calls
    )
    return replace(message, content=storable_text(message.content), tool_calls=calls)


def _is_storable(value: Any) -> bool:
    if isinstance(value, str):
        return value.isascii() or _SURROGATE.search(value) is None
    if isinstance(value, dict):
        return all(_is_storable(k) and _is_storable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_is_storable(v) for v in value)
    return True
