"""Fixtures for the provider adapters: the fake vendor server and models aimed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fake_vendor import FakeVendor

from deepagents_nb.models._retry import RetryPolicy
from deepagents_nb.models._vendor import VendorModel

PROVIDERS = ["openai", "anthropic", "gemini"]
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-6", "gemini": "gemini-2.5-flash"}
TEST_KEY = "sk-test-good-key-0123456789"
FAST_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=1.0, jitter=0.0)
"""Retries as in production, with delays too short to slow the suite."""


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeVendor]:
    server = FakeVendor().start()
    yield server
    server.stop()


@pytest.fixture
def vendor(fake_server: FakeVendor) -> FakeVendor:
    """The fake vendor with an empty script and no recorded requests."""
    fake_server.reset()
    return fake_server


def make_model(provider: str, vendor: FakeVendor, **options: Any) -> VendorModel[Any]:
    """An adapter of `provider` pointed at `vendor`, with fast retries."""
    options.setdefault("api_key", TEST_KEY)
    options.setdefault("retry_policy", FAST_RETRIES)
    options.setdefault("timeout", 5.0)
    model = options.pop("model", MODELS[provider])
    if provider == "openai":
        from deepagents_nb.models.openai import OpenAIChatModel

        return OpenAIChatModel(model, base_url=f"{vendor.url}/v1", **options)
    if provider == "anthropic":
        from deepagents_nb.models.anthropic import AnthropicModel

        return AnthropicModel(model, base_url=vendor.url, **options)
    from deepagents_nb.models.gemini import GeminiModel

    return GeminiModel(model, base_url=vendor.url, **options)


ModelFactory = Callable[..., VendorModel[Any]]


@pytest.fixture
async def model_for(vendor: FakeVendor) -> AsyncIterator[ModelFactory]:
    """`model_for("openai", **options)`: adapters aimed at the fake, closed after the test."""
    made: list[VendorModel[Any]] = []

    def factory(provider: str, **options: Any) -> VendorModel[Any]:
        made.append(make_model(provider, vendor, **options))
        return made[-1]

    yield factory
    for model in made:
        await model.aclose()
