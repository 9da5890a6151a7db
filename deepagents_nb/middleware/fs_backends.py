"""Where the filesystem tools keep files: in the agent's state, or in a real directory.

Both backends take the same normalised paths (`/notes/todo.md`) and raise
`FileToolError` with a message written for the model, so it can correct itself.
`DirectoryBackend` lives in `directory_backend` and is re-exported here.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from deepagents_nb.context import ToolContext
from deepagents_nb.exceptions import ToolExecutionError

if TYPE_CHECKING:
    from deepagents_nb.middleware.directory_backend import DirectoryBackend

__all__ = [
    "DirectoryBackend",
    "FileBackend",
    "FileToolError",
    "FileTooLargeError",
    "LineReader",
    "LineWindow",
    "NotTextError",
    "StateBackend",
    "TextScan",
    "UnsupportedFileError",
    "describe_skipped",
    "glob_match",
    "is_under",
    "normalize_path",
    "read_window",
    "window_of",
]


class FileToolError(ToolExecutionError):
    """A file operation failed; the message is shown to the model as the tool's error."""

    skip_note = "could not be read"
    """How a search that skips such a file describes it."""


class NotTextError(FileToolError):
    """The file's bytes are not UTF-8 text."""

    skip_note = "not UTF-8 text"


class FileTooLargeError(FileToolError):
    """The file is over the backend's limit for reading it whole."""

    skip_note = "over the size limit"


class UnsupportedFileError(FileToolError):
    """A symbolic link, hard link, directory or special file (FIFO, socket, device)."""

    skip_note = "links or special files"


def normalize_path(path: str) -> str:
    """An absolute, normalised virtual path; refuses NUL bytes and `..` escapes.

    >>> normalize_path("notes//a.md")
    '/notes/a.md'
    """
    if not isinstance(path, str) or not path.strip():
        raise FileToolError("The path is empty; give a path such as /notes.md.")
    if "\x00" in path:
        raise FileToolError("The path contains a NUL byte, which no file name may contain.")
    path = path.strip().replace("\\", "/")
    if ".." in path.split("/"):
        raise FileToolError(f"The path {path!r} uses '..'; give a path from the root instead.")
    normalized = posixpath.normpath("/" + path.lstrip("/"))
    return "/" if normalized == "//" else normalized


def is_under(path: str, directory: str) -> bool:
    """Whether normalised `path` is `directory` or inside it."""
    return directory == "/" or path == directory or path.startswith(directory.rstrip("/") + "/")


@runtime_checkable
class FileBackend(Protocol):
    """Storage behind the filesystem tools. Paths are already normalised."""

    async def list_files(self, ctx: ToolContext) -> list[str]: ...

    async def read(self, ctx: ToolContext, path: str) -> str | None: ...

    async def write(self, ctx: ToolContext, path: str, content: str) -> None: ...


class StateBackend:
    """Files live in the thread's state (`state.files`): checkpointed with the thread,
    merged back from sub-agents, gone with the thread. The default."""

    async def list_files(self, ctx: ToolContext) -> list[str]:
        files = set(ctx.state.files)
        for path, content in ctx.update.files.items():
            if content is None:
                files.discard(path)
            else:
                files.add(path)
        return sorted(files)

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        return ctx.read_file(path)

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        ctx.write_file(path, content)


@dataclass(frozen=True)
class LineWindow:
    """Lines `offset` to `offset + limit` of a file, without their line endings.

    Each line holds at most `max_line_chars + 1` characters, so a caller can tell
    which lines were cut. `line_count` is the number of lines in the whole file
    when the read reached its end, else None (0 means the file is empty).
    """

    lines: list[str]
    line_count: int | None


@runtime_checkable
class LineReader(Protocol):
    """Optional backend method: read some lines without loading the whole file."""

    async def read_lines(
        self, ctx: ToolContext, path: str, offset: int, limit: int, max_line_chars: int
    ) -> LineWindow | None: ...


@runtime_checkable
class BytesReader(Protocol):
    """Optional backend method: a file's raw bytes (images on a real directory)."""

    async def read_bytes(self, ctx: ToolContext, path: str) -> bytes | None: ...


async def read_window(
    backend: FileBackend,
    ctx: ToolContext,
    path: str,
    offset: int,
    limit: int,
    max_line_chars: int = 2000,
) -> LineWindow | None:
    """Lines of `path` as `str.splitlines` splits them; None when there is no such file.

    Uses the backend's `read_lines` when it has one (a large file is then read only
    as far as needed), else its `read`.
    """
    if offset < 0 or limit < 1:
        raise FileToolError("offset must be 0 or more and limit at least 1.")
    if isinstance(backend, LineReader):
        return await backend.read_lines(ctx, path, offset, limit, max_line_chars)
    content = await backend.read(ctx, path)
    return None if content is None else window_of(content, offset, limit, max_line_chars)


def window_of(content: str, offset: int, limit: int, max_line_chars: int = 2000) -> LineWindow:
    """The `LineWindow` of a text already in memory (for backends without `read_lines`)."""
    lines = content.splitlines()
    window = [line[: max_line_chars + 1] for line in lines[offset : offset + limit]]
    return LineWindow(window, len(lines))


@dataclass
class TextScan:
    """Reads files one at a time for a search, counting those it cannot read.

    scan = TextScan()
    async for path, text in scan.read(backend, ctx, paths):
        ...
    scan.note()  # "(skipped 1 file: not UTF-8 text)", or ""
    """

    skipped: Counter[str] = field(default_factory=Counter)

    async def read(
        self, backend: FileBackend, ctx: ToolContext, paths: Iterable[str]
    ) -> AsyncIterator[tuple[str, str]]:
        """Each readable file's path and text; one that fails is counted, not fatal."""
        for path in paths:
            try:
                content = await backend.read(ctx, path)
            except FileToolError as exc:
                self.skipped[exc.skip_note] += 1
                continue
            if content is not None:
                yield path, content

    def note(self) -> str:
        """A line for the model, e.g. "(skipped 2 files: not UTF-8 text)"; '' if none."""
        return describe_skipped(self.skipped)


def describe_skipped(skipped: Counter[str], noun: str = "file") -> str:
    """`(skipped 2 files: not UTF-8 text; 1 file: over the size limit)`, or '' if none.

    `noun` is "file" or "entry" (a listing also skips links and directories).
    """
    plural = {"file": "files", "entry": "entries"}.get(noun, noun + "s")
    parts = [
        f"{n} {noun if n == 1 else plural}: {reason}" for reason, n in sorted(skipped.items()) if n
    ]
    return f"(skipped {'; '.join(parts)})" if parts else ""


def __getattr__(name: str) -> Any:
    # Lazy, because directory_backend imports the errors above from this module.
    if name == "DirectoryBackend":
        from deepagents_nb.middleware.directory_backend import DirectoryBackend

        return DirectoryBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def glob_match(path: str, pattern: str) -> bool:
    """Shell-style matching where `**` spans directories and `*` does not.

    A pattern without a slash matches file names anywhere (`*.py`).
    """
    if "/" not in pattern:
        return fnmatch.fnmatchcase(posixpath.basename(path), pattern)
    return _match_parts(path.strip("/").split("/"), pattern.strip("/").split("/"))


def _match_parts(parts: list[str], pattern: list[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_parts(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match_parts(parts[1:], rest)
