"""What every vendor adapter shares: keys, error mapping, retries and timing.

The vendor SDKs' own retries are switched off (`max_retries=0`) so that one
policy, `RetryPolicy`, behaves the same for OpenAI, Anthropic and Gemini:
rate limits, overload, server errors, timeouts and dropped connections are
retried with exponential backoff and jitter, honouring the server's
`retry-after`; authentication and bad requests never are. A stream is retried
only while nothing has been yielded from it, so no text is ever sent twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

from deepagents_nb.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MissingAPIKeyError,
    ModelAPIError,
    ModelConnectionError,
    ModelTimeoutError,
    OverloadedError,
    RateLimitError,
    ServerError,
)
from deepagents_nb.models.base import ModelRequest, ModelResponse, ResponseComplete, StreamEvent
from deepagents_nb.models.guard import check_vendor_request

T = TypeVar("T")
ClientT = TypeVar("ClientT")

RETRYABLE: tuple[type[ModelAPIError], ...] = (
    RateLimitError,
    OverloadedError,
    ServerError,
    ModelTimeoutError,
)
"""Errors worth another attempt; `ModelConnectionError` is a `ServerError`."""

REDACTED = "[REDACTED]"
# Vendor key shapes, so that a (partly masked) key quoted by a vendor's error
# message never reaches ours: OpenAI/Anthropic `sk-...`, Google `AIza...`.
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_*.\-]{6,}|\bAIza[0-9A-Za-z_\-]{20,}")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed model call is retried.

    Delays grow as `initial_delay * multiplier ** n`, capped at `max_delay`,
    with +/- `jitter` (a fraction) so that many clients do not retry in step.
    A server's `retry-after` is honoured as given; when it asks for longer
    than `max_delay` the error is raised at once (with its `retry_after`).
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def delay(self, retry: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number `retry` (from 1); None: do not retry."""
        if retry > self.max_retries:
            return None
        if retry_after is not None:
            return max(0.0, retry_after) if retry_after <= self.max_delay else None
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))


async def call_with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Await `call()`, retrying retryable `ModelAPIError`s as `policy` says."""
    retry = 0
    while True:
        try:
            return await call()
        except RETRYABLE as exc:
            retry += 1
            wait = policy.delay(retry, getattr(exc, "retry_after", None))
            if wait is None:
                raise
        await asyncio.sleep(wait)


async def stream_with_retries(
    open_stream: Callable[[], AsyncGenerator[T, None]], policy: RetryPolicy
) -> AsyncGenerator[T, None]:
    """Yield from `open_stream()`, retrying as `call_with_retries` does until the
    first item has been yielded; after that a failure is raised as it is."""
    retry = 0
    while True:
        started = False
        try:
            async with aclosing(open_stream()) as events:
                async for event in events:
                    started = True
                    yield event
            return
        except RETRYABLE as exc:
            retry += 1
            wait = None if started else policy.delay(retry, getattr(exc, "retry_after", None))
            if wait is None:
                raise
        await asyncio.sleep(wait)


# ----- keys -------------------------------------------------------------------------------


def resolve_api_key(
    api_key: str | None, env_vars: Sequence[str], provider: str, *, fallback: str | None = None
) -> str:
    """The explicit key, else the first environment variable set, else `fallback`.

    Raises `MissingAPIKeyError` naming the first variable when there is none.
    """
    if api_key:
        return api_key
    for name in env_vars:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    if fallback is not None:
        return fallback
    raise MissingAPIKeyError(provider, env_vars[0])


def scrub(text: str, secret: str | None = None) -> str:
    """Remove `secret` and anything shaped like a vendor API key from `text`."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, REDACTED)
    return _KEY_LIKE.sub(REDACTED, text)


# ----- error mapping ----------------------------------------------------------------------

# Vendor error kinds (Anthropic `error.type`, Gemini `error.status`, OpenAI
# `error.code`) that say more than the HTTP status, e.g. inside an SSE stream.
_KIND_TO_ERROR: dict[str, type[ModelAPIError]] = {
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": AuthenticationError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "overloaded_error": OverloadedError,
    "UNAVAILABLE": OverloadedError,
    "api_error": ServerError,
    "server_error": ServerError,
    "INTERNAL": ServerError,
    "timeout_error": ModelTimeoutError,
    "DEADLINE_EXCEEDED": ModelTimeoutError,
    "invalid_request_error": BadRequestError,
    "not_found_error": BadRequestError,
    "request_too_large": BadRequestError,
    "INVALID_ARGUMENT": BadRequestError,
    "NOT_FOUND": BadRequestError,
    "FAILED_PRECONDITION": BadRequestError,
}


def error_class(status: int | None, kind: str | None = None) -> type[ModelAPIError]:
    """Our error class for an HTTP status and/or a vendor error kind.

    A specific kind (overloaded, rate limit, auth) wins over the status; a
    generic one ("server_error", "invalid_request_error") only stands in for
    a missing status, as for an error event inside a stream.
    """
    by_kind = _KIND_TO_ERROR.get(kind or "")
    if by_kind is not None and (status is None or by_kind not in (ServerError, BadRequestError)):
        return by_kind
    if status in (401, 403):
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status in (503, 529):
        return OverloadedError
    if status in (408, 504):
        return ModelTimeoutError
    if status is not None and 400 <= status < 500:
        return BadRequestError
    return ServerError


def make_error(
    provider: str,
    message: str,
    *,
    status: int | None = None,
    kind: str | None = None,
    retry_after: float | None = None,
    request_id: str | None = None,
    secret: str | None = None,
) -> ModelAPIError:
    """A typed error with a readable, key-free message."""
    cls = error_class(status, kind)
    head = " ".join(str(p) for p in (provider, status, kind) if p)
    text = f"{head}: {scrub(message, secret)}" if message else head
    if request_id:
        text += f" (request id {request_id})"
    if cls is RateLimitError:
        return RateLimitError(text, provider=provider, status_code=status, retry_after=retry_after)
    return cls(text, provider=provider, status_code=status)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return float(lowered["retry-after-ms"]) / 1000
        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None


def transport_error(exc: BaseException, provider: str) -> ModelAPIError | None:
    """Map an httpx/httpx2 transport failure (raw or wrapped by an SDK), else None.

    Matched by class name so it works whichever httpx flavour an SDK uses.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"TimeoutException", "APITimeoutError"}:
        return ModelTimeoutError(f"{provider}: the request timed out", provider=provider)
    if names & {"TransportError", "APIConnectionError"}:
        cause = exc.__cause__ or exc
        return ModelConnectionError(
            f"{provider}: the connection failed or was cut ({type(cause).__name__}: "
            f"{scrub(str(cause))})",
            provider=provider,
        )
    return None


def stream_cut(provider: str) -> ModelConnectionError:
    """The error for a stream that ended without its closing event."""
    return ModelConnectionError(
        f"{provider}: the stream ended before the response was complete", provider=provider
    )


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
