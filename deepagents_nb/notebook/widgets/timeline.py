"""`Timeline`: a thread's checkpoint versions; look at any of them and fork from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from deepagents_nb.display import state_html
from deepagents_nb.middleware.summarization import estimate_tokens
from deepagents_nb.notebook.widgets._base import ERROR_COLOR, FONT, MUTED_COLOR, WidgetView
from deepagents_nb.state import AgentStateSnapshot

if TYPE_CHECKING:
    from deepagents_nb.agent import DeepAgent

TOKENS_NOTE = "tokens estimated at about 4 characters each"


@dataclass(frozen=True)
class Version:
    """One stored version of a thread, summarised for the list."""

    version: int
    created_at: datetime
    state: AgentStateSnapshot
    metadata: dict[str, Any]

    @property
    def last_tool(self) -> str | None:
        """The tool whose result was the last one added by this version (or an earlier one)."""
        return next((m.name for m in reversed(self.state.messages) if m.role == "tool"), None)

    @property
    def tokens(self) -> int:
        """An estimate of the tokens of the conversation at this version."""
        return estimate_tokens(self.state.messages)

    @property
    def time(self) -> str:
        return self.created_at.astimezone().strftime("%H:%M:%S")

    @property
    def label(self) -> str:
        """`v3 · 12:04:31 · write_file · 5 messages · ~40 tokens` (+ where a fork came from)."""
        parts = [f"v{self.version}", self.time, self.last_tool or "no tool yet"]
        count = len(self.state.messages)
        parts += [f"{count} message{'s' if count != 1 else ''}", f"~{self.tokens:,} tokens"]
        if "forked_from" in self.metadata:
            parts.append(
                f"forked from {self.metadata['forked_from']} v{self.metadata['forked_version']}"
            )
        return " · ".join(parts)


def _line(text: str, color: str = "inherit") -> str:
    return f"<div style='{FONT};color:{color};white-space:pre-wrap'>{escape(text)}</div>"


class Timeline(WidgetView):
    """Rewind and fork: pick a version of a thread to see its state, then fork from it.

    Each entry shows the version (one per step), its time, the last tool called,
    the message count and an estimate of the conversation's tokens. "Fork from
    here" copies the selected version into a new thread (`agent.fork`); the
    original thread is not touched.

    Example::

        timeline = Timeline(agent, "research")
        display(timeline)
        timeline.select(3)
        new_thread = timeline.fork()        # as the button does
    """

    def __init__(self, agent: DeepAgent, thread_id: str = "default") -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.versions: list[Version] = []
        self.forks: list[str] = []
        """Threads forked from this timeline, oldest first."""
        self.title = widgets.HTML()
        self.list = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="98%"))
        self.state = widgets.HTML()
        self.fork_name = widgets.Text(
            placeholder="new thread id (optional)", layout=widgets.Layout(width="260px")
        )
        self.fork_button = widgets.Button(
            description="Fork from here", button_style="primary", icon="code-fork"
        )
        self.refresh_button = widgets.Button(description="Reload", icon="refresh")
        self.status = widgets.HTML()
        bar = widgets.HBox([self.fork_button, self.fork_name, self.refresh_button])
        self.widget = widgets.VBox([self.title, self.list, bar, self.status, self.state])
        for control, css in [
            (self.widget, "dnb-timeline"),
            (self.list, "dnb-timeline-versions"),
            (self.fork_button, "dnb-fork"),
            (self.fork_name, "dnb-fork-name"),
            (self.status, "dnb-timeline-status"),
        ]:
            control.add_class(css)
        self.list.observe(lambda _: self._show(), names="value")
        self.fork_button.on_click(lambda _: self._fork_clicked())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()

    # ----- reading -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the thread's versions again; keeps the selection, else selects the latest."""
        keep = self.list.value
        self.versions = []
        for info in self.agent.history(self.thread_id):
            checkpoint = self.agent.load_state(self.thread_id, info.version)
            if checkpoint is not None:
                self.versions.append(
                    Version(info.version, info.created_at, checkpoint.state, dict(info.metadata))
                )
        count = len(self.versions)
        self.title.value = (
            f"<div style='{FONT}'><b>Thread {escape(self.thread_id)}</b>: {count} "
            f"version{'s' if count != 1 else ''} <small style='color:{MUTED_COLOR}'>"
            f"({TOKENS_NOTE})</small></div>"
        )
        self.list.options = [(v.label, v.version) for v in reversed(self.versions)]
        known = {v.version for v in self.versions}
        latest = self.versions[-1].version if self.versions else None
        self.list.value = keep if keep in known else latest
        self.fork_button.disabled = not self.versions
        self._show()

    @property
    def selected(self) -> Version | None:
        """The version the list shows, or None for a thread without versions."""
        return next((v for v in self.versions if v.version == self.list.value), None)

    def select(self, version: int) -> AgentStateSnapshot:
        """Show `version`, as a click in the list would; returns its state."""
        if version not in {v.version for v in self.versions}:
            raise ValueError(f"thread {self.thread_id!r} has no version {version}")
        self.list.value = version
        assert self.selected is not None
        return self.selected.state

    def _show(self) -> None:
        chosen = self.selected
        if chosen is None:
            self.state.value = _line(f"Thread {self.thread_id!r} has no saved versions.")
            return
        self.state.value = (
            f"<div style='{FONT}'><b>Version {chosen.version}</b> "
            f"<small>({escape(chosen.label)})</small></div>{state_html(chosen.state)}"
        )

    # ----- forking -------------------------------------------------------------------------

    def fork(self, new_thread_id: str | None = None) -> str:
        """Start a new thread from the selected version; returns its id."""
        chosen = self.selected
        if chosen is None:
            raise ValueError(f"thread {self.thread_id!r} has no version to fork from")
        new_id = self.agent.fork(self.thread_id, chosen.version, new_thread_id)
        self.forks.append(new_id)
        self.status.value = _line(
            f"Forked: thread {new_id!r} starts from version {chosen.version} of "
            f"{self.thread_id!r} (which is unchanged). Continue it with "
            f"agent.handle_message(..., thread_id={new_id!r})."
        )
        return new_id

    def _fork_clicked(self) -> None:
        try:
            self.fork(self.fork_name.value.strip() or None)
        except Exception as exc:  # e.g. the name is taken; a click's error would be lost
            self.status.value = _line(f"Could not fork: {exc}", ERROR_COLOR)
        else:
            self.fork_name.value = ""

    # ----- saved output --------------------------------------------------------------------

    def _text(self) -> str:
        lines = [f"Timeline of thread {self.thread_id!r} ({TOKENS_NOTE}):"]
        lines += [f"  {v.label}" for v in self.versions] or ["  (no versions)"]
        return "\n".join(lines)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        rows = "".join(f"<li>{escape(v.label)}</li>" for v in self.versions)
        bundle["text/html"] = f"{self.title.value}<ul class='dnb-timeline'>{rows}</ul>"
        return bundle
