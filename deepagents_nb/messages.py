"""Chat messages exchanged between the agent, the model and tools."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

Role = Literal["system", "user", "assistant", "tool"]


def new_call_id() -> str:
    """A fresh tool-call id, for models that do not give one."""
    return f"call_{uuid.uuid4().hex[:24]}"


# Messages and tool calls are slotted pydantic dataclasses rather than BaseModels: they
# are validated the same way, but an instance is ~100 bytes instead of ~1 KB (no
# per-instance __dict__ or fields-set), and a thread keeps every message it ever had.


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to run one tool.

    `args` is normally a dict. A model that produced text that is not a JSON
    object leaves it as the raw string, so the agent can tell the model exactly
    what was wrong instead of crashing.
    """

    name: str
    args: dict[str, Any] | str = Field(default_factory=dict)
    id: str = Field(default_factory=new_call_id)

    def parsed_args(self) -> dict[str, Any]:
        """The arguments as a dict; raises `ValueError` with a readable reason otherwise."""
        if isinstance(self.args, dict):
            return self.args
        try:
            value = json.loads(self.args) if self.args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
            ) from exc
        if not isinstance(value, dict):
            raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
        return value


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Assistant messages may carry `tool_calls`; tool messages answer one call
    (`tool_call_id`) and say whether the tool failed (`is_error`). `metadata` is
    provider- or middleware-specific data (None when there is none). Messages are
    frozen: a thread's history is shared between steps and checkpoints without
    copies; `dataclasses.replace(message, content=...)` makes a changed one.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    metadata: dict[str, Any] | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls(role="assistant", content=content, tool_calls=tuple(tool_calls))

    @classmethod
    def tool(cls, call_id: str, name: str, content: str, *, is_error: bool = False) -> Message:
        return cls(role="tool", content=content, tool_call_id=call_id, name=name, is_error=is_error)

    @property
    def text(self) -> str:
        """The message's text (alias of `content`)."""
        return self.content

    def __str__(self) -> str:
        parts = [f"{self.role}:", self.content]
        if self.tool_calls:
            parts.append(
                "[calls " + ", ".join(f"{c.name}({c.args})" for c in self.tool_calls) + "]"
            )
        return " ".join(p for p in parts if p)
