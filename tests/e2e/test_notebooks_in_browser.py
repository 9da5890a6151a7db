"""The notebooks in a real JupyterLab, in headless Chromium: approvals clicked by hand.

One JupyterLab server (127.0.0.1, random port and token) and one browser serve the
module; each test opens a fresh, output-free copy of a notebook in a new browser
context, runs all its cells and checks what the page shows. Screenshots of each
case's final page go to tests/e2e/artifacts/.

Needs Debian's chromium (`apt-get install chromium`; `.ci/run` installs it) and the
playwright package (dev extra): skipped without them, a failure in CI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lab_server import prepare_notebook

if TYPE_CHECKING:
    from lab_page import LabPage
    from playwright.sync_api import Locator

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SECOND = 1000

# None: RunView saves its static copy in an output of its own, so the live dashboard is
# never drawn anew (which made plotly.js log "Resize must be passed a displayed plot div
# element." for the old view's chart). Add an entry here only for upstream noise.
KNOWN_CONSOLE_ERRORS: tuple[str, ...] = ()

# A backstop: each wait has a shorter timeout of its own and fails with a report.
pytestmark = [pytest.mark.service("chromium"), pytest.mark.timeout(90)]


def open_copy(
    lab_page: LabPage, notebook: str, *, notebook7: bool = False, timeout: float = 45 * SECOND
) -> None:
    """Open an output-free copy of notebooks/`notebook` (the repository's stays untouched)."""
    copy = f"{lab_page.name}-{notebook}"
    prepare_notebook(NOTEBOOKS / notebook, lab_page.server.root_dir / copy)
    lab_page.open_notebook(copy, notebook7=notebook7)
    lab_page.run_all_cells(timeout)


def the_run_view(lab_page: LabPage) -> Locator:
    """The `%%agent` cell's output (each notebook here has one)."""
    run_view = lab_page.page.locator(".dnb-run-view")
    with lab_page.step("the %%agent cell's dashboard"):
        lab_page.expect(run_view).to_have_count(1)
        lab_page.expect(run_view.locator(".dnb-dashboard")).to_be_visible()
    return run_view


def paused_for_approval(lab_page: LabPage) -> Locator:
    """The run view of 03_human_in_the_loop, paused on `delete_logs` with buttons."""
    open_copy(lab_page, "03_human_in_the_loop.ipynb")
    run_view = the_run_view(lab_page)
    approval = run_view.locator(".dnb-approvals .dnb-approval")
    with lab_page.step("the approval widget of the paused run"):
        lab_page.expect(approval).to_have_count(1)
        lab_page.expect(approval.locator(".dnb-interrupt")).to_contain_text(
            "Approval needed for delete_logs"
        )
        for button in (".dnb-approve", ".dnb-edit", ".dnb-reject", ".dnb-respond"):
            lab_page.expect(approval.locator(button)).to_be_enabled()
    return run_view


def answered(lab_page: LabPage, run_view: Locator, answer: str | re.Pattern[str]) -> None:
    """Wait for the resumed run's final answer, then for the kernel to finish the click."""
    log = run_view.locator(".dnb-dashboard .dnb-event-log")
    with lab_page.step(f"the model's final answer {answer!r} in the event log"):
        lab_page.expect(log.locator(".dnb-text").last).to_have_text(answer, timeout=30 * SECOND)
    # The click's handler ends by updating the cell's saved copy (an output of its own).
    lab_page.wait_kernel_idle("the kernel to finish handling the click")


def assert_console_clean(lab_page: LabPage) -> None:
    """No errors in the browser console, but for the known ones (KNOWN_CONSOLE_ERRORS)."""
    errors = [e for e in lab_page.console_errors if not any(k in e for k in KNOWN_CONSOLE_ERRORS)]
    assert not errors, "the page logged errors:\n" + "\n".join(errors)


def test_approve_resumes_the_run_in_the_same_output(lab_page: LabPage) -> None:
    """Approve runs the tool, and the run finishes in the dashboard it paused in."""
    run_view = paused_for_approval(lab_page)
    lab_page.screenshot("paused", show=run_view)

    with lab_page.step("a click on Approve"):
        run_view.locator(".dnb-approve").click()
    answered(lab_page, run_view, re.compile(r"^Done: deleted \d+ log files older than 30 days: "))

    with lab_page.step("the decision shown and the buttons disabled"):
        status = run_view.locator(".dnb-approval-status")
        lab_page.expect(status).to_contain_text("✔ Approved")
        lab_page.expect(run_view.locator(".dnb-approve")).to_be_disabled()
    log = run_view.locator(".dnb-event-log")
    name = lab_page.page.locator("summary code", has_text="delete_logs")
    tool = log.locator("details.dnb-tool").filter(has=name)
    with lab_page.step("the delete_logs call's result, expanded by a click"):
        lab_page.expect(log).to_contain_text("▶ approved delete_logs; the run continues")
        tool.locator("summary").click()
        result = tool.locator("pre.dnb-result")
        lab_page.expect(result).to_be_visible()
        lab_page.expect(result).to_have_text(
            re.compile(r"^deleted \d+ log files older than 30 days: app-")
        )
    lab_page.screenshot(show=run_view)
    assert_console_clean(lab_page)


def test_reject_with_a_reason_is_answered_by_the_model(lab_page: LabPage) -> None:
    """Reject with a typed reason: the tool does not run and the model answers the reason."""
    reason = "the auditors need these logs until Friday"
    run_view = paused_for_approval(lab_page)

    with lab_page.step("Reject…, a reason typed in, then Reject"):
        run_view.locator(".dnb-reject").click()
        run_view.locator(".dnb-reason input").fill(reason)
        run_view.locator(".dnb-reject-send").click()
    answered(
        lab_page,
        run_view,
        f"Understood, I deleted nothing. The user rejected this tool call. Reason: {reason}",
    )

    with lab_page.step("the rejection shown, and the tool not run"):
        status = run_view.locator(".dnb-approval-status")
        lab_page.expect(status).to_contain_text(f"✘ Rejected: {reason}")
        log = run_view.locator(".dnb-event-log")
        lab_page.expect(log).to_contain_text("▶ rejected delete_logs; the run continues")
        lab_page.expect(log.locator("pre.dnb-result")).to_have_count(0)
    lab_page.screenshot(show=run_view)
    assert_console_clean(lab_page)


def test_quickstart_dashboard_shows_events_todos_and_cost_chart(lab_page: LabPage) -> None:
    """The quickstart's dashboard: tool calls in the log, the todos, the plotly cost chart."""
    open_copy(lab_page, "01_quickstart.ipynb")
    dashboard = the_run_view(lab_page).locator(".dnb-dashboard")

    log = dashboard.locator(".dnb-event-log")
    with lab_page.step("the event log's tool calls and final answer"):
        lab_page.expect(log.locator("details.dnb-tool summary code")).to_have_text(
            ["write_todos", "write_file", "write_todos"]
        )
        lab_page.expect(log.locator(".dnb-text").last).to_have_text(
            "The haiku is saved in /haiku.md."
        )
    lab_page.screenshot("events", show=dashboard)

    with lab_page.step("the Todos tab and its items"):
        dashboard.get_by_role("tab", name="Todos (2/2)").click()
        items = dashboard.locator(".dnb-todo-list ul.dnb-todos li")
        lab_page.expect(items).to_have_count(2)
        lab_page.expect(items.first).to_be_visible()
        lab_page.expect(items.first).to_contain_text("Draft the haiku (completed)")
    lab_page.screenshot("todos", show=dashboard)

    with lab_page.step("the Cost tab's plotly chart (jupyterlab-plotly)"):
        dashboard.get_by_role("tab", name="Cost").click()
        cost = dashboard.locator(".dnb-cost")
        lab_page.expect(cost).to_contain_text("requests")
        chart = cost.locator(".dnb-cost-chart .js-plotly-plot")
        lab_page.expect(chart.locator("svg.main-svg").first).to_be_visible(timeout=20 * SECOND)
        lab_page.expect(chart.locator(".gtitle")).to_contain_text("Tokens and cost")
    with lab_page.step("the compact request table, fitting its box, all columns a click away"):
        table = cost.locator("table.dnb-usage")
        lab_page.expect(table.locator("th")).to_have_text(
            ["time", "cost", "agent", "model", "in", "out", "ms"]
        )
        fits = table.evaluate(
            "t => t.getBoundingClientRect().width <= t.closest('.dnb-cost').clientWidth"
        )
        assert fits, "the compact table is wider than the Cost tab"
        rows = table.locator("tbody tr")
        heights = rows.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
        assert max(heights) < 40, heights  # one line (30 px) per request: nothing wraps
        lab_page.expect(cost.locator("table.dnb-usage-full")).to_be_hidden()
        cost.locator(".dnb-usage-details summary").click()
        lab_page.expect(cost.locator("table.dnb-usage-full")).to_be_visible()
    lab_page.screenshot(show=dashboard)
    assert_console_clean(lab_page)


def test_evals_and_tracing_notebook_runs_saves_and_reopens(lab_page: LabPage) -> None:
    """09: the evaluation's chart, the traced run's dashboard and span tree, then the
    saved notebook reopened with no kernel behind it."""
    open_copy(lab_page, "09_evals_and_tracing.ipynb", timeout=90 * SECOND)
    page = lab_page.page
    with lab_page.step("the evaluation's chart, agents side by side"):
        chart = page.locator(".js-plotly-plot").filter(has_text="Evaluation quiz")
        lab_page.expect(chart.locator("svg.main-svg").first).to_be_visible(timeout=20 * SECOND)
        lab_page.expect(chart.locator(".legendtext")).to_have_text(["mini", "large"])
    lab_page.screenshot("chart", show=chart)
    run_view = the_run_view(lab_page)
    with lab_page.step("the traced run's dashboard and its span tree"):
        lab_page.expect(run_view.locator(".dnb-event-log")).to_contain_text("sub-agent checker")
        spans = page.locator(".jp-OutputArea-output table.dataframe").filter(
            has_text="invoke_agent checker"
        )
        lab_page.expect(spans).to_have_count(1)
        lab_page.expect(spans).to_contain_text("· · · chat gpt-4o-mini")
    lab_page.screenshot("spans", show=spans)
    assert_console_clean(lab_page)

    lab_page.save()
    lab_page.shut_down_and_reload()
    with lab_page.step("the saved run, chart and span tree after the kernel is gone"):
        lab_page.expect(page.locator(".dnb-saved")).to_be_visible()
        lab_page.expect(page.locator(".dnb-saved")).to_contain_text("Paris has about 2.1 million")
        lab_page.expect(spans).to_have_count(1)
        chart_cell = page.locator(".jp-CodeCell", has_text="report.chart()")
        chart_cell.scroll_into_view_if_needed()
        # With no kernel, the chart is the picture JupyterLab's plotly renderer saved with it.
        lab_page.expect(chart_cell.locator(".jp-OutputArea-output img.plot-img")).to_be_visible()
    lab_page.screenshot("reopened", show=page.locator(".dnb-saved"))
