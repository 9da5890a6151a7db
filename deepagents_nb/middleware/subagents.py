"""Sub-agents: the `task` tool hands one job to an ephemeral agent with its own history.

A sub-agent starts with the parent's files and an empty conversation, works
until it answers, and its answer becomes the `task` tool's result. Files it
wrote are merged back into the parent's state; its events reach the parent's
listeners tagged with its name and depth; its token usage counts in the
parent's result. Several `task` calls in one turn run concurrently.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from deepagents_nb.context import ToolContext
from deepagents_nb.events import SubAgentCompleted, SubAgentStarted
from deepagents_nb.exceptions import ConfigurationError, ToolExecutionError
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.output import OutputMode
from deepagents_nb.security import safe_preview, truncate
from deepagents_nb.state import AgentStateSnapshot
from deepagents_nb.tools import Tool, ToolFunction, tool

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent
    from deepagents_nb.models.base import ChatModel
    from deepagents_nb.results import AgentResult

GENERAL_PURPOSE = "general-purpose"
GENERAL_PURPOSE_DESCRIPTION = (
    "General-purpose agent for researching complex questions, searching and reading files, "
    "and carrying out multi-step tasks. It has the same tools as you."
)

SUBAGENTS_PROMPT = """## Sub-agents

Use the `task` tool to hand a self-contained job to a sub-agent: it works in a fresh
context and returns only its final answer, which keeps your own context small.
Give it every detail it needs, since it cannot see this conversation. Start several
independent tasks in one turn to run them in parallel."""


@dataclass
class SubAgentConfig:
    """A specialised sub-agent: its name, when to use it, and how it works.

    `tools=None` gives it the parent's tools; `model=None` the parent's model.
    With `output_type`, it answers with a validated value and the `task` tool's
    result is that value as JSON (`output_mode` as in `create_deep_agent`).
    """

    name: str
    description: str
    instructions: str
    tools: Sequence[Tool | ToolFunction] | None = None
    model: ChatModel | None = None
    output_type: Any = None
    output_mode: OutputMode = "tool"


@runtime_checkable
class SubAgent(Protocol):
    """Any object that can do a job: a custom sub-agent (the seed's planned feature).

    `run` returns the answer, or an `AgentResult` whose files are merged back.
    """

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    async def run(self, instruction: str, ctx: ToolContext) -> str | AgentResult: ...


class AgentAsSubAgent:
    """Runs a `DeepAgent` as a sub-agent: ephemeral, starting from the parent's files."""

    def __init__(self, agent: DeepAgent, description: str | None = None) -> None:
        self.agent = agent
        self.name = agent.name
        self.description = description or agent.config.description or agent.name

    async def run(self, instruction: str, ctx: ToolContext) -> AgentResult:
        thread = f"{ctx.thread_id}/{self.name}/{ctx.call_id}"
        if ctx.resume is not None:
            # Continue a sub-run that paused for an approval, from the state its parent kept.
            action, saved = ctx.resume
            return await self.agent._runner.resume(action, thread, saved, parent=ctx.run)
        files = {p: ctx.read_file(p) for p in (*ctx.state.files, *ctx.update.files)}
        state = AgentStateSnapshot(files={p: c for p, c in files.items() if c is not None})
        return await self.agent._runner.run(instruction, thread, state, parent=ctx.run)


class SubAgentMiddleware(Middleware):
    """Adds the `task` tool over a set of named sub-agents."""

    name = "subagents"

    def __init__(self, subagents: Sequence[SubAgent]) -> None:
        self.subagents: dict[str, SubAgent] = {}
        for sub in subagents:
            if not isinstance(sub, SubAgent):
                raise ConfigurationError(
                    f"{sub!r} cannot be a sub-agent: give a SubAgentConfig, a DeepAgent, or an "
                    f"object with `name`, `description` and `async run(instruction, ctx)`"
                )
            if sub.name in self.subagents:
                raise ConfigurationError(f"two sub-agents are named {sub.name!r}")
            self.subagents[sub.name] = sub
        self._tools = [self._task_tool()] if self.subagents else []

    def tools(self) -> Sequence[Tool]:
        return self._tools

    def system_prompt(self) -> str | None:
        return SUBAGENTS_PROMPT if self.subagents else None

    def _task_tool(self) -> Tool:
        listing = "\n".join(f"- {name}: {s.description}" for name, s in self.subagents.items())
        description = (
            "Start a sub-agent for a self-contained job; it returns its final answer.\n\n"
            f"Available sub-agents (subagent_type):\n{listing}\n\n"
            "The sub-agent cannot see this conversation: put everything it needs in "
            "`description`. Call task several times in one turn to run jobs in parallel."
        )
        subagents = self.subagents

        @tool(description, inline=True)
        async def task(description: str, subagent_type: str, ctx: ToolContext) -> str:
            sub = subagents.get(subagent_type)
            if sub is None:
                raise ToolExecutionError(
                    f"Unknown subagent_type {subagent_type!r}. Choose one of: "
                    f"{', '.join(subagents)}."
                )
            return await _delegate(sub, description, ctx)

        return task


async def _delegate(sub: SubAgent, instruction: str, ctx: ToolContext) -> str:
    run = ctx.run
    started = time.perf_counter()
    if ctx.resume is not None and not isinstance(sub, AgentAsSubAgent):
        raise ToolExecutionError(f"sub-agent {sub.name!r} cannot be resumed after a pause")
    if run.listening and ctx.resume is None:
        summary = safe_preview(instruction) if run.sanitize else truncate(instruction)
        run.emit(
            SubAgentStarted(
                subagent_name=sub.name,
                instruction_summary=summary,
                delegation_depth=run.depth + 1,
                **run.event_meta(),
            )
        )
    outcome = await sub.run(instruction, ctx)
    if isinstance(outcome, str):
        text = outcome
    else:
        text = outcome.text
        run.usage += outcome.usage
        _merge_files_back(ctx, outcome.state.files)
    if run.listening:
        preview = safe_preview(text) if run.sanitize else truncate(text)
        run.emit(
            SubAgentCompleted(
                subagent_name=sub.name,
                duration_ms=(time.perf_counter() - started) * 1000,
                result_summary=preview,
                **run.event_meta(),
            )
        )
    return text


def _merge_files_back(ctx: ToolContext, files: dict[str, str]) -> None:
    """Record what the sub-agent changed, as this task call's own file updates."""
    for path, content in files.items():
        if ctx.read_file(path) != content:
            ctx.write_file(path, content)
