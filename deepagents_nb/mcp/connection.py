"""`Connection`: an agent's one live session with one MCP server.

The session is opened by an owner task on the private loop (`_loop.py`) and
kept until the agent is closed; every call hops to that loop, so sync and async
agent calls share it. A stdio server's stderr goes to a temporary file whose
tail is shown when the server fails.

Faults: a server that does not answer the handshake within `start_timeout`
fails to start with a clear `MCPServerError`; a call past `timeout` is
cancelled (the server is told); a server that exits or drops the connection
fails the call in flight, and the next call starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar, cast

from deepagents_nb.mcp.errors import (
    MCPServerError,
    connection_lost,
    describe,
    refused_by_http,
    start_problem,
    tail,
)
from deepagents_nb.mcp.server import MCPServer
from deepagents_nb.mcp.transports import client_info, open_transport, require_sdk

if TYPE_CHECKING:
    import mcp_types
    from mcp import Client

Status = Literal["not started", "starting", "running", "stopped", "crashed", "failed"]
T = TypeVar("T")

TEARDOWN_TIMEOUT = 10.0  # the SDK bounds a stdio shutdown at about 6 s (stdin, SIGTERM, SIGKILL)
PAGE_LIMIT = 100  # pages of a listing, so a server that never ends one cannot hang a start


class CallFailed(Exception):
    """A call could not be answered; the message is written for the model."""


class Connection:
    """One session with `server`: started, listed, called, restarted, closed.

    Every coroutine method must run on the private loop (`MCPMiddleware` and the
    tools hop there); the attributes may be read from any thread.
    """

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self.name = server.name or server.target
        """The server's name in the agent (its own, shortened, once it has started)."""
        self.status: Status = "not started"
        self.server_info: str | None = None
        self.instructions: str | None = None
        self.tools: list[mcp_types.Tool] = []
        self.resources: list[mcp_types.Resource] = []
        self.prompts: list[mcp_types.Prompt] = []
        self.has_resources = False
        """Whether the server offers resources (its capabilities say so)."""
        self.restarts = 0
        self.last_error: str | None = None
        self.started_at: float | None = None
        self._transport_kind: str = server.transport  # "auto" settles on the first start
        self._client: Client | None = None
        self._owner: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._scope: Any = None  # the owner's anyio CancelScope
        self._stderr: TextIO | None = None
        self._eof = False
        self._closing = False
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"Connection({self.name!r}, {self.status}, {self.server.target!r})"

    @property
    def alive(self) -> bool:
        """Whether the session is open and its server has not gone away."""
        owner = self._owner
        return self._client is not None and not self._eof and owner is not None and not owner.done()

    # ----- start and stop ----------------------------------------------------------------------

    async def ensure(self) -> Client:
        """The open session: started on first use, and again after a crash or a close."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            client = self._client
            if client is not None and self.alive:
                return client
            crashed = self.status == "crashed"
            await self._teardown()
            client = await self._start()
            if crashed:
                self.restarts += 1
            return client

    async def close(self) -> None:
        """End the session and stop a stdio server; a later call starts it again."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            had = self._owner is not None
            await self._teardown()
            if had and self.status != "failed":
                self.status = "stopped"

    async def _start(self) -> Client:
        require_sdk()
        loop = asyncio.get_running_loop()
        self.status = "starting"
        self._eof = False
        self._stop = asyncio.Event()
        if self.server.transport == "stdio":
            # Kept open for the session and closed by _teardown, hence no `with`.
            self._stderr = cast(
                TextIO,
                tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace"),  # noqa: SIM115
            )
        ready: asyncio.Future[Client] = loop.create_future()
        self._owner = loop.create_task(self._own(ready), name=f"mcp-{self.name}")
        try:
            client = await ready
        except Exception as first:
            error = self._start_error(first)  # before the teardown closes the stderr file
            await self._teardown()
            if self._transport_kind == "auto" and refused_by_http(first):
                # Servers from before 2025-03-26 speak only the older HTTP+SSE transport.
                self._transport_kind = "sse"
                try:
                    return await self._start()
                except MCPServerError as second:
                    self._transport_kind = "auto"
                    error = MCPServerError(
                        self.name,
                        self.server.target,
                        f"{error.problem} (and as an SSE server: {second.problem})",
                    )
            self.status = "failed"
            self.last_error = error.problem
            raise error from first
        if self._transport_kind == "auto":
            self._transport_kind = "streamable-http"
        try:
            await self._list(client)
        except Exception as exc:
            stderr = self._stderr_tail()
            await self._teardown()
            self.status = "failed"
            self.last_error = f"started but could not list its tools: {describe(exc)}"
            raise MCPServerError(self.name, self.server.target, self.last_error, stderr) from exc
        self.status = "running"
        self.started_at = time.time()
        self.last_error = None
        return client

    async def _own(self, ready: asyncio.Future[Client]) -> None:
        """Open the session, hand it over, keep it open until told to stop."""
        import anyio
        from mcp import Client

        stop = self._stop
        assert stop is not None
        try:
            deadline = anyio.current_time() + self.server.start_timeout
            with anyio.CancelScope(deadline=deadline) as scope:
                self._scope = scope
                transport = open_transport(
                    self.server, self._transport_kind, self._stderr, self._on_eof
                )
                client = Client(transport, mode="auto", client_info=client_info(), cache=None)
                async with client:
                    scope.deadline = math.inf
                    self._client = client
                    ready.set_result(client)
                    await stop.wait()
            if not ready.done():
                ready.set_exception(
                    TimeoutError(f"no answer within {self.server.start_timeout:g} s")
                    if scope.cancelled_caught
                    else ConnectionError("stopped while starting")
                )
        except Exception as exc:  # an ExceptionGroup from the SDK's task groups included
            if not ready.done():
                ready.set_exception(exc)
            elif not self._closing:
                self._crashed(f"the session failed: {describe(exc)}")
        finally:
            self._client = None
            if not ready.done():
                ready.set_exception(ConnectionError("stopped while starting"))

    async def _teardown(self) -> None:
        """Stop the owner task (and with it the session and the server), whatever its state."""
        owner, stop = self._owner, self._stop
        if owner is None:
            return
        self._closing = True
        try:
            if stop is not None:
                stop.set()
            if not owner.done() and self._client is None and self._scope is not None:
                self._scope.cancel()  # still starting: nothing to wait for
            done, _ = await asyncio.wait({owner}, timeout=TEARDOWN_TIMEOUT)
            if not done:
                owner.cancel()
                await asyncio.wait({owner}, timeout=TEARDOWN_TIMEOUT)
        finally:
            self._owner = self._stop = self._scope = self._client = None
            self._closing = False
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    def _on_eof(self) -> None:
        """The server's side of the connection ended (a stdio server exited)."""
        self._eof = True
        if not self._closing and self.status == "running":
            self._crashed("the server closed the connection (it exited)")

    def _crashed(self, why: str) -> None:
        self.status = "crashed"
        stderr = self._stderr_tail()
        self.last_error = why + (f"\n{stderr}" if stderr else "")
        if self._stop is not None:
            self._stop.set()  # the owner leaves the session; the next call starts a new one

    # ----- what the agent asks ------------------------------------------------------------------

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call the server's tool `name`.

        Raises:
            CallFailed: the call timed out, the server failed or refused it, or could
                not be started; the message is for the model.
        """
        return await self._request(
            lambda client: client.call_tool(name, arguments), f"Tool {name!r}"
        )

    async def read_resource(self, uri: str) -> mcp_types.ReadResourceResult:
        """Read the resource at `uri` (raises `CallFailed` as `call_tool` does)."""
        return await self._request(
            lambda client: client.read_resource(uri, cache_mode="refresh"), f"Reading {uri}"
        )

    async def list_resources(self) -> list[mcp_types.Resource]:
        """The server's resources now (raises `CallFailed` as `call_tool` does)."""

        async def fetch(client: Client) -> list[mcp_types.Resource]:
            return await _pages(lambda cursor: client.list_resources(cursor=cursor), "resources")

        self.resources = await self._request(fetch, "Listing resources")
        return self.resources

    async def _request(self, send: Callable[[Client], Awaitable[T]], what: str) -> T:
        import anyio
        from mcp import MCPError

        try:
            client = await self.ensure()
        except MCPServerError as exc:
            raise CallFailed(f"{what} did not run: {exc}") from exc
        timeout = self.server.timeout
        try:
            with anyio.fail_after(timeout):
                return await send(client)
        except TimeoutError as exc:
            raise CallFailed(
                f"{what} did not finish within {timeout:g} s and was cancelled "
                f"(MCP server {self.name!r})."
            ) from exc
        except MCPError as exc:
            if not self._gone(exc):
                raise CallFailed(f"MCP server {self.name!r} answered with an error: {exc}") from exc
            self._crashed(f"the server went away during a call: {exc.message}")
            raise CallFailed(self._crash_note(what)) from exc
        except Exception as exc:
            if self._gone(exc):
                self._crashed(f"the connection failed during a call: {describe(exc)}")
                raise CallFailed(self._crash_note(what)) from exc
            raise CallFailed(f"{what} failed: {describe(exc)}") from exc

    def _gone(self, exc: BaseException) -> bool:
        """Whether `exc` means the server or the connection is gone (rather than one call)."""
        owner_done = self._owner is not None and self._owner.done()
        return self._eof or owner_done or connection_lost(exc)

    def _crash_note(self, what: str) -> str:
        stderr = self._stderr_tail()
        note = (
            f"{what} failed: MCP server {self.name!r} ({self.server.target}) stopped during "
            f"the call; it is started again for the next call."
        )
        return note + (f"\nIts stderr ended with:\n{stderr}" if stderr else "")

    async def _list(self, client: Client) -> None:
        """Learn the server's name, instructions, tools, resources and prompts."""
        import anyio

        info = client.server_info
        if self.server.name is None and self.started_at is None:  # kept across restarts
            self.name = self.server.short_name(info.name if info else None)
        self.server_info = f"{info.name} {info.version}" if info else None
        self.instructions = client.instructions
        capabilities = client.server_capabilities
        self.has_resources = capabilities.resources is not None
        with anyio.fail_after(self.server.timeout):
            self.tools = await _pages(lambda cursor: client.list_tools(cursor=cursor), "tools")
        # Resources and prompts are extras: a server that fails to list them still serves tools.
        self.resources, self.prompts = [], []
        with contextlib.suppress(Exception):
            if capabilities.resources is not None:
                with anyio.fail_after(self.server.timeout):
                    self.resources = await _pages(
                        lambda cursor: client.list_resources(cursor=cursor), "resources"
                    )
        with contextlib.suppress(Exception):
            if capabilities.prompts is not None:
                with anyio.fail_after(self.server.timeout):
                    self.prompts = await _pages(
                        lambda cursor: client.list_prompts(cursor=cursor), "prompts"
                    )

    # ----- transports and errors ---------------------------------------------------------------

    def _stderr_tail(self) -> str:
        file = self._stderr
        if file is None or file.closed:
            return ""
        try:  # the server writes to the file's descriptor, not through this file object
            with open(file.fileno(), "rb", closefd=False) as raw:
                size = os.fstat(raw.fileno()).st_size
                raw.seek(max(0, size - 8192))
                data = raw.read()
        except OSError:
            return ""
        return tail(data.decode("utf-8", errors="replace"))

    def _start_error(self, exc: BaseException) -> MCPServerError:
        stdio = self.server.transport == "stdio"
        problem = start_problem(
            exc,
            stdio=stdio,
            command=self.server.command,
            start_timeout=self.server.start_timeout,
            eof=self._eof,
        )
        return MCPServerError(self.name, self.server.target, problem, self._stderr_tail())

    @property
    def transport(self) -> str:
        """The transport in use: "stdio", "streamable-http" or "sse" ("auto" before an
        HTTP server first answered)."""
        return self._transport_kind


async def _pages(fetch: Callable[[str | None], Awaitable[Any]], field: str) -> list[Any]:
    """Every item of a paginated MCP listing (`tools`, `resources`, `prompts`)."""
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(PAGE_LIMIT):
        page = await fetch(cursor)
        items.extend(getattr(page, field))
        cursor = page.next_cursor
        if not cursor:
            break
    return items
