"""A saved `%%agent` run after the kernel is gone: JupyterLab shows its static copy.

Each test runs the quickstart in JupyterLab, saves it (with or without widget
state), shuts the kernel down and reloads the page: the run's answer must be
on screen and no "Error displaying widget" may be.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import nbformat
import pytest
from offline import Offline, to_html
from test_notebooks_in_browser import NOTEBOOKS, assert_console_clean, open_copy, the_run_view

if TYPE_CHECKING:
    from lab_page import LabPage
    from playwright.sync_api import Locator

ANSWER = "The haiku is saved in /haiku.md."
VISIBLE = "nodes => nodes.filter(node => node.checkVisibility()).length"

pytestmark = [pytest.mark.service("chromium"), pytest.mark.timeout(120)]


def visible_count(locator: Locator) -> int:
    """How many of the nodes `locator` matches are drawn (not inside `display: none`)."""
    count: int = locator.evaluate_all(VISIBLE)
    return count


def run_quickstart(lab_page: LabPage, *, notebook7: bool = False) -> None:
    """The live dashboard answers first, and its saved copy below stays hidden."""
    open_copy(lab_page, "01_quickstart.ipynb", notebook7=notebook7)
    run_view = the_run_view(lab_page)
    with lab_page.step("the answer above the live dashboard, the saved copy hidden"):
        lab_page.expect(run_view.locator(".dnb-answer")).to_have_text(ANSWER)
        lab_page.expect(lab_page.page.locator(".dnb-saved .dnb-run")).to_have_count(1)
        lab_page.expect(lab_page.page.locator(".dnb-saved")).to_be_hidden()
    answer_box = run_view.locator(".dnb-answer").bounding_box()
    board_box = run_view.locator(".dnb-dashboard").bounding_box()
    assert answer_box is not None and board_box is not None
    assert answer_box["y"] < board_box["y"]
    lab_page.wait_kernel_idle("the kernel to finish the run")


def converted_offline(lab_page: LabPage, *, widget_state: bool) -> None:
    """`nbconvert --to html` of the notebook JupyterLab saved, read with no network."""
    progress = lab_page.progress()
    assert progress is not None
    saved = lab_page.server.root_dir / progress["path"]
    notebook = nbformat.read(saved, as_version=4)
    assert ("widgets" in notebook.metadata) == widget_state
    html = to_html(notebook)
    browser = lab_page.page.context.browser
    assert browser is not None
    context = browser.new_context()
    try:
        offline = Offline(context.new_page())
        offline.open(html, saved.with_suffix(".html"))
        answer = offline.page.locator(".dnb-saved div.dnb-result .dnb-answer-text")
        with lab_page.step("the saved run in nbconvert's HTML, offline"):
            lab_page.expect(answer).to_have_text(ANSWER)
    finally:
        context.close()


def no_widget_error(lab_page: LabPage) -> None:
    for text in ("Error displaying widget", "Loading widget"):
        shown = visible_count(lab_page.page.get_by_text(text))
        assert shown == 0, f"{text!r} is on screen"


@pytest.mark.parametrize("notebook7", [False, True], ids=["jupyterlab", "notebook7"])
def test_saved_without_widget_state_shows_the_static_copy_after_reload(
    lab_page: LabPage, notebook7: bool, request: pytest.FixtureRequest
) -> None:
    """The default: no widget state saved; the copy stands in for the dashboard."""
    if notebook7:
        request.getfixturevalue("require_notebook7")
    run_quickstart(lab_page, notebook7=notebook7)
    lab_page.save_widget_state(False)
    lab_page.save()
    lab_page.shut_down_and_reload()

    page = lab_page.page
    copy = page.locator(".dnb-saved")
    with lab_page.step("the saved copy, with the answer, events and todos"):
        lab_page.expect(copy).to_be_visible()
        lab_page.expect(copy.locator("div.dnb-result .dnb-answer-text")).to_have_text(ANSWER)
        lab_page.expect(copy).to_contain_text("write_todos")
        lab_page.expect(copy).to_contain_text("Draft the haiku")
        lab_page.expect(copy).to_contain_text("estimated cost")
    lab_page.screenshot(show=copy)
    no_widget_error(lab_page)
    assert visible_count(page.locator(".dnb-run-view")) == 0
    converted_offline(lab_page, widget_state=False)


def test_saved_with_widget_state_shows_the_static_copy_after_reload(
    lab_page: LabPage,
) -> None:
    """With widget state saved, the dashboard drawn from it has no kernel: the copy shows."""
    run_quickstart(lab_page)
    lab_page.save_widget_state(True)
    try:
        lab_page.save()
        lab_page.shut_down_and_reload()
        page = lab_page.page
        copy = page.locator(".dnb-saved")
        with lab_page.step("the saved copy instead of the disconnected dashboard"):
            lab_page.expect(copy.locator("div.dnb-result .dnb-answer-text")).to_have_text(ANSWER)
            lab_page.expect(
                page.locator(".dnb-run-view.jupyter-widgets-disconnected")
            ).to_be_hidden()
        lab_page.screenshot(show=copy)
        no_widget_error(lab_page)
        assert visible_count(page.locator(".dnb-answer-text")) == 1  # no duplicate
        # With widget state, nbconvert writes the live view as a script tag.
        converted_offline(lab_page, widget_state=True)
    finally:
        lab_page.save_widget_state(False)  # a user setting: the server's other tests share it
    assert_console_clean(lab_page)


def test_committed_notebook_opened_in_jupyterlab_shows_its_saved_run(lab_page: LabPage) -> None:
    """A clone's notebook (untrusted, widget state of `make notebooks`) shows the copy."""
    name = f"{lab_page.name}.ipynb"
    shutil.copy(NOTEBOOKS / "01_quickstart.ipynb", lab_page.server.root_dir / name)
    lab_page.open_notebook(name)
    page = lab_page.page
    copy = page.locator(".dnb-saved")
    with lab_page.step("the committed run's saved copy, and no widget error"):
        lab_page.expect(copy.locator("div.dnb-result .dnb-answer-text")).to_have_text(ANSWER)
        lab_page.expect(copy).to_contain_text("write_todos")
    lab_page.screenshot(show=copy)
    no_widget_error(lab_page)
    assert visible_count(page.locator(".dnb-answer-text")) == 1  # no duplicate
