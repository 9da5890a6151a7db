"""Google's Gemini API through the official `google-genai` SDK.

    >>> model = GeminiModel("gemini-2.5-flash")          # GEMINI_API_KEY or GOOGLE_API_KEY

Gemini may not give tool calls ids; the adapter then makes them, and sends
them back with the results. Thought signatures that come with function calls
are kept in the assistant message's metadata and returned with the call, as
thinking models require.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any

from deepagents_nb.exceptions import BadRequestError, ModelAPIError
from deepagents_nb.messages import Image, Message, ToolCall, new_call_id
from deepagents_nb.models._errors import (
    make_error,
    parse_retry_after,
    resolve_api_key,
    stream_cut,
    transport_error,
)
from deepagents_nb.models._retry import RetryPolicy
from deepagents_nb.models._vendor import VendorModel, arguments_object, tool_images_caption
from deepagents_nb.models.base import (
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from deepagents_nb.output import prompted_instructions
from deepagents_nb.usage import Usage

if TYPE_CHECKING:
    from google.genai import Client
    from google.genai import types as genai_types

API_KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"
SIGNATURES_KEY = "gemini_thought_signatures"
"""Where an assistant message keeps thought signatures: call id -> base64 text."""

# Gemini's finish reasons in the vocabulary every adapter reports.
_STOP_REASONS = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}


class GeminiModel(VendorModel["Client"]):
    """A Gemini model.

    Args:
        model: The model name, e.g. "gemini-2.5-flash".
        api_key: Defaults to `GEMINI_API_KEY`, then `GOOGLE_API_KEY`.
        base_url: A proxy or gateway instead of generativelanguage.googleapis.com.
        max_tokens: Default answer length cap (the agent's setting wins).
        temperature: Default sampling temperature (the agent's setting wins).
        timeout: Seconds per HTTP request.
        max_retries: Retries of rate-limited, overloaded or failed calls.
        retry_policy: Full control of retries (overrides `max_retries`).
        client_options: More keyword arguments for `google.genai.Client`.
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
        from google import genai  # the SDK is loaded only when a Gemini model is made
        from google.genai import errors, types

        self._genai, self._types, self._errors = genai, types, errors
        super().__init__(
            provider="gemini",
            model=model,
            api_key=resolve_api_key(api_key, API_KEY_ENVS, "gemini"),
            base_url=base_url or os.environ.get(BASE_URL_ENV) or None,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )
        self._client_options = dict(client_options or {})

    def _new_client(self) -> Client:
        options = self._types.HttpOptions(
            base_url=self.base_url,
            timeout=int(self.timeout * 1000),  # milliseconds
            retry_options=None,  # no SDK retries: ours, in VendorModel, are shared
        )
        return self._genai.Client(
            api_key=self._api_key, http_options=options, **self._client_options
        )

    async def _close_client(self, client: Client) -> None:
        await client.aio.aclose()

    # ----- request ------------------------------------------------------------------------

    def _config(self, request: ModelRequest, system: str) -> genai_types.GenerateContentConfig:
        types = self._types
        tools = None
        if request.tools:
            declarations = [
                types.FunctionDeclaration(
                    name=t.name, description=t.description, parameters_json_schema=t.parameters
                )
                for t in request.tools
            ]
            tools = [types.Tool(function_declarations=declarations)]
        native = request.output is not None and request.output.mode == "native"
        if native and request.tools and not _json_mode_with_tools(self.model_name):
            # Gemini before 3 refuses a JSON response mode next to function calling
            # (400 INVALID_ARGUMENT): ask for the JSON in the prompt on such turns.
            assert request.output is not None
            native = False
            system = f"{system}\n\n{prompted_instructions(request.output)}".lstrip()
        config: genai_types.GenerateContentConfig = types.GenerateContentConfig(
            system_instruction=system or None,
            tools=tools,
            max_output_tokens=self._max_tokens(request),
            temperature=self._temperature(request),
            # The agent runs the tools; the SDK must only report the calls.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            # Structured output in Gemini's own JSON-schema mode.
            response_mime_type="application/json" if native else None,
            response_json_schema=request.output.schema if native and request.output else None,
        )
        return config

    def _contents(self, request: ModelRequest) -> tuple[str, list[genai_types.Content]]:
        system, turns = to_gemini_contents(request)
        return system, [self._types.Content.model_validate(turn) for turn in turns]

    async def _complete_once(self, client: Client, request: ModelRequest) -> ModelResponse:
        system, contents = self._contents(request)
        reply = await client.aio.models.generate_content(
            model=self.model_name, contents=contents, config=self._config(request, system)
        )
        parsed = _Reply()
        parsed.add(reply)
        return parsed.response(self.provider, self.model_name)

    async def _stream_once(
        self, client: Client, request: ModelRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        system, contents = self._contents(request)
        stream = await client.aio.models.generate_content_stream(
            model=self.model_name, contents=contents, config=self._config(request, system)
        )
        parsed = _Reply()
        try:
            async for chunk in stream:
                seen = len(parsed.calls)
                for piece in parsed.add(chunk):
                    yield TextDelta(piece)
                for index, call in enumerate(parsed.calls[seen:], seen):  # calls come whole
                    yield ToolCallDelta(index, call.name, json.dumps(call.args))
        finally:
            close = getattr(stream, "aclose", None)  # frees the connection if we stop early
            if close is not None:
                await close()
        if parsed.finish_reason is None:
            raise stream_cut(self.provider)
        yield ResponseComplete(parsed.response(self.provider, self.model_name))

    # ----- errors -------------------------------------------------------------------------

    def _map_error(self, exc: Exception) -> ModelAPIError | None:
        if isinstance(exc, self._errors.APIError):
            headers = getattr(exc.response, "headers", None)
            kind = exc.status if isinstance(exc.status, str) else None
            if _error_reason(exc.details) == "API_KEY_INVALID":
                kind = "UNAUTHENTICATED"  # Gemini answers a bad key with 400 INVALID_ARGUMENT
            return make_error(
                self.provider,
                exc.message or "",
                status=exc.code if isinstance(exc.code, int) else None,
                kind=kind,
                retry_after=_retry_delay(exc.details) or parse_retry_after(headers),
                secret=self._api_key,
            )
        if isinstance(exc, self._errors.UnknownApiResponseError):
            return make_error(self.provider, str(exc), secret=self._api_key)
        return transport_error(exc, self.provider)


# ----- mapping -----------------------------------------------------------------------------


def to_gemini_contents(request: ModelRequest) -> tuple[str, list[dict[str, Any]]]:
    """The system instruction and the turns as `Content` dicts.

    The assistant is the "model" role; tool results are `functionResponse`
    parts of a user turn, consecutive turns of one role merged. Images are
    `inline_data` parts: before the text of a user message; for tool results
    (whose function responses carry JSON only, before Gemini 3), after all the
    turn's function responses, each tool's images led by a text part naming the call.
    """
    system = [request.system] if request.system else []
    turns: list[dict[str, Any]] = []
    tool_images: list[dict[str, Any]] = []  # parts waiting for the turn's last tool result

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["parts"].extend(parts)
        else:
            turns.append({"role": role, "parts": parts})

    for m in request.messages:
        if m.role != "tool" and tool_images:
            add("user", tool_images)
            tool_images = []
        if m.role == "system":
            system.append(m.content)
        elif m.role == "tool":
            key = "error" if m.is_error else "output"
            response = {"id": m.tool_call_id, "name": m.name or "", "response": {key: m.content}}
            add("user", [{"function_response": response}])
            if m.images:
                tool_images.append({"text": tool_images_caption(m)})
                tool_images.extend(_image_part(image) for image in m.images)
        elif m.role == "assistant":
            parts: list[dict[str, Any]] = [{"text": m.content}] if m.content else []
            signatures = (m.metadata or {}).get(SIGNATURES_KEY) or {}
            for c in m.tool_calls:
                part: dict[str, Any] = {
                    "function_call": {"id": c.id, "name": c.name, "args": arguments_object(c.args)}
                }
                if c.id in signatures:
                    part["thought_signature"] = base64.b64decode(signatures[c.id])
                parts.append(part)
            add("model", parts)
        elif m.images:  # images first: Gemini reads a single image best before the prompt
            text = [{"text": m.content}] if m.content else []
            add("user", [*(_image_part(image) for image in m.images), *text])
        else:
            add("user", [{"text": m.content}])
    add("user", tool_images)
    return "\n\n".join(s for s in system if s), turns


def _image_part(image: Image) -> dict[str, Any]:
    # Raw bytes: the SDK encodes them (URL-safe base64, which the API accepts too).
    return {"inline_data": {"data": image.data, "mime_type": image.media_type}}


class _Reply:
    """Gathers one answer from a response, or from the chunks of a stream."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: list[ToolCall] = []
        self.signatures: dict[str, str] = {}
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.model: str | None = None

    def add(self, reply: genai_types.GenerateContentResponse) -> list[str]:
        """Take in one response or chunk; returns its new text pieces."""
        pieces: list[str] = []
        self.model = reply.model_version or self.model
        if reply.usage_metadata is not None:
            self.usage = reply.usage_metadata  # cumulative: the last one is the total
        if not reply.candidates:
            feedback = reply.prompt_feedback
            if feedback is not None and feedback.block_reason is not None:
                raise BadRequestError(
                    f"gemini blocked the prompt: {_enum_name(feedback.block_reason)}",
                    provider="gemini",
                )
            return pieces
        candidate = reply.candidates[0]
        for part in (candidate.content.parts if candidate.content else None) or ():
            if part.thought:  # a thought summary, not part of the answer
                continue
            if part.function_call is not None:
                call = part.function_call
                call_id = call.id or new_call_id()
                self.calls.append(ToolCall(id=call_id, name=call.name or "", args=call.args or {}))
                if part.thought_signature:
                    self.signatures[call_id] = base64.b64encode(part.thought_signature).decode()
            elif part.text:
                self.text.append(part.text)
                pieces.append(part.text)
        if candidate.finish_reason is not None:
            self.finish_reason = _enum_name(candidate.finish_reason)
        return pieces

    def response(self, provider: str, model: str) -> ModelResponse:
        message = Message(
            role="assistant",
            content="".join(self.text),
            tool_calls=tuple(self.calls),
            metadata={SIGNATURES_KEY: self.signatures} if self.signatures else None,
        )
        stop = self.finish_reason
        if self.calls and stop in (None, "STOP"):
            stop_reason: str | None = "tool_use"
        else:
            stop_reason = _STOP_REASONS.get(stop, stop.lower()) if stop else None
        return ModelResponse(
            message=message,
            usage=_usage(self.usage),
            model=self.model or model,
            provider=provider,
            stop_reason=stop_reason,
        )


def _usage(meta: Any) -> Usage | None:
    """Gemini usage: thoughts are billed as output but counted apart from candidates."""
    if meta is None:
        return None
    thoughts = meta.thoughts_token_count or 0
    return Usage(
        input_tokens=(meta.prompt_token_count or 0) + (meta.tool_use_prompt_token_count or 0),
        output_tokens=(meta.candidates_token_count or 0) + thoughts,
        cache_read_tokens=meta.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


def _json_mode_with_tools(model: str) -> bool:
    """Whether a Gemini model takes a JSON response mode together with tools (3 and later)."""
    found = re.match(r"(?:models/)?gemini-(\d+)", model)
    return found is not None and int(found.group(1)) >= 3


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _error_details(details: Any) -> list[dict[str, Any]]:
    """The `details` list of a Google error body (`{"error": {..., "details": [...]}}`)."""
    error = details.get("error", details) if isinstance(details, dict) else None
    items = error.get("details") if isinstance(error, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _error_reason(details: Any) -> str | None:
    """The `ErrorInfo.reason` of a Google error body, e.g. "API_KEY_INVALID"."""
    for item in _error_details(details):
        if isinstance(item.get("reason"), str):
            return str(item["reason"])
    return None


def _retry_delay(details: Any) -> float | None:
    """The `RetryInfo.retryDelay` ("13s") of a Google error body, in seconds."""
    for item in _error_details(details):
        delay = item.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None
