"""Record `providers.jsonl`, the cassette `06_providers.ipynb` replays offline.

The cassette comes from the real OpenAI adapter (`OpenAIChatModel`, through the
official `openai` SDK and real HTTP) talking to a local stand-in for the OpenAI
API: the fake vendor server of the test suite (`tests/providers/fake_vendor.py`),
bound to 127.0.0.1. The stand-in's answers and token counts are scripted below;
nothing here reaches a vendor, and no real key is used.

    .venv/bin/python notebooks/cassettes/record_providers.py   # rewrites providers.jsonl

The agent, its tool and the two questions are those of the notebook: ReplayModel
matches each replayed request against a recorded one, so when the notebook's
conversation changes, change it here too and record again.

To record against the real API instead, run the notebook with OPENAI_API_KEY (or
ANTHROPIC_API_KEY) set: it then wraps the real model in RecordingModel itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "providers"))

from fake_vendor import Call, FakeVendor, Reply, Tokens  # noqa: E402

from deepagents_nb import DeepAgent, create_deep_agent, tool  # noqa: E402
from deepagents_nb.models import RecordingModel  # noqa: E402
from deepagents_nb.models.openai import OpenAIChatModel  # noqa: E402

STAND_IN_KEY = "sk-local-stand-in-not-a-real-key"
"""Sent to the local server only; a cassette never holds a key (checked by the tests)."""

# What the stand-in "model" answers, in order, with the usage it reports. The token
# counts are of the size gpt-4o-mini reports for these prompts, including OpenAI's
# prompt caching (cached prefixes in steps of 128 tokens past the first 1024).
SCRIPT = [
    Reply(
        calls=[Call("get_weather", {"city": "Paris"}, id="call_Xp2f7Rk1")],
        tokens=Tokens(input=1_846, output=17),
    ),
    Reply(
        "No umbrella needed: Paris is sunny today, 21°C.",
        tokens=Tokens(input=1_893, output=15, cache_read=1_792),
    ),
    Reply(
        calls=[Call("get_weather", {"city": "Oslo"}, id="call_Qz8m3Lw5")],
        tokens=Tokens(input=1_921, output=16, cache_read=1_792),
    ),
    Reply(
        "Yes, pack one: Oslo has rain today, 12°C.",
        tokens=Tokens(input=1_968, output=14, cache_read=1_920),
    ),
]


# ----- the notebook's agent, tool and conversation -------------------------------------


@tool
def get_weather(city: str) -> str:
    """Today's weather for a city.

    Args:
        city: City name, e.g. "Paris".
    """
    forecasts = {"lisbon": "sunny, 26°C", "oslo": "rain, 12°C", "paris": "sunny, 21°C"}
    return forecasts.get(city.strip().lower(), f"no forecast for {city}")


INSTRUCTIONS = "You are a concise travel assistant. Use get_weather for weather questions."


def converse(agent: DeepAgent) -> None:
    # The notebook asks the first question in a %%agent cell, which streams.
    run = agent.stream("Should I pack an umbrella for Paris today?", thread_id="weather")
    for _ in run:
        pass
    agent.handle_message("And for Oslo?", thread_id="weather")


def main(path: Path) -> None:
    server = FakeVendor().start()
    try:
        server.script(*SCRIPT)
        live = OpenAIChatModel("gpt-4o-mini", base_url=f"{server.url}/v1", api_key=STAND_IN_KEY)
        model = RecordingModel(live, path)
        converse(create_deep_agent(model=model, instructions=INSTRUCTIONS, tools=[get_weather]))
        assert server.remaining == 0, "the conversation did not use the whole script"
        print(f"recorded {model.recorded} responses from {server.url} to {path}")
    finally:
        server.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "providers.jsonl")
