"""Diff approvals: a gated `write_file` / `edit_file` shown as a coloured diff, edited as text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from deepagents_nb.hitl import AgentInterrupt, HitlAction, pending_turn
from deepagents_nb.middleware.filesystem import apply_edit, unified_diff
from deepagents_nb.middleware.fs_backends import FileToolError, normalize_path
from deepagents_nb.state import AgentStateSnapshot

FILE_TOOLS = ("write_file", "edit_file")


def waiting_files(state: AgentStateSnapshot) -> dict[str, str]:
    """The files as the waiting call sees them: inside paused sub-agents, theirs."""
    while (turn := pending_turn(state)) is not None:
        head = turn.head()
        if head is None or head.waiting != "subagent" or head.subagent_state is None:
            break
        state = head.subagent_state
    return state.files


@dataclass(frozen=True)
class FileChange:
    """What a gated `write_file` / `edit_file` would do to one file: its text before and after."""

    tool_name: str
    path: str
    before: str
    after: str

    @classmethod
    def of(cls, interrupt: AgentInterrupt, state: AgentStateSnapshot) -> FileChange | None:
        """The change, if the file's text in `state` reproduces the interrupt's diff exactly.

        None otherwise (another backend, a mount, a failing edit): then the approver
        edits the call's JSON arguments instead.
        """
        args = interrupt.tool_args
        if interrupt.diff is None or interrupt.tool_name not in FILE_TOOLS:
            return None
        if not isinstance(args, dict):
            return None
        try:
            path = normalize_path(str(args.get("file_path", "")))
            before = waiting_files(state).get(path, "")
            if interrupt.tool_name == "write_file":
                after = str(args.get("content", ""))
            else:
                after, _ = apply_edit(
                    path,
                    before,
                    str(args.get("old_string", "")),
                    str(args.get("new_string", "")),
                    bool(args.get("replace_all", False)),
                )
        except FileToolError:
            return None
        if unified_diff(path, before, after) != interrupt.diff:
            return None
        return cls(interrupt.tool_name, path, before, after)

    def action(self, text: str) -> HitlAction:
        """The decision that makes the file read `text`; `ValueError` if it changes nothing."""
        if self.tool_name == "write_file":
            return HitlAction.edit(
                tool_name="write_file", tool_args={"file_path": self.path, "content": text}
            )
        if text == self.before:
            raise ValueError(
                "The text is the same as the file's current text, so nothing would change. "
                "Reject the call instead, or Cancel."
            )
        return HitlAction.edit(
            tool_name="edit_file",
            tool_args={"file_path": self.path, "old_string": self.before, "new_string": text},
        )


class FileTextForm:
    """Edit's form for a file change: the resulting text, sent back as the edited arguments."""

    def __init__(self, interrupt: AgentInterrupt, cancel_button: Any) -> None:
        self.interrupt = interrupt
        self.change: FileChange | None = None
        self.editor = widgets.Textarea(
            description="New text", layout=widgets.Layout(width="95%", height="240px")
        )
        self.send = widgets.Button(
            description="Run with this text", button_style="info", icon="play"
        )
        self.editor.add_class("dnb-file-text")
        self.send.add_class("dnb-file-text-send")
        self.widget = widgets.VBox([self.editor, widgets.HBox([self.send, cancel_button])])

    @property
    def controls(self) -> list[Any]:
        return [self.editor, self.send]

    def open(self, state: Callable[[], AgentStateSnapshot]) -> Any:
        """This form, filled with the file's resulting text; None when that cannot be known."""
        if self.interrupt.diff is None:
            return None
        if self.change is None:
            self.change = FileChange.of(self.interrupt, state())
            if self.change is not None:
                self.editor.value = self.change.after
        return self.widget if self.change is not None else None

    def action(self) -> HitlAction:
        """The edited decision; `ValueError` with a reason when there is nothing to send."""
        if self.change is None:
            raise ValueError("There is no file text to send.")
        return self.change.action(self.editor.value)
