"""The MCP SDK's transports, opened for one `MCPServer`, and watched for their end.

stdio runs the server as a subprocess (its stderr to a file of ours); HTTP is
streamable HTTP, or SSE for older servers. Each transport's read stream is
wrapped so the connection learns at once when the server's side ends (a stdio
server that exited), not only on the next call.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TextIO

from deepagents_nb.exceptions import MissingDependencyError
from deepagents_nb.mcp.server import MCPServer

if TYPE_CHECKING:
    from types import TracebackType

    import mcp_types
    from mcp.client._transport import Transport, TransportStreams
    from mcp.shared._stream_protocols import ReadStream
    from mcp.shared.message import SessionMessage
    from typing_extensions import Self

# The SDK's HTTP defaults: 30 s to connect and write, 300 s to read (a server may hold a stream).
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 300.0


def require_sdk() -> None:
    """Raise `MissingDependencyError` with the install hint when the `mcp` SDK is missing."""
    try:
        import mcp  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("MCP servers", "mcp") from exc


def client_info() -> mcp_types.Implementation:
    """How deepagents-nb introduces itself to servers."""
    import mcp_types

    try:
        from importlib.metadata import version

        ours = version("deepagents-nb")
    except Exception:
        ours = "0"
    return mcp_types.Implementation(name="deepagents-nb", version=ours)


def open_transport(
    server: MCPServer, kind: str, stderr: TextIO | None, on_eof: Callable[[], None]
) -> Transport:
    """The transport to `server`: `kind` is "stdio", "streamable-http" or "sse"."""
    if kind == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        assert server.command is not None and stderr is not None
        params = StdioServerParameters(
            command=server.command,
            args=list(server.args),
            env=dict(server.env) if server.env is not None else None,
            cwd=server.cwd,
        )
        return _watched(stdio_client(params, errlog=stderr), on_eof)
    assert server.url is not None
    headers = dict(server.headers or {})
    if kind == "sse":
        from mcp.client.sse import sse_client

        return _watched(
            sse_client(server.url, headers=headers or None, timeout=CONNECT_TIMEOUT), on_eof
        )
    return _watched(_streamable_http(server.url, headers), on_eof)


@contextlib.asynccontextmanager
async def _streamable_http(url: str, headers: dict[str, str]) -> AsyncIterator[TransportStreams]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    timeout = httpx2.Timeout(CONNECT_TIMEOUT, read=READ_TIMEOUT)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


@contextlib.asynccontextmanager
async def _watched(
    transport: Transport, on_eof: Callable[[], None]
) -> AsyncIterator[TransportStreams]:
    """`transport`, telling `on_eof` when the server's side of it ends."""
    async with transport as (read, write):
        yield _EOFWatch(read, on_eof), write


class _EOFWatch:
    """A transport's read stream that reports its end (the server exited) as it happens."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], on_eof: Callable[[], None]):
        self._inner = inner
        self._on_eof = on_eof

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # e.g. `last_context`, read by the SDK's dispatcher

    async def receive(self) -> SessionMessage | Exception:
        import anyio

        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_eof()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _EOFWatch:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None
