"""The dashboard shows each `run_python` call: code, whole output, figures; saved copies too;
and its "Insert as cell" button (the browser side: tests/e2e/test_insert_cell_in_browser.py)."""

from __future__ import annotations

import base64
import re
import sys
from typing import Any

import pytest
from widget_fakes import fake_pacing, meta

from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.events import ToolStarted
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook import insert_cell
from deepagents_nb.notebook.insert_cell import CellInsertUnavailable
from deepagents_nb.notebook.widgets import EventLog, RunView
from deepagents_nb.notebook.widgets._base import ERROR_COLOR

PLOT = (
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\n"
    "ax.bar(['a', 'b'], [3, 5])\n"
    "print('owner: jane.doe@example.com')\n"
    "print('\\n'.join(f'row {i}' for i in range(300)))"
)


def test_a_code_run_shows_its_code_output_and_figure_live_and_saved() -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": PLOT}, id="c1"), "Drawn."])
    with create_deep_agent(model=model, python="isolated") as agent:
        view = RunView(agent, "plots", pacing=fake_pacing())
        view.run("Plot it")

    log = view.dashboard.event_log.html
    assert "🐍 <code>run_python</code>" in log and "<details open class='dnb-tool dnb-code'>" in log
    # The code, highlighted with inline colours (no stylesheet needed in a saved copy).
    assert 'style="color: #' in log and "subplots" in log
    # The whole output from the thread, not the event's short preview; PII redacted.
    assert "row 299" in log and "[EMAIL]" in log and "jane.doe" not in log
    images = re.findall(r"src='data:image/png;base64,([^']+)'", log)
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
    assert images[0] in view.static_html()  # the saved copy shows the figure without a kernel


def test_a_failed_code_run_shows_its_traceback_in_red() -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": "undefined_name"}, id="c2"), "Hm."])
    with create_deep_agent(model=model, python="isolated") as agent:
        view = RunView(agent, "errors", pacing=fake_pacing())
        view.run("Try")

    log = view.dashboard.event_log.html
    assert "✗ failed" in log and "NameError: name &#x27;undefined_name&#x27; is not defined" in log
    assert "<img" not in log


# ----- "Insert as cell" ----------------------------------------------------------------------

OWNER = "owner = 'jane.doe@example.com'\nprint(len(owner))"


def insert_buttons(widget: Any) -> list[Any]:
    """The "Insert as cell" buttons inside `widget`, in order."""
    found = [widget] if "dnb-insert-cell" in getattr(widget, "_dom_classes", ()) else []
    for child in getattr(widget, "children", ()):
        found += insert_buttons(child)
    return found


def status_of(button: Any, log: EventLog) -> str:
    """The message shown next to `button` (empty unless the insert failed)."""
    for child in log.body.children:
        for row in getattr(child, "children", ()):
            if button in getattr(row, "children", ()):
                value: str = row.children[1].value
                return value
    raise AssertionError("button not in the log")


def test_insert_as_cell_gets_the_code_the_agent_really_ran(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inserted: list[str] = []
    monkeypatch.setattr(insert_cell, "insert_cell_below", inserted.append)
    model = ScriptedModel([ToolCall("run_python", {"code": OWNER}, id="c3"), "Counted."])
    with create_deep_agent(model=model, python="isolated") as agent:
        view = RunView(agent, "owners", pacing=fake_pacing())
        view.run("Count the owner's characters")
    log = view.dashboard.event_log

    (button,) = insert_buttons(log.widget)
    assert button.description == "Insert as cell"
    button.click()
    # The event's copy of the code is sanitized (the log shows it so); the thread's is not.
    assert inserted == [OWNER]
    assert "[EMAIL]" in log.html and "jane.doe" not in log.html
    assert status_of(button, log) == ""
    # The saved copy has no kernel behind it: no button there.
    assert "Insert as cell" not in log.html and "dnb-insert-cell" not in view.static_html()


def test_only_code_runs_get_an_insert_button_and_a_failed_insert_says_what_to_do() -> None:
    def unavailable(code: str) -> None:
        raise CellInsertUnavailable(f"No notebook here for {len(code)} characters.")

    log = EventLog(pacing=fake_pacing(), inserter=unavailable)
    events = [
        ToolStarted(**meta(), tool_name="write_file", call_id="w1", input_summary="/a.md"),
        ToolStarted(
            **meta(),
            tool_name="run_python",
            call_id="p1",
            input_summary="1 + 1",
            args={"code": "1 + 1"},
        ),
    ]
    for event in events:
        log.handle(event)
    log.flush()

    (button,) = insert_buttons(log.widget)
    button.click()
    status = status_of(button, log)
    assert "No notebook here for 5 characters." in status and ERROR_COLOR in status


def test_outside_jupyterlab_the_button_says_to_use_the_magic_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real inserter, with no front end behind the kernel (as in VS Code or nbconvert)."""
    pytest.importorskip("ipylab", reason="ipylab is in the lab extra")
    monkeypatch.setattr(insert_cell, "_front_end", None)
    log = EventLog(pacing=fake_pacing())
    log.handle(
        ToolStarted(
            **meta(),
            tool_name="run_python",
            call_id="p2",
            input_summary="x",
            args={"code": "x = 1"},
        )
    )
    log.flush()
    (button,) = insert_buttons(log.widget)
    button.click()
    status = status_of(button, log)
    assert "did not answer" in status and "JupyterLab or Notebook 7" in status
    assert "%agent code --insert" in status


def test_without_ipylab_the_button_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(insert_cell, "_front_end", None)
    monkeypatch.setitem(sys.modules, "ipylab", None)  # as if not installed
    log = EventLog(pacing=fake_pacing())
    log.handle(
        ToolStarted(
            **meta(),
            tool_name="run_python",
            call_id="p3",
            input_summary="x",
            args={"code": "x = 1"},
        )
    )
    log.flush()
    (button,) = insert_buttons(log.widget)
    button.click()
    status = status_of(button, log)
    assert "needs ipylab (pip install ipylab" in status and "%agent code --insert" in status
    assert insert_cell._front_end is None
