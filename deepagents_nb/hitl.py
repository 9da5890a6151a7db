"""Human-in-the-loop approval: policies, interrupts, decisions, and the paused turn.

A tool gated by a `HitlPolicy(allow_auto=False)` never runs without a human
decision. The run stops before it, the pending turn is kept in the thread's
state (so it survives a restart with a durable checkpointer), and
`resume_with_approval` continues exactly where it stopped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import AgentSignal
from deepagents_nb.messages import ToolCall
from deepagents_nb.state import AgentStateSnapshot, StateUpdate

PENDING_KEY = "hitl_pending"
DECISIONS_KEY = "hitl_decisions"


class HitlPolicy(BaseModel):
    """Whether a tool may run without approval, and a note for the reviewer."""

    allow_auto: bool = False
    note: str | None = None


def as_policy(value: HitlPolicy | bool | dict[str, Any]) -> HitlPolicy:
    """Accept `True` (needs approval), `False` (runs freely), a dict or a policy."""
    if isinstance(value, HitlPolicy):
        return value
    if isinstance(value, bool):
        return HitlPolicy(allow_auto=not value)
    return HitlPolicy.model_validate(value)


class HitlAction(BaseModel):
    """A human's decision on an interrupt. Build one with the class methods."""

    action: Literal["accept", "edit", "reject", "respond"]
    tool_name: str | None = None
    tool_args: dict[str, Any] | None = None
    reason: str | None = None
    message: str | None = None

    @classmethod
    def accept(cls) -> HitlAction:
        """Run the tool as the model called it."""
        return cls(action="accept")

    @classmethod
    def edit(cls, *, tool_name: str | None = None, tool_args: dict[str, Any]) -> HitlAction:
        """Run the tool with these arguments (and optionally another tool name)."""
        return cls(action="edit", tool_name=tool_name, tool_args=tool_args)

    @classmethod
    def reject(cls, reason: str | None = None) -> HitlAction:
        """Do not run the tool; the model is told it was rejected, and why."""
        return cls(action="reject", reason=reason)

    @classmethod
    def respond(cls, message: object) -> HitlAction:
        """Do not run the tool; `message` is given to the model as the tool's result.

        Args:
            message: A string, or a `Message` (as the Rust SDK's `Respond { message }`
                takes an `AgentMessage`) whose text is used.

        Raises:
            ConfigurationError: `message` is neither, or a `Message` without text.
        """
        # Local imports only so this change stays inside `respond`; they may move to the top.
        from deepagents_nb.exceptions import ConfigurationError
        from deepagents_nb.messages import Message

        if isinstance(message, Message):
            if not message.content:
                raise ConfigurationError(
                    "HitlAction.respond: the Message has no text to give the model "
                    f"as the tool's result: {message!r}"
                )
            return cls(action="respond", message=message.content)
        if isinstance(message, str):
            return cls(action="respond", message=message)
        raise ConfigurationError(
            "HitlAction.respond needs the answer for the tool as a str or a Message "
            f"(e.g. Message.assistant('Use the archive tool instead.')), got {message!r}"
        )


class AgentInterrupt(BaseModel):
    """A run stopped before a gated tool call, waiting for a `HitlAction`.

    `agent_path` names the sub-agents the call came from, outermost first
    (empty for the top-level agent).
    """

    tool_name: str
    tool_args: dict[str, Any] | str
    call_id: str
    policy_note: str | None = None
    thread_id: str
    created_at: datetime = Field(default_factory=utc_now)
    agent_path: list[str] = Field(default_factory=list)
    diff: str | None = None
    """What the call would change, when a middleware can tell (a unified diff for
    `write_file` and `edit_file`)."""

    def __str__(self) -> str:
        where = " > ".join(self.agent_path)
        origin = f" (in {where})" if where else ""
        note = f": {self.policy_note}" if self.policy_note else ""
        return f"Approval needed for {self.tool_name}{origin}{note}"


class CallResult(BaseModel):
    """A finished call of a paused turn, applied when the whole turn is done."""

    content: str
    is_error: bool = False
    update: StateUpdate = Field(default_factory=StateUpdate)


class PendingCall(BaseModel):
    """One tool call of a paused turn."""

    call: ToolCall
    result: CallResult | None = None
    waiting: Literal["approval", "subagent"] | None = None
    subagent: str | None = None
    subagent_state: AgentStateSnapshot | None = None
    interrupt: AgentInterrupt | None = None


class PendingTurn(BaseModel):
    """A turn whose tool calls are not all done: kept in the thread's state."""

    calls: list[PendingCall]

    def head(self) -> PendingCall | None:
        """The first call, in the model's order, still waiting for a decision."""
        return next((c for c in self.calls if c.waiting is not None), None)


class Decision(BaseModel):
    """One entry of a thread's decision log."""

    action: str
    tool_name: str
    call_id: str
    note: str | None = None
    reason: str | None = None
    agent_path: list[str] = Field(default_factory=list)
    decided_at: datetime = Field(default_factory=utc_now)


class SubAgentSuspended(AgentSignal):
    """A sub-agent reached a gated call: its parent pauses and keeps `state` to resume it."""

    def __init__(self, agent_name: str, interrupt: AgentInterrupt, state: AgentStateSnapshot):
        super().__init__(f"sub-agent {agent_name!r} waits for approval of {interrupt.tool_name}")
        self.agent_name = agent_name
        self.interrupt = interrupt
        self.state = state


def pending_turn(state: AgentStateSnapshot) -> PendingTurn | None:
    """The paused turn stored in `state`, if any."""
    raw = state.extra.get(PENDING_KEY)
    return PendingTurn.model_validate(raw) if raw else None


def store_pending(state: AgentStateSnapshot, turn: PendingTurn | None) -> None:
    """Keep `turn` in `state` (JSON-ready, so every checkpointer stores it), or clear it."""
    if turn is None:
        state.extra.pop(PENDING_KEY, None)
    else:
        state.extra[PENDING_KEY] = turn.model_dump(mode="json")


def log_decision(state: AgentStateSnapshot, decision: Decision) -> None:
    state.extra[DECISIONS_KEY] = [
        *state.extra.get(DECISIONS_KEY, []),
        decision.model_dump(mode="json"),
    ]


def decisions(state: AgentStateSnapshot) -> list[Decision]:
    """The thread's decision log, oldest first."""
    return [Decision.model_validate(d) for d in state.extra.get(DECISIONS_KEY, [])]
