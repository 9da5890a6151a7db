"""Scenarios (i) to (k) for deepagents-nb: batches of one-call rows. Runs in `.venv`.

- `map-rate` (i): `common.RATE_LIMIT_ROWS` rows against `rate_server.py` (100
  requests/s, token bucket of 5, 429 with retry-after) through `OpenAIChatModel`,
  three ways: `agent.amap(concurrency=16)` (its adaptive `RateLimiter`), the same
  with `rpm=6000` (the limit, paced), and what people write today, a plain
  `asyncio.gather` over `agent.ahandle_message` under a semaphore of 16 (no
  limiter: only the adapter's own retries).
- `map-rows` (j): rows per second through `agent.amap` with an instant model, and
  through the plain gather for comparison.
- `map-memory` (k): the Python heap still held after 10,000 finished rows of
  `agent.amap` in an `InMemoryCheckpointer`, with the result DataFrame kept and
  without it.

The agent is the default stack (`create_deep_agent`) everywhere. The instant
model is a minimal `ChatModel` answering `common.answer_for` the row's message.

    .venv/bin/python benchmarks/ours_batch.py map-rate --repeats 1 --rows 500
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import common
from rate_server import RateServer

from deepagents_nb import DeepAgent, InMemoryCheckpointer, Message, Usage, create_deep_agent
from deepagents_nb.models.base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
)

FRAMEWORK = "ours"
PACED_RPM = 60 * common.RATE_LIMIT_RPS  # rpm=6000: the server's limit, as a user would pass it


class InstantModel:
    """Answers each row at once, from its last user message."""

    provider = "benchmark"
    model_name = "benchmark-fake"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        last = next(m for m in reversed(request.messages) if m.role == "user")
        message = Message.assistant(common.answer_for(str(last.content)))
        usage = Usage(input_tokens=10, output_tokens=5)
        return ModelResponse(message=message, usage=usage, model=self.model_name)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        yield ResponseComplete(await self.complete(request))


def build_agent(model: ChatModel) -> DeepAgent:
    """The default stack, a fresh in-memory store per batch."""
    return create_deep_agent(model=model, checkpointer=InMemoryCheckpointer())


async def map_rows(
    agent: DeepAgent, prompts: list[str], *, rpm: float | None = None
) -> tuple[common.RowResults, Any]:
    """`agent.amap` over the prompts: each row's answer or its error, and the DataFrame."""
    frame = await agent.amap(
        prompts,
        concurrency=common.BATCH_CONCURRENCY,
        rpm=rpm,
        batch_id=f"bench-{uuid.uuid4().hex[:8]}",  # a new batch: no row is found done
        progress=False,
    )
    results: common.RowResults = [
        str(output) if status == "done" else RuntimeError(f"{status}: {error}")
        for output, status, error in zip(frame.output, frame.status, frame.error, strict=True)
    ]
    return results, frame


async def gather_rows(agent: DeepAgent, prompts: list[str]) -> common.RowResults:
    """What people write today: `asyncio.gather` over `ahandle_message`, a semaphore of 16."""
    slots = asyncio.Semaphore(common.BATCH_CONCURRENCY)

    async def one(prompt: str) -> str:
        async with slots:
            result = await agent.ahandle_message(prompt, thread_id=uuid.uuid4().hex)
        return result.text

    return await asyncio.gather(*(one(p) for p in prompts), return_exceptions=True)


# ----- (i) against a rate-limited server --------------------------------------------------


def map_rate(repeats: int, rows: int | None) -> None:
    from deepagents_nb.models.openai import OpenAIChatModel

    rows = rows or common.RATE_LIMIT_ROWS
    metrics: dict[str, list[float]] = {}
    details: dict[str, Any] = {}

    async def main(server: RateServer) -> None:
        model = OpenAIChatModel("gpt-4o-mini", base_url=server.url, api_key="bench")

        async def by_map(prompts: list[str]) -> common.RowResults:
            return (await map_rows(build_agent(model), prompts))[0]

        async def by_paced_map(prompts: list[str]) -> common.RowResults:
            return (await map_rows(build_agent(model), prompts, rpm=PACED_RPM))[0]

        async def by_gather(prompts: list[str]) -> common.RowResults:
            return await gather_rows(build_agent(model), prompts)

        variants: dict[str, common.RunRows] = {
            "map": by_map,
            "map rpm": by_paced_map,
            "gather": by_gather,
        }
        try:
            for name, run_rows in variants.items():
                samples, info = await common.rate_limited_samples(run_rows, server, rows, repeats)
                for metric, values in samples.items():
                    metrics[f"{name}.{metric}"] = values
                details[name] = info
        finally:
            await model.aclose()

    with RateServer() as server:
        asyncio.run(main(server))
    common.emit(FRAMEWORK, "map-rate", metrics, variants=details, rpm=PACED_RPM)


# ----- (j) rows per second, instant model -------------------------------------------------


def map_instant(repeats: int, rows: int | None) -> None:
    model = InstantModel()

    async def by_map(prompts: list[str]) -> common.RowResults:
        return (await map_rows(build_agent(model), prompts))[0]

    async def by_gather(prompts: list[str]) -> common.RowResults:
        return await gather_rows(build_agent(model), prompts)

    metrics = {}
    for name, run_rows in {"map": by_map, "gather": by_gather}.items():
        model.calls = 0
        metrics[f"{name}.rows_per_s"] = asyncio.run(common.instant_samples(run_rows, repeats))
        expected = common.WARM_UP_ROWS + repeats * common.INSTANT_ROWS
        assert model.calls == expected, (name, model.calls, expected)  # one call per row
    common.emit(FRAMEWORK, "map-rows", metrics, rows=common.INSTANT_ROWS)


# ----- (k) memory per 10,000 finished rows ------------------------------------------------


def map_memory(repeats: int, rows: int | None) -> None:
    """tracemalloc: heap still held after `agent.amap` of 10,000 rows (store, ledger, frame)."""
    count = rows or common.MEMORY_ROWS
    scale = common.MEMORY_ROWS / count / 2**20  # bytes to MiB per 10,000 rows
    without_frame: list[float] = []

    async def one_repeat() -> float:
        model = InstantModel()
        store = InMemoryCheckpointer()
        agent = create_deep_agent(model=model, checkpointer=store)
        warm_up = [common.row_prompt(i) for i in range(count, count + common.WARM_UP_ROWS)]
        await map_rows(agent, warm_up)  # imports and first-call costs, not counted
        prompts = [common.row_prompt(i) for i in range(count)]
        await common.settle()
        before = tracemalloc.get_traced_memory()[0]
        results, frame = await map_rows(agent, prompts)
        await common.settle()
        with_frame = tracemalloc.get_traced_memory()[0] - before
        if common.check_rows(prompts, results, "memory rows"):
            raise AssertionError(f"memory rows: {common.first_error(results)}")
        assert model.calls == count + common.WARM_UP_ROWS
        assert len(await agent.alist_threads()) == count + common.WARM_UP_ROWS
        del frame, results
        await common.settle()
        without_frame.append((tracemalloc.get_traced_memory()[0] - before) * scale)
        return with_frame * scale

    samples = common.memory_samples(one_repeat, repeats)
    common.emit(
        FRAMEWORK,
        "map-memory",
        {"mib_per_10k": samples, "mib_per_10k_without_frame": without_frame},
        rows=count,
        store="InMemoryCheckpointer",
    )


SCENARIOS: dict[str, Callable[[int, int | None], None]] = {
    "map-rate": map_rate,
    "map-rows": map_instant,
    "map-memory": map_memory,
}

if __name__ == "__main__":
    args = common.parse_args(list(SCENARIOS))
    SCENARIOS[args.scenario](args.repeats, args.rows)
    sys.exit(0)
