"""What a cell produced, as the model reads it: text, images, an error.

Both kernels feed the same `OutputCollector`: the isolated kernel its IOPub
messages, the live kernel its captured streams and display bundles. The
collector keeps outputs in order, turns each display into text or an image,
names and skips what the model cannot read, and cuts the text to a limit.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deepagents_nb.messages import MediaType

MAX_OUTPUT_CHARS = 20_000
MAX_TRACEBACK_LINES = 40
MAX_IMAGES = 8
IMAGE_TYPES: tuple[MediaType, ...] = ("image/png", "image/jpeg")
# Text a model can read as it is, in order of preference, when a display has no text/plain.
_READABLE_TEXT = ("text/markdown", "text/latex", "application/json")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    """`text` without terminal colour and cursor codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class KernelImage:
    """An image a cell displayed; `data` and `media_type` as a core `Image` part takes them."""

    data: bytes
    media_type: MediaType
    label: str

    def placeholder(self) -> str:
        """What stands for the image in text: `[image/png 14 KB: image 1]`."""
        kb = max(1, round(len(self.data) / 1024))
        return f"[{self.media_type} {kb} KB: {self.label}]"


@dataclass(frozen=True)
class CellError:
    """An exception raised by a cell: its type name, message and a trimmed traceback."""

    name: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class CellResult:
    """Everything one cell produced.

    `text` is what the model reads (image placeholders included, cut to the
    limit); `images` hold the bytes, in the order their placeholders appear.
    `parts` interleaves the two, ready to become message content parts.
    """

    text: str
    images: tuple[KernelImage, ...] = ()
    error: CellError | None = None
    timed_out: bool = False
    kernel_lost: bool = False
    skipped: tuple[str, ...] = ()
    parts: tuple[str | KernelImage, ...] = field(default=(), repr=False)

    @property
    def is_error(self) -> bool:
        """Whether the model should read this as a failed call."""
        return self.error is not None or self.timed_out or self.kernel_lost


def frame_text(obj: Any, max_rows: int = 20, max_cols: int = 20) -> str | None:
    """A DataFrame as its shape plus a compact table; None for anything else.

    Duck-typed so neither the core nor this module imports pandas.
    """
    if not all(hasattr(obj, attr) for attr in ("shape", "to_string", "dtypes", "columns")):
        return None
    shape = getattr(obj, "shape", ())
    if not isinstance(shape, tuple) or len(shape) != 2:
        return None
    rows, cols = shape
    table = obj.to_string(max_rows=max_rows, max_cols=max_cols, max_colwidth=40)
    return f"DataFrame: {rows} rows \u00d7 {cols} columns\n{table}"


def cut(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, keeping its start and its end (errors, results)."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    removed = len(text) - head - tail
    return f"{text[:head]}\n... [{removed:,} of {len(text):,} characters cut] ...\n{text[-tail:]}"


def trim_traceback(lines: list[str] | str, max_lines: int = MAX_TRACEBACK_LINES) -> str:
    """A traceback without colour codes, its last `max_lines` lines kept (the raising frame)."""
    text = "\n".join(lines) if isinstance(lines, list) else lines
    # IPython opens its tracebacks with a line of dashes: no news for a model.
    out = [line for line in strip_ansi(text).rstrip().splitlines() if set(line) != {"-"}]
    if len(out) > max_lines:
        out = [f"... [{len(out) - max_lines} traceback lines cut]", *out[-max_lines:]]
    return "\n".join(out)


def _collapse_carriage_returns(text: str) -> str:
    # Progress bars redraw a line with '\r': the model needs only its last state.
    if "\r" not in text:
        return text
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


class OutputCollector:
    """Collects one cell's outputs in order and renders the `CellResult`."""

    def __init__(self, max_chars: int = MAX_OUTPUT_CHARS, max_images: int = MAX_IMAGES) -> None:
        self.max_chars = max_chars
        self.max_images = max_images
        self._items: list[tuple[str, str | KernelImage]] = []
        self._skipped: list[str] = []
        self._images_seen = 0
        self.error: CellError | None = None
        self.notes: list[str] = []

    # ----- feeding ----------------------------------------------------------------------------

    def stream(self, name: str, text: str) -> None:
        """Text written to stdout or stderr."""
        if not text:
            return
        kind = "stderr" if name == "stderr" else "stdout"
        if self._items and self._items[-1][0] == kind:
            previous = self._items[-1][1]
            assert isinstance(previous, str)
            self._items[-1] = (kind, previous + text)
        else:
            self._items.append((kind, text))

    def display(self, data: Mapping[str, Any], *, result: bool = False) -> None:
        """A rich output (mime type -> data); `result` for the last expression's value."""
        image_type = next((t for t in IMAGE_TYPES if t in data), None)
        chosen: str | None = image_type
        if image_type is not None:
            self._image(image_type, data[image_type])
        elif "text/plain" in data:
            chosen = "text/plain"
            text = strip_ansi(str(data["text/plain"]))
            self._items.append(("result" if result else "display", text))
        else:
            chosen = next((t for t in _READABLE_TEXT if t in data), None)
            if chosen is not None:
                self._items.append(("display", str(data[chosen])))
        for mime in data:
            textual = mime.startswith("text/") or mime in _READABLE_TEXT or mime in IMAGE_TYPES
            # Name what was dropped: binary types (widgets, PDFs, GIFs) always, text
            # alternatives (HTML) only when nothing else told the model what was shown.
            if mime != chosen and (not textual or chosen is None):
                self._skip(mime)

    def fail(self, name: str, message: str, traceback: list[str] | str = "") -> None:
        """The cell raised."""
        self.error = CellError(name, message, trim_traceback(traceback))

    def clear(self) -> None:
        """`clear_output()`: drop what was shown so far (progress displays redraw this way)."""
        self._items = [item for item in self._items if item[0] == "stderr"]

    def message(self, msg_type: str, content: Mapping[str, Any]) -> None:
        """One IOPub message of the cell, as jupyter_client delivers it."""
        if msg_type == "stream":
            self.stream(str(content.get("name", "stdout")), str(content.get("text", "")))
        elif msg_type == "execute_result":
            self.display(content.get("data", {}), result=True)
        elif msg_type == "display_data":
            self.display(content.get("data", {}))
        elif msg_type == "error":
            self.fail(
                str(content.get("ename", "Error")),
                str(content.get("evalue", "")),
                list(content.get("traceback", [])),
            )
        elif msg_type == "clear_output":
            self.clear()

    def _image(self, media_type: MediaType, payload: Any) -> None:
        self._images_seen += 1
        if self._images_seen > self.max_images:
            self.notes.append(f"image {self._images_seen} ({media_type}) not shown")
            return
        if isinstance(payload, str):  # over the wire, binary data is base64 text
            try:
                data = base64.b64decode(payload)
            except ValueError:
                self._skip(f"{media_type} (not valid base64)")
                return
        elif isinstance(payload, bytes | bytearray):
            data = bytes(payload)
        else:
            self._skip(media_type)
            return
        label = f"image {self._images_seen}"
        self._items.append(("image", KernelImage(data, media_type, label)))

    def _skip(self, mime: str) -> None:
        if mime not in self._skipped:
            self._skipped.append(mime)

    # ----- rendering --------------------------------------------------------------------------

    def result(
        self, *, timed_out: bool = False, kernel_lost: bool = False, status: str = ""
    ) -> CellResult:
        """The `CellResult`: outputs in order, then the error, then notes; cut to the limit."""
        blocks: list[str | KernelImage] = []
        images: list[KernelImage] = []
        for kind, value in self._items:
            if isinstance(value, KernelImage):
                images.append(value)
                blocks.append(value)
            elif kind == "stderr":
                blocks.append("[stderr]\n" + _collapse_carriage_returns(strip_ansi(value)))
            elif kind == "result":
                blocks.append("Out: " + value)
            else:
                blocks.append(_collapse_carriage_returns(strip_ansi(value)))
        if self.error is not None:
            # IPython's traceback ends with "Name: message" itself; without one, say it here.
            err = self.error
            blocks.append(
                err.traceback or (f"{err.name}: {err.message}" if err.message else err.name)
            )
        if self._skipped:
            blocks.append(
                f"[outputs not shown: {', '.join(self._skipped)}; only text and "
                f"PNG/JPEG images reach you]"
            )
        blocks.extend(f"[{note}]" for note in self.notes)
        if status:
            blocks.append(status)
        blocks = [b if isinstance(b, KernelImage) else b.rstrip("\n") for b in blocks]
        joined = "\n".join(b.placeholder() if isinstance(b, KernelImage) else b for b in blocks)
        text = cut(joined, self.max_chars) if blocks else "(no output)"
        # Cut text no longer lines up with the images: then the text, and the images after it.
        parts: tuple[str | KernelImage, ...] = _parts(blocks) if text == joined else (text, *images)
        return CellResult(
            text=text,
            images=tuple(images),
            error=self.error,
            timed_out=timed_out,
            kernel_lost=kernel_lost,
            skipped=tuple(self._skipped),
            parts=parts,
        )


def _parts(blocks: list[str | KernelImage]) -> tuple[str | KernelImage, ...]:
    parts: list[str | KernelImage] = []
    for block in blocks:
        if isinstance(block, str) and parts and isinstance(parts[-1], str):
            parts[-1] = f"{parts[-1]}\n{block}"
        else:
            parts.append(block)
    return tuple(parts)
