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


SCENARIOS = {
    "overhead": overhead,
    "concurrency": concurrency,
    "memory": memory,
    "checkpoint": checkpoint,
}

if __name__ == "__main__":
    args = common.parse_args(list(SCENARIOS))
    SCENARIOS[args.scenario](args.repeats)
    sys.exit(0)
