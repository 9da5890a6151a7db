"""Plain-text rendering of a run's events, for `%%agent --no-widgets` and terminals."""

from __future__ import annotations

import sys
from typing import TextIO

from deepagents_nb.events import (
    AgentFailed,
    EventBase,
    InterruptRaised,
    StreamingToken,
    SubAgentCompleted,
    SubAgentStarted,
    TodosUpdated,
    ToolCompleted,
    ToolFailed,
    ToolStarted,
)


class PlainPrinter:
    """Prints text as it streams and one line per tool call, indented for sub-agents."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._mid_line = False

    def _line(self, depth: int, text: str) -> None:
        if self._mid_line:
            self.out.write("\n")
            self._mid_line = False
        self.out.write("  " * depth + text + "\n")
        self.out.flush()

    def handle(self, event: EventBase) -> None:
        depth = event.depth
        if isinstance(event, StreamingToken):
            self.out.write(event.token)
            self._mid_line = not event.token.endswith("\n")
            self.out.flush()
        elif isinstance(event, ToolStarted):
            self._line(depth, f"→ {event.tool_name} {event.input_summary}")
        elif isinstance(event, ToolCompleted):
            self._line(depth, f"  ✓ {event.result_summary}")
        elif isinstance(event, ToolFailed):
            self._line(depth, f"  ✗ {event.error_message}")
        elif isinstance(event, SubAgentStarted):
            self._line(depth, f"⇢ sub-agent {event.subagent_name}: {event.instruction_summary}")
        elif isinstance(event, SubAgentCompleted):
            self._line(depth, f"⇠ sub-agent {event.subagent_name} done")
        elif isinstance(event, TodosUpdated):
            done, total = event.completed_count, len(event.todos)
            self._line(depth, f"☐ plan updated: {done}/{total} done")
        elif isinstance(event, InterruptRaised):
            self._line(depth, f"⏸ waiting for approval of {event.tool_name}")
        elif isinstance(event, AgentFailed):
            self._line(depth, f"✗ {event.error_type}: {event.error_message}")

    def finish(self) -> None:
        if self._mid_line:
            self.out.write("\n")
            self._mid_line = False
        self.out.flush()
