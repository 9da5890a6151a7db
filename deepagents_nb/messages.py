"""Chat messages exchanged between the agent, the model and tools."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic.dataclasses import dataclass

Role = Literal["system", "user", "assistant", "tool"]
MediaType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]
MEDIA_TYPES: tuple[MediaType, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp")
_SIGNATURES: dict[bytes, MediaType] = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def new_call_id() -> str:
    """A fresh tool-call id, for models that do not give one."""
    return f"call_{uuid.uuid4().hex[:24]}"


# Messages and tool calls are slotted pydantic dataclasses rather than BaseModels: they
# are validated the same way, but an instance is ~100 bytes instead of ~1 KB (no
# per-instance __dict__ or fields-set), and a thread keeps every message it ever had.


def sniff_media_type(data: bytes) -> MediaType | None:
    """The image type `data` starts like (PNG, JPEG, GIF, WebP), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((t for sig, t in _SIGNATURES.items() if data.startswith(sig)), None)


# Stored and sent as base64 in JSON; in memory, the raw bytes.
_BASE64 = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")


@dataclass(frozen=True, slots=True, config=_BASE64)
class Image:
    """An image in a message: a user's attachment, or what a tool showed (a plot).

        agent.handle_message(["Why is this bimodal?", Image.from_file("hist.png")])

    Events and previews show a placeholder (`[image/png 14 KB]`), never the bytes.
    """

    data: bytes = Field(repr=False)
    media_type: MediaType = "image/png"

    @field_validator("data")
    @classmethod
    def _not_empty(cls, data: bytes) -> bytes:
        if not data:
            raise ValueError("an image needs its bytes; these are empty")
        return data

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], media_type: MediaType | None = None) -> Image:
        """Read a PNG, JPEG, GIF or WebP file (its type from its first bytes)."""
        return cls.from_bytes(Path(path).read_bytes(), media_type, source=os.fspath(path))

    @classmethod
    def from_bytes(
        cls, data: bytes, media_type: MediaType | None = None, *, source: str = "the data"
    ) -> Image:
        """An image from its bytes; the type is read from them unless given.

        Raises:
            ValueError: the bytes are not a PNG, JPEG, GIF or WebP image.
        """
        found = media_type or sniff_media_type(data)
        if found is None:
            raise ValueError(
                f"{source} is not a PNG, JPEG, GIF or WebP image (its first bytes: {data[:8]!r})"
            )
        return cls(data=data, media_type=found)

    @classmethod
    def from_figure(cls, figure: Any, *, dpi: int = 100) -> Image:
        """A matplotlib figure as a PNG (anything with `savefig(file, format="png")`)."""
        import io

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return cls(data=buffer.getvalue(), media_type="image/png")

    @property
    def size_kb(self) -> int:
        """Its size in KB, at least 1."""
        return max(1, round(len(self.data) / 1024))

    def placeholder(self) -> str:
        """What stands for the image in text: `[image/png 14 KB]`."""
        return f"[{self.media_type} {self.size_kb} KB]"

    def dimensions(self) -> tuple[int, int] | None:
        """Width and height read from a PNG or GIF header (None for other types)."""
        if self.media_type == "image/png" and len(self.data) >= 24:
            return int.from_bytes(self.data[16:20], "big"), int.from_bytes(self.data[20:24], "big")
        if self.media_type == "image/gif" and len(self.data) >= 10:
            return (
                int.from_bytes(self.data[6:8], "little"),
                int.from_bytes(self.data[8:10], "little"),
            )
        return None

    def estimated_tokens(self) -> int:
        """About what a vendor bills for it: width x height / 750 (Anthropic's rule,
        close to OpenAI's tiles), at most 1,600 as vendors scale large images down;
        1,000 when the size cannot be read from the header."""
        size = self.dimensions()
        if size is None:
            return 1000
        return max(1, min(1600, size[0] * size[1] // 750))

    def _repr_png_(self) -> bytes | None:
        return self.data if self.media_type == "image/png" else None

    def _repr_jpeg_(self) -> bytes | None:
        return self.data if self.media_type == "image/jpeg" else None


UserContent = str | Image | Sequence[str | Image]
"""What a user sends: text, an image, or a list of both (`["Why?", Image.from_file(p)]`)."""


def user_message(content: UserContent) -> Message:
    """The user's `Message` for `content`: its texts joined by blank lines, its images kept.

    Raises:
        TypeError: `content` holds something other than text and `Image`s.
    """
    if isinstance(content, str):
        return Message.user(content)
    items: Sequence[Any] = (content,) if isinstance(content, Image) else content
    if not isinstance(items, Sequence) or isinstance(items, bytes | bytearray):
        raise TypeError(
            f"the message must be a str, an Image or a list of them, got {type(content).__name__}"
        )
    wrong = [type(item).__name__ for item in items if not isinstance(item, str | Image)]
    if wrong:
        raise TypeError(
            f"a message list may hold only str and Image items, not {', '.join(wrong)} "
            f"(for a figure: Image.from_bytes(png_bytes), or %%agent --attach fig)"
        )
    text = "\n\n".join(item for item in items if isinstance(item, str))
    return Message.user(text, [item for item in items if isinstance(item, Image)])


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to run one tool.

    `args` is normally a dict. A model that produced text that is not a JSON
    object leaves it as the raw string, so the agent can tell the model exactly
    what was wrong instead of crashing.
    """

    name: str
    args: dict[str, Any] | str = Field(default_factory=dict)
    id: str = Field(default_factory=new_call_id)

    def parsed_args(self) -> dict[str, Any]:
        """The arguments as a dict; raises `ValueError` with a readable reason otherwise."""
        if isinstance(self.args, dict):
            return self.args
        try:
            value = json.loads(self.args) if self.args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
            ) from exc
        if not isinstance(value, dict):
            raise ValueError(f"arguments must be a JSON object, got {type(value).__name__}")
        return value


def _is_empty(value: tuple[Any, ...]) -> bool:
    return not value


_REPR_FIELDS = ("role", "content", "tool_calls", "tool_call_id", "name", "is_error", "metadata")


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Assistant messages may carry `tool_calls`; tool messages answer one call
    (`tool_call_id`) and say whether the tool failed (`is_error`). `metadata` is
    provider- or middleware-specific data (None when there is none). `images` are
    attachments (a user's picture, a tool's plot), sent in each vendor's form. Messages are
    frozen: a thread's history is shared between steps and checkpoints without
    copies; `dataclasses.replace(message, content=...)` makes a changed one.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    metadata: dict[str, Any] | None = None
    # Left out of the JSON when empty: text-only messages store as they always have.
    images: tuple[Image, ...] = Field(default=(), exclude_if=_is_empty)

    def __repr__(self) -> str:
        # `images` only when there are some: text-only messages read as they always have.
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _REPR_FIELDS)
        images = f", images={self.images!r}" if self.images else ""
        return f"Message({shown}{images})"

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str, images: Sequence[Image] = ()) -> Message:
        return cls(role="user", content=content, images=tuple(images))

    @classmethod
    def assistant(cls, content: str = "", tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls(role="assistant", content=content, tool_calls=tuple(tool_calls))

    @classmethod
    def tool(
        cls,
        call_id: str,
        name: str,
        content: str,
        *,
        is_error: bool = False,
        images: Sequence[Image] = (),
    ) -> Message:
        return cls(
            role="tool",
            content=content,
            tool_call_id=call_id,
            name=name,
            is_error=is_error,
            images=tuple(images),
        )

    @property
    def text(self) -> str:
        """The message's text (alias of `content`)."""
        return self.content

    def __str__(self) -> str:
        parts = [f"{self.role}:", self.content, *(i.placeholder() for i in self.images)]
        if self.tool_calls:
            parts.append(
                "[calls " + ", ".join(f"{c.name}({c.args})" for c in self.tool_calls) + "]"
            )
        return " ".join(p for p in parts if p)
