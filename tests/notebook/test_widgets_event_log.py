"""`EventLog`: streamed text, collapsible tool calls, red errors, nesting, cap, throttling."""

from __future__ import annotations

from typing import Any

from widget_fakes import FakeClock, ManualTimer, fake_pacing, meta

from deepagents_nb import ToolCall, create_deep_agent, tool
from deepagents_nb.events import (
    AgentCompleted,
    AgentFailed,
    AgentStarted,
    InterruptRaised,
    StreamingToken,
    SubAgentCompleted,
    SubAgentStarted,
    TodosUpdated,
    TokenUsage,
    ToolCompleted,
    ToolFailed,
    ToolStarted,
)
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.widgets import EventLog, Pacing
from deepagents_nb.state import TodoItem
from deepagents_nb.usage import Usage


def tokens(*pieces: str, **kw: Any) -> list[StreamingToken]:
    return [StreamingToken(token=p, **meta(**kw)) for p in pieces]


def started(name: str, call_id: str, args: dict[str, Any], **kw: Any) -> ToolStarted:
    summary = str(args)
    return ToolStarted(
        tool_name=name, call_id=call_id, input_summary=summary, args=args, **meta(**kw)
    )


def test_text_streams_into_one_block_and_tool_calls_collapse() -> None:
    log = EventLog(pacing=fake_pacing())
    log.handle(AgentStarted(message_preview="What is 2+2?", **meta()))
    for event in tokens("Let me ", "compute."):
        log.handle(event)
    log.handle(started("add", "c1", {"a": 2, "b": 2}))
    log.handle(
        ToolCompleted(tool_name="add", call_id="c1", duration_ms=3, result_summary="4", **meta())
    )
    for event in tokens("It is ", "4."):
        log.handle(event)
    log.handle(
        AgentCompleted(duration_ms=9, response_preview="It is 4.", response="It is 4.", **meta())
    )
    log.flush()

    html = log.html
    assert "▶ What is 2+2?" in html
    assert "Let me compute." in html and "It is 4." in html
    assert html.count("It is 4.") == 1  # streamed text is not repeated from AgentCompleted
    assert "<details class='dnb-tool'><summary>🔧 <code>add</code>" in html
    assert "&quot;a&quot;: 2" in html and "<pre class='dnb-result'" in html and ">4</pre>" in html
    # Text, tool, text: the tool call ended the first text block.
    assert html.index("Let me compute.") < html.index("<code>add</code>") < html.index("It is 4.")
    assert log.events == 8


def test_errors_are_red_and_text_is_escaped() -> None:
    log = EventLog(pacing=fake_pacing())
    log.handle(started("<script>", "c1", {"x": "<img src=x>"}))
    log.handle(
        ToolFailed(
            tool_name="<script>", call_id="c1", duration_ms=1, error_message="bad <b>", **meta()
        )
    )
    log.handle(
        AgentFailed(duration_ms=5, error_type="ModelAPIError", error_message="429 <slow>", **meta())
    )
    log.flush()

    html = log.html
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "bad &lt;b&gt;" in html
    assert "class='dnb-tool dnb-error' style='color:#b91c1c'" in html
    assert "dnb-note dnb-error' style='color:#b91c1c" in html
    assert "✗ ModelAPIError: 429 &lt;slow&gt;" in html


def test_sub_agent_output_is_nested_under_its_name() -> None:
    log = EventLog(pacing=fake_pacing())
    log.handle(
        SubAgentStarted(
            subagent_name="researcher", instruction_summary="dig", delegation_depth=1, **meta()
        )
    )
    for event in tokens("found it", agent="researcher", depth=1, run_id="r2"):
        log.handle(event)
    log.handle(started("grep", "c9", {"pattern": "x"}, agent="researcher", depth=1, run_id="r2"))
    log.handle(
        SubAgentCompleted(
            subagent_name="researcher", duration_ms=1200, result_summary="ok", **meta()
        )
    )
    log.flush()

    entries = [child.value for child in log.body.children]
    assert "⇢ sub-agent researcher: dig" in entries[0] and "margin-left" not in entries[0]
    for nested in entries[1:3]:
        assert "dnb-sub" in nested and "margin-left:1.5em" in nested
        assert "<small style='color:#4f46e5'>researcher</small>" in nested
    assert "found it" in entries[1] and "<code>grep</code>" in entries[2]
    assert "⇠ sub-agent researcher finished (1.2 s)" in entries[3]


def test_status_lines_and_a_non_streaming_answer() -> None:
    log = EventLog(pacing=fake_pacing())
    todos = [TodoItem(content="a", status="completed"), TodoItem(content="b")]
    log.handle(TodosUpdated.counted(todos, **meta()))
    log.handle(InterruptRaised(tool_name="deploy", call_id="d", policy_note="careful", **meta()))
    usage = Usage(input_tokens=1, output_tokens=1)
    log.handle(TokenUsage(usage=usage, provider="p", model="m", duration_ms=1, **meta()))
    log.handle(AgentCompleted(duration_ms=1, response_preview="Done", response="Done.", **meta()))
    log.flush()
    html = log.html
    assert "☑ plan updated: 1/2 done" in html
    assert "⏸ approval needed for deploy: careful" in html
    assert "Done." in html  # the model did not stream, so the answer comes from AgentCompleted
    assert len(log.body.children) == 3  # token usage is not a log line


def test_five_thousand_events_redraw_rarely_and_flush_shows_the_last() -> None:
    clock = FakeClock()
    log = EventLog(pacing=Pacing(0.1, clock, None))
    log.handle(StreamingToken(token="start ", **meta()))
    text = log.body.children[0]
    assigned: list[str] = []
    text.observe(lambda change: assigned.append(change["new"]), names="value")

    for i in range(5000):
        log.handle(StreamingToken(token=f"t{i} ", **meta()))
        clock.advance(0.001)  # 5,000 tokens over five seconds

    assert len(assigned) <= 55  # about one redraw per 0.1 s, not 5,000
    assert "t4999" not in text.value
    log.flush()
    assert "t4999" in text.value and "start t0 t1" in text.value
    assert len(assigned) <= 56


def test_thousands_of_tool_calls_are_capped_and_old_widgets_closed() -> None:
    clock = FakeClock()
    log = EventLog(max_entries=50, pacing=Pacing(0.1, clock, None))
    children_sets: list[object] = []
    log.body.observe(lambda change: children_sets.append(change["new"]), names="children")
    first_widgets: list[Any] = []
    for i in range(2500):
        log.handle(started("lookup", f"c{i}", {"key": i}))
        log.handle(
            ToolCompleted(
                tool_name="lookup", call_id=f"c{i}", duration_ms=1, result_summary=f"v{i}", **meta()
            )
        )
        clock.advance(0.0005)
        if i == 0:
            first_widgets = list(log.body.children)
    log.flush()

    assert len(children_sets) <= 30  # 5,000 events in 1.25 s of fake time
    assert len(log.body.children) == 51  # the note about hidden entries, then the last 50
    assert "2,450 earlier entries not shown" in log.body.children[0].value
    assert "v2499" in log.html and "v2449" not in log.html
    assert first_widgets and all(w.comm is None for w in first_widgets)  # closed


def test_trailing_redraw_shows_the_tool_that_keeps_the_stream_quiet() -> None:
    clock, timer = FakeClock(), ManualTimer()
    log = EventLog(pacing=Pacing(0.1, clock, timer))
    log.handle(StreamingToken(token="Checking", **meta()))
    log.handle(started("slow_tool", "c1", {}))  # within the interval: not drawn yet
    assert "slow_tool" not in log.html
    clock.advance(0.1)
    timer.fire()  # no further event arrives while the tool runs; the timer draws it
    assert "slow_tool" in log.html and "running…" in log.html


def test_a_real_streamed_run() -> None:
    @tool
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    model = ScriptedModel([ToolCall(name="shout", args={"text": "hi"}), "Shouted for you."])
    agent = create_deep_agent(model=model, tools=[shout])
    log = EventLog(pacing=fake_pacing())
    run = agent.stream("shout hi", thread_id="t")
    for event in run:
        log.handle(event)
    log.flush()
    assert "<code>shout</code>" in log.html and ">HI</pre>" in log.html
    assert "Shouted for you." in log.html

    log.clear()
    assert log.html == "" and log.hidden == 0
