"""`DeepAgent`: threads, runs, approvals and state, over the loop in `runner.py`.

Async inside; every public async method has a sync twin that also works inside
a running event loop (a Jupyter cell).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from deepagents_nb._sync import iterate_sync, run_sync
from deepagents_nb.background import RunHandle
from deepagents_nb.broadcast import EventBroadcaster, EventDispatcher
from deepagents_nb.context_window import ContextUsage, known_context_window
from deepagents_nb.events import EventBase
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.hitl import (
    AgentInterrupt,
    HitlAction,
    HitlPolicy,
    pending_turn,
    waiting_interrupt,
)
from deepagents_nb.ledger import UsageLedger
from deepagents_nb.messages import UserContent
from deepagents_nb.middleware.base import Middleware, overrides
from deepagents_nb.middleware.filesystem import FilesystemMiddleware
from deepagents_nb.middleware.mounts import MountedBackend, Mounts
from deepagents_nb.models.base import ChatModel
from deepagents_nb.output import DEFAULT_RETRIES, OutputMode, OutputSpec
from deepagents_nb.persistence.base import Checkpoint, Checkpointer, CheckpointInfo
from deepagents_nb.persistence.memory import InMemoryCheckpointer
from deepagents_nb.results import AgentResult
from deepagents_nb.runner import Runner
from deepagents_nb.state import AgentStateSnapshot
from deepagents_nb.tools import Tool
from deepagents_nb.usage import UsageTracker

if TYPE_CHECKING:
    import pandas as pd

    from deepagents_nb.batch import BatchInterrupt
    from deepagents_nb.batch.handle import BatchHandle
    from deepagents_nb.tracking import Budget

T = TypeVar("T")


@dataclass
class AgentConfig:
    """Everything `ConfigurableAgentBuilder` and `create_deep_agent` collect."""

    instructions: str = ""
    name: str = "agent"
    description: str = ""
    model: ChatModel | None = None
    tools: list[Tool] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)
    checkpointer: Checkpointer | None = None
    dispatcher: EventDispatcher = field(default_factory=EventDispatcher)
    pii_sanitization: bool = True
    max_turns: int = 50
    max_tokens: int | None = None
    temperature: float | None = None
    token_tracking: UsageTracker | None = None
    interrupt_on: dict[str, HitlPolicy] = field(default_factory=dict)
    output: OutputSpec[Any] | None = None
    context_window: int | None = None


class DeepAgent:
    """An agent with tools, middleware, a checkpointer and event broadcasters.

    Build one with `create_deep_agent(...)` or `ConfigurableAgentBuilder(...)`.
    Threads are kept by the checkpointer (in memory unless one is configured),
    so consecutive messages on one `thread_id` continue one conversation.
    """

    def __init__(self, config: AgentConfig) -> None:
        if config.model is None:
            raise ConfigurationError(
                "the agent has no model: pass model=... (a ChatModel, or ScriptedModel for "
                "offline use) or call .with_model(...)"
            )
        if config.max_turns < 1:
            raise ConfigurationError(f"max_turns must be at least 1, got {config.max_turns}")
        # Only a policy that stops a run needs somewhere to keep the pending approval.
        needs_approval = any(not p.allow_auto for p in config.interrupt_on.values())
        if needs_approval and config.checkpointer is None:
            warnings.warn(
                "approval policies are set but no checkpointer is: pending approvals are kept "
                "in memory and will not survive a restart (use SqliteCheckpointer to keep them)",
                stacklevel=_caller_level(),
            )
        self.config = config
        self.name = config.name
        self.model: ChatModel = config.model
        self.checkpointer: Checkpointer = config.checkpointer or InMemoryCheckpointer()
        self.dispatcher = config.dispatcher
        self._middleware = tuple(config.middleware)
        self._tools: dict[str, Tool] = {}
        for tool in [*config.tools, *(t for m in self._middleware for t in m.tools())]:
            if tool.name in self._tools:
                raise ConfigurationError(
                    f"two tools are named {tool.name!r}; tool names must be unique"
                )
            self._tools[tool.name] = tool
        sections = [config.instructions, *(m.system_prompt() for m in self._middleware)]
        self.system_prompt = "\n\n".join(s for s in sections if s)
        self._output_specs: dict[tuple[Any, OutputMode, int], OutputSpec[Any]] = {}
        self._runner = Runner(self)

    def __repr__(self) -> str:
        return (
            f"DeepAgent(name={self.name!r}, model={self.model.model_name!r}, "
            f"tools={list(self._tools)})"
        )

    @property
    def tools(self) -> dict[str, Tool]:
        """The tools the model is offered, by name: yours and the middleware's (a copy)."""
        return dict(self._tools)

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        """The middleware stack, in the order its hooks run (the default stack first)."""
        return self._middleware

    @property
    def usage(self) -> UsageLedger:
        """Every model request of this agent and its sub-agents, across threads.

        Without token tracking (`token_tracking=True` turns it on) this is an
        empty ledger whose repr says tracking is off.
        """
        ledger = getattr(self.config.token_tracking, "ledger", None)
        return ledger if isinstance(ledger, UsageLedger) else UsageLedger(enabled=False)

    def add_broadcaster(self, broadcaster: EventBroadcaster) -> None:
        """Send this agent's events to `broadcaster` too."""
        self.dispatcher.add_broadcaster(broadcaster)

    async def aclose(self) -> None:
        """Stop what the agent started: isolated Python kernels (`python="isolated"`).

        Safe to call twice; the agent stays usable (a later call starts them again).
        The checkpointer is left open: it may be shared.
        """
        for m in self._middleware:
            if overrides(m, "aclose"):
                await m.aclose()

    def close(self) -> None:
        """Stop the agent's isolated Python kernels (the sync twin of `aclose`)."""
        run_sync(self.aclose())

    async def __aenter__(self) -> DeepAgent:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __enter__(self) -> DeepAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- runs ----------------------------------------------------------------------------

    @overload
    async def ahandle_message(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: type[T],
        output_mode: OutputMode | None = None,
    ) -> AgentResult[T]: ...

    @overload
    async def ahandle_message(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentResult[Any]: ...

    async def ahandle_message(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentResult[Any]:
        """Send a user message and run until the model answers or an approval is needed.

        `text` is a string, or a list mixing strings and `Image`s
        (`["Why is this bimodal?", Image.from_file("hist.png")]`). `state`, when
        given, replaces the thread's stored state as the starting point.
        `output_type` (and `output_mode`) replace the agent's for this run:
        `result.output` is then the validated value.
        """
        output = self._output(output_type, output_mode)
        return await self._runner.run(text, thread_id, state, output=output)

    @overload
    def handle_message(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: type[T],
        output_mode: OutputMode | None = None,
    ) -> AgentResult[T]: ...

    @overload
    def handle_message(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentResult[Any]: ...

    def handle_message(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentResult[Any]:
        """Send a user message and run until the model answers or an approval is needed.

        Blocks until the run stops; works in scripts and inside a Jupyter cell (the
        sync twin of `ahandle_message`). Returns the run's `AgentResult`: `.text`,
        the `.messages` it added, the thread's `.state`, `.usage`, `.output` with
        an `output_type`, and `.interrupt` when it paused for an approval.
        """
        output = self._output(output_type, output_mode)
        return run_sync(self._runner.run(text, thread_id, state, output=output))

    def astream(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentRun:
        """Run and yield events as they happen (text arrives as `StreamingToken`s, a
        structured output as `OutputDelta`s).

        Example::

            run = agent.astream("hi")
            async for event in run:
                ...
            print(run.result.text)
        """
        output = self._output(output_type, output_mode)
        return AgentRun(partial(self._runner.run, text, thread_id, state, output=output))

    def stream(
        self,
        text: UserContent,
        thread_id: str = "default",
        state: AgentStateSnapshot | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> SyncAgentRun:
        """Run and iterate the events as they happen, from sync code (twin of `astream`).

        Returns a `SyncAgentRun`: loop over it for the events, then read `.result`
        (the `AgentResult`) once the loop ends.
        """
        return SyncAgentRun(
            self.astream(text, thread_id, state, output_type=output_type, output_mode=output_mode)
        )

    def start(
        self,
        text: UserContent,
        thread_id: str = "default",
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> RunHandle:
        """Run in the background and return a `RunHandle` at once; other cells keep running.

        handle = agent.start("Research the topic", thread_id="bg")
        handle.done(); handle.cancel(); handle.result()
        """
        run = self.astream(text, thread_id, output_type=output_type, output_mode=output_mode)
        return RunHandle(run, thread_id)

    def _output(self, output_type: Any, mode: OutputMode | None) -> OutputSpec[Any] | None:
        """This run's output type: the one given (compiled once per type), or the agent's."""
        default = self.config.output
        if isinstance(output_type, OutputSpec):
            return output_type
        if output_type is None:
            if mode is not None and default is not None and mode != default.mode:
                return self._output(default.output_type, mode)
            return default
        mode = mode or (default.mode if default is not None else "tool")
        retries = default.retries if default is not None else DEFAULT_RETRIES
        try:
            key = (output_type, mode, retries)
            spec = self._output_specs.get(key)
        except TypeError:  # an unhashable type: compiled each time
            return OutputSpec(output_type, mode, retries)
        if spec is None:
            spec = self._output_specs[key] = OutputSpec(output_type, mode, retries)
        return spec

    async def acontext_usage(self, thread_id: str = "default") -> ContextUsage | None:
        """How full the context window was at the thread's last model request (the async
        twin of `context_usage`)."""
        return self.context_usage(thread_id)

    def context_usage(self, thread_id: str = "default") -> ContextUsage | None:
        """The thread's last model request: its prompt tokens against the model's context
        window (known from the model data, or `context_window=`). None before any request
        this process recorded (token tracking on, the default)."""
        records = [r for r in self.usage.records if r.thread_id == thread_id]
        if not records:
            return None
        last = records[-1]
        window = self.config.context_window or known_context_window(last.provider, last.model)
        return ContextUsage(last.input_tokens, window, last.provider, last.model)

    # ----- batches -------------------------------------------------------------------------

    async def amap(
        self,
        inputs: Any,
        prompt: str | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
        concurrency: int = 8,
        batch_id: str | None = None,
        backend: Literal["local", "ray"] = "local",
        budget: Budget | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        progress: bool | Any = True,
        ray_address: str | None = None,
        agent_factory: Callable[[], DeepAgent] | None = None,
    ) -> pd.DataFrame:
        """Run the agent on every row of `inputs` (the async twin of `map`)."""
        from deepagents_nb.batch import amap

        return await amap(
            self,
            inputs,
            prompt,
            output_type=output_type,
            output_mode=output_mode,
            concurrency=concurrency,
            batch_id=batch_id,
            backend=backend,
            budget=budget,
            rpm=rpm,
            tpm=tpm,
            progress=progress,
            ray_address=ray_address,
            agent_factory=agent_factory,
        )

    def map(
        self,
        inputs: Any,
        prompt: str | None = None,
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
        concurrency: int = 8,
        batch_id: str | None = None,
        backend: Literal["local", "ray"] = "local",
        budget: Budget | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        progress: bool | Any = True,
        ray_address: str | None = None,
        agent_factory: Callable[[], DeepAgent] | None = None,
    ) -> pd.DataFrame:
        """Run the agent on every row of `inputs` and return one DataFrame row per input.

        `inputs` is a DataFrame (`prompt` is a template over its columns, e.g.
        `"Classify: {text}"`), a Series or a list of strings (`{value}`), or a list of
        dicts. The result has the input's index: the output's fields as columns (a
        non-model output, or the text, in one `output` column), then `status`
        (`"done"`, `"failed"`, `"paused"`, `"skipped"`), `error`, `thread_id`,
        `total_tokens`, `cost_usd` and `duration_ms`. A failed row never fails the batch.

        Each row runs in its own thread `"{batch_id}/{label}"` of the checkpointer
        (the default `batch_id` is a digest of the agent, prompt, output type and
        inputs, and is printed): the same call again skips rows already done (0
        model calls), retries failed ones and continues paused ones once a
        decision is recorded (`batch_interrupts`, `decide_batch`). Model calls share
        one adaptive limiter: at most `concurrency` at once, halved on a 429 (after
        its `retry-after`) and raised again as calls succeed, with optional `rpm` /
        `tpm` caps; a 429 never fails a row. `budget=Budget(max_cost_per_batch=...)`
        stops starting rows once spent. Progress shows as a widget in a notebook,
        a tqdm bar elsewhere (`progress=False`: none); interrupting the kernel stops
        the batch and keeps every finished row.

        `backend="ray"` (extra `deepagents-nb[ray]`) runs the rows as Ray tasks on a
        cluster (`ray_address=`, `RAY_ADDRESS`, or an initialised Ray): give
        `agent_factory=`, a picklable function that builds the agent on the workers,
        with a shared checkpointer (PostgreSQL, Redis or DynamoDB). The limiter is then
        shared by the whole cluster, and a worker that dies mid-row loses nothing: Ray
        retries the row, which continues from its thread.
        """
        return run_sync(
            self.amap(
                inputs,
                prompt,
                output_type=output_type,
                output_mode=output_mode,
                concurrency=concurrency,
                batch_id=batch_id,
                backend=backend,
                budget=budget,
                rpm=rpm,
                tpm=tpm,
                progress=progress,
                ray_address=ray_address,
                agent_factory=agent_factory,
            )
        )

    def start_map(self, inputs: Any, prompt: str | None = None, **options: Any) -> BatchHandle:
        """`map` in the background: returns a `BatchHandle` at once (`.done()`,
        `.cancel()`, `.wait()`, `.result()` for the DataFrame) while other cells run.
        Takes `map`'s keywords; in a notebook its progress widget has a Cancel button
        (finished rows stay stored, and the same call resumes the batch)."""
        from deepagents_nb.batch.handle import BatchHandle
        from deepagents_nb.batch.progress import choose

        handles: list[BatchHandle] = []
        options["progress"] = choose(
            options.get("progress", True), on_cancel=lambda: handles[0].cancel()
        )
        handles.append(BatchHandle(self.amap(inputs, prompt, **options), options.get("batch_id")))
        return handles[0]

    async def abatch_interrupts(self, batch_id: str) -> list[BatchInterrupt]:
        """The rows of a batch that wait for an approval (label, thread, interrupt)."""
        from deepagents_nb.batch import batch_interrupts

        return await batch_interrupts(self, batch_id)

    def batch_interrupts(self, batch_id: str) -> list[BatchInterrupt]:
        """The rows of a batch that wait for an approval (the sync twin of
        `abatch_interrupts`); decide them with `decide_batch`, then `map` again."""
        return run_sync(self.abatch_interrupts(batch_id))

    async def adecide_batch(
        self, batch_id: str, decisions: HitlAction | Mapping[Any, HitlAction]
    ) -> int:
        """Record decisions for a batch's paused rows (the async twin of `decide_batch`)."""
        from deepagents_nb.batch import decide_batch

        return await decide_batch(self, batch_id, decisions)

    def decide_batch(self, batch_id: str, decisions: HitlAction | Mapping[Any, HitlAction]) -> int:
        """Record a decision for every paused row of a batch (one `HitlAction`), or by row
        label (`{label: action}`); the next `map` of the batch carries them out.
        Returns how many rows got a decision."""
        return run_sync(self.adecide_batch(batch_id, decisions))

    # ----- approvals -----------------------------------------------------------------------

    async def aresume_with_approval(
        self,
        action: HitlAction,
        thread_id: str = "default",
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentResult[Any]:
        """Answer the thread's pending interrupt and continue the run to its next stop.

        `action` is `HitlAction.accept()`, `.edit(...)`, `.reject(...)` or
        `.respond(...)`. Returns the continued run's `AgentResult` (with a new
        `.interrupt` if another gated call is reached). Pass the `output_type` the
        run was started with, unless it is the agent's own.
        """
        output = self._output(output_type, output_mode)
        return await self._runner.resume(action, thread_id, output=output)

    def resume_with_approval(
        self,
        action: HitlAction,
        thread_id: str = "default",
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentResult[Any]:
        """Answer the thread's pending interrupt and continue the run to its next stop.

        Blocks until the run stops again (the sync twin of `aresume_with_approval`)
        and returns its `AgentResult`::

            agent.resume_with_approval(HitlAction.accept(), thread_id="ops")
        """
        return run_sync(
            self.aresume_with_approval(
                action, thread_id, output_type=output_type, output_mode=output_mode
            )
        )

    def astream_resume(
        self,
        action: HitlAction,
        thread_id: str = "default",
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> AgentRun:
        """Like `aresume_with_approval`, yielding the continued run's events as they happen."""
        output = self._output(output_type, output_mode)
        return AgentRun(partial(self._runner.resume, action, thread_id, None, output=output))

    def stream_resume(
        self,
        action: HitlAction,
        thread_id: str = "default",
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
    ) -> SyncAgentRun:
        """Like `resume_with_approval`, iterating the continued run's events from sync code.

        Returns a `SyncAgentRun`; its `.result` is the `AgentResult` once the loop ends.
        """
        return SyncAgentRun(
            self.astream_resume(action, thread_id, output_type=output_type, output_mode=output_mode)
        )

    async def acurrent_interrupt(self, thread_id: str = "default") -> AgentInterrupt | None:
        """What the thread waits for, read from the checkpointer (so also after a restart)."""
        return waiting_interrupt(pending_turn(await self.aget_state(thread_id)), thread_id)

    def current_interrupt(self, thread_id: str = "default") -> AgentInterrupt | None:
        """What the thread waits for: an `AgentInterrupt`, or None when nothing waits.

        Read from the checkpointer (the sync twin of `acurrent_interrupt`), so it also
        finds an approval left pending by an earlier process.
        """
        return run_sync(self.acurrent_interrupt(thread_id))

    # ----- kernel data as files -------------------------------------------------------------

    def mount(self, **objects: Any) -> dict[str, str]:
        """Show variables read-only in the virtual filesystem, under /kernel/.

        A DataFrame reads as its schema and a CSV preview, a string as text,
        anything else by repr; every read sees the variable's current value, and
        no tool can write through a mount. Returns path -> variable name.

            agent.mount(sales=sales_df, brief=brief_text)  # /kernel/sales.csv, /kernel/brief.txt
        """
        mounts = self._mounts()
        for name, obj in objects.items():
            mounts.add(name, obj)
        return mounts.paths()

    def unmount(self, *names: str) -> None:
        """Stop showing these variables."""
        mounts = self._mounts()
        for name in names:
            mounts.remove(name)

    def _mounts(self) -> Mounts:
        for m in self._middleware:
            backend = getattr(m, "backend", None)
            if isinstance(m, FilesystemMiddleware) and isinstance(backend, MountedBackend):
                return backend.mounts
        raise ConfigurationError("this agent has no filesystem middleware to mount files into")

    # ----- threads and state ---------------------------------------------------------------

    async def aget_state(self, thread_id: str = "default") -> AgentStateSnapshot:
        """The thread's latest `AgentStateSnapshot` (empty for a thread never run)."""
        checkpoint = await self.checkpointer.load(thread_id)
        return checkpoint.state if checkpoint else AgentStateSnapshot()

    def get_state(self, thread_id: str = "default") -> AgentStateSnapshot:
        """The thread's latest `AgentStateSnapshot`: messages, todos, files and extra.

        An empty snapshot for a thread never run (the sync twin of `aget_state`).
        """
        return run_sync(self.aget_state(thread_id))

    async def aload_state(
        self, thread_id: str = "default", version: int | None = None
    ) -> Checkpoint | None:
        """A stored version of the thread (the latest by default), or None.

        Returns a `Checkpoint` (`.state`, `.version`, `.metadata`, `.created_at`);
        use `aget_state` for just the state.
        """
        return await self.checkpointer.load(thread_id, version)

    def load_state(
        self, thread_id: str = "default", version: int | None = None
    ) -> Checkpoint | None:
        """A stored version of the thread (the latest by default), or None if there is none.

        Returns a `Checkpoint` with `.state`, `.version`, `.metadata` and
        `.created_at` (the sync twin of `aload_state`). The Rust SDK's
        `load_state` fills the agent instead; here the state stays in the store
        and runs read it by `thread_id`.
        """
        return run_sync(self.aload_state(thread_id, version))

    async def asave_state(
        self, thread_id: str = "default", state: AgentStateSnapshot | None = None
    ) -> int:
        """Store `state` (or the thread's current state) as the thread's newest version.

        Returns the new version number (1 for a thread's first save). Raises
        `CheckpointConflictError` if another writer saved the thread meanwhile.
        """
        latest = await self.checkpointer.load(thread_id)
        if state is None:
            state = latest.state if latest else AgentStateSnapshot()
        return await self.checkpointer.save(
            thread_id,
            state,
            expected_version=latest.version if latest else 0,
            metadata={"saved_by": "save_state"},
        )

    def save_state(
        self, thread_id: str = "default", state: AgentStateSnapshot | None = None
    ) -> int:
        """Store `state` (or the thread's current state) as the thread's newest version.

        Returns the new version number: 1 for a thread's first save, then 2, 3 ...
        (the sync twin of `asave_state`). Runs already save after every step, so
        this is for a state you changed by hand, or a snapshot point of your own::

            state = agent.get_state("user-123")
            state.files["/notes.md"] = "remember this"
            version = agent.save_state("user-123", state)

        Raises:
            CheckpointConflictError: another writer saved the thread meanwhile.
        """
        return run_sync(self.asave_state(thread_id, state))

    async def adelete_thread(self, thread_id: str) -> None:
        """Forget a thread and all its versions, and stop what it held (its Python kernel)."""
        await self.checkpointer.delete(thread_id)
        for m in self._middleware:
            if overrides(m, "on_thread_deleted"):
                await m.on_thread_deleted(thread_id)

    def delete_thread(self, thread_id: str) -> None:
        """Forget a thread and all its stored versions (the sync twin of `adelete_thread`)."""
        run_sync(self.adelete_thread(thread_id))

    async def alist_threads(self) -> list[str]:
        """Every thread id the checkpointer holds (states are not read)."""
        return await self.checkpointer.list_threads()

    def list_threads(self) -> list[str]:
        """Every thread id the checkpointer holds, as a list (twin of `alist_threads`)."""
        return run_sync(self.alist_threads())

    async def afork(self, thread_id: str, version: int, new_thread_id: str | None = None) -> str:
        """Start a new thread from a stored version of another; the original is untouched.

        Returns the new thread's id (`<thread>-fork-<random>` unless given).
        """
        checkpoint = await self.checkpointer.load(thread_id, version)
        if checkpoint is None:
            raise ConfigurationError(f"thread {thread_id!r} has no version {version} to fork")
        new_id = new_thread_id or f"{thread_id}-fork-{uuid.uuid4().hex[:6]}"
        await self.checkpointer.save(
            new_id,
            checkpoint.state,
            expected_version=0,  # never overwrite an existing thread
            metadata={"forked_from": thread_id, "forked_version": version},
        )
        return new_id

    def fork(self, thread_id: str, version: int, new_thread_id: str | None = None) -> str:
        """Start a new thread from a stored version of another; the original is untouched.

        Returns the new thread's id (`<thread>-fork-<random>` unless given; the sync
        twin of `afork`). Raises `ConfigurationError` when the version does not exist.
        """
        return run_sync(self.afork(thread_id, version, new_thread_id))

    async def ahistory(self, thread_id: str = "default") -> list[CheckpointInfo]:
        """The thread's stored versions, oldest first (for time travel)."""
        return await self.checkpointer.history(thread_id)

    def history(self, thread_id: str = "default") -> list[CheckpointInfo]:
        """The thread's stored versions, oldest first, without their states.

        A list of `CheckpointInfo` (version, metadata, time) for time travel with
        `load_state(thread_id, version)` or `fork` (the sync twin of `ahistory`).
        """
        return run_sync(self.ahistory(thread_id))


class AgentRun:
    """The events of one run as they happen; `result` once the iteration ends."""

    def __init__(self, start: Callable[..., Any]) -> None:
        self._start = start
        self.result: AgentResult | None = None

    def __aiter__(self) -> AsyncIterator[EventBase]:
        return self._events()

    async def _events(self) -> AsyncIterator[EventBase]:
        queue: asyncio.Queue[EventBase | None] = asyncio.Queue()
        task = asyncio.ensure_future(self._start(sink=queue.put_nowait))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            self.result = task.result()
        finally:
            if not task.done():
                task.cancel()


class SyncAgentRun:
    """The events of one run, iterated from sync code; `result` once the loop ends.

    What `agent.stream(...)` returns (the sync twin of `AgentRun`)::

        run = agent.stream("hi")
        for event in run:
            print(event.event_type)
        print(run.result.text)
    """

    def __init__(self, run: AgentRun) -> None:
        self._run = run

    def __iter__(self) -> Iterator[EventBase]:
        return iterate_sync(aiter(self._run))

    @property
    def result(self) -> AgentResult | None:
        """The run's `AgentResult` once the iteration has ended (None before)."""
        return self._run.result


def _caller_level() -> int:
    """The `stacklevel` of the first frame outside this package: the user's own line."""
    package = os.path.dirname(__file__)
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level
