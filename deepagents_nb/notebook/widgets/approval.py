"""`ApprovalWidget`: decide on a paused tool call with buttons; the resumed run streams on."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from deepagents_nb.display import interrupt_html
from deepagents_nb.events import EventBase
from deepagents_nb.exceptions import InterruptClaimedError
from deepagents_nb.hitl import AgentInterrupt, HitlAction
from deepagents_nb.notebook.widgets._base import ERROR_COLOR, FONT, MUTED_COLOR, WidgetView
from deepagents_nb.notebook.widgets._diff import FileTextForm
from deepagents_nb.notebook.widgets._entries import clip, pretty_json
from deepagents_nb.notebook.widgets._throttle import Pacing
from deepagents_nb.notebook.widgets.event_log import EventLog

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent
    from deepagents_nb.results import AgentResult

EventHandler = Callable[[EventBase], None]
DoneHandler = Callable[["AgentResult | None"], None]


def _line(text: str, color: str = "inherit", bold: bool = False) -> str:
    weight = "font-weight:600;" if bold else ""
    return f"<div style='{FONT};{weight}color:{color};white-space:pre-wrap'>{escape(text)}</div>"


def describe(action: HitlAction, tool_name: str) -> str:
    """The decision as the widget shows it once sent."""
    if action.action == "accept":
        return "✔ Approved"
    if action.action == "edit":
        args = clip(json.dumps(action.tool_args, ensure_ascii=False, default=str), 300)
        return f"✎ Edited: {action.tool_name or tool_name}({args})"
    if action.action == "reject":
        return "✘ Rejected" + (f": {action.reason}" if action.reason else "")
    return f"↩ Responded: {clip(action.message or '', 300)}"


class ApprovalWidget(WidgetView):
    """The pending call (tool, arguments, policy note) and Approve / Edit / Reject / Respond.

    A click resumes the run with `agent.stream_resume`; its events go to
    `on_event` (a dashboard's `handle`) or, without one, to an event log
    inside this widget. Then the widget shows the decision and is disabled,
    and `on_done(result)` is called (`None` when the resumed run failed).
    Without `on_done`, a run that pauses again shows the next approval below.

    Example::

        approval = ApprovalWidget.for_thread(agent, "ops")   # also after a kernel restart
        display(approval)
    """

    def __init__(
        self,
        agent: DeepAgent,
        interrupt: AgentInterrupt,
        thread_id: str | None = None,
        *,
        on_event: EventHandler | None = None,
        on_done: DoneHandler | None = None,
        pacing: Pacing | None = None,
        output_type: Any = None,
    ) -> None:
        self.agent = agent
        self.output_type = output_type
        """The paused run's own output type (when not the agent's), to resume it with."""
        self.interrupt = interrupt
        self.thread_id = thread_id or interrupt.thread_id
        self.on_done = on_done
        self.decision: HitlAction | None = None
        self.result: AgentResult | None = None
        self.error: Exception | None = None
        self.chained: list[ApprovalWidget] = []
        self._pacing = pacing
        self.log: EventLog | None = None
        if on_event is None:
            self.log = EventLog(pacing=pacing, height="300px")
            on_event = self.log.handle
        self._sink = on_event

        def button(label: str, style: str, icon: str) -> Any:
            return widgets.Button(description=label, button_style=style, icon=icon)

        self.approve_button = button("Approve", "success", "check")
        self.edit_button = button("Edit…", "info", "pencil")
        self.reject_button = button("Reject…", "danger", "times")
        self.respond_button = button("Respond…", "warning", "reply")
        self.cancel_button = button("Cancel", "", "")
        self.edit_send = button("Run with these arguments", "info", "play")
        self.reject_send = button("Reject", "danger", "times")
        self.respond_send = button("Send response", "warning", "reply")

        wide = widgets.Layout(width="95%")
        self.tool_name = widgets.Text(value=interrupt.tool_name, description="Tool", layout=wide)
        self.args_editor = widgets.Textarea(
            value=pretty_json(interrupt.tool_args),
            description="Arguments",
            layout=widgets.Layout(width="95%", height="160px"),
        )
        self.reason = widgets.Text(
            placeholder="Why not? The model is told.", description="Reason", layout=wide
        )
        self.message = widgets.Textarea(
            placeholder="The answer the model gets instead of the tool's result.",
            description="Response",
            layout=wide,
        )
        # A gated write_file / edit_file is edited as the file's resulting text.
        self.file_text = FileTextForm(interrupt, self.cancel_button)
        self.edit_form = widgets.VBox(
            [self.tool_name, self.args_editor, widgets.HBox([self.edit_send, self.cancel_button])]
        )
        self.reject_form = widgets.VBox(
            [self.reason, widgets.HBox([self.reject_send, self.cancel_button])]
        )
        self.respond_form = widgets.VBox(
            [self.message, widgets.HBox([self.respond_send, self.cancel_button])]
        )
        self.form = widgets.VBox([])
        self.status = widgets.HTML()
        self.next_area = widgets.VBox([])
        buttons = [self.approve_button, self.edit_button, self.reject_button, self.respond_button]
        parts = [widgets.HTML(interrupt_html(interrupt)), widgets.HBox(buttons), self.form]
        parts += [self.status, *([self.log.widget] if self.log else []), self.next_area]
        self.widget = widgets.VBox(parts)
        # Stable CSS classes: selectors for styling and for the browser tests (tests/e2e).
        self.widget.add_class("dnb-approval")
        self.status.add_class("dnb-approval-status")
        for control, css in [
            (self.approve_button, "dnb-approve"),
            (self.edit_button, "dnb-edit"),
            (self.reject_button, "dnb-reject"),
            (self.respond_button, "dnb-respond"),
            (self.cancel_button, "dnb-cancel"),
            (self.edit_send, "dnb-edit-send"),
            (self.reject_send, "dnb-reject-send"),
            (self.respond_send, "dnb-respond-send"),
            (self.tool_name, "dnb-tool-name"),
            (self.args_editor, "dnb-args-editor"),
            (self.reason, "dnb-reason"),
            (self.message, "dnb-response"),
        ]:
            control.add_class(css)

        self.approve_button.on_click(lambda _: self.decide(HitlAction.accept()))
        self.edit_button.on_click(lambda _: self._open(self._edit_form()))
        self.reject_button.on_click(lambda _: self._open(self.reject_form))
        self.respond_button.on_click(lambda _: self._open(self.respond_form))
        self.cancel_button.on_click(lambda _: self._open(None))
        self.edit_send.on_click(lambda _: self._send_edit())
        self.file_text.send.on_click(lambda _: self._send_file_text())
        self.reject_send.on_click(lambda _: self._send_reject())
        self.respond_send.on_click(lambda _: self._send_response())

    @classmethod
    def for_thread(
        cls, agent: DeepAgent, thread_id: str = "default", **kwargs: Any
    ) -> ApprovalWidget | None:
        """The widget for the thread's pending interrupt, read from the checkpointer, or None."""
        interrupt = agent.current_interrupt(thread_id)
        return None if interrupt is None else cls(agent, interrupt, thread_id, **kwargs)

    @property
    def controls(self) -> list[Any]:
        """Every button and input (all disabled once a decision is sent)."""
        return [
            self.approve_button,
            self.edit_button,
            self.reject_button,
            self.respond_button,
            self.cancel_button,
            self.edit_send,
            self.reject_send,
            self.respond_send,
            self.tool_name,
            self.args_editor,
            self.reason,
            self.message,
            *self.file_text.controls,
        ]

    @property
    def decided(self) -> bool:
        return self.decision is not None

    # ----- the forms -----------------------------------------------------------------------

    def _open(self, form: Any) -> None:
        self.form.children = () if form is None else (form,)
        self.status.value = ""

    def _invalid(self, why: str) -> None:
        self.status.value = _line(why, ERROR_COLOR)

    def _send_edit(self) -> None:
        try:
            args = json.loads(self.args_editor.value)
        except json.JSONDecodeError as exc:
            self._invalid(
                f"The arguments are not valid JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno}). Nothing was sent."
            )
            return
        if not isinstance(args, dict):
            self._invalid(
                f'The arguments must be a JSON object like {{"name": value}}, '
                f"not {type(args).__name__}. Nothing was sent."
            )
            return
        name = self.tool_name.value.strip()
        if not name:
            self._invalid("Give the tool to run. Nothing was sent.")
            return
        action = HitlAction.edit(
            tool_name=None if name == self.interrupt.tool_name else name, tool_args=args
        )
        self.decide(action)

    def _edit_form(self) -> Any:
        return self.file_text.open(lambda: self.agent.get_state(self.thread_id)) or self.edit_form

    def _send_file_text(self) -> None:
        try:
            action = self.file_text.action()
        except ValueError as exc:
            self._invalid(f"{exc} Nothing was sent.")
            return
        self.decide(action)

    def _send_reject(self) -> None:
        reason = self.reason.value.strip() or None
        self.decide(HitlAction.reject(reason=reason))

    def _send_response(self) -> None:
        message = self.message.value.strip()
        if not message:
            self._invalid("Write the answer the model should get. Nothing was sent.")
            return
        self.decide(HitlAction.respond(message))

    # ----- deciding ------------------------------------------------------------------------

    def _set_enabled(self, enabled: bool) -> None:
        for control in self.controls:
            control.disabled = not enabled

    def _still_pending(self) -> bool:
        current = self.agent.current_interrupt(self.thread_id)
        return current is not None and current.call_id == self.interrupt.call_id

    def decide(self, action: HitlAction) -> None:
        """Send `action` as a click would: resume, stream, show the decision, disable."""
        if self.decision is not None:
            return  # a second click while the run is resuming
        self.decision = action
        label = describe(action, self.interrupt.tool_name)
        self._set_enabled(False)
        if not self._still_pending():
            # Answered elsewhere (another cell, `%agent approve`): resuming now would
            # answer whatever the thread waits for next, which this widget never showed.
            self.status.value = _line(
                "This call is no longer waiting for approval (it was answered elsewhere).",
                MUTED_COLOR,
            )
            return
        self.status.value = _line(f"{label} · resuming…", MUTED_COLOR)
        try:
            run = self.agent.stream_resume(
                action, thread_id=self.thread_id, output_type=self.output_type
            )
            for event in run:
                self._sink(event)
            self.result = run.result
        except Exception as exc:
            # A button callback's exception would only reach the browser console.
            self.error = exc
        if self.log is not None:
            self.log.flush()
        self._show_outcome(label)
        (self.on_done or self._chain)(self.result)

    def _show_outcome(self, label: str) -> None:
        if self.error is None:
            paused = self.result.interrupt if self.result is not None else None
            more = (
                f" · the run paused again: approval needed for {paused.tool_name}" if paused else ""
            )
            self.status.value = _line(label + more, bold=True)
            return
        if isinstance(self.error, InterruptClaimedError):
            self.status.value = _line(
                "Decided elsewhere at the same moment (another click, tab or process); "
                "nothing ran here.",
                MUTED_COLOR,
            )
            return
        failure = f"{type(self.error).__name__}: {self.error}"
        if self._still_pending():
            self.decision = None
            self._set_enabled(True)
            self.status.value = _line(f"Could not resume ({failure}). Try again.", ERROR_COLOR)
        else:
            self.status.value = _line(f"{label} · the run then failed: {failure}", ERROR_COLOR)

    def _chain(self, result: AgentResult | None) -> None:
        """Standalone use: a run that pauses again gets its own widget below this one."""
        if self.log is not None:
            self.log.flush()
        if result is None or result.interrupt is None:
            return
        follow = ApprovalWidget(
            self.agent,
            result.interrupt,
            self.thread_id,
            on_event=self._sink,
            on_done=self._chain,
            pacing=self._pacing,
            output_type=self.output_type,
        )
        self.chained.append(follow)
        self.next_area.children = (*self.next_area.children, follow.widget)
