"""Memory: files whose text the agent reads in its system prompt, and keeps up to date.

    memory = MemoryMiddleware(["AGENTS.md", "~/.deepagents/USER.md"])
    agent = create_deep_agent(model=..., middleware=[memory])

Each file's text is in the system prompt under a heading naming it, read again
at the start of every run, so an edit made between runs shows in the next one.
The agent changes a memory file with `edit_file` or `write_file` on
`/memories/<name>`: the change is written back to the real file (through
`DirectoryBackend`, so never through a link or outside its folder), and by
default only once a person approves it, looking at the diff.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.hitl import HitlPolicy, as_policy
from deepagents_nb.messages import ToolCall
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.directory_backend import DirectoryBackend
from deepagents_nb.middleware.fs_backends import (
    FileBackend,
    FileToolError,
    LineWindow,
    normalize_path,
)
from deepagents_nb.middleware.routes import relocating
from deepagents_nb.models.base import ModelRequest

MEMORY_DIR = "/memories"
MAX_MEMORY_CHARS = 20_000
"""How much of one memory file goes into the prompt; the model can read the rest."""
WRITERS = frozenset({"edit_file", "write_file"})

MemoryPath: TypeAlias = "str | os.PathLike[str]"
MemorySpec: TypeAlias = "MemoryPath | Iterable[MemoryPath] | Mapping[str, MemoryPath]"


def memory_files(files: MemorySpec) -> dict[str, Path]:
    """The memory files by the name the agent sees them under (`/memories/<name>`).

    `files` is a path, a list of paths (each named by its file name), or a mapping
    of names to paths (to give two `AGENTS.md` files different names). A file may
    be missing (the agent can create it); its folder must exist.

    Raises:
        ConfigurationError: no files, a folder that does not exist, a name that is
            not a plain file name, or two files with one name.
    """
    if isinstance(files, str | os.PathLike):
        items: list[tuple[str | None, MemoryPath]] = [(None, files)]
    elif isinstance(files, Mapping):
        items = [(str(name), path) for name, path in files.items()]
    else:
        items = [(None, path) for path in files]
    if not items:
        raise ConfigurationError("memory needs at least one file, e.g. memory=['AGENTS.md']")
    named: dict[str, Path] = {}
    for name, given in items:
        path = Path(given).expanduser()
        name = path.name if name is None else name
        # A link is followed once, here: reads and writes then go to the file it names.
        real = path.resolve()
        if not _plain_name(name):
            raise ConfigurationError(
                f"memory file {given}: {name!r} cannot be its name under {MEMORY_DIR}/; "
                f"use a plain file name such as 'AGENTS.md'"
            )
        if not _plain_name(real.name):
            raise ConfigurationError(f"memory file {real}: its name cannot be used as a path")
        if not real.parent.is_dir():
            raise ConfigurationError(
                f"memory file {given}: its folder {real.parent} does not exist"
            )
        if real.is_dir():
            raise ConfigurationError(f"memory file {given}: {real} is a folder, not a file")
        if name in named:
            raise ConfigurationError(
                f"two memory files are named {name!r} ({named[name]} and {real}); name them "
                f"with a mapping, e.g. memory={{'user.md': '~/AGENTS.md', 'AGENTS.md': "
                f"'AGENTS.md'}}"
            )
        named[name] = real
    return named


def _plain_name(name: str) -> bool:
    if not name or not name.isprintable() or "/" in name:
        return False
    try:
        return normalize_path("/" + name) == "/" + name
    except FileToolError:  # ".."
        return False


class MemoryBackend:
    """The memory files as a file backend: `/AGENTS.md` is the real file it names.

    Only the memory files exist here; with `approval`, a write happens only in a
    call a person approved. Error messages name the `/memories/` paths.
    """

    def __init__(self, files: Mapping[str, Path], *, approval: bool = True) -> None:
        folders: dict[Path, DirectoryBackend] = {}
        self._files: dict[str, tuple[DirectoryBackend, str]] = {}
        for name, path in files.items():
            if path.parent not in folders:
                folders[path.parent] = DirectoryBackend(path.parent, create=False)
            self._files["/" + name] = (folders[path.parent], "/" + path.name)
        self.approval = approval

    def __repr__(self) -> str:
        return f"MemoryBackend({sorted(self._files)})"

    def _find(self, path: str) -> tuple[DirectoryBackend, str]:
        found = self._files.get(path)
        if found is None:
            names = ", ".join(MEMORY_DIR + p for p in self._files)
            raise FileToolError(
                f"{MEMORY_DIR}{path} is not a memory file; the memory files are {names}. "
                f"Keep other notes outside {MEMORY_DIR}/."
            )
        return found

    async def list_files(self, ctx: ToolContext) -> list[str]:
        found = []
        for path, (folder, inner) in self._files.items():
            try:
                if await folder.read_lines(ctx, inner, 0, 1, 1) is None:
                    continue
            except FileToolError:
                pass  # there, but unreadable: read_file will say why
            found.append(path)
        return found

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        if path not in self._files:
            return None
        folder, inner = self._files[path]
        with relocating(inner, MEMORY_DIR + path):
            return await folder.read(ctx, inner)

    async def read_lines(
        self, ctx: ToolContext, path: str, offset: int, limit: int, max_line_chars: int = 2000
    ) -> LineWindow | None:
        """Some lines of a memory file, read only as far as they go."""
        if path not in self._files:
            return None
        folder, inner = self._files[path]
        with relocating(inner, MEMORY_DIR + path):
            return await folder.read_lines(ctx, inner, offset, limit, max_line_chars)

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        folder, inner = self._find(path)
        # The gate stops these calls for approval; this holds even where no gate is set.
        if self.approval and ctx.approved is None:
            raise FileToolError(
                f"{MEMORY_DIR}{path} changes only with the user's approval, which this call "
                f"does not have, so nothing was written. Tell the user what you would change."
            )
        with relocating(inner, MEMORY_DIR + path):
            await folder.write(ctx, inner, content)


@dataclass
class _RunMemory:
    """One run's memory text, and the last system prompt it was put into."""

    text: str
    given: str | None = None
    made: str = ""


class MemoryMiddleware(Middleware):
    """Memory files in the system prompt, re-read each run, editable under `/memories/`.

    Args:
        files: A path, a list of paths, or a mapping of names to paths (see
            `memory_files`). A missing file shows as empty; the agent may create it.
        approval: Whether a person approves each change before it is written
            (`True`, the default), `False`, or a `HitlPolicy` with a note.
        max_chars: How much of each file goes into the prompt.
    """

    name = "memory"

    def __init__(
        self,
        files: MemorySpec,
        *,
        approval: HitlPolicy | bool = True,
        max_chars: int = MAX_MEMORY_CHARS,
    ) -> None:
        if max_chars < 1:
            raise ConfigurationError(f"max_chars must be at least 1, got {max_chars}")
        self.files = memory_files(files)
        policy = as_policy(approval)
        self.approval = not policy.allow_auto
        self._policies = {
            f"{MEMORY_DIR}/{name}": HitlPolicy(note=policy.note or f"writes the memory file {path}")
            for name, path in self.files.items()
            if self.approval
        }
        self.backend = MemoryBackend(self.files, approval=self.approval)
        self.max_chars = max_chars
        self._guide = _guide(list(self.files), self.approval)
        self._key = f"memory:{id(self)}"

    def __repr__(self) -> str:
        return f"MemoryMiddleware({[str(p) for p in self.files.values()]})"

    def file_routes(self) -> Mapping[str, FileBackend]:
        """`/memories/`, where the agent reads and edits the memory files."""
        return {MEMORY_DIR: self.backend}

    def system_prompt(self) -> str:
        return self._guide

    def approval_policy(self, call: ToolCall) -> HitlPolicy | None:
        """A write to a memory file waits for approval (unless `approval=False`)."""
        if call.name not in WRITERS or not self._policies or not isinstance(call.args, dict):
            return None
        args: dict[str, Any] = call.args
        raw = args.get("file_path")
        try:
            path = normalize_path(raw) if isinstance(raw, str) else None
        except FileToolError:
            return None  # the tool refuses this path too: nothing to approve
        return self._policies.get(path) if path else None

    async def before_model(self, request: ModelRequest, run: RunContext) -> ModelRequest:
        """Put the memory text, read once per run, under the memory section of the prompt."""
        memo = run.metadata.get(self._key)
        if not isinstance(memo, _RunMemory):
            memo = _RunMemory(await self._read(run))
            run.metadata[self._key] = memo
        system = request.system or ""
        if memo.given is not system:  # usually the agent's one prompt: done once a run
            at = system.find(self._guide)
            if at < 0:  # another hook rewrote the prompt: add the section at its end
                memo.made = "\n\n".join(s for s in (system, self._guide, memo.text) if s)
            else:
                end = at + len(self._guide)
                memo.made = f"{system[:end]}\n\n{memo.text}{system[end:]}"
            memo.given = system
        request.system = memo.made
        return request

    async def _read(self, run: RunContext) -> str:
        ctx = ToolContext(run=run, call_id="memory")
        sections = await asyncio.gather(*(self._section(ctx, name) for name in self.files))
        return "\n\n".join(sections)

    async def _section(self, ctx: ToolContext, name: str) -> str:
        path = f"{MEMORY_DIR}/{name}"
        try:
            content = await self.backend.read(ctx, "/" + name)
        except FileToolError as exc:
            body = f"(could not be read: {exc})"
        else:
            if content is None:
                body = f"(this file does not exist yet; write_file on {path} creates it)"
            elif not content.strip():
                body = "(empty)"
            elif len(content) > self.max_chars:
                body = (
                    f"{content[: self.max_chars]}\n[... {len(content) - self.max_chars} more "
                    f"characters not shown; read_file {path} shows them]"
                )
            else:
                body = content.rstrip("\n")
        return f"### {name} ({path})\n\n{body}"


def _guide(names: list[str], approval: bool) -> str:
    listed = ", ".join(f"{MEMORY_DIR}/{name}" for name in names)
    approved = " Each change waits for the user's approval before it is saved." if approval else ""
    return (
        "## Memory\n\n"
        "Your memory files carry what should not have to be said twice from one "
        "conversation to the next: the user's preferences, facts about the work, lessons "
        "learned. Their text as it was when this run started follows, under a heading "
        "naming each. When you learn something worth keeping, or find something in them "
        "wrong or out of date, change the file with edit_file on its path (write_file "
        f"creates one that does not exist yet), and keep them short: {listed}.{approved}"
    )
