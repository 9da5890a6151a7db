"""Models for tests and offline notebooks: no network, no keys, fully predictable.

    >>> from deepagents_nb.messages import ToolCall
    >>> model = ScriptedModel([ToolCall(name="add", args={"a": 1, "b": 2}), "It is 3."])

`ScriptedModel` plays its responses in order; `FunctionModel` computes each
response from the request. Token usage is estimated at four characters per
token (there is no real tokenizer offline), so cost charts have data to show.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeAlias

from pydantic import TypeAdapter

from deepagents_nb.exceptions import ModelBehaviorError
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.models.base import (
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from deepagents_nb.output import FINAL_ANSWER, is_model_like
from deepagents_nb.usage import Usage

ScriptItem: TypeAlias = str | ToolCall | Sequence[ToolCall] | Message | ModelResponse | Any
"""A final answer, one tool call, several parallel calls, a full message/response, or
structured output (a pydantic model, dataclass, dict or list of them) for a run with an
`output_type`: delivered as a `final_answer` call or JSON text, as the run's mode asks."""

_WORD = re.compile(r"\S+\s*|\s+")


def estimate_tokens(chars: int) -> int:
    """About four characters per token; never zero for non-empty text."""
    return (chars + 3) // 4


def _request_chars(request: ModelRequest) -> int:
    total = len(request.system or "")
    for schema in request.tools:
        total += len(schema.name) + len(schema.description) + len(str(schema.parameters))
    for message in request.messages:
        total += len(message.content)
        total += sum(4 * image.estimated_tokens() for image in message.images)
        for call in message.tool_calls:
            total += len(call.name) + len(str(call.args))
    return total


def to_response(
    item: ScriptItem, request: ModelRequest, *, provider: str, model: str
) -> ModelResponse:
    """Turn a script item into a `ModelResponse`, estimating usage when it has none."""
    if isinstance(item, ModelResponse):
        response = item
    else:
        if isinstance(item, str):
            message = Message.assistant(item)
        elif isinstance(item, ToolCall):
            message = Message.assistant(tool_calls=[item])
        elif isinstance(item, Message):
            if item.role != "assistant":
                raise ModelBehaviorError(
                    f"a scripted message must be an assistant message, got role {item.role!r}"
                )
            message = item
        elif isinstance(item, Sequence) and all(isinstance(c, ToolCall) for c in item) and item:
            message = Message.assistant(tool_calls=[c for c in item if isinstance(c, ToolCall)])
        elif is_model_like(item) or isinstance(item, list):
            message = _structured(item, request)
        else:
            raise ModelBehaviorError(
                f"cannot use {item!r} as a model response: give a str, a ToolCall, "
                f"a list of ToolCalls, an assistant Message, a ModelResponse, or structured "
                f"output (a pydantic model, dataclass, dict or list of them)"
            )
        response = ModelResponse(message=message)
    if response.usage is None:
        out_chars = len(response.message.content) + sum(
            len(c.name) + len(str(c.args)) for c in response.message.tool_calls
        )
        response.usage = Usage(
            input_tokens=estimate_tokens(_request_chars(request)),
            output_tokens=estimate_tokens(out_chars),
        )
    response.provider = response.provider or provider
    response.model = response.model or model
    if response.stop_reason is None:
        response.stop_reason = "tool_use" if response.message.tool_calls else "end_turn"
    return response


def _structured(item: Any, request: ModelRequest) -> Message:
    """A scripted structured answer, given the way the run asks for it: a `final_answer`
    call (tool mode) or JSON text (native and prompted modes)."""
    answer = request.output
    if answer is None:
        raise ModelBehaviorError(
            f"the script gives structured output ({type(item).__name__}) but the run has no "
            f"output_type"
        )
    data = TypeAdapter(Any).dump_python(item, mode="json")
    if answer.wrapped and not (isinstance(data, dict) and set(data) == {"response"}):
        data = {"response": data}
    if answer.mode == "tool":
        return Message.assistant(tool_calls=[ToolCall(FINAL_ANSWER, data)])
    return Message.assistant(json.dumps(data, ensure_ascii=False))


async def _stream_response(response: ModelResponse) -> AsyncIterator[StreamEvent]:
    for piece in _WORD.findall(response.message.content):
        yield TextDelta(piece)
    for index, call in enumerate(response.message.tool_calls):
        arguments = call.args if isinstance(call.args, str) else json.dumps(call.args)
        for piece in _WORD.findall(arguments):  # as vendors stream them: JSON in pieces
            yield ToolCallDelta(index, call.name, piece)
    yield ResponseComplete(response)


class ScriptedModel:
    """Plays back a list of responses, one per model call.

    Every request is kept in `requests` so tests can assert what the model saw.
    Asking for more responses than the script holds raises `ModelBehaviorError`.
    """

    def __init__(
        self,
        responses: Iterable[ScriptItem],
        *,
        model_name: str = "scripted",
        provider: str = "scripted",
    ) -> None:
        self._responses = list(responses)
        self.provider = provider
        self.model_name = model_name
        self.requests: list[ModelRequest] = []

    @property
    def remaining(self) -> int:
        """How many scripted responses have not been played yet."""
        return len(self._responses) - len(self.requests)

    def __repr__(self) -> str:
        return f"ScriptedModel({len(self._responses)} responses, {self.remaining} left)"

    def _next(self, request: ModelRequest) -> ModelResponse:
        index = len(self.requests)
        if index >= len(self._responses):
            last = request.messages[-1] if request.messages else None
            raise ModelBehaviorError(
                f"ScriptedModel has {len(self._responses)} responses and was asked for "
                f"call #{index + 1}; the last message it got was {last}"
            )
        self.requests.append(request)
        return to_response(
            self._responses[index], request, provider=self.provider, model=self.model_name
        )

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return self._next(request)

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return _stream_response(self._next(request))


ResponseFunction = Callable[[ModelRequest], ScriptItem | Awaitable[ScriptItem]]


class FunctionModel:
    """Computes each response from the request with a (sync or async) function.

    >>> def echo(request):
    ...     return "You said: " + request.messages[-1].content
    >>> model = FunctionModel(echo)
    """

    def __init__(
        self, fn: ResponseFunction, *, model_name: str = "function", provider: str = "function"
    ) -> None:
        self._fn = fn
        self.provider = provider
        self.model_name = model_name
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        item = self._fn(request)
        if inspect.isawaitable(item):
            item = await item
        return to_response(item, request, provider=self.provider, model=self.model_name)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        response = await self.complete(request)
        async for event in _stream_response(response):
            yield event
