"""Retries of failed model calls: one policy for every vendor.

The vendor SDKs' own retries are switched off (`max_retries=0`) so that one
policy, `RetryPolicy`, behaves the same for OpenAI, Anthropic and Gemini:
rate limits, overload, server errors, timeouts and dropped connections are
retried with exponential backoff and jitter, honouring the server's
`retry-after`; authentication and bad requests never are. A stream is retried
only while nothing has been yielded from it, so no text is ever sent twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

from deepagents_nb.exceptions import (
    ModelAPIError,
    ModelTimeoutError,
    OverloadedError,
    RateLimitError,
    ServerError,
)

T = TypeVar("T")

RETRYABLE: tuple[type[ModelAPIError], ...] = (
    RateLimitError,
    OverloadedError,
    ServerError,
    ModelTimeoutError,
)
"""Errors worth another attempt; `ModelConnectionError` is a `ServerError`."""


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
