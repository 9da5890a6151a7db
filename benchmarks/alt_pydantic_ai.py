"""Scenarios for `pydantic-ai` (its `Agent` with one async tool).

Runs in `benchmarks/.envs/alternatives`. The fake model is a small `Model`
subclass answering from the last message (see `common.py`); it is leaner than
pydantic-ai's own `FunctionModel`, which also estimates token usage by walking
the whole history on every call.

    python benchmarks/alt_pydantic_ai.py overhead --repeats 15
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from functools import partial
from typing import Any

import common
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage, UsageLimits

FRAMEWORK = "pydantic-ai"
COUNTER = common.Counter()
NO_LIMITS = UsageLimits(request_limit=None)  # the default stops a run at 50 model calls


class FakeModel(Model):
    """Follows the shared script; awaits `delay` seconds per call when set."""

    def __init__(self, tool_calls: int, delay: float = 0.0) -> None:
        super().__init__()
        self.tool_calls = tool_calls
        self.delay = delay

    @property
    def model_name(self) -> str:
        return "benchmark-fake"

    @property
    def system(self) -> str:
        return "benchmark"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        COUNTER.model_calls += 1
        last = messages[-1].parts[-1] if isinstance(messages[-1], ModelRequest) else None
        result = last.content if isinstance(last, ToolReturnPart) else None
        n = common.next_step(None if result is None else str(result), self.tool_calls)
        usage = RequestUsage(input_tokens=10, output_tokens=5)
        if n is None:
            return ModelResponse(parts=[TextPart(common.ANSWER)], usage=usage)
        call = ToolCallPart(common.TOOL_NAME, {"n": n}, tool_call_id=f"call_{n}")
        return ModelResponse(parts=[call], usage=usage, model_name="benchmark-fake")


async def echo(n: int) -> str:
    """Return the number it is given."""
    COUNTER.tool_calls += 1
    return str(n)


def build_agent(tool_calls: int, delay: float = 0.0) -> Agent[None, str]:
    return Agent(FakeModel(tool_calls, delay), tools=[echo])


async def _run(agent: Agent[None, str], text: str) -> Any:
    result = await agent.run(text, usage_limits=NO_LIMITS)
    assert result.output == common.ANSWER, result.output
    return result


# ----- (a) overhead per step --------------------------------------------------------------


def overhead(repeats: int) -> None:
    agent = build_agent(common.OVERHEAD_TOOL_CALLS)
    samples = asyncio.run(common.overhead_samples(partial(_run, agent), COUNTER, repeats))
    calls = common.OVERHEAD_TOOL_CALLS + 1
    common.emit(FRAMEWORK, "overhead", {"step_us": samples}, model_calls=calls)


# ----- (b) concurrency --------------------------------------------------------------------


def concurrency(repeats: int) -> None:
    agent = build_agent(common.CONCURRENT_TOOL_CALLS, delay=common.MODEL_DELAY_S)
    samples = asyncio.run(common.concurrency_samples(partial(_run, agent), COUNTER, repeats))
    common.emit(FRAMEWORK, "concurrency", {"wall_s": samples})


# ----- (d) memory per thread --------------------------------------------------------------


def memory(repeats: int) -> None:
    """Heap growth (tracemalloc) of keeping 1,000 threads' message lists in a dict.

    pydantic-ai has no thread store: a user keeps `result.all_messages()` per
    conversation and passes it back as `message_history`, which is what this does.
    """

    async def one_repeat() -> float:
        agent = build_agent(common.MEMORY_TOOL_CALLS)
        threads: dict[str, list[ModelMessage]] = {}

        async def run_thread(text: str, thread_id: str) -> None:
            threads[thread_id] = (await _run(agent, text)).all_messages()

        kib = await common.kib_per_thread(run_thread, COUNTER)
        assert len(threads["thread-7"]) == 2 * common.MEMORY_TOOL_CALLS + 2
        return kib

    samples = common.memory_samples(one_repeat, repeats)
    common.emit(FRAMEWORK, "memory", {"kib_per_thread": samples}, store="dict of all_messages()")


# ----- (l) tracing ------------------------------------------------------------------------


def tracing(repeats: int) -> None:
    """(a)'s run, untraced and with pydantic-ai's built-in OpenTelemetry instrumentation.

    The instrumentation is the `Instrumentation` capability (what `Agent.instrument`
    and `logfire.instrument_pydantic_ai()` turn on), given `InstrumentationSettings`
    with the traced agent's own SDK `TracerProvider`: a `SimpleSpanProcessor` into an
    `InMemorySpanExporter`. Spans are made and ended as the run goes, so all are
    exported when `agent.run` returns. "on" leaves message content off
    (`include_content=False`, like ours by default); "on, content" is pydantic-ai's
    default (prompts, answers, tool arguments and results on the spans).
    """
    from collections import Counter

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from pydantic_ai.capabilities import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings

    tool_calls = common.OVERHEAD_TOOL_CALLS
    per_run = {
        "invoke_agent agent": 1,
        "chat benchmark-fake": tool_calls + 1,
        f"execute_tool {common.TOOL_NAME}": tool_calls,
    }

    def traced(include_content: bool) -> tuple[common.RunOnce, common.SpanCheck]:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        settings = InstrumentationSettings(
            tracer_provider=provider, include_content=include_content
        )
        agent = Agent(
            FakeModel(tool_calls),
            tools=[echo],
            capabilities=[Instrumentation(settings=settings)],
        )

        def check() -> None:
            found = Counter(span.name for span in exporter.get_finished_spans())
            common.expect_spans(found, per_run, "tracing")
            exporter.clear()

        return partial(_run, agent), check

    variants: dict[str, tuple[common.RunOnce, common.SpanCheck | None]] = {
        common.TRACING_OFF: (partial(_run, build_agent(tool_calls)), None),
        "on": traced(include_content=False),
        "on, content": traced(include_content=True),
    }
    metrics = asyncio.run(common.tracing_samples(variants, COUNTER, repeats))
    common.emit(
        FRAMEWORK,
        "tracing",
        metrics,
        model_calls=tool_calls + 1,
        spans_per_run=per_run,
        processor="SimpleSpanProcessor",
    )


# ----- (i) to (k): batches of one-call rows -----------------------------------------------


class InstantModel(Model):
    """Answers each row at once, from its last user prompt (like ours' `InstantModel`)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    @property
    def model_name(self) -> str:
        return "benchmark-fake"

    @property
    def system(self) -> str:
        return "benchmark"

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        self.calls += 1
        prompt = next(
            part.content
            for message in reversed(messages)
            if isinstance(message, ModelRequest)
            for part in reversed(message.parts)
            if isinstance(part, UserPromptPart)
        )
        usage = RequestUsage(input_tokens=10, output_tokens=5)
        answer = common.answer_for(str(prompt))
        return ModelResponse(parts=[TextPart(answer)], usage=usage, model_name="benchmark-fake")


async def gather_rows(agent: Agent[None, str], prompts: list[str]) -> list[Any]:
    """pydantic-ai has no batch call: `asyncio.gather` over `agent.run`, a semaphore of 16.

    Returns each row's `AgentRunResult`, or the error its run ended in.
    """
    slots = asyncio.Semaphore(common.BATCH_CONCURRENCY)

    async def one(prompt: str) -> Any:
        async with slots:
            return await agent.run(prompt)

    return await asyncio.gather(*(one(p) for p in prompts), return_exceptions=True)


def _answers(outputs: list[Any]) -> common.RowResults:
    return [o if isinstance(o, BaseException) else str(o.output) for o in outputs]


def map_rate(repeats: int, rows: int | None) -> None:
    """(i): the gather over an `OpenAIChatModel` that talks to the rate-limited server."""
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    from rate_server import RateServer

    async def main(server: RateServer) -> tuple[dict[str, list[float]], dict[str, Any]]:
        # The provider's own AsyncOpenAI client: the SDK retries a 429 twice (retry-after).
        provider = OpenAIProvider(base_url=server.url, api_key="bench")
        agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider))

        async def run_rows(prompts: list[str]) -> common.RowResults:
            return _answers(await gather_rows(agent, prompts))

        count = rows or common.RATE_LIMIT_ROWS
        return await common.rate_limited_samples(run_rows, server, count, repeats)

    with RateServer() as server:
        samples, info = asyncio.run(main(server))
    common.emit(FRAMEWORK, "map-rate", samples, **info)


def map_rows(repeats: int, rows: int | None) -> None:
    """(j): rows per second through the gather with an instant model."""
    model = InstantModel()
    agent = Agent(model)

    async def run_rows(prompts: list[str]) -> common.RowResults:
        return _answers(await gather_rows(agent, prompts))

    samples = asyncio.run(common.instant_samples(run_rows, repeats))
    assert model.calls == common.WARM_UP_ROWS + repeats * common.INSTANT_ROWS, model.calls
    common.emit(FRAMEWORK, "map-rows", {"rows_per_s": samples}, rows=common.INSTANT_ROWS)


def map_memory(repeats: int, rows: int | None) -> None:
    """(k): heap still held by 10,000 rows' `all_messages()` (pydantic-ai keeps nothing itself)."""
    count = rows or common.MEMORY_ROWS

    async def one_repeat() -> float:
        model = InstantModel()
        agent = Agent(model)
        warm_up = [common.row_prompt(i) for i in range(count, count + common.WARM_UP_ROWS)]
        await gather_rows(agent, warm_up)
        prompts = [common.row_prompt(i) for i in range(count)]
        await common.settle()
        before = tracemalloc.get_traced_memory()[0]
        outputs = await gather_rows(agent, prompts)
        kept = [o if isinstance(o, BaseException) else o.all_messages() for o in outputs]
        answers = _answers(outputs)
        del outputs
        await common.settle()
        grown = tracemalloc.get_traced_memory()[0] - before
        if common.check_rows(prompts, answers, "memory rows"):
            raise AssertionError(f"memory rows: {common.first_error(answers)}")
        assert model.calls == count + common.WARM_UP_ROWS and len(kept[7]) == 2
        return grown / 2**20 * common.MEMORY_ROWS / count

    samples = common.memory_samples(one_repeat, repeats)
    store = "list of all_messages()"
    common.emit(FRAMEWORK, "map-memory", {"mib_per_10k": samples}, rows=count, store=store)


SCENARIOS = {
    "overhead": overhead,
    "concurrency": concurrency,
    "memory": memory,
    "tracing": tracing,
}
BATCH_SCENARIOS = {"map-rate": map_rate, "map-rows": map_rows, "map-memory": map_memory}

if __name__ == "__main__":
    args = common.parse_args([*SCENARIOS, *BATCH_SCENARIOS])
    if args.scenario in BATCH_SCENARIOS:
        BATCH_SCENARIOS[args.scenario](args.repeats, args.rows)
    else:
        SCENARIOS[args.scenario](args.repeats)
    sys.exit(0)
