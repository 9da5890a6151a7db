"""OpenAI Chat Completions through the official `openai` SDK, and every server
that speaks the same API (Ollama, vLLM, LM Studio, llama.cpp) through `base_url`.

    >>> model = OpenAIChatModel("gpt-4o-mini")                      # OPENAI_API_KEY
    >>> local = OpenAIChatModel("llama3.2", base_url="http://localhost:11434/v1")
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deepagents_nb.exceptions import ModelAPIError, ServerError
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
    image_base64,
    parse_arguments,
    tool_images_caption,
)
from deepagents_nb.models.base import (
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from deepagents_nb.models.guard import is_local_url
from deepagents_nb.usage import Usage

if TYPE_CHECKING:
    from openai import AsyncOpenAI

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
LOCAL_SERVER_KEY = "not-needed"
"""Sent to a custom `base_url` when no key is set: local servers ignore it, the SDK needs one."""

# OpenAI's finish reasons in the vocabulary every adapter reports.
_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filter",
}


class OpenAIChatModel(VendorModel["AsyncOpenAI"]):
    """A Chat Completions model.

    Args:
        model: The model name, e.g. "gpt-4o-mini", or a local server's model.
        api_key: Defaults to `OPENAI_API_KEY`. With a custom `base_url` and no
            key, a placeholder is sent (local servers need none).
        base_url: Another OpenAI-compatible server, e.g. "http://localhost:11434/v1".
        max_tokens: Default answer length cap (the agent's setting wins).
        temperature: Default sampling temperature (the agent's setting wins).
        timeout: Seconds per HTTP request.
        max_retries: Retries of rate-limited, overloaded or failed calls.
        retry_policy: Full control of retries (overrides `max_retries`).
        provider: The name reported in usage events, e.g. "ollama".
        client_options: More keyword arguments for `openai.AsyncOpenAI`
            (`organization`, `project`, `default_headers`, ...).
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
        provider: str = "openai",
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        import openai  # the SDK is loaded only when an OpenAI model is made

        self._sdk = openai
        base_url = base_url or os.environ.get(BASE_URL_ENV) or None
        custom = base_url is not None and "api.openai.com" not in base_url
        key = resolve_api_key(
            api_key, [API_KEY_ENV], provider, fallback=LOCAL_SERVER_KEY if custom else None
        )
        super().__init__(
            provider=provider,
            model=model,
            api_key=key,
            base_url=base_url,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )
        self._client_options = dict(client_options or {})
        # OpenAI's own API wants the newer name (reasoning models reject the old
        # one); compatible servers mostly know only `max_tokens`.
        self._max_tokens_field = (
            "max_tokens" if custom or is_local_url(base_url) else "max_completion_tokens"
        )

    def _new_client(self) -> AsyncOpenAI:
        return self._sdk.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,  # ours, in VendorModel, are the same for every vendor
            **self._client_options,
        )

    # ----- request ------------------------------------------------------------------------

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model_name,
            "messages": to_openai_messages(request),
        }
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        if request.output is not None and request.output.mode == "native":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.output.name,
                    "schema": request.output.strict_schema,
                    "strict": True,
                },
            }
        max_tokens = self._max_tokens(request)
        if max_tokens is not None:
            params[self._max_tokens_field] = max_tokens
        temperature = self._temperature(request)
        if temperature is not None:
            params["temperature"] = temperature
        return params

    async def _complete_once(self, client: AsyncOpenAI, request: ModelRequest) -> ModelResponse:
        completion = await client.chat.completions.create(**self._params(request))
        if not completion.choices:
            raise ServerError(
                f"{self.provider}: the response has no choices", provider=self.provider
            )
        choice = completion.choices[0]
        message = choice.message
        calls = []
        for call in message.tool_calls or ():
            if call.type != "function":  # custom (grammar) tools are not ours
                continue
            calls.append(
                ToolCall(
                    id=call.id or new_call_id(),
                    name=call.function.name,
                    args=parse_arguments(call.function.arguments or ""),
                )
            )
        return ModelResponse(
            message=Message.assistant(message.content or message.refusal or "", calls),
            usage=_usage(completion.usage),
            model=completion.model or self.model_name,
            provider=self.provider,
            stop_reason=_stop_reason(choice.finish_reason),
        )

    async def _stream_once(
        self, client: AsyncOpenAI, request: ModelRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        stream = await client.chat.completions.create(
            **self._params(request), stream=True, stream_options={"include_usage": True}
        )
        text: list[str] = []
        refusal: list[str] = []  # a native-mode refusal comes instead of content
        calls = _CallAssembler()
        finish_reason: str | None = None
        usage = None
        model = self.model_name
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices[:1] if chunk.choices else ():
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        yield TextDelta(delta.content)
                    elif getattr(delta, "refusal", None):
                        refusal.append(delta.refusal)
                    for call_delta in delta.tool_calls or ():
                        piece = calls.add(call_delta)
                        if piece is not None:
                            yield piece
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        if finish_reason is None:
            raise stream_cut(self.provider)
        yield ResponseComplete(
            ModelResponse(
                message=Message.assistant("".join(text) or "".join(refusal), calls.finish()),
                usage=_usage(usage),
                model=model,
                provider=self.provider,
                stop_reason=_stop_reason(finish_reason),
            )
        )

    # ----- errors -------------------------------------------------------------------------

    def _map_error(self, exc: Exception) -> ModelAPIError | None:
        sdk = self._sdk
        if isinstance(exc, sdk.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            error = body.get("error", body)
            error = error if isinstance(error, dict) else {}
            return make_error(
                self.provider,
                str(error.get("message") or exc.message),
                status=exc.status_code,
                kind=_str_or_none(error.get("code")) or _str_or_none(error.get("type")),
                retry_after=parse_retry_after(exc.response.headers),
                request_id=exc.request_id,
                secret=self._api_key,
            )
        if isinstance(exc, sdk.APIConnectionError):
            return transport_error(exc, self.provider)
        if isinstance(exc, sdk.APIError):  # an error event inside a stream
            body = exc.body if isinstance(exc.body, dict) else {}
            return make_error(
                self.provider,
                exc.message,
                kind=_str_or_none(body.get("code")) or _str_or_none(body.get("type")),
                secret=self._api_key,
            )
        return transport_error(exc, self.provider)


# ----- mapping -----------------------------------------------------------------------------


def to_openai_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """Our messages (and system prompt) in Chat Completions form.

    A user message with images has a list of parts (its text, then an `image_url`
    part per image, as a base64 data URL). Tool messages carry text only: the images
    of a turn's results follow in one user message after all that turn's tool
    messages (every `tool_call_id` must be answered before any other message).
    """
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    tool_images: list[dict[str, Any]] = []  # parts waiting for the turn's last tool message

    def flush_tool_images() -> None:
        if tool_images:
            out.append({"role": "user", "content": list(tool_images)})
            tool_images.clear()

    for m in request.messages:
        if m.role != "tool":
            flush_tool_images()
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content})
            if m.images:
                tool_images.append({"type": "text", "text": tool_images_caption(m)})
                tool_images.extend(_image_part(image) for image in m.images)
        elif m.role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                item["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {
                            "name": c.name,
                            # Invalid JSON goes back as the model wrote it.
                            "arguments": c.args
                            if isinstance(c.args, str)
                            else json.dumps(c.args, ensure_ascii=False),
                        },
                    }
                    for c in m.tool_calls
                ]
            out.append(item)
        elif m.role == "user" and m.images:
            parts = [{"type": "text", "text": m.content}] if m.content else []
            parts.extend(_image_part(image) for image in m.images)
            out.append({"role": "user", "content": parts})
        else:
            out.append({"role": m.role, "content": m.content})
    flush_tool_images()
    return out


def _image_part(image: Image) -> dict[str, Any]:
    url = f"data:{image.media_type};base64,{image_base64(image)}"
    return {"type": "image_url", "image_url": {"url": url}}


def _usage(usage: Any) -> Usage | None:
    """OpenAI usage: prompt tokens include cached ones, completion tokens reasoning."""
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=(prompt and prompt.cached_tokens) or 0,
        cache_write_tokens=(prompt and getattr(prompt, "cache_write_tokens", None)) or 0,
        reasoning_tokens=(completion and completion.reasoning_tokens) or 0,
    )


def _stop_reason(reason: str | None) -> str | None:
    return _STOP_REASONS.get(reason, reason) if reason else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _CallAssembler:
    """Joins streamed tool-call deltas (keyed by index) into whole calls."""

    def __init__(self) -> None:
        self._calls: list[_PartialCall] = []
        self._by_index: dict[int, _PartialCall] = {}

    def add(self, delta: Any) -> ToolCallDelta | None:
        """Take in one delta; returns the piece of arguments it brought, if any."""
        index = getattr(delta, "index", None)
        index = len(self._calls) if index is None else index
        current = self._by_index.get(index)
        # A new id at a known index is a new call (some servers reuse index 0).
        if current is None or (delta.id and current.id and delta.id != current.id):
            current = self._by_index[index] = _PartialCall()
            self._calls.append(current)
        if delta.id:
            current.id = delta.id
        function = delta.function
        if function is not None:
            if function.name and not current.name:
                current.name = function.name
            if function.arguments:
                current.arguments.append(function.arguments)
                position = self._calls.index(current)
                return ToolCallDelta(position, current.name, function.arguments)
        return None

    def finish(self) -> list[ToolCall]:
        return [
            ToolCall(
                id=call.id or new_call_id(),
                name=call.name,
                args=parse_arguments("".join(call.arguments)),
            )
            for call in self._calls
            if call.name
        ]
