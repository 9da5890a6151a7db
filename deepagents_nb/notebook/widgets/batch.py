"""`agent.map` in the notebook: a batch's progress, and its paused rows to decide.

`BatchProgressWidget`: the batch as it runs.

Rows done / failed / paused / skipped / remaining, tokens and cost so far, rows
per second and the time left, and the errors by kind. A blocking `map` keeps
the cell busy, so the kernel's interrupt button is what stops it (finished rows
stay stored; the same call resumes the batch).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.display import display

from deepagents_nb.batch.progress import Tally
from deepagents_nb.batch.rows import RowOutcome
from deepagents_nb.hitl import HitlAction
from deepagents_nb.notebook.widgets._base import FONT, MUTED_COLOR, WidgetView
from deepagents_nb.notebook.widgets._throttle import Pacing

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent
    from deepagents_nb.batch import BatchInterrupt

COLOURS = {"done": "#15803d", "failed": "#b91c1c", "paused": "#b45309", "skipped": "#6b7280"}


class BatchProgressWidget(WidgetView):
    """The progress display `agent.map` uses inside a notebook kernel."""

    def __init__(
        self, pacing: Pacing | None = None, on_cancel: Callable[[], object] | None = None
    ) -> None:
        self.tally = Tally()
        self.batch_id = ""
        self.bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self.line = widgets.HTML()
        self.cancel_button = widgets.Button(description="Cancel", button_style="warning")
        self.cancel_button.add_class("dnb-batch-cancel")
        self.cancel_button.on_click(lambda _: self._cancel())
        self._on_cancel = on_cancel
        self.cancelled = False
        # A background batch can be stopped here; a blocking one by interrupting the kernel.
        self.cancel_button.layout.display = None if on_cancel is not None else "none"
        self.widget = widgets.VBox([self.line, widgets.HBox([self.bar, self.cancel_button])])
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
        self.cancel_button.disabled = True

    def _cancel(self) -> None:
        self.cancel_button.disabled = True
        self.cancelled = True
        if self._on_cancel is not None:
            self._on_cancel()
        self._render()

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
            f"${tally.cost_usd:.4f} · {timing}</small>{errors}{self._cancelled_note()}</div>"
        )

    def _cancelled_note(self) -> str:
        if not self.cancelled:
            return ""
        return (
            f"<div style='color:{MUTED_COLOR}'>Cancelled: the finished rows are stored, and "
            f"the same map call resumes the batch.</div>"
        )


class BatchApprovalWidget(WidgetView):
    """A batch's paused rows as a list: approve or reject one, the selected, or all.

    Clicks record decisions (`agent.decide_batch`); nothing runs until the batch is
    mapped again, which carries them out for every decided row at once.

        BatchApprovalWidget(agent, "batch-3f2a9c01d5e7")
    """

    def __init__(self, agent: DeepAgent, batch_id: str) -> None:
        self.agent = agent
        self.batch_id = batch_id
        self.waiting = agent.batch_interrupts(batch_id)
        self.decided: dict[str, str] = {}
        self.boxes = [
            widgets.Checkbox(value=False, description=self._label(w), indent=False)
            for w in self.waiting
        ]
        for box in self.boxes:
            box.layout = widgets.Layout(width="auto")
        self.reason = widgets.Text(placeholder="reason for rejecting (optional)")
        buttons = [
            self._button("Approve selected", "success", lambda: self._decide(True, selected=True)),
            self._button("Reject selected", "danger", lambda: self._decide(False, selected=True)),
            self._button("Approve all", "success", lambda: self._decide(True, selected=False)),
            self._button("Reject all", "danger", lambda: self._decide(False, selected=False)),
        ]
        self.status = widgets.HTML(self._status())
        self.widget = widgets.VBox(
            [widgets.VBox(self.boxes), self.reason, widgets.HBox(buttons), self.status]
        )
        self.widget.add_class("dnb-batch-approvals")

    def _label(self, waiting: BatchInterrupt) -> str:
        args = waiting.interrupt.tool_args
        shown = json.dumps(args, ensure_ascii=False) if isinstance(args, dict) else str(args)
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        return f"row {waiting.label}: {waiting.interrupt.tool_name} {shown}"

    @staticmethod
    def _button(text: str, style: str, action: Callable[[], None]) -> widgets.Button:
        button = widgets.Button(description=text, button_style=style)
        button.on_click(lambda _: action())
        return button

    def select(self, *labels: Any) -> None:
        """Tick the rows with these labels (as clicking their boxes would)."""
        wanted = {str(label) for label in labels}
        for box, waiting in zip(self.boxes, self.waiting, strict=True):
            box.value = str(waiting.label) in wanted

    def _decide(self, approve: bool, *, selected: bool) -> None:
        chosen = [
            w
            for box, w in zip(self.boxes, self.waiting, strict=True)
            if (box.value or not selected) and str(w.label) not in self.decided
        ]
        if not chosen:
            self.status.value = self._status("Nothing to decide: tick rows first.")
            return
        action = HitlAction.accept() if approve else HitlAction.reject(self.reason.value or None)
        self.agent.decide_batch(self.batch_id, {w.label: action for w in chosen})
        for waiting in chosen:
            self.decided[str(waiting.label)] = "approved" if approve else "rejected"
        for box, waiting in zip(self.boxes, self.waiting, strict=True):
            if str(waiting.label) in self.decided:
                box.disabled, box.value = True, False
                box.description = f"{self._label(waiting)} ({self.decided[str(waiting.label)]})"
        self.status.value = self._status()

    def _status(self, note: str = "") -> str:
        counts = Counter(self.decided.values())
        left = len(self.waiting) - len(self.decided)
        text = (
            f"{len(self.waiting)} paused rows · {counts['approved']} approved · "
            f"{counts['rejected']} rejected · {left} undecided. Run the same map again "
            f"to carry the decisions out."
        )
        return f"<div style='{FONT}'>{escape(text)} {escape(note)}</div>"
