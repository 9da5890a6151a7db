"""Structured output in the notebook: `%%agent --output-type`, the answer as a table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from pydantic import BaseModel
from widget_fakes import fake_pacing

from deepagents_nb import HitlAction, InMemoryCheckpointer, ToolCall, create_deep_agent, tool
from deepagents_nb.display import output_html
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.widgets import RunView
from deepagents_nb.output import FINAL_ANSWER


class City(BaseModel):
    name: str
    population: int


CITIES = [City(name="Oslo", population=709_000), City(name="Lima <Peru>", population=10)]


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "deepagents_nb")
    yield ip
    for name in ("bot", "City", "found"):
        ip.user_ns.pop(name, None)


def test_output_type_option_stores_the_typed_result(shell: InteractiveShell) -> None:
    shell.user_ns.update(bot=create_deep_agent(model=ScriptedModel([CITIES])), City=list[City])

    shell.run_cell_magic("agent", "-a bot -o found --output-type City --no-widgets", "Cities?")

    assert shell.user_ns["found"].output == CITIES
    with pytest.raises(UsageError, match="--output-type Town: no such name"):
        shell.run_cell_magic("agent", "-a bot --output-type Town --no-widgets", "Cities?")


def test_the_answer_and_the_saved_copy_show_the_output_as_a_table() -> None:
    agent = create_deep_agent(model=ScriptedModel([CITIES]))
    view = RunView(agent, "cities", pacing=fake_pacing())

    result = view.run("Cities?", output_type=list[City])

    assert result.output == CITIES
    for html in (view.answer.value, view.static_html()):
        assert "<table class='dnb-output'" in html
        assert "<th style='border:1px solid #e5e7eb;padding:2px 8px;text-align:left;" in html
        assert ">709000</td>" in html and "Lima &lt;Peru&gt;" in html


def test_output_html_shapes() -> None:
    assert output_html({"name": "Oslo", "tags": ["a"]}).count("<tr>") == 2
    assert output_html(3) == "<code class='dnb-output'>3</code>"
    assert output_html([]) == "<code class='dnb-output'>[]</code>"


def test_a_resumed_run_keeps_the_views_output_type() -> None:
    @tool
    def deploy(version: str) -> str:
        """Deploy."""
        return "ok"

    answer = {"name": "Oslo", "population": 1}
    model = ScriptedModel([[ToolCall("deploy", {"version": "1"}), ToolCall(FINAL_ANSWER, answer)]])
    agent = create_deep_agent(
        model=model,
        tools=[deploy],
        interrupt_on={"deploy": True},
        checkpointer=InMemoryCheckpointer(),
    )
    view = RunView(agent, "ops", pacing=fake_pacing())

    paused = view.run("Deploy and report.", output_type=City)
    assert paused.interrupt is not None and view.approval is not None

    done = view.resume(HitlAction.accept())

    assert done.output == City(name="Oslo", population=1)
    assert "<table class='dnb-output'" in view.answer.value


def test_the_event_log_shows_the_output_filling_in() -> None:
    import json

    from deepagents_nb.events import OutputDelta
    from deepagents_nb.notebook.widgets import EventLog

    log = EventLog(pacing=fake_pacing())
    meta = {"thread_id": "t", "run_id": "r", "agent_name": "agent"}
    log.handle(OutputDelta(value={"name": "Os"}, **meta))
    log.flush()
    assert "filling in…" in log.html and ">Os</td>" in log.html

    log.handle(OutputDelta(value={"name": "Oslo", "population": 1}, final=True, **meta))
    log.flush()
    assert "filling in" not in log.html and ">Oslo</td>" in log.html and ">1</td>" in log.html
    assert log.html.count("dnb-output-entry") == 1  # one entry, updated in place

    streamed = create_deep_agent(
        model=ScriptedModel([json.dumps({"name": "Lima", "population": 10})]),
        output_type=City,
        output_mode="native",
    )
    view = RunView(streamed, "s", pacing=fake_pacing())
    view.run("City?")
    assert view.dashboard.event_log.html.count("dnb-output-entry") == 1
    assert ">Lima</td>" in view.dashboard.event_log.html
