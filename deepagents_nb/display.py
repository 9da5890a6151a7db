"""Static HTML and text renderings of results, states and todo lists.

Pure string building (no IPython): notebooks call these through
`_repr_html_`, and a saved notebook keeps the HTML, so it renders without a
kernel too. Every piece of text is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from deepagents_nb.messages import Message
from deepagents_nb.security import redact_pii, sanitize_json
from deepagents_nb.state import AgentStateSnapshot, TodoItem

if TYPE_CHECKING:
    from deepagents_nb.hitl import AgentInterrupt
    from deepagents_nb.results import AgentResult

STATUS_MARK = {"pending": "☐", "in_progress": "◐", "completed": "☑"}
STATUS_COLOR = {"pending": "#6b7280", "in_progress": "#b45309", "completed": "#15803d"}
_BOX = (
    "border:1px solid #d1d5db;border-radius:6px;padding:8px 12px;margin:4px 0;"
    "font-family:system-ui,sans-serif;font-size:13px"
)


def todos_text(todos: Sequence[TodoItem]) -> str:
    if not todos:
        return "(no todos)"
    return "\n".join(f"{STATUS_MARK[t.status]} {t.content} ({t.status})" for t in todos)


def todos_html(todos: Sequence[TodoItem]) -> str:
    if not todos:
        return "<div class='dnb-todos'><em>No todos yet.</em></div>"
    items = "".join(
        f"<li style='list-style:none;color:{STATUS_COLOR[t.status]}'>"
        f"{STATUS_MARK[t.status]} {escape(t.content)} <small>({t.status})</small></li>"
        for t in todos
    )
    return f"<ul class='dnb-todos' style='padding-left:4px;margin:0'>{items}</ul>"


def files_html(files: Mapping[str, str], *, max_chars: int = 2000, redact: bool = False) -> str:
    if not files:
        return "<div class='dnb-files'><em>No files.</em></div>"
    parts = []
    for path, content in sorted(files.items()):
        content = redact_pii(content) if redact else content
        shown = content if len(content) <= max_chars else content[:max_chars] + "\n…"
        parts.append(
            f"<details><summary><code>{escape(path)}</code> "
            f"<small>({len(content)} characters)</small></summary>"
            f"<pre style='white-space:pre-wrap;margin:4px 0'>{escape(shown)}</pre></details>"
        )
    return f"<div class='dnb-files'>{''.join(parts)}</div>"


def message_html(message: Message, *, redact: bool = False) -> str:
    """One message; `redact=True` removes PII and secrets as events do."""
    role = escape(message.role)
    body = escape(redact_pii(message.content) if redact else message.content)
    if message.role == "tool":
        color = "#b91c1c" if message.is_error else "#374151"
        return (
            f"<div style='color:{color}'><b>{escape(message.name or 'tool')}</b> → "
            f"<pre style='display:inline;white-space:pre-wrap'>{body}</pre></div>"
        )
    calls = "".join(
        f"<div>🔧 <code>{escape(c.name)}</code> "
        f"<small>{escape(_args_text(c.args, redact))}</small></div>"
        for c in message.tool_calls
    )
    text = f"<span style='white-space:pre-wrap'>{body}</span>" if body else ""
    return f"<div><b>{role}</b>: {text}{calls}</div>"


def _args_text(args: object, redact: bool) -> str:
    if redact:
        args = sanitize_json(args, redact_strings=True)
    return json.dumps(args, ensure_ascii=False, default=str)


def messages_html(messages: Iterable[Message], *, redact: bool = False) -> str:
    return "".join(message_html(m, redact=redact) for m in messages)


_DIFF_LINE_STYLES = (
    ("+++", "color:#374151;font-weight:600"),
    ("---", "color:#374151;font-weight:600"),
    ("@@", "color:#6b7280"),
    ("+", "color:#166534;background:#dcfce7"),
    ("-", "color:#991b1b;background:#fee2e2"),
)


def diff_html(diff: str) -> str:
    """A unified diff as escaped HTML: `+` lines green, `-` lines red, `@@` hunks grey."""
    rows = []
    for line in diff.splitlines():
        style = next((s for prefix, s in _DIFF_LINE_STYLES if line.startswith(prefix)), "")
        rows.append(f"<span style='display:block;{style}'>{escape(line) or ' '}</span>")
    return (
        "<pre class='dnb-diff' style='margin:4px 0;padding:4px;background:#fff;"
        f"border:1px solid #e5e7eb;overflow-x:auto'>{''.join(rows)}</pre>"
    )


def highlighted_python(code: str) -> str:
    """`code` as HTML with inline colours, so a saved copy keeps them without a stylesheet
    (pygments, which IPython depends on; plain escaped text without it)."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return escape(code)
    formatter = HtmlFormatter(noclasses=True, nowrap=True, style="default")
    return str(highlight(code, PythonLexer(), formatter))


def interrupt_html(interrupt: AgentInterrupt, *, redact: bool = False) -> str:
    """What waits for approval: the change as a coloured diff when the interrupt has one
    (gated file edits), else the call's arguments as JSON."""
    args = interrupt.tool_args if isinstance(interrupt.tool_args, dict) else {}
    target = ""
    if interrupt.diff is not None and interrupt.tool_name == "run_python":
        code = redact_pii(interrupt.diff) if redact else interrupt.diff
        body = (
            f"<pre class='dnb-code-source' style='margin:4px 0;white-space:pre-wrap'>"
            f"{highlighted_python(code)}</pre>"
        )
    elif interrupt.diff is not None:
        if "file_path" in args:
            target = f" on <code>{escape(str(args['file_path']))}</code>"
        body = diff_html(redact_pii(interrupt.diff) if redact else interrupt.diff)
    else:
        shown = (
            sanitize_json(interrupt.tool_args, redact_strings=True)
            if redact
            else interrupt.tool_args
        )
        body = f"<pre style='margin:4px 0'>{escape(_pretty(shown))}</pre>"
    path = " > ".join(interrupt.agent_path)
    origin = f" <small>(in {escape(path)})</small>" if path else ""
    if interrupt.source:
        target += f" on <code>{escape(interrupt.source)}</code>"
    note = f"<div><em>{escape(interrupt.policy_note)}</em></div>" if interrupt.policy_note else ""
    return (
        f"<div class='dnb-interrupt' style='{_BOX};border-color:#f59e0b;background:#fffbeb'>"
        f"⏸ <b>Approval needed</b> for <code>{escape(interrupt.tool_name)}</code>"
        f"{target}{origin}{note}{body}"
        f"<small>thread {escape(interrupt.thread_id)} · call {escape(interrupt.call_id)}</small>"
        f"</div>"
    )


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def result_text(result: AgentResult) -> str:
    """A plain transcript of a run: tool calls, their results, the answer, the tokens."""
    lines = []
    for message in result.messages[1:]:
        for call in message.tool_calls:
            lines.append(f"→ {call.name} {_args_text(call.args, False)}")
        if message.role == "tool":
            mark = "✗" if message.is_error else "✓"
            first = message.content.splitlines()[0] if message.content else ""
            lines.append(f"  {mark} {first[:120]}")
        elif message.content and message is not result.messages[-1]:
            lines.append(message.content)
    if result.interrupt is not None:
        lines.append(f"⏸ {result.interrupt}")
    else:
        lines.append(result.text)
    usage = result.usage
    lines.append(
        f"[{usage.requests} model calls, {usage.input_tokens:,} input + "
        f"{usage.output_tokens:,} output tokens]"
    )
    return "\n".join(lines)


def output_html(data: Any) -> str:
    """A structured output (as JSON data) as a table: a list of records gets a row each
    and a column per field, one record a row per field; anything else its JSON."""
    cell_style = "border:1px solid #e5e7eb;padding:2px 8px;text-align:left"

    def cell(value: Any) -> str:
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return f"<td style='{cell_style}'>{escape(shown)}</td>"

    def head(name: str) -> str:
        return f"<th style='{cell_style};background:#f9fafb'>{escape(name)}</th>"

    table = "<table class='dnb-output' style='border-collapse:collapse;margin:2px 0'>"
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        columns = list(dict.fromkeys(key for row in data for key in row))
        rows = "".join(
            "<tr>" + "".join(cell(row.get(c)) for c in columns) + "</tr>" for row in data
        )
        return f"{table}<tr>{''.join(map(head, columns))}</tr>{rows}</table>"
    if isinstance(data, dict) and data:
        rows = "".join(f"<tr>{head(str(k))}{cell(v)}</tr>" for k, v in data.items())
        return f"{table}{rows}</table>"
    return f"<code class='dnb-output'>{escape(json.dumps(data, ensure_ascii=False))}</code>"


def answer_html(result: AgentResult, *, redact: bool = False) -> str:
    """The run's final answer (its structured output as a table), or the approval it
    waits for, as one block."""
    if result.interrupt is not None:
        return interrupt_html(result.interrupt, redact=redact)
    if result.output is not None:
        data = json.loads(result.text)
        return output_html(sanitize_json(data, redact_strings=True) if redact else data)
    text = redact_pii(result.text) if redact else result.text
    return f"<div class='dnb-answer-text' style='white-space:pre-wrap'>{escape(text)}</div>"


def result_html(result: AgentResult, *, redact: bool = False) -> str:
    usage = result.usage
    summary = (
        f"{usage.requests} model call{'s' if usage.requests != 1 else ''} · "
        f"{usage.input_tokens:,} in / {usage.output_tokens:,} out tokens · "
        f"{result.duration_ms / 1000:.2f} s"
    )
    answer = answer_html(result, redact=redact)
    return (
        f"<div class='dnb-result' style='{_BOX}'>{answer}"
        f"<div style='color:#6b7280;margin-top:6px'><small>{summary} · thread "
        f"{escape(result.thread_id)}</small></div>"
        f"<details><summary><small>{len(result.messages)} messages in this run</small>"
        f"</summary>{messages_html(result.messages, redact=redact)}</details></div>"
    )


def state_html(state: AgentStateSnapshot) -> str:
    return (
        f"<div class='dnb-state' style='{_BOX}'>"
        f"<details><summary><b>Messages</b> ({len(state.messages)})</summary>"
        f"{messages_html(state.messages)}</details>"
        f"<div><b>Todos</b>{todos_html(state.todos)}</div>"
        f"<div><b>Files</b> ({len(state.files)}){files_html(state.files)}</div></div>"
    )


class TodoView:
    """A todo list that shows as HTML in a notebook and as text elsewhere."""

    def __init__(self, todos: Sequence[TodoItem]) -> None:
        self.todos = list(todos)

    def __repr__(self) -> str:
        return todos_text(self.todos)

    def _repr_html_(self) -> str:
        return todos_html(self.todos)


class FilesView:
    """A file map that shows as collapsible HTML in a notebook and as a list elsewhere."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def __repr__(self) -> str:
        if not self.files:
            return "(no files)"
        return "\n".join(f"{p} ({len(c)} characters)" for p, c in sorted(self.files.items()))

    def _repr_html_(self) -> str:
        return files_html(self.files)
