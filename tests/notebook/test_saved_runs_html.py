"""A saved, executed notebook shows its `%%agent` run as HTML, with no kernel and no widgets."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

CELLS = [
    "%load_ext deepagents_nb",
    """from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.models.testing import ScriptedModel

agent = create_deep_agent(model=ScriptedModel([
    ToolCall(name="write_todos", args={"todos": [{"content": "Greet", "status": "completed"}]}),
    ToolCall(name="write_file", args={"file_path": "/hello.md", "content": "hi"}),
    "Greeted; contact me at ann@example.com",
]))""",
    "%%agent -a agent -t saved\nSay hello and keep a note.",
]


@pytest.mark.timeout(120)
def test_executed_notebook_converted_to_html_shows_the_run(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    # JupyterLab saves no widget state by default, so renderers without a kernel
    # (nbviewer, GitHub, nbconvert) fall back to the output's other formats.
    NotebookClient(
        notebook,
        timeout=60,
        store_widget_state=False,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(saved, as_version=4))

    run = re.search(r"<div class=[\"']dnb-run[\"']>", body)  # the static copy of the run
    assert run is not None
    output = body[run.start() :]
    assert "write_todos" in output and "write_file" in output  # the event log
    assert "Greet" in output  # the todo list
    assert "/hello.md" in output  # the files
    assert "3 model requests" in output and "estimated cost" in output  # the cost summary
    assert "Greeted; contact me at [EMAIL]" in output  # sanitized like every event
    assert "ann@example.com" not in output


NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9]*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_keep_each_run_as_plain_html(path: Path) -> None:
    # GitHub and nbviewer draw text/html only; a copy beside a widget view would be
    # hidden behind it (JupyterLab) or written as a CDN-only script tag (nbconvert).
    notebook = nbformat.read(path, as_version=4)
    runs = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code"
        and cell.source.startswith("%%agent")
        and "--no-widgets" not in cell.source.partition("\n")[0]  # plain text only
    ]
    assert runs, "no %%agent run with widgets"
    for cell in runs:
        copies = [o for o in cell.outputs if "dnb-saved" in o.get("data", {}).get("text/html", "")]
        assert len(copies) == 1, cell.source
        (copy,) = copies
        assert WIDGET_VIEW not in copy["data"] and copy["data"]["text/plain"]
        assert "<div class='dnb-run'>" in copy["data"]["text/html"]
