"""Scenarios of the agent in the kernel, which only deepagents-nb takes part in.

(g) `kernel`: what one `run_python("1 + 1")` costs, through `IsolatedKernel` (an
ipykernel process) and `LiveKernel` (an IPython shell in this process), and
through a whole agent run (model call, the tool, the answer) of each.

(h) `images`: a thread whose tool result carries a 100 KB PNG, saved version
after version and loaded through `InMemoryCheckpointer` and `SqliteCheckpointer`,
next to the same thread without the image; for SQLite also the bytes each
version adds to the file.

Runs in the project's `.venv` (the `kernel` extra: ipykernel, jupyter_client):

    .venv/bin/python benchmarks/ours_kernel.py kernel --repeats 200
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import struct
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import common

from deepagents_nb import (
    AgentStateSnapshot,
    Checkpointer,
    Image,
    InMemoryCheckpointer,
    Message,
    SqliteCheckpointer,
    ToolCall,
    create_deep_agent,
)
from deepagents_nb.kernel import IsolatedKernel, Kernel, LiveKernel
from deepagents_nb.models.testing import ScriptedModel

FRAMEWORK = "ours"
CODE = "1 + 1"
EXPECTED = "Out: 2"  # what run_python returns to the model for CODE
WARM_UP_CALLS = 5
AGENT_RUNS_MAX = 50  # agent runs share one thread (one kernel), so its history grows
PNG_WIDTH, PNG_HEIGHT = 190, 180  # random RGB pixels: a PNG of about 100 KB


def _ms(seconds: float) -> float:
    return seconds * 1e3


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


# ----- (g) run_python round trip ----------------------------------------------------------


async def _calls(kernel: Kernel, count: int) -> list[float]:
    """Milliseconds of `count` executions of CODE, each checked, after a warm-up."""
    for _ in range(WARM_UP_CALLS):
        assert (await kernel.execute(CODE)).text == EXPECTED
    samples = []
    gc.collect()
    for _ in range(count):
        started = time.perf_counter()
        result = await kernel.execute(CODE)
        samples.append(_ms(time.perf_counter() - started))
        assert result.text == EXPECTED and not result.is_error, result.text
    return samples


async def _isolated(repeats: int, metrics: dict[str, list[float]]) -> None:
    kernel = IsolatedKernel()
    try:
        started = time.perf_counter()
        first = await kernel.execute(CODE)  # starts the process: timed apart, once
        metrics["isolated.startup_ms"] = [_ms(time.perf_counter() - started)]
        assert first.text == EXPECTED, first.text
        samples = await _calls(kernel, repeats)
    finally:
        await kernel.shutdown()
    metrics["isolated.call_ms"] = samples
    metrics["isolated.p90_ms"] = [_p90(samples)]


async def _live(repeats: int, metrics: dict[str, list[float]]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    kernel = LiveKernel(InteractiveShell.instance())
    samples = await _calls(kernel, repeats)
    metrics["live.call_ms"] = samples
    metrics["live.p90_ms"] = [_p90(samples)]


async def _agent_runs(mode: str, runs: int) -> list[float]:
    """Milliseconds per `ahandle_message` whose one tool call is `run_python(CODE)`.

    The default stack, with run_python allowed without approval (live mode asks
    for one by default). All runs are on one thread, so the kernel is started by
    the warm-up run and reused.
    """
    script: list[Any] = [ToolCall("run_python", {"code": CODE}), common.ANSWER] * (runs + 1)
    agent = create_deep_agent(model=ScriptedModel(script), python=mode, python_policy=False)
    thread_id = f"bench-{mode}"
    samples = []
    try:
        for run in range(runs + 1):
            if run == 1:
                gc.collect()
            started = time.perf_counter()
            result = await agent.ahandle_message("add", thread_id=thread_id)
            elapsed = time.perf_counter() - started
            assert result.text == common.ANSWER, result.text
            tool_results = [m.content for m in result.messages if m.role == "tool"]
            assert tool_results == [EXPECTED], tool_results
            if run:  # the first run starts the kernel
                samples.append(_ms(elapsed))
    finally:
        await agent.aclose()
    return samples


def kernel(repeats: int) -> None:
    metrics: dict[str, list[float]] = {}
    runs = min(repeats, AGENT_RUNS_MAX)

    async def main() -> None:
        await _isolated(repeats, metrics)
        await _live(repeats, metrics)
        for mode in ("isolated", "live"):
            metrics[f"agent-{mode}.run_ms"] = await _agent_runs(mode, runs)

    asyncio.run(main())
    common.emit(FRAMEWORK, "kernel", metrics, code=CODE, calls=repeats, agent_runs=runs)


# ----- (h) an image through a checkpoint --------------------------------------------------


def png_bytes(width: int = PNG_WIDTH, height: int = PNG_HEIGHT) -> bytes:
    """A valid RGB PNG of random pixels (fixed seed), which deflate cannot shrink."""
    pixels = random.Random(18).randbytes(width * 3 * height)
    rows = b"".join(
        b"\x00" + pixels[row * width * 3 : (row + 1) * width * 3] for row in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def image_thread(image: Image | None, steps: int) -> AgentStateSnapshot:
    """A plot made by run_python (its result carrying `image`), then `steps` small messages.

    Each later version of the thread adds one message and keeps the plot in its
    history, as an agent's thread does step after step.
    """
    plot = ToolCall("run_python", {"code": "plt.hist(values)"}, id="call_plot")
    images = [] if image is None else [image]
    messages = [
        Message.user("Plot the values"),
        Message.assistant(tool_calls=[plot]),
        Message.tool("call_plot", "run_python", "[image/png 100 KB]", images=images),
    ]
    for step in range(steps):
        messages.append(Message.assistant(f"Step {step}: the histogram has two peaks."))
    return AgentStateSnapshot(messages=messages)


def _file_bytes(path: Path) -> int:
    """The database's size with its WAL (none after the store is closed)."""
    wal = path.with_name(path.name + "-wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


async def _versions(
    store: Checkpointer, image: Image | None, repeats: int, between: Callable[[], Awaitable[None]]
) -> tuple[list[float], list[float], int]:
    """Saves of `repeats` successive versions of one thread, each loaded back.

    Returns save and load milliseconds and the thread id. `between` runs once
    after the warm-up version, before the timed ones (to close a store and
    measure its file).
    """
    thread_id = f"bench-{uuid.uuid4().hex}"
    version = await store.save(thread_id, image_thread(image, 0), expected_version=0)
    await between()
    saves, loads = [], []
    for step in range(1, repeats + 1):
        state = image_thread(image, step)
        gc.collect()
        started = time.perf_counter()
        version = await store.save(thread_id, state, expected_version=version)
        middle = time.perf_counter()
        found = await store.load(thread_id)
        loads.append(_ms(time.perf_counter() - middle))
        saves.append(_ms(middle - started))
        assert found is not None and found.version == version
        assert len(found.state.messages) == 3 + step
        kept = found.state.messages[2].images
        assert kept == (() if image is None else (image,)), "the image did not come back"
    return saves, loads, version


def images(repeats: int) -> None:
    png = png_bytes()
    image = Image.from_bytes(png)
    metrics: dict[str, list[float]] = {}

    async def main(tmp: Path) -> None:
        for label, with_image in (("image", image), ("plain", None)):
            memory = InMemoryCheckpointer()
            saves, loads, _ = await _versions(memory, with_image, repeats, _nothing)
            metrics[f"memory.{label}.save_ms"] = saves
            metrics[f"memory.{label}.load_ms"] = loads

            # A file per variant, closed (WAL folded in) around the timed versions,
            # so its growth is what those versions stored.
            path = tmp / f"{label}.db"
            sqlite = SqliteCheckpointer(path)
            size: list[int] = []
            measure = partial(_closed_size, sqlite, path, size)
            try:
                saves, loads, _ = await _versions(sqlite, with_image, repeats, measure)
                await measure()
            finally:
                await sqlite.close()
            metrics[f"sqlite.{label}.save_ms"] = saves
            metrics[f"sqlite.{label}.load_ms"] = loads
            metrics[f"sqlite.{label}.kib_per_version"] = [(size[1] - size[0]) / repeats / 1024]

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(Path(tmp)))
    common.emit(
        FRAMEWORK,
        "images",
        metrics,
        png_bytes=len(png),
        base64_bytes=(len(png) + 2) // 3 * 4,
        versions=repeats,
    )


async def _closed_size(store: SqliteCheckpointer, path: Path, sizes: list[int]) -> None:
    """Closes `store` (its WAL folded into the file) and appends the file's size."""
    await store.close()
    sizes.append(_file_bytes(path))


async def _nothing() -> None:
    return None


SCENARIOS: dict[str, Callable[[int], None]] = {"kernel": kernel, "images": images}

if __name__ == "__main__":
    args = common.parse_args(list(SCENARIOS))
    SCENARIOS[args.scenario](args.repeats)
    sys.exit(0)
