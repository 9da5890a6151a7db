"""`MCPMiddleware`: an agent's MCP servers, their tools, resources and lifecycle.

    mcp = MCPMiddleware([MCPServer.stdio(sys.executable, ["-m", "mcp_server_time"])])
    agent = create_deep_agent(model=..., middleware=[mcp])

Each server's resources are read-only files under `/mcp/<server>/` (a route of
the agent's filesystem: `file_routes()`). The servers start when the agent is
built, because an agent's tools are fixed then: each server is asked for its
tools once, and the session is kept for the agent's calls (one session per
server per agent, shared by its threads and sub-agents). `agent.close()` stops
them, as does the end of the interpreter; a call after a close or a crash starts
the server again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import textwrap
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from deepagents_nb import _sync
from deepagents_nb.context import ToolContext
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.mcp._loop import on_loop, run_on_loop
from deepagents_nb.mcp.connection import Connection
from deepagents_nb.mcp.errors import MCPServerError
from deepagents_nb.mcp.resources import MCP_DIR, MCPResourceBackend, ResourceIndex
from deepagents_nb.mcp.server import MCPServer
from deepagents_nb.mcp.tools import MCPTool
from deepagents_nb.messages import ToolCall
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.fs_backends import FileBackend

if TYPE_CHECKING:
    from deepagents_nb.mcp.report import MCPReport

MAX_INSTRUCTIONS = 1500  # characters of a server's instructions put in the system prompt
EXIT_TIMEOUT = 15.0

_live: weakref.WeakSet[MCPMiddleware] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook = False


class MCPMiddleware(Middleware):
    """Gives an agent the tools of MCP servers, and their resources as files.

    Args:
        servers: The `MCPServer`s, each reached by its own session.

    The servers start on the first `tools()` (when the agent is built); a server
    that fails then raises `MCPServerError` naming its command or URL with the
    end of its stderr. `await astart()` does the same from async code.
    """

    name = "mcp"

    def __init__(self, servers: Iterable[MCPServer]) -> None:
        self.servers = list(servers)
        for server in self.servers:
            if not isinstance(server, MCPServer):
                raise ConfigurationError(
                    f"{server!r} is not an MCPServer: use MCPServer.stdio(...) or "
                    f"MCPServer.http(...)"
                )
        self.connections = [Connection(server) for server in self.servers]
        self.index = ResourceIndex(self.connections)
        self._tools: list[MCPTool] | None = None
        self._by_name: dict[str, MCPTool] = {}
        self._files = False
        self._start_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"MCPMiddleware({[c.name for c in self.connections]})"

    # ----- start -------------------------------------------------------------------------------

    async def astart(self) -> None:
        """Start every server and learn its tools (once; later calls do nothing)."""
        if self._tools is None:
            await on_loop(self._start_all())

    def start(self) -> None:
        """Start every server and learn its tools, from sync code (the twin of `astart`)."""
        if self._tools is not None:
            return
        if threading.current_thread() is _sync._thread:
            raise ConfigurationError(
                "an agent with MCP servers was built inside async code on deepagents-nb's "
                "own loop: `await middleware.astart()` before building it"
            )
        run_on_loop(self._start_all())

    async def _start_all(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()  # made on the private loop, where it is used
        async with self._start_lock:
            if self._tools is None:
                await self._start_servers()

    async def _start_servers(self) -> None:
        _register_exit_hook(self)
        outcomes = await asyncio.gather(
            *(c.ensure() for c in self.connections), return_exceptions=True
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            await self._close_all()
            first = failures[0]
            if isinstance(first, MCPServerError) and len(failures) > 1:
                others = "; ".join(str(f).splitlines()[0] for f in failures[1:])
                raise MCPServerError(
                    first.server,
                    first.target,
                    f"{first.problem}\n(also: {others})",
                    first.stderr_tail,
                ) from first
            raise first
        try:
            self._tools = self._build_tools()
        except ConfigurationError:
            await self._close_all()
            raise

    def _build_tools(self) -> list[MCPTool]:
        names: dict[str, Connection] = {}
        for connection in self.connections:
            other = names.setdefault(connection.name, connection)
            if other is not connection:
                raise ConfigurationError(
                    f"two MCP servers are named {connection.name!r} ({other.server.target} and "
                    f"{connection.server.target}); pass name=... to tell them apart"
                )
        tools: list[MCPTool] = []
        owners: dict[str, str] = {}
        for connection in self.connections:
            server = connection.server
            remote = [t.name for t in connection.tools]
            unknown = server.unknown_allowed(remote)
            if unknown:
                raise ConfigurationError(
                    f"allowed_tools of MCP server {connection.name!r} names "
                    f"{', '.join(map(repr, unknown))}, which it does not have. "
                    f"Its tools: {', '.join(remote) or 'none'}."
                )
            path_of = self.index.path_of(connection)
            for spec in connection.tools:
                if not server.offers(spec.name):
                    continue
                local = server.local_tool_name(spec.name)
                if local in owners:
                    raise ConfigurationError(
                        f"MCP servers {owners[local]!r} and {connection.name!r} both have a tool "
                        f"named {local!r}; give one of them prefix=... (MCPServer(..., prefix=...))"
                    )
                owners[local] = connection.name
                tools.append(MCPTool(local, spec, connection, path_of))
            self.index.add_listed(connection)
        self._by_name = {t.name: t for t in tools}
        return tools

    # ----- what the agent asks of a middleware --------------------------------------------------

    def tools(self) -> Sequence[MCPTool]:
        """The servers' tools (allowed, not blocked); the first call starts the servers."""
        self.start()
        assert self._tools is not None
        return self._tools

    def system_prompt(self) -> str | None:
        self.start()
        lines = ["## MCP servers", "", "Some of your tools are served by MCP servers:"]
        for connection in self.connections:
            names = [t.name for t in self._by_name.values() if t.connection is connection]
            line = f"- {connection.name}: {', '.join(names) or 'no tools'}"
            if self._files and connection.has_resources and connection.resources:
                line += (
                    f"; its resources are read-only files under {MCP_DIR}/{connection.name}/ "
                    f"(ls {MCP_DIR}/{connection.name}, read_file)"
                )
            lines.append(line)
            instructions = (connection.instructions or "").strip()
            if instructions:
                if len(instructions) > MAX_INSTRUCTIONS:
                    instructions = instructions[:MAX_INSTRUCTIONS] + " [...]"
                lines.append(textwrap.indent(instructions, "    "))
        return "\n".join(lines)

    async def describe_call(self, call: ToolCall, ctx: ToolContext) -> str | None:
        """For the approver: which server (command or URL) the call goes to, and its arguments."""
        tool = self._by_name.get(call.name)
        if tool is None:
            return None
        connection = tool.connection
        args = call.args if isinstance(call.args, dict) else {"raw": call.args}
        return (
            f"# MCP server {connection.name!r}: {connection.server.target}\n"
            f"# its tool {tool.remote_name!r}, with these arguments:\n"
            + json.dumps(args, indent=2, ensure_ascii=False, default=str)
        )

    async def aclose(self) -> None:
        """Stop every server's session (a stdio server's process ends); a later call restarts it."""
        await on_loop(self._close_all())

    def close(self) -> None:
        """Stop every server's session (the sync twin of `aclose`)."""
        run_on_loop(self._close_all())

    async def _close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections), return_exceptions=True)

    # ----- files and status ----------------------------------------------------------------------

    def file_routes(self) -> Mapping[str, FileBackend]:
        """`/mcp`: each server's resources, read-only, under `/mcp/<server>/`."""
        self._files = True
        return {MCP_DIR: MCPResourceBackend(self.index)}

    def tool_for(self, name: str) -> MCPTool | None:
        """The agent's MCP tool called `name`, if there is one."""
        return self._by_name.get(name)

    def report(self) -> MCPReport:
        """The servers, their status, tools, resources and prompts (what `%agent mcp` shows)."""
        from deepagents_nb.mcp.report import MCPReport

        return MCPReport([self])


def _register_exit_hook(middleware: MCPMiddleware) -> None:
    global _exit_hook
    _live.add(middleware)
    with _exit_hook_lock:
        if not _exit_hook:
            atexit.register(_close_at_exit)
            _exit_hook = True


def _close_at_exit() -> None:
    """Stop every server still running when the interpreter exits (bounded)."""
    live = [m for m in list(_live) if any(c.status == "running" for c in m.connections)]
    if not live or _sync._thread is None or not _sync._thread.is_alive():
        return
    # The interpreter is going away: a server that will not stop is left to its stdin's EOF.
    with contextlib.suppress(Exception):
        run_on_loop(_close_every(live), timeout=EXIT_TIMEOUT)


async def _close_every(live: list[MCPMiddleware]) -> None:
    await asyncio.gather(*(m._close_all() for m in live), return_exceptions=True)
