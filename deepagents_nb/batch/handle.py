"""`BatchHandle`: an `agent.map(..., background=True)` batch running while cells run."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from deepagents_nb._sync import submit

if TYPE_CHECKING:
    import pandas as pd


class BatchCancelledError(Exception):
    """Raised by `BatchHandle.result()` for a cancelled batch (its finished rows are
    stored: the same `map` call resumes it)."""


class BatchHandle:
    """A batch in the background: `.done()`, `.cancel()`, `.wait()`, `.result()`."""

    def __init__(self, batch: Coroutine[Any, Any, pd.DataFrame], batch_id: str | None) -> None:
        self.batch_id = batch_id
        self._future: concurrent.futures.Future[pd.DataFrame] = submit(batch)

    def __repr__(self) -> str:
        state = "cancelled" if self._future.cancelled() else "done" if self.done() else "running"
        return f"BatchHandle({self.batch_id!r}, {state})"

    def done(self) -> bool:
        """Whether the batch has ended (finished, failed or cancelled)."""
        return self._future.done()

    def cancel(self) -> bool:
        """Stop the batch: no new row starts, running rows are cancelled, finished rows
        stay stored. Returns False when it had already ended."""
        return self._future.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the batch has ended; False when `timeout` seconds passed first."""
        concurrent.futures.wait([self._future], timeout=timeout)
        return self._future.done()

    def result(self, timeout: float | None = None) -> pd.DataFrame:
        """The batch's DataFrame, once it has ended.

        Raises:
            BatchCancelledError: the batch was cancelled.
        """
        try:
            return self._future.result(timeout)
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            raise BatchCancelledError(
                f"batch {self.batch_id!r} was cancelled; its finished rows are stored, and "
                f"the same map call resumes it"
            ) from None
