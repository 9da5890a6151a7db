"""The issue's "done when": one scripted conversation through all three adapters.

text -> two tool calls in one turn -> final answer, streamed and not, through
`create_deep_agent`, against the fake vendor; the results at our API must be
identical, and the usage numbers right.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import PROVIDERS, ModelFactory
from fake_vendor import Call, FakeVendor, Reply, Tokens
from helpers import Recorder

from deepagents_nb import StreamingToken, TokenUsage, create_deep_agent, tool
from deepagents_nb.usage import Usage

FORECASTS = {"Paris": "sunny, 21°C", "Rome": "cloudy, 18°C"}


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"{city}: {FORECASTS[city]}"


SCRIPT = [
    # run 1: a plain answer
    Reply("Hello! Ask me about the weather.", tokens=Tokens(input=120, output=9)),
    # run 2: text and two calls in one turn, then the final answer
    Reply(
        "Let me check both cities.",
        calls=[
            Call("get_weather", {"city": "Paris"}, id="call_paris"),
            Call("get_weather", {"city": "Rome"}, id="call_rome"),
        ],
        tokens=Tokens(input=150, output=31, cache_read=100),
    ),
    Reply(
        "Paris is sunny at 21°C; Rome is cloudy at 18°C.",
        tokens=Tokens(input=230, output=16, cache_read=140, reasoning=4),
    ),
]


async def converse(model: Any, stream: bool) -> dict[str, Any]:
    """Run the two-message conversation; return what it looks like at our API."""
    recorder = Recorder()
    recorder.supports_streaming = stream  # a streaming listener makes the agent stream
    agent = create_deep_agent(
        model=model,
        instructions="You report the weather.",
        tools=[get_weather],
        event_broadcasters=[recorder],
    )
    first = await agent.ahandle_message("Hi!", thread_id="t")
    second = await agent.ahandle_message("Weather in Paris and Rome?", thread_id="t")
    tokens = [e.token for e in recorder.of(StreamingToken)]  # type: ignore[attr-defined]
    usage_events = recorder.of(TokenUsage)
    assert all(e.provider == model.provider for e in usage_events)  # type: ignore[attr-defined]
    return {
        "texts": [first.text, second.text],
        "calls": [(c.id, c.name, c.args) for m in second.messages for c in m.tool_calls],
        "tool_results": [
            (m.tool_call_id, m.name, m.content, m.is_error)
            for m in second.messages
            if m.role == "tool"
        ],
        "usage": [first.usage, second.usage],
        "streamed_text": "".join(tokens),
        "usage_events": [e.usage for e in usage_events],  # type: ignore[attr-defined]
    }


EXPECTED_CALLS = [
    ("call_paris", "get_weather", {"city": "Paris"}),
    ("call_rome", "get_weather", {"city": "Rome"}),
]
EXPECTED_RESULTS = [
    ("call_paris", "get_weather", "Paris: sunny, 21°C", False),
    ("call_rome", "get_weather", "Rome: cloudy, 18°C", False),
]
EXPECTED_USAGE = [
    Usage(input_tokens=120, output_tokens=9),
    Usage(
        input_tokens=380,
        output_tokens=47,
        cache_read_tokens=240,
        reasoning_tokens=4,
        requests=2,
    ),
]


async def test_same_conversation_same_results_through_every_adapter(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    results: dict[tuple[str, bool], dict[str, Any]] = {}
    for provider in PROVIDERS:
        for stream in (False, True):
            vendor.reset()
            vendor.script(*SCRIPT)
            results[provider, stream] = await converse(model_for(provider), stream)
            assert vendor.remaining == 0 and len(vendor.requests) == 3
            assert all(r.stream is stream for r in vendor.requests)

    reference = results["openai", False]
    assert reference["texts"] == [
        "Hello! Ask me about the weather.",
        "Paris is sunny at 21°C; Rome is cloudy at 18°C.",
    ]
    assert reference["calls"] == EXPECTED_CALLS
    assert reference["tool_results"] == EXPECTED_RESULTS
    assert reference["usage"] == EXPECTED_USAGE
    assert reference["usage_events"] == [
        Usage(input_tokens=120, output_tokens=9),
        Usage(input_tokens=150, output_tokens=31, cache_read_tokens=100),
        Usage(input_tokens=230, output_tokens=16, cache_read_tokens=140, reasoning_tokens=4),
    ]
    streamed = "".join(r.text for r in SCRIPT)
    for (provider, stream), result in results.items():
        assert result["streamed_text"] == (streamed if stream else ""), provider
        same = {k: v for k, v in result.items() if k != "streamed_text"}
        assert same == {k: v for k, v in reference.items() if k != "streamed_text"}, provider


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_tool_results_reach_the_vendor_in_its_own_format(
    provider: str, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(*SCRIPT)

    await converse(model_for(provider), stream=True)

    body = vendor.requests[2].body  # the call after the tools ran
    if provider == "openai":
        results = [
            (m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"
        ]
    elif provider == "anthropic":
        results = [
            (block["tool_use_id"], block["content"])
            for turn in body["messages"]
            for block in turn["content"]
            if block["type"] == "tool_result"
        ]
        # the prompt-caching middleware asked for breakpoints
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    else:
        results = [
            (p["functionResponse"]["id"], p["functionResponse"]["response"]["output"])
            for turn in body["contents"]
            for p in turn["parts"]
            if "functionResponse" in p
        ]
    assert results == [(cid, content) for cid, _, content, _ in EXPECTED_RESULTS]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_one_model_serves_sync_and_async_calls(
    provider: str, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    # As in a notebook: `agent.handle_message` runs on the library's own loop,
    # `await agent.ahandle_message` on Jupyter's; each loop gets its own client.
    model = model_for(provider)
    agent = create_deep_agent(model=model)
    vendor.script(Reply("From the sync call."), Reply("From the async call."))

    sync_text = agent.handle_message("one", thread_id="a").text
    async_text = (await agent.ahandle_message("two", thread_id="b")).text

    assert (sync_text, async_text) == ("From the sync call.", "From the async call.")
    assert len(model._clients) == 2
