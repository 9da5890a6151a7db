"""What `%agent mcp` shows: each server's status, tools, resources and prompts.

`mcp_report(agent)` takes a snapshot; it shows as an HTML table in a notebook
and as plain text elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepagents_nb.mcp.connection import Connection
    from deepagents_nb.mcp.middleware import MCPMiddleware

_BOX = (
    "border:1px solid #d1d5db;border-radius:6px;padding:8px 12px;margin:4px 0;"
    "font-family:system-ui,sans-serif;font-size:13px"
)
_STATUS_COLOR = {
    "running": "#15803d",
    "starting": "#b45309",
    "crashed": "#b91c1c",
    "failed": "#b91c1c",
}


@dataclass(frozen=True)
class ServerStatus:
    """One server as the report shows it."""

    name: str
    status: str
    transport: str
    target: str
    server_info: str | None
    restarts: int
    last_error: str | None
    tools: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, connection: Connection, tools: Iterable[str]) -> ServerStatus:
        prompts = []
        for prompt in connection.prompts:
            args = ", ".join(a.name + ("" if a.required else "?") for a in (prompt.arguments or ()))
            text = f"{prompt.name}({args})"
            if prompt.description:
                text += f": {prompt.description}"
            prompts.append(text)
        return cls(
            name=connection.name,
            status=connection.status,
            transport=connection.transport,
            target=connection.server.target,
            server_info=connection.server_info,
            restarts=connection.restarts,
            last_error=connection.last_error,
            tools=list(tools),
            resources=[r.uri for r in connection.resources],
            prompts=prompts,
        )


class MCPReport:
    """A snapshot of an agent's MCP servers (what `%agent mcp` displays)."""

    def __init__(self, middleware: Sequence[MCPMiddleware]) -> None:
        self.servers: list[ServerStatus] = []
        for m in middleware:
            for connection in m.connections:
                tools = [t.name for t in (m._tools or ()) if t.connection is connection]
                self.servers.append(ServerStatus.of(connection, tools))

    def __repr__(self) -> str:
        if not self.servers:
            return "(no MCP servers)"
        lines = []
        for s in self.servers:
            restarts = f", restarted {s.restarts}x" if s.restarts else ""
            info = f" [{s.server_info}]" if s.server_info else ""
            lines.append(f"{s.name}: {s.status}{restarts} ({s.transport}: {s.target}){info}")
            lines.append(f"  tools: {', '.join(s.tools) or 'none'}")
            lines.append(f"  resources: {len(s.resources)}")
            lines.append(f"  prompts: {'; '.join(s.prompts) or 'none'}")
            if s.last_error and s.status != "running":
                lines.append(f"  last error: {s.last_error.splitlines()[0]}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.servers:
            return f"<div class='dnb-mcp' style='{_BOX}'><em>No MCP servers.</em></div>"
        rows = "".join(_row(s) for s in self.servers)
        head = "".join(
            f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
            for h in ("Server", "Status", "Tools", "Resources", "Prompts")
        )
        return (
            f"<div class='dnb-mcp' style='{_BOX}'><table style='border-collapse:collapse'>"
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per server (for a DataFrame: `pd.DataFrame(report.to_records())`)."""
        return [dict(s.__dict__) for s in self.servers]


def _row(s: ServerStatus) -> str:
    color = _STATUS_COLOR.get(s.status, "#6b7280")
    restarts = f"<br><small>restarted {s.restarts} times</small>" if s.restarts else ""
    error = (
        f"<br><small style='color:#b91c1c'>{escape(s.last_error.splitlines()[0])}</small>"
        if s.last_error and s.status != "running"
        else ""
    )
    info = f"<br><small>{escape(s.server_info)}</small>" if s.server_info else ""
    cell = "style='vertical-align:top;padding:2px 8px'"
    resources = "".join(f"<div><code>{escape(uri)}</code></div>" for uri in s.resources[:20])
    if len(s.resources) > 20:
        resources += f"<div><small>… {len(s.resources) - 20} more</small></div>"
    return (
        f"<tr><td {cell}><b>{escape(s.name)}</b><br><small>{escape(s.transport)}: "
        f"<code>{escape(s.target)}</code></small>{info}</td>"
        f"<td {cell}><span style='color:{color}'>{escape(s.status)}</span>{restarts}{error}</td>"
        f"<td {cell}>{'<br>'.join(f'<code>{escape(t)}</code>' for t in s.tools) or '—'}</td>"
        f"<td {cell}>{resources or '—'}</td>"
        f"<td {cell}>{'<br>'.join(escape(p) for p in s.prompts) or '—'}</td></tr>"
    )


def mcp_report(agent: Any) -> MCPReport:
    """The MCP servers of `agent` (a `DeepAgent`): what `%agent mcp` displays."""
    from deepagents_nb.mcp.middleware import MCPMiddleware

    found = [m for m in getattr(agent, "middleware", ()) if isinstance(m, MCPMiddleware)]
    return MCPReport(found)
