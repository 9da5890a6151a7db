"""Scripted agents against @modelcontextprotocol/server-everything over HTTP, on 127.0.0.1:
streamable HTTP, and the older SSE transport (found by the spec's fallback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from mcp_support import build_agent, everything_http, free_port, mcp_of

from deepagents_nb import Message
from deepagents_nb.mcp import MCPServer, MCPServerError
from deepagents_nb.messages import ToolCall
from deepagents_nb.models.testing import ScriptedModel

pytest.importorskip("mcp")


def _tool_message(messages: list[Message], call_id: str) -> Message:
    return next(m for m in messages if m.role == "tool" and m.tool_call_id == call_id)


@pytest.fixture(scope="module")
def streamable_url() -> Iterator[str]:
    with everything_http("streamableHttp") as base:
        yield f"{base}/mcp"


def test_a_scripted_agent_calls_everything_over_streamable_http(streamable_url: str) -> None:
    docs = "/mcp/everything/demo/resource/static/document"
    model = ScriptedModel(
        [
            [
                ToolCall("get-sum", {"a": 20, "b": 22}, id="sum"),
                ToolCall("get-tiny-image", {}, id="image"),
                ToolCall("get-structured-content", {"location": "New York"}, id="weather"),
            ],
            ToolCall("read_file", {"file_path": f"{docs}/features.md", "limit": 1}, id="read"),
            "42, a logo, the weather and the features.",
        ]
    )
    server = MCPServer.http(streamable_url, headers={"X-Test": "1"})
    agent = build_agent(model, [server])
    try:
        result = agent.handle_message("Add, show, read")
        connection = mcp_of(agent).connections[0]
        assert connection.name == "everything"
        assert connection.transport == "streamable-http"
    finally:
        agent.close()
    assert _tool_message(result.messages, "sum").content == "The sum of 20 and 22 is 42."
    image = _tool_message(result.messages, "image")
    assert len(image.images) == 1 and image.images[0].media_type == "image/png"
    weather = json.loads(_tool_message(result.messages, "weather").content)
    assert weather["temperature"] == 33
    read = _tool_message(result.messages, "read").content
    assert read == "     1\t# Everything Server - Features"


async def test_the_same_http_session_serves_async_calls(streamable_url: str) -> None:
    model = ScriptedModel(
        [
            [ToolCall("echo", {"message": f"hi {n}"}, id=f"e{n}") for n in range(3)],
            "Echoed thrice.",
        ]
    )
    agent = build_agent(model, [MCPServer.http(streamable_url, transport="streamable-http")])
    try:
        results = await asyncio.gather(agent.ahandle_message("Echo"))
    finally:
        await agent.aclose()
    for n in range(3):
        assert _tool_message(results[0].messages, f"e{n}").content == f"Echo: hi {n}"


def test_an_sse_server_is_found_by_the_fallback() -> None:
    model = ScriptedModel([ToolCall("get-sum", {"a": 1, "b": 2}, id="sum"), "3"])
    with everything_http("sse") as base:
        agent = build_agent(model, [MCPServer.http(f"{base}/sse", name="legacy")])
        try:
            result = agent.handle_message("1 + 2?")
            assert mcp_of(agent).connections[0].transport == "sse"
        finally:
            agent.close()
    assert _tool_message(result.messages, "sum").content == "The sum of 1 and 2 is 3."


def test_a_url_nobody_listens_on_fails_fast_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    server = MCPServer.http(url, transport="streamable-http", start_timeout=10)
    with pytest.raises(MCPServerError) as caught:
        build_agent(ScriptedModel(["hi"]), [server])
    assert str(caught.value).startswith(f"MCP server ({url}) could not be reached: ConnectError")
