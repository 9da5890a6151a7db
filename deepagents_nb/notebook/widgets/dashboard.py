"""`AgentDashboard`: event log, todos, files and cost of one thread, in tabs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets

from deepagents_nb.events import EventBase, TodosUpdated
from deepagents_nb.notebook.widgets._base import WidgetView
from deepagents_nb.notebook.widgets._throttle import Pacing
from deepagents_nb.notebook.widgets.cost import CostPanel
from deepagents_nb.notebook.widgets.event_log import EventLog
from deepagents_nb.notebook.widgets.files import FileBrowser
from deepagents_nb.notebook.widgets.todos import TodoList

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent


class AgentDashboard(WidgetView):
    """The live view of a thread: feed it a run's events, `flush()` and `refresh()` after.

    Example::

        board = AgentDashboard(agent, "research")
        display(board)
        run = agent.stream("Plan a trip", thread_id="research")
        for event in run:
            board.handle(event)
        board.flush()
        board.refresh()
    """

    TITLES = ("Events", "Todos", "Files", "Cost")

    def __init__(
        self,
        agent: DeepAgent,
        thread_id: str = "default",
        *,
        pacing: Pacing | None = None,
        max_entries: int = 300,
    ) -> None:
        self.agent = agent
        self.thread_id = thread_id
        state = agent.get_state(thread_id)
        self.event_log = EventLog(max_entries=max_entries, pacing=pacing)
        self.todos = TodoList(agent, thread_id, todos=state.todos)
        self.files = FileBrowser(agent, thread_id, files=state.files, pacing=pacing)
        self.cost = CostPanel(agent, thread_id, pacing=pacing)
        self.tabs = widgets.Tab(
            children=[self.event_log.widget, self.todos.widget, self.files.widget, self.cost.widget]
        )
        self.widget = self.tabs
        # Stable selectors (styling, tests/e2e); the panels' contents carry their own classes.
        self.tabs.add_class("dnb-dashboard")
        self.todos.widget.add_class("dnb-todo-list")
        self.files.widget.add_class("dnb-file-browser")
        self._retitle()

    def handle(self, event: EventBase) -> None:
        """Feed one event to every panel."""
        self.event_log.handle(event)
        self.files.handle(event)
        self.cost.handle(event)
        if isinstance(event, TodosUpdated) and event.depth == 0:
            self.todos.handle(event)
            self._retitle()

    def flush(self) -> None:
        """Show every event received so far in the log, now."""
        self.event_log.flush()

    def refresh(self) -> None:
        """Read todos, files and usage again from the thread and the agent's ledger."""
        state = self.agent.get_state(self.thread_id)
        self.todos.update(state.todos)
        self.files.update(state.files)
        self.cost.refresh()
        self._retitle()

    def _retitle(self) -> None:
        todos = self.todos.todos
        done = sum(t.status == "completed" for t in todos)
        plan = f"Todos ({done}/{len(todos)})" if todos else "Todos"
        files = f"Files ({len(self.files.files)})" if self.files.files else "Files"
        titles = ("Events", plan, files, "Cost")
        if tuple(self.tabs.titles) != titles:
            self.tabs.titles = titles
