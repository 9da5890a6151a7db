"""Entries of the event log, each rendered to a small piece of escaped HTML."""

from __future__ import annotations

import base64
import json
from html import escape
from typing import Any, Literal

from deepagents_nb.display import highlighted_python, output_html
from deepagents_nb.messages import Image
from deepagents_nb.notebook.widgets._base import ERROR_COLOR, MUTED_COLOR

Tone = Literal["user", "info", "ok", "warn", "error"]
TONE_STYLE: dict[Tone, str] = {
    "user": "font-weight:600",
    "info": f"color:{MUTED_COLOR}",
    "ok": "color:#15803d",
    "warn": "color:#b45309",
    "error": f"color:{ERROR_COLOR}",
}
MAX_DETAIL_CHARS = 4000
"""Arguments and results longer than this are cut in the log (a file's content can be big)."""


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}\n… ({len(text) - limit:,} more)"


def pretty_json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


class Entry:
    """One line or block of the log; `dirty` until its widget shows the latest HTML."""

    def __init__(self, depth: int, agent: str) -> None:
        self.depth = depth
        self.agent = agent
        self.dirty = True
        self.widget: Any = None  # the `HTML` widget showing `html()`
        self.view: Any = None  # what the log shows: `widget`, or a box holding it

    def body(self) -> str:
        raise NotImplementedError

    def html(self) -> str:
        if self.depth <= 0:
            return f"<div class='dnb-entry' style='margin:2px 0'>{self.body()}</div>"
        # Sub-agent output: indented by depth, with a rule and the sub-agent's name.
        return (
            f"<div class='dnb-entry dnb-sub' style='margin:2px 0;"
            f"margin-left:{1.5 * self.depth:g}em;padding-left:6px;border-left:2px solid #c7d2fe'>"
            f"<small style='color:#4f46e5'>{escape(self.agent)}</small> {self.body()}</div>"
        )


class TextEntry(Entry):
    """The model's text, growing as tokens stream in."""

    def __init__(self, depth: int, agent: str, text: str = "") -> None:
        super().__init__(depth, agent)
        self.parts = [text] if text else []

    def append(self, token: str) -> None:
        self.parts.append(token)
        self.dirty = True

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def body(self) -> str:
        return f"<div class='dnb-text' style='white-space:pre-wrap'>{escape(self.text)}</div>"


class NoteEntry(Entry):
    """A one-line status: a prompt, a sub-agent starting, a plan update, an error."""

    def __init__(self, depth: int, agent: str, text: str, tone: Tone = "info") -> None:
        super().__init__(depth, agent)
        self.text = text
        self.tone = tone

    def body(self) -> str:
        css = f"dnb-note dnb-{self.tone}"
        return (
            f"<div class='{css}' style='{TONE_STYLE[self.tone]};white-space:pre-wrap'>"
            f"{escape(self.text)}</div>"
        )


class ToolEntry(Entry):
    """A tool call: name in the summary line, arguments and result when expanded."""

    def __init__(
        self, depth: int, agent: str, name: str, args: dict[str, Any], summary: str
    ) -> None:
        super().__init__(depth, agent)
        self.name = name
        self.args = args
        self.summary = summary
        self.status: Literal["running", "done", "failed", "waiting"] = "running"
        self.outcome = ""
        self.duration_ms: float | None = None

    def finish(self, status: Literal["done", "failed"], outcome: str, duration_ms: float) -> None:
        self.status, self.outcome, self.duration_ms = status, outcome, duration_ms
        self.dirty = True

    def wait(self) -> None:
        self.status = "waiting"
        self.dirty = True

    def mark(self, failed_style: str = "") -> str:
        """The call's status after its name: running, waiting, done or failed (and how long)."""
        took = f" {self.duration_ms:,.0f} ms" if self.duration_ms is not None else ""
        return {
            "running": "<small>running…</small>",
            "waiting": "<small style='color:#b45309'>⏸ waiting for approval</small>",
            "done": f"<small style='color:#15803d'>✓{took}</small>",
            "failed": f"<small{failed_style}>✗ failed{took}</small>",
        }[self.status]

    def body(self) -> str:
        mark = self.mark()  # a failed entry is red as a whole
        failed = self.status == "failed"
        style = f" style='color:{ERROR_COLOR}'" if failed else ""
        label = "Error" if failed else "Result"
        outcome = (
            f"<div><small>{label}</small></div>"
            f"<pre class='dnb-{label.lower()}' style='white-space:pre-wrap;margin:2px 0'>"
            f"{escape(clip(self.outcome))}</pre>"
            if self.status in ("done", "failed")
            else ""
        )
        preview = clip(self.summary, 80).replace("\n", " ")
        return (
            f"<details class='dnb-tool{' dnb-error' if failed else ''}'{style}>"
            f"<summary>🔧 <code>{escape(self.name)}</code> "
            f"<small style='color:{MUTED_COLOR}'>{escape(preview)}</small> {mark}</summary>"
            f"<div><small>Arguments</small></div>"
            f"<pre class='dnb-args' style='white-space:pre-wrap;margin:2px 0'>"
            f"{escape(clip(pretty_json(self.args)))}</pre>{outcome}</details>"
        )


THUMBNAIL_STYLE = "max-width:360px;max-height:240px;border:1px solid #e5e7eb;margin:2px 4px 2px 0"


def thumbnail_html(image: Image) -> str:
    """An `<img>` holding the image itself (a data URI): it shows with no kernel behind it."""
    data = base64.b64encode(image.data).decode("ascii")
    return (
        f"<img class='dnb-thumbnail' alt='{escape(image.placeholder())}' "
        f"src='data:{image.media_type};base64,{data}' style='{THUMBNAIL_STYLE}'>"
    )


class CodeEntry(ToolEntry):
    """A `run_python` call: its code highlighted and open, then what it printed and drew."""

    def __init__(self, depth: int, agent: str, args: dict[str, Any], summary: str) -> None:
        super().__init__(depth, agent, "run_python", args, summary)
        self.images: tuple[Image, ...] = ()
        self.ran_code: str | None = None

    @property
    def code(self) -> str:
        """The code as the event carried it (PII-sanitized when the agent sanitizes)."""
        return str(self.args.get("code", "")) if isinstance(self.args, dict) else ""

    @property
    def code_to_insert(self) -> str:
        """The code "Insert as cell" puts in the notebook: what the agent really ran,
        from the thread (`ran_code`), once known; until then the event's copy."""
        return self.code if self.ran_code is None else self.ran_code

    def show_result(self, text: str, images: tuple[Image, ...]) -> None:
        """The call's whole output, from the thread (events carry only a preview)."""
        self.outcome, self.images = text, images
        self.dirty = True

    def body(self) -> str:
        mark = self.mark(f" style='color:{ERROR_COLOR}'")
        first_line = next((line for line in self.code.splitlines() if line.strip()), "")
        output = ""
        if self.status in ("done", "failed") and self.outcome:
            colour = f";color:{ERROR_COLOR}" if self.status == "failed" else ""
            output = (
                f"<pre class='dnb-code-output' style='white-space:pre-wrap;margin:2px 0;"
                f"padding:4px 6px;background:#f9fafb{colour}'>{escape(clip(self.outcome))}</pre>"
            )
        thumbnails = "".join(thumbnail_html(image) for image in self.images)
        return (
            f"<details open class='dnb-tool dnb-code'>"
            f"<summary>🐍 <code>run_python</code> "
            f"<small style='color:{MUTED_COLOR}'>{escape(clip(first_line, 80))}</small> "
            f"{mark}</summary>"
            f"<pre class='dnb-code-source' style='white-space:pre-wrap;margin:2px 0;"
            f"padding:4px 6px;border-left:3px solid #6366f1'>"
            f"{highlighted_python(clip(self.code))}</pre>{output}"
            f"<div class='dnb-thumbnails'>{thumbnails}</div></details>"
        )


class OutputEntry(Entry):
    """A run's structured output as a table, filling in while it streams."""

    def __init__(self, depth: int, agent: str) -> None:
        super().__init__(depth, agent)
        self.value: Any = None
        self.final = False

    def update(self, value: Any, final: bool) -> None:
        self.value, self.final = value, final
        self.dirty = True

    def body(self) -> str:
        state = "" if self.final else f" <small style='color:{MUTED_COLOR}'>filling in…</small>"
        return (
            f"<div class='dnb-output-entry'><small>Output</small>{state}"
            f"{output_html(self.value)}</div>"
        )
