"""What a model request costs: price presets, custom prices and the genai-prices database.

Prices are USD per million tokens. `Usage.input_tokens` counts every prompt
token, cached ones included, so one request costs::

    (input - cache_read - cache_write) x input price
    + cache_read x cache-read price + cache_write x cache-write price
    + output x output price

Reasoning (thinking) tokens are part of `output_tokens`, as every vendor bills
them, and are not charged twice. A price is looked up in this order: the
user's `custom_costs`, the presets below, then the `genai-prices` package's
bundled database (no network). A model none of them knows costs `None`, never
a guess.
"""

from __future__ import annotations

import re
import sys
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.usage import Usage

PriceSource = Literal["custom", "preset", "genai-prices"]

# Snapshot and alias suffixes a price also covers: "-2024-07-18", "-20241022", "-001", "-latest".
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$")

# Our provider names where genai-prices spells them differently.
_DATABASE_PROVIDER = {"gemini": "google", "google-genai": "google"}

# Test doubles: free and unpriced, so the database (and its import) is never consulted.
_UNPRICED_PROVIDERS = frozenset({"", "scripted", "function", "replay"})


# Offline models from deepagents_nb.models.testing cost nothing and need no warning.
TEST_DOUBLE_PROVIDERS = frozenset({"scripted", "function"})


class UnknownModelPriceWarning(UserWarning):
    """No price is known for a model: its requests are recorded with cost `None`."""


@dataclass(frozen=True, kw_only=True)
class TokenCosts:
    """Prices of one model (or, with `model=None`, of every model), USD per million tokens.

    Cache prices default to the input price when not given. `provider` and
    `model`, when set, limit which requests the price applies to; `model` also
    covers its dated snapshots (`gpt-4o-mini` prices `gpt-4o-mini-2024-07-18`).

    Example::

        TokenCosts(model="my-finetune", input_per_million=0.3, output_per_million=1.2)
    """

    input_per_million: float
    output_per_million: float
    cache_read_per_million: float | None = None
    cache_write_per_million: float | None = None
    provider: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        prices = (
            self.input_per_million,
            self.output_per_million,
            self.cache_read_per_million,
            self.cache_write_per_million,
        )
        if any(p is not None and p < 0 for p in prices):
            raise ConfigurationError(f"token prices cannot be negative: {self}")

    @property
    def input_cost_per_token(self) -> float:
        """The Rust SDK's unit: USD per input token."""
        return self.input_per_million / 1_000_000

    @property
    def output_cost_per_token(self) -> float:
        """The Rust SDK's unit: USD per output token."""
        return self.output_per_million / 1_000_000

    def cost(self, usage: Usage) -> float:
        """USD for `usage` at these prices."""
        read = self.cache_read_per_million
        write = self.cache_write_per_million
        # A misreported cache count larger than the prompt must not make the price negative.
        uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
        micro = (
            uncached * self.input_per_million
            + usage.cache_read_tokens * (self.input_per_million if read is None else read)
            + usage.cache_write_tokens * (self.input_per_million if write is None else write)
            + usage.output_tokens * self.output_per_million
        )
        return micro / 1_000_000

    def matches(self, provider: str, model: str) -> bool:
        """Whether this price applies to a request to `model` of `provider`."""
        if self.provider is not None and self.provider != provider:
            return False
        if self.model is None or self.model == model:
            return True
        return model.startswith(self.model) and bool(_SNAPSHOT.fullmatch(model[len(self.model) :]))

    # ----- presets: the Rust SDK's four, at the vendors' list prices -------------------------

    @classmethod
    def openai_gpt4o_mini(cls) -> TokenCosts:
        """gpt-4o-mini: $0.15 in, $0.60 out, $0.075 cached input."""
        return cls(
            provider="openai",
            model="gpt-4o-mini",
            input_per_million=0.15,
            output_per_million=0.60,
            cache_read_per_million=0.075,
        )

    @classmethod
    def openai_gpt4o(cls) -> TokenCosts:
        """gpt-4o: $2.50 in, $10 out, $1.25 cached input.

        The Rust SDK's $5 / $15 is gpt-4o's launch price, which only the
        `gpt-4o-2024-05-13` snapshot still has (its own preset covers it).
        """
        return cls(
            provider="openai",
            model="gpt-4o",
            input_per_million=2.50,
            output_per_million=10.00,
            cache_read_per_million=1.25,
        )

    @classmethod
    def anthropic_claude_sonnet(cls) -> TokenCosts:
        """Claude 3.5 Sonnet (all snapshots): $3 in, $15 out; cache reads $0.30, writes $3.75.

        Cache writes are priced at the 5-minute cache's 1.25x input.
        """
        return cls(
            provider="anthropic",
            model="claude-3-5-sonnet",
            input_per_million=3.00,
            output_per_million=15.00,
            cache_read_per_million=0.30,
            cache_write_per_million=3.75,
        )

    @classmethod
    def gemini_flash(cls) -> TokenCosts:
        """Gemini 2.0 Flash: $0.10 in, $0.40 out (text), $0.025 cached input.

        The Rust SDK's $0.075 / $0.30 for `gemini-2.0-flash-exp` is Gemini 1.5
        Flash's price; the experimental model itself was free.
        """
        return cls(
            provider="gemini",
            model="gemini-2.0-flash",
            input_per_million=0.10,
            output_per_million=0.40,
            cache_read_per_million=0.025,
        )


PRESETS: tuple[TokenCosts, ...] = (
    TokenCosts.openai_gpt4o_mini(),
    TokenCosts.openai_gpt4o(),
    TokenCosts(
        provider="openai", model="gpt-4o-2024-05-13", input_per_million=5.0, output_per_million=15.0
    ),
    TokenCosts.anthropic_claude_sonnet(),
    TokenCosts.gemini_flash(),
)
"""Built-in prices, consulted after custom ones and before the database."""


class PriceBook:
    """Finds the price of each request: custom prices, presets, then the database.

    Where a price was found is remembered per (provider, model), so the
    search runs once per model; unknown models warn once per price book.
    """

    def __init__(self, custom: TokenCosts | Iterable[TokenCosts] | None = None) -> None:
        if custom is None:
            self.custom: tuple[TokenCosts, ...] = ()
        elif isinstance(custom, TokenCosts):
            self.custom = (custom,)
        else:
            self.custom = tuple(custom)
        for item in self.custom:
            if not isinstance(item, TokenCosts):
                raise ConfigurationError(f"custom_costs must hold TokenCosts, got {item!r}")
        self._found: dict[tuple[str, str], tuple[TokenCosts | None, PriceSource | None]] = {}

    def cost(
        self, usage: Usage, provider: str, model: str, at: datetime
    ) -> tuple[float | None, PriceSource | None]:
        """USD for one request and where its price came from; `(None, None)` when unknown."""
        key = (provider, model)
        found = self._found.get(key)
        if found is None:
            found = self._find(provider, _bare_model(model))
            self._found[key] = found
            if found[1] is None and provider not in TEST_DOUBLE_PROVIDERS:
                _warn_unknown(provider, model)
        costs, source = found
        if costs is not None:
            return costs.cost(usage), source
        if source == "genai-prices":
            return _database_cost(usage, provider, _bare_model(model), at), source
        return None, None

    def prefetch(self, provider: str, model: str) -> threading.Thread | None:
        """Load the price database on a background thread if `model` will need it.

        Importing genai-prices and reading its table takes a quarter of a second:
        at the first request, on the event loop, that would stall every concurrent
        run. Returns the thread started, if any.
        """
        model = _bare_model(model)
        if (
            "genai_prices" in sys.modules
            or provider in _UNPRICED_PROVIDERS
            or self._find_listed(provider, model)[1] is not None
        ):
            return None
        thread = threading.Thread(
            target=_database_has, args=(provider, model), name="deepagents-prices", daemon=True
        )
        thread.start()
        return thread

    def _find(self, provider: str, model: str) -> tuple[TokenCosts | None, PriceSource | None]:
        listed = self._find_listed(provider, model)
        if listed[1] is not None:
            return listed
        if _database_has(provider, model):
            return None, "genai-prices"
        return None, None

    def _find_listed(
        self, provider: str, model: str
    ) -> tuple[TokenCosts | None, PriceSource | None]:
        """A custom price, else a preset; `(None, None)` when neither lists the model."""
        tables: tuple[tuple[tuple[TokenCosts, ...], PriceSource], ...] = (
            (self.custom, "custom"),
            (PRESETS, "preset"),
        )
        for table, source in tables:
            # The most specific price wins: an exact model before a family, any model last.
            best = max(
                (c for c in table if c.matches(provider, model)),
                key=lambda c: len(c.model or ""),
                default=None,
            )
            if best is not None:
                return best, source
        return None, None


def _bare_model(model: str) -> str:
    # The Gemini API names models "models/gemini-2.0-flash".
    return model.removeprefix("models/")


def _database_has(provider: str, model: str) -> bool:
    # Test doubles are never in the price database: skip importing it (~250 ms).
    if provider in _UNPRICED_PROVIDERS:
        return False
    try:
        import genai_prices
    except ImportError:
        return False
    try:
        genai_prices.calc_price(
            genai_prices.Usage(), model, provider_id=_DATABASE_PROVIDER.get(provider, provider)
        )
    except (LookupError, ValueError):
        return False
    return True


def _database_cost(usage: Usage, provider: str, model: str, at: datetime) -> float | None:
    # Imported here: genai-prices takes a quarter of a second to import.
    from genai_prices import Usage as PricedUsage
    from genai_prices import calc_price

    priced = PricedUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    try:
        price = calc_price(
            priced,
            model,
            provider_id=_DATABASE_PROVIDER.get(provider, provider),
            genai_request_timestamp=at,
        )
    except (LookupError, ValueError):
        return None
    return float(price.total_price)


def _warn_unknown(provider: str, model: str) -> None:
    warnings.warn(
        f"no price is known for {provider} model {model!r}: its requests are recorded with "
        f"cost None (NaN in to_dataframe()) and cost budgets cannot count them. Give a price "
        f"with TokenTrackingConfig(custom_costs=TokenCosts(model={model!r}, "
        f"input_per_million=..., output_per_million=...)).",
        UnknownModelPriceWarning,
        stacklevel=2,
    )
