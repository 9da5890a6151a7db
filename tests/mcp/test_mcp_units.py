"""MCP pieces that need no server: options, names, paths, result conversion, argument checks."""

from __future__ import annotations

import base64
import json

import pytest

from deepagents_nb import ConfigurationError, ToolArgumentsError
from deepagents_nb.mcp import MCPMiddleware, MCPServer, MCPServerError, resource_path
from deepagents_nb.mcp.convert import ArgsValidator, resource_text, to_outcome
from deepagents_nb.mcp.server import default_name

mcp_types = pytest.importorskip("mcp_types")

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_a_stdio_server_keeps_its_command_and_hides_its_environment() -> None:
    server = MCPServer.stdio("/usr/bin/uvx", ["mcp-server-time"], env={"TOKEN": "s3cret"})
    assert server.transport == "stdio"
    assert server.target == "uvx mcp-server-time"
    assert "s3cret" not in repr(server)


def test_an_http_server_hides_its_headers() -> None:
    server = MCPServer.http("http://127.0.0.1:9/mcp", headers={"Authorization": "Bearer s3cret"})
    assert server.transport == "auto"
    assert server.target == "http://127.0.0.1:9/mcp"
    assert "s3cret" not in repr(server)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MCPServer.stdio("uvx", "mcp-server-time"), "list of strings"),
        (lambda: MCPServer.stdio(""), "needs a command"),
        (lambda: MCPServer.stdio("uvx", timeout=0), "timeout= must be a positive number"),
        (lambda: MCPServer.stdio("uvx", start_timeout=float("inf")), "finite"),
        (lambda: MCPServer.stdio("uvx", name="my server"), "name='my server'"),
        (lambda: MCPServer.stdio("uvx", prefix="a.b"), "prefix='a.b'"),
        (lambda: MCPServer.http("ftp://example"), "http(s)://"),
        (lambda: MCPServer.http("http://h/mcp", transport="ws"), "transport="),  # type: ignore[arg-type]
        (lambda: MCPMiddleware(["uvx mcp-server-time"]), "is not an MCPServer"),  # type: ignore[list-item]
    ],
)
def test_bad_options_are_refused_when_given(make: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()  # type: ignore[operator]


def test_allowed_and_blocked_tools_take_names_and_globs() -> None:
    server = MCPServer.stdio("x", allowed_tools=["git_*", "echo"], blocked_tools=["git_reset"])
    assert server.offers("git_status") and server.offers("echo")
    assert not server.offers("git_reset") and not server.offers("get-sum")
    assert server.unknown_allowed(["git_status", "git_reset"]) == ["echo"]
    assert MCPServer.stdio("x").offers("anything")


def test_tool_names_keep_the_servers_unless_prefixed_and_lose_odd_characters() -> None:
    assert MCPServer.stdio("x").local_tool_name("get-sum") == "get-sum"
    assert MCPServer.stdio("x", prefix="git").local_tool_name("git_status") == "git_git_status"
    assert MCPServer.stdio("x").local_tool_name("files.read/all") == "files_read_all"


@pytest.mark.parametrize(
    ("info", "fallback", "expected"),
    [
        ("mcp-time", "python", "time"),
        ("mcp-servers/everything", "node", "everything"),
        ("mcp-git", "python", "git"),
        ("Weather Service", "x", "Weather-Service"),
        ("", "http://127.0.0.1:3001/mcp", "mcp"),
        ("", "/usr/local/bin/mcp-server-fetch", "fetch"),
    ],
)
def test_a_servers_default_name_is_its_own_shortened(
    info: str, fallback: str, expected: str
) -> None:
    assert default_name(info, fallback) == expected
    assert MCPServer.stdio("x", name="mine").short_name(info) == "mine"


@pytest.mark.parametrize(
    ("uri", "mime", "path"),
    [
        ("file:///repo/README.md", None, "/mcp/git/file/repo/README.md"),
        (
            "demo://resource/static/document/a%20b.md",
            None,
            "/mcp/git/demo/resource/static/document/a_b.md",
        ),
        ("demo://x/../etc/passwd", None, "/mcp/git/demo/x/_/etc/passwd"),
        ("demo://blob/1", "image/png", "/mcp/git/demo/blob/1.png"),
        ("urn:isbn:0451450523", None, "/mcp/git/urn/isbn_0451450523"),
    ],
)
def test_a_resource_path_comes_from_its_uri(uri: str, mime: str | None, path: str) -> None:
    assert resource_path("git", uri, mime) == path


def test_a_start_error_names_the_server_its_target_and_stderr() -> None:
    error = MCPServerError("time", "uvx mcp-server-time", "exited at once", "  | boom")
    assert str(error).splitlines() == [
        "MCP server 'time' (uvx mcp-server-time) exited at once",
        "Its stderr ended with:",
        "  | boom",
    ]


# ----- results ---------------------------------------------------------------------------------


def _paths(uri: str) -> str | None:
    return "/mcp/s/" + uri.split("://")[-1]


def test_text_images_and_links_become_text_image_parts_and_named_links() -> None:
    result = mcp_types.CallToolResult(
        content=[
            mcp_types.TextContent(text="Here it is:"),
            mcp_types.ImageContent(data=base64.b64encode(PNG).decode(), mime_type="image/png"),
            mcp_types.ResourceLink(name="notes", uri="demo://notes/1", mime_type="text/plain"),
            mcp_types.AudioContent(data="AAAA", mime_type="audio/wav"),
        ]
    )
    outcome = to_outcome(result, _paths)
    assert not outcome.is_error
    assert [i.data for i in outcome.images] == [PNG]
    lines = outcome.content.splitlines()
    assert lines[0] == "Here it is:"
    assert lines[1] == outcome.images[0].placeholder()
    assert lines[2] == (
        "[resource link notes: demo://notes/1 (text/plain); read it with read_file /mcp/s/notes/1]"
    )
    assert lines[3] == "[audio audio/wav, 3 bytes; not shown]"


def test_structured_content_is_json_and_its_text_copy_is_not_repeated() -> None:
    data = {"temperature": 36, "conditions": "rain"}
    result = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text=json.dumps(data))], structured_content=data
    )
    assert json.loads(to_outcome(result, _paths).content) == data


def test_an_is_error_result_is_an_error_outcome() -> None:
    result = mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text="no such file")], is_error=True
    )
    outcome = to_outcome(result, _paths)
    assert outcome.is_error and outcome.content == "no such file"
    empty = to_outcome(mcp_types.CallToolResult(content=[], is_error=True), _paths)
    assert empty.is_error and "without a message" in empty.content


def test_embedded_resources_show_their_text_or_their_image() -> None:
    text = mcp_types.EmbeddedResource(
        resource=mcp_types.TextResourceContents(uri="demo://a", text="hello")
    )
    blob = mcp_types.EmbeddedResource(
        resource=mcp_types.BlobResourceContents(
            uri="demo://b", blob=base64.b64encode(PNG).decode(), mime_type="image/png"
        )
    )
    outcome = to_outcome(mcp_types.CallToolResult(content=[text, blob]), _paths)
    assert outcome.content.startswith("[resource demo://a (read_file /mcp/s/a)]\nhello\n")
    assert len(outcome.images) == 1


def test_a_read_resource_is_text_or_bytes() -> None:
    text = mcp_types.ReadResourceResult(
        contents=[
            mcp_types.TextResourceContents(uri="demo://a", text="hi", mime_type="text/markdown")
        ]
    )
    assert resource_text(text) == ("hi", None, "text/markdown")
    blob = mcp_types.ReadResourceResult(
        contents=[
            mcp_types.BlobResourceContents(
                uri="demo://b", blob=base64.b64encode(PNG).decode(), mime_type="image/png"
            )
        ]
    )
    assert resource_text(blob) == (None, PNG, "image/png")


# ----- arguments -------------------------------------------------------------------------------

SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "a": {"type": "number"},
        "city": {"type": "string", "enum": ["Paris", "Oslo"]},
    },
    "required": ["a"],
}


def test_arguments_are_checked_against_the_servers_schema() -> None:
    check = ArgsValidator("get-sum", SCHEMA)
    assert check({"a": 1.5, "city": "Oslo"}) == {"a": 1.5, "city": "Oslo"}
    with pytest.raises(ToolArgumentsError) as caught:
        check({"a": "one", "city": "Rome"})
    message = str(caught.value)
    assert message.startswith("Invalid arguments for tool 'get-sum': ")
    assert "a: 'one' is not of type 'number'" in message
    assert "city: 'Rome' is not one of ['Paris', 'Oslo']" in message
    with pytest.raises(ToolArgumentsError, match="'a' is a required property"):
        check({})


def test_a_schema_jsonschema_rejects_falls_back_to_required_keys() -> None:
    check = ArgsValidator(
        "odd", {"type": "object", "properties": {"a": {"type": 7}}, "required": ["a"]}
    )
    assert check({"a": "anything"}) == {"a": "anything"}
    with pytest.raises(ToolArgumentsError, match="missing required 'a'"):
        check({})


def test_a_middleware_not_yet_started_reports_its_servers() -> None:
    mcp = MCPMiddleware([MCPServer.stdio("uvx", ["mcp-server-time"], name="time")])
    text = repr(mcp.report())
    assert text.splitlines()[0] == "time: not started (stdio: uvx mcp-server-time)"
    assert "<b>time</b>" in mcp.report()._repr_html_()
