"""Cost end to end: each vendor's wire-format usage, through its adapter, into the ledger."""

from __future__ import annotations

import pytest
from conftest import MODELS, PROVIDERS, ModelFactory
from fake_vendor import FakeVendor, Reply, Tokens

from deepagents_nb import create_deep_agent

# Every prompt token, cached ones included; 2,000 of them uncached.
TOKENS = Tokens(input=10_000, output=500, cache_read=6_000, cache_write=2_000, reasoning=200)

EXPECTED = {
    # gpt-4o-mini (preset): no cache-write price, so written tokens cost the input price.
    "openai": (4_000 * 0.15 + 6_000 * 0.075 + 500 * 0.60) / 1e6,
    # claude-sonnet-4-6 (genai-prices): $3 in, $0.30 cache read, $3.75 cache write, $15 out.
    "anthropic": (2_000 * 3 + 6_000 * 0.30 + 2_000 * 3.75 + 500 * 15) / 1e6,
    # gemini-2.5-flash (genai-prices), which reports no cache writes: $0.30, $0.03, $2.50.
    "gemini": (4_000 * 0.30 + 6_000 * 0.03 + 500 * 2.50) / 1e6,
}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_vendor_response_is_priced_from_its_reported_usage(
    provider: str, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    tokens = TOKENS
    if provider == "gemini":
        tokens = Tokens(input=10_000, output=500, cache_read=6_000, reasoning=200)
    vendor.script(Reply("Done.", tokens=tokens))
    agent = create_deep_agent(model=model_for(provider), token_tracking=True)

    await agent.ahandle_message("Go.")

    (record,) = agent.usage.records
    assert (record.provider, record.model) == (provider, MODELS[provider])
    assert (record.input_tokens, record.output_tokens) == (10_000, 500)
    assert record.reasoning_tokens == 200
    assert record.cost_usd == pytest.approx(EXPECTED[provider])
    assert record.duration_ms > 0
