"""What each adapter puts on the wire: messages, tool results, system prompts, caching."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import ModelFactory
from fake_vendor import Call, FakeVendor, Raw, Reply

from deepagents_nb.exceptions import BadRequestError, ServerError
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.gemini import SIGNATURES_KEY, _retry_delay
from deepagents_nb.tools import ToolSchema

WEATHER = ToolSchema(
    "get_weather",
    "Current weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

# A conversation with every kind of message: text, parallel calls (one with
# arguments that are not JSON), a failed and a successful result, a follow-up.
HISTORY = [
    Message.user("Weather in Paris and Rome?"),
    Message.assistant(
        "Checking.",
        [
            ToolCall(id="call_p", name="get_weather", args={"city": "Paris"}),
            ToolCall(id="call_r", name="get_weather", args='{"city": "Ro'),
        ],
    ),
    Message.tool("call_p", "get_weather", "Paris: sunny"),
    Message.tool("call_r", "get_weather", "Error: arguments are not valid JSON", is_error=True),
    Message.user("And tomorrow?"),
]


def conversation(**metadata: Any) -> ModelRequest:
    return ModelRequest(
        messages=HISTORY, system="Be brief.", tools=[WEATHER], metadata=dict(metadata)
    )


async def test_openai_messages_and_tools(vendor: FakeVendor, model_for: ModelFactory) -> None:
    vendor.script(Reply("Also sunny."))

    await model_for("openai").complete(conversation())

    body = vendor.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_p",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_r",
                    "type": "function",
                    # what the model wrote goes back unchanged
                    "function": {"name": "get_weather", "arguments": '{"city": "Ro'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_p", "content": "Paris: sunny"},
        {
            "role": "tool",
            "tool_call_id": "call_r",
            "content": "Error: arguments are not valid JSON",
        },
        {"role": "user", "content": "And tomorrow?"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city",
                "parameters": WEATHER.parameters,
            },
        }
    ]


async def test_openai_compatible_server_needs_no_key(
    vendor: FakeVendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepagents_nb.models.openai import LOCAL_SERVER_KEY, OpenAIChatModel

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = OpenAIChatModel("llama3.2", base_url=f"{vendor.url}/v1", provider="ollama")
    vendor.script(Reply("Hi from a local model."))

    response = await model.complete(ModelRequest(messages=[Message.user("hi")], max_tokens=50))
    await model.aclose()

    assert response.provider == "ollama"
    request = vendor.requests[0]
    assert request.headers["authorization"] == f"Bearer {LOCAL_SERVER_KEY}"
    assert request.body["max_tokens"] == 50  # what compatible servers understand


def test_openai_itself_gets_max_completion_tokens() -> None:
    from deepagents_nb.models.openai import OpenAIChatModel

    model = OpenAIChatModel("gpt-4o-mini", api_key="sk-test")

    assert model._params(ModelRequest(messages=[], max_tokens=10))["max_completion_tokens"] == 10


async def test_openai_response_without_choices(vendor: FakeVendor, model_for: ModelFactory) -> None:
    empty = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
    vendor.script(*[Raw(empty)] * 3)

    with pytest.raises(ServerError, match="no choices"):
        await model_for("openai").complete(conversation())


async def test_anthropic_merges_tool_results_into_one_user_turn(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Reply("Also sunny."))
    request = conversation()
    request.messages = [Message.system("Answer in French."), *HISTORY]

    await model_for("anthropic").complete(request)

    body = vendor.requests[0].body
    assert body["system"] == [{"type": "text", "text": "Be brief.\n\nAnswer in French."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "call_p",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_r",
                    "name": "get_weather",
                    "input": {"_raw_arguments": '{"city": "Ro'},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_p", "content": "Paris: sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_r",
                    "content": "Error: arguments are not valid JSON",
                    "is_error": True,
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather in a city",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert body["max_tokens"] == 8192  # required by the API: the adapter's default


async def test_anthropic_prompt_caching_marks_system_and_last_user_turn(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Reply("a"), Reply("b"))
    model = model_for("anthropic")

    await model.complete(conversation(prompt_caching=True))
    await model.complete(conversation())

    cached, plain = (r.body for r in vendor.requests)
    ephemeral = {"type": "ephemeral"}
    assert cached["system"][0]["cache_control"] == ephemeral
    marked = [
        (i, j)
        for i, turn in enumerate(cached["messages"])
        for j, block in enumerate(turn["content"])
        if "cache_control" in block
    ]
    assert marked == [(2, 2)]  # the last block of the last user turn
    assert "cache_control" not in str(plain)


async def test_gemini_contents_and_declarations(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Reply("Also sunny."))

    await model_for("gemini").complete(conversation())

    request = vendor.requests[0]
    assert request.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"]
    body = request.body
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {
                    "functionCall": {
                        "id": "call_p",
                        "name": "get_weather",
                        "args": {"city": "Paris"},
                    }
                },
                {
                    "functionCall": {
                        "id": "call_r",
                        "name": "get_weather",
                        "args": {"_raw_arguments": '{"city": "Ro'},
                    }
                },
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "call_p",
                        "name": "get_weather",
                        "response": {"output": "Paris: sunny"},
                    }
                },
                {
                    "functionResponse": {
                        "id": "call_r",
                        "name": "get_weather",
                        "response": {"error": "Error: arguments are not valid JSON"},
                    }
                },
                {"text": "And tomorrow?"},
            ],
        },
    ]
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "get_weather"
    schema = declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema"))
    assert schema == WEATHER.parameters


async def test_gemini_makes_call_ids_and_returns_thought_signatures(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    signature = base64.b64encode(b"opaque-thought-state").decode()
    vendor.script(
        Reply(
            calls=[
                Call("get_weather", {"city": "Paris"}, signature=signature),
                Call("get_weather", {"city": "Rome"}),
            ]
        ),
        Reply("Sunny in both."),
    )
    model = model_for("gemini")

    first = await model.complete(ModelRequest(messages=[Message.user("hi")], tools=[WEATHER]))
    paris, rome = first.message.tool_calls
    assert paris.id != rome.id and paris.id.startswith("call_")
    assert first.message.metadata == {SIGNATURES_KEY: {paris.id: signature}}

    follow_up = [
        Message.user("hi"),
        first.message,
        Message.tool(paris.id, "get_weather", "sunny"),
        Message.tool(rome.id, "get_weather", "sunny"),
    ]
    await model.complete(ModelRequest(messages=follow_up, tools=[WEATHER]))

    calls, results = vendor.requests[1].body["contents"][1:]
    assert calls["parts"][0]["thoughtSignature"] == signature
    assert "thoughtSignature" not in calls["parts"][1]
    assert [p["functionCall"]["id"] for p in calls["parts"]] == [paris.id, rome.id]
    assert [p["functionResponse"]["id"] for p in results["parts"]] == [paris.id, rome.id]


async def test_gemini_blocked_prompt_is_a_bad_request(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Raw({"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "g"}))

    with pytest.raises(BadRequestError, match="blocked the prompt: SAFETY"):
        await model_for("gemini").complete(conversation())


def test_gemini_retry_info_delay() -> None:
    details = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "13s"},
            ],
        }
    }

    assert _retry_delay(details) == 13.0
    assert _retry_delay({"error": {"code": 429}}) is None
    assert _retry_delay("not json") is None


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_stop_reason_for_a_length_cut(
    provider: str, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    stop = {"openai": "length", "anthropic": "max_tokens", "gemini": "MAX_TOKENS"}[provider]
    vendor.script(Reply("Truncat", stop=stop))

    response = await model_for(provider).complete(conversation())

    assert response.stop_reason == "max_tokens"
