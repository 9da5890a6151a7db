"""The notebook layer: magics, live widgets and charts over the same agents and events.

Widgets and charts load on first use (`from deepagents_nb.notebook import RunView`),
so the magics stay cheap when widgets are not wanted.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "AgentDashboard": "deepagents_nb.notebook.widgets",
    "ApprovalWidget": "deepagents_nb.notebook.widgets",
    "CostPanel": "deepagents_nb.notebook.widgets",
    "EventLog": "deepagents_nb.notebook.widgets",
    "FileBrowser": "deepagents_nb.notebook.widgets",
    "RunView": "deepagents_nb.notebook.widgets",
    "Timeline": "deepagents_nb.notebook.widgets",
    "TodoList": "deepagents_nb.notebook.widgets",
    "cost_figure": "deepagents_nb.notebook.charts",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
