"""The agent's state for one thread, and the reducers that merge updates into it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from deepagents_nb.messages import Message
from deepagents_nb.text import storable_json, storable_text

V = TypeVar("V")
TodoStatus = Literal["pending", "in_progress", "completed"]


class TodoItem(BaseModel):
    """One entry of the agent's plan."""

    content: str
    status: TodoStatus = "pending"


class AgentStateSnapshot(BaseModel):
    """Everything a thread remembers: conversation, plan, virtual files, extras.

    `extra` is free-form JSON-compatible data for middleware and users
    (pending interrupts, decision logs, mounts ...).
    """

    messages: list[Message] = Field(default_factory=list)
    todos: list[TodoItem] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    def _repr_html_(self) -> str:
        from deepagents_nb.display import state_html

        return state_html(self)

    def copy_for_run(self) -> AgentStateSnapshot:
        """A copy whose containers can be changed without touching this one.

        Messages and todos are immutable in practice, so the lists are copied
        shallowly; that keeps a step's cost independent of history length.
        """
        return AgentStateSnapshot.model_construct(
            messages=list(self.messages),
            todos=list(self.todos),
            files=dict(self.files),
            extra=dict(self.extra),
        )


class StateUpdate(BaseModel):
    """Changes a tool asks for; applied in call order after a turn's tools finish.

    `files` maps a path to new content, or to `None` to delete it. `todos`
    replaces the whole list when given. `extra` keys are set (`None` deletes).
    """

    files: dict[str, str | None] = Field(default_factory=dict)
    todos: list[TodoItem] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    def is_empty(self) -> bool:
        """Whether applying this update would change nothing."""
        return not self.files and self.todos is None and not self.extra


def merge_files(current: Mapping[str, V], update: Mapping[str, V | None]) -> dict[str, V]:
    """Merge an update into a mapping: new values win, `None` deletes the key.

    This is the reducer for `files` (path -> content) and for `extra`.
    """
    merged = dict(current)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def apply_update(state: AgentStateSnapshot, update: StateUpdate) -> None:
    """Apply `update` to `state` in place."""
    # Tools write what models sent them: no lone surrogate may reach a checkpoint.
    if update.files:
        state.files = merge_files(
            state.files,
            {
                path: text if text is None else storable_text(text)
                for path, text in update.files.items()
            },
        )
    if update.todos is not None:
        state.todos = [storable_todo(todo) for todo in update.todos]
    if update.extra:
        state.extra = merge_files(state.extra, storable_json(update.extra))


def storable_todo(todo: TodoItem) -> TodoItem:
    content = storable_text(todo.content)
    return todo if content is todo.content else TodoItem(content=content, status=todo.status)
