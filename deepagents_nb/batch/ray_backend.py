"""A batch's rows as Ray tasks on a cluster: `agent.map(..., backend="ray")`.

    def make_agent():  # runs on each Ray worker
        return create_deep_agent(model=..., checkpointer=PostgresCheckpointer(DSN))

    results = make_agent().map(df, "Classify: {text}", backend="ray", agent_factory=make_agent)

The agent does not travel: each worker process builds its own with `agent_factory`
(a picklable function with no arguments, kept once per process and factory), since
an agent holds live clients (the model's HTTP connections, the checkpointer's pool,
event handlers, locks bound to this process's event loops) that do not pickle, or
arrive as copies that no longer work. Every row keeps its thread in the shared
store (PostgreSQL, Redis or DynamoDB): a task Ray retries after its worker died
starts the row again from there, and a row that finished is read back, never run
twice. The model calls of all workers go through one `RateLimiter` held by a Ray
actor, so `concurrency`, `rpm` and `tpm` hold for the whole cluster. The driver
keeps at most `concurrency` rows in flight and reports each as it finishes
(progress, budget); cancelling the batch cancels the Ray tasks still running.

Which Ray: the one this process already joined (`ray.init(...)` before `map`, e.g.
with a `runtime_env`), else `ray.init(address=ray_address or "auto")`: `"auto"`
(or the `RAY_ADDRESS` variable) finds a cluster started with `ray start`, and a
`"ray://host:10001"` address reaches a remote one. No cluster is an error, not a
silent local one; `ray_address="local"` starts Ray in this process, on this
machine only, and says so. The workers need deepagents-nb (and what the factory
imports) installed; a factory defined in a notebook travels by value.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from deepagents_nb.batch.inputs import Row
from deepagents_nb.batch.limiter import RateLimiter
from deepagents_nb.batch.rows import RowOutcome, RowRunner
from deepagents_nb.exceptions import ConfigurationError, MissingDependencyError, RateLimitError
from deepagents_nb.output import OutputMode, OutputSpec
from deepagents_nb.persistence.memory import InMemoryCheckpointer
from deepagents_nb.persistence.sqlite import SqliteCheckpointer

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent

T = TypeVar("T")
AgentFactory = Callable[[], "DeepAgent"]

MAX_RETRIES = 3
"""How many times Ray runs a row again after its worker process or node died."""

__all__ = ["AgentFactory", "RayBackend", "check_shared_store", "connect", "require_factory"]


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError('backend="ray"', "ray") from exc
    return ray


# ----- checks, on the driver and on the workers --------------------------------------------


def require_factory(agent_factory: AgentFactory | None) -> AgentFactory:
    """The factory, or a `ConfigurationError` saying why a Ray batch needs one."""
    if agent_factory is None:
        raise ConfigurationError(
            'backend="ray" needs agent_factory=...: a function with no arguments that builds '
            "the agent on each Ray worker (e.g. a module-level `def make_agent(): return "
            "create_deep_agent(...)`). The agent itself is not sent: its model client, "
            "checkpointer pool and event handlers are live connections and locks of this "
            "process that do not pickle, or arrive as copies that no longer work."
        )
    if not callable(agent_factory):
        raise ConfigurationError(
            f"agent_factory must be a function with no arguments, got {agent_factory!r}"
        )
    return agent_factory


def check_shared_store(agent: DeepAgent, whose: str) -> None:
    """A `ConfigurationError` unless the agent's checkpointer is shared by every machine."""
    store = agent.checkpointer
    if isinstance(store, InMemoryCheckpointer | SqliteCheckpointer):
        raise ConfigurationError(
            f'backend="ray" needs a checkpointer every Ray worker shares (PostgreSQL, Redis '
            f"or DynamoDB), but {whose} uses {type(store).__name__}, which lives in one "
            f"process or on one machine: rows could not be resumed, and a retried row "
            f"could run twice"
        )


def _factory_key(factory: AgentFactory) -> str:
    """A digest of the pickled factory: a worker keeps one agent per key."""
    try:
        pickled = _ray().cloudpickle.dumps(factory)
    except Exception as exc:
        raise ConfigurationError(
            f"agent_factory cannot be pickled to reach the Ray workers ({type(exc).__name__}: "
            f"{exc}); define it at module level or in a notebook cell, without live clients "
            f"in its closure"
        ) from exc
    return hashlib.sha256(pickled).hexdigest()[:16]


def connect(ray_address: str | None) -> None:
    """Join Ray: the running one, else the cluster at `ray_address` (see the module)."""
    ray = _ray()
    if ray.is_initialized():
        return
    if ray_address == "local":
        print(
            f"starting Ray in this process, on this machine only ({os.cpu_count()} CPUs); "
            f'pass ray_address="host:port" or "ray://host:10001" to use a cluster'
        )
        ray.init()
        return
    address = ray_address or "auto"
    try:
        ray.init(address=address)
    except Exception as exc:  # ConnectionError, a malformed address, a version mismatch
        where = (os.environ.get("RAY_ADDRESS") or address) if address == "auto" else address
        raise ConfigurationError(
            f"could not join a Ray cluster at {where!r} ({type(exc).__name__}: {exc}). Start "
            f'one (`ray start --head`), pass ray_address="host:port" or "ray://host:10001", '
            f'call ray.init(...) before map, or ray_address="local" for Ray on this machine'
        ) from exc


# ----- the cluster-wide rate limiter -------------------------------------------------------


class _Refused(Exception):
    """The outcome a worker reports for a call the provider refused (a 429)."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class _Failed(Exception):
    """The outcome a worker reports for a call that failed otherwise."""


class _SharedCall:
    """One worker's model call, run here by the batch's `RateLimiter.call`: each time the
    limiter lets it go, the worker is told to call the model, and what the worker then
    reports is what the limiter sees (tokens, a 429 to wait out, a failure)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.go: asyncio.Queue[None] = asyncio.Queue()
        self.outcome: asyncio.Queue[int | Exception] = asyncio.Queue()
        self.task = asyncio.ensure_future(limiter.call(self._one, lambda tokens: tokens))

    async def _one(self) -> int:
        self.go.put_nowait(None)
        outcome = await self.outcome.get()
        if isinstance(outcome, _Refused):
            raise RateLimitError("rate limited", retry_after=outcome.retry_after)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def turn(self) -> str | None:
        """None when the worker may call the model; else why not (the limiter gave up)."""
        go = asyncio.ensure_future(self.go.get())
        await asyncio.wait([go, self.task], return_when=asyncio.FIRST_COMPLETED)
        if go.done():
            return None
        go.cancel()
        error = None if self.task.cancelled() else self.task.exception()
        return str(error) if error is not None else "the call was ended"


class SharedLimiter:
    """A batch's `RateLimiter`, held by one async Ray actor: every worker's model calls
    go through its `call` here, so its limits (and 429 waits) hold for the cluster.

    Calls are kept per row attempt: when Ray retries a row whose worker died in a
    call, `begin` of the new attempt ends the dead one's calls, giving their slots back.
    """

    def __init__(self, concurrency: int, rpm: float | None, tpm: float | None) -> None:
        self.limiter = RateLimiter(concurrency, rpm=rpm, tpm=tpm)
        self.calls: dict[str, _SharedCall] = {}
        self.live: dict[str, str] = {}  # row thread -> its current attempt
        self.attempts: dict[str, set[str]] = {}  # attempt -> its calls

    async def begin(self, row: str, attempt: str) -> None:
        earlier = self.live.get(row)
        self.live[row] = attempt
        if earlier is not None:
            self._end(earlier)

    async def start(self, attempt: str, call_id: str) -> str | None:
        """Wait for the call's turn (see `_SharedCall.turn`)."""
        call = self.calls[call_id] = _SharedCall(self.limiter)
        self.attempts.setdefault(attempt, set()).add(call_id)
        call.task.add_done_callback(lambda _: self._forget(attempt, call_id))
        return await call.turn()

    async def refused(self, call_id: str, retry_after: float | None) -> str | None:
        """The provider refused the call: wait for its next turn."""
        call = self.calls.get(call_id)
        if call is None:
            return "the call was ended"
        call.outcome.put_nowait(_Refused(retry_after))
        return await call.turn()

    def finished(self, call_id: str, tokens: int | None) -> None:
        """The call ended: answered with `tokens`, or failed (None)."""
        call = self.calls.get(call_id)
        if call is not None:
            call.outcome.put_nowait(_Failed() if tokens is None else tokens)

    def release(self, row: str) -> None:
        """The row's task ended without a result (Ray gave up on it, or it was cancelled)."""
        attempt = self.live.pop(row, None)
        if attempt is not None:
            self._end(attempt)

    def _end(self, attempt: str) -> None:
        for call_id in self.attempts.pop(attempt, set()):
            call = self.calls.get(call_id)
            if call is not None:
                call.task.cancel()  # the limiter gives its slot back

    def _forget(self, attempt: str, call_id: str) -> None:
        call = self.calls.pop(call_id, None)
        if call is not None and not call.task.cancelled():
            call.task.exception()  # retrieved: a failed call is the worker's to report
        self.attempts.get(attempt, set()).discard(call_id)


_ATTEMPT: ContextVar[str] = ContextVar("deepagents_nb_ray_attempt", default="")
"""The row attempt the model calls made in this context belong to (on a worker)."""


class ClusterLimiter(RateLimiter):
    """A worker's limiter: each call waits for its turn from the batch's `SharedLimiter`
    actor and reports back how it went, so the one limiter there decides for all."""

    def __init__(self, actor: Any, concurrency: int) -> None:
        super().__init__(concurrency)
        self.actor = actor

    async def call(self, make: Callable[[], Awaitable[T]], tokens: Callable[[T], int]) -> T:
        call_id = uuid.uuid4().hex
        refused = await self.actor.start.remote(_ATTEMPT.get(), call_id)
        while refused is None:
            try:
                result = await make()
            except RateLimitError as exc:
                refused = await self.actor.refused.remote(call_id, exc.retry_after)
                continue
            except BaseException:
                self.actor.finished.remote(call_id, None)
                raise
            self.actor.finished.remote(call_id, tokens(result))
            return result
        raise RateLimitError(refused)


# ----- on a worker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSetup:
    """What every row task of one batch run gets (put in Ray's object store once)."""

    factory: AgentFactory
    factory_key: str
    run_id: str
    batch_id: str
    output: tuple[Any, OutputMode, int] | None
    limiter: Any  # the SharedLimiter actor
    concurrency: int


@dataclass
class _Worker:
    """A factory's agent in one worker process, and the event loop its rows run on
    (one loop, so the checkpointer keeps one pool)."""

    agent: DeepAgent
    loop: asyncio.AbstractEventLoop
    run: tuple[str, RowRunner] | None = field(default=None)

    def runner(self, setup: BatchSetup) -> RowRunner:
        """The batch run's row runner: the agent with its model behind the shared limiter."""
        if self.run is None or self.run[0] != setup.run_id:
            from deepagents_nb.batch import _limited

            limiter = ClusterLimiter(setup.limiter, setup.concurrency)
            output: OutputSpec[Any] | None = None
            if setup.output is not None:
                output = OutputSpec(*setup.output)
            agent = _limited(self.agent, limiter)
            self.run = (setup.run_id, RowRunner(agent, setup.batch_id, output))
        return self.run[1]

    def wait(self, coro: Coroutine[Any, Any, T]) -> T:
        """`coro`'s result, run on the loop; `ray.cancel` of the task cancels it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        # Ray cancels a running task with a KeyboardInterrupt, which a worker that
        # ignores SIGINT (started from a script's background job) never gets; the
        # task's cancelled flag (in recent Ray) is set either way.
        context = _ray().get_runtime_context()
        cancelled: Callable[[], bool] = getattr(context, "is_canceled", lambda: False)
        try:
            while True:
                try:
                    return future.result(timeout=0.2)
                except concurrent.futures.TimeoutError:
                    if cancelled():
                        raise KeyboardInterrupt("the batch was cancelled") from None
        except BaseException:
            future.cancel()
            raise


_WORKERS: dict[str, _Worker] = {}
_WORKERS_LOCK = threading.Lock()


def _worker(setup: BatchSetup) -> _Worker:
    """This process's agent for the setup's factory, built on first use."""
    with _WORKERS_LOCK:
        worker = _WORKERS.get(setup.factory_key)
        if worker is None:
            worker = _WORKERS[setup.factory_key] = _Worker(_build(setup.factory), _start_loop())
        return worker


def _build(factory: AgentFactory) -> DeepAgent:
    from deepagents_nb.agent import DeepAgent

    try:
        agent = factory()
    except ConfigurationError as exc:
        raise ConfigurationError(f"agent_factory failed on a Ray worker: {exc}") from None
    except Exception as exc:
        raise ConfigurationError(
            f"agent_factory failed on a Ray worker: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(agent, DeepAgent):
        raise ConfigurationError(
            f"agent_factory must return an agent (create_deep_agent(...)), "
            f"got {type(agent).__name__}"
        )
    check_shared_store(agent, "the agent agent_factory builds on a Ray worker")
    return agent


def _start_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="deepagents-nb-ray", daemon=True).start()
    return loop


def run_row(setup: BatchSetup, row: Row, over_budget: str | None) -> RowOutcome:
    """One row, in a Ray task: never raises for the row (a bad setup raises
    `ConfigurationError`, which stops the batch)."""
    worker = _worker(setup)
    runner = worker.runner(setup)
    return worker.wait(_run_row(runner, setup.limiter, row, over_budget))


async def _run_row(
    runner: RowRunner, limiter: Any, row: Row, over_budget: str | None
) -> RowOutcome:
    thread = runner.thread_of(row)
    attempt = uuid.uuid4().hex
    _ATTEMPT.set(attempt)
    await limiter.begin.remote(thread, attempt)
    return await replace(runner, over_budget=lambda: over_budget).run(row)


# ----- on the driver -------------------------------------------------------------------------


@dataclass
class RayBackend:
    """Rows as Ray tasks, at most `concurrency` in flight, spread over the nodes."""

    agent_factory: AgentFactory
    concurrency: int
    rpm: float | None = None
    tpm: float | None = None
    ray_address: str | None = None
    max_retries: int = MAX_RETRIES
    num_cpus: float = 1.0

    async def run(
        self,
        rows: Sequence[Row],
        runner: RowRunner,
        finished: Callable[[RowOutcome], None],
    ) -> None:
        ray = _ray()
        key = _factory_key(self.agent_factory)
        await asyncio.to_thread(connect, self.ray_address)
        limiter = (
            ray.remote(SharedLimiter)
            .options(num_cpus=0)
            .remote(self.concurrency, self.rpm, self.tpm)
        )
        output = runner.output
        task = ray.remote(run_row).options(
            num_cpus=self.num_cpus,
            max_retries=self.max_retries,
            retry_exceptions=False,
            scheduling_strategy="SPREAD",
        )
        waiting = iter(rows)
        running: dict[asyncio.Future[RowOutcome], tuple[Row, Any]] = {}
        try:
            setup = ray.put(
                BatchSetup(
                    factory=self.agent_factory,
                    factory_key=key,
                    run_id=uuid.uuid4().hex,
                    batch_id=runner.batch_id,
                    output=(output.output_type, output.mode, output.retries) if output else None,
                    limiter=limiter,
                    concurrency=self.concurrency,
                )
            )
            while True:
                while len(running) < self.concurrency:
                    row = next(waiting, None)
                    if row is None:
                        break
                    ref = task.remote(setup, row, runner.over_budget())
                    running[asyncio.wrap_future(ref.future())] = (row, ref)
                if not running:
                    return
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    row, _ref = running.pop(future)
                    finished(self._outcome(future, row, runner, limiter))
        finally:
            for future, (_row, ref) in running.items():
                future.cancel()
                ray.cancel(ref, recursive=True)  # cancelled (Ctrl-C, Cancel): finished rows stay
            ray.kill(limiter, no_restart=True)

    def _outcome(
        self, future: asyncio.Future[RowOutcome], row: Row, runner: RowRunner, limiter: Any
    ) -> RowOutcome:
        """The row's outcome; a task Ray gave up on is a failed row, a bad setup raises."""
        error = future.exception()
        if error is None:
            return replace(future.result(), row=row)
        cause = getattr(error, "cause", error)
        if isinstance(cause, ConfigurationError):
            raise ConfigurationError(str(cause)) from None
        thread = runner.thread_of(row)
        limiter.release.remote(thread)
        lines = str(cause).strip().splitlines()
        return RowOutcome(
            row, thread, "failed", error=f"{type(cause).__name__}: {lines[0] if lines else ''}"
        )
