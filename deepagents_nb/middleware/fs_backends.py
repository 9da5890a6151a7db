"""Where the filesystem tools keep files: in the agent's state, or in a real directory.

Both backends take the same normalised paths (`/notes/todo.md`) and raise
`FileToolError` with a message written for the model, so it can correct itself.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import posixpath
from pathlib import Path
from typing import Protocol, runtime_checkable

from deepagents_nb.context import ToolContext
from deepagents_nb.exceptions import ToolExecutionError


class FileToolError(ToolExecutionError):
    """A file operation failed; the message is shown to the model as the tool's error."""


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


class DirectoryBackend:
    """Files live in a real directory, and never outside it.

    Every path resolves inside `root`; a symlink pointing out of it is refused.
    Reads and writes run in a worker thread so the event loop never blocks.

        create_deep_agent(model=..., filesystem=DirectoryBackend("workspace"))
    """

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        root_path = Path(root)
        if create:
            root_path.mkdir(parents=True, exist_ok=True)
        if not root_path.is_dir():
            raise FileToolError(f"{root_path} is not a directory")
        self.root = root_path.resolve()

    def __repr__(self) -> str:
        return f"DirectoryBackend({str(self.root)!r})"

    def _real(self, path: str) -> Path:
        real = (self.root / path.lstrip("/")).resolve()
        if real != self.root and self.root not in real.parents:
            raise FileToolError(f"The path {path!r} leads outside the workspace; it is refused.")
        return real

    def _list(self) -> list[str]:
        found = []
        for directory, dirnames, filenames in os.walk(self.root):
            # Do not follow directory symlinks: they may lead out of the root.
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(directory, d))]
            for name in filenames:
                full = Path(directory, name)
                try:
                    self._real("/" + full.relative_to(self.root).as_posix())
                except FileToolError:
                    continue
                found.append("/" + full.relative_to(self.root).as_posix())
        return sorted(found)

    def _read(self, path: str) -> str | None:
        real = self._real(path)
        if not real.is_file():
            return None
        try:
            return real.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise FileToolError(f"{path} is not UTF-8 text; it cannot be read as text.") from exc

    def _write(self, path: str, content: str) -> None:
        real = self._real(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(content, encoding="utf-8")

    async def list_files(self, ctx: ToolContext) -> list[str]:
        return await asyncio.to_thread(self._list)

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        return await asyncio.to_thread(self._read, path)

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        await asyncio.to_thread(self._write, path, content)


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
