"""The shipped test doubles and the guard against real vendor calls."""

from __future__ import annotations

import pytest

from deepagents_nb import Message, ToolCall
from deepagents_nb.exceptions import ModelBehaviorError, VendorRequestBlockedError
from deepagents_nb.models.base import ModelRequest, ModelResponse, ResponseComplete, TextDelta
from deepagents_nb.models.guard import allow_vendor_requests, check_vendor_request, is_local_url
from deepagents_nb.models.testing import FunctionModel, ScriptedModel
from deepagents_nb.usage import Usage

REQUEST = ModelRequest(messages=(Message.user("hello there"),), system="sys")


async def test_scripted_items_become_responses() -> None:
    calls = [ToolCall(name="a"), ToolCall(name="b")]
    full = ModelResponse(message=Message.assistant("full"), usage=Usage(input_tokens=7))
    model = ScriptedModel(["text", ToolCall(name="one"), calls, Message.assistant("msg"), full])

    text = await model.complete(REQUEST)
    assert text.message.content == "text" and text.stop_reason == "end_turn"
    assert text.provider == "scripted" and text.model == "scripted"
    one = await model.complete(REQUEST)
    assert [c.name for c in one.message.tool_calls] == ["one"] and one.stop_reason == "tool_use"
    assert [c.name for c in (await model.complete(REQUEST)).message.tool_calls] == ["a", "b"]
    assert (await model.complete(REQUEST)).message.content == "msg"
    given = await model.complete(REQUEST)
    assert given.usage == Usage(input_tokens=7)  # explicit usage is kept as given
    assert model.remaining == 0
    assert len(model.requests) == 5


async def test_estimated_usage_is_four_characters_per_token() -> None:
    model = ScriptedModel(["12345678"])
    response = await model.complete(REQUEST)
    # "sys" + "hello there" = 14 characters -> 4 tokens; 8 characters out -> 2 tokens.
    assert response.usage == Usage(input_tokens=4, output_tokens=2)


async def test_running_out_of_script_is_a_clear_error() -> None:
    model = ScriptedModel(["only"])
    await model.complete(REQUEST)
    with pytest.raises(ModelBehaviorError, match=r"has 1 responses and was asked for call #2"):
        await model.complete(REQUEST)


async def test_bad_script_items_are_rejected() -> None:
    with pytest.raises(ModelBehaviorError, match="cannot use 42"):
        await ScriptedModel([42]).complete(REQUEST)  # type: ignore[list-item]
    with pytest.raises(ModelBehaviorError, match="assistant message"):
        await ScriptedModel([Message.user("x")]).complete(REQUEST)


async def test_stream_yields_text_pieces_then_the_complete_response() -> None:
    events = [e async for e in ScriptedModel(["Hello big world"]).stream(REQUEST)]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello ", "big ", "world"]
    assert isinstance(events[-1], ResponseComplete)
    assert events[-1].response.message.content == "Hello big world"


async def test_function_model_sync_and_async() -> None:
    async def shout(request: ModelRequest) -> str:
        return request.messages[-1].content.upper()

    assert (await FunctionModel(shout).complete(REQUEST)).message.content == "HELLO THERE"
    sync = FunctionModel(lambda r: ToolCall(name="x", args={"n": len(r.messages)}))
    response = await sync.complete(REQUEST)
    assert response.message.tool_calls[0].args == {"n": 1}
    assert len(sync.requests) == 1


def test_guard_refuses_real_vendors_but_allows_loopback() -> None:
    # conftest.py turns the guard on for the whole suite.
    with pytest.raises(VendorRequestBlockedError, match="refused a real openai request"):
        check_vendor_request("openai", None)
    with pytest.raises(VendorRequestBlockedError):
        check_vendor_request("anthropic", "https://api.anthropic.com")
    check_vendor_request("openai", "http://127.0.0.1:8080/v1")
    check_vendor_request("openai", "http://localhost:11434/v1")
    with allow_vendor_requests():
        check_vendor_request("openai", None)
    with pytest.raises(VendorRequestBlockedError):
        check_vendor_request("openai", None)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:1234", True),
        ("http://[::1]:80/v1", True),
        ("localhost:11434", True),
        ("https://api.openai.com/v1", False),
        ("http://127.example.com", False),
        (None, False),
    ],
)
def test_is_local_url(url: str | None, local: bool) -> None:
    assert is_local_url(url) is local
