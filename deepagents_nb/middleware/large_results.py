"""Keeping tool results from filling the context: large ones as files, old ones cleared.

- A result longer than `max_chars` is saved whole as `/large_tool_results/<call id>`
  (in the thread's state, read-only to the model), and the model gets its head and
  tail with the path and size, to page through with `read_file` offset/limit.
- Past `clear_at` of the model's context window, old tool results (all but the last
  `keep_last`) become a short placeholder naming the tool and the file that holds
  the result (saved first, so nothing is lost). This runs before summarization,
  which stays the last resort.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.context_window import known_context_window
from deepagents_nb.events import ContextEdited
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.fs_backends import FileBackend, StateBackend
from deepagents_nb.middleware.routes import ReadOnlyBackend
from deepagents_nb.middleware.summarization import estimate_tokens, reset_estimate
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.tools import ToolOutcome

RESULTS_DIR = "/large_tool_results"
DEFAULT_MAX_CHARS = 20_000
_CLEARED = "cleared"


class _ResultsInState(StateBackend):
    """The results directory's files, kept in the thread's state under their full path."""

    async def list_files(self, ctx: ToolContext) -> list[str]:
        prefix = RESULTS_DIR + "/"
        inside = await super().list_files(ctx)
        return ["/" + p[len(prefix) :] for p in inside if p.startswith(prefix)]

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        return await super().read(ctx, RESULTS_DIR + path)

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        await super().write(ctx, RESULTS_DIR + path, content)


def result_path(call_id: str) -> str:
    """Where the whole result of call `call_id` is kept."""
    return f"{RESULTS_DIR}/{call_id}"


class ToolResultsMiddleware(Middleware):
    """Large tool results as files, and old results cleared past a share of the window.

    Args:
        max_chars: A result longer than this is saved as a file and previewed.
        clear_at: The share of the model's context window past which old results are
            cleared (None: never).
        clear_at_tokens: The same as a token count, when the window is not known
            (test doubles) or you want another limit; wins over `clear_at`.
        keep_last: How many of the latest tool results are never cleared.
    """

    name = "tool_results"

    def __init__(
        self,
        max_chars: int = DEFAULT_MAX_CHARS,
        *,
        clear_at: float | None = 0.5,
        clear_at_tokens: int | None = None,
        keep_last: int = 3,
    ) -> None:
        if max_chars < 1000:
            raise ConfigurationError(
                f"max_tool_result_chars must be at least 1000, got {max_chars}"
            )
        if clear_at is not None and not 0 < clear_at <= 1:
            raise ConfigurationError(f"clear_tool_results_at must be in (0, 1], got {clear_at!r}")
        if keep_last < 0:
            raise ConfigurationError(f"keep_last must not be negative, got {keep_last}")
        self.max_chars = max_chars
        self.clear_at = clear_at
        self.clear_at_tokens = clear_at_tokens
        self.keep_last = keep_last
        self._store = _ResultsInState()

    def file_routes(self) -> Mapping[str, FileBackend]:
        return {RESULTS_DIR: ReadOnlyBackend(self._store, "it keeps a tool's whole result")}

    # ----- large results ----------------------------------------------------------------

    async def after_tool(
        self, call: ToolCall, outcome: ToolOutcome, ctx: ToolContext
    ) -> ToolOutcome:
        text = outcome.content
        if len(text) <= self.max_chars or outcome.is_error:
            return outcome  # an error's state update is dropped: no file to point at
        await self._store.write(ctx, "/" + call.id, text)
        return replace(outcome, content=self._preview(text, call.id))

    def _preview(self, text: str, call_id: str) -> str:
        head = self.max_chars * 3 // 5
        tail = self.max_chars // 5
        path = result_path(call_id)
        lines = text.count("\n") + 1
        return (
            f"{text[:head]}\n\n[... {len(text) - head - tail:,} characters not shown. The "
            f"whole result ({len(text):,} characters, {lines:,} lines) is in {path}: "
            f"read_file it with offset and limit to see the rest ...]\n\n{text[-tail:]}"
        )

    # ----- clearing ---------------------------------------------------------------------

    def _limit(self, run: RunContext) -> int | None:
        if self.clear_at_tokens is not None:
            return self.clear_at_tokens
        if self.clear_at is None:
            return None
        window = run.context_window or known_context_window(
            run.model.provider, run.model.model_name
        )
        return int(window * self.clear_at) if window else None

    async def before_model(self, request: ModelRequest, run: RunContext) -> ModelRequest:
        limit = self._limit(run)
        messages = run.state.messages
        if limit is None or estimate_tokens(messages) <= limit:
            return request
        results = [
            i
            for i, m in enumerate(messages)
            if m.role == "tool" and not (m.metadata or {}).get(_CLEARED)
        ]
        old = results[: max(0, len(results) - self.keep_last)]
        if not old:
            return request
        before = estimate_tokens(messages)
        for i in old:
            messages[i] = self._cleared(messages[i], run)
        reset_estimate(run)  # summarization counts from scratch: the middle changed
        request.messages = tuple(messages)
        if run.listening:
            run.emit(
                ContextEdited(
                    kind="cleared",
                    messages=len(old),
                    tokens_before=before,
                    tokens_after=estimate_tokens(messages),
                    **run.event_meta(),
                )
            )
        return request

    def _cleared(self, message: Message, run: RunContext) -> Message:
        """`message` as a placeholder; its text saved first when no file holds it yet."""
        path = result_path(message.tool_call_id or "unknown")
        if path not in run.state.files:
            run.state.files[path] = message.content
        images = f" and {len(message.images)} image(s) not kept" if message.images else ""
        return replace(
            message,
            content=f"[Result of {message.name} cleared to save context{images}; the whole "
            f"result is in {path}: read_file it if you need it again.]",
            images=(),
            metadata={**(message.metadata or {}), _CLEARED: True},
        )
