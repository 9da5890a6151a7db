"""Scenarios for deepagents-nb. Runs in the project's `.venv`.

Two configurations of the agent, both with the same async `echo` tool and the
default in-memory checkpointer (a checkpoint after every step):

- "default stack": `create_deep_agent(...)` as a user gets it (planning,
  filesystem, the general-purpose sub-agent, summarization, prompt caching);
- "bare": `DeepAgent(AgentConfig(...))` with no middleware at all.

The fake model is a minimal `ChatModel`: it answers from the last message
(see `common.py`) with one `ModelResponse` carrying a fixed usage.

    .venv/bin/python benchmarks/ours.py overhead --repeats 15
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import common

from deepagents_nb import (
    AgentStateSnapshot,
    Checkpointer,
    DeepAgent,
    EventDispatcher,
    InMemoryCheckpointer,
    Message,
    SqliteCheckpointer,
    TokenUsage,
    ToolCall,
    ToolCompleted,
    ToolStarted,
    Usage,
    create_deep_agent,
    tool,
)
from deepagents_nb.agent import AgentConfig
from deepagents_nb.events import EventBase, StateCheckpointed
from deepagents_nb.models.base import ModelRequest, ModelResponse, ResponseComplete, StreamEvent
from deepagents_nb.security import sanitize_json, sanitize_tool_payload

FRAMEWORK = "ours"
COUNTER = common.Counter()
MAX_TURNS = 1000  # the default (50) would stop scenario (a)'s 51 model calls


class FakeModel:
    """Follows the shared script; awaits `delay` seconds per call when set."""

    provider = "benchmark"
    model_name = "benchmark-fake"

    def __init__(self, tool_calls: int, delay: float = 0.0) -> None:
        self.tool_calls = tool_calls
        self.delay = delay

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        COUNTER.model_calls += 1
        last = request.messages[-1]
        n = common.next_step(last.content if last.role == "tool" else None, self.tool_calls)
        if n is None:
            message = Message.assistant(common.ANSWER)
        else:
            call = ToolCall(name=common.TOOL_NAME, args={"n": n}, id=f"call_{n}")
            message = Message.assistant(tool_calls=[call])
        usage = Usage(input_tokens=10, output_tokens=5)
        return ModelResponse(message=message, usage=usage, model=self.model_name)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        yield ResponseComplete(await self.complete(request))


@tool(name=common.TOOL_NAME)
async def echo(n: int) -> str:
    """Return the number it is given."""
    COUNTER.tool_calls += 1
    return str(n)


def build_agent(
    variant: str,
    tool_calls: int,
    delay: float = 0.0,
    checkpointer: Checkpointer | None = None,
    dispatcher: EventDispatcher | None = None,
) -> DeepAgent:
    model = FakeModel(tool_calls, delay)
    if variant == "bare":
        config = AgentConfig(model=model, tools=[echo], max_turns=MAX_TURNS)
        if checkpointer is not None:
            config.checkpointer = checkpointer
        if dispatcher is not None:
            config.dispatcher = dispatcher
        return DeepAgent(config)
    return create_deep_agent(
        model=model,
        tools=[echo],
        max_turns=MAX_TURNS,
        checkpointer=checkpointer,
        event_dispatcher=dispatcher,
    )


async def _run(agent: DeepAgent, text: str, thread_id: str | None = None) -> str:
    result = await agent.ahandle_message(text, thread_id=thread_id or uuid.uuid4().hex)
    assert result.text == common.ANSWER, result.text
    return result.text


VARIANTS = {"default stack": "default", "bare": "bare"}


# ----- (a) overhead per step --------------------------------------------------------------


def overhead(repeats: int) -> None:
    metrics = {}
    for label, variant in VARIANTS.items():
        agent = build_agent(variant, common.OVERHEAD_TOOL_CALLS)
        run_once = partial(_run, agent)
        metrics[f"step_us[{label}]"] = asyncio.run(
            common.overhead_samples(run_once, COUNTER, repeats)
        )
    common.emit(FRAMEWORK, "overhead", metrics, model_calls=common.OVERHEAD_TOOL_CALLS + 1)


# ----- (b) concurrency --------------------------------------------------------------------


def concurrency(repeats: int) -> None:
    metrics = {}
    for label, variant in VARIANTS.items():
        agent = build_agent(variant, common.CONCURRENT_TOOL_CALLS, delay=common.MODEL_DELAY_S)
        run_once = partial(_run, agent)
        metrics[f"wall_s[{label}]"] = asyncio.run(
            common.concurrency_samples(run_once, COUNTER, repeats)
        )
    common.emit(FRAMEWORK, "concurrency", metrics)


# ----- (d) memory per thread --------------------------------------------------------------


def memory(repeats: int) -> None:
    """Heap growth (tracemalloc) of keeping 1,000 finished threads in InMemoryCheckpointer.

    The store keeps every version (one per step), like LangGraph's InMemorySaver.
    """

    async def one_repeat() -> float:
        store = InMemoryCheckpointer()
        agent = build_agent("default", common.MEMORY_TOOL_CALLS, checkpointer=store)
        kib = await common.kib_per_thread(partial(_run, agent), COUNTER)
        state = await agent.aget_state("thread-7")
        assert len(state.messages) == 2 * common.MEMORY_TOOL_CALLS + 2
        return kib

    samples = common.memory_samples(one_repeat, repeats)
    common.emit(FRAMEWORK, "memory", {"kib_per_thread": samples}, store="InMemoryCheckpointer")


# ----- (e) checkpoint save and load -------------------------------------------------------


def checkpoint_state() -> AgentStateSnapshot:
    messages = []
    for role, text, n in common.checkpoint_messages():
        if role == "user":
            messages.append(Message.user(text))
        elif role == "tool":
            messages.append(Message.tool(f"call_{n}", "echo", text))
        elif n is not None:
            call = ToolCall(name="echo", args={"n": n}, id=f"call_{n}")
            messages.append(Message.assistant(text, tool_calls=[call]))
        else:
            messages.append(Message.assistant(text))
    return AgentStateSnapshot(messages=messages, files=common.checkpoint_files())


async def _save_load(store: Checkpointer, repeats: int) -> dict[str, list[float]]:
    state = checkpoint_state()
    thread_id = f"bench-{uuid.uuid4().hex}"
    version = await store.save(thread_id, state, expected_version=0)  # warm-up
    saves, loads = [], []
    try:
        for _ in range(repeats):
            gc.collect()
            started = time.perf_counter()
            version = await store.save(thread_id, state, expected_version=version)
            middle = time.perf_counter()
            found = await store.load(thread_id)
            loads.append((time.perf_counter() - middle) * 1e3)
            saves.append((middle - started) * 1e3)
            assert found is not None and found.version == version
            assert len(found.state.messages) == common.CHECKPOINT_MESSAGES
            assert len(found.state.files) == common.CHECKPOINT_FILES
    finally:
        await store.delete(thread_id)
    return {"save_ms": saves, "load_ms": loads}


async def _first_saves(store: Checkpointer, repeats: int) -> list[float]:
    """The first save of a fresh thread (the "first save" rows).

    `_save_load` saves one state again and again, so after its warm-up no file is
    new; here every save is the first of its thread and all 50 files are contents
    the store has not seen (a store that keeps contents apart pays for all of them).
    """
    state = checkpoint_state()
    samples = []
    for repeat in range(repeats):
        fresh = state.model_copy()
        fresh.files = {path: f"{repeat} {path}\n{body}" for path, body in state.files.items()}
        thread_id = f"bench-first-{uuid.uuid4().hex}"
        gc.collect()
        started = time.perf_counter()
        await store.save(thread_id, fresh, expected_version=0)
        samples.append((time.perf_counter() - started) * 1e3)
        await store.delete(thread_id)
    return samples


async def _service_store(name: str) -> tuple[Checkpointer | None, str]:
    """Redis/PostgreSQL from the environment, or None with the reason it is not used."""
    if name == "redis":
        url = os.environ.get("DEEPAGENTS_NB_REDIS_URL")
        if not url:
            return None, "not running (DEEPAGENTS_NB_REDIS_URL unset)"
        from deepagents_nb.persistence.redis import RedisCheckpointer

        store: Checkpointer = RedisCheckpointer(url, prefix=f"bench-{uuid.uuid4().hex[:8]}")
    else:
        dsn = os.environ.get("DEEPAGENTS_NB_POSTGRES_DSN")
        if not dsn:
            return None, "not running (DEEPAGENTS_NB_POSTGRES_DSN unset)"
        from deepagents_nb.persistence.postgres import PostgresCheckpointer

        store = PostgresCheckpointer(dsn, table="deepagents_nb_bench", connect_timeout=3)
    try:
        await asyncio.wait_for(store.list_threads(), timeout=5)
    except Exception as exc:  # unreachable: report it, do not fail the whole run
        await _close(store)
        return None, f"not running ({type(exc).__name__})"
    return store, "running"


async def _close(store: Checkpointer) -> None:
    close: Callable[[], Awaitable[None]] | None = getattr(store, "close", None)
    if close is not None:
        await close()


def checkpoint(repeats: int) -> None:
    metrics: dict[str, list[float]] = {}
    status: dict[str, str] = {}

    async def main(tmp: str) -> None:
        stores: dict[str, Checkpointer | None] = {
            "memory": InMemoryCheckpointer(),
            "sqlite": SqliteCheckpointer(os.path.join(tmp, "threads.db")),
        }
        status.update(memory="running", sqlite="running")
        for name in ("redis", "postgres"):
            stores[name], status[name] = await _service_store(name)
        for name, store in stores.items():
            if store is None:
                continue
            try:
                for metric, values in (await _save_load(store, repeats)).items():
                    metrics[f"{name}.{metric}"] = values
                metrics[f"{name}.first_save_ms"] = await _first_saves(store, repeats)
            finally:
                await _close(store)

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(tmp))
    common.emit(FRAMEWORK, "checkpoint", metrics, backends=status)


# ----- (f) event throughput ---------------------------------------------------------------


class CountingBroadcaster:
    """Receives events and counts them (an async no-op, like a fast webhook client)."""

    def __init__(self, name: str) -> None:
        self._id = name
        self.received = 0

    @property
    def id(self) -> str:
        return self._id

    async def broadcast(self, event: EventBase) -> None:
        self.received += 1


META: dict[str, Any] = {"thread_id": "t-1", "run_id": "r-1", "agent_name": "agent", "depth": 0}
ARGS = {"query": "mail john@example.com about order 42", "api_key": "sk-secret", "n": 7}
RESULT = '{"status": "ok", "contact": "call 555-123-4567", "token": "abc"}'
USAGE = Usage(input_tokens=1200, output_tokens=80)


def build_event(i: int) -> EventBase:
    """The i-th event of a steady mix, sanitized the way the run loop sanitizes it."""
    kind = i % 4
    if kind == 0:
        return ToolStarted(
            tool_name="search",
            call_id=f"call_{i}",
            input_summary=sanitize_tool_payload(ARGS),
            args=sanitize_json(ARGS, redact_strings=True),
            **META,
        )
    if kind == 1:
        return ToolCompleted(
            tool_name="search",
            call_id=f"call_{i}",
            duration_ms=1.5,
            result_summary=sanitize_tool_payload(RESULT),
            **META,
        )
    if kind == 2:
        return TokenUsage(usage=USAGE, provider="p", model="m", duration_ms=900.0, **META)
    return StateCheckpointed(checkpoint_id=f"t-1:{i}", state_size_bytes=4096, **META)


def events(repeats: int) -> None:
    """10,000 events built (with sanitization), emitted, and delivered to 3 broadcasters."""
    count = common.EVENT_COUNT
    end_to_end, building, dispatching = [], [], []

    async def one_repeat() -> None:
        broadcasters = [CountingBroadcaster(f"b{i}") for i in range(common.BROADCASTER_COUNT)]
        dispatcher = EventDispatcher(broadcasters)
        gc.collect()
        started = time.perf_counter()
        for i in range(count):
            dispatcher.emit(build_event(i))
        await dispatcher.flush()
        end_to_end.append((time.perf_counter() - started) / count * 1e6)
        assert all(b.received == count for b in broadcasters)

        started = time.perf_counter()
        built = [build_event(i) for i in range(count)]
        building.append((time.perf_counter() - started) / count * 1e6)
        gc.collect()
        started = time.perf_counter()
        for event in built:
            dispatcher.emit(event)
        await dispatcher.flush()
        dispatching.append((time.perf_counter() - started) / count * 1e6)
        assert all(b.received == 2 * count for b in broadcasters)

    asyncio.run(one_repeat())  # warm-up
    for samples in (end_to_end, building, dispatching):
        samples.clear()
    for _ in range(repeats):
        asyncio.run(one_repeat())
    common.emit(
        FRAMEWORK,
        "events",
        {"event_us": end_to_end, "build_us": building, "dispatch_us": dispatching},
        events=count,
        broadcasters=common.BROADCASTER_COUNT,
    )


# ----- (l) tracing ------------------------------------------------------------------------


def tracing(repeats: int) -> None:
    """(a)'s run on the default stack, untraced and with `OpenTelemetryBroadcaster`.

    Each traced agent has its own SDK `TracerProvider` with a `SimpleSpanProcessor`
    into an `InMemorySpanExporter`. The broadcaster builds spans from events in the
    dispatcher's delivery tasks, on the run's event loop; the run waits for that
    delivery (`flush`) before it returns, so every span is exported by then.
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from deepagents_nb.otel import OpenTelemetryBroadcaster

    tool_calls = common.OVERHEAD_TOOL_CALLS
    per_run = {
        "invoke_agent agent": 1,
        f"chat {FakeModel.model_name}": tool_calls + 1,
        f"execute_tool {common.TOOL_NAME}": tool_calls,
    }

    def traced(capture_content: bool) -> tuple[common.RunOnce, common.SpanCheck]:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        broadcaster = OpenTelemetryBroadcaster(provider, capture_content=capture_content)
        agent = create_deep_agent(
            model=FakeModel(tool_calls),
            tools=[echo],
            max_turns=MAX_TURNS,
            tracing=broadcaster,
        )

        def check() -> None:
            found = Counter(span.name for span in exporter.get_finished_spans())
            common.expect_spans(found, per_run, "tracing")
            assert broadcaster.open_spans == 0, broadcaster.open_spans
            exporter.clear()

        return partial(_run, agent), check

    variants: dict[str, tuple[common.RunOnce, common.SpanCheck | None]] = {
        common.TRACING_OFF: (partial(_run, build_agent("default", tool_calls)), None),
        "on": traced(capture_content=False),
        "on, content": traced(capture_content=True),
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


SCENARIOS: dict[str, Callable[[int], None]] = {
    "overhead": overhead,
    "concurrency": concurrency,
    "memory": memory,
    "checkpoint": checkpoint,
    "events": events,
    "tracing": tracing,
}

if __name__ == "__main__":
    args = common.parse_args(list(SCENARIOS))
    SCENARIOS[args.scenario](args.repeats)
    sys.exit(0)
