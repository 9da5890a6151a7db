"""The `ChatModel` protocol every provider adapter and test double implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from deepagents_nb.messages import Message
from deepagents_nb.output import OutputFormat
from deepagents_nb.tools import ToolSchema
from deepagents_nb.usage import Usage


@dataclass
class ModelRequest:
    """One call to a model. Adapters must not mutate `messages`: the list is shared."""

    messages: Sequence[Message]
    system: str | None = None
    tools: Sequence[ToolSchema] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    output: OutputFormat | None = None
    """The answer's format when the run has an `output_type` (`"native"` mode is for
    the adapter to apply; the other modes are already in `tools` or `system`)."""


@dataclass
class ModelResponse:
    """A model's answer: an assistant message, possibly with tool calls, and its usage."""

    message: Message
    usage: Usage | None = None
    model: str = ""
    provider: str = ""
    stop_reason: str | None = None
    duration_ms: float = 0.0


@dataclass
class TextDelta:
    """A piece of the answer's text while it streams."""

    text: str


@dataclass
class ToolCallDelta:
    """A piece of a tool call's arguments (JSON text) while it streams.

    `index` tells the calls of one response apart; `name` is the tool's, once known
    (every piece of a call carries it). Adapters that get a call whole send it as
    one piece. Optional: a consumer may wait for `ResponseComplete`.
    """

    index: int
    name: str
    arguments: str


@dataclass
class ResponseComplete:
    """The end of a stream: the whole response, tool calls assembled."""

    response: ModelResponse


StreamEvent = TextDelta | ToolCallDelta | ResponseComplete


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: one answer per request, whole or streamed."""

    @property
    def provider(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Yield `TextDelta`s as text arrives, then exactly one `ResponseComplete`."""
        ...
