"""What every vendor adapter shares: the guard, retries, error mapping, timing.

`VendorModel` is the base of the OpenAI, Anthropic and Gemini adapters; the
helpers below turn tool-call arguments to and from the vendors' forms,
and images into them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import weakref
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, Generic, TypeVar

from deepagents_nb.exceptions import ConfigurationError, ModelAPIError
from deepagents_nb.messages import Image, Message
from deepagents_nb.models._errors import transport_error
from deepagents_nb.models._retry import RetryPolicy, call_with_retries, stream_with_retries
from deepagents_nb.models.base import ModelRequest, ModelResponse, ResponseComplete, StreamEvent
from deepagents_nb.models.guard import check_vendor_request

ClientT = TypeVar("ClientT")


# ----- tool arguments ---------------------------------------------------------------------


def parse_arguments(raw: str) -> dict[str, Any] | str:
    """Tool-call arguments as a dict; the raw text when it is not a JSON object,
    so the agent can tell the model what was wrong."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, dict) else raw


def arguments_object(args: dict[str, Any] | str) -> dict[str, Any]:
    """Arguments for vendors that want an object back; invalid JSON is kept as text."""
    return args if isinstance(args, dict) else {"_raw_arguments": args}


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# ----- images -----------------------------------------------------------------------------


def image_base64(image: Image) -> str:
    """The image's bytes in standard (not URL-safe) base64, as the vendors' JSON wants them."""
    return base64.b64encode(image.data).decode("ascii")


def tool_images_caption(message: Message) -> str:
    """The text that says whose images follow, for vendors whose tool results carry none."""
    return f"Images from the tool call {message.tool_call_id} ({message.name or 'tool'}):"


# ----- the adapter base -------------------------------------------------------------------


class VendorModel(Generic[ClientT]):
    """Base of the vendor adapters: guard, retries, error mapping, timing, safe repr.

    Subclasses implement `_new_client`, `_complete_once`, `_stream_once` and
    `_map_error`. The SDK client is made once per event loop: a notebook may
    use one model from Jupyter's loop and from the sync wrappers' loop, and an
    HTTP connection pool must not be shared between loops.
    """

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        api_key: str,
        base_url: str | None,
        max_tokens: int | None,
        temperature: float | None,
        timeout: float,
        max_retries: int,
        retry_policy: RetryPolicy | None,
    ) -> None:
        if not model:
            raise ConfigurationError(f"a {provider} model needs a model name, e.g. model=...")
        self._provider = provider
        self._model_name = model
        self._api_key = api_key
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientT] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model_name(self) -> str:
        return self._model_name

    def __repr__(self) -> str:
        # Never the key: only what identifies the endpoint and model.
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return (
            f"{type(self).__name__}(provider={self._provider!r}, model={self._model_name!r}{where})"
        )

    # ----- to implement ---------------------------------------------------------------------

    def _new_client(self) -> ClientT:
        raise NotImplementedError

    async def _complete_once(self, client: ClientT, request: ModelRequest) -> ModelResponse:
        raise NotImplementedError

    def _stream_once(
        self, client: ClientT, request: ModelRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        raise NotImplementedError

    def _map_error(self, exc: Exception) -> ModelAPIError | None:
        """The typed error for a vendor exception, or None to let it through."""
        return transport_error(exc, self._provider)

    async def _close_client(self, client: ClientT) -> None:
        close = getattr(client, "close", None)
        if close is not None:
            await close()

    async def aclose(self) -> None:
        """Close the HTTP connections this model opened on the running event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await self._close_client(client)

    # ----- shared behaviour -----------------------------------------------------------------

    @property
    def client(self) -> ClientT:
        """The vendor SDK client for the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._new_client()
        return client

    def _mapped(self, exc: Exception) -> Exception:
        if isinstance(exc, ModelAPIError):
            return exc
        mapped = self._map_error(exc)
        return exc if mapped is None else mapped

    def _check(self) -> None:
        check_vendor_request(self._provider, self.base_url)

    # A mapped error is raised after the `except` block, so that it is neither
    # caused by nor chained to the vendor exception: that one holds the request,
    # auth header included.

    async def _attempt(self, request: ModelRequest) -> ModelResponse:
        self._check()
        try:
            return await self._complete_once(self.client, request)
        except Exception as exc:
            mapped = self._mapped(exc)
            if mapped is exc:
                raise
        raise mapped

    async def _attempt_stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        self._check()
        try:
            async with aclosing(self._stream_once(self.client, request)) as events:
                async for event in events:
                    yield event
            return
        except Exception as exc:
            mapped = self._mapped(exc)
            if mapped is exc:
                raise
        raise mapped

    async def complete(self, request: ModelRequest) -> ModelResponse:
        started = time.perf_counter()
        response = await call_with_retries(lambda: self._attempt(request), self.retry_policy)
        response.duration_ms = elapsed_ms(started)
        return response

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamEvent, None]:
        started = time.perf_counter()
        events = stream_with_retries(lambda: self._attempt_stream(request), self.retry_policy)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, ResponseComplete):
                    event.response.duration_ms = elapsed_ms(started)
                yield event

    def _max_tokens(self, request: ModelRequest) -> int | None:
        return request.max_tokens if request.max_tokens is not None else self.max_tokens

    def _temperature(self, request: ModelRequest) -> float | None:
        return request.temperature if request.temperature is not None else self.temperature
