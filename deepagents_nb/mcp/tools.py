"""`MCPTool`: one tool of an MCP server, as an agent `Tool`.

Its parameters are the JSON schema the server gave, and arguments are checked
against it before the call leaves (a bad call is an error result naming the
problem, as for any tool). The call itself runs on the server's session, on the
private loop; the result is converted by `convert.to_outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from deepagents_nb.mcp._loop import on_loop, run_on_loop
from deepagents_nb.mcp.connection import CallFailed, Connection
from deepagents_nb.mcp.convert import ArgsValidator, PathOf, to_outcome
from deepagents_nb.tools import Tool, ToolOutcome

if TYPE_CHECKING:
    import mcp_types

    from deepagents_nb.context import ToolContext


class MCPTool(Tool):
    """A tool the agent calls on an MCP server.

    Attributes:
        connection: The agent's session with the server.
        remote_name: The tool's name on the server (the agent's may carry a prefix).
    """

    __slots__ = ("_check", "_path_of", "connection", "remote_name")

    def __init__(
        self, name: str, spec: mcp_types.Tool, connection: Connection, path_of: PathOf
    ) -> None:
        schema: dict[str, Any] = dict(spec.input_schema or {"type": "object", "properties": {}})
        self.connection = connection
        self.remote_name = spec.name
        self._path_of = path_of
        self._check = ArgsValidator(name, schema)
        description = spec.description or spec.title or spec.name
        super().__init__(name, description, self._call_sync, schema)

    def __repr__(self) -> str:
        return f"MCPTool(name={self.name!r}, server={self.connection.name!r})"

    @property
    def source(self) -> str:
        """Where calls go, for events and approvals: `"mcp:<server>"`."""
        return f"mcp:{self.connection.name}"

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check `args` against the server's JSON schema (`ToolArgumentsError` if they fail)."""
        return self._check(args)

    async def invoke(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolOutcome:
        """Check the arguments, call the server, and convert its result."""
        return await on_loop(self._call(self.validate(args)))

    async def _call(self, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            result = await self.connection.call_tool(self.remote_name, arguments)
        except CallFailed as exc:
            return ToolOutcome(str(exc), is_error=True)
        return to_outcome(result, self._path_of)

    def _call_sync(self, **arguments: Any) -> ToolOutcome:
        """`tool(timezone="UTC")` in a notebook: the call, outside any agent."""
        return run_on_loop(self._call(self.validate(arguments)))
