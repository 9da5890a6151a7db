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
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

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
# (i) to (k): batches of one-call rows (`agent.map` and each alternative's batch idiom)
BATCH_CONCURRENCY = 16  # agent.map(concurrency=), the semaphores, LangChain's max_concurrency
RATE_LIMIT_ROWS = 2000  # (i), the full run (run.py passes fewer with --quick)
RATE_LIMIT_RPS = 100.0  # the fake server's limit: 2,000 rows take 20 s at best
RATE_BURST = 5  # the token bucket's size: a small burst, as vendors allow
WARM_UP_ROWS = 20  # before the measured rows: imports, connection pools, first-call costs
INSTANT_ROWS = 2000  # (j) rows per second with an instant model
MEMORY_ROWS = 10_000  # (k) heap per 10,000 finished rows
# (l) tracing: the workload of (a), each run traced into an in-memory span exporter
TRACING_OFF = "off"  # every script's untraced variant, the yardstick of the others

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
    parser.add_argument("--rows", type=int, default=None, help="(i) only: rows per run")
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


SpanCheck = Callable[[], None]
"""Asserts the spans one run exported (see `expect_spans`) and clears the exporter."""


def expect_spans(
    found: dict[str, int], expected: dict[str, int], what: str, may_drop: bool = False
) -> int:
    """Fail loudly when a run's exported spans, counted by name, are not the agreed ones.

    With `may_drop`, spans missing from the agreed ones are allowed and counted (a
    tracer known to lose some, see `alt_deepagents.tracing`); an unexpected span,
    or more of one than agreed, still fails. Returns the number missing.
    """
    missing = sum(count - found.get(name, 0) for name, count in expected.items())
    surplus = any(count > expected.get(name, 0) for name, count in found.items())
    if surplus or (missing and not may_drop):
        raise AssertionError(f"{what}: expected spans {expected}, got {dict(found)}")
    return missing


async def tracing_samples(
    variants: dict[str, tuple[RunOnce, SpanCheck | None]], counter: Counter, repeats: int
) -> dict[str, list[float]]:
    """(l): microseconds per model call of one 51-call run, for each variant, interleaved.

    `variants` maps a name to a run and the check of the spans that run exported
    (None for the untraced `TRACING_OFF`, which comes first). Each repeat runs
    every variant once, the order rotating, so a slow moment of the machine hits
    them alike; the counted calls and the spans are checked after each run,
    outside the timed part (a run's spans must all be exported when it returns).
    Besides `step_us[name]`, returns `cost_us[name]`: each traced run's time per
    step less the untraced run's of the same repeat.
    """
    calls = OVERHEAD_TOOL_CALLS + 1
    names = list(variants)
    if names[0] != TRACING_OFF:
        raise ValueError(f"the first variant must be {TRACING_OFF!r}, got {names[0]!r}")
    for run_once, check in variants.values():  # warm-up: first calls, caches, tracers
        await run_once("warm up")
        if check is not None:
            check()
    samples: dict[str, list[float]] = {f"step_us[{name}]": [] for name in names}
    for repeat in range(repeats):
        turn = repeat % len(names)
        for name in names[turn:] + names[:turn]:
            run_once, check = variants[name]
            counter.reset()
            gc.collect()
            started = time.perf_counter()
            await run_once("go")
            samples[f"step_us[{name}]"].append((time.perf_counter() - started) / calls * 1e6)
            counter.expect(calls, OVERHEAD_TOOL_CALLS, f"tracing, {name}")
            if check is not None:
                check()
    untraced = samples[f"step_us[{TRACING_OFF}]"]
    for name in names[1:]:
        traced = samples[f"step_us[{name}]"]
        samples[f"cost_us[{name}]"] = [t - u for t, u in zip(traced, untraced, strict=True)]
    return samples


# ----- (i) to (k): batches of rows --------------------------------------------------------

_ROW_NUMBER = re.compile(r"\bRow (\d+)\b")


def row_prompt(i: int) -> str:
    """The user message of row `i`; the right answer to it is `answer_for` it."""
    return f"Row {i}: reply with the number of this row."


def answer_for(text: str) -> str:
    """What every fake model (and the rate-limited server) answers to a row's message."""
    found = _ROW_NUMBER.search(text)
    return f"answer {found.group(1)}" if found else "no row number"


RowResults = list[str | BaseException]
"""Each row's answer, or the error its call ended in after the framework's own retries."""

RunRows = Callable[[list[str]], Awaitable[RowResults]]
"""Runs one batch of prompts, BATCH_CONCURRENCY at a time, in a framework's own idiom."""


def check_rows(prompts: list[str], results: RowResults, what: str) -> int:
    """The number of failed rows; every other row must carry its own expected answer."""
    if len(results) != len(prompts):
        raise AssertionError(f"{what}: {len(prompts)} rows in, {len(results)} out")
    failed = 0
    for prompt, result in zip(prompts, results, strict=True):
        if isinstance(result, BaseException):
            failed += 1
        elif result != answer_for(prompt):
            raise AssertionError(f"{what}: {prompt!r} answered {result!r}")
    return failed


def first_error(results: RowResults) -> str | None:
    """A failed row's error, for the record (what the framework gave up on)."""
    for result in results:
        if isinstance(result, BaseException):
            return f"{type(result).__name__}: {str(result)[:200]}"
    return None


class LimitedServer(Protocol):
    """What the rate-limit driver needs of `rate_server.RateServer`."""

    def reset(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


async def rate_limited_samples(
    run_rows: RunRows, server: LimitedServer, rows: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """(i): `rows` one-call rows against the rate-limited server, after a warm-up batch.

    Returns the samples (wall seconds, answered rows per second, that as % of the
    limit, failed rows, 429s received) and the last repeat's details.
    """
    prompts = [row_prompt(i) for i in range(rows)]
    warm_up = [row_prompt(i) for i in range(rows, rows + WARM_UP_ROWS)]
    check_rows(warm_up, await run_rows(warm_up), "warm-up")  # fails loudly if nothing works
    metrics: dict[str, list[float]] = {
        name: [] for name in ("wall_s", "rows_per_s", "pct_of_limit", "failed", "refused")
    }
    info: dict[str, Any] = {}
    for _ in range(repeats):
        await asyncio.sleep(1.0)  # the warm-up's (or last repeat's) 429 waits are over
        server.reset()
        gc.collect()
        started = time.perf_counter()
        results = await run_rows(prompts)
        wall = time.perf_counter() - started
        stats = server.stats()
        failed = check_rows(prompts, results, "rate limit")
        answered = rows - failed
        if stats["answered"] < answered:  # every answer came from the server
            raise AssertionError(f"{answered} rows answered, {stats['answered']} by the server")
        metrics["wall_s"].append(wall)
        metrics["rows_per_s"].append(answered / wall)
        metrics["pct_of_limit"].append(100 * answered / wall / RATE_LIMIT_RPS)
        metrics["failed"].append(failed)
        metrics["refused"].append(stats["refused"])
        info = {
            "rows": rows,
            "rate_limit_rps": RATE_LIMIT_RPS,
            "burst": RATE_BURST,
            "concurrency": BATCH_CONCURRENCY,
            "server": stats,
            "first_error": first_error(results),
        }
    return metrics, info


async def settle() -> None:
    """Let the event loop finish its turn, then collect: before reading the heap after a batch.

    Until the task that awaited `asyncio.gather` yields once, the loop still holds
    the handle that woke it, and through it the gather's future, every row's
    finished task and its coroutine (~0.7 KiB a row for ours): not the batch's.
    """
    await asyncio.sleep(0)
    gc.collect()


async def instant_samples(run_rows: RunRows, repeats: int) -> list[float]:
    """(j): rows per second of INSTANT_ROWS rows with an instant model, after a warm-up."""
    prompts = [row_prompt(i) for i in range(INSTANT_ROWS)]
    warm_up = [row_prompt(i) for i in range(WARM_UP_ROWS)]
    check_rows(warm_up, await run_rows(warm_up), "warm-up")
    samples = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        results = await run_rows(prompts)
        wall = time.perf_counter() - started
        if check_rows(prompts, results, "instant rows"):
            raise AssertionError(f"instant rows: {first_error(results)}")
        samples.append(INSTANT_ROWS / wall)
    return samples
