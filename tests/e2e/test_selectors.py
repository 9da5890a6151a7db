"""The CSS classes the browser tests select on, checked without a browser.

A renamed class would otherwise show up only where Chromium is installed (in CI).
"""

from __future__ import annotations

from typing import Any

from deepagents_nb import HitlPolicy, InMemoryCheckpointer, ToolCall, create_deep_agent, tool
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.widgets import RunView


@tool
def delete_logs(older_than_days: int) -> str:
    """Delete log files older than the given number of days."""
    return f"deleted 0 log files older than {older_than_days} days"


def classes(widget: Any) -> set[str]:
    return set(widget._dom_classes)


def test_run_view_dashboard_and_approval_carry_stable_classes() -> None:
    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="delete_logs", args={"older_than_days": 30}), "ok"]),
        tools=[delete_logs],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"delete_logs": HitlPolicy(note="needs approval")},
    )
    view = RunView(agent, "ops")
    view.run("Clean up the logs")
    board, approval = view.dashboard, view.approval
    assert approval is not None

    assert "dnb-run-view" in classes(view.widget)
    assert "dnb-approvals" in classes(view.approvals)
    assert "dnb-dashboard" in classes(board.tabs)
    assert "dnb-event-log" in classes(board.event_log.widget)
    assert "dnb-todo-list" in classes(board.todos.widget)
    assert "dnb-file-browser" in classes(board.files.widget)
    assert "dnb-cost" in classes(board.cost.widget)
    assert "dnb-cost-chart" in classes(board.cost.chart)
    assert "dnb-approval" in classes(approval.widget)
    assert "dnb-approval-status" in classes(approval.status)
    expected = {
        "dnb-approve": approval.approve_button,
        "dnb-edit": approval.edit_button,
        "dnb-reject": approval.reject_button,
        "dnb-respond": approval.respond_button,
        "dnb-reject-send": approval.reject_send,
        "dnb-reason": approval.reason,
    }
    for css, control in expected.items():
        assert css in classes(control), css
