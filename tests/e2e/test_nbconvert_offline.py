"""`jupyter nbconvert --to html` of saved runs, read in Chromium with no network at all.

nbconvert writes a widget view as a script tag that only the widget html-manager
(from a CDN) can draw; offline, a run survives only as the static copy that
`%%agent` keeps in an output of its own. Every non-local request is aborted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from nbclient import NotebookClient
from offline import Offline, to_html

if TYPE_CHECKING:
    from playwright.sync_api import Browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SECOND = 1000
CELLS = [
    "%load_ext deepagents_nb",
    """from deepagents_nb import create_deep_agent
from deepagents_nb.models.testing import ScriptedModel

agent = create_deep_agent(model=ScriptedModel(["Offline, and still readable."]))""",
    "%%agent -a agent -t offline\nSay something.",
]

pytestmark = [pytest.mark.service("chromium"), pytest.mark.timeout(120)]


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    context = browser.new_context()
    try:
        yield Offline(context.new_page())
    finally:
        context.close()


def test_committed_quickstart_shows_its_run_offline(offline: Offline, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / "01_quickstart.ipynb", as_version=4)
    assert "widgets" in notebook.metadata  # make notebooks stores widget state (nbconvert's way)
    offline.open(to_html(notebook), tmp_path / "quickstart.html")

    copy = offline.page.locator(".dnb-saved")
    answer = copy.locator("div.dnb-result .dnb-answer-text")
    answer.wait_for(state="visible", timeout=10 * SECOND)
    assert answer.inner_text() == "The haiku is saved in /haiku.md."
    assert "write_todos" in copy.inner_text() and "Draft the haiku" in copy.inner_text()
    assert any("cdn" in url or "unpkg" in url for url in offline.blocked), offline.blocked


def test_nbclient_executed_notebook_shows_its_run_offline(offline: Offline, tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    # nbclient's default, as `jupyter nbconvert --execute` does: widget state stored.
    NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    saved = tmp_path / "executed.ipynb"
    nbformat.write(notebook, saved)
    offline.open(to_html(nbformat.read(saved, as_version=4)), tmp_path / "executed.html")

    answer = offline.page.locator(".dnb-saved .dnb-answer-text")
    answer.wait_for(state="visible", timeout=10 * SECOND)
    assert answer.inner_text() == "Offline, and still readable."
    assert offline.page.locator(".dnb-saved").count() == 1
