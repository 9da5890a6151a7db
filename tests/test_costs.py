"""Prices: arithmetic by hand, presets, custom prices, the genai-prices database, unknowns."""

from __future__ import annotations

import subprocess
import sys
import warnings
from datetime import datetime, timezone

import pytest

from deepagents_nb import ConfigurationError, TokenCosts, Usage
from deepagents_nb.costs import PRESETS, PriceBook, UnknownModelPriceWarning

NOW = datetime(2026, 1, 15, tzinfo=timezone.utc)
CACHED = Usage(
    input_tokens=10_000,  # every prompt token, cached ones included
    cache_read_tokens=6_000,
    cache_write_tokens=2_000,
    output_tokens=500,
    reasoning_tokens=200,  # part of the 500 output tokens, not billed again
)


def price(provider: str, model: str, usage: Usage = CACHED) -> tuple[float | None, str | None]:
    return PriceBook().cost(usage, provider, model, NOW)


def test_cost_charges_uncached_cached_and_output_tokens_at_their_prices() -> None:
    costs = TokenCosts(
        input_per_million=3.0,
        output_per_million=15.0,
        cache_read_per_million=0.30,
        cache_write_per_million=3.75,
    )
    # 2,000 uncached x $3 + 6,000 read x $0.30 + 2,000 written x $3.75 + 500 out x $15
    assert costs.cost(CACHED) == pytest.approx((6_000 + 1_800 + 7_500 + 7_500) / 1e6)
    assert costs.cost(CACHED) == pytest.approx(0.0228)


def test_cache_prices_default_to_the_input_price() -> None:
    costs = TokenCosts(input_per_million=2.0, output_per_million=8.0)
    assert costs.cost(CACHED) == pytest.approx((10_000 * 2.0 + 500 * 8.0) / 1e6)


def test_a_cache_count_larger_than_the_prompt_never_gives_a_negative_price() -> None:
    costs = TokenCosts(input_per_million=1.0, output_per_million=1.0, cache_read_per_million=0.5)
    bad = Usage(input_tokens=100, cache_read_tokens=300, output_tokens=0)
    assert costs.cost(bad) == pytest.approx(300 * 0.5 / 1e6)


def test_rust_sdk_per_token_units() -> None:
    mini = TokenCosts.openai_gpt4o_mini()
    assert mini.input_cost_per_token == pytest.approx(0.15 / 1e6)
    assert mini.output_cost_per_token == pytest.approx(0.60 / 1e6)


def test_negative_prices_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="negative"):
        TokenCosts(input_per_million=-1.0, output_per_million=1.0)


@pytest.mark.parametrize(
    ("preset", "prices"),
    [
        (TokenCosts.openai_gpt4o_mini(), (0.15, 0.60, 0.075, None)),
        (TokenCosts.openai_gpt4o(), (2.50, 10.00, 1.25, None)),
        (TokenCosts.anthropic_claude_sonnet(), (3.00, 15.00, 0.30, 3.75)),
        (TokenCosts.gemini_flash(), (0.10, 0.40, 0.025, None)),
    ],
)
def test_presets(preset: TokenCosts, prices: tuple[float, ...]) -> None:
    got = (
        preset.input_per_million,
        preset.output_per_million,
        preset.cache_read_per_million,
        preset.cache_write_per_million,
    )
    assert got == prices


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        # uncached 2,000 + written 2,000 at the input price (OpenAI has no cache-write price)
        ("openai", "gpt-4o-mini", (4_000 * 0.15 + 6_000 * 0.075 + 500 * 0.60) / 1e6),
        ("openai", "gpt-4o-mini-2024-07-18", (4_000 * 0.15 + 6_000 * 0.075 + 500 * 0.60) / 1e6),
        ("openai", "gpt-4o-2024-08-06", (4_000 * 2.5 + 6_000 * 1.25 + 500 * 10) / 1e6),
        ("openai", "gpt-4o-2024-05-13", (10_000 * 5 + 500 * 15) / 1e6),  # the launch price
        (
            "anthropic",
            "claude-3-5-sonnet-20241022",
            (2_000 * 3 + 6_000 * 0.3 + 2_000 * 3.75 + 500 * 15) / 1e6,
        ),
        (
            "anthropic",
            "claude-3-5-sonnet-latest",
            (2_000 * 3 + 6_000 * 0.3 + 2_000 * 3.75 + 500 * 15) / 1e6,
        ),
        ("gemini", "gemini-2.0-flash-001", (4_000 * 0.1 + 6_000 * 0.025 + 500 * 0.4) / 1e6),
        ("gemini", "models/gemini-2.0-flash", (4_000 * 0.1 + 6_000 * 0.025 + 500 * 0.4) / 1e6),
    ],
)
def test_presets_price_their_models_and_snapshots(
    provider: str, model: str, expected: float
) -> None:
    cost, source = price(provider, model)
    assert source == "preset"
    assert cost == pytest.approx(expected)


def test_a_model_family_preset_does_not_price_a_different_model() -> None:
    gpt4o = TokenCosts.openai_gpt4o()
    assert gpt4o.matches("openai", "gpt-4o-2024-11-20")
    assert not gpt4o.matches("openai", "gpt-4o-mini")
    assert not gpt4o.matches("openai", "gpt-4o-audio-preview")
    assert not gpt4o.matches("azure", "gpt-4o")
    assert {p.model for p in PRESETS} >= {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"}


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        (
            "anthropic",
            "claude-sonnet-4-5-20250929",
            (2_000 * 3 + 6_000 * 0.3 + 2_000 * 3.75 + 500 * 15) / 1e6,
        ),
        (
            "anthropic",
            "claude-haiku-4-5",
            (2_000 * 1 + 6_000 * 0.1 + 2_000 * 1.25 + 500 * 5) / 1e6,
        ),
        ("openai", "gpt-4.1-mini", (4_000 * 0.4 + 6_000 * 0.1 + 500 * 1.6) / 1e6),
        ("openai", "o3-mini", (4_000 * 1.1 + 6_000 * 0.55 + 500 * 4.4) / 1e6),
        ("gemini", "gemini-2.5-flash", (4_000 * 0.3 + 6_000 * 0.03 + 500 * 2.5) / 1e6),
    ],
)
def test_other_models_are_priced_offline_by_the_genai_prices_database(
    provider: str, model: str, expected: float
) -> None:
    # pytest-socket blocks the network: the database ships inside the package.
    cost, source = price(provider, model)
    assert source == "genai-prices"
    assert cost == pytest.approx(expected)


def test_the_database_knows_long_context_tiers() -> None:
    # Claude Sonnet 4.5 costs $6 / $22.50 per million once the prompt passes 200k tokens.
    long = Usage(input_tokens=300_000, output_tokens=1_000)
    cost, _ = price("anthropic", "claude-sonnet-4-5", long)
    assert cost == pytest.approx((300_000 * 6 + 1_000 * 22.5) / 1e6)


def test_custom_prices_override_presets_and_the_database() -> None:
    mine = TokenCosts(model="gpt-4o-mini", input_per_million=1.0, output_per_million=2.0)
    book = PriceBook([mine])
    cost, source = book.cost(CACHED, "openai", "gpt-4o-mini", NOW)
    assert (cost, source) == (pytest.approx((10_000 * 1.0 + 500 * 2.0) / 1e6), "custom")
    # Other models still get their own price.
    assert book.cost(CACHED, "openai", "gpt-4o", NOW)[1] == "preset"


def test_a_custom_price_without_a_model_prices_every_request() -> None:
    flat = TokenCosts(input_per_million=1.0, output_per_million=1.0)
    book = PriceBook(flat)
    for provider, model in [("scripted", "scripted"), ("anthropic", "claude-3-5-sonnet")]:
        assert book.cost(CACHED, provider, model, NOW) == (pytest.approx(0.0105), "custom")


def test_the_most_specific_custom_price_wins() -> None:
    book = PriceBook(
        [
            TokenCosts(input_per_million=9.0, output_per_million=9.0),
            TokenCosts(model="gpt-4o", input_per_million=2.0, output_per_million=2.0),
            TokenCosts(model="gpt-4o-mini", input_per_million=1.0, output_per_million=1.0),
        ]
    )
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    assert book.cost(usage, "openai", "gpt-4o-mini-2024-07-18", NOW)[0] == pytest.approx(1.0)
    assert book.cost(usage, "openai", "gpt-4o-2024-11-20", NOW)[0] == pytest.approx(2.0)
    assert book.cost(usage, "openai", "o1", NOW)[0] == pytest.approx(9.0)


def test_custom_costs_must_be_token_costs() -> None:
    with pytest.raises(ConfigurationError, match="TokenCosts"):
        PriceBook([{"input_per_million": 1}])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("acme", "toy"),
        ("openai", "llama3.1:8b"),  # an OpenAI-compatible local server
        ("ollama", "llama3.1"),
        ("anthropic", "claude-from-the-future"),
    ],
)
def test_unknown_models_cost_none_with_one_warning(provider: str, model: str) -> None:
    book = PriceBook()
    with pytest.warns(UnknownModelPriceWarning, match="no price is known") as caught:
        assert book.cost(CACHED, provider, model, NOW) == (None, None)
    assert model in str(caught[0].message)
    assert "custom_costs=TokenCosts" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert book.cost(CACHED, provider, model, NOW) == (None, None)  # never warned again


@pytest.mark.parametrize("provider", ["scripted", "function"])
def test_offline_test_models_cost_none_without_a_warning(provider: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert PriceBook().cost(CACHED, provider, provider, NOW) == (None, None)


def test_the_price_database_is_imported_only_when_needed() -> None:
    code = (
        "import sys, deepagents_nb; "
        "from deepagents_nb.costs import PriceBook; "
        "from deepagents_nb.usage import Usage; "
        "from datetime import datetime, timezone; "
        "PriceBook().cost(Usage(input_tokens=1), 'openai', 'gpt-4o-mini', "
        "datetime.now(timezone.utc)); "
        "print('genai_prices' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # a preset answered: no quarter-second import


def test_an_agent_loads_the_price_database_off_the_event_loop_when_its_model_needs_it() -> None:
    # Built with a model only the database prices, the agent imports genai-prices on
    # a background thread; a preset model, a custom price or a test double never does.
    code = (
        "import sys, threading, deepagents_nb as d; "
        "from deepagents_nb.models.openai import OpenAIChatModel; "
        "model = lambda name: OpenAIChatModel(name, api_key='sk-test'); "
        "from deepagents_nb.models.testing import ScriptedModel; "
        "d.create_deep_agent(ScriptedModel(['hi'])); "
        "d.create_deep_agent(model('gpt-4o-mini')); "
        "d.create_deep_agent(model('gpt-4.1'), token_tracking=d.TokenTrackingConfig("
        "custom_costs=d.TokenCosts(input_per_million=1, output_per_million=1))); "
        "before = 'genai_prices' in sys.modules; "
        "d.create_deep_agent(model('gpt-4.1')); "
        "loader = [t for t in threading.enumerate() if t.name == 'deepagents-prices']; "
        "[t.join() for t in loader]; "
        "print(before, len(loader), 'genai_prices' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "1", "True"]
