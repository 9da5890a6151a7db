"""How full a model's context window is: each request's prompt tokens against its window.

Windows come from the price/model data (genai-prices, already loaded for costs
when a model is priced there), or from `create_deep_agent(context_window=...)`,
which wins. Test doubles and unknown models have no window: the meter then says
nothing rather than guess.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

_NO_DATA = frozenset({"scripted", "function", "replay", "recording"})
_DATABASE_PROVIDER = {"gemini": "google"}


@dataclass(frozen=True)
class ContextUsage:
    """One request's prompt against its model's context window."""

    prompt_tokens: int
    context_window: int | None
    provider: str = ""
    model: str = ""

    @property
    def fraction(self) -> float | None:
        """The share of the window the prompt used (None when the window is unknown)."""
        if not self.context_window:
            return None
        return self.prompt_tokens / self.context_window

    def __str__(self) -> str:
        if self.fraction is None:
            return f"{self.prompt_tokens:,} prompt tokens (context window unknown)"
        return (
            f"{self.prompt_tokens:,} of {self.context_window:,} context tokens "
            f"({self.fraction:.0%})"
        )


@functools.lru_cache(maxsize=256)
def known_context_window(provider: str, model: str) -> int | None:
    """The model's context window from the model data, or None when it is not known."""
    if provider in _NO_DATA:
        return None
    try:
        import genai_prices
    except ImportError:
        return None
    try:
        found = genai_prices.calc_price(
            genai_prices.Usage(),
            model.removeprefix("models/"),
            provider_id=_DATABASE_PROVIDER.get(provider, provider),
        )
    except (LookupError, ValueError):
        return None
    window = getattr(getattr(found, "model", None), "context_window", None)
    return window if isinstance(window, int) and window > 0 else None
