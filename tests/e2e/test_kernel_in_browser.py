"""The agent in the live kernel, in JupyterLab: it plots and creates a DataFrame in the
user's namespace only after Approve is clicked, and the figure shows in the dashboard.

Needs Debian's chromium and playwright, like the other browser tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from test_dashboard_in_browser import run_cell, write_notebook
from test_notebooks_in_browser import assert_console_clean

if TYPE_CHECKING:
    from lab_page import LabPage
    from playwright.sync_api import Locator

SECOND = 1000
CODE = (
    "import pandas as pd\\n"
    "import matplotlib.pyplot as plt\\n"
    "summary = pd.DataFrame({'total': [sum(sales)]})\\n"
    "fig, ax = plt.subplots(figsize=(4, 3))\\n"
    "ax.bar(['north', 'south', 'west'], sales)\\n"
    "summary"
)
AGENT = f"""%load_ext deepagents_nb
from deepagents_nb import InMemoryCheckpointer, ToolCall, create_deep_agent
from deepagents_nb.models.testing import ScriptedModel

sales = [3, 4, 5]
script = [ToolCall("run_python", {{"code": "{CODE}"}}), "Summed and plotted."]
agent = create_deep_agent(
    model=ScriptedModel(script), python="live", checkpointer=InMemoryCheckpointer()
)"""
ASK = """%%agent -a agent -t sales
Sum the sales and plot them."""
CHECK = 'print("summary:", type(globals().get("summary")).__name__)'

pytestmark = [pytest.mark.service("chromium"), pytest.mark.timeout(120)]


def last_output(lab_page: LabPage, index: int) -> Locator:
    return lab_page.page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")


def test_a_live_plot_runs_only_after_approve_and_shows_in_the_dashboard(
    lab_page: LabPage,
) -> None:
    lab_page.open_notebook(write_notebook(lab_page, [AGENT, ASK, CHECK]))
    run_cell(lab_page, 0)
    run_cell(lab_page, 1)
    run_view = lab_page.page.locator(".dnb-run-view")
    approval = run_view.locator(".dnb-approvals .dnb-approval")
    with lab_page.step("the approval shows the code and the names it assigns"):
        lab_page.expect(approval.locator(".dnb-interrupt")).to_contain_text(
            "Approval needed for run_python"
        )
        lab_page.expect(approval).to_contain_text("assigns: pd, plt, summary, fig, ax")
        lab_page.expect(approval).to_contain_text("summary = pd.DataFrame")

    run_cell(lab_page, 2)
    with lab_page.step("nothing created before the approval"):
        lab_page.expect(last_output(lab_page, 2)).to_have_text("summary: NoneType")
    lab_page.screenshot("paused", show=run_view)

    with lab_page.step("a click on Approve"):
        run_view.locator(".dnb-approve").click()
    log = run_view.locator(".dnb-dashboard .dnb-event-log")
    with lab_page.step("the final answer, after the code ran"):
        lab_page.expect(log.locator(".dnb-text").last).to_have_text(
            "Summed and plotted.", timeout=30 * SECOND
        )
    lab_page.wait_kernel_idle("the kernel to finish handling the click")

    code = log.locator("details.dnb-code")
    with lab_page.step("the code run's entry: code, output and the figure"):
        lab_page.expect(code.locator(".dnb-code-source")).to_contain_text("ax.bar(")
        lab_page.expect(code.locator(".dnb-code-output")).to_contain_text("Out: DataFrame: 1 rows")
        figure = code.locator("img.dnb-thumbnail")
        lab_page.expect(figure).to_have_count(1)
        lab_page.expect(figure).to_be_visible()
        width = figure.evaluate("img => img.naturalWidth")
        assert width > 100, width  # a decoded PNG, not a broken image
    lab_page.screenshot("approved", show=run_view)

    run_cell(lab_page, 2)
    with lab_page.step("the DataFrame now in the user's namespace"):
        lab_page.expect(
            last_output(lab_page, 2).locator(".jp-OutputArea-output").first
        ).to_have_text("summary: DataFrame")
    assert_console_clean(lab_page)
