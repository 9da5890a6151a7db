"""The live dashboard in JupyterLab: the Events tab follows a run, the Cost tab fits.

Needs Debian's chromium and playwright, like the other browser tests.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from test_notebooks_in_browser import assert_console_clean

if TYPE_CHECKING:
    from lab_page import LabPage
    from playwright.sync_api import Locator

SECOND = 1000
AGENT = """from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.models.testing import ScriptedModel

def script(n, answer):
    calls = [ToolCall(name="write_file", args={"file_path": f"/f{i}.md", "content": "x"})
             for i in range(n)]
    return [*calls, answer]

agent = create_deep_agent(
    model=ScriptedModel(script(30, "First run done.") + script(30, "Second run done.")),
    token_tracking=True,
)"""
SHOW = """from deepagents_nb.notebook.widgets import RunView

view = RunView(agent, "long")
view.show()
view.run("Write thirty files.");"""
AGAIN = 'view.run("Thirty more.");'
# Where the newest entry is, relative to the scroll box: -1 above, 0 in view, 1 below.
PLACE = """box => {
    const entries = box.querySelectorAll('.widget-html');
    const last = entries[entries.length - 1].getBoundingClientRect();
    const view = box.getBoundingClientRect();
    if (last.bottom <= view.top) return -1;
    if (last.top >= view.bottom) return 1;
    return 0;
}"""

# Where the first entry sits in the scroll box: the same number means the same view.
FIRST_ENTRY_OFFSET = """box => Math.round(
    box.querySelector('.widget-html').getBoundingClientRect().top - box.getBoundingClientRect().top
)"""

pytestmark = [pytest.mark.service("chromium"), pytest.mark.timeout(120)]


def write_notebook(lab_page: LabPage, cells: list[str]) -> str:
    name = f"{lab_page.name}.ipynb"
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "source": s,
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            }
            for s in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab_page.server.root_dir / name).write_text(json.dumps(notebook), encoding="utf-8")
    return name


def place_of_newest(log: Locator) -> int:
    place: int = log.evaluate(PLACE)
    return place


def run_cell(lab_page: LabPage, index: int) -> None:
    """Run the notebook's cell `index` and wait until it ran and the kernel is idle."""
    with lab_page.step(f"cell {index} to run"):
        lab_page.page.evaluate(
            """index => {
                const panel = window.jupyterapp.shell.currentWidget;
                panel.content.activeCellIndex = index;
                window.jupyterapp.commands.execute('notebook:run-cell');
            }""",
            index,
        )
        lab_page.page.wait_for_function(
            """index => {
                const panel = window.jupyterapp.shell.currentWidget;
                const cell = panel.content.widgets[index];
                const kernel = panel.sessionContext.session.kernel;
                return cell.model.executionCount !== null && kernel.status === 'idle';
            }""",
            arg=index,
            timeout=30 * SECOND,
            polling=200,
        )


def test_events_tab_follows_a_run_unless_scrolled_up(lab_page: LabPage) -> None:
    lab_page.open_notebook(write_notebook(lab_page, [AGENT, SHOW, AGAIN]))
    run_cell(lab_page, 0)
    run_cell(lab_page, 1)
    log = lab_page.page.locator(".dnb-run-view .dnb-event-log")
    with lab_page.step("the final answer at the bottom of a long event log, in view"):
        lab_page.expect(log.locator(".dnb-text").last).to_have_text("First run done.")
        height, shown = log.evaluate("box => [box.scrollHeight, box.clientHeight]")
        assert height > shown * 2, (height, shown)  # the log overflows its box
        assert place_of_newest(log) == 0
    lab_page.screenshot(show=log)

    # The user scrolls up to read: new entries must not pull the view away.
    log.evaluate("box => { box.scrollTop = -box.scrollHeight; }")  # column-reverse: < 0
    top = log.evaluate(FIRST_ENTRY_OFFSET)
    run_cell(lab_page, 2)
    with lab_page.step("the second run's entries below, the user's place kept"):
        lab_page.expect(log.locator(".dnb-text").last).to_have_text("Second run done.")
        assert place_of_newest(log) == 1
        assert log.evaluate(FIRST_ENTRY_OFFSET) == top
    assert_console_clean(lab_page)
