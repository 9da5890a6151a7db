"""Put code into a new notebook cell from a widget click, through JupyterLab's commands.

A button's click runs in the kernel outside any cell execution, so IPython's
`set_next_input` cannot help there. JupyterLab and Notebook 7 can be driven from
the kernel with `ipylab` (optional, in the `lab` extra): its `JupyterFrontEnd`
widget runs front-end commands, here `notebook:insert-cell-below` then
`notebook:replace-selection`. Both act on the active cell, which is the cell
whose output holds the clicked button (a click in an output selects its cell).

Where ipylab is not installed, or the front end never answered (VS Code,
nbconvert, Voilà, ...), `insert_cell_below` raises `CellInsertUnavailable`,
whose message says what to do instead.

Example::

    prepare_front_end()  # when the button is shown, so the front end can answer
    ...
    insert_cell_below("print('hi')")  # in the button's click handler
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

CellInserter = Callable[[str], None]
"""Puts the code it is given into a new cell below the active one, or raises
`CellInsertUnavailable`."""

INSERT_BELOW = "notebook:insert-cell-below"
REPLACE_SELECTION = "notebook:replace-selection"
FALLBACK = (
    "Run `%agent code --insert` (with -a AGENT -t THREAD when not the defaults) "
    "in a cell to get the agent's code as a new cell."
)


class CellInsertUnavailable(RuntimeError):
    """This front end cannot get a new cell from the kernel; the message says why and
    what to do instead."""


class _LabFrontEnd:
    """One ipylab `JupyterFrontEnd` for the kernel, and whether its front end answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ready = False
        app.on_ready(self._on_ready)

    def _on_ready(self) -> None:
        self.ready = True

    def insert_below(self, code: str) -> None:
        if not self.ready:
            raise CellInsertUnavailable(
                "This front end did not answer: inserting a cell needs JupyterLab or "
                f"Notebook 7 with the ipylab extension. {FALLBACK}"
            )
        self.app.commands.execute(INSERT_BELOW)
        self.app.commands.execute(REPLACE_SELECTION, {"text": code})


_lock = threading.Lock()
_front_end: _LabFrontEnd | None = None


def prepare_front_end() -> bool:
    """Open the kernel's ipylab front end, once; False when ipylab is not installed.

    Called when an insert button is shown: the front end's answer ("ready") has
    then arrived by the time the button is clicked.
    """
    global _front_end
    with _lock:
        if _front_end is not None:
            return True
        try:
            with warnings.catch_warnings():
                # ipylab 1.1 declares `List(Unicode)`, deprecated by traitlets: not ours.
                warnings.filterwarnings("ignore", "Traits should be given", DeprecationWarning)
                from ipylab import JupyterFrontEnd
        except ImportError:
            return False
        _front_end = _LabFrontEnd(JupyterFrontEnd())
        return True


def insert_cell_below(code: str) -> None:
    """Put `code` into a new code cell below the active cell of the current notebook.

    Raises:
        CellInsertUnavailable: ipylab is not installed, or the front end is not
            JupyterLab or Notebook 7 (it never answered); the message says what to do.
    """
    if not prepare_front_end():
        raise CellInsertUnavailable(
            "Inserting a cell needs ipylab (pip install ipylab, or "
            f"pip install 'deepagents-nb[lab]'), then a kernel restart and a page reload. "
            f"{FALLBACK}"
        )
    assert _front_end is not None
    _front_end.insert_below(code)
