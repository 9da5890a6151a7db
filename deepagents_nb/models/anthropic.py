"""Anthropic's Messages API through the official `anthropic` SDK.

    >>> model = AnthropicModel("claude-sonnet-4-5")                 # ANTHROPIC_API_KEY

With `request.metadata["prompt_caching"]` set (the prompt-caching middleware
does it), the system prompt and the latest user turn carry `cache_control`
breakpoints, so the unchanged prefix of each call is read from the cache.
"""

from __future__ import annotations

import inspect
import json
import os
import warnings
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any

from deepagents_nb.exceptions import ConfigurationError, ModelAPIError
from deepagents_nb.messages import Image, Message, ToolCall, new_call_id
from deepagents_nb.models._errors import (
    make_error,
    parse_retry_after,
    resolve_api_key,
    stream_cut,
    transport_error,
)
from deepagents_nb.models._retry import RetryPolicy
from deepagents_nb.models._vendor import (
    VendorModel,
    arguments_object,
    image_base64,
    parse_arguments,
)
from deepagents_nb.models.base import (
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from deepagents_nb.usage import Usage

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_MAX_TOKENS = 8192
"""The Messages API requires `max_tokens`; every current Claude model allows this many."""

_EPHEMERAL = {"type": "ephemeral"}


class AnthropicModel(VendorModel["AsyncAnthropic"]):
    """A Claude model.

    Args:
        model: The model name, e.g. "claude-sonnet-4-5".
        api_key: Defaults to `ANTHROPIC_API_KEY`.
        base_url: A proxy or gateway instead of api.anthropic.com.
        max_tokens: Default answer length cap (the agent's setting wins);
            the API requires one, so `DEFAULT_MAX_TOKENS` is used otherwise.
        temperature: Default sampling temperature (the agent's setting wins).
            Anthropic SDK 2.x and its API version no longer accept sampling
            parameters: with such an SDK the temperature is left out, with a warning.
        timeout: Seconds per HTTP request.
        max_retries: Retries of rate-limited, overloaded or failed calls.
        retry_policy: Full control of retries (overrides `max_retries`).
        client_options: More keyword arguments for `anthropic.AsyncAnthropic`
            (`default_headers`, ...).
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        retry_policy: RetryPolicy | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        import anthropic  # the SDK is loaded only when an Anthropic model is made

        self._sdk = anthropic
        super().__init__(
            provider="anthropic",
            model=model,
            api_key=resolve_api_key(api_key, [API_KEY_ENV], "anthropic"),
            base_url=base_url or os.environ.get(BASE_URL_ENV) or None,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )
        self._client_options = dict(client_options or {})
        create = anthropic.resources.messages.AsyncMessages.create
        parameters = inspect.signature(create).parameters
        self._takes_temperature = "temperature" in parameters
        self._takes_output_config = "output_config" in parameters
        self._warned_temperature = False

    def _new_client(self) -> AsyncAnthropic:
        return self._sdk.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,  # ours, in VendorModel, are the same for every vendor
            **self._client_options,
        )

    # ----- request ------------------------------------------------------------------------

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        caching = bool(request.metadata.get("prompt_caching"))
        system, messages = to_anthropic_messages(request, cache=caching)
        params: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": self._max_tokens(request) or DEFAULT_MAX_TOKENS,
            "messages": messages,
        }
        if system:
            block: dict[str, Any] = {"type": "text", "text": system}
            if caching:
                block["cache_control"] = _EPHEMERAL
            params["system"] = [block]
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        if request.output is not None and request.output.mode == "native":
            if not self._takes_output_config:
                raise ConfigurationError(
                    "the installed anthropic SDK has no structured-output format: upgrade it "
                    '(pip install -U anthropic) or use output_mode="tool"'
                )
            # Anthropic's structured outputs: a strict schema, with the keywords it does
            # not take (minimum, maxLength, ...) moved into descriptions by the SDK.
            transform = getattr(self._sdk, "transform_schema", None)
            schema = request.output.strict_schema
            schema = transform(schema) if transform is not None else schema
            params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        temperature = self._temperature(request)
        if temperature is not None and self._takes_temperature:
            params["temperature"] = temperature
        elif temperature is not None and not self._warned_temperature:
            self._warned_temperature = True
            warnings.warn(
                "the installed anthropic SDK (and the API version it speaks) has no "
                "temperature; the setting is ignored for Anthropic models",
                stacklevel=2,
            )
        return params

    async def _complete_once(self, client: AsyncAnthropic, request: ModelRequest) -> ModelResponse:
        reply = await client.messages.create(**self._params(request))
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in reply.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                args = block.input if isinstance(block.input, dict) else {}
                calls.append(ToolCall(id=block.id or new_call_id(), name=block.name, args=args))
        return ModelResponse(
            message=Message.assistant("".join(text), calls),
            usage=_usage(reply.usage),
            model=reply.model or self.model_name,
            provider=self.provider,
            stop_reason=reply.stop_reason,
        )

    async def _stream_once(
        self, client: AsyncAnthropic, request: ModelRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        stream = await client.messages.create(**self._params(request), stream=True)
        text: list[str] = []
        # Tool-use blocks by index: id, name, JSON pieces (or a whole input given up front).
        tools: dict[int, tuple[str, str, list[str], dict[str, Any]]] = {}
        usage: dict[str, int] = {}
        stop_reason: str | None = None
        model = self.model_name
        finished = False
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    model = event.message.model or model
                    usage.update(_usage_fields(event.message.usage))
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        given = block.input if isinstance(block.input, dict) else {}
                        tools[event.index] = (block.id, block.name, [], given)
                        if given:
                            yield ToolCallDelta(event.index, block.name, json.dumps(given))
                    elif block.type == "text" and block.text:
                        text.append(block.text)
                        yield TextDelta(block.text)
                elif event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        text.append(delta.text)
                        yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in tools:
                        tools[event.index][2].append(delta.partial_json)
                        name = tools[event.index][1]
                        yield ToolCallDelta(event.index, name, delta.partial_json)
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    # Counts here are cumulative: they replace those of message_start.
                    usage.update(_usage_fields(event.usage))
                elif event.type == "message_stop":
                    finished = True
        if not finished:
            raise stream_cut(self.provider)
        calls = [
            ToolCall(
                id=call_id or new_call_id(),
                name=name,
                args=parse_arguments("".join(pieces)) if pieces else given,
            )
            for _, (call_id, name, pieces, given) in sorted(tools.items())
        ]
        yield ResponseComplete(
            ModelResponse(
                message=Message.assistant("".join(text), calls),
                usage=_usage_from_fields(usage),
                model=model,
                provider=self.provider,
                stop_reason=stop_reason,
            )
        )

    # ----- errors -------------------------------------------------------------------------

    def _map_error(self, exc: Exception) -> ModelAPIError | None:
        sdk = self._sdk
        if isinstance(exc, sdk.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            error = body.get("error")
            error = error if isinstance(error, dict) else {}
            # An `error` event inside a 200 stream has the kind but no useful status.
            status = exc.status_code if exc.status_code >= 400 else None
            return make_error(
                self.provider,
                str(error.get("message") or exc.message),
                status=status,
                kind=error.get("type") if isinstance(error.get("type"), str) else None,
                retry_after=parse_retry_after(exc.response.headers),
                request_id=exc.request_id,
                secret=self._api_key,
            )
        return transport_error(exc, self.provider)


# ----- mapping -----------------------------------------------------------------------------


def to_anthropic_messages(
    request: ModelRequest, *, cache: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """The system text and the messages in Messages-API form.

    Tool results become `tool_result` blocks of a user turn, and consecutive
    turns of one role are merged (all results of one assistant turn must be
    in the next user turn). System messages in the history join the system text.
    Images are base64 `image` blocks: before the text of a user message, and after
    the text inside a tool result's `content` (then a list of blocks, not a string).
    """
    system = [request.system] if request.system else []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in request.messages:
        if m.role == "system":
            system.append(m.content)
        elif m.role == "tool":
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id}
            if m.images:  # a list of blocks instead of the text alone
                text = [{"type": "text", "text": m.content}] if m.content else []
                result["content"] = [*text, *(_image_block(image) for image in m.images)]
            elif m.content:
                result["content"] = m.content
            if m.is_error:
                result["is_error"] = True
            add("user", [result])
        elif m.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            blocks.extend(
                {
                    "type": "tool_use",
                    "id": c.id,
                    "name": c.name,
                    "input": arguments_object(c.args),
                }
                for c in m.tool_calls
            )
            add("assistant", blocks)
        elif m.images:  # images first: Claude reads them best before the question
            content = [_image_block(image) for image in m.images]
            if m.content:
                content.append({"type": "text", "text": m.content})
            add("user", content)
        else:
            add("user", [{"type": "text", "text": m.content}])
    if cache:
        for turn in reversed(turns):
            if turn["role"] == "user":
                turn["content"][-1]["cache_control"] = _EPHEMERAL
                break
    return "\n\n".join(s for s in system if s), turns


def _image_block(image: Image) -> dict[str, Any]:
    source = {"type": "base64", "media_type": image.media_type, "data": image_base64(image)}
    return {"type": "image", "source": source}


def _usage_fields(usage: Any) -> dict[str, int]:
    """The counts an Anthropic usage object carries (None means "not in this event")."""
    fields = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
    }
    details = getattr(usage, "output_tokens_details", None)
    if details is not None:
        fields["thinking_tokens"] = getattr(details, "thinking_tokens", None)
    return {k: v for k, v in fields.items() if v is not None}


def _usage_from_fields(fields: dict[str, int]) -> Usage:
    """Our usage: Anthropic's `input_tokens` leaves out cached tokens; ours counts all."""
    cache_read = fields.get("cache_read_input_tokens", 0)
    cache_write = fields.get("cache_creation_input_tokens", 0)
    return Usage(
        input_tokens=fields.get("input_tokens", 0) + cache_read + cache_write,
        output_tokens=fields.get("output_tokens", 0),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=fields.get("thinking_tokens", 0),
    )


def _usage(usage: Any) -> Usage:
    return _usage_from_fields(_usage_fields(usage))
