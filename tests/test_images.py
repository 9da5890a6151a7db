"""Images through the core: user messages, tool results, checkpoints, events, estimates."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from helpers import Recorder

from deepagents_nb import (
    ConfigurationError,
    Image,
    InMemoryCheckpointer,
    Message,
    SqliteCheckpointer,
    create_deep_agent,
    tool,
)
from deepagents_nb.messages import ToolCall, user_message
from deepagents_nb.middleware.summarization import estimate_tokens
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.tools import ToolOutcome, to_outcome


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (grey) PNG of the given size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_an_image_knows_its_type_size_and_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "hist.png"
    path.write_bytes(png(1500, 1000))

    image = Image.from_file(path)

    assert image.media_type == "image/png" and image.dimensions() == (1500, 1000)
    kb = round(len(path.read_bytes()) / 1024)
    assert image.placeholder() == f"[image/png {kb} KB]" and "data" not in repr(image)
    assert image.estimated_tokens() == 1600  # large images are scaled down by vendors
    assert Image.from_bytes(png(75, 100)).estimated_tokens() == 10
    assert Image.from_bytes(b"\xff\xd8\xff\xe0" + b"0" * 10).media_type == "image/jpeg"


def test_bytes_that_are_not_an_image_are_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")

    with pytest.raises(ValueError, match=r"notes\.txt is not a PNG, JPEG, GIF or WebP image"):
        Image.from_file(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="needs its bytes"):
        Image(data=b"", media_type="image/png")


def test_user_content_is_text_an_image_or_a_list_of_both() -> None:
    image = Image.from_bytes(png())

    message = user_message(["Why is this", image, "bimodal?"])

    assert message == Message.user("Why is this\n\nbimodal?", [image])
    assert user_message(image) == Message.user("", [image])
    with pytest.raises(TypeError, match="may hold only str and Image items, not int"):
        user_message(["text", 3])  # type: ignore[list-item]


def test_tool_return_values_keep_their_images() -> None:
    image = Image.from_bytes(png())

    assert to_outcome(image) == ToolOutcome("[image/png 1 KB]", images=(image,))
    assert to_outcome(["made a plot", image]) == ToolOutcome(
        "made a plot\n[image/png 1 KB]", images=(image,)
    )
    assert to_outcome({"n": 1}) == ToolOutcome('{"n": 1}')


async def test_an_image_reaches_the_model_and_is_stored_with_its_thread(
    tmp_path: Path,
) -> None:
    attached, plotted = Image.from_bytes(png(8, 8)), Image.from_bytes(png(16, 16))

    @tool
    def plot() -> Image:
        """Draw the chart."""
        return plotted

    recorder = Recorder()
    model = ScriptedModel([ToolCall("plot", {}, id="p1"), "It is bimodal."])
    checkpointer = SqliteCheckpointer(tmp_path / "threads.db")
    agent = create_deep_agent(
        model=model, tools=[plot], checkpointer=checkpointer, event_broadcasters=[recorder]
    )

    await agent.ahandle_message(["Why is this bimodal?", attached])

    first, second = model.requests
    assert first.messages[-1].images == (attached,)
    tool_message = second.messages[-1]
    assert tool_message.role == "tool" and tool_message.images == (plotted,)
    assert tool_message.content == "[image/png 1 KB]"

    reloaded = create_deep_agent(model=ScriptedModel([]), checkpointer=checkpointer)
    state = await reloaded.aget_state()
    assert [m.images for m in state.messages if m.images] == [(attached,), (plotted,)]
    await checkpointer.close()

    # Events name images; their bytes never reach a broadcaster.
    await agent.dispatcher.flush()
    dumped = "".join(event.model_dump_json() for event in recorder.events)
    assert "[image/png 1 KB]" in dumped and "iVBOR" not in dumped


async def test_a_list_of_other_things_is_a_configuration_error() -> None:
    agent = create_deep_agent(model=ScriptedModel([]), checkpointer=InMemoryCheckpointer())

    with pytest.raises(ConfigurationError, match="the message must be a str, an Image"):
        await agent.ahandle_message(42)  # type: ignore[arg-type]


def test_the_token_estimate_counts_images() -> None:
    text_only = Message.user("x" * 400)
    with_image = Message.user("x" * 400, [Image.from_bytes(png(750, 100))])

    assert estimate_tokens([with_image]) == estimate_tokens([text_only]) + 100


async def test_read_file_shows_an_image_in_a_real_directory(tmp_path: Path) -> None:
    from deepagents_nb import DirectoryBackend

    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "hist.png").write_bytes(png(20, 10))
    (tmp_path / "fake.png").write_text("not an image")
    model = ScriptedModel(
        [
            [
                ToolCall("read_file", {"file_path": "/charts/hist.png"}, id="img"),
                ToolCall("read_file", {"file_path": "/fake.png"}, id="txt"),
            ],
            "Seen.",
        ]
    )
    agent = create_deep_agent(model=model, filesystem=DirectoryBackend(tmp_path))

    result = await agent.ahandle_message("Look at the chart")

    image_message, text_message = (m for m in result.messages if m.role == "tool")
    assert image_message.images == (Image.from_bytes(png(20, 10)),)
    assert image_message.content == "[image/png 1 KB]"
    assert not text_message.images and "not an image" in text_message.content
