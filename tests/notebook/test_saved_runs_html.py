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
