"""The filesystem tools: `ls`, `read_file`, `write_file`, `edit_file`, `glob`, `grep`.

Files live in the thread's state by default (`StateBackend`); `DirectoryBackend`
maps the same tools onto a real directory, confined to its root.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from deepagents_nb.context import ToolContext
from deepagents_nb.messages import Image, ToolCall, sniff_media_type
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.fs_backends import (
    BytesReader,
    FileBackend,
    FileToolError,
    StateBackend,
    TextScan,
    glob_match,
    is_under,
    normalize_path,
    read_window,
)
from deepagents_nb.tools import Tool, tool

MAX_LINE_LENGTH = 2000
DEFAULT_READ_LIMIT = 2000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")

FILESYSTEM_PROMPT = """## Files

You have a filesystem shared with the user and your sub-agents: `ls` lists files,
`read_file` reads one (with line numbers), `write_file` creates a new file,
`edit_file` changes an existing one by exact string replacement, `glob` finds files
by name pattern and `grep` finds text inside files. Paths start with `/`.
Keep long notes, drafts and results in files rather than in your replies."""


def apply_edit(
    path: str, content: str, old_string: str, new_string: str, replace_all: bool = False
) -> tuple[str, int]:
    """`content` with `old_string` replaced, and how many times; errors a model can act on."""
    if old_string == "":
        raise FileToolError("old_string is empty; give the exact text to replace.")
    if old_string == new_string:
        raise FileToolError("old_string and new_string are the same; nothing to change.")
    count = content.count(old_string)
    if count == 0:
        raise FileToolError(
            f"old_string was not found in {path}. Read the file and copy the text "
            f"exactly, including whitespace."
        )
    if count > 1 and not replace_all:
        raise FileToolError(
            f"old_string occurs {count} times in {path}. Add surrounding text to make "
            f"it unique, or set replace_all to true to replace every occurrence."
        )
    return content.replace(old_string, new_string), count


def unified_diff(path: str, old: str, new: str) -> str:
    """A unified diff of one file, as `diff -u` prints it."""
    import difflib  # only gated edits show a diff: kept out of `import deepagents_nb`

    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a{path}" if old else "/dev/null",
        tofile=f"b{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _numbered(lines: list[str], first: int) -> str:
    """`cat -n` style: right-aligned line numbers, a tab, the line (cut when very long)."""
    out = []
    for number, line in enumerate(lines, first):
        if len(line) > MAX_LINE_LENGTH:
            line = line[:MAX_LINE_LENGTH] + f" ... [line cut at {MAX_LINE_LENGTH} characters]"
        out.append(f"{number:6}\t{line}")
    return "\n".join(out)


class FilesystemMiddleware(Middleware):
    """Adds the six file tools, backed by `backend` (the thread's state by default)."""

    name = "filesystem"

    def __init__(self, backend: FileBackend | None = None) -> None:
        self.backend: FileBackend = backend or StateBackend()
        self._tools = self._build_tools()

    def tools(self) -> Sequence[Tool]:
        return self._tools

    def system_prompt(self) -> str:
        return FILESYSTEM_PROMPT

    async def describe_call(self, call: ToolCall, ctx: ToolContext) -> str | None:
        """For `write_file` and `edit_file`: the change as a unified diff against the file."""
        if call.name not in ("write_file", "edit_file") or not isinstance(call.args, dict):
            return None
        args: dict[str, Any] = call.args
        try:
            path = normalize_path(str(args.get("file_path", "")))
            old = await self.backend.read(ctx, path) or ""
            if call.name == "write_file":
                new = str(args.get("content", ""))
            else:
                new, _ = apply_edit(
                    path,
                    old,
                    str(args.get("old_string", "")),
                    str(args.get("new_string", "")),
                    bool(args.get("replace_all", False)),
                )
        except FileToolError:
            return None  # the call would fail; the approver sees its arguments instead
        return unified_diff(path, old, new)

    async def _require(self, ctx: ToolContext, path: str) -> str:
        content = await self.backend.read(ctx, path)
        if content is None:
            raise FileToolError(
                f"File {path!r} not found. Use ls or glob to see which files exist."
            )
        return content

    def _build_tools(self) -> list[Tool]:
        backend = self.backend

        @tool(inline=True)
        async def ls(ctx: ToolContext, path: str = "/") -> str:
            """List the files in the filesystem, optionally only those under a directory.

            Args:
                path: Directory to list, e.g. /notes. Defaults to the root, which lists every file.
            """
            directory = normalize_path(path)
            files = [p for p in await backend.list_files(ctx) if is_under(p, directory)]
            if not files:
                return f"No files under {directory}."
            return "\n".join(files)

        @tool(inline=True)
        async def read_file(
            file_path: str, ctx: ToolContext, offset: int = 0, limit: int = DEFAULT_READ_LIMIT
        ) -> str | Image:
            """Read a file, with line numbers like `cat -n`; a PNG, JPEG, GIF or WebP image
            in the workspace comes back as the image itself.

            Reads up to 2000 lines from the start by default; for long files pass
            `offset` (the first line to read, counting from 0) and `limit` (how many
            lines). Lines longer than 2000 characters are cut. Read a file before
            editing it.

            Args:
                file_path: Absolute path of the file, e.g. /notes/plan.md.
                offset: Line to start from, counting from 0.
                limit: Maximum number of lines to return.
            """
            path = normalize_path(file_path)
            if path.lower().endswith(IMAGE_SUFFIXES) and isinstance(backend, BytesReader):
                data = await backend.read_bytes(ctx, path)
                if data is not None and sniff_media_type(data) is not None:
                    return Image.from_bytes(data)
            # Only the lines asked for are read: a backend with read_lines streams them.
            window = await read_window(backend, ctx, path, offset, limit, MAX_LINE_LENGTH)
            if window is None:
                raise FileToolError(
                    f"File {path!r} not found. Use ls or glob to see which files exist."
                )
            if window.line_count == 0:
                return f"The file {path} exists but is empty."
            if not window.lines:
                raise FileToolError(
                    f"offset {offset} is past the end of {path}, which has "
                    f"{window.line_count} lines."
                )
            return _numbered(window.lines, offset + 1)

        @tool(inline=True)
        async def write_file(file_path: str, content: str, ctx: ToolContext) -> str:
            """Create a NEW file with the given content.

            This tool never overwrites: if the file already exists it fails, and
            you should use `edit_file` to change it instead.

            Args:
                file_path: Absolute path of the new file, e.g. /report.md.
                content: The whole text of the file.
            """
            path = normalize_path(file_path)
            if path == "/":
                raise FileToolError("'/' is the root directory, not a file name.")
            if await backend.read(ctx, path) is not None:
                raise FileToolError(
                    f"{path} already exists and write_file never overwrites. Use edit_file to "
                    f"change it, or write to a new path."
                )
            await backend.write(ctx, path, content)
            return f"Wrote {len(content)} characters to {path}."

        @tool(inline=True)
        async def edit_file(
            file_path: str,
            old_string: str,
            new_string: str,
            ctx: ToolContext,
            replace_all: bool = False,
        ) -> str:
            """Replace exact text in an existing file.

            `old_string` must match the file exactly (whitespace included) and occur
            once, unless `replace_all` is true, which replaces every occurrence.
            Include surrounding lines in `old_string` to make it unique.

            Args:
                file_path: Absolute path of the file to change.
                old_string: Exact text to replace.
                new_string: Text to put in its place.
                replace_all: Replace every occurrence instead of exactly one.
            """
            path = normalize_path(file_path)
            content = await self._require(ctx, path)
            edited, count = apply_edit(path, content, old_string, new_string, replace_all)
            await backend.write(ctx, path, edited)
            return f"Replaced {count} occurrence{'s' if count > 1 else ''} in {path}."

        @tool(name="glob", inline=True)
        async def glob_files(pattern: str, ctx: ToolContext, path: str = "/") -> str:
            """Find files whose path matches a glob pattern.

            `*` matches within one directory level, `**` across levels, `?` one
            character: `**/*.py`, `/docs/*.md`. A pattern without `/` matches file
            names in any directory.

            Args:
                pattern: The glob pattern.
                path: Only search under this directory.
            """
            directory = normalize_path(path)
            matches = [
                p
                for p in await backend.list_files(ctx)
                if is_under(p, directory) and glob_match(p, pattern)
            ]
            return "\n".join(matches) if matches else f"No files match {pattern!r}."

        @tool(inline=True)
        async def grep(
            pattern: str,
            ctx: ToolContext,
            path: str = "/",
            glob: str | None = None,
            output_mode: Literal["files_with_matches", "content", "count"] = "files_with_matches",
        ) -> str:
            """Search file contents for literal text (not a regular expression).

            Args:
                pattern: The text to look for.
                path: Only search under this directory.
                glob: Only search files whose path matches this glob, e.g. *.md.
                output_mode: files_with_matches lists the files, content shows each
                    matching line as path:line_number:text, count gives matches per file.
            """
            if not pattern:
                raise FileToolError("pattern is empty; give the text to search for.")
            directory = normalize_path(path)
            lines_out: list[str] = []
            candidates = [
                p
                for p in await backend.list_files(ctx)
                if is_under(p, directory) and not (glob and not glob_match(p, glob))
            ]
            # A file that cannot be read as text is skipped and counted, not fatal.
            scan = TextScan()
            async for file_path, content in scan.read(backend, ctx, candidates):
                hits = [
                    (n, line) for n, line in enumerate(content.splitlines(), 1) if pattern in line
                ]
                if not hits:
                    continue
                if output_mode == "content":
                    lines_out += [f"{file_path}:{n}:{line[:MAX_LINE_LENGTH]}" for n, line in hits]
                elif output_mode == "count":
                    lines_out.append(f"{file_path}:{sum(line.count(pattern) for _, line in hits)}")
                else:
                    lines_out.append(file_path)
            note = scan.note()
            if not lines_out:
                return f"No matches for {pattern!r}." + (f" {note}" if note else "")
            return "\n".join([*lines_out, note] if note else lines_out)

        return [ls, read_file, write_file, edit_file, glob_files, grep]
