"""The context meter: prompt tokens against the model's context window."""

from __future__ import annotations

import pytest
from helpers import Recorder

from deepagents_nb import ConfigurableAgentBuilder, ConfigurationError, create_deep_agent
from deepagents_nb.context_window import ContextUsage, known_context_window
from deepagents_nb.events import TokenUsage
from deepagents_nb.messages import Message
from deepagents_nb.models.base import ModelResponse
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.usage import Usage


def answer(prompt_tokens: int) -> ModelResponse:
    return ModelResponse(
        Message.assistant("ok"), usage=Usage(input_tokens=prompt_tokens, output_tokens=2)
    )


async def test_events_and_context_usage_measure_against_the_configured_window() -> None:
    recorder = Recorder()
    agent = create_deep_agent(
        model=ScriptedModel([answer(1_000), answer(150_000)]),
        context_window=200_000,
        event_broadcasters=[recorder],
    )

    await agent.ahandle_message("first", thread_id="t")
    await agent.ahandle_message("second", thread_id="t")
    await agent.dispatcher.flush()

    windows = [e.context_window for e in recorder.events if isinstance(e, TokenUsage)]
    assert windows == [200_000, 200_000]
    usage = agent.context_usage("t")
    assert usage == ContextUsage(150_000, 200_000, "scripted", "scripted")
    assert usage is not None and usage.fraction == 0.75
    assert str(usage) == "150,000 of 200,000 context tokens (75%)"
    assert agent.context_usage("never") is None


def test_known_windows_come_from_the_model_data() -> None:
    assert known_context_window("anthropic", "claude-sonnet-4-5") == 200_000
    assert known_context_window("openai", "gpt-4o") == 128_000
    assert known_context_window("scripted", "scripted") is None
    assert known_context_window("openai", "no-such-model-xyz") is None


def test_an_unknown_window_says_so() -> None:
    agent = create_deep_agent(model=ScriptedModel([answer(10)]))
    agent.handle_message("hi")

    usage = agent.context_usage()
    assert usage is not None and usage.fraction is None
    assert str(usage) == "10 prompt tokens (context window unknown)"


def test_the_cost_tab_shows_the_gauge() -> None:
    from deepagents_nb.notebook.widgets import CostPanel

    agent = create_deep_agent(model=ScriptedModel([answer(180_000)]), context_window=200_000)
    agent.handle_message("hi", thread_id="g")

    panel = CostPanel(agent, "g")

    assert "180,000 of 200,000 context tokens (90%)" in panel.gauge.value
    assert "width:90.0%" in panel.gauge.value and "#b91c1c" in panel.gauge.value


def test_both_spellings_and_bad_values() -> None:
    built = ConfigurableAgentBuilder().with_model(ScriptedModel([])).with_context_window(8_192)
    assert built.build().config.context_window == 8_192
    with pytest.raises(ConfigurationError, match="context_window must be a positive integer"):
        create_deep_agent(model=ScriptedModel([]), context_window=0)
