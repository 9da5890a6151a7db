""" "Insert as cell" in the dashboard: the code the agent ran becomes a new cell below the
`%%agent` cell, in JupyterLab and in Notebook 7 (through ipylab, in the lab extra).

Needs Debian's chromium and playwright, like the other browser tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from test_dashboard_in_browser import run_cell, write_notebook
from test_notebooks_in_browser import assert_console_clean

if TYPE_CHECKING:
    from lab_page import LabPage

SECOND = 1000
# The address is PII: the dashboard shows it redacted, the inserted cell as it ran.
CODE = (
    "owner = 'jane.doe@example.com'\n"
    "total = sum(n * n for n in range(10))\n"
    "print('total:', total, 'owner:', owner)"
)
AGENT = f"""%load_ext deepagents_nb
from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.models.testing import ScriptedModel

script = [ToolCall("run_python", {{"code": {CODE!r}}}), "Summed the squares."]
agent = create_deep_agent(model=ScriptedModel(script), python="isolated")"""
ASK = """%%agent -a agent -t squares
Sum the squares below ten."""
LAST = 'print("the last cell")'
CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets.map(cell => ({
    type: cell.model.type,
    source: cell.model.sharedModel.getSource(),
}))"""
ACTIVE = "() => window.jupyterapp.shell.currentWidget.content.activeCellIndex"
# Notebook 7's notebook page logs these on any notebook, with ipylab's extension
# disabled too (its page has no file browser): not this feature's.
NOTEBOOK7_NOISE = (
    "Cannot read properties of undefined (reading 'schema')",
    "Command 'filebrowser:open-path' not registered",
)

pytestmark = [pytest.mark.service("chromium"), pytest.mark.timeout(150)]


def cells(lab_page: LabPage) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = lab_page.page.evaluate(CELLS)
    return found


@pytest.mark.parametrize("notebook7", [False, True], ids=["jupyterlab", "notebook7"])
def test_insert_as_cell_puts_the_code_the_agent_ran_below_the_agent_cell(
    lab_page: LabPage, notebook7: bool, request: pytest.FixtureRequest
) -> None:
    if notebook7:
        request.getfixturevalue("require_notebook7")
    lab_page.open_notebook(write_notebook(lab_page, [AGENT, ASK, LAST]), notebook7=notebook7)
    run_cell(lab_page, 0)
    run_cell(lab_page, 1)
    run_cell(lab_page, 2)  # the last cell is the active one now, not the agent's
    assert lab_page.page.evaluate(ACTIVE) == 2

    run_view = lab_page.page.locator(".dnb-run-view")
    code = run_view.locator(".dnb-event-log details.dnb-code")
    button = run_view.locator(".dnb-event-log .dnb-insert-cell")
    with lab_page.step("the code run's entry, its address redacted, and its button"):
        lab_page.expect(run_view.locator(".dnb-answer")).to_have_text("Summed the squares.")
        lab_page.expect(code.locator(".dnb-code-output")).to_contain_text("total: 285")
        lab_page.expect(code.locator(".dnb-code-source")).to_contain_text("[EMAIL]")
        lab_page.expect(button).to_have_count(1)
        lab_page.expect(button).to_have_text("Insert as cell")

    with lab_page.step("a click on Insert as cell"):
        button.click()
    with lab_page.step("a new code cell right below the agent cell, holding the code"):
        lab_page.page.wait_for_function(
            "n => window.jupyterapp.shell.currentWidget.content.widgets.length === n",
            arg=4,
            timeout=10 * SECOND,
            polling=200,
        )
        lab_page.page.wait_for_function(
            "code => window.jupyterapp.shell.currentWidget.content.widgets[2]"
            ".model.sharedModel.getSource() === code",
            arg=CODE,
            timeout=10 * SECOND,
            polling=200,
        )
    assert cells(lab_page) == [
        {"type": "code", "source": AGENT},
        {"type": "code", "source": ASK},
        {"type": "code", "source": CODE},  # as the agent ran it: the real address
        {"type": "code", "source": LAST},
    ]
    assert lab_page.page.evaluate(ACTIVE) == 2
    with lab_page.step("no message next to the button"):
        lab_page.expect(run_view.locator(".dnb-insert-cell-status")).to_have_text("")

    run_cell(lab_page, 2)
    inserted = lab_page.page.locator(".jp-Notebook .jp-Cell").nth(2)
    with lab_page.step("the inserted cell's output"):
        lab_page.expect(inserted.locator(".jp-OutputArea-output")).to_have_text(
            "total: 285 owner: jane.doe@example.com"
        )
    lab_page.screenshot(show=code)
    if notebook7:
        lab_page.console_errors = [
            error
            for error in lab_page.console_errors
            if not any(noise in error for noise in NOTEBOOK7_NOISE)
        ]
    assert_console_clean(lab_page)
