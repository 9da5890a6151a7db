"""The batch's rate limiter: alone, and against a rate-limited server through the OpenAI SDK."""

from __future__ import annotations

import asyncio
import time

import pytest
from rate_limited_server import RateLimitedServer

from deepagents_nb import InMemoryCheckpointer, create_deep_agent
from deepagents_nb.batch import RateLimiter
from deepagents_nb.exceptions import ConfigurationError, RateLimitError


async def test_a_429_waits_its_retry_after_halves_the_limit_and_success_raises_it_again() -> None:
    limiter = RateLimiter(8)
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise RateLimitError("slow down", retry_after=0.05)
        return "ok"

    started = time.monotonic()
    assert await limiter.call(flaky, lambda _: 0) == "ok"

    assert attempts == 3 and time.monotonic() - started >= 0.1
    assert limiter.limit == 2 and limiter.stats.rate_limited == 2
    for _ in range(2 + 3):  # a run of `limit` successes adds one
        await limiter.call(lambda: asyncio.sleep(0, "ok"), lambda _: 0)
    assert limiter.limit == 4


async def test_no_more_calls_run_at_once_than_the_limit() -> None:
    limiter = RateLimiter(3)
    running = peak = 0

    async def call() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(limiter.call(call, lambda _: 0) for _ in range(20)))

    assert peak == 3


async def test_rpm_spaces_the_calls_and_tpm_holds_them() -> None:
    paced = RateLimiter(10, rpm=600)  # one call per 0.1 s
    started = time.monotonic()
    await asyncio.gather(*(paced.call(lambda: asyncio.sleep(0), lambda _: 0) for _ in range(4)))
    assert time.monotonic() - started >= 0.3

    capped = RateLimiter(10, tpm=100)
    await capped.call(lambda: asyncio.sleep(0), lambda _: 100)
    second = asyncio.ensure_future(capped.call(lambda: asyncio.sleep(0), lambda _: 1))
    await asyncio.sleep(0.05)
    assert not second.done()  # the minute's tokens are spent
    second.cancel()


def test_bad_settings() -> None:
    with pytest.raises(ConfigurationError, match="concurrency must be at least 1"):
        RateLimiter(0)
    with pytest.raises(ConfigurationError, match="rpm must be positive"):
        RateLimiter(2, rpm=0)


async def test_a_limiter_that_keeps_being_refused_fails_clearly() -> None:
    limiter = RateLimiter(2, max_waits=2)

    async def refused() -> None:
        raise RateLimitError("no", retry_after=0.0)

    with pytest.raises(RateLimitError, match="still rate limited after waiting 2 times"):
        await limiter.call(refused, lambda _: 0)


@pytest.mark.timeout(120)
async def test_300_rows_against_a_rate_limited_server_all_finish_and_rerun_for_free() -> None:
    from deepagents_nb.models.openai import OpenAIChatModel

    texts = [("bad " if i % 3 == 0 else "good ") + str(i) for i in range(300)]
    with RateLimitedServer(rate=100, burst=5) as server:
        model = OpenAIChatModel("gpt-4o-mini", base_url=server.url, api_key="test")
        agent = create_deep_agent(model=model, checkpointer=InMemoryCheckpointer())

        out = await agent.amap(texts, "Sentiment of: {value}", concurrency=16, progress=False)

        assert out.status.value_counts().to_dict() == {"done": 300}
        assert out.output.tolist() == [
            "negative" if t.startswith("bad") else "positive" for t in texts
        ]
        assert server.refused > 0  # the limit was really hit, and no row failed for it
        answered = server.answered
        again = await agent.amap(texts, "Sentiment of: {value}", concurrency=16, progress=False)
        assert again.status.eq("done").all() and server.answered == answered  # 0 model calls
        await model.aclose()
