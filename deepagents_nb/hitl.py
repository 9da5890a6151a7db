"""Human-in-the-loop approval: policies, interrupts, decisions, and the paused turn.

A tool gated by a `HitlPolicy(allow_auto=False)` never runs without a human
decision. The run stops before it, the pending turn is kept in the thread's
state (so it survives a restart with a durable checkpointer), and
`resume_with_approval` continues exactly where it stopped.

Exactly once: a resume first claims the waiting call in the store (one
conditional save that also records the decision); only the winner runs it, and
any other resume gets `InterruptClaimedError`. A claimed call, like a call to a
side-effecting tool, carries a `CallClaim` while it runs: if the process dies
then, the call is not run again silently but becomes an interrupt of its own
("interrupted by a crash; it may have run") for the user to decide.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import AgentSignal, ConfigurationError, CorruptCheckpointError
from deepagents_nb.messages import Image, Message, ToolCall
from deepagents_nb.state import AgentStateSnapshot, StateUpdate
from deepagents_nb.text import storable_json

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
    def respond(cls, message: Message | str) -> HitlAction:
        """Do not run the tool; `message` is given to the model as the tool's result.

        Args:
            message: A string, or a `Message` (as the Rust SDK's `Respond { message }`
                takes an `AgentMessage`) whose text is used.

        Raises:
            ConfigurationError: `message` is neither, or a `Message` without text.
        """
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
    source: str | None = None
    """Where the call goes when not in this process: "mcp:<server>" for an MCP tool."""
    reason: Literal["approval", "crash"] = "approval"
    """Why the run waits: a gated call, or a call that was running when its process
    died (`accept` runs it again, `reject` skips it, `respond` answers for it)."""

    def __str__(self) -> str:
        where = " > ".join(self.agent_path)
        origin = f" (in {where})" if where else ""
        note = f": {self.policy_note}" if self.policy_note else ""
        return f"Approval needed for {self.tool_name}{origin}{note}"


class CallResult(BaseModel):
    """A finished call of a paused turn, applied when the whole turn is done."""

    content: str
    is_error: bool = False
    images: tuple[Image, ...] = Field(default=(), exclude_if=lambda images: not images)
    update: StateUpdate = Field(default_factory=StateUpdate)


class CallClaim(BaseModel):
    """Marks a call that started running: which run of which process, since when.

    Saved before the call runs, so a store never holds an unmarked call that may
    have had its effect. `action` is the decision it runs under (None for a
    side-effecting tool that needed none): `accept` after a crash re-applies it.
    """

    run_id: str
    owner: str = Field(default_factory=lambda: process_owner())
    started_at: datetime = Field(default_factory=utc_now)
    action: HitlAction | None = None


class PendingCall(BaseModel):
    """One tool call of a paused turn."""

    call: ToolCall
    result: CallResult | None = None
    waiting: Literal["approval", "subagent"] | None = None
    subagent: str | None = None
    subagent_state: AgentStateSnapshot | None = None
    interrupt: AgentInterrupt | None = None
    started: CallClaim | None = None


class PendingTurn(BaseModel):
    """A turn whose tool calls are not all done: kept in the thread's state."""

    calls: list[PendingCall]
    paused_run: str | None = Field(default=None, exclude_if=lambda run: run is None)
    """The run that paused on this turn (a resumed run's traces link to it)."""

    def head(self) -> PendingCall | None:
        """The first call, in the model's order, waiting for a decision or marked running."""
        return next((c for c in self.calls if c.result is None and (c.waiting or c.started)), None)


# ----- who runs a claimed call ------------------------------------------------------------

_OWNER: tuple[int, str] | None = None
_LIVE_RUNS: set[str] = set()
"""Runs of this process that hold a claimed call (their claims are alive)."""


def process_owner() -> str:
    """This process as a claim's owner: `host:pid:nonce` (new after a fork)."""
    global _OWNER
    pid = os.getpid()
    if _OWNER is None or _OWNER[0] != pid:
        _OWNER = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _OWNER[1]


def hold_claims(run_id: str, holding: bool) -> None:
    """Say that `run_id` (a run of this process) holds its claims, or no longer does."""
    if holding:
        _LIVE_RUNS.add(run_id)
    else:
        _LIVE_RUNS.discard(run_id)


def claim_is_alive(claim: CallClaim) -> bool:
    """Whether the run that claimed a call may still be running it.

    Known for this process (its live runs) and for processes of this host (is the
    pid alive); a claim from another host is taken as alive, so it is never run
    twice by mistake.
    """
    if claim.owner == process_owner():
        return claim.run_id in _LIVE_RUNS
    host, _, rest = claim.owner.partition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(rest.partition(":")[0]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def crash_interrupt(entry: PendingCall, thread_id: str) -> AgentInterrupt:
    """The interrupt of a call whose run died while it ran."""
    claim = entry.started
    assert claim is not None
    call = entry.call
    if claim.action is not None and claim.action.action == "edit":
        call = ToolCall(
            name=claim.action.tool_name or call.name, args=claim.action.tool_args or {}, id=call.id
        )
    started = claim.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return AgentInterrupt(
        tool_name=call.name,
        tool_args=call.args,
        call_id=call.id,
        policy_note=(
            f"interrupted by a crash; it may have run (started {started}). Accept runs it "
            f"again, reject skips it, respond answers for it"
        ),
        thread_id=thread_id,
        agent_path=entry.interrupt.agent_path if entry.interrupt else [],
        reason="crash",
    )


def waiting_interrupt(turn: PendingTurn | None, thread_id: str) -> AgentInterrupt | None:
    """What a paused turn waits for: None when nothing, or a live run is on it."""
    head = turn.head() if turn is not None else None
    if head is None:
        return None
    if head.started is not None:
        return None if claim_is_alive(head.started) else crash_interrupt(head, thread_id)
    return head.interrupt


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
    """The paused turn stored in `state`, if any.

    Raises:
        CorruptCheckpointError: the stored turn is not one this version can read.
    """
    raw = state.extra.get(PENDING_KEY)
    if not raw:
        return None
    try:
        return PendingTurn.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "top level"
        raise CorruptCheckpointError(
            f"the thread's pending approval (state.extra[{PENDING_KEY!r}]) cannot be read: "
            f"{error['msg']} at {where}"
        ) from exc


def store_pending(state: AgentStateSnapshot, turn: PendingTurn | None) -> None:
    """Keep `turn` in `state` (JSON-ready and storable text, so every checkpointer
    stores it), or clear it."""
    if turn is None:
        state.extra.pop(PENDING_KEY, None)
    else:
        state.extra[PENDING_KEY] = storable_json(turn.model_dump(mode="json"))


def log_decision(state: AgentStateSnapshot, decision: Decision) -> None:
    state.extra[DECISIONS_KEY] = [
        *state.extra.get(DECISIONS_KEY, []),
        storable_json(decision.model_dump(mode="json")),
    ]


def decisions(state: AgentStateSnapshot) -> list[Decision]:
    """The thread's decision log, oldest first."""
    return [Decision.model_validate(d) for d in state.extra.get(DECISIONS_KEY, [])]
