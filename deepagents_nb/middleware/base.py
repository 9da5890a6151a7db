"""`Middleware`: the hooks that make an agent deep, open to users too.

A middleware may contribute tools and a system-prompt section, and hook in
before and after each model call and around each tool call. Override only the
hooks you need: the agent finds the overridden ones when it is built and calls
nothing else, so an unused hook costs nothing per step.

    class Shout(Middleware):
        async def after_model(self, response, run):
            text = response.message.content.upper()
            response.message = dataclasses.replace(response.message, content=text)
            return response
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.messages import ToolCall
from deepagents_nb.models.base import ModelRequest, ModelResponse
from deepagents_nb.tools import Tool, ToolOutcome

if TYPE_CHECKING:
    from deepagents_nb.hitl import HitlPolicy
    from deepagents_nb.middleware.fs_backends import FileBackend

ToolHandler = Callable[[ToolCall, ToolContext], Awaitable[ToolOutcome]]


class Middleware:
    """Base class for middleware; every hook is optional."""

    name: str = "middleware"

    def tools(self) -> Sequence[Tool]:
        """Tools this middleware adds to the agent."""
        return ()

    def system_prompt(self) -> str | None:
        """A section appended to the agent's system prompt."""
        return None

    def file_routes(self) -> Mapping[str, FileBackend]:
        """Directories this middleware adds to the agent's filesystem, e.g.
        `{"/skills": backend}`; each backend sees the paths below its directory."""
        return {}

    def approval_policy(self, call: ToolCall) -> HitlPolicy | None:
        """A policy that stops `call` for a human's approval, beyond `interrupt_on`
        (which gates by tool name): e.g. `edit_file` on some paths only. Called for
        every tool call when overridden, so keep it cheap."""
        return None

    async def before_model(self, request: ModelRequest, run: RunContext) -> ModelRequest:
        """Change the request before it is sent (e.g. trim or annotate messages)."""
        return request

    async def after_model(self, response: ModelResponse, run: RunContext) -> ModelResponse:
        """Inspect or change the model's response."""
        return response

    async def before_tool(self, call: ToolCall, ctx: ToolContext) -> ToolCall | ToolOutcome:
        """Change a call before it runs, or return a `ToolOutcome` to answer it without running."""
        return call

    async def after_tool(
        self, call: ToolCall, outcome: ToolOutcome, ctx: ToolContext
    ) -> ToolOutcome:
        """Inspect or change a tool's outcome."""
        return outcome

    async def describe_call(self, call: ToolCall, ctx: ToolContext) -> str | None:
        """A preview of what `call` would change, shown to whoever approves it (e.g. a diff)."""
        return None

    async def wrap_tool(
        self, call: ToolCall, ctx: ToolContext, call_next: ToolHandler
    ) -> ToolOutcome:
        """Run code around the tool (timing, retries, locks); call `call_next` to run it."""
        return await call_next(call, ctx)

    async def on_thread_deleted(self, thread_id: str) -> None:
        """The agent deleted `thread_id`: free what this middleware holds for it (a kernel)."""
        return None

    async def aclose(self) -> None:
        """The agent is closed: stop what this middleware started (kernels, servers)."""
        return None


def overrides(middleware: Middleware, hook: str) -> bool:
    """Whether `middleware` overrides `hook` (so the agent must call it)."""
    return getattr(type(middleware), hook) is not getattr(Middleware, hook)
