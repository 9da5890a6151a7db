"""Planning: the `write_todos` tool and the todo list kept in the thread's state."""

from __future__ import annotations

from collections.abc import Sequence

from deepagents_nb.context import ToolContext
from deepagents_nb.events import PlanningComplete, TodosUpdated
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.security import redact_pii
from deepagents_nb.state import TodoItem
from deepagents_nb.tools import Tool, tool

WRITE_TODOS_DESCRIPTION = """\
Create or update your todo list for the current task. The list you send replaces the \
previous one entirely, so always send every item.

Use it when a task needs three or more distinct steps, when the user gives several tasks, \
or when the user asks for a plan. Skip it for a single simple step or a quick question: \
planning a one-step job only costs time.

How to use it:
- Write the plan before you start, with every step "pending".
- Mark a step "in_progress" right before you work on it; keep one step in progress at a time.
- Mark a step "completed" as soon as it is done, not in batches at the end. Only mark it \
completed when it is fully done; if you hit a blocker, keep it in progress and add a step \
for the blocker.
- Add, split or remove steps when you learn something new; drop steps that no longer apply.

Each item has `content` (what to do, in the imperative: "Draft the summary") and `status` \
(pending, in_progress or completed)."""

PLANNING_PROMPT = """## Planning

For work of three or more steps, keep a plan with `write_todos`: write it before you start,
mark each step in progress as you begin it and completed as soon as it is done.
The user sees the list live, so it is how they follow your progress."""


def _summary(todos: list[TodoItem]) -> str:
    marks = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}
    return "\n".join(f"{marks[t.status]} {t.content}" for t in todos)


class PlanningMiddleware(Middleware):
    """Adds `write_todos` (and, with `read_todos=True`, `read_todos`).

    Emits `TodosUpdated` on every change and `PlanningComplete` once every item
    of a non-empty list is completed.
    """

    name = "planning"

    def __init__(self, *, read_todos: bool = False) -> None:
        self._tools = [self._write_todos_tool()]
        if read_todos:
            self._tools.append(self._read_todos_tool())

    def tools(self) -> Sequence[Tool]:
        return self._tools

    def system_prompt(self) -> str:
        return PLANNING_PROMPT

    @staticmethod
    def _write_todos_tool() -> Tool:
        @tool(WRITE_TODOS_DESCRIPTION, inline=True)
        def write_todos(todos: list[TodoItem], ctx: ToolContext) -> str:
            ctx.set_todos(todos)
            run = ctx.run
            if run.listening:
                shown = [_redacted(t) for t in todos] if run.sanitize else list(todos)
                run.emit(TodosUpdated.counted(shown, **run.event_meta()))
                if todos and all(t.status == "completed" for t in todos):
                    run.emit(
                        PlanningComplete(
                            action_type="all_todos_completed",
                            action_summary=f"All {len(todos)} todo items are completed.",
                            **run.event_meta(),
                        )
                    )
            if not todos:
                return "Cleared the todo list."
            done = sum(t.status == "completed" for t in todos)
            active = sum(t.status == "in_progress" for t in todos)
            counts = f"{done} done, {active} in progress, {len(todos) - done - active} pending"
            # The first line stands alone: previews and logs show only it.
            return f"Updated the todo list: {len(todos)} items ({counts}).\n{_summary(todos)}"

        return write_todos

    @staticmethod
    def _read_todos_tool() -> Tool:
        @tool(inline=True)
        def read_todos(ctx: ToolContext) -> str:
            """Show the current todo list with each item's status."""
            todos = ctx.update.todos if ctx.update.todos is not None else ctx.state.todos
            return _summary(todos) if todos else "The todo list is empty."

        return read_todos


def _redacted(todo: TodoItem) -> TodoItem:
    content = redact_pii(todo.content)
    return todo if content == todo.content else TodoItem(content=content, status=todo.status)
