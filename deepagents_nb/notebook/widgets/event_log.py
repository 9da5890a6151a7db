"""`EventLog`: a run's events as they happen, text streaming in, tool calls collapsible."""

from __future__ import annotations

import threading
from collections import deque
from html import escape
from typing import Any

import ipywidgets as widgets

from deepagents_nb.events import (
    AgentCompleted,
    AgentFailed,
    AgentStarted,
    EventBase,
    InterruptRaised,
    InterruptResolved,
    OutputDelta,
    PlanningComplete,
    StreamingToken,
    SubAgentCompleted,
    SubAgentStarted,
    TodosUpdated,
    ToolCompleted,
    ToolFailed,
    ToolStarted,
)
from deepagents_nb.messages import Message
from deepagents_nb.notebook import insert_cell
from deepagents_nb.notebook.insert_cell import CellInserter, CellInsertUnavailable
from deepagents_nb.notebook.widgets._base import ERROR_COLOR, FONT, MUTED_COLOR, WidgetView
from deepagents_nb.notebook.widgets._entries import (
    CodeEntry,
    Entry,
    NoteEntry,
    OutputEntry,
    TextEntry,
    Tone,
    ToolEntry,
)
from deepagents_nb.notebook.widgets._throttle import Pacing
from deepagents_nb.security import redact_pii

DECIDED = {"accept": "approved", "edit": "edited", "reject": "rejected", "respond": "answered"}


class EventLog(WidgetView):
    """A live log of a run: feed it events with `handle`, call `flush` when the run ends.

    Each entry (a text block, a tool call, a status line) is its own small
    `HTML` widget, so a redraw sends only what changed and a tool call the
    user expanded stays expanded. Redraws are throttled (`pacing`), and only
    the last `max_entries` entries are kept on screen.

    A `run_python` call also gets an "Insert as cell" button: a click puts the
    code the agent ran into a new cell below (through `inserter`; by default
    `insert_cell.insert_cell_below`, JupyterLab and Notebook 7 with ipylab).

    Example::

        log = EventLog()
        display(log)
        for event in agent.stream("hi"):
            log.handle(event)
        log.flush()
    """

    def __init__(
        self,
        *,
        max_entries: int = 300,
        pacing: Pacing | None = None,
        height: str = "420px",
        inserter: CellInserter | None = None,
    ) -> None:
        self.max_entries = max_entries
        self._inserter = inserter
        self.events = 0
        self.hidden = 0
        self._entries: deque[Entry] = deque()
        self._evicted: list[Entry] = []
        self._open_text: dict[tuple[str, str], TextEntry] = {}
        self._tools: dict[str, ToolEntry] = {}
        self._code: dict[str, CodeEntry] = {}  # run_python entries by call id, while shown
        self._outputs: dict[tuple[str, str], OutputEntry] = {}  # by run, while it fills in
        self._streamed: set[str] = set()
        self._shown: list[Any] = []  # the HTML widgets on screen, in order (see `html`)
        # Events arrive on the cell's thread while the trailing redraw runs on a timer's.
        self._lock = threading.RLock()
        self._hidden_note = widgets.HTML()
        # The body keeps its full height (no flex shrink, no scroll box of its own):
        # otherwise it shrinks to the outer box and scrolls itself, from the top.
        self.body = widgets.VBox([], layout=widgets.Layout(flex="0 0 auto", overflow="visible"))
        # A column-reverse scroll box starts at its bottom and stays there as entries
        # arrive, unless the user scrolled up: the newest entry stays in view.
        self.widget = widgets.Box(
            [self.body],
            layout=widgets.Layout(
                display="flex", flex_flow="column-reverse", max_height=height, overflow="auto"
            ),
        )
        self.widget.add_class("dnb-event-log")  # stable selector (styling, tests/e2e)
        self._throttle = (pacing or Pacing()).throttle(self._render)

    # ----- feeding -------------------------------------------------------------------------

    def handle(self, event: EventBase) -> None:
        """Add one event; the widget redraws at most once per pacing interval."""
        with self._lock:
            self.events += 1
            self._apply(event)
        self._throttle.request()

    def add_note(self, text: str, tone: Tone = "info", depth: int = 0) -> None:
        """Add a status line of your own (the approval widget records decisions with it)."""
        with self._lock:
            self._add(NoteEntry(depth, "", text, tone))
        self._throttle.request()

    def flush(self) -> None:
        """Show everything received so far, now."""
        self._throttle.flush()

    def show_tool_results(self, messages: list[Message], *, redact: bool = True) -> None:
        """Give each shown `run_python` entry its whole output and images, from the
        thread's tool messages (events carry only a short preview and no images),
        and the code it really ran, from the assistant's tool calls (an event's copy
        of the code is PII-sanitized): "Insert as cell" inserts that."""
        with self._lock:
            for message in messages:
                for call in message.tool_calls:
                    called = self._code.get(call.id)
                    if called is not None and isinstance(call.args, dict) and "code" in call.args:
                        called.ran_code = str(call.args["code"])
                entry = self._code.get(message.tool_call_id or "")
                if entry is not None and message.role == "tool":
                    text = redact_pii(message.content) if redact else message.content
                    entry.show_result(text, message.images)
        self._throttle.request()

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._evicted.extend(self._entries)
            self._entries.clear()
            self._open_text.clear()
            self._tools.clear()
            self._code.clear()
            self._outputs.clear()
            self.hidden = 0
        self._throttle.request()
        self._throttle.flush()

    @property
    def html(self) -> str:
        """The HTML the widgets show (as of the last redraw), without the buttons."""
        return "".join(shown.value for shown in self._shown)

    # ----- events to entries ---------------------------------------------------------------

    def _apply(self, event: EventBase) -> None:
        key = (event.run_id, event.agent_name)
        if isinstance(event, StreamingToken):
            self._streamed.add(event.run_id)
            text = self._open_text.get(key)
            if text is None:
                text = self._open_text[key] = TextEntry(event.depth, event.agent_name)
                self._add(text)
            text.append(event.token)
            return
        # Anything else the agent does ends its current text block.
        self._open_text.pop(key, None)
        if isinstance(event, OutputDelta):
            output = self._outputs.get(key)
            if output is None:
                output = self._outputs[key] = OutputEntry(event.depth, event.agent_name)
                self._add(output)
            output.update(event.value, event.final)
            if event.final:
                del self._outputs[key]
            return
        if isinstance(event, ToolStarted):
            entry: ToolEntry
            if event.tool_name == "run_python":
                entry = CodeEntry(event.depth, event.agent_name, event.args, event.input_summary)
                self._code[event.call_id] = entry
            else:
                entry = ToolEntry(
                    event.depth, event.agent_name, event.tool_name, event.args, event.input_summary
                )
            self._tools[event.call_id] = entry
            self._add(entry)
        elif isinstance(event, ToolCompleted | ToolFailed):
            self._finish_tool(event)
        else:
            self._note_for(event)

    def _finish_tool(self, event: ToolCompleted | ToolFailed) -> None:
        entry = self._tools.pop(event.call_id, None)
        if entry is None:  # started before this log existed, or scrolled out
            entry = ToolEntry(event.depth, event.agent_name, event.tool_name, {}, "")
            self._add(entry)
        if isinstance(event, ToolFailed):
            entry.finish("failed", event.error_message, event.duration_ms)
        else:
            entry.finish("done", event.result_summary, event.duration_ms)

    def _note_for(self, event: EventBase) -> None:
        depth, name = event.depth, event.agent_name
        note: tuple[str, Tone] | None = None
        if isinstance(event, AgentStarted):
            # Sub-agents are announced by SubAgentStarted; a resumed run by InterruptResolved.
            if depth == 0 and not event.message_preview.startswith("(resumed"):
                note = (f"▶ {event.message_preview}", "user")
        elif isinstance(event, AgentCompleted):
            # A model that does not stream gives its answer only here.
            if depth == 0 and event.response and event.run_id not in self._streamed:
                self._add(TextEntry(depth, name, event.response))
        elif isinstance(event, AgentFailed):
            note = (f"✗ {event.error_type}: {event.error_message}", "error")
        elif isinstance(event, SubAgentStarted):
            note = (f"⇢ sub-agent {event.subagent_name}: {event.instruction_summary}", "info")
        elif isinstance(event, SubAgentCompleted):
            seconds = event.duration_ms / 1000
            note = (f"⇠ sub-agent {event.subagent_name} finished ({seconds:.1f} s)", "ok")
        elif isinstance(event, TodosUpdated):
            done, total = event.completed_count, len(event.todos)
            note = (f"☑ plan updated: {done}/{total} done", "info")
        elif isinstance(event, PlanningComplete):
            note = (f"☑ {event.action_summary}", "ok")
        elif isinstance(event, InterruptRaised):
            waiting = self._tools.get(event.call_id)
            if waiting is not None:
                waiting.wait()
            why = f": {event.policy_note}" if event.policy_note else ""
            note = (f"⏸ approval needed for {event.tool_name}{why}", "warn")
        elif isinstance(event, InterruptResolved):
            verb = DECIDED.get(event.action, event.action)
            note = (f"▶ {verb} {event.tool_name}; the run continues", "ok")
        if note is not None:
            self._add(NoteEntry(depth, name, *note))

    def _add(self, entry: Entry) -> None:
        self._entries.append(entry)
        while len(self._entries) > self.max_entries:
            old = self._entries.popleft()
            self.hidden += 1
            if isinstance(old, CodeEntry):
                self._code = {k: v for k, v in self._code.items() if v is not old}
            self._evicted.append(old)
            if isinstance(old, TextEntry):
                # Later tokens of a scrolled-out block start a new, visible one.
                self._open_text = {k: v for k, v in self._open_text.items() if v is not old}

    # ----- drawing -------------------------------------------------------------------------

    def _render(self) -> None:
        with self._lock:
            children: list[Any] = []
            shown: list[Any] = []
            if self.hidden:
                self._hidden_note.value = (
                    f"<div style='color:{MUTED_COLOR};{FONT}'>… {self.hidden:,} earlier "
                    f"{'entry' if self.hidden == 1 else 'entries'} not shown</div>"
                )
                children.append(self._hidden_note)
                shown.append(self._hidden_note)
            for entry in self._entries:
                if entry.widget is None:
                    entry.widget = widgets.HTML(entry.html())
                    entry.view = self._view(entry)
                elif entry.dirty:
                    entry.widget.value = entry.html()
                entry.dirty = False
                children.append(entry.view)
                shown.append(entry.widget)
            if tuple(children) != tuple(self.body.children):
                self.body.children = tuple(children)
            self._shown = shown
            evicted, self._evicted = self._evicted, []
        for entry in evicted:
            for widget in _widgets_of(entry.view):
                widget.close()

    def _view(self, entry: Entry) -> Any:
        """What the log shows for `entry`: its HTML, and a code run's insert button."""
        if not isinstance(entry, CodeEntry):
            return entry.widget
        if self._inserter is None:
            # Opened now, so the front end has answered by the time of a click.
            insert_cell.prepare_front_end()
        button = widgets.Button(
            description="Insert as cell",
            tooltip="Put this code into a new cell below this one",
            layout=widgets.Layout(width="auto", height="24px"),
        )
        button.add_class("dnb-insert-cell")  # stable selector (tests/e2e)
        status = widgets.HTML()
        status.add_class("dnb-insert-cell-status")
        button.on_click(lambda _: self._insert(entry, status))
        indent = f"calc({1.5 * entry.depth:g}em + 8px)" if entry.depth > 0 else "0"
        row = widgets.HBox([button, status], layout=widgets.Layout(margin=f"0 0 4px {indent}"))
        return widgets.VBox([entry.widget, row])

    def _insert(self, entry: CodeEntry, status: Any) -> None:
        """The button's click: the code into a new cell, or why not and what to do."""
        insert = self._inserter or insert_cell.insert_cell_below
        try:
            insert(entry.code_to_insert)
        except CellInsertUnavailable as exc:
            status.value = f"<small style='color:{ERROR_COLOR};{FONT}'>{escape(str(exc))}</small>"
        else:
            status.value = ""


def _widgets_of(view: Any) -> list[Any]:
    """`view` and every widget inside it (closing a box leaves its children open)."""
    if view is None:
        return []
    inside = [w for child in getattr(view, "children", ()) for w in _widgets_of(child)]
    return [view, *inside]
