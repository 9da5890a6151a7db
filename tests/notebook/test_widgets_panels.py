"""Todo list, file browser, cost panel and chart, and the dashboard that holds them."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

import pandas as pd
import pytest
from widget_fakes import FakeClock, ManualTimer, fake_pacing, meta

from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.events import StateCheckpointed, TodosUpdated
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.charts import cost_axis, cost_figure, nice_step
from deepagents_nb.notebook.widgets import AgentDashboard, CostPanel, FileBrowser, Pacing, TodoList
from deepagents_nb.state import TodoItem

PLOTLY = "application/vnd.plotly.v1+json"


pytestmark = pytest.mark.filterwarnings("ignore:no price is known")


def usage_frame(costs: list[float | None]) -> pd.DataFrame:
    rows = [
        {
            "timestamp": datetime(2025, 1, 1, 12, 0, i, tzinfo=timezone.utc),
            "thread_id": "t",
            "agent": "agent" if i % 2 == 0 else "researcher",
            "provider": "anthropic",
            "model": "claude-sonnet-4-5" if i < 2 else "claude-haiku-4-5",
            "input_tokens": 1000 * (i + 1),
            "output_tokens": 100 * (i + 1),
            "cost_usd": math.nan if cost is None else cost,
        }
        for i, cost in enumerate(costs)
    ]
    return pd.DataFrame(rows)


def planning_script() -> list[object]:
    return [
        ToolCall(
            name="write_todos",
            args={
                "todos": [
                    {"content": "Research", "status": "completed"},
                    {"content": "Write <report>", "status": "in_progress"},
                    {"content": "Review", "status": "pending"},
                ]
            },
        ),
        ToolCall(name="write_file", args={"file_path": "/notes/a.md", "content": "alpha <b>"}),
        ToolCall(name="write_file", args={"file_path": "/b.txt", "content": "beta"}),
        "All written.",
    ]


def test_todo_list_shows_each_status() -> None:
    todos = TodoList()
    assert "No todos yet" in todos.items.value
    items = [TodoItem(content="Research", status="completed"), TodoItem(content="Write <it>")]
    todos.handle(TodosUpdated.counted(items, **meta()))
    assert "1/2 done" in todos.summary.value and todos.progress.value == 1
    assert "(completed)" in todos.items.value and "(pending)" in todos.items.value
    assert "Write &lt;it&gt;" in todos.items.value
    todos.handle(TodosUpdated.counted([], **meta(depth=1)))  # a sub-agent's own plan
    assert todos.todos == items


def test_file_browser_lists_files_and_shows_the_selected_one() -> None:
    files = FileBrowser(files={"/b.txt": "beta", "/a.md": "alpha <b>"})
    assert [value for _, value in files.select.options] == ["/a.md", "/b.txt"]
    assert files.select.options[0][0] == "/a.md  (9 chars)"
    assert "2 files" in files.summary.value
    assert "alpha &lt;b&gt;" in files.content.value  # the first file is shown at once
    files.select.value = "/b.txt"
    assert ">beta</pre>" in files.content.value

    files.update({"/b.txt": "beta 2", "/c.py": "print()"})
    assert files.select.value == "/b.txt" and "beta 2" in files.content.value
    files.update({})
    assert files.select.value is None and "No files." in files.content.value


def test_widgets_read_a_real_thread() -> None:
    agent = create_deep_agent(model=ScriptedModel(planning_script()))
    agent.handle_message("work", thread_id="w")
    todos, files = TodoList(agent, "w"), FileBrowser(agent, "w")
    assert "◐ Write &lt;report&gt; <small>(in_progress)</small>" in todos.items.value
    assert "now: Write &lt;report&gt;" in todos.summary.value
    assert files.files == {"/notes/a.md": "alpha <b>", "/b.txt": "beta"}
    files.select.value = "/notes/a.md"
    assert "alpha &lt;b&gt;" in files.content.value


def test_file_browser_rereads_after_checkpoints_throttled() -> None:
    agent = create_deep_agent(model=ScriptedModel(planning_script()))
    clock, timer = FakeClock(), ManualTimer()
    files = FileBrowser(agent, "w", pacing=Pacing(0.1, clock, timer))
    agent.handle_message("work", thread_id="w")
    checkpoint = StateCheckpointed(checkpoint_id="w:1", state_size_bytes=1, **meta())
    files.handle(checkpoint)  # first one reads at once
    assert len(files.files) == 2
    agent.delete_thread("w")
    files.handle(checkpoint)  # within a second: waits for the trailing timer
    assert len(files.files) == 2
    clock.advance(1.0)
    timer.fire()
    assert files.files == {}


def test_cost_figure_per_request_and_per_model() -> None:
    fig = cost_figure(usage_frame([0.01, 0.02, None, 0.005]))
    names = [trace.name for trace in fig.data]
    assert names == ["input tokens", "output tokens", "cost (USD)"] * 2
    per_request, per_model = fig.data[0], fig.data[3]
    assert list(per_request.x) == ["#1", "#2", "#3", "#4"]
    assert list(per_request.y) == [1000, 2000, 3000, 4000]
    assert list(per_model.x) == ["anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5"]
    assert list(per_model.y) == [7000, 3000]
    assert list(fig.data[5].y) == pytest.approx([0.005, 0.03])  # NaN left out, not $0


def test_cost_figure_with_unknown_costs_and_empty_frames() -> None:
    fig = cost_figure(usage_frame([None, None]))
    assert [t.name for t in fig.data] == ["input tokens", "output tokens"] * 2
    assert "cost unknown" in fig.layout.title.text
    for empty in (pd.DataFrame(), usage_frame([]).iloc[0:0]):
        fig = cost_figure(empty)
        assert fig.data == () and fig.layout.annotations[-1].text == "No model requests yet"


def test_cost_panel_shows_totals_chart_and_table() -> None:
    panel = CostPanel()
    assert "No model requests yet" in panel.totals.value and panel.table.value == ""
    assert PLOTLY in panel.chart.outputs[0]["data"]

    panel.update(usage_frame([0.01, None, 0.02]))
    assert "<b>3</b> requests" in panel.totals.value and "<b>6,000</b> in" in panel.totals.value
    assert "≥ $0.030000 (1 without a price)" in panel.totals.value
    bundle = panel.chart.outputs[0]["data"]
    assert len(bundle[PLOTLY]["data"]) == 6 and "text/html" in bundle
    assert "claude-haiku-4-5" in panel.table.value and "<td>—</td>" in panel.table.value


def test_cost_table_is_compact_with_every_column_one_click_away() -> None:
    panel = CostPanel()
    panel.update(usage_frame([0.0123, None, 0.02]))
    compact, _, full = panel.table.value.partition("<details")
    headers = re.findall(r"<th>([^<]*)</th>", compact)
    assert headers == ["time", "cost", "agent", "model", "in", "out"]  # cost near the left
    assert "<td>12:00:00</td>" in compact and "2025-01-01" not in compact  # short times
    assert "<td>$0.012300</td>" in compact and "<td>3,000</td>" in compact
    assert "white-space:nowrap" in panel.table.value  # no model name on three lines
    assert "<summary>All columns (8)</summary>" in full
    assert "input_tokens" in full and "2025-01-01 12:00:00" in full and "cost_usd" in full


def test_cost_axis_ticks_are_round_dollar_steps() -> None:
    assert [nice_step(top) for top in (0.01788, 0.5, 3.2, 0.00012)] == [0.005, 0.2, 1.0, 5e-05]
    assert nice_step(0.0) == 1.0 and nice_step(math.nan) == 1.0
    axis = cost_axis(0.01788)
    assert axis["dtick"] == 0.005 and axis["tick0"] == 0 and axis["tickformat"] == "$.3f"
    assert axis["range"] == pytest.approx([0, 0.021])
    fig = cost_figure(usage_frame([0.01, 0.02, None, 0.005]))
    per_request, per_model = fig.layout.yaxis2, fig.layout.yaxis4
    assert per_request.dtick == 0.005 and per_request.tickformat == "$.3f"
    assert per_model.dtick == 0.01 and per_model.tickformat == "$.2f"  # $0.03 for sonnet


def test_cost_panel_reads_the_agent_ledger_per_thread() -> None:
    off = CostPanel(create_deep_agent(model=ScriptedModel(["hi"]), token_tracking=False))
    assert "Token tracking is off" in off.totals.value

    agent = create_deep_agent(model=ScriptedModel(["one", "two"]), token_tracking=True)
    agent.handle_message("a", thread_id="x")
    agent.handle_message("b", thread_id="y")
    assert len(CostPanel(agent).frame) == 2
    panel = CostPanel(agent, "x")
    assert len(panel.frame) == 1 and "<b>1</b> requests" in panel.totals.value
    assert "cost unknown" in panel.totals.value


def test_dashboard_tabs_follow_a_streamed_run() -> None:
    agent = create_deep_agent(model=ScriptedModel(planning_script()), token_tracking=True)
    board = AgentDashboard(agent, "w", pacing=fake_pacing())
    assert board.tabs.titles == ("Events", "Todos", "Files", "Cost")
    for event in agent.stream("work", thread_id="w"):
        board.handle(event)
    board.flush()
    assert board.tabs.titles[1] == "Todos (1/3)"  # from the TodosUpdated event, live
    board.refresh()
    assert board.tabs.titles == ("Events", "Todos (1/3)", "Files (2)", "Cost")
    assert (
        "All written." in board.event_log.html and "<code>write_file</code>" in board.event_log.html
    )
    assert set(board.files.files) == {"/notes/a.md", "/b.txt"}
    assert len(board.cost.frame) == 4
    assert board.tabs.children[3] is board.cost.widget
    assert "application/vnd.jupyter.widget-view+json" in board._repr_mimebundle_()
