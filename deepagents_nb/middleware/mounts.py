"""Kernel data as files: notebook variables shown read-only in the virtual filesystem.

`agent.mount(df=df, notes=notes)` makes `/kernel/df.csv` and `/kernel/notes.txt`
readable by the file tools. Each read renders the variable's current value; no
tool can write through a mount, so the kernel's objects never change. Copying a
file back into the kernel is an explicit user action (`%agent export PATH VAR`).
"""

from __future__ import annotations

from typing import Any

from deepagents_nb.context import ToolContext
from deepagents_nb.middleware.fs_backends import (
    BytesReader,
    FileBackend,
    FileToolError,
    LineWindow,
    read_window,
    window_of,
)

MOUNT_DIR = "/kernel"
MAX_ROWS = 20
MAX_CHARS = 20_000


def _is_frame(obj: Any) -> bool:
    # Duck-typed so the core never imports pandas.
    return all(hasattr(obj, attr) for attr in ("dtypes", "to_csv", "shape", "head"))


def mount_path(name: str, obj: Any) -> str:
    return f"{MOUNT_DIR}/{name}.csv" if _is_frame(obj) else f"{MOUNT_DIR}/{name}.txt"


def render(name: str, obj: Any, max_rows: int = MAX_ROWS) -> str:
    """A DataFrame as its schema plus a CSV preview, a string as itself, others by repr."""
    if _is_frame(obj):
        rows, cols = obj.shape
        schema = ", ".join(f"{column} ({dtype})" for column, dtype in obj.dtypes.items())
        shown = min(rows, max_rows)
        return (
            f"# {name}: DataFrame with {rows} rows and {cols} columns; the first {shown} "
            f"rows follow as CSV\n# columns: {schema}\n{obj.head(max_rows).to_csv()}"
        )
    text = obj if isinstance(obj, str) else repr(obj)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + f"\n... [{len(text) - MAX_CHARS} more characters not shown]"
    return text


class Mounts:
    """The variables an agent (and its sub-agents) can read, by name."""

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}

    def add(self, name: str, obj: Any) -> str:
        if not name.isidentifier():
            raise ValueError(f"cannot mount {name!r}: use a variable name")
        self.objects[name] = obj
        return mount_path(name, obj)

    def remove(self, name: str) -> None:
        self.objects.pop(name, None)

    def paths(self) -> dict[str, str]:
        """Mounted path -> variable name."""
        return {mount_path(name, obj): name for name, obj in self.objects.items()}


class MountedBackend:
    """Wraps a file backend: mounted variables read like files and refuse writes."""

    def __init__(self, inner: FileBackend, mounts: Mounts) -> None:
        self.inner = inner
        self.mounts = mounts

    def __repr__(self) -> str:
        return f"MountedBackend({self.inner!r}, mounts={sorted(self.mounts.objects)})"

    async def list_files(self, ctx: ToolContext) -> list[str]:
        return sorted({*await self.inner.list_files(ctx), *self.mounts.paths()})

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        name = self.mounts.paths().get(path)
        if name is not None:
            return render(name, self.mounts.objects[name])
        return await self.inner.read(ctx, path)

    async def read_lines(
        self, ctx: ToolContext, path: str, offset: int, limit: int, max_line_chars: int = 2000
    ) -> LineWindow | None:
        """Some lines of a mounted variable, or of the inner backend's file (streamed if it can)."""
        name = self.mounts.paths().get(path)
        if name is not None:
            return window_of(render(name, self.mounts.objects[name]), offset, limit, max_line_chars)
        return await read_window(self.inner, ctx, path, offset, limit, max_line_chars)

    async def read_bytes(self, ctx: ToolContext, path: str) -> bytes | None:
        """The inner backend's bytes of `path` (mounted variables are text, not bytes)."""
        if isinstance(self.inner, BytesReader) and path not in self.mounts.paths():
            return await self.inner.read_bytes(ctx, path)
        return None

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        name = self.mounts.paths().get(path)
        if name is not None:
            raise FileToolError(
                f"{path} is the notebook variable {name!r}, mounted read-only; write your "
                f"result to another path, e.g. /{name}_edited{path[path.rfind('.') :]}"
            )
        await self.inner.write(ctx, path, content)
