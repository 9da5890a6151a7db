"""`RunView`: what a `%%agent` cell shows: the dashboard, then approvals as they come."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import ipywidgets as widgets

from deepagents_nb.display import answer_html, files_html, result_html, result_text, todos_html
from deepagents_nb.exceptions import NoPendingInterruptError, PendingInterruptError
from deepagents_nb.hitl import AgentInterrupt, HitlAction
from deepagents_nb.messages import UserContent
from deepagents_nb.notebook.widgets._background import BackgroundBar
from deepagents_nb.notebook.widgets._base import FONT, WidgetView
from deepagents_nb.notebook.widgets._throttle import Pacing
from deepagents_nb.notebook.widgets.approval import ApprovalWidget
from deepagents_nb.notebook.widgets.dashboard import AgentDashboard

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent, SyncAgentRun
    from deepagents_nb.background import RunHandle
    from deepagents_nb.results import AgentResult


class RunView(WidgetView):
    """A thread's dashboard plus an approval area, driven by `run(prompt)`.

    Display it first, then run: the output streams into the displayed widget.
    When the run stops for an approval, an `ApprovalWidget` appears below; a
    click resumes the run into the same dashboard, and a run that pauses again
    brings the next approval.

    Example::

        view = RunView(agent, "ops")
        display(view)
        result = view.run("Clean up /tmp")   # returns when the run ends or pauses

        RunView(agent, "ops").show_pending()  # after a kernel restart
    """

    def __init__(
        self,
        agent: DeepAgent,
        thread_id: str = "default",
        *,
        pacing: Pacing | None = None,
        max_entries: int = 300,
    ) -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.pacing = pacing
        self.output_type: Any = None
        """The output type of the run this view follows (resumed runs keep it)."""
        self.dashboard = AgentDashboard(agent, thread_id, pacing=pacing, max_entries=max_entries)
        self.approvals = widgets.VBox([])
        self.answer = widgets.HTML(layout=widgets.Layout(display="none"))
        """The final answer, above the dashboard once a run has ended."""
        self.background = BackgroundBar()
        """Cancel button and status of a run started with `start` (hidden until then)."""
        # Names the saved copy of this view, which the live widget hides (see `show`).
        self.copy_class = f"dnb-saved-{uuid4().hex[:16]}"
        self._hider = widgets.HTML(
            f"<style>{hide_copy_css(self.copy_class)}</style>",
            layout=widgets.Layout(display="none"),  # a hidden <style> still applies
        )
        self.widget = widgets.VBox(
            [
                self._hider,
                self.background.widget,
                self.answer,
                self.approvals,
                self.dashboard.widget,
            ]
        )
        self.widget.add_class("dnb-run-view")  # stable selectors (styling, tests/e2e)
        self.widget.add_class(f"{self.copy_class}-live")
        self.answer.add_class("dnb-answer")
        self.approvals.add_class("dnb-approvals")
        self.result: AgentResult | None = None
        self.approval: ApprovalWidget | None = None
        """The latest approval widget (decided or not)."""
        self._copy_handle: Any = None

    def show(self) -> None:
        """Display the view, and below it a saved copy updated whenever a run ends.

        The saved copy is a static HTML rendering of the run (answer, events,
        todos, files, cost) and a text transcript, in an output of its own with
        no widget in it: every renderer that draws no live widget (nbviewer,
        GitHub, `nbconvert --to html`, JupyterLab once the kernel is gone and
        widget state was not saved) shows it. While the live widget is drawn, a
        `<style>` inside it hides the copy, so there is no duplicate; and the
        copy hides the "Error displaying widget" left where the live widget was.
        Updating the copy never redraws the live dashboard.
        """
        from IPython.display import display

        live = self._repr_mimebundle_()
        live["text/plain"] = ""  # the saved copy below carries the text
        display(live, raw=True)  # type: ignore[no-untyped-call]
        self._copy_handle = display(  # type: ignore[no-untyped-call]
            self.saved_copy(), raw=True, display_id=True
        )

    def saved_copy(self) -> dict[str, Any]:
        """The mime bundle of the saved copy: HTML and text only (no widget view)."""
        if self.result is None:
            body, text = "", ""
        else:
            body, text = self.static_html(), result_text(self.result)
        html = (
            f"<div class='dnb-saved {self.copy_class}'>"
            f"<style>{hide_widget_error_css(self.copy_class)}</style>{body}</div>"
        )
        return {"text/html": html, "text/plain": text}

    def _text(self) -> str:
        return f"<RunView thread={self.thread_id!r}>"

    def static_html(self) -> str:
        """The run as plain HTML, sanitized like events: no kernel or widget needed to see it."""
        assert self.result is not None
        redact = self.agent.config.pii_sanitization
        state = self.result.state
        totals = self.agent.usage.total(thread_id=self.thread_id)
        cost = "unknown" if totals.cost_usd is None else f"${totals.cost_usd:,.4f}"
        return (
            f"<div class='dnb-run'>{result_html(self.result, redact=redact)}"
            f"<details open><summary><b>Events</b></summary>{self.dashboard.event_log.html}"
            f"</details><details open><summary><b>Todos</b></summary>"
            f"{todos_html(state.todos)}</details><details><summary><b>Files</b> "
            f"({len(state.files)})</summary>{files_html(state.files, redact=redact)}</details>"
            f"<div><small>Thread {escape(self.thread_id)}: {totals.requests} model requests, "
            f"{totals.total_tokens:,} tokens, estimated cost {cost}</small></div></div>"
        )

    def _update_saved_output(self) -> None:
        if self._copy_handle is not None:
            self._copy_handle.update(self.saved_copy(), raw=True)

    def run(self, prompt: UserContent, *, output_type: Any = None) -> AgentResult:
        """Send `prompt` on the thread, streaming into the dashboard; returns the result.

        A failing run shows its error in the event log and raises as usual. On a
        thread that still waits for an approval, the approval is shown, then
        `PendingInterruptError` is raised.
        """
        try:
            self.output_type = output_type
            run = self.agent.stream(prompt, thread_id=self.thread_id, output_type=output_type)
            return self._follow(run)
        except PendingInterruptError:
            self.show_pending()
            raise

    def start(self, prompt: UserContent, *, output_type: Any = None) -> RunHandle:
        """Send `prompt` as a background run and return its `RunHandle` at once.

        The run works on deepagents-nb's private event loop thread, not on the
        kernel's own loop: that is what lets other cells run meanwhile. Its events
        stream into the dashboard, a status line says where it is, and the Cancel
        button stops it (every completed step stays in the thread's checkpoint).
        When it ends, the panels are re-read, and a paused run shows its approval
        as with `run`. `wait()` blocks until the view shows the end.
        """
        self.background.ensure_idle()
        self.output_type = output_type
        handle = self.agent.start(prompt, thread_id=self.thread_id, output_type=output_type)
        self.background.follow(handle, self.dashboard.handle, self._after_decision)
        return handle

    def cancel(self) -> bool:
        """Cancel the background run, as its Cancel button does."""
        return self.background.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a background run has ended and is shown; False on timeout."""
        return self.background.wait(timeout)

    def resume(self, action: HitlAction) -> AgentResult:
        """Answer the pending interrupt from code, as its buttons would; raises if that fails."""
        approval = self.approval
        if approval is None or approval.decided:
            run = self.agent.stream_resume(
                action, thread_id=self.thread_id, output_type=self.output_type
            )
            return self._follow(run)
        approval.decide(action)
        if approval.error is not None:
            raise approval.error
        if approval.result is None:
            raise NoPendingInterruptError(
                "this call is no longer waiting for approval (answered elsewhere)"
            )
        return approval.result

    def show_pending(self) -> ApprovalWidget | None:
        """Show the approval the thread waits for (read from the checkpointer), if any."""
        interrupt = self.agent.current_interrupt(self.thread_id)
        if interrupt is not None:
            self._ask(interrupt)
        return self.approval if interrupt is not None else None

    # ----- internals -----------------------------------------------------------------------

    def _follow(self, run: SyncAgentRun) -> AgentResult:
        try:
            for event in run:
                self.dashboard.handle(event)
        finally:
            self.dashboard.flush()
            self.dashboard.refresh()
        result = run.result
        assert result is not None  # the iteration ended without an exception
        self._settle(result)
        self._update_saved_output()
        return result

    def _settle(self, result: AgentResult | None) -> None:
        if result is None:
            return
        self.result = result
        log = self.dashboard.event_log
        log.show_tool_results(result.messages, redact=self.agent.config.pii_sanitization)
        log.flush()
        if result.interrupt is not None:
            # The approval widget, at the top below, stands for the answer.
            self.answer.layout.display = "none"
            self._ask(result.interrupt)
        else:
            redact = self.agent.config.pii_sanitization
            self.answer.value = (
                f"<div style='{FONT};{ANSWER_BOX}'>{answer_html(result, redact=redact)}</div>"
            )
            self.answer.layout.display = None

    def _ask(self, interrupt: AgentInterrupt) -> None:
        self.approval = ApprovalWidget(
            self.agent,
            interrupt,
            self.thread_id,
            on_event=self.dashboard.handle,
            on_done=self._after_decision,
            pacing=self.pacing,
            output_type=self.output_type,
        )
        self.approvals.children = (*self.approvals.children, self.approval.widget)

    def _after_decision(self, result: AgentResult | None) -> None:
        self.dashboard.flush()
        self.dashboard.refresh()
        self._settle(result)
        self._update_saved_output()


ANSWER_BOX = "border-left:3px solid #15803d;padding:4px 10px;margin:2px 0 6px 0"

DISCONNECTED = "jupyter-widgets-disconnected"
"""The class ipywidgets gives a view whose model has no kernel behind it."""


def hide_copy_css(copy_class: str) -> str:
    """CSS, carried by the live widget, that hides the saved copy `copy_class`.

    In JupyterLab and Notebook 7 the copy's whole output row is hidden while the
    live view (class `{copy_class}-live`) is connected to its kernel; a view
    drawn from saved widget state has no kernel, and then the copy shows. In
    other frontends the copy is hidden whenever the live widget is drawn.
    """
    live = f".{copy_class}-live:not(.{DISCONNECTED})"
    lab = f".jp-OutputArea:has({live}) > .jp-OutputArea-child:has(.{copy_class})"
    elsewhere = f".{copy_class}:not(.jp-OutputArea *)"
    return f"{lab}, {elsewhere} {{display:none !important}}"


def hide_widget_error_css(copy_class: str) -> str:
    """CSS, carried by the copy `copy_class`, that hides what stands for a lost live view.

    Once its model is gone (kernel shut down, widget state not saved), JupyterLab's
    widget renderer writes "Loading widget..." and then "Error displaying widget:
    model not found" into the output: bare text, where any drawn output has
    elements. A view drawn from saved widget state is disconnected: its buttons
    do nothing, and the copy shows the same run.
    """
    area = f".jp-OutputArea:has(.{copy_class})"
    # :has() may not nest, so a bare output is hidden, not its (prompt-only) row.
    return (
        f"{area} > .jp-OutputArea-child > .jp-OutputArea-output:not(:has(*)), "
        f"{area} > .jp-OutputArea-child:has(.{copy_class}-live.{DISCONNECTED}) "
        "{display:none}"
    )
