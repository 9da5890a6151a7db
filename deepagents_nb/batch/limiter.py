"""An adaptive rate limiter for a batch's model calls, and the model wrapper that uses it.

One `RateLimiter` per provider and model is shared by every row. It lets at most
`limit` calls run at once: a 429 halves the limit (after waiting what the
server's `retry-after` asks), and each run of `limit` successes raises it by one
again, up to `max_concurrency` (additive increase, multiplicative decrease).
Optional caps: `rpm` spaces call starts evenly; `tpm` holds new calls while the
last minute's tokens reach it. A 429 never fails a row: the call waits and
tries again (up to `max_waits` times).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from deepagents_nb.exceptions import ConfigurationError, RateLimitError
from deepagents_nb.models.base import ChatModel, ModelRequest, ModelResponse, StreamEvent

T = TypeVar("T")
DEFAULT_WAIT = 1.0
"""Seconds to wait after a 429 that names no retry-after."""


@dataclass
class LimiterStats:
    """What the limiter has seen: shown in the progress display."""

    rate_limited: int = 0
    waited_seconds: float = 0.0


@dataclass
class RateLimiter:
    """Adaptive concurrency plus optional request and token caps (see the module)."""

    max_concurrency: int
    rpm: float | None = None
    tpm: float | None = None
    max_waits: int = 20
    limit: int = field(init=False)
    stats: LimiterStats = field(default_factory=LimiterStats, init=False)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, got {self.max_concurrency}")
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be positive, got {value!r}")
        self.limit = self.max_concurrency
        self._running = 0
        self._streak = 0
        self._changed = asyncio.Condition()
        self._next_start = 0.0
        self._resume_at = 0.0
        self._tokens: deque[tuple[float, int]] = deque()

    async def call(self, make: Callable[[], Awaitable[T]], tokens: Callable[[T], int]) -> T:
        """Await `make()` under the limits; a 429 waits, halves the limit, and retries."""
        for _ in range(self.max_waits + 1):
            await self._enter()
            try:
                result = await make()
            except RateLimitError as exc:
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_WAIT
                # Every caller holds off until then, not just this one: the server said
                # when it takes requests again, and a herd of early retries is refused.
                self._resume_at = max(self._resume_at, asyncio.get_running_loop().time() + wait)
                await self._leave(ok=False)
                self.stats.rate_limited += 1
                self.stats.waited_seconds += wait
                continue
            except BaseException:
                await self._leave(ok=None)
                raise
            self._count(tokens(result))
            await self._leave(ok=True)
            return result
        raise RateLimitError(
            f"still rate limited after waiting {self.max_waits} times "
            f"({self.stats.waited_seconds:.0f} s in all); lower concurrency or rpm"
        )

    async def _enter(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._running < self.limit)
            self._running += 1
        try:
            await self._pace()
        except BaseException:  # cancelled while held back: the slot goes back
            await self._leave(ok=None)
            raise

    async def _leave(self, ok: bool | None) -> None:
        async with self._changed:
            self._running -= 1
            if ok is False:
                self.limit = max(1, self.limit // 2)
                self._streak = 0
            elif ok and self.limit < self.max_concurrency:
                self._streak += 1
                if self._streak >= self.limit:
                    self.limit += 1
                    self._streak = 0
            self._changed.notify_all()

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < self._resume_at:  # a 429's retry-after holds every caller
            await asyncio.sleep(self._resume_at - loop.time())
        if self.rpm is not None:
            start = max(loop.time(), self._next_start)
            self._next_start = start + 60.0 / self.rpm
            await asyncio.sleep(start - loop.time())
        if self.tpm is not None:
            while True:
                now = time.monotonic()
                while self._tokens and self._tokens[0][0] <= now - 60.0:
                    self._tokens.popleft()
                if not self._tokens or sum(n for _, n in self._tokens) < self.tpm:
                    return
                await asyncio.sleep(self._tokens[0][0] + 60.0 - now)

    def _count(self, tokens: int) -> None:
        if self.tpm is not None and tokens:
            self._tokens.append((time.monotonic(), tokens))


def _response_tokens(response: ModelResponse) -> int:
    usage = response.usage
    return usage.input_tokens + usage.output_tokens if usage is not None else 0


class LimitedModel:
    """A `ChatModel` whose calls go through a `RateLimiter` (what a batch's rows use)."""

    def __init__(self, model: ChatModel, limiter: RateLimiter) -> None:
        self.inner = model
        self.limiter = limiter

    @property
    def provider(self) -> str:
        return self.inner.provider

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self.limiter.call(lambda: self.inner.complete(request), _response_tokens)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        # A batch reads whole answers: the stream is the completed response.
        from deepagents_nb.models.base import ResponseComplete

        yield ResponseComplete(await self.complete(request))
