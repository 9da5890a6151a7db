"""`FallbackModel`: when a model is rate limited, overloaded or down, the next one answers.

    model = FallbackModel("anthropic:claude-sonnet-4-6", "openai:gpt-4o")

Each model keeps its own retries; only the error left after them moves the call
on to the next model. The response names the model that answered, so the usage
ledger, cost and events do too. A stream moves on only before its first piece:
after that, text the user saw would be repeated by another model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from deepagents_nb.exceptions import (
    ConfigurationError,
    ModelAPIError,
    ModelConnectionError,
    ModelTimeoutError,
    OverloadedError,
    RateLimitError,
    ServerError,
)
from deepagents_nb.models.base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
)
from deepagents_nb.models.registry import ModelSpec, resolve_model

DEFAULT_FALLBACK_ON: tuple[type[ModelAPIError], ...] = (
    RateLimitError,
    OverloadedError,
    ServerError,
    ModelTimeoutError,
    ModelConnectionError,
)


class FallbackModel:
    """A `ChatModel` that tries `primary`, then each of `fallbacks`, in order.

    Args:
        primary: The model to ask first (a `ChatModel`, "provider:model", a dict or
            a `ModelConfig`).
        *fallbacks: The models to ask next, in order.
        fallback_on: The errors that move a call on (after the model's own retries);
            any other error is raised at once.

    Raises:
        ConfigurationError: no fallback model, or `fallback_on` names something that is
            not a `ModelAPIError`.
    """

    def __init__(
        self,
        primary: ModelSpec,
        *fallbacks: ModelSpec,
        fallback_on: Sequence[type[ModelAPIError]] = DEFAULT_FALLBACK_ON,
    ) -> None:
        if not fallbacks:
            raise ConfigurationError("FallbackModel needs at least one model to fall back to")
        wrong = [
            e for e in fallback_on if not (isinstance(e, type) and issubclass(e, ModelAPIError))
        ]
        if wrong:
            raise ConfigurationError(
                f"fallback_on takes ModelAPIError subclasses (RateLimitError, ...), got {wrong!r}"
            )
        self.models: tuple[ChatModel, ...] = tuple(resolve_model(m) for m in (primary, *fallbacks))
        self.fallback_on = tuple(fallback_on)

    def __repr__(self) -> str:
        names = ", ".join(f"{m.provider}:{m.model_name}" for m in self.models)
        return f"FallbackModel({names})"

    @property
    def provider(self) -> str:
        """The primary's provider (each response names the provider that answered)."""
        return self.models[0].provider

    @property
    def model_name(self) -> str:
        """The primary's model (each response names the model that answered)."""
        return self.models[0].model_name

    async def complete(self, request: ModelRequest) -> ModelResponse:
        for model in self.models[:-1]:
            try:
                return _named(await model.complete(request), model)
            except self.fallback_on:
                continue
        last = self.models[-1]
        return _named(await last.complete(request), last)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        for index, model in enumerate(self.models):
            started = False
            try:
                async for event in model.stream(request):
                    started = True
                    if isinstance(event, ResponseComplete):
                        event = ResponseComplete(_named(event.response, model))
                    yield event
                return
            except self.fallback_on:
                if started or index == len(self.models) - 1:
                    raise


def _named(response: ModelResponse, model: ChatModel) -> ModelResponse:
    """`response` naming the model that gave it (for the ledger, costs and events)."""
    response.provider = response.provider or model.provider
    response.model = response.model or model.model_name
    return response
