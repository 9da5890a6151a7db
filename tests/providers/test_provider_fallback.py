"""FallbackModel through the official SDKs: a rate-limited or cut-off primary hands the call
to the next model; the ledger and events name the model that answered."""

from __future__ import annotations

import pytest
from conftest import ModelFactory
from fake_vendor import Cut, Fail, FakeVendor, Reply
from helpers import Recorder

from deepagents_nb import FallbackModel, create_deep_agent
from deepagents_nb.events import TokenUsage
from deepagents_nb.exceptions import (
    BadRequestError,
    ConfigurationError,
    ModelConnectionError,
    RateLimitError,
)
from deepagents_nb.messages import Message
from deepagents_nb.models._retry import RetryPolicy
from deepagents_nb.models.base import ModelRequest

NO_RETRY = RetryPolicy(max_retries=0)
ASK = ModelRequest(messages=[Message.user("Say hi")])


async def test_a_rate_limited_primary_falls_back_and_the_ledger_names_who_answered(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Fail(429, retry_after="0"), Reply("Hi from Claude."))
    model = FallbackModel(
        model_for("openai", retry_policy=NO_RETRY), model_for("anthropic", retry_policy=NO_RETRY)
    )
    recorder = Recorder()
    agent = create_deep_agent(model=model, token_tracking=True, event_broadcasters=[recorder])

    result = await agent.ahandle_message("Say hi")
    await agent.dispatcher.flush()

    assert result.text == "Hi from Claude."
    assert [r.path for r in vendor.requests] == ["/v1/chat/completions", "/v1/messages"]
    (record,) = agent.usage.records
    assert (record.provider, record.model) == ("anthropic", "claude-sonnet-4-6")
    usage = [e for e in recorder.events if isinstance(e, TokenUsage)]
    assert usage and usage[0].model == "claude-sonnet-4-6"


async def test_other_errors_are_raised_at_once(vendor: FakeVendor, model_for: ModelFactory) -> None:
    vendor.script(Fail(400, "bad request"), Reply("never asked"))
    model = FallbackModel(model_for("openai"), model_for("gemini"))

    with pytest.raises(BadRequestError):
        await model.complete(ASK)
    assert len(vendor.requests) == 1


async def test_the_last_models_error_is_raised(vendor: FakeVendor, model_for: ModelFactory) -> None:
    vendor.script(Fail(429, retry_after="0"), Fail(429, retry_after="0"))
    model = FallbackModel(
        model_for("openai", retry_policy=NO_RETRY), model_for("gemini", retry_policy=NO_RETRY)
    )

    with pytest.raises(RateLimitError):
        await model.complete(ASK)


async def test_a_stream_cut_before_its_first_piece_falls_back(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Cut(Reply("lost"), after=0), Reply("Hi from Gemini."))
    model = FallbackModel(
        model_for("openai", retry_policy=NO_RETRY), model_for("gemini", retry_policy=NO_RETRY)
    )
    agent = create_deep_agent(model=model)

    run = agent.astream("Say hi")
    tokens = [event async for event in run if getattr(event, "token", None)]

    assert run.result is not None and run.result.text == "Hi from Gemini."
    assert "".join(t.token for t in tokens) == "Hi from Gemini."  # nothing of the lost stream


async def test_a_stream_cut_after_text_arrived_does_not_fall_back(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(
        Cut(Reply("one two three four", chunks=["one ", "two ", "three ", "four"]), after=3)
    )
    vendor.script(Reply("must not be asked"))
    model = FallbackModel(
        model_for("openai", retry_policy=NO_RETRY), model_for("gemini", retry_policy=NO_RETRY)
    )

    with pytest.raises(ModelConnectionError):
        async for _ in model.stream(ASK):
            pass
    assert len(vendor.requests) == 1


def test_bad_settings() -> None:
    from deepagents_nb.models.testing import ScriptedModel

    with pytest.raises(ConfigurationError, match="at least one model to fall back to"):
        FallbackModel(ScriptedModel([]))
    with pytest.raises(ConfigurationError, match="fallback_on takes ModelAPIError subclasses"):
        FallbackModel(ScriptedModel([]), ScriptedModel([]), fallback_on=(ValueError,))  # type: ignore[arg-type]
