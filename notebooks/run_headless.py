"""Run a notebook without a browser and print what each cell printed (`make demo`)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config


def _text_of(output: dict) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}\n"
    text = str(output.get("data", {}).get("text/plain", ""))
    return text + "\n" if text else ""  # a live widget's text is empty: nothing to print


def main(path: str) -> int:
    notebook = nbformat.read(path, as_version=4)
    # The kernel talks to us over Unix sockets in a private directory rather than
    # TCP on localhost: nothing is reachable from elsewhere, and ipykernel does not
    # print its "running over TCP without encryption" warning into the demo's output.
    with tempfile.TemporaryDirectory(prefix="deepagents-demo-") as sockets:
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(sockets) / "kernel")
        NotebookClient(
            notebook,
            timeout=300,
            config=config,
            resources={"metadata": {"path": str(Path(path).parent)}},
        ).execute()
    print(f"== {path} ran headless ==")
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type != "code":
            continue
        printed = "".join(_text_of(o) for o in cell.get("outputs", []))
        if printed.strip():
            first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            print(f"\n--- cell {number}: {first_line}")
            print(printed.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "notebooks/01_quickstart.ipynb"))
