"""Background runs: a run goes on while the notebook does other things.

`agent.start(prompt)` returns a `RunHandle` at once; the run itself works on
the agent's private event loop, so other cells keep running. Every completed
step is checkpointed as it happens, so cancelling keeps all of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from deepagents_nb._sync import submit
from deepagents_nb.events import (
    AgentFailed,
    EventBase,
    StateCheckpointed,
    ToolCompleted,
    ToolFailed,
)

if TYPE_CHECKING:
    from deepagents_nb.agent import AgentRun
    from deepagents_nb.results import AgentResult

EventListener = Callable[[EventBase], None]


class RunCancelledError(Exception):
    """Raised by `RunHandle.result()` for a run that was cancelled."""


class RunHandle:
    """A run in the background: `.done()`, `.result()`, `.cancel()`, and progress.

    `on_event` listeners are called for each event from the background thread
    (ipywidgets may be updated from there).
    """

    def __init__(self, run: AgentRun, thread_id: str) -> None:
        self.thread_id = thread_id
        self.events: list[EventBase] = []
        self.steps = 0
        self.last_tool: str | None = None
        self.last_checkpoint: str | None = None
        self._listeners: list[EventListener] = []
        self._lock = threading.Lock()
        self._run = run
        self._future: concurrent.futures.Future[AgentResult] = submit(self._follow())

    def __repr__(self) -> str:
        return f"RunHandle(thread={self.thread_id!r}, {self.status})"

    def on_event(self, listener: EventListener) -> None:
        """Call `listener` with every later event (and replay the ones seen so far)."""
        with self._lock:
            self._listeners.append(listener)
            seen = list(self.events)
        for event in seen:
            listener(event)

    async def _follow(self) -> AgentResult:
        async for event in self._run:
            with self._lock:
                self.events.append(event)
                listeners = list(self._listeners)
                if isinstance(event, StateCheckpointed) and event.depth == 0:
                    self.steps += 1
                    self.last_checkpoint = event.checkpoint_id
                elif isinstance(event, ToolCompleted | ToolFailed) and event.depth == 0:
                    self.last_tool = event.tool_name
            for listener in listeners:
                listener(event)
        assert self._run.result is not None
        return self._run.result

    def done(self) -> bool:
        return self._future.done()

    def cancelled(self) -> bool:
        return self._future.cancelled()

    def cancel(self) -> bool:
        """Stop the run; every step completed so far stays in the thread's checkpoint."""
        return self._future.cancel()

    def result(self, timeout: float | None = None) -> AgentResult:
        """Wait for the run (at most `timeout` seconds) and return its result."""
        try:
            return self._future.result(timeout)
        except (asyncio.CancelledError, concurrent.futures.CancelledError) as exc:
            raise RunCancelledError(self.status) from exc

    @property
    def status(self) -> str:
        """Where the run is, or where it stopped, in words."""
        where = f"{self.steps} step{'s' if self.steps != 1 else ''} saved"
        if self.last_tool:
            where += f", last tool {self.last_tool}"
        if self.last_checkpoint:
            where += f", checkpoint {self.last_checkpoint}"
        if self._future.cancelled():
            return f"cancelled after {where}"
        if not self._future.done():
            return f"running ({where})"
        error = self._future.exception()
        if error is not None:
            failed = next((e for e in self.events if isinstance(e, AgentFailed)), None)
            kind = failed.error_type if failed else type(error).__name__
            return f"failed with {kind} after {where}"
        return f"finished ({where})"
