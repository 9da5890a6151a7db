"""Anthropic prompt caching: mark the stable prefix of each request for caching.

The Anthropic adapter reads `request.metadata["prompt_caching"]` and puts
`cache_control` breakpoints on the system prompt and the latest turn, so each
call re-reads the long, unchanged prefix from the cache at a tenth of the price.
Other providers cache automatically or not at all: for them this is a no-op.
"""

from __future__ import annotations

from deepagents_nb.context import RunContext
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.models.base import ModelRequest

PROMPT_CACHING_KEY = "prompt_caching"


class AnthropicPromptCachingMiddleware(Middleware):
    """Asks the Anthropic adapter to cache the prompt; nothing for other providers."""

    name = "anthropic_prompt_caching"

    async def before_model(self, request: ModelRequest, run: RunContext) -> ModelRequest:
        if run.model.provider == "anthropic":
            request.metadata[PROMPT_CACHING_KEY] = True
        return request
