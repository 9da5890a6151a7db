"""Real MCP servers for the tests, and the one place an agent with MCP servers is built.

No `__init__.py` in this folder on purpose: pytest puts `tests/` on sys.path (for
`tests/kernel`), and a package here named `mcp` would hide the MCP SDK.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helpers import require_service

from deepagents_nb import DeepAgent, create_deep_agent
from deepagents_nb.mcp import MCPMiddleware, MCPServer

# Where .ci/run installs @modelcontextprotocol/server-everything (and exports its path).
NPM_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deepagents-nb"
DEFAULT_EVERYTHING = (
    NPM_CACHE / "mcp-npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)


def require_python_server(module: str) -> None:
    require_service(
        module,
        importlib.util.find_spec(module) is not None,
        f"pip install -e '.[dev]' installs {module.replace('_', '-')}",
    )


def everything_js() -> str:
    """The reference server's entry point (node), or a skip (a failure in CI)."""
    path = Path(os.environ.get("DEEPAGENTS_NB_MCP_EVERYTHING") or DEFAULT_EVERYTHING)
    node = shutil.which("node")
    require_service(
        "@modelcontextprotocol/server-everything",
        path.is_file() and node is not None,
        f"node and {path}: .ci/run installs it with npm",
    )
    return str(path)


# ----- servers ---------------------------------------------------------------------------------


def time_server(**options: Any) -> MCPServer:
    require_python_server("mcp_server_time")
    args = ["-m", "mcp_server_time", "--local-timezone", "UTC"]
    return MCPServer.stdio(sys.executable, args, **options)


def git_server(repository: Path, **options: Any) -> MCPServer:
    require_python_server("mcp_server_git")
    args = ["-m", "mcp_server_git", "--repository", str(repository)]
    return MCPServer.stdio(sys.executable, args, **options)


def everything_stdio(**options: Any) -> MCPServer:
    return MCPServer.stdio("node", [everything_js(), "stdio"], **options)


def build_agent(model: Any, servers: Iterable[MCPServer], **options: Any) -> DeepAgent:
    """An agent with these MCP servers (their resources under /mcp/ included)."""
    return create_deep_agent(model=model, mcp_servers=list(servers), **options)


def mcp_of(agent: DeepAgent) -> MCPMiddleware:
    found = [m for m in agent.middleware if isinstance(m, MCPMiddleware)]
    assert len(found) == 1
    return found[0]


# ----- processes -------------------------------------------------------------------------------


def child_pids(marker: str) -> list[int]:
    """This process's children whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and marker in cmdline:
            found.append(int(entry.name))
    return found


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def everything_http(mode: str = "streamableHttp") -> Iterator[str]:
    """The reference server over HTTP (`streamableHttp` or `sse`) on a free port; its base URL."""
    entry = everything_js()
    port = free_port()
    process = subprocess.Popen(
        ["node", entry, mode],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(
                        f"server-everything ({mode}) did not start: {error}"
                    ) from exc
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
