"""Images on the wire: a user's attachment and a tool's plot, in each vendor's own form.

Everything goes through the official SDKs to the fake vendor, and the assertions
read the request bodies the server received. Image bytes are compared after
decoding the base64 the vendor got.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import pytest
from conftest import PROVIDERS, ModelFactory
from fake_vendor import Call, FakeVendor, Reply

from deepagents_nb import create_deep_agent, tool
from deepagents_nb.messages import Image, Message, ToolCall
from deepagents_nb.models.base import ModelRequest


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, rgba: bytes) -> bytes:
    """A valid 8-bit RGBA PNG of the given pixels (no filtering)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    row = width * 4
    raw = b"".join(b"\x00" + rgba[y * row : (y + 1) * row] for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


# Two pixels, matplotlib's blue and orange. Their standard base64 has both "+" and
# "/", so a URL-safe encoding ("-", "_") would not decode strictly (checked below).
PNG = _png(2, 1, bytes([31, 119, 180, 255, 255, 127, 14, 255]))
# The classic 1x1 transparent GIF, to see that each image keeps its own type.
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
HISTOGRAM = Image.from_bytes(PNG)
QUESTION = "Why is this bimodal?"


def strict_b64decode(data: str) -> bytes:
    """Standard base64 only: URL-safe characters are refused."""
    return base64.b64decode(data, validate=True)


def openai_image(part: dict[str, Any]) -> tuple[str, bytes]:
    assert part["type"] == "image_url", part
    url = part["image_url"]["url"]
    head, _, data = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head
    return head.removeprefix("data:").removesuffix(";base64"), strict_b64decode(data)


def anthropic_image(block: dict[str, Any]) -> tuple[str, bytes]:
    assert block["type"] == "image", block
    source = block["source"]
    assert source["type"] == "base64"
    return source["media_type"], strict_b64decode(source["data"])


def gemini_image(part: dict[str, Any]) -> tuple[str, bytes]:
    # google-genai encodes the bytes itself, in the URL-safe alphabet, which the
    # Gemini API accepts as well; urlsafe_b64decode reads either alphabet.
    blob = part["inlineData"]
    return blob.get("mimeType", blob.get("mime_type")), base64.urlsafe_b64decode(blob["data"])


def without_cache_marks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic blocks without the prompt-caching middleware's breakpoints."""
    return [{k: v for k, v in b.items() if k != "cache_control"} for b in blocks]


def test_the_test_png_is_valid_and_tells_the_base64_alphabets_apart() -> None:
    standard = base64.b64encode(PNG).decode()
    assert "+" in standard and "/" in standard
    with pytest.raises(ValueError):
        strict_b64decode(base64.urlsafe_b64encode(PNG).decode())
    assert HISTOGRAM.media_type == "image/png" and HISTOGRAM.dimensions() == (2, 1)
    assert Image.from_bytes(GIF).media_type == "image/gif"
    # the pixel data decompresses to the two scanline bytes + pixels written
    idat_length = struct.unpack(">I", PNG[33:37])[0]
    assert zlib.decompress(PNG[41 : 41 + idat_length]) == b"\x00" + bytes(
        [31, 119, 180, 255, 255, 127, 14, 255]
    )


# ----- a user's images ----------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_user_images_reach_the_vendor_in_its_own_form(
    provider: str, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Reply("Two populations."))
    images = [HISTOGRAM, Image.from_bytes(GIF)]

    await model_for(provider).complete(ModelRequest(messages=[Message.user(QUESTION, images)]))

    body = vendor.requests[0].body
    expected = [("image/png", PNG), ("image/gif", GIF)]
    if provider == "openai":
        (message,) = body["messages"]
        assert message["role"] == "user"
        text, *parts = message["content"]
        assert text == {"type": "text", "text": QUESTION}
        assert [openai_image(p) for p in parts] == expected
    elif provider == "anthropic":
        (turn,) = body["messages"]
        assert turn["role"] == "user"
        *blocks, text = turn["content"]  # images before the question
        assert text == {"type": "text", "text": QUESTION}
        assert [anthropic_image(b) for b in blocks] == expected
    else:
        (content,) = body["contents"]
        assert content["role"] == "user"
        *parts, text = content["parts"]  # images before the question
        assert text == {"text": QUESTION}
        assert [gemini_image(p) for p in parts] == expected


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_image_without_text_sends_no_empty_text(
    provider: str, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(Reply("A histogram."))

    await model_for(provider).complete(ModelRequest(messages=[Message.user("", [HISTOGRAM])]))

    body = vendor.requests[0].body
    if provider == "openai":
        (part,) = body["messages"][0]["content"]
        assert openai_image(part) == ("image/png", PNG)
    elif provider == "anthropic":
        (block,) = body["messages"][0]["content"]
        assert anthropic_image(block) == ("image/png", PNG)
    else:
        (part,) = body["contents"][0]["parts"]
        assert gemini_image(part) == ("image/png", PNG)


# ----- a tool's images, from a whole agent run ----------------------------------------------


@tool
def plot_histogram(column: str) -> Image:
    """Plot a histogram of a column of the dataframe."""
    return HISTOGRAM


@tool
def describe(column: str) -> str:
    """Summary statistics of a column of the dataframe."""
    return f"{column}: mean 41.2, std 12.9"


async def run_agent(model: Any, stream: bool, prompt: str) -> list[Message]:
    """One agent run; returns the tool messages it added."""
    agent = create_deep_agent(model=model, tools=[plot_histogram, describe])
    if stream:
        run = agent.astream(prompt, thread_id="t")
        async for _ in run:
            pass
        result = run.result
    else:
        result = await agent.ahandle_message(prompt, thread_id="t")
    assert result.text == "It is bimodal."
    return [m for m in result.messages if m.role == "tool"]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_tool_image_reaches_the_vendor_in_its_own_form(
    provider: str, stream: bool, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(
        Reply(calls=[Call("plot_histogram", {"column": "age"}, id="call_plot")]),
        Reply("It is bimodal."),
    )

    (result,) = await run_agent(model_for(provider), stream, "Plot the ages.")

    assert result.images == (HISTOGRAM,)
    assert len(vendor.requests) == 2
    assert all(r.stream is stream for r in vendor.requests)
    body = vendor.requests[1].body  # the call after the tool ran
    if provider == "openai":
        call, answer, images = body["messages"][-3:]
        assert [t["id"] for t in call["tool_calls"]] == ["call_plot"]
        assert answer == {"role": "tool", "tool_call_id": "call_plot", "content": result.content}
        assert images["role"] == "user"
        caption, part = images["content"]
        assert caption == {
            "type": "text",
            "text": "Images from the tool call call_plot (plot_histogram):",
        }
        assert openai_image(part) == ("image/png", PNG)
    elif provider == "anthropic":
        turn = body["messages"][-1]
        assert turn["role"] == "user"
        (block,) = without_cache_marks(turn["content"])
        assert block["type"] == "tool_result" and block["tool_use_id"] == "call_plot"
        assert "is_error" not in block
        text, image = block["content"]  # a list of blocks, not a string
        assert text == {"type": "text", "text": result.content}
        assert anthropic_image(image) == ("image/png", PNG)
    else:
        content = body["contents"][-1]
        assert content["role"] == "user"
        response, caption, part = content["parts"]
        assert response == {
            "functionResponse": {
                "id": "call_plot",
                "name": "plot_histogram",
                "response": {"output": result.content},
            }
        }
        assert caption == {"text": "Images from the tool call call_plot (plot_histogram):"}
        assert gemini_image(part) == ("image/png", PNG)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_tool_result_of_a_turn_comes_before_its_images(
    provider: str, stream: bool, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    # The image comes from the first of two calls: OpenAI wants every tool_call_id
    # answered before any other message; Gemini gets the function responses first too.
    vendor.script(
        Reply(
            "Plotting and describing.",
            calls=[
                Call("plot_histogram", {"column": "age"}, id="call_plot"),
                Call("describe", {"column": "age"}, id="call_stats"),
            ],
        ),
        Reply("It is bimodal."),
    )

    plot, stats = await run_agent(model_for(provider), stream, "Plot and describe the ages.")

    assert (plot.tool_call_id, bool(plot.images)) == ("call_plot", True)
    assert (stats.tool_call_id, stats.images) == ("call_stats", ())
    body = vendor.requests[1].body
    if provider == "openai":
        messages = body["messages"]
        assert [m["role"] for m in messages] == [
            "system",
            "user",
            "assistant",
            "tool",
            "tool",
            "user",
        ]
        assert [m["tool_call_id"] for m in messages[3:5]] == ["call_plot", "call_stats"]
        assert messages[4]["content"] == "age: mean 41.2, std 12.9"
        caption, part = messages[5]["content"]
        assert caption["text"] == "Images from the tool call call_plot (plot_histogram):"
        assert openai_image(part) == ("image/png", PNG)
    elif provider == "anthropic":
        turn = body["messages"][-1]
        plot_block, stats_block = without_cache_marks(turn["content"])
        assert [plot_block["tool_use_id"], stats_block["tool_use_id"]] == [
            "call_plot",
            "call_stats",
        ]
        assert anthropic_image(plot_block["content"][1]) == ("image/png", PNG)
        assert stats_block["content"] == "age: mean 41.2, std 12.9"  # text-only: a string
    else:
        parts = body["contents"][-1]["parts"]
        assert [next(iter(p)) for p in parts] == [
            "functionResponse",
            "functionResponse",
            "text",
            "inlineData",
        ]
        ids = [p["functionResponse"]["id"] for p in parts[:2]]
        assert ids == ["call_plot", "call_stats"]
        assert parts[2] == {"text": "Images from the tool call call_plot (plot_histogram):"}
        assert gemini_image(parts[3]) == ("image/png", PNG)


async def test_openai_images_of_one_turn_share_one_user_message(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    # Both calls showed an image: one user message after both tool messages, each
    # tool's images under their own caption; the user's follow-up stays its own message.
    age, income = Image.from_bytes(PNG), Image.from_bytes(GIF)
    history = [
        Message.user("Compare the ages and the incomes."),
        Message.assistant(
            "",
            [
                ToolCall(id="call_a", name="plot_histogram", args={"column": "age"}),
                ToolCall(id="call_i", name="plot_histogram", args={"column": "income"}),
            ],
        ),
        Message.tool("call_a", "plot_histogram", "[image/png 1 KB]", images=[age]),
        Message.tool("call_i", "plot_histogram", "[image/gif 1 KB]", images=[income]),
        Message.user("Which one is bimodal?"),
    ]
    vendor.script(Reply("The ages."))

    await model_for("openai").complete(ModelRequest(messages=history))

    messages = vendor.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user", "user"]
    first_caption, first, second_caption, second = messages[4]["content"]
    assert first_caption["text"] == "Images from the tool call call_a (plot_histogram):"
    assert openai_image(first) == ("image/png", PNG)
    assert second_caption["text"] == "Images from the tool call call_i (plot_histogram):"
    assert openai_image(second) == ("image/gif", GIF)
    assert messages[5] == {"role": "user", "content": "Which one is bimodal?"}
