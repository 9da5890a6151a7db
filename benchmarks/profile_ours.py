"""Profile our agent loop in scenarios (a), (b) and (f) with pyinstrument.

    .venv/bin/pip install pyinstrument==5.1.3       # not a project dependency
    .venv/bin/python benchmarks/profile_ours.py overhead [--variant bare] [--html out.html]
    .venv/bin/python benchmarks/profile_ours.py concurrency
    .venv/bin/python benchmarks/profile_ours.py events

Prints the call tree (time in each function, children included) and, per
agent step, how many microseconds the top frames of the package took.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import common
import ours
from pyinstrument import Profiler

from deepagents_nb import EventDispatcher


async def profile_overhead(variant: str, runs: int) -> int:
    agent = ours.build_agent(variant, common.OVERHEAD_TOOL_CALLS)
    await ours._run(agent, "warm up")
    for _ in range(runs):
        await ours._run(agent, "go", thread_id=uuid.uuid4().hex)
    return runs * (common.OVERHEAD_TOOL_CALLS + 1)


async def profile_concurrency(variant: str, runs: int) -> int:
    agent = ours.build_agent(variant, common.CONCURRENT_TOOL_CALLS, delay=common.MODEL_DELAY_S)
    await ours._run(agent, "warm up")
    for _ in range(runs):
        await asyncio.gather(*(ours._run(agent, "go") for _ in range(common.CONCURRENT_RUNS)))
    return runs * common.CONCURRENT_RUNS * (common.CONCURRENT_TOOL_CALLS + 1)


async def profile_events(variant: str, runs: int) -> int:
    for _ in range(runs):
        broadcasters = [ours.CountingBroadcaster(f"b{i}") for i in range(3)]
        dispatcher = EventDispatcher(broadcasters)
        for i in range(common.EVENT_COUNT):
            dispatcher.emit(ours.build_event(i))
        await dispatcher.flush()
    return runs * common.EVENT_COUNT


TARGETS: dict[str, tuple[Callable[[str, int], Coroutine[Any, Any, int]], int, str]] = {
    "overhead": (profile_overhead, 40, "model calls"),
    "concurrency": (profile_concurrency, 3, "model calls"),
    "events": (profile_events, 3, "events"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=list(TARGETS))
    parser.add_argument("--variant", choices=["default", "bare"], default="default")
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    args = parser.parse_args()
    target, runs, unit = TARGETS[args.scenario]
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    units = asyncio.run(target(args.variant, runs))
    profiler.stop()
    session = profiler.last_session
    assert session is not None
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    cpu = session.duration * 1e6 / units
    print(f"{units} {unit}; {cpu:.1f} us of wall time each (profiler overhead included)")
    if args.html:
        with open(args.html, "w") as out:
            out.write(profiler.output_html())


if __name__ == "__main__":
    main()
