"""`%agent mcp` lists an agent's MCP servers, through IPython's in-process shell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from mcp_support import build_agent, time_server

from deepagents_nb.mcp import MCPReport
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.magics import COMMANDS

pytest.importorskip("mcp")
pytestmark = pytest.mark.skipif(
    "mcp" not in COMMANDS, reason="%agent mcp is not wired into notebook/magics.py yet"
)


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "deepagents_nb")
    yield ip
    ip.user_ns.pop("clock", None)


def test_agent_mcp_lists_servers_status_and_tools(shell: InteractiveShell) -> None:
    agent = build_agent(ScriptedModel(["hi"]), [time_server()])
    shell.user_ns["clock"] = agent
    try:
        report = shell.run_line_magic("agent", "mcp -a clock")
    finally:
        agent.close()
    assert isinstance(report, MCPReport)
    first = repr(report).splitlines()
    assert first[0].startswith("time: running (stdio: python -m mcp_server_time")
    assert first[1] == "  tools: get_current_time, convert_time"
    assert "<b>time</b>" in report._repr_html_()
