"""What a run knows about itself, handed to middleware hooks and tools."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deepagents_nb.context_window import known_context_window
from deepagents_nb.events import TokenUsage
from deepagents_nb.messages import Message
from deepagents_nb.security import sanitize_json
from deepagents_nb.state import AgentStateSnapshot, StateUpdate, TodoItem
from deepagents_nb.text import storable_json, storable_message
from deepagents_nb.usage import Usage, UsageTracker

if TYPE_CHECKING:
    from deepagents_nb.events import EventBase
    from deepagents_nb.gates import Gates
    from deepagents_nb.hitl import HitlAction
    from deepagents_nb.messages import ToolCall
    from deepagents_nb.models.base import ChatModel, ModelResponse
    from deepagents_nb.output import OutputRun


@dataclass
class RunContext:
    """One run of an agent on one thread.

    `emit` sends an event to the run's listeners (the agent's broadcasters, any
    `stream()` consumer, and for a sub-agent its parent's listeners); `listening`
    says whether anyone is there, so events are only built when they will be seen.
    `usage` sums this run's model calls, sub-agents' included. `metadata` is free
    space for middleware.
    """

    thread_id: str
    run_id: str
    agent_name: str
    state: AgentStateSnapshot
    emit: Callable[[EventBase], None]
    model: ChatModel
    depth: int = 0
    sanitize: bool = True
    listening: bool = False
    streaming: bool = False
    usage: Usage = field(default_factory=Usage.zero)
    tracker: UsageTracker | None = None
    gates: Gates | None = None
    """The approval policies of this run (its agent's and its parents')."""
    added: list[Message] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    output: OutputRun | None = None
    """The run's structured output, when it has an `output_type`."""
    context_window: int | None = None
    """The agent's `context_window` setting (else each model's known window)."""
    content: bool = False
    """Whether a listener captures whole messages (`captures_content`)."""

    def record_usage(self, response: ModelResponse, model: ChatModel) -> None:
        """Count a model call: run totals, the tracker (cost, budgets), a `TokenUsage` event."""
        if response.usage is None:
            return
        self.usage += response.usage
        provider = response.provider or model.provider
        model_name = response.model or model.model_name
        cost = None
        if self.tracker is not None:
            cost = self.tracker.record(
                usage=response.usage,
                provider=provider,
                model=model_name,
                agent_name=self.agent_name,
                thread_id=self.thread_id,
                run_id=self.run_id,
                depth=self.depth,
                duration_ms=response.duration_ms,
            )
        # A tracker may turn these events off (TokenTrackingConfig.emit_events=False).
        if self.listening and getattr(self.tracker, "emit_events", True):
            self.emit(
                TokenUsage(
                    usage=response.usage,
                    provider=provider,
                    model=model_name,
                    duration_ms=response.duration_ms,
                    estimated_cost=cost,
                    context_window=self.context_window
                    or known_context_window(provider, model_name),
                    request_model=model.model_name,
                    finish_reason=response.stop_reason,
                    content=self._parts(response.message) if self.content else None,
                    **self.event_meta(),
                )
            )

    def _parts(self, message: Message) -> list[dict[str, Any]]:
        """A message's text and tool calls as content parts, sanitized like events."""
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "content": message.content})
        parts += [
            {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.args}
            for c in message.tool_calls
        ]
        parts += [{"type": "image", "content": image.placeholder()} for image in message.images]
        return sanitize_json(parts, redact_strings=True) if self.sanitize else parts

    def add_message(self, message: Message) -> Message:
        """Append a message to the thread, remembering it as one this run added.

        Returns the message as stored: with lone surrogates (a model's broken JSON
        escapes) replaced, since no checkpointer could save them.
        """
        message = storable_message(message)
        self.state.messages.append(message)
        self.added.append(message)
        return message

    def event_meta(self) -> dict[str, Any]:
        """The fields every event of this run carries."""
        return {
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "agent_name": self.agent_name,
            "depth": self.depth,
        }


@dataclass
class ToolContext:
    """Injected into a tool that has a parameter annotated `ToolContext`.

    `state` is the thread's state as it was when the model asked for the call;
    read it freely, but change it only through the methods below: the changes
    are applied after the turn's tools finish, in the order the model called them.

    Example::

        @tool
        def save_note(text: str, ctx: ToolContext) -> str:
            "Save a note as notes.md."
            ctx.write_file("notes.md", text)
            return "saved"
    """

    run: RunContext
    call_id: str
    update: StateUpdate = field(default_factory=StateUpdate)
    resume: tuple[HitlAction, AgentStateSnapshot | None] | None = None
    """Set when this call continues a paused sub-agent: the decision and its saved state."""
    approved: ToolCall | None = None
    """The call as a human approved it, when it was gated: only it may run."""

    @property
    def thread_id(self) -> str:
        return self.run.thread_id

    @property
    def state(self) -> AgentStateSnapshot:
        return self.run.state

    def read_file(self, path: str) -> str | None:
        """A file's content as this call sees it (its own writes included), or None."""
        if path in self.update.files:
            return self.update.files[path]
        return self.run.state.files.get(path)

    def write_file(self, path: str, content: str) -> None:
        self.update.files[path] = content

    def delete_file(self, path: str) -> None:
        self.update.files[path] = None

    def set_todos(self, todos: list[TodoItem]) -> None:
        self.update.todos = list(todos)

    def set_extra(self, key: str, value: Any) -> None:
        """Set a free-form state value (`None` deletes it); JSON-like values only."""
        self.update.extra[storable_json(key)] = storable_json(value)

    def emit(self, event: EventBase) -> None:
        self.run.emit(event)
