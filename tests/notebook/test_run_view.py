"""`RunView`, what a `%%agent` cell shows; and the notebook package's lazy exports."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from IPython.core.formatters import format_display_data
from widget_fakes import fake_pacing

from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.exceptions import ModelBehaviorError
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.widgets import RunView


@pytest.mark.filterwarnings("ignore:no price is known")
def test_run_streams_into_the_dashboard_and_returns_the_result() -> None:
    script = [
        ToolCall(name="write_todos", args={"todos": [{"content": "Draft", "status": "completed"}]}),
        ToolCall(name="write_file", args={"file_path": "/draft.md", "content": "# Draft"}),
        "Drafted it.",
    ]
    agent = create_deep_agent(model=ScriptedModel(script), token_tracking=True)
    view = RunView(agent, "w", pacing=fake_pacing())
    result = view.run("Write a draft")

    assert result.text == "Drafted it." and result.interrupt is None and view.result is result
    board = view.dashboard
    assert "▶ Write a draft" in board.event_log.html and "Drafted it." in board.event_log.html
    assert board.todos.todos[0].status == "completed"
    assert board.files.select.value == "/draft.md" and "# Draft" in board.files.content.value
    assert "<b>3</b> requests" in board.cost.totals.value
    assert view.approvals.children == () and view.approval is None


def test_a_failing_run_shows_the_error_and_raises() -> None:
    agent = create_deep_agent(model=ScriptedModel([]))
    view = RunView(agent, "f", pacing=fake_pacing())
    with pytest.raises(ModelBehaviorError):
        view.run("hello?")
    log = view.dashboard.event_log.html
    assert "▶ hello?" in log and "✗ ModelBehaviorError" in log and "#b91c1c" in log


def test_display_sends_the_widget_view() -> None:
    view = RunView(create_deep_agent(model=ScriptedModel([])), pacing=fake_pacing())
    data, _ = format_display_data(view)
    model_id = data["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert model_id == view.widget.model_id


class Displays:
    """Stands in for IPython's `display`: what was shown, and how each output was updated."""

    def __init__(self) -> None:
        self.shown: list[tuple[Any, dict[str, Any]]] = []
        self.updates: list[Any] = []

    def __call__(self, obj: Any, **kwargs: Any) -> Any:
        self.shown.append((obj, kwargs))
        if not kwargs.get("display_id"):
            return None
        updates = self.updates

        class Handle:
            def update(self, new: Any, **_: Any) -> None:
                updates.append(new)

        return Handle()


@pytest.mark.filterwarnings("ignore:no price is known")
def test_show_adds_a_saved_copy_which_run_ends_update_instead_of_the_live_widget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Updating the live widget's output made JupyterLab draw it anew (open entries
    # closed, plotly complained): the static copy is an output of its own.
    displays = Displays()
    monkeypatch.setattr("IPython.display.display", displays)
    agent = create_deep_agent(model=ScriptedModel(["Hello there."]), token_tracking=True)
    view = RunView(agent, "s", pacing=fake_pacing())
    view.show()
    view.run("hi")

    (live, live_options), (copy, copy_options) = displays.shown
    assert live_options == {"raw": True}  # no display id: the live widget is never updated
    assert live["application/vnd.jupyter.widget-view+json"]["model_id"] == view.widget.model_id
    assert live["text/plain"] == ""  # the saved copy below carries the text
    assert copy_options == {"raw": True, "display_id": True}
    # No widget view in the copy: renderers without the live model show its HTML.
    assert set(copy) == {"text/html", "text/plain"} and copy["text/plain"] == ""
    assert view.copy_class in copy["text/html"] and "dnb-run" not in copy["text/html"]

    (updated,) = displays.updates
    assert set(updated) == {"text/html", "text/plain"}
    html = updated["text/html"]
    assert f"<div class='dnb-saved {view.copy_class}'>" in html
    assert "<div class='dnb-run'>" in html and "Hello there." in html
    assert "Hello there." in updated["text/plain"]


def test_the_live_widget_hides_its_own_saved_copy_and_no_other() -> None:
    agent = create_deep_agent(model=ScriptedModel([]))
    first, second = RunView(agent, pacing=fake_pacing()), RunView(agent, pacing=fake_pacing())
    assert first.copy_class != second.copy_class
    hider = first.widget.children[0]
    assert hider.layout.display == "none"  # the <style> applies though its box is hidden
    css = hider.value
    live = f"{first.copy_class}-live"
    assert css.startswith("<style>") and live in first.widget._dom_classes
    # Hidden while the live view is connected (not drawn from saved state) ...
    assert f".jp-OutputArea:has(.{live}:not(.jupyter-widgets-disconnected))" in css
    assert f".jp-OutputArea-child:has(.{first.copy_class})" in css
    assert "display:none" in css and second.copy_class not in css
    # ... while the copy hides only what stands for a lost live view in its own cell.
    copy_css = first.saved_copy()["text/html"]
    assert f".jp-OutputArea:has(.{first.copy_class})" in copy_css
    assert ".jp-OutputArea-output:not(:has(*))" in copy_css
    assert f".{live}.jupyter-widgets-disconnected" in copy_css


def test_the_answer_is_shown_above_the_dashboard() -> None:
    agent = create_deep_agent(
        model=ScriptedModel(["Mail ann@example.com <now>"]), pii_sanitization=True
    )
    view = RunView(agent, "a", pacing=fake_pacing())
    children = view.widget.children
    assert children.index(view.answer) < children.index(view.dashboard.widget)
    assert children.index(view.approvals) < children.index(view.dashboard.widget)
    assert view.answer.layout.display == "none"  # nothing to show before a run

    view.run("write to ann")
    assert view.answer.layout.display is None
    assert "Mail [EMAIL] &lt;now&gt;" in view.answer.value  # redacted and escaped
    assert "ann@example.com" not in view.answer.value


def test_notebook_package_loads_widgets_only_when_asked() -> None:
    heavy = ["ipywidgets", "plotly", "pandas"]
    code = (
        "import sys, json, deepagents_nb.notebook as nb; "
        f"before = [m for m in {heavy!r} if m in sys.modules]; "
        "nb.RunView, nb.cost_figure; "
        f"print(json.dumps([before, [m for m in {heavy!r} if m in sys.modules]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [[], heavy]
