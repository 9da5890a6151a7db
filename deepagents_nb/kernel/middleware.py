"""`PythonMiddleware`: the `run_python` tool, in the live namespace or an isolated kernel.

    agent = create_deep_agent(model=..., middleware=[PythonMiddleware("isolated")])

`"isolated"` starts one ipykernel process per thread on its first call (a
sub-agent shares its parent thread's kernel) and copies mounted variables into
it; `"live"` runs in the notebook's own namespace and is gated by an approval
unless `policy=HitlPolicy(allow_auto=True)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

from deepagents_nb._sync import run_sync
from deepagents_nb.context import ToolContext
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.hitl import HitlPolicy
from deepagents_nb.kernel.ast_names import cell_names
from deepagents_nb.kernel.base import DEFAULT_TIMEOUT, Kernel
from deepagents_nb.kernel.isolated import IsolatedKernel
from deepagents_nb.kernel.live import LiveKernel
from deepagents_nb.kernel.outputs import MAX_OUTPUT_CHARS, CellResult
from deepagents_nb.messages import Image, ToolCall
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.mounts import Mounts
from deepagents_nb.tools import Tool, ToolOutcome, tool

Mode = Literal["live", "isolated"]
TOOL_NAME = "run_python"

_LIVE_PROMPT = """## Python

`run_python` runs Python code in the user's own notebook kernel: the user's
variables (their DataFrames, models, results) are yours to read, and what you
define stays in their namespace. The user approves each call before it runs, so
keep cells short and purposeful, and never delete or overwrite their variables
unless asked: create new names for your results."""

_ISOLATED_PROMPT = """## Python

`run_python` runs Python code in a kernel of your own: variables persist from
call to call in this conversation. Variables the user mounted (the files under
/kernel/) are there by name, as copies: change them freely."""

_COMMON_PROMPT = """You get back what a notebook cell shows: printed text, the
value of the last expression, displayed objects, matplotlib figures as images,
and for an exception its traceback. Long output is cut; print summaries
(`df.shape`, `df.head()`, `df.describe()`) rather than whole tables. A call
running longer than {timeout:g} s is interrupted."""


class PythonMiddleware(Middleware):
    """Adds `run_python(code)`, running each call in a `Kernel`.

    Args:
        mode: `"live"` (the notebook's IPython namespace) or `"isolated"` (an
            ipykernel process per thread).
        policy: The approval policy for `run_python`; by default live calls need
            an approval and isolated ones do not. `interrupt_on()` gives it in
            the form `create_deep_agent(interrupt_on=...)` takes.
        timeout: Seconds a call may run before it is interrupted.
        mounts: Variables copied into isolated kernels by name (the agent's mounts).
        shell: For live mode, the IPython shell (the running one by default).
        max_output_chars: The most text a call returns to the model.

    Raises:
        ConfigurationError: an unknown mode, a timeout that is not positive, or
            live mode outside IPython.
    """

    name = "python"

    def __init__(
        self,
        mode: Mode = "isolated",
        policy: HitlPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        mounts: Mounts | None = None,
        shell: Any = None,
        max_output_chars: int = MAX_OUTPUT_CHARS,
    ) -> None:
        if mode not in ("live", "isolated"):
            raise ConfigurationError(f'python= must be "live" or "isolated", got {mode!r}')
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError(f"python_timeout must be a positive number, got {timeout!r}")
        self.mode: Mode = mode
        self.timeout = float(timeout)
        if policy is None and mode == "live":
            policy = HitlPolicy(note="runs code in your notebook's namespace")
        self.policy = policy
        self.mounts = mounts
        self.max_output_chars = max_output_chars
        # Live mode checks for IPython now, so a script learns at build time, not mid-run.
        self._live = (
            LiveKernel(shell, max_output_chars=max_output_chars) if mode == "live" else None
        )
        self._kernels: dict[str, IsolatedKernel] = {}
        self.last_results: dict[str, CellResult] = {}
        """Each thread's latest `CellResult` (images included), by thread id."""
        self._tools = [self._build_tool()]

    def __repr__(self) -> str:
        return f"PythonMiddleware({self.mode!r}, timeout={self.timeout:g})"

    # ----- what the agent asks of a middleware ---------------------------------------------

    def tools(self) -> Sequence[Tool]:
        return self._tools

    def system_prompt(self) -> str:
        head = _LIVE_PROMPT if self.mode == "live" else _ISOLATED_PROMPT
        return f"{head}\n\n{_COMMON_PROMPT.format(timeout=self.timeout)}"

    def interrupt_on(self) -> dict[str, HitlPolicy]:
        """`{"run_python": policy}` when a policy applies, for the agent's approval gates."""
        return {TOOL_NAME: self.policy} if self.policy is not None else {}

    async def describe_call(self, call: ToolCall, ctx: ToolContext) -> str | None:
        """For the approver: the names the code assigns, modifies and deletes, then the code."""
        if call.name != TOOL_NAME or not isinstance(call.args, dict):
            return None
        code = str(call.args.get("code", ""))
        try:
            names = cell_names(code)
        except SyntaxError as exc:
            return f"# does not compile: {exc.msg} (line {exc.lineno})\n{code}"
        return f"# {names.describe()}\n{code}"

    # ----- kernels -------------------------------------------------------------------------

    def kernel_for(self, thread_id: str) -> Kernel:
        """The kernel that runs `thread_id`'s calls (made, not started, on first use)."""
        if self._live is not None:
            return self._live
        kernel = self._kernels.get(thread_id)
        if kernel is None:
            kernel = self._kernels[thread_id] = IsolatedKernel(
                max_output_chars=self.max_output_chars
            )
        return kernel

    async def on_thread_deleted(self, thread_id: str) -> None:
        """The thread was deleted: stop its kernel (the live namespace is left alone)."""
        kernel = self._kernels.pop(thread_id, None)
        self.last_results.pop(thread_id, None)
        if kernel is not None:
            await kernel.shutdown()

    async def aclose(self) -> None:
        """Stop every isolated kernel; a later call starts a new one."""
        kernels = list(self._kernels.values())
        self._kernels.clear()
        await asyncio.gather(*(k.shutdown() for k in kernels))

    def close(self) -> None:
        """Stop every isolated kernel (the sync twin of `aclose`)."""
        run_sync(self.aclose())

    # ----- the tool ------------------------------------------------------------------------

    def _build_tool(self) -> Tool:
        middleware = self

        @tool
        async def run_python(code: str, ctx: ToolContext) -> ToolOutcome:
            """Run Python code as one notebook cell and see what it shows.

            Printed text, the last expression's value, displayed objects and
            matplotlib figures come back; an exception comes back with its traceback.

            Args:
                code: The Python source to run.
            """
            return await middleware._run(code, ctx)

        return run_python

    async def _run(self, code: str, ctx: ToolContext) -> ToolOutcome:
        thread_id = _root_thread(ctx)
        kernel = self.kernel_for(thread_id)
        notes: list[str] = []
        if isinstance(kernel, IsolatedKernel) and self.mounts is not None:
            notes = await kernel.set_variables(self.mounts.objects)
        result = await kernel.execute(code, self.timeout)
        self.last_results[thread_id] = result
        text = "\n".join([*(f"[{note}]" for note in notes), result.text])
        images = tuple(Image(data=i.data, media_type=i.media_type) for i in result.images)
        return ToolOutcome(text, is_error=result.is_error, images=images)


def _root_thread(ctx: ToolContext) -> str:
    """The top-level thread of a call: a sub-agent works in its parent's kernel.

    A sub-agent's thread id is `{parent}/{name}/{call id}`, one level per depth.
    """
    thread_id = ctx.thread_id
    for _ in range(ctx.run.depth):
        thread_id = thread_id.rsplit("/", 2)[0]
    return thread_id
