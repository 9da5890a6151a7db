"""Live ipywidgets for agent runs: event log, todos, files, cost, dashboard, approvals.

Each view wraps an ipywidgets container (`view.widget`) and displays as it.
Feed views a run's events with `handle(event)`; `RunView` does it all for a
`%%agent` cell. `Timeline` rewinds a thread to any saved version and forks it.
`BatchProgressWidget` and `BatchApprovalWidget` follow and decide `agent.map` batches.
"""

from deepagents_nb.notebook.widgets._throttle import Pacing, Throttle
from deepagents_nb.notebook.widgets.approval import ApprovalWidget
from deepagents_nb.notebook.widgets.batch import BatchApprovalWidget, BatchProgressWidget
from deepagents_nb.notebook.widgets.cost import CostPanel
from deepagents_nb.notebook.widgets.dashboard import AgentDashboard
from deepagents_nb.notebook.widgets.event_log import EventLog
from deepagents_nb.notebook.widgets.files import FileBrowser
from deepagents_nb.notebook.widgets.run_view import RunView
from deepagents_nb.notebook.widgets.timeline import Timeline
from deepagents_nb.notebook.widgets.todos import TodoList

__all__ = [
    "AgentDashboard",
    "ApprovalWidget",
    "BatchApprovalWidget",
    "BatchProgressWidget",
    "CostPanel",
    "EventLog",
    "FileBrowser",
    "Pacing",
    "RunView",
    "Throttle",
    "Timeline",
    "TodoList",
]
