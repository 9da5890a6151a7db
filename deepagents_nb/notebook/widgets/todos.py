"""`TodoList`: the agent's plan, each item with its status."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

import ipywidgets as widgets

from deepagents_nb.display import todos_html
from deepagents_nb.events import EventBase, TodosUpdated
from deepagents_nb.notebook.widgets._base import FONT, MUTED_COLOR, WidgetView
from deepagents_nb.state import TodoItem

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent


class TodoList(WidgetView):
    """The thread's todo list: updated by `TodosUpdated` events or read from the thread.

    Example::

        todos = TodoList(agent, "research")   # shows the thread's current plan
        todos.refresh()                       # read it again from the checkpointer
    """

    def __init__(
        self,
        agent: DeepAgent | None = None,
        thread_id: str = "default",
        todos: Sequence[TodoItem] | None = None,
    ) -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.todos: list[TodoItem] = []
        self.summary = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, bar_style="success")
        self.items = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.summary, self.progress]), self.items])
        if todos is None and agent is not None:
            self.refresh()
        else:
            self.update(todos or [])

    def handle(self, event: EventBase) -> None:
        """Follow the plan of the top-level agent (a sub-agent's plan is its own)."""
        if isinstance(event, TodosUpdated) and event.depth == 0:
            self.update(event.todos)

    def refresh(self) -> None:
        """Read the todo list from the thread's stored state."""
        if self.agent is not None:
            self.update(self.agent.get_state(self.thread_id).todos)

    def update(self, todos: Sequence[TodoItem]) -> None:
        """Show `todos`."""
        todos = list(todos)
        if todos == self.todos and self.items.value:
            return
        self.todos = todos
        done = sum(t.status == "completed" for t in todos)
        active = next((t.content for t in todos if t.status == "in_progress"), None)
        doing = f" · now: {active}" if active else ""
        self.summary.value = (
            f"<span style='{FONT};color:{MUTED_COLOR}'>{done}/{len(todos)} done"
            f"{escape(doing)}</span>"
        )
        self.progress.max = max(len(todos), 1)
        self.progress.value = done
        self.progress.layout.visibility = "visible" if todos else "hidden"
        self.items.value = todos_html(todos)
