"""MCP resources as read-only files under `/mcp/<server>/`.

`MCPMiddleware.file_routes()` routes the `/mcp` directory of the agent's
filesystem to `MCPResourceBackend`: `ls`, `glob`, `grep` and `read_file` see
each server's resources, each read asks the server, and no tool can write
there. A resource's path comes from its URI: `demo://docs/a.md` on server
"everything" is `/mcp/everything/demo/docs/a.md`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import unquote

from deepagents_nb.context import ToolContext
from deepagents_nb.mcp._loop import on_loop
from deepagents_nb.mcp.connection import CallFailed, Connection
from deepagents_nb.mcp.convert import resource_text
from deepagents_nb.messages import MEDIA_TYPES
from deepagents_nb.middleware.fs_backends import (
    FileToolError,
    LineWindow,
    NotTextError,
    window_of,
)

MCP_DIR = "/mcp"
LISTING_TTL = 5.0  # seconds a server's resource list is reused by ls / glob / grep
_UNSAFE = re.compile(r"[^A-Za-z0-9._~@+=,-]+")
_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}


@dataclass(frozen=True)
class Entry:
    """A resource the filesystem shows: its server and URI."""

    connection: Connection
    uri: str


def resource_path(server: str, uri: str, mime_type: str | None = None) -> str:
    """The virtual path of a resource: `/mcp/<server>/<scheme>/<rest of the URI>`.

    >>> resource_path("git", "file:///repo/README.md")
    '/mcp/git/file/repo/README.md'
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        scheme, _, rest = uri.partition(":")
    segments = [scheme, *(s for s in rest.split("/") if s)]
    clean = []
    for segment in segments:
        safe = _UNSAFE.sub("_", unquote(segment)).strip("_") or "_"
        clean.append("_" if safe in (".", "..") else safe)
    path = f"{MCP_DIR}/{server}/" + "/".join(clean)
    suffix = _SUFFIXES.get(mime_type or "")
    if suffix and not path.lower().endswith((*_SUFFIXES.values(), ".jpeg")):
        path += suffix  # so read_file returns the image itself
    return path


class ResourceIndex:
    """Which path is which resource, for every server of an agent."""

    def __init__(self, connections: list[Connection]) -> None:
        self.connections = connections
        self._paths: dict[str, Entry] = {}
        self._known: dict[tuple[int, str], str] = {}  # (connection id, uri) -> path
        self._listed_at: dict[int, float] = {}

    def register(self, connection: Connection, uri: str, mime_type: str | None = None) -> str:
        """The path of `uri` on `connection`'s server, remembered so `read_file` finds it."""
        known = self._known.get((id(connection), uri))
        if known is not None:
            return known
        base = path = resource_path(connection.name, uri, mime_type)
        n = 1
        while path in self._paths:  # two URIs that clean to one path
            n += 1
            path = f"{base}~{n}"
        self._paths[path] = Entry(connection, uri)
        self._known[(id(connection), uri)] = path
        return path

    def path_of(self, connection: Connection) -> PathFinder:
        """A `PathOf` for results of `connection`'s tools (resource links, embedded)."""
        return PathFinder(self, connection)

    def add_listed(self, connection: Connection) -> None:
        """Register the resources `connection` listed when it started."""
        for resource in connection.resources:
            self.register(connection, resource.uri, resource.mime_type)

    async def refresh(self, force: bool = False) -> None:
        """List each server's resources again, at most every `LISTING_TTL` seconds.

        A server that cannot list them now keeps its last listing.
        """
        now = time.monotonic()
        for connection in self.connections:
            if not connection.has_resources:
                continue
            listed = self._listed_at.get(id(connection))
            if not force and listed is not None and now - listed < LISTING_TTL:
                continue
            # Stamped before asking, so a server that is down is not asked by every ls.
            self._listed_at[id(connection)] = now
            try:
                await on_loop(connection.list_resources())
            except CallFailed:
                continue
            self.add_listed(connection)

    def paths(self) -> list[str]:
        """The paths of the listed resources (links seen in results included)."""
        return sorted(self._paths)

    async def find(self, path: str) -> Entry | None:
        """The resource at `path`, listing the servers again once if it is not known."""
        entry = self._paths.get(path)
        if entry is None:
            await self.refresh(force=True)
            entry = self._paths.get(path)
        return entry


class PathFinder:
    """The `PathOf` of one server's tool results: registers each URI it is asked about."""

    def __init__(self, index: ResourceIndex, connection: Connection) -> None:
        self.index = index
        self.connection = connection

    def __call__(self, uri: str) -> str | None:
        return self.index.register(self.connection, uri)


class MCPResourceBackend:
    """The servers' resources as a route of the filesystem (`file_routes()`: `/mcp`).

    Paths arrive below the route (`/everything/demo/docs/a.md`); every read asks
    the server, and every write is refused.
    """

    def __init__(self, index: ResourceIndex) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"MCPResourceBackend(servers={[c.name for c in self.index.connections]})"

    async def list_files(self, ctx: ToolContext) -> list[str]:
        await self.index.refresh()
        return [path[len(MCP_DIR) :] for path in self.index.paths()]

    async def _read(self, path: str) -> tuple[str | None, bytes | None, str] | None:
        entry = await self.index.find(MCP_DIR + path)
        if entry is None:
            return None
        try:
            result = await on_loop(entry.connection.read_resource(entry.uri))
        except CallFailed as exc:
            raise FileToolError(str(exc)) from exc
        return resource_text(result)

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        found = await self._read(path)
        if found is None:
            return None
        text, data, mime = found
        if text is None:
            hint = "" if mime not in MEDIA_TYPES else " (an image: read_file shows it)"
            raise NotTextError(f"{path} is {mime}, {len(data or b'')} bytes, not text{hint}.")
        return text

    async def read_lines(
        self, ctx: ToolContext, path: str, offset: int, limit: int, max_line_chars: int = 2000
    ) -> LineWindow | None:
        """Some lines of a resource (read whole: servers send resources whole)."""
        text = await self.read(ctx, path)
        return None if text is None else window_of(text, offset, limit, max_line_chars)

    async def read_bytes(self, ctx: ToolContext, path: str) -> bytes | None:
        """A binary resource's bytes (an image, for `read_file`), or None."""
        found = await self._read(path)
        return None if found is None else found[1]

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        raise FileToolError(
            f"{path} is an MCP server's resource, shown read-only; write your result to "
            f"another path, e.g. /notes{path}"
        )
