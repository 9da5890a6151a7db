"""A background run's Cancel button and status line, and the thread that follows the run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

import ipywidgets as widgets

from deepagents_nb.events import EventBase
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.notebook.widgets._base import ERROR_COLOR, FONT, MUTED_COLOR

if TYPE_CHECKING:
    from deepagents_nb.background import RunHandle
    from deepagents_nb.results import AgentResult

POLL_SECONDS = 0.1


def _line(text: str, color: str = "inherit") -> str:
    return f"<span style='{FONT};color:{color};white-space:pre-wrap'>{escape(text)}</span>"


class BackgroundBar:
    """Follows a `RunHandle`: feeds its events on, shows its status, cancels it on a click.

    The run emits events on deepagents-nb's private loop thread, where sync agent
    calls (a panel re-reading the thread) are not allowed. So the listener there
    only wakes a follower thread of this bar, which hands the handle's events on,
    in order, and calls `on_end(result)` (None if cancelled or failed) at the end.
    """

    def __init__(self) -> None:
        self.handle: RunHandle | None = None
        self.cancel_button = widgets.Button(
            description="Cancel run", button_style="danger", icon="stop", disabled=True
        )
        self.status = widgets.HTML()
        self.widget = widgets.HBox(
            [self.cancel_button, self.status], layout=widgets.Layout(display="none")
        )
        self.widget.add_class("dnb-background")
        self.cancel_button.add_class("dnb-cancel-run")
        self.status.add_class("dnb-run-status")
        self._wake = threading.Event()
        self._follower: threading.Thread | None = None
        self.cancel_button.on_click(lambda _: self.cancel())

    @property
    def running(self) -> bool:
        """Whether a followed run has not ended yet (or its end is still being shown)."""
        return self._follower is not None and self._follower.is_alive()

    def ensure_idle(self) -> None:
        """Raise `ConfigurationError` while a run is followed (before starting another)."""
        if self.running:
            raise ConfigurationError(
                "this view already follows a background run; wait for it or cancel it first"
            )

    def follow(
        self,
        handle: RunHandle,
        on_event: Callable[[EventBase], None],
        on_end: Callable[[AgentResult | None], None],
    ) -> None:
        """Start following `handle` (one run at a time)."""
        self.ensure_idle()
        self.handle = handle
        self._wake.clear()
        self.widget.layout.display = None
        self.cancel_button.disabled = False
        self._show(handle)
        handle.on_event(lambda _: self._wake.set())
        self._follower = threading.Thread(
            target=self._follow, args=(handle, on_event, on_end), name="dnb-run-view", daemon=True
        )
        self._follower.start()

    def cancel(self) -> bool:
        """Cancel the run; every step it completed stays in the thread's checkpoint."""
        handle = self.handle
        if handle is None or handle.done():
            return False
        cancelled = handle.cancel()
        self.cancel_button.disabled = True
        self._show(handle)
        return cancelled

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has ended and the view shows its end; False on timeout."""
        follower = self._follower
        if follower is not None:
            follower.join(timeout)
        return not self.running

    def _show(self, handle: RunHandle) -> None:
        status = handle.status
        if handle.cancelled():
            self.status.value = _line(f"Cancelled: {status}", ERROR_COLOR)
        elif not handle.done():
            self.status.value = _line(f"⏳ {status}", MUTED_COLOR)
        elif status.startswith("failed"):
            self.status.value = _line(f"✗ {status}", ERROR_COLOR)
        else:
            self.status.value = _line(f"✔ {status}")

    def _follow(
        self,
        handle: RunHandle,
        on_event: Callable[[EventBase], None],
        on_end: Callable[[AgentResult | None], None],
    ) -> None:
        seen = 0
        result: AgentResult | None = None
        try:
            while True:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                finished = handle.done()  # read first: every event before the end is listed
                events = handle.events
                while seen < len(events):
                    on_event(events[seen])
                    seen += 1
                if finished:
                    break
                self._show(handle)
            try:
                result = handle.result(timeout=0)
            except Exception:
                result = None  # the status says how it ended; a failure is in the event log
            self.cancel_button.disabled = True
            self._show(handle)
            on_end(result)
        except Exception as exc:  # nobody would see it in this thread otherwise
            self.status.value = _line(f"The view stopped following the run: {exc}", ERROR_COLOR)
