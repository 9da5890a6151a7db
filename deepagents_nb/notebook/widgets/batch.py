"""`BatchProgressWidget`: an `agent.map` batch as it runs, in the notebook.

Rows done / failed / paused / skipped / remaining, tokens and cost so far, rows
per second and the time left, and the errors by kind. A blocking `map` keeps
the cell busy, so the kernel's interrupt button is what stops it (finished rows
stay stored; the same call resumes the batch).
"""

from __future__ import annotations

from html import escape

import ipywidgets as widgets
from IPython.display import display

from deepagents_nb.batch.progress import Tally
from deepagents_nb.batch.rows import RowOutcome
from deepagents_nb.notebook.widgets._base import FONT, MUTED_COLOR, WidgetView
from deepagents_nb.notebook.widgets._throttle import Pacing

COLOURS = {"done": "#15803d", "failed": "#b91c1c", "paused": "#b45309", "skipped": "#6b7280"}


class BatchProgressWidget(WidgetView):
    """The progress display `agent.map` uses inside a notebook kernel."""

    def __init__(self, pacing: Pacing | None = None) -> None:
        self.tally = Tally()
        self.batch_id = ""
        self.bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self.line = widgets.HTML()
        self.widget = widgets.VBox([self.line, self.bar])
        self.widget.add_class("dnb-batch")
        self._throttle = (pacing or Pacing()).throttle(self._render)

    def start(self, total: int, batch_id: str) -> None:
        self.tally = Tally(total=total)
        self.batch_id = batch_id
        self.bar.max = max(1, total)
        self._render()
        display(self)  # type: ignore[no-untyped-call]

    def row(self, outcome: RowOutcome) -> None:
        self.tally.add(outcome)
        self._throttle.request()

    def finish(self) -> None:
        self._throttle.flush()
        failed = self.tally.statuses["failed"]
        self.bar.bar_style = "warning" if failed else "success"

    @property
    def html(self) -> str:
        return str(self.line.value)

    def _render(self) -> None:
        tally = self.tally
        self.bar.value = tally.finished
        counts = " · ".join(
            f"<span style='color:{colour}'>{tally.statuses[status]} {status}</span>"
            for status, colour in COLOURS.items()
        )
        remaining = tally.total - tally.finished
        eta = tally.eta_seconds()
        timing = f"{tally.rate():.1f} rows/s" + (
            f", about {eta:.0f} s left" if eta is not None and remaining else ""
        )
        errors = "".join(
            f"<div style='color:{COLOURS['failed']}'>{count} rows: {escape(kind)}</div>"
            for kind, count in tally.errors.most_common(5)
        )
        self.line.value = (
            f"<div style='{FONT}'><b>{escape(self.batch_id)}</b>: {tally.finished} of "
            f"{tally.total} rows · {counts} · {remaining} remaining<br>"
            f"<small style='color:{MUTED_COLOR}'>{tally.tokens:,} tokens · "
            f"${tally.cost_usd:.4f} · {timing}</small>{errors}</div>"
        )
