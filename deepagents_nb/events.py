"""Events a run emits, as the Rust SDK names them, tagged by `event_type`.

Every event carries the thread id, the run id (the Rust SDK's correlation id),
the name of the agent or sub-agent that emitted it, its delegation depth (0 for
the top-level agent) and a UTC timestamp. Payload fields are sanitized when the
event is built (see `deepagents_nb.security`), once, before any broadcaster
sees them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from deepagents_nb.state import TodoItem
from deepagents_nb.usage import Usage


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class EventBase(BaseModel):
    """Fields every event has."""

    thread_id: str
    run_id: str
    agent_name: str
    depth: int = 0
    timestamp: datetime = Field(default_factory=utc_now)


class AgentStarted(EventBase):
    event_type: Literal["agent_started"] = "agent_started"
    message_preview: str
    message: str | None = None
    """The whole message, sanitized: only when a listener captures content."""
    resumes: str | None = None
    """The id of the paused run this run continues (a resume after an approval)."""


class AgentCompleted(EventBase):
    event_type: Literal["agent_completed"] = "agent_completed"
    duration_ms: float
    response_preview: str
    response: str


class AgentFailed(EventBase):
    event_type: Literal["agent_failed"] = "agent_failed"
    duration_ms: float
    error_type: str
    error_message: str


class ToolStarted(EventBase):
    event_type: Literal["tool_started"] = "tool_started"
    tool_name: str
    call_id: str
    input_summary: str
    args: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    """Where the tool runs when not in this process: "mcp:<server>" for an MCP tool."""


class ToolCompleted(EventBase):
    event_type: Literal["tool_completed"] = "tool_completed"
    tool_name: str
    call_id: str
    duration_ms: float
    result_summary: str
    success: bool = True
    source: str | None = None
    """Where the tool runs when not in this process: "mcp:<server>" for an MCP tool."""


class ToolFailed(EventBase):
    event_type: Literal["tool_failed"] = "tool_failed"
    tool_name: str
    call_id: str
    duration_ms: float
    error_message: str
    is_recoverable: bool = True
    retry_count: int = 0
    source: str | None = None
    """Where the tool runs when not in this process: "mcp:<server>" for an MCP tool."""


class SubAgentStarted(EventBase):
    event_type: Literal["subagent_started"] = "subagent_started"
    subagent_name: str
    instruction_summary: str
    delegation_depth: int


class SubAgentCompleted(EventBase):
    event_type: Literal["subagent_completed"] = "subagent_completed"
    subagent_name: str
    duration_ms: float
    result_summary: str


class TodosUpdated(EventBase):
    event_type: Literal["todos_updated"] = "todos_updated"
    todos: list[TodoItem]
    pending_count: int
    in_progress_count: int
    completed_count: int

    @classmethod
    def counted(cls, todos: list[TodoItem], **meta: Any) -> TodosUpdated:
        """Build the event, counting statuses from `todos`."""
        counts = {"pending": 0, "in_progress": 0, "completed": 0}
        for item in todos:
            counts[item.status] += 1
        return cls(
            todos=todos,
            pending_count=counts["pending"],
            in_progress_count=counts["in_progress"],
            completed_count=counts["completed"],
            **meta,
        )


class StateCheckpointed(EventBase):
    event_type: Literal["state_checkpointed"] = "state_checkpointed"
    checkpoint_id: str
    state_size_bytes: int


class PlanningComplete(EventBase):
    event_type: Literal["planning_complete"] = "planning_complete"
    action_type: str
    action_summary: str


class TokenUsage(EventBase):
    event_type: Literal["token_usage"] = "token_usage"
    usage: Usage
    provider: str
    model: str
    duration_ms: float
    estimated_cost: float | None = None
    context_window: int | None = None
    """The model's context window, when known: `usage.input_tokens` of it is this
    request's prompt (the context meter)."""
    request_model: str | None = None
    """The model asked for (`model` is the one that answered, as the vendor names it)."""
    finish_reason: str | None = None
    content: list[dict[str, Any]] | None = None
    """The answer's parts (`{"type": "text", "content": ...}`, `{"type": "tool_call",
    "name": ..., "arguments": ...}`), sanitized: only when a listener captures content."""


class InterruptRaised(EventBase):
    """A run stopped before a gated tool call and waits for a human decision."""

    event_type: Literal["interrupt_raised"] = "interrupt_raised"
    tool_name: str
    call_id: str
    args: dict[str, Any] = Field(default_factory=dict)
    policy_note: str | None = None
    agent_path: list[str] = Field(default_factory=list)
    source: str | None = None
    """Where the tool runs when not in this process: "mcp:<server>" for an MCP tool."""


class InterruptResolved(EventBase):
    """A human decided on an interrupt; the run continues."""

    event_type: Literal["interrupt_resolved"] = "interrupt_resolved"
    tool_name: str
    call_id: str
    action: str
    agent_path: list[str] = Field(default_factory=list)


class StreamingToken(EventBase):
    """A piece of the model's answer as it is generated (streaming runs only)."""

    event_type: Literal["streaming_token"] = "streaming_token"
    token: str


class ContextEdited(EventBase):
    """Old context made smaller before a model call: tool results `"cleared"` (each kept
    in a file), or older messages `"summarized"` (the last resort)."""

    event_type: Literal["context_edited"] = "context_edited"
    kind: Literal["cleared", "summarized"]
    messages: int
    tokens_before: int
    tokens_after: int


class OutputDelta(EventBase):
    """The structured output filling in (`output_type=...` runs): `value` is the part
    parsed so far as JSON data, then the whole validated output with `final=True`."""

    event_type: Literal["output_delta"] = "output_delta"
    value: Any = None
    final: bool = False


AgentEvent = Annotated[
    AgentStarted
    | AgentCompleted
    | AgentFailed
    | ToolStarted
    | ToolCompleted
    | ToolFailed
    | SubAgentStarted
    | SubAgentCompleted
    | TodosUpdated
    | StateCheckpointed
    | PlanningComplete
    | TokenUsage
    | InterruptRaised
    | InterruptResolved
    | StreamingToken
    | OutputDelta
    | ContextEdited,
    Field(discriminator="event_type"),
]
"""Any event; `AGENT_EVENT_ADAPTER.validate_json(...)` reads one back."""

AGENT_EVENT_ADAPTER: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)
