"""Running one tool call: middleware hooks, argument checks, the tool, its events.

    ToolStarted -> before_tool hooks -> wrap_tool hooks -> look up, validate, run
                -> after_tool hooks -> ToolCompleted | ToolFailed

Every problem a model can cause (an unknown tool, arguments that are not JSON
or do not fit the schema, a tool that raises) becomes an error result the
model reads on its next turn; only `AgentSignal`s (interrupts, budgets) stop
the run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.events import ToolCompleted, ToolFailed, ToolStarted
from deepagents_nb.exceptions import AgentSignal, ToolArgumentsError, ToolExecutionError
from deepagents_nb.hitl import CallResult, HitlAction, SubAgentSuspended
from deepagents_nb.messages import ToolCall
from deepagents_nb.middleware.base import Middleware, ToolHandler, overrides
from deepagents_nb.security import preview, sanitize_json, sanitize_tool_payload, truncate
from deepagents_nb.state import AgentStateSnapshot, StateUpdate
from deepagents_nb.tools import Tool, ToolOutcome

Resume = tuple[HitlAction, AgentStateSnapshot | None]
"""The decision on a paused sub-agent's call and the sub-agent's saved state."""


class ToolCaller:
    """Runs an agent's tool calls; the hooks that apply are found once, here."""

    def __init__(self, tools: Mapping[str, Tool], middleware: Sequence[Middleware]) -> None:
        self._tools = tools
        # Only hooks a middleware overrides are called: unused hooks cost nothing.
        self._before = [m for m in middleware if overrides(m, "before_tool")]
        self._after = [m for m in middleware if overrides(m, "after_tool")]
        handler: ToolHandler = self._invoke
        for m in reversed([m for m in middleware if overrides(m, "wrap_tool")]):
            handler = _bind_wrap(m.wrap_tool, handler)
        self._handler = handler

    async def execute(
        self,
        call: ToolCall,
        run: RunContext,
        resume: Resume | None = None,
        approved: ToolCall | None = None,
    ) -> CallResult | SubAgentSuspended:
        """The call's result, or the suspension of a sub-agent that waits for a decision.

        `approved` is the call as a human approved it: a gated tool runs only for it.
        """
        try:
            outcome, update = await self._run(call, run, resume, approved)
        except SubAgentSuspended as suspended:
            return suspended
        return CallResult(
            content=outcome.content,
            is_error=outcome.is_error,
            images=outcome.images,
            update=update,
        )

    async def _run(
        self, call: ToolCall, run: RunContext, resume: Resume | None, approved: ToolCall | None
    ) -> tuple[ToolOutcome, StateUpdate]:
        ctx = ToolContext(run=run, call_id=call.id, resume=resume, approved=approved)
        listening = run.listening
        started = time.perf_counter()
        source = getattr(self._tools.get(call.name), "source", None) if listening else None
        if listening and resume is None:
            args = call.args if isinstance(call.args, dict) else {"raw": call.args}
            safe_args = sanitize_json(args, redact_strings=True) if run.sanitize else args
            run.emit(
                ToolStarted(
                    tool_name=call.name,
                    call_id=call.id,
                    # Sanitized once; the preview is cut from the sanitized arguments.
                    input_summary=_payload_preview(safe_args, run.sanitize),
                    args=safe_args,
                    source=source,
                    **run.event_meta(),
                )
            )
        planned: ToolCall | ToolOutcome = call
        for m in self._before:
            if isinstance(planned, ToolOutcome):
                break
            planned = await m.before_tool(planned, ctx)
        # A before_tool hook may rewrite the call or answer it without running the tool.
        if isinstance(planned, ToolOutcome):
            outcome = planned
        else:
            try:
                outcome = await self._handler(planned, ctx)
            except AgentSignal:
                raise
            except Exception as exc:
                outcome = ToolOutcome(
                    f"Tool {call.name!r} failed: {type(exc).__name__}: {exc}", is_error=True
                )
        for m in self._after:
            outcome = await m.after_tool(call, outcome, ctx)
        if listening:
            _emit_end(run, call, outcome, ms_since(started), source)
        update = ctx.update if not outcome.is_error else StateUpdate()
        return outcome, update

    async def _invoke(self, call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        """Look the tool up, check the arguments, run it; every problem becomes an error result."""
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolOutcome(
                f"Unknown tool {call.name!r}. Available tools: {known}.", is_error=True
            )
        # The gate applies to the call that actually runs, after every hook rewrote it.
        gates = ctx.run.gates
        if gates and gates.gate_call(call) is not None and not _approved(call, ctx.approved):
            return ToolOutcome(
                f"Tool {call.name!r} needs a human's approval, which this call does not have "
                f"(a middleware hook made or changed it after the approval check), so it did "
                f"not run.",
                is_error=True,
            )
        try:
            args = call.parsed_args()
        except ValueError as exc:
            return ToolOutcome(
                f"Invalid arguments for tool {call.name!r}: {exc}. "
                f"Send the arguments as a JSON object.",
                is_error=True,
            )
        try:
            return await tool.invoke(args, ctx)
        except ToolArgumentsError as exc:
            return ToolOutcome(str(exc), is_error=True)
        except ToolExecutionError as exc:
            return ToolOutcome(f"Error: {exc}", is_error=True)


def _approved(call: ToolCall, approved: ToolCall | None) -> bool:
    return approved is not None and approved.name == call.name and approved.args == call.args


def ms_since(started: float) -> float:
    """Milliseconds since a `time.perf_counter()` reading."""
    return (time.perf_counter() - started) * 1000


def _emit_end(
    run: RunContext, call: ToolCall, outcome: ToolOutcome, duration: float, source: str | None
) -> None:
    if outcome.is_error:
        run.emit(
            ToolFailed(
                tool_name=call.name,
                call_id=call.id,
                duration_ms=duration,
                source=source,
                error_message=preview(outcome.content, sanitize=run.sanitize, max_length=500),
                **run.event_meta(),
            )
        )
    else:
        run.emit(
            ToolCompleted(
                tool_name=call.name,
                call_id=call.id,
                duration_ms=duration,
                source=source,
                result_summary=_payload_preview(outcome.content, run.sanitize),
                **run.event_meta(),
            )
        )


def _payload_preview(value: Any, sanitize: bool) -> str:
    if sanitize:
        return sanitize_tool_payload(value)
    return truncate(value if isinstance(value, str) else str(value))


def _bind_wrap(wrap: Any, call_next: ToolHandler) -> ToolHandler:
    async def handler(call: ToolCall, ctx: ToolContext) -> ToolOutcome:
        result: ToolOutcome = await wrap(call, ctx, call_next)
        return result

    return handler
