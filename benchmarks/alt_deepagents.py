"""Scenarios for LangChain's `deepagents` (`create_deep_agent`), and LangGraph's savers.

Runs in `benchmarks/.envs/alternatives`. The fake chat model is a small
`BaseChatModel` subclass: it answers from the last message (see `common.py`),
builds one `AIMessage`, and its `bind_tools` returns the model itself, so no
time goes to converting tool schemas in the fake (a real adapter spends more).

    python benchmarks/alt_deepagents.py overhead --repeats 15
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

import common
from deepagents import create_deep_agent
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

FRAMEWORK = "deepagents"
COUNTER = common.Counter()
USAGE = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}


class FakeChatModel(BaseChatModel):
    """Follows the shared script; awaits `delay` seconds per call when set."""

    tool_calls: int
    delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "benchmark-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> FakeChatModel:  # type: ignore[override]
        return self

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        COUNTER.model_calls += 1
        last = messages[-1]
        n = common.next_step(
            str(last.content) if isinstance(last, ToolMessage) else None, self.tool_calls
        )
        if n is None:
            message = AIMessage(content=common.ANSWER, usage_metadata=USAGE)  # type: ignore[arg-type]
        else:
            message = AIMessage(
                content="",
                tool_calls=[{"name": common.TOOL_NAME, "args": {"n": n}, "id": f"call_{n}"}],
                usage_metadata=USAGE,  # type: ignore[arg-type]
            )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        return self._reply(messages)

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._reply(messages)


async def _echo(n: int) -> str:
    COUNTER.tool_calls += 1
    return str(n)


ECHO = StructuredTool.from_function(
    coroutine=_echo, name=common.TOOL_NAME, description=common.TOOL_DESCRIPTION
)


def build_agent(tool_calls: int, delay: float = 0.0, checkpointer: Any = None) -> Any:
    model = FakeChatModel(tool_calls=tool_calls, delay=delay)
    return create_deep_agent(model=model, tools=[ECHO], checkpointer=checkpointer)


def _config(thread_id: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"recursion_limit": 10_000}
    if thread_id is not None:
        config["configurable"] = {"thread_id": thread_id}
    return config


async def _run(agent: Any, text: str, thread_id: str | None = None) -> str:
    result = await agent.ainvoke(
        {"messages": [{"role": "user", "content": text}]}, config=_config(thread_id)
    )
    answer = result["messages"][-1].content
    assert answer == common.ANSWER, answer
    return str(answer)


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
    """Heap growth (tracemalloc) of keeping 1,000 finished threads in an InMemorySaver."""

    async def one_repeat() -> float:
        agent = build_agent(common.MEMORY_TOOL_CALLS, checkpointer=InMemorySaver())
        kib = await common.kib_per_thread(partial(_run, agent), COUNTER)
        state = agent.get_state(_config("thread-7"))
        assert len(state.values["messages"]) == 2 * common.MEMORY_TOOL_CALLS + 2
        return kib

    samples = common.memory_samples(one_repeat, repeats)
    common.emit(FRAMEWORK, "memory", {"kib_per_thread": samples}, store="InMemorySaver")


# ----- (e) checkpoint save and load -------------------------------------------------------


def _messages() -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for role, text, n in common.checkpoint_messages():
        if role == "user":
            messages.append(HumanMessage(content=text, id=str(uuid.uuid4())))
        elif role == "tool":
            messages.append(ToolMessage(content=text, tool_call_id=f"call_{n}", name="echo"))
        elif n is not None:
            call = {"name": "echo", "args": {"n": n}, "id": f"call_{n}"}
            messages.append(AIMessage(content=text, tool_calls=[call], usage_metadata=USAGE))  # type: ignore[arg-type]
        else:
            messages.append(AIMessage(content=text, usage_metadata=USAGE))  # type: ignore[arg-type]
    return messages


def _files() -> dict[str, dict[str, str]]:
    now = "2026-01-01T00:00:00+00:00"
    return {
        path: {"content": body, "encoding": "utf-8", "created_at": now, "modified_at": now}
        for path, body in common.checkpoint_files().items()
    }


class _Thread:
    """One LangGraph thread written as a full checkpoint (every channel new) per save."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self.messages = _messages()
        self.files = _files()
        self.version: Any = None
        self.config: dict[str, Any] = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}

    def _checkpoint(self) -> tuple[Any, dict[str, Any]]:
        self.version = self.saver.get_next_version(self.version, None)
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": self.messages, "files": self.files}
        versions = {"messages": self.version, "files": self.version}
        checkpoint["channel_versions"] = dict(versions)
        return checkpoint, versions

    def save(self) -> None:
        checkpoint, versions = self._checkpoint()
        self.config = self.saver.put(self.config, checkpoint, {"step": 1}, versions)

    async def asave(self) -> None:
        checkpoint, versions = self._checkpoint()
        self.config = await self.saver.aput(self.config, checkpoint, {"step": 1}, versions)

    def check(self, found: Any) -> None:
        values = found.checkpoint["channel_values"]
        assert len(values["messages"]) == common.CHECKPOINT_MESSAGES
        assert len(values["files"]) == common.CHECKPOINT_FILES


def _latest() -> dict[str, Any]:
    return {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}


def _sync_saver(thread: _Thread, repeats: int) -> dict[str, list[float]]:
    saves, loads = [], []
    thread.save()  # warm-up
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        thread.save()
        middle = time.perf_counter()
        found = thread.saver.get_tuple(_latest())
        loads.append((time.perf_counter() - middle) * 1e3)
        saves.append((middle - started) * 1e3)
        thread.check(found)
    return {"save_ms": saves, "load_ms": loads}


async def _async_saver(thread: _Thread, repeats: int) -> dict[str, list[float]]:
    saves, loads = [], []
    await thread.asave()  # warm-up
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        await thread.asave()
        middle = time.perf_counter()
        found = await thread.saver.aget_tuple(_latest())
        loads.append((time.perf_counter() - middle) * 1e3)
        saves.append((middle - started) * 1e3)
        thread.check(found)
    return {"save_ms": saves, "load_ms": loads}


def checkpoint(repeats: int) -> None:
    metrics: dict[str, list[float]] = {}
    for name, values in _sync_saver(_Thread(InMemorySaver()), repeats).items():
        metrics[f"memory.{name}"] = values
    for name, values in asyncio.run(_async_saver(_Thread(InMemorySaver()), repeats)).items():
        metrics[f"memory-async.{name}"] = values
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "sync.db"), check_same_thread=False)
        for name, values in _sync_saver(_Thread(SqliteSaver(db)), repeats).items():
            metrics[f"sqlite.{name}"] = values
        db.close()

        async def run_async() -> dict[str, list[float]]:
            path = os.path.join(tmp, "async.db")
            async with AsyncSqliteSaver.from_conn_string(path) as saver:
                return await _async_saver(_Thread(saver), repeats)

        for name, values in asyncio.run(run_async()).items():
            metrics[f"sqlite-async.{name}"] = values
    common.emit(FRAMEWORK, "checkpoint", metrics)


# ----- (l) tracing ------------------------------------------------------------------------

# The spans of one traced run of (a): LangSmith makes one per LangChain run, so one per
# graph node and per middleware hook as well as the model's and the tool's.
_SPANS_PER_MODEL_CALL = (
    "model",
    "FakeChatModel",
    "FilesystemMiddleware.awrap_model_call",
    "SubAgentMiddleware.awrap_model_call",
    "_ParentNotifierMiddleware.awrap_model_call",
    "SummarizationMiddleware.awrap_model_call",
    "AnthropicPromptCachingMiddleware.awrap_model_call",
    "UnsupportedContentMiddleware.awrap_model_call",
)
_SPANS_PER_TOOL_CALL = ("tools", "FilesystemMiddleware.awrap_tool_call", common.TOOL_NAME)
_SPANS_PER_RUN = (
    "LangGraph",
    "PatchToolCallsMiddleware.before_agent",
    "_ParentNotifierMiddleware.after_agent",
)


def tracing(repeats: int) -> None:
    """(a)'s run, untraced and traced through LangChain's own OpenTelemetry path.

    LangChain (`langchain-core`, LangGraph, `deepagents`) makes no OpenTelemetry
    spans itself; its tracer is LangSmith's (`langsmith`, a dependency of
    `langchain-core`), whose client turns runs into OpenTelemetry spans with
    `tracing_mode="otel"` (OpenTelemetry only, nothing sent to LangSmith, whose
    URL here is a closed local port). The traced agent's runs get a
    `LangChainTracer` on that client, whose `otel_tracer_provider` is an SDK
    `TracerProvider` with a `SimpleSpanProcessor` into an `InMemorySpanExporter`.
    The client makes the spans on its background thread, so each traced run ends
    with `client.flush()` (timed: it waits until every span is exported; its own
    share is kept as `flush_ms[...]`, which includes the thread's wait of up to
    50 ms for more runs before it handles a batch). "on" hides run inputs and
    outputs (`hide_inputs=True, hide_outputs=True`); "on, content" is LangSmith's
    default, every run's inputs and outputs as `gen_ai.prompt`/`gen_ai.completion`.

    LangSmith's exporter loses a span now and then (a model call's, one run in four
    to eight here): the run's end reaches it before its start ("No span found for
    run ... during update", at debug level), and the span it then starts is never
    ended. So the spans are checked to be the agreed ones less any it lost, and the
    losses are counted (`dropped_spans` in the record).
    """
    from collections import Counter

    from langchain_core.tracers.langchain import LangChainTracer
    from langsmith import Client
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    tool_calls = common.OVERHEAD_TOOL_CALLS
    per_run = {name: tool_calls + 1 for name in _SPANS_PER_MODEL_CALL}
    per_run.update({name: tool_calls for name in _SPANS_PER_TOOL_CALL})
    per_run.update({name: 1 for name in _SPANS_PER_RUN})
    flush_ms: dict[str, list[float]] = {}
    dropped: dict[str, int] = {}  # spans lost by the exporter, per variant, over all runs

    def traced(name: str, content: bool) -> tuple[common.RunOnce, common.SpanCheck]:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        client = Client(
            api_url="http://127.0.0.1:9",
            api_key="bench",
            tracing_mode="otel",
            otel_tracer_provider=provider,
            hide_inputs=not content,
            hide_outputs=not content,
        )
        callbacks = [LangChainTracer(client=client, project_name="bench")]
        agent = build_agent(tool_calls)
        flushes = flush_ms.setdefault(f"flush_ms[{name}]", [])

        async def run_once(text: str) -> str:
            result = await agent.ainvoke(
                {"messages": [{"role": "user", "content": text}]},
                config={**_config(), "callbacks": callbacks},
            )
            started = time.perf_counter()
            client.flush()
            flushes.append((time.perf_counter() - started) * 1e3)
            answer = result["messages"][-1].content
            assert answer == common.ANSWER, answer
            return str(answer)

        def check() -> None:
            found = Counter(span.name for span in exporter.get_finished_spans())
            missing = common.expect_spans(found, per_run, "tracing", may_drop=True)
            dropped[name] = dropped.get(name, 0) + missing
            exporter.clear()

        return run_once, check

    variants: dict[str, tuple[common.RunOnce, common.SpanCheck | None]] = {
        common.TRACING_OFF: (partial(_run, build_agent(tool_calls)), None),
        "on": traced("on", content=False),
        "on, content": traced("on, content", content=True),
    }
    metrics = asyncio.run(common.tracing_samples(variants, COUNTER, repeats))
    for name, values in flush_ms.items():
        metrics[name] = values[1:]  # less the warm-up run's
    common.emit(
        FRAMEWORK,
        "tracing",
        metrics,
        model_calls=tool_calls + 1,
        spans_per_run=per_run,
        processor="SimpleSpanProcessor",
        tracer="langsmith Client(tracing_mode='otel')",
        runs_per_variant=repeats + 1,
        dropped_spans=dropped,
    )


# ----- (i) to (k): batches of one-call rows -----------------------------------------------


class InstantChatModel(BaseChatModel):
    """Answers each row at once, from its last user message (like ours' `InstantModel`)."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "benchmark-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> InstantChatModel:  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        self.calls += 1
        last = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
        answer = common.answer_for(str(last.content))
        message = AIMessage(content=answer, usage_metadata=USAGE)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        return self._generate(messages, stop, **kwargs)


async def batch_rows(
    agent: Any, prompts: list[str], thread_ids: list[str] | None = None
) -> tuple[common.RowResults, list[Any]]:
    """LangChain's batch idiom: `abatch(inputs, config={"max_concurrency": 16})`.

    `return_exceptions=True`, so a row that fails is an error in its place instead
    of the whole batch raising (the default); returns the answers and the raw outputs.
    """
    inputs = [{"messages": [{"role": "user", "content": p}]} for p in prompts]
    config = {"max_concurrency": common.BATCH_CONCURRENCY, **_config()}
    configs: Any = config
    if thread_ids is not None:
        configs = [{**config, "configurable": {"thread_id": t}} for t in thread_ids]
    outputs = await agent.abatch(inputs, config=configs, return_exceptions=True)
    results: common.RowResults = [
        o if isinstance(o, BaseException) else str(o["messages"][-1].content) for o in outputs
    ]
    return results, outputs


def map_rate(repeats: int, rows: int | None) -> None:
    """(i): `abatch` on a deep agent whose ChatOpenAI talks to the rate-limited server."""
    from langchain_openai import ChatOpenAI
    from rate_server import RateServer

    async def main(server: RateServer) -> tuple[dict[str, list[float]], dict[str, Any]]:
        # ChatOpenAI's defaults: the openai SDK retries a 429 twice, honouring retry-after.
        model = ChatOpenAI(model="gpt-4o-mini", base_url=server.url, api_key="bench")  # type: ignore[arg-type]
        agent = create_deep_agent(model=model)

        async def run_rows(prompts: list[str]) -> common.RowResults:
            return (await batch_rows(agent, prompts))[0]

        count = rows or common.RATE_LIMIT_ROWS
        return await common.rate_limited_samples(run_rows, server, count, repeats)

    with RateServer() as server:
        samples, info = asyncio.run(main(server))
    common.emit(FRAMEWORK, "map-rate", samples, **info)


def map_rows(repeats: int, rows: int | None) -> None:
    """(j): rows per second through `abatch` with an instant model."""
    model = InstantChatModel()
    agent = create_deep_agent(model=model)

    async def run_rows(prompts: list[str]) -> common.RowResults:
        return (await batch_rows(agent, prompts))[0]

    samples = asyncio.run(common.instant_samples(run_rows, repeats))
    assert model.calls == common.WARM_UP_ROWS + repeats * common.INSTANT_ROWS, model.calls
    common.emit(FRAMEWORK, "map-rows", {"rows_per_s": samples}, rows=common.INSTANT_ROWS)


def map_memory(repeats: int, rows: int | None) -> None:
    """(k): heap still held after `abatch` of rows, each its own thread in an InMemorySaver.

    The outputs (each row's final state) are kept, as a user keeps a batch's results.
    """
    count = rows or common.MEMORY_ROWS

    async def one_repeat() -> float:
        model = InstantChatModel()
        agent = create_deep_agent(model=model, checkpointer=InMemorySaver())
        warm_up = [common.row_prompt(i) for i in range(count, count + common.WARM_UP_ROWS)]
        await batch_rows(agent, warm_up, [f"warm-{i}" for i in range(len(warm_up))])
        prompts = [common.row_prompt(i) for i in range(count)]
        await common.settle()
        before = tracemalloc.get_traced_memory()[0]
        results, outputs = await batch_rows(agent, prompts, [f"row-{i}" for i in range(count)])
        await common.settle()
        grown = tracemalloc.get_traced_memory()[0] - before
        if common.check_rows(prompts, results, "memory rows"):
            raise AssertionError(f"memory rows: {common.first_error(results)}")
        assert model.calls == count + common.WARM_UP_ROWS
        assert len(agent.get_state(_config("row-7")).values["messages"]) == 2
        del outputs
        return grown / 2**20 * common.MEMORY_ROWS / count

    samples = common.memory_samples(one_repeat, repeats)
    store = "InMemorySaver"
    common.emit(FRAMEWORK, "map-memory", {"mib_per_10k": samples}, rows=count, store=store)


SCENARIOS = {
    "overhead": overhead,
    "concurrency": concurrency,
    "memory": memory,
    "checkpoint": checkpoint,
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
