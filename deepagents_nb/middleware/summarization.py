"""Summarization: when the conversation grows too long, older messages become a summary.

The summary is written by a model (the agent's own unless another is given),
replaces the older messages in the thread's state, and keeps the latest
`messages_to_keep` messages verbatim. A tool call is never separated from its
results: the cut moves earlier until it falls before the assistant message
that made the calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deepagents_nb.context import RunContext
from deepagents_nb.events import ContextEdited
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.messages import Message
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.models.base import ModelRequest

if TYPE_CHECKING:
    from deepagents_nb.models.base import ChatModel

_ESTIMATE_KEY = "summarization_token_estimate"
SUMMARY_PREFIX = "Summary of the earlier conversation (older messages were condensed):"

SUMMARY_INSTRUCTIONS = """You condense conversations between a user and an AI agent so the \
agent can continue the work. Write a summary that keeps: the user's goals and constraints, \
decisions made, facts learned (names, numbers, paths of files written), what was done with \
which tools and what it returned, and what remains to do. Be concise but lose nothing the \
agent needs. Answer with the summary only."""


def _chars(messages: Sequence[Message]) -> int:
    chars = 0
    for message in messages:
        chars += len(message.content)
        chars += sum(4 * image.estimated_tokens() for image in message.images)
        for call in message.tool_calls:
            chars += len(call.name) + len(str(call.args))
    return chars


def estimate_tokens(messages: Sequence[Message]) -> int:
    """A quick estimate: about four characters per token."""
    return _chars(messages) // 4


@dataclass
class SummarizationConfig:
    """When and how to summarize.

    Args:
        max_tokens_before_summary: Summarize once the messages' estimated tokens exceed this.
        messages_to_keep: How many of the latest messages stay verbatim (at least).
        model: Model that writes the summary; the agent's own when None.
        token_counter: Replaces the four-characters-per-token estimate.
    """

    max_tokens_before_summary: int = 120_000
    messages_to_keep: int = 20
    model: ChatModel | None = None
    token_counter: Callable[[Sequence[Message]], int] = estimate_tokens

    def __post_init__(self) -> None:
        if self.max_tokens_before_summary < 1 or self.messages_to_keep < 0:
            raise ConfigurationError(
                "max_tokens_before_summary must be positive and messages_to_keep not negative"
            )


def find_cut(messages: Sequence[Message], keep: int) -> int:
    """Index of the first kept message, moved back so no tool result loses its call."""
    cut = max(len(messages) - keep, 0)
    while 0 < cut < len(messages) and messages[cut].role == "tool":
        cut -= 1
    return cut


def _transcript(messages: Sequence[Message]) -> str:
    lines = []
    for message in messages:
        if message.role == "tool":
            status = "failed" if message.is_error else "returned"
            lines.append(f"[tool {message.name} {status}]: {message.content}")
            continue
        if message.content:
            lines.append(f"{message.role}: {message.content}")
        for call in message.tool_calls:
            lines.append(f"[{message.role} called {call.name} with {call.args}]")
    return "\n".join(lines)


def reset_estimate(run: RunContext) -> None:
    """Forget the run's running token estimate (another middleware rewrote old messages)."""
    run.metadata.pop(_ESTIMATE_KEY, None)


class SummarizationMiddleware(Middleware):
    """Condenses older messages into a model-written summary before a model call."""

    name = "summarization"

    def __init__(self, config: SummarizationConfig | None = None) -> None:
        self.config = config or SummarizationConfig()

    def _estimate(self, messages: list[Message], run: RunContext) -> int:
        """The thread's token estimate, counting only messages added since the last call.

        Messages are only appended between calls (a summary rewrites the list and
        resets the count), so the default per-message estimate adds up; a custom
        counter is called on the whole list.
        """
        if self.config.token_counter is not estimate_tokens:
            return self.config.token_counter(messages)
        counted, chars, last = run.metadata.get(_ESTIMATE_KEY, (0, 0, None))
        if counted > len(messages) or (counted and messages[counted - 1] is not last):
            counted, chars = 0, 0
        chars += _chars(messages[counted:])
        run.metadata[_ESTIMATE_KEY] = (len(messages), chars, messages[-1] if messages else None)
        return int(chars) // 4

    async def before_model(self, request: ModelRequest, run: RunContext) -> ModelRequest:
        messages = run.state.messages
        if self._estimate(messages, run) <= self.config.max_tokens_before_summary:
            return request
        cut = find_cut(messages, self.config.messages_to_keep)
        if cut == 0:
            return request
        before = estimate_tokens(messages)
        summary = await self._summarize(messages[:cut], run)
        kept = messages[cut:]
        note = Message(
            role="user", content=f"{SUMMARY_PREFIX}\n\n{summary}", metadata={"summary": True}
        )
        # Change the thread itself, so the next call does not summarize the same part again.
        messages[:] = [note, *kept]
        request.messages = tuple(messages)
        if run.listening:
            run.emit(
                ContextEdited(
                    kind="summarized",
                    messages=cut,
                    tokens_before=before,
                    tokens_after=estimate_tokens(messages),
                    **run.event_meta(),
                )
            )
        return request

    async def _summarize(self, old: Sequence[Message], run: RunContext) -> str:
        model = self.config.model or run.model
        started = time.perf_counter()
        response = await model.complete(
            ModelRequest(
                messages=(Message.user(_transcript(old)),),
                system=SUMMARY_INSTRUCTIONS,
                metadata={"purpose": "summarization"},
            )
        )
        if not response.duration_ms:
            response.duration_ms = (time.perf_counter() - started) * 1000
        run.record_usage(response, model)
        return response.message.content.strip()
