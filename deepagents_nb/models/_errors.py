"""API keys and vendor errors: where a key comes from, and typed, key-free errors.

Every adapter maps its SDK's failures through `make_error` (an HTTP status
and/or a vendor error kind to our `ModelAPIError` subclasses) and
`transport_error` (timeouts, dropped connections); messages pass through
`scrub`, so no API key ever reaches an error, a log or an event.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime

from deepagents_nb.exceptions import (
    AuthenticationError,
    BadRequestError,
    MissingAPIKeyError,
    ModelAPIError,
    ModelConnectionError,
    ModelTimeoutError,
    OverloadedError,
    RateLimitError,
    ServerError,
)

REDACTED = "[REDACTED]"
# Vendor key shapes, so that a (partly masked) key quoted by a vendor's error
# message never reaches ours: OpenAI/Anthropic `sk-...`, Google `AIza...`.
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_*.\-]{6,}|\bAIza[0-9A-Za-z_\-]{20,}")


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
