"""agent.map(..., backend="ray") on a real Ray cluster of two nodes, with PostgreSQL as the
shared store: rows on both nodes and none run twice, a worker killed in a row, cancelling,
and the set-ups a Ray batch refuses.

`.ci/run` starts the cluster on this machine and sets DEEPAGENTS_NB_RAY_ADDRESS (and
DEEPAGENTS_NB_POSTGRES_DSN); without them these tests skip here and fail in CI. The workers
run this module's functions by value (they cannot import a test module), and tell the tests
what they did through files in a directory all of them see (the nodes share this machine).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import itertools
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from deepagents_nb import (
    ConfigurationError,
    DeepAgent,
    InMemoryCheckpointer,
    SqliteCheckpointer,
    create_deep_agent,
)
from deepagents_nb.exceptions import RateLimitError
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel

try:
    import ray
except ImportError:  # the dev extra installs it; without it the cluster tests skip here
    ray = None
else:
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

BACKENDS = Path(__file__).resolve().parents[1] / "persistence" / "checkpointer_backends.py"


@functools.cache
def _backends() -> ModuleType:
    """tests/persistence/checkpointer_backends.py (how tests reach PostgreSQL)."""
    spec = importlib.util.spec_from_file_location("ray_checkpointer_backends", BACKENDS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----- what runs on the workers ----------------------------------------------------------------


def log(calls: Path, line: str) -> None:
    """One line appended to the shared log (a single write: lines never interleave)."""
    fd = os.open(calls / "calls.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


async def answer(calls: Path, request: ModelRequest) -> str:
    """The model: logs each call; `kill` rows end their worker the first time, `429` ones
    are refused the first time, `slow` ones wait (and log being cancelled); the answer
    names the node that gave it."""
    row = request.messages[-1].content
    log(calls, f"call {row}")
    with open(calls / "starts.log", "a") as starts:
        starts.write(f"{time.time()} {row}\n")
    if "429" in row:
        try:
            os.close(os.open(calls / f"refused {row}", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            raise RateLimitError("slow down", retry_after=0.5)
    if "kill" in row:
        try:
            os.close(os.open(calls / f"killed {row}", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass  # the retry
        else:
            os._exit(1)  # the worker process dies in the middle of the row
    if "slow" in row:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            log(calls, f"cancelled {row}")
            raise
    assert ray is not None
    node = ray.get_runtime_context().get_node_id()
    log(calls, f"answer {row}")
    return f"{row} on {node}"


def build_agent(dsn: str, table: str, calls: str, shared: bool = True) -> DeepAgent:
    """The agent factory (with functools.partial): what each worker builds."""
    from deepagents_nb.persistence.postgres import PostgresCheckpointer

    store = PostgresCheckpointer(dsn, table=table, pool_size=2) if shared else None
    model = FunctionModel(functools.partial(answer, Path(calls)))
    return create_deep_agent(model=model, checkpointer=store)


# ----- the cluster, the store --------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """Joined through the backend's own `connect`, once both nodes are up."""
    address = os.environ.get("DEEPAGENTS_NB_RAY_ADDRESS", "")
    _backends().require_service(
        "ray",
        bool(address) and ray is not None,
        "set DEEPAGENTS_NB_RAY_ADDRESS to a Ray cluster of two nodes (.ci/run starts one)",
    )
    assert ray is not None
    from deepagents_nb.batch.ray_backend import connect

    connect(address)
    try:
        deadline = time.monotonic() + 120  # .ci/run starts the nodes in the background
        while len(nodes := [n["NodeID"] for n in ray.nodes() if n["Alive"]]) < 2:
            if time.monotonic() > deadline:
                pytest.fail(f"the Ray cluster at {address} has not got two nodes up")
            time.sleep(0.5)
        # A task on each node: a node just up is known to the scheduler, with a worker.
        probe = ray.remote(num_cpus=0)(node_id)
        ray.get([probe.options(scheduling_strategy=on(node)).remote() for node in nodes])
        yield
    finally:
        ray.shutdown()


def node_id() -> str:
    assert ray is not None
    node: str = ray.get_runtime_context().get_node_id()
    return node


def on(node: str) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node, soft=False)


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[Callable[[], DeepAgent]]:
    """The agent factory, on a PostgreSQL table of this test's own: the workers build
    their agents with it, and the test its driver's agent."""
    backends = _backends()
    dsn = backends.postgres_dsn()
    table = backends.unique_name("ray_rows")
    try:
        yield functools.partial(build_agent, dsn, table, str(tmp_path))
    finally:
        await backends.drop_postgres_tables(dsn, table)


def calls_of(tmp_path: Path) -> Counter[str]:
    log_file = tmp_path / "calls.log"
    return Counter(log_file.read_text().splitlines() if log_file.exists() else [])


# ----- the tests ---------------------------------------------------------------------------


@pytest.mark.usefixtures("cluster")
async def test_rows_run_on_both_nodes_once_and_a_rerun_calls_no_model(
    factory: Callable[[], DeepAgent], tmp_path: Path
) -> None:
    rows = pd.DataFrame({"n": range(40)}, index=[f"r{i}" for i in range(40)])
    agent = factory()
    batch = f"ray-{uuid.uuid4().hex[:8]}"

    out = await agent.amap(
        rows,
        "row {n}",
        batch_id=batch,
        backend="ray",
        agent_factory=factory,
        concurrency=8,
        progress=False,
    )

    assert out.status.tolist() == ["done"] * 40 and out.index.equals(rows.index)
    assert all(text.startswith(f"row {n} on ") for n, text in zip(rows.n, out.output, strict=True))
    assert len({text.rsplit(" ", 1)[1] for text in out.output}) >= 2  # both nodes
    calls = calls_of(tmp_path)
    assert calls == Counter(
        {f"{kind} row {n}": 1 for n in range(40) for kind in ("call", "answer")}
    )
    assert (out.total_tokens > 0).all()

    again = await agent.amap(
        rows,
        "row {n}",
        batch_id=batch,
        backend="ray",
        agent_factory=factory,
        progress=False,
    )

    assert calls_of(tmp_path) == calls  # no model call: every row read back from the store
    assert again.output.tolist() == out.output.tolist() and (again.total_tokens == 0).all()


@pytest.mark.usefixtures("cluster")
async def test_a_worker_killed_in_a_row_loses_nothing_and_no_row_runs_twice(
    factory: Callable[[], DeepAgent], tmp_path: Path
) -> None:
    prompts = [f"row {n} kill" if n in (3, 9) else f"row {n}" for n in range(16)]
    agent = factory()

    out = await agent.amap(
        prompts,
        batch_id=f"ray-{uuid.uuid4().hex[:8]}",
        backend="ray",
        agent_factory=factory,
        concurrency=4,
        progress=False,
    )

    assert out.status.tolist() == ["done"] * 16
    assert out.output.tolist() == [
        f"{p} on {text.rsplit(' ', 1)[1]}" for p, text in zip(prompts, out.output, strict=True)
    ]
    calls = calls_of(tmp_path)
    for prompt in prompts:
        assert calls[f"answer {prompt}"] == 1, prompt  # every row answered exactly once
        assert calls[f"call {prompt}"] == (2 if "kill" in prompt else 1), prompt
    assert sorted(p.name for p in tmp_path.glob("killed *")) == [
        "killed row 3 kill",
        "killed row 9 kill",
    ]


@pytest.mark.usefixtures("cluster")
async def test_the_rate_limits_hold_for_the_whole_cluster(
    factory: Callable[[], DeepAgent], tmp_path: Path
) -> None:
    prompts = [f"row {n} 429" if n == 0 else f"row {n}" for n in range(6)]
    agent = factory()

    out = await agent.amap(
        prompts,
        batch_id=f"ray-{uuid.uuid4().hex[:8]}",
        backend="ray",
        agent_factory=factory,
        concurrency=4,
        rpm=120,
        progress=False,
    )

    assert out.status.tolist() == ["done"] * 6  # the refused call waited and went again
    assert calls_of(tmp_path)["call row 0 429"] == 2
    starts = sorted(float(line.split()[0]) for line in (tmp_path / "starts.log").open())
    assert len(starts) == 7
    # 120 a minute: one call every 0.5 s, wherever the four rows in flight run
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) > 0.3, gaps


@pytest.mark.usefixtures("cluster")
async def test_cancelling_the_batch_cancels_its_ray_tasks(
    factory: Callable[[], DeepAgent], tmp_path: Path
) -> None:
    agent = factory()
    batch = asyncio.ensure_future(
        agent.amap(
            ["row 0 slow", "row 1 slow"],
            batch_id=f"ray-{uuid.uuid4().hex[:8]}",
            backend="ray",
            agent_factory=factory,
            progress=False,
        )
    )
    deadline = time.monotonic() + 60
    while calls_of(tmp_path)["call row 0 slow"] + calls_of(tmp_path)["call row 1 slow"] < 2:
        assert time.monotonic() < deadline and not batch.done()
        await asyncio.sleep(0.1)

    batch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await batch
    deadline = time.monotonic() + 30

    while (
        calls_of(tmp_path)["cancelled row 0 slow"] + calls_of(tmp_path)["cancelled row 1 slow"] < 2
    ):
        assert time.monotonic() < deadline, calls_of(tmp_path)
        await asyncio.sleep(0.1)
    assert not [line for line in calls_of(tmp_path) if line.startswith("answer")]


@pytest.mark.usefixtures("cluster")
async def test_a_factory_whose_agent_keeps_threads_in_memory_stops_the_batch(
    factory: Callable[[], DeepAgent], tmp_path: Path
) -> None:
    agent = factory()  # the driver's agent is on PostgreSQL; the workers' would not be
    in_memory = functools.partial(build_agent, "unused", "unused", str(tmp_path), shared=False)

    with pytest.raises(ConfigurationError, match="on a Ray worker uses InMemoryCheckpointer"):
        await agent.amap(
            ["row 0", "row 1"],
            batch_id=f"ray-{uuid.uuid4().hex[:8]}",
            backend="ray",
            agent_factory=in_memory,
            progress=False,
        )
    assert not calls_of(tmp_path)


def test_a_ray_batch_needs_a_factory_and_a_shared_store(tmp_path: Path) -> None:
    def factory() -> DeepAgent:
        raise AssertionError("never built: the batch is refused before it starts")

    model = FunctionModel(lambda request: "no")
    shared = create_deep_agent(model=model, checkpointer=InMemoryCheckpointer())
    with pytest.raises(ConfigurationError, match=r"needs agent_factory=.*do not pickle"):
        shared.map(["a"], backend="ray", progress=False)
    for store in (InMemoryCheckpointer(), SqliteCheckpointer(tmp_path / "threads.db")):
        agent = create_deep_agent(model=model, checkpointer=store)
        with pytest.raises(ConfigurationError, match=f"this agent uses {type(store).__name__}"):
            agent.map(["a"], backend="ray", agent_factory=factory, progress=False)
    with pytest.raises(ConfigurationError, match='are for backend="ray"'):
        shared.map(["a"], agent_factory=factory, progress=False)
    with pytest.raises(ConfigurationError, match='backend must be "local" or "ray"'):
        shared.map(["a"], backend="dask", progress=False)  # type: ignore[arg-type]


def test_no_cluster_to_join_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    if ray is None:
        pytest.skip("ray is not installed")
    from deepagents_nb.batch.ray_backend import connect

    def refuse(**options: Any) -> None:
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(
        ConfigurationError, match=r"could not join a Ray cluster at '10\.0\.0\.9:6379'"
    ):
        connect("10.0.0.9:6379")


async def test_the_shared_limiter_gives_back_a_dead_attempts_slot_and_waits_out_429s() -> None:
    from deepagents_nb.batch.ray_backend import SharedLimiter

    shared = SharedLimiter(1, rpm=None, tpm=None)  # the actor's object, here without Ray
    await shared.begin("batch/r1", "first")
    assert await shared.start("first", "call-1") is None  # the one slot: r1's first attempt
    second = asyncio.ensure_future(shared.start("second", "call-2"))
    await asyncio.sleep(0.05)
    assert not second.done()  # the slot is taken

    await shared.begin("batch/r1", "second")  # Ray retried r1: its first worker died
    assert await asyncio.wait_for(second, 1) is None

    started = time.monotonic()
    assert await asyncio.wait_for(shared.refused("call-2", 0.2), 2) is None
    assert time.monotonic() - started >= 0.2  # its 429's retry-after, then its turn again
    shared.finished("call-2", 10)
    assert await asyncio.wait_for(shared.start("second", "call-3"), 1) is None
    assert shared.limiter.stats.rate_limited == 1
