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


SCENARIOS = {"overhead": overhead, "concurrency": concurrency, "memory": memory}

if __name__ == "__main__":
    args = common.parse_args(list(SCENARIOS))
    SCENARIOS[args.scenario](args.repeats)
    sys.exit(0)
