"""`MCPServer`: how to reach one MCP server, and which of its tools the agent gets.

    MCPServer.stdio("uvx", ["mcp-server-time"])
    MCPServer.http("http://127.0.0.1:3001/mcp", headers={"Authorization": "Bearer ..."})

A value object: it starts nothing. An agent that is given one opens its own
session with the server (`MCPMiddleware`), so two agents never share a process.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from deepagents_nb.exceptions import ConfigurationError

Transport = Literal["stdio", "streamable-http", "sse", "auto"]
DEFAULT_TIMEOUT = 60.0
DEFAULT_START_TIMEOUT = 30.0

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_GLOB = frozenset("*?[")
# Prefixes that say nothing once the name sits under /mcp/: "mcp-time" -> "time".
_NOISE_PREFIXES = ("mcp-server-", "mcp_server_", "server-", "mcp-", "mcp_")


@dataclass(frozen=True)
class MCPServer:
    """One MCP server: a command to run (stdio) or a URL (HTTP).

    Build one with `MCPServer.stdio(...)` or `MCPServer.http(...)`. Every option
    is keyword-only and shared by both:

    Args:
        name: What the agent calls the server (events, `/mcp/<name>/`, `%agent mcp`);
            by default the name the server gives itself, shortened ("mcp-time" -> "time").
        prefix: Put `"<prefix>_"` before each tool name (`prefix="git"`: "git_git_status");
            by default tools keep the server's names.
        allowed_tools: Only these tools (names or glob patterns such as "git_*").
        blocked_tools: Never these tools (names or glob patterns).
        timeout: Seconds a tool call or resource read may take before it is cancelled.
        start_timeout: Seconds the server has to start and answer the MCP handshake.
    """

    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = field(default=None, repr=False)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    name: str | None = None
    prefix: str | None = None
    allowed_tools: tuple[str, ...] | None = None
    blocked_tools: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT

    def __post_init__(self) -> None:
        for option in ("timeout", "start_timeout"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigurationError(f"MCPServer {option}= must be a positive number")
            if not math.isfinite(value):
                raise ConfigurationError(f"MCPServer {option}= must be finite, got {value!r}")
        if self.name is not None and (not self.name or _NAME_CHARS.search(self.name)):
            raise ConfigurationError(
                f"MCPServer name={self.name!r}: use letters, digits, '_' or '-' (it becomes a "
                f"directory, /mcp/<name>/)"
            )
        if self.prefix is not None and (not self.prefix or _NAME_CHARS.search(self.prefix)):
            raise ConfigurationError(
                f"MCPServer prefix={self.prefix!r}: use letters, digits, '_' or '-'"
            )

    # ----- the two ways to reach a server ----------------------------------------------------

    @classmethod
    def stdio(
        cls,
        command: str | os.PathLike[str],
        args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        prefix: str | None = None,
        allowed_tools: Iterable[str] | None = None,
        blocked_tools: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> MCPServer:
        """A server the agent runs as a subprocess and talks to over its stdin and stdout.

        `env` is added to a minimal environment (PATH, HOME, USER, ...), as the MCP SDK
        does, so secrets in this process's environment are not passed on by accident.
        The server's stderr is kept: the last lines are shown when it fails.

            MCPServer.stdio("uvx", ["mcp-server-git", "--repository", "."], name="git")
        """
        if isinstance(args, str):
            raise ConfigurationError(
                f"MCPServer.stdio args= must be a list of strings, not one string: "
                f"args={shlex.split(args)!r}"
            )
        command = os.fspath(command)
        if not command:
            raise ConfigurationError("MCPServer.stdio needs a command")
        return cls(
            "stdio",
            command=command,
            args=tuple(str(a) for a in args),
            env=dict(env) if env is not None else None,
            cwd=os.fspath(cwd) if cwd is not None else None,
            name=name,
            prefix=prefix,
            allowed_tools=tuple(allowed_tools) if allowed_tools is not None else None,
            blocked_tools=tuple(blocked_tools),
            timeout=timeout,
            start_timeout=start_timeout,
        )

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        transport: Literal["auto", "streamable-http", "sse"] = "auto",
        name: str | None = None,
        prefix: str | None = None,
        allowed_tools: Iterable[str] | None = None,
        blocked_tools: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> MCPServer:
        """A server reached over HTTP: streamable HTTP, or SSE for older servers.

        `transport="auto"` tries streamable HTTP and falls back to SSE when the server
        refuses it with an HTTP error (as the MCP specification advises for servers
        from before 2025-03-26, whose URL usually ends in `/sse`).
        `headers` go with every request (e.g. an `Authorization` header); they are
        never shown in reprs or errors.
        """
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"MCPServer.http needs an http(s):// URL, got {url!r}")
        if transport not in ("auto", "streamable-http", "sse"):
            raise ConfigurationError(
                f'MCPServer.http transport= must be "auto", "streamable-http" or "sse", '
                f"got {transport!r}"
            )
        return cls(
            transport,
            url=url,
            headers=dict(headers) if headers is not None else None,
            name=name,
            prefix=prefix,
            allowed_tools=tuple(allowed_tools) if allowed_tools is not None else None,
            blocked_tools=tuple(blocked_tools),
            timeout=timeout,
            start_timeout=start_timeout,
        )

    # ----- derived ---------------------------------------------------------------------------

    @property
    def target(self) -> str:
        """The command line or URL, as errors and `%agent mcp` show it."""
        if self.transport == "stdio":
            return shlex.join([Path(self.command or "").name or "", *self.args])
        return self.url or ""

    def short_name(self, server_info_name: str | None) -> str:
        """The server's name in this agent: `name=`, else one made from what it calls itself."""
        if self.name:
            return self.name
        return default_name(server_info_name or "", self.command or self.url or "server")

    def offers(self, tool_name: str) -> bool:
        """Whether the agent gets the server's tool `tool_name` (allowed, not blocked)."""
        if any(_matches(tool_name, key) for key in self.blocked_tools):
            return False
        return self.allowed_tools is None or any(
            _matches(tool_name, key) for key in self.allowed_tools
        )

    def unknown_allowed(self, tool_names: Iterable[str]) -> list[str]:
        """`allowed_tools` entries that are plain names the server does not have."""
        names = set(tool_names)
        return [
            key for key in self.allowed_tools or () if _GLOB.isdisjoint(key) and key not in names
        ]

    def local_tool_name(self, tool_name: str) -> str:
        """The agent's name for the server's tool: prefixed, and only `[A-Za-z0-9_-]`."""
        name = _NAME_CHARS.sub("_", tool_name) or "tool"
        return f"{self.prefix}_{name}" if self.prefix else name


def _matches(name: str, key: str) -> bool:
    return fnmatchcase(name, key) if not _GLOB.isdisjoint(key) else name == key


def default_name(info_name: str, fallback: str) -> str:
    """A short, path-safe name: "mcp-servers/everything" -> "everything", "mcp-time" -> "time"."""
    for raw in (info_name, Path(fallback.split("?")[0].rstrip("/")).name):
        name = raw.strip().rsplit("/", 1)[-1]
        for noise in _NOISE_PREFIXES:
            if name.lower().startswith(noise) and len(name) > len(noise):
                name = name[len(noise) :]
                break
        name = _NAME_CHARS.sub("-", name).strip("-")
        if name:
            return name
    return "server"
