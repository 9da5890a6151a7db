"""MCP servers for an agent: their tools as tools, their resources as read-only files.

    from deepagents_nb.mcp import MCPMiddleware, MCPServer

    time = MCPServer.stdio("uvx", ["mcp-server-time"])
    agent = create_deep_agent(model=..., middleware=[MCPMiddleware([time])])

Built on the official `mcp` SDK (`pip install "deepagents-nb[mcp]"`), which is
imported only when a server starts. Modules: `server` (what to reach),
`transports` and `connection` (one live session, its faults in `errors`),
`tools` and `convert` (calls and results), `resources` (files under /mcp/),
`middleware` (what the agent uses), `report` (what `%agent mcp` shows).
"""

from __future__ import annotations

from deepagents_nb.mcp.errors import MCPServerError
from deepagents_nb.mcp.middleware import MCPMiddleware
from deepagents_nb.mcp.report import MCPReport, mcp_report
from deepagents_nb.mcp.resources import MCPResourceBackend, resource_path
from deepagents_nb.mcp.server import MCPServer
from deepagents_nb.mcp.tools import MCPTool

__all__ = [
    "MCPMiddleware",
    "MCPReport",
    "MCPResourceBackend",
    "MCPServer",
    "MCPServerError",
    "MCPTool",
    "mcp_report",
    "resource_path",
]
