"""Routes: directories of the virtual filesystem that another backend keeps.

Memory files under `/memories/` and skills under `/skills/` do not live in the
thread's state: each of those directories is a route to its own backend. A
middleware names its routes in `file_routes()`; the stack layers them over the
agent's filesystem with `with_routes`. A route's backend sees paths below its
directory (`/memories/AGENTS.md` arrives as `/AGENTS.md`), and the paths in its
error messages are given back as the model wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from deepagents_nb.context import ToolContext
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.middleware.fs_backends import (
    BytesReader,
    FileBackend,
    FileToolError,
    LineWindow,
    normalize_path,
    read_window,
)


def relocated(exc: FileToolError, inner: str, outer: str) -> FileToolError:
    """`exc` with the paths its message names as a backend saw them (`inner`, and the
    folders above it) rewritten as the model knows them (`outer`).

    >>> error = FileToolError("/pdf: permission denied.")
    >>> str(relocated(error, "/pdf/a.md", "/skills/pdf/a.md"))
    '/skills/pdf: permission denied.'
    """
    names = {inner: outer}
    prefix = outer[: len(outer) - len(inner)]
    if outer.endswith(inner) and prefix and inner.startswith("/"):
        parts = inner.strip("/").split("/")
        for i in range(1, len(parts)):
            folder = "/" + "/".join(parts[:i])
            names[folder] = prefix + folder
    # Whole paths only: not the tail of a longer path, not part of a word.
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w./-])({alternatives})(?![\w-])")
    message = pattern.sub(lambda m: names[m.group(1)], str(exc))
    return exc if message == str(exc) else type(exc)(message)


@contextmanager
def relocating(inner: str, outer: str) -> Iterator[None]:
    """Re-raise a `FileToolError` raised inside with its paths as the model knows them."""
    try:
        yield
    except FileToolError as exc:
        raise relocated(exc, inner, outer) from None


class RoutedBackend:
    """A file backend whose directories in `routes` are kept by other backends.

    Everything else goes to `inner`; with `inner=None` there is nothing else (a
    path outside the routes is not found, and cannot be written). Files `inner`
    holds under a routed directory are hidden by the route.

        RoutedBackend(StateBackend(), {"/data": DirectoryBackend("data")})
    """

    def __init__(self, inner: FileBackend | None, routes: Mapping[str, FileBackend]) -> None:
        checked: dict[str, FileBackend] = {}
        for prefix, backend in routes.items():
            try:
                path = normalize_path(prefix)
            except FileToolError as exc:
                raise ConfigurationError(f"bad route {prefix!r}: {exc}") from None
            if path == "/":
                raise ConfigurationError("a route cannot be the root directory '/'")
            if path in checked:
                raise ConfigurationError(f"two routes are given for {path}")
            checked[path] = backend
        for path in checked:
            outer = next((p for p in checked if p != path and path.startswith(p + "/")), None)
            if outer is not None:
                raise ConfigurationError(f"the route {path} lies inside the route {outer}")
        self.inner = inner
        self.routes = checked

    def __repr__(self) -> str:
        return f"RoutedBackend({self.inner!r}, routes={self.routes!r})"

    def route(self, path: str) -> tuple[FileBackend, str] | None:
        """The backend that keeps `path` and the path it knows it by; None for `inner`."""
        for prefix, backend in self.routes.items():
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return backend, path[len(prefix) :] or "/"
        return None

    async def list_files(self, ctx: ToolContext) -> list[str]:
        files = [] if self.inner is None else await self.inner.list_files(ctx)
        files = [p for p in files if self.route(p) is None]
        for prefix, backend in self.routes.items():
            try:
                files += [prefix + p for p in await backend.list_files(ctx)]
            except FileToolError:
                continue  # a route that cannot be listed (its folder is gone) hides no other
        return sorted(files)

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        found = self.route(path)
        if found is None:
            return None if self.inner is None else await self.inner.read(ctx, path)
        backend, inner = found
        if inner == "/":
            return None  # the route's directory itself is not a file
        with relocating(inner, path):
            return await backend.read(ctx, inner)

    async def read_lines(
        self, ctx: ToolContext, path: str, offset: int, limit: int, max_line_chars: int = 2000
    ) -> LineWindow | None:
        """Some lines of `path`, from the backend that keeps it (streamed if it can)."""
        found = self.route(path)
        if found is None:
            if self.inner is None:
                return None
            return await read_window(self.inner, ctx, path, offset, limit, max_line_chars)
        backend, inner = found
        if inner == "/":
            return None
        with relocating(inner, path):
            return await read_window(backend, ctx, inner, offset, limit, max_line_chars)

    async def read_bytes(self, ctx: ToolContext, path: str) -> bytes | None:
        """The bytes of `path` when its backend can give them (images), else None."""
        found = self.route(path)
        backend, inner = found if found is not None else (self.inner, path)
        if not isinstance(backend, BytesReader) or inner == "/":
            return None
        with relocating(inner, path):
            return await backend.read_bytes(ctx, inner)

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        found = self.route(path)
        if found is None:
            if self.inner is None:
                raise FileToolError(f"{path} cannot be written: no folder here keeps files.")
            await self.inner.write(ctx, path, content)
            return
        backend, inner = found
        if inner == "/":
            raise FileToolError(f"{path} is a directory; give the name of a file inside it.")
        with relocating(inner, path):
            await backend.write(ctx, inner, content)


class ReadOnlyBackend:
    """Files that can be read and never written; `why` tells the model what to do instead."""

    def __init__(self, inner: FileBackend, why: str) -> None:
        self.inner = inner
        self.why = why

    def __repr__(self) -> str:
        return f"ReadOnlyBackend({self.inner!r})"

    async def list_files(self, ctx: ToolContext) -> list[str]:
        return await self.inner.list_files(ctx)

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        return await self.inner.read(ctx, path)

    async def read_lines(
        self, ctx: ToolContext, path: str, offset: int, limit: int, max_line_chars: int = 2000
    ) -> LineWindow | None:
        """Some lines of `path`, from the inner backend."""
        return await read_window(self.inner, ctx, path, offset, limit, max_line_chars)

    async def read_bytes(self, ctx: ToolContext, path: str) -> bytes | None:
        """The inner backend's bytes of `path`, when it can give them."""
        if isinstance(self.inner, BytesReader):
            return await self.inner.read_bytes(ctx, path)
        return None

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        raise FileToolError(f"{path} is read-only: {self.why}")


def file_routes_of(middleware: Iterable[object]) -> dict[str, FileBackend]:
    """The directories `middleware` add to the filesystem (their `file_routes()`), by path.

    Raises:
        ConfigurationError: two middleware claim the same directory.
    """
    routes: dict[str, FileBackend] = {}
    owners: dict[str, object] = {}
    for m in middleware:
        method = getattr(m, "file_routes", None)
        if method is None:
            continue
        for prefix, backend in method().items():
            path = normalize_path(prefix)
            if path in routes:
                raise ConfigurationError(
                    f"{owners[path]!r} and {m!r} both add the directory {path}; "
                    f"give each its own directory"
                )
            routes[path], owners[path] = backend, m
    return routes


def with_routes(backend: FileBackend, routes: Mapping[str, FileBackend]) -> FileBackend:
    """`backend` with `routes` layered over it; `backend` itself when there are none."""
    return RoutedBackend(backend, routes) if routes else backend
