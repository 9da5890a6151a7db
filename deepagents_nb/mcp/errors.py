"""`MCPServerError`, and reading the SDK's exceptions for what went wrong.

`MCPServerError` is raised when an agent is built (its servers start then, to
learn their tools). A failing call is never raised: it becomes an error result
the model reads. The SDK raises from task groups, so the helpers here look at
the leaves of (nested) exception groups.
"""

from __future__ import annotations

from deepagents_nb.exceptions import DeepAgentsError

STDERR_TAIL_LINES = 15
STDERR_TAIL_CHARS = 2000
CONNECTION_CLOSED = -32000  # the SDK's code when the transport ended (servers use it too)
_NETWORK_ERRORS = (
    "ConnectError",
    "RemoteProtocolError",
    "ReadError",
    "WriteError",
    "BrokenResourceError",
    "ClosedResourceError",
)


class MCPServerError(DeepAgentsError):
    """An MCP server failed to start, or stopped answering.

    Attributes:
        server: The server's name (or its command or URL, before it had one).
        target: Its command line or URL.
        problem: What went wrong, as the message says it.
        stderr_tail: The last lines it wrote to stderr (stdio servers), or "".
    """

    def __init__(self, server: str, target: str, problem: str, stderr_tail: str = "") -> None:
        self.server = server
        self.target = target
        self.problem = problem
        self.stderr_tail = stderr_tail
        where = f"MCP server {server!r}" if server != target else "MCP server"
        message = f"{where} ({target}) {problem}"
        if stderr_tail:
            message += f"\nIts stderr ended with:\n{stderr_tail}"
        super().__init__(message)


def tail(text: str, lines: int = STDERR_TAIL_LINES, chars: int = STDERR_TAIL_CHARS) -> str:
    """The last `lines` lines of `text`, at most `chars` characters, indented for an error."""
    kept = text.rstrip().splitlines()[-lines:]
    shown = "\n".join(kept)[-chars:]
    return "\n".join(f"  | {line}" for line in shown.splitlines())


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or `exc` itself."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, tuple) and inner:
        return [leaf for sub in inner for leaf in leaves(sub)]
    return [exc]


def describe(exc: BaseException) -> str:
    """`Type: message` of each leaf of `exc`."""
    return "; ".join(
        f"{type(e).__name__}: {e}" if str(e) else type(e).__name__ for e in leaves(exc)
    )


def _code(exc: BaseException) -> int | None:
    code = getattr(getattr(exc, "error", None), "code", None)  # an MCPError's ErrorData
    return code if isinstance(code, int) else None


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the connection ended (the server exited, the network failed)."""
    for leaf in leaves(exc):
        if _code(leaf) == CONNECTION_CLOSED and "closed" in str(leaf).lower():
            return True
        if isinstance(leaf, ConnectionError | EOFError) or type(leaf).__name__ in _NETWORK_ERRORS:
            return True
    return False


def refused_by_http(exc: BaseException) -> bool:
    """Whether a streamable-HTTP handshake got an HTTP error back (as an SSE-only server gives)."""
    return any(_code(leaf) not in (None, CONNECTION_CLOSED) for leaf in leaves(exc))


def start_problem(
    exc: BaseException, *, stdio: bool, command: str | None, start_timeout: float, eof: bool
) -> str:
    """Why a server did not start, in words a user can act on."""
    leaf = leaves(exc)[0]
    if isinstance(leaf, FileNotFoundError) and stdio:
        return (
            f"could not start: the command {command!r} was not found "
            f"(is it installed, and on PATH?)"
        )
    if isinstance(leaf, PermissionError) and stdio:
        return f"could not start: the command {command!r} is not executable"
    if isinstance(leaf, TimeoutError):
        return (
            f"did not answer the MCP handshake within {start_timeout:g} s "
            f"(start_timeout=); it was stopped"
        )
    if eof or _code(leaf) == CONNECTION_CLOSED:
        if stdio:
            return "exited before answering the MCP handshake"
        return "closed the connection during the MCP handshake"
    if not stdio and type(leaf).__name__ in ("ConnectError", "ConnectTimeout"):
        return f"could not be reached: {describe(leaf)}"
    return f"failed to start: {describe(leaf)}"
