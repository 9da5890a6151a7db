"""agent.map in the notebook: the progress widget and `%%agent --map`."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from widget_fakes import fake_pacing

from deepagents_nb import create_deep_agent
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptItem
from deepagents_nb.notebook.widgets.batch import BatchProgressWidget


def label(request: ModelRequest) -> ScriptItem:
    text = request.messages[-1].content
    if "broken" in text:
        raise ValueError("cannot read it")
    return "negative" if "bad" in text else "positive"


def test_the_widget_counts_rows_by_status_with_tokens_and_errors() -> None:
    agent = create_deep_agent(model=FunctionModel(label))
    widget = BatchProgressWidget(pacing=fake_pacing())

    out = agent.map(["good", "bad", "broken"], batch_id="w", progress=widget)

    html = widget.html
    assert "<b>w</b>: 3 of 3 rows" in html
    assert ">2 done</span>" in html and ">1 failed</span>" in html and "0 remaining" in html
    assert f"{int(out.total_tokens.sum()):,} tokens" in html
    assert "1 rows: ValueError" in html
    assert widget.bar.value == 3 and widget.bar.bar_style == "warning"


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "deepagents_nb")
    yield ip
    for name in ("tagger", "reviews", "tags"):
        ip.user_ns.pop(name, None)


def test_map_cell_magic_runs_the_cell_over_a_dataframe(shell: InteractiveShell) -> None:
    shell.user_ns["tagger"] = create_deep_agent(model=FunctionModel(label))
    shell.user_ns["reviews"] = pd.DataFrame({"text": ["bad soup", "nice tea"]}, index=["x", "y"])

    shell.run_cell_magic("agent", "-a tagger --map reviews -o tags --no-widgets", "Tag: {text}")

    tags = shell.user_ns["tags"]
    assert tags.output.to_dict() == {"x": "negative", "y": "positive"}
    with pytest.raises(UsageError, match=r"uses \{body\}"):
        shell.run_cell_magic("agent", "-a tagger --map reviews --no-widgets", "Tag: {body}")
    with pytest.raises(UsageError, match="--map nothing: no such variable"):
        shell.run_cell_magic("agent", "-a tagger --map nothing --no-widgets", "Tag: {text}")


def test_paused_rows_are_decided_from_the_list_and_the_next_map_carries_them_out() -> None:
    from deepagents_nb import InMemoryCheckpointer, ToolCall, tool
    from deepagents_nb.notebook.widgets import BatchApprovalWidget

    sent: list[str] = []

    @tool
    def send(to: str) -> str:
        """Send a mail."""
        sent.append(to)
        return "sent"

    def model(request: ModelRequest) -> ScriptItem:
        last = request.messages[-1]
        return ToolCall("send", {"to": last.content}) if last.role == "user" else last.content

    agent = create_deep_agent(
        model=FunctionModel(model),
        tools=[send],
        interrupt_on={"send": True},
        checkpointer=InMemoryCheckpointer(),
    )
    people = ["ann", "bob", "cy"]
    agent.map(people, batch_id="mail", progress=False)
    view = BatchApprovalWidget(agent, "mail")
    assert view.boxes[0].description == 'row 0: send {"to": "ann"}'

    view.select(0, 2)
    view.widget.children[2].children[0].click()  # Approve selected
    view.reason.value = "not bob"
    view.widget.children[2].children[3].click()  # Reject all (the rest)

    assert sent == [] and view.decided == {"0": "approved", "2": "approved", "1": "rejected"}
    assert "2 approved · 1 rejected · 0 undecided" in view.status.value
    assert all(box.disabled for box in view.boxes)
    out = agent.map(people, batch_id="mail", progress=False)
    assert sent == ["ann", "cy"] and out.status.eq("done").all()
    assert "Reason: not bob" in out.output[1]


def test_a_background_batch_runs_while_cells_do_and_its_cancel_button_stops_it() -> None:
    import asyncio
    import threading

    from deepagents_nb import InMemoryCheckpointer
    from deepagents_nb.batch.handle import BatchCancelledError

    release = threading.Event()
    asked: list[str] = []

    async def slow(request: ModelRequest) -> ScriptItem:
        text = request.messages[-1].content
        asked.append(text)
        while text != "quick" and not release.is_set():  # keeps this row running
            await asyncio.sleep(0.01)
        return "ok"

    agent = create_deep_agent(model=FunctionModel(slow), checkpointer=InMemoryCheckpointer())
    widget = BatchProgressWidget(pacing=fake_pacing(), on_cancel=lambda: handle.cancel())
    handle = agent.start_map(
        ["quick", "slow"], batch_id="bg", progress=widget, concurrency=1
    )  # returns at once
    assert not handle.done()
    while "slow" not in asked:  # the quick row is done, the slow one is running
        threading.Event().wait(0.01)

    widget.cancel_button.click()

    assert handle.wait(10) and widget.cancel_button.disabled
    release.set()
    with pytest.raises(BatchCancelledError, match="the same map call resumes it"):
        handle.result()
    assert "Cancelled: the finished rows are stored" in widget.html
    asked.clear()
    again = agent.map(["quick", "slow"], batch_id="bg", progress=False)
    assert again.status.eq("done").all() and asked == ["slow"]  # the quick row was kept


def test_a_background_batch_gives_its_dataframe() -> None:
    agent = create_deep_agent(model=FunctionModel(label))

    handle = agent.start_map(["bad", "good"], batch_id="ok", progress=False)

    assert handle.wait(10)
    assert handle.result().output.tolist() == ["negative", "positive"]
    assert repr(handle) == "BatchHandle('ok', done)"
