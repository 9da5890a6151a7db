"""`FileBrowser`: the virtual filesystem of a thread, a list of paths and the selected file."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from deepagents_nb.events import EventBase, StateCheckpointed
from deepagents_nb.notebook.widgets._base import FONT, MUTED_COLOR, WidgetView
from deepagents_nb.notebook.widgets._entries import clip
from deepagents_nb.notebook.widgets._throttle import Pacing

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent


class FileBrowser(WidgetView):
    """Lists a thread's files; selecting one shows its content.

    Given an agent, it reads the thread's files (`refresh()`), and while a run
    streams it re-reads them after checkpoints, at most once per ten pacing
    intervals (a read loads the thread from the checkpointer).

    Example::

        files = FileBrowser(agent, "research")
        files.select.value = "/notes/summary.md"
    """

    def __init__(
        self,
        agent: DeepAgent | None = None,
        thread_id: str = "default",
        files: Mapping[str, str] | None = None,
        *,
        pacing: Pacing | None = None,
        max_chars: int = 200_000,
    ) -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.max_chars = max_chars
        self.files: dict[str, str] = {}
        self.summary = widgets.HTML()
        self.select = widgets.Select(options=[], rows=12, layout=widgets.Layout(width="35%"))
        self.content = widgets.HTML()
        viewer = widgets.Box(
            [self.content], layout=widgets.Layout(width="65%", max_height="420px", overflow="auto")
        )
        self.widget = widgets.VBox([self.summary, widgets.HBox([self.select, viewer])])
        self.select.observe(self._show, names="value")
        self._throttle = (pacing or Pacing()).slower(10).throttle(self.refresh)
        if files is None and agent is not None:
            self.refresh()
        else:
            self.update(files or {})

    def handle(self, event: EventBase) -> None:
        """Re-read the files after the top-level agent checkpoints (throttled)."""
        if isinstance(event, StateCheckpointed) and event.depth == 0 and self.agent is not None:
            self._throttle.request()

    def refresh(self) -> None:
        """Read the files from the thread's stored state."""
        if self.agent is not None:
            self.update(self.agent.get_state(self.thread_id).files)

    def update(self, files: Mapping[str, str]) -> None:
        """Show `files`, keeping the selection when that file still exists.

        A re-read the throttle still had pending is dropped: these files are newer.
        """
        self._throttle.cancel()
        self.files = dict(files)
        keep = self.select.value if self.select.value in self.files else None
        paths = sorted(self.files)
        self.select.options = [(f"{p}  ({len(self.files[p]):,} chars)", p) for p in paths]
        self.select.value = keep if keep is not None else (paths[0] if paths else None)
        count = len(paths)
        self.summary.value = (
            f"<span style='{FONT};color:{MUTED_COLOR}'>{count} file{'s' if count != 1 else ''}"
            f"</span>"
        )
        self._show()

    def _show(self, change: Any = None) -> None:
        path = self.select.value
        if path is None or path not in self.files:
            self.content.value = f"<em style='{FONT};color:{MUTED_COLOR}'>No files.</em>"
            return
        text = self.files[path]
        self.content.value = (
            f"<div style='{FONT}'><b><code>{escape(path)}</code></b> "
            f"<small style='color:{MUTED_COLOR}'>{len(text):,} characters</small></div>"
            f"<pre class='dnb-file' style='white-space:pre-wrap;margin:4px 0'>"
            f"{escape(clip(text, self.max_chars))}</pre>"
        )
