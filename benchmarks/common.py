"""What every scenario script shares: the workload sizes, the fake model's script, output.

Standard library only: the scripts run in two interpreters (ours in `.venv`, the
alternatives in `benchmarks/.envs/alternatives`), and each imports this file
from its own directory.

The fake models of all three frameworks follow one script, decided from the
last message alone so each call costs the same whatever the history's length:
after the user's message, or after the result of `echo(n=k)`, the model asks
for `echo(n=k+1)` until it has asked `tool_calls` times, then answers "done".
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

# (a) framework overhead per agent step
OVERHEAD_TOOL_CALLS = 50
# (b) concurrency
CONCURRENT_RUNS = 200
CONCURRENT_TOOL_CALLS = 4  # plus the final answer: 5 model calls per run
MODEL_DELAY_S = 0.050
IDEAL_WALL_S = (CONCURRENT_TOOL_CALLS + 1) * MODEL_DELAY_S
# (d) memory per thread
MEMORY_THREADS = 1000
MEMORY_TOOL_CALLS = 2  # three model calls per thread
# (e) checkpoint size
CHECKPOINT_MESSAGES = 100
CHECKPOINT_FILES = 50
CHECKPOINT_FILE_BYTES = 10 * 1024
# (f) events
EVENT_COUNT = 10_000
BROADCASTER_COUNT = 3

ANSWER = "done"
TOOL_NAME = "echo"
TOOL_DESCRIPTION = "Return the number it is given."
RESULT_MARK = "BENCH-RESULT "


def next_step(last_tool_result: str | None, tool_calls: int) -> int | None:
    """The fake model's decision: the `n` of the next `echo` call, or None to answer.

    `last_tool_result` is the content of the last message when it is a tool
    result (the tool returns its `n`), None when it is the user's message.
    """
    n = 0 if last_tool_result is None else int(last_tool_result) + 1
    return n if n < tool_calls else None


class Counter:
    """Counts model and tool calls so each script can assert it did the agreed work."""

    def __init__(self) -> None:
        self.model_calls = 0
        self.tool_calls = 0

    def reset(self) -> None:
        self.model_calls = 0
        self.tool_calls = 0

    def expect(self, model_calls: int, tool_calls: int, what: str) -> None:
        """Fail loudly when a framework did not do the same work as the others."""
        if (self.model_calls, self.tool_calls) != (model_calls, tool_calls):
            raise AssertionError(
                f"{what}: expected {model_calls} model calls and {tool_calls} tool calls, "
                f"got {self.model_calls} and {self.tool_calls}"
            )


def checkpoint_messages() -> list[tuple[str, str, int | None]]:
    """The 100 messages of scenario (e), as (role, text, tool call n) in order.

    A user message, then rounds of assistant tool call -> tool result, and a
    final assistant answer, so every framework stores the same conversation.
    """
    messages: list[tuple[str, str, int | None]] = [("user", "Please work through the list.", None)]
    n = 0
    while len(messages) < CHECKPOINT_MESSAGES - 1:
        messages.append(("assistant", f"Calling echo for item {n}.", n))
        messages.append(("tool", f"result of item {n}: " + "x" * 80, n))
        n += 1
    messages.append(("assistant", "All items are done.", None))
    assert len(messages) == CHECKPOINT_MESSAGES
    return messages


def checkpoint_files() -> dict[str, str]:
    """50 files of 10 KB of text each, no two alike (a store may keep each content once)."""
    line = "The quick brown fox jumps over the lazy dog. 0123456789\n"
    body = line * (CHECKPOINT_FILE_BYTES // len(line) + 1)
    return {
        f"/workspace/file_{i:02d}.md": (f"file {i}\n{body}")[:CHECKPOINT_FILE_BYTES]
        for i in range(CHECKPOINT_FILES)
    }


def parse_args(scenarios: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=scenarios)
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def emit(framework: str, scenario: str, metrics: dict[str, list[float]], **info: Any) -> None:
    """Print one result line for `run.py`: every sample, their median and the extras."""
    summary = {name: statistics.median(values) for name, values in metrics.items() if values}
    record = {
        "framework": framework,
        "scenario": scenario,
        "samples": metrics,
        "median": summary,
        "info": info,
    }
    sys.stdout.write(RESULT_MARK + json.dumps(record) + "\n")
    sys.stdout.flush()


RunOnce = Callable[[str], Awaitable[object]]
"""One run of a framework's agent on a prompt (each script wraps its own API)."""


async def overhead_samples(run_once: RunOnce, counter: Counter, repeats: int) -> list[float]:
    """(a): microseconds per model call of one 51-call run, after a warm-up run."""
    calls = OVERHEAD_TOOL_CALLS + 1
    samples = []
    await run_once("warm up")
    for _ in range(repeats):
        counter.reset()
        gc.collect()
        started = time.perf_counter()
        await run_once("go")
        samples.append((time.perf_counter() - started) / calls * 1e6)
        counter.expect(calls, OVERHEAD_TOOL_CALLS, "overhead")
    return samples


async def concurrency_samples(run_once: RunOnce, counter: Counter, repeats: int) -> list[float]:
    """(b): wall seconds of CONCURRENT_RUNS runs started at once, after a warm-up run."""
    calls = CONCURRENT_TOOL_CALLS + 1
    samples = []
    await run_once("warm up")
    for _ in range(repeats):
        counter.reset()
        gc.collect()
        started = time.perf_counter()
        await asyncio.gather(*(run_once("go") for _ in range(CONCURRENT_RUNS)))
        samples.append(time.perf_counter() - started)
        counter.expect(
            CONCURRENT_RUNS * calls, CONCURRENT_RUNS * CONCURRENT_TOOL_CALLS, "concurrency"
        )
    return samples


ThreadRun = Callable[[str, str], Awaitable[object]]
"""Runs one conversation: (prompt, thread id)."""


async def kib_per_thread(run_thread: ThreadRun, counter: Counter) -> float:
    """(d): Python heap still held per finished thread, after a warm-up thread.

    tracemalloc must be running (see `memory_samples`).
    """
    calls = MEMORY_TOOL_CALLS + 1
    await run_thread("warm up", "warm-up")
    counter.reset()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(MEMORY_THREADS):
        await run_thread(f"thread {i}: hello", f"thread-{i}")
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    counter.expect(MEMORY_THREADS * calls, MEMORY_THREADS * MEMORY_TOOL_CALLS, "memory")
    return grown / MEMORY_THREADS / 1024


def memory_samples(one_repeat: Callable[[], Awaitable[float]], repeats: int) -> list[float]:
    """Runs `one_repeat` (a fresh store and agent each time) under tracemalloc."""
    samples = []
    tracemalloc.start()
    for _ in range(repeats):
        samples.append(asyncio.run(one_repeat()))
        gc.collect()
    return samples
