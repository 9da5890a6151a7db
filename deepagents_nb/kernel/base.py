"""`Kernel`: the one seam both ways of running the agent's Python implement."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from deepagents_nb.exceptions import DeepAgentsError
from deepagents_nb.kernel.outputs import CellResult

DEFAULT_TIMEOUT = 60.0


class KernelUnavailableError(DeepAgentsError):
    """A kernel could not be started or reached (what a cell does is never raised)."""


@runtime_checkable
class Kernel(Protocol):
    """Somewhere to run cells: the notebook's own namespace or a separate process.

    `execute` never raises for what the code does (errors, timeouts, a dying
    kernel are all in the `CellResult`); it raises only when the kernel cannot
    be reached at all. `shutdown` is safe to call twice.
    """

    async def execute(self, code: str, timeout: float = DEFAULT_TIMEOUT) -> CellResult:
        """Run `code` as one cell and report what it produced."""
        ...

    async def shutdown(self) -> None:
        """Stop the kernel and free what it holds."""
        ...
