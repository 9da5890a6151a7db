"""`RunView.start`: a background run streams into the view; Cancel keeps completed steps."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from widget_fakes import fake_pacing

from deepagents_nb import (
    ConfigurationError,
    HitlPolicy,
    InMemoryCheckpointer,
    ToolCall,
    create_deep_agent,
)
from deepagents_nb.background import RunCancelledError, RunHandle
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptedModel
from deepagents_nb.notebook.widgets import RunView


def write(path: str, content: str) -> ToolCall:
    return ToolCall(name="write_file", args={"file_path": path, "content": content})


def gated_steps(gate: threading.Event, then: str | None = None) -> FunctionModel:
    """Writes /step0.md and /step1.md, then waits for `gate` before each further step."""

    async def respond(request: ModelRequest) -> ToolCall | str:
        steps = sum(1 for m in request.messages if m.role == "tool")
        if steps >= 2:
            while not gate.is_set():
                await asyncio.sleep(0.01)
            if then is not None:
                return then
        return write(f"/step{steps}.md", "x")

    return FunctionModel(respond)


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def started(model: FunctionModel | ScriptedModel, **kwargs: object) -> tuple[RunView, RunHandle]:
    agent = create_deep_agent(model=model, **kwargs)  # type: ignore[arg-type]
    view = RunView(agent, "bg", pacing=fake_pacing())
    assert view.background.widget.layout.display == "none"  # hidden until a run starts
    return view, view.start("work")


def test_cancel_stops_the_run_and_keeps_its_completed_steps() -> None:
    gate = threading.Event()
    view, handle = started(gated_steps(gate))
    until(lambda: handle.steps == 2)
    until(lambda: "2 steps saved" in view.background.status.value)
    assert not handle.done() and view.background.widget.layout.display is None
    assert "⏳ running (2 steps saved, last tool write_file" in view.background.status.value

    view.background.cancel_button.click()
    assert "Cancelled: cancelled after 2 steps saved" in view.background.status.value
    assert view.wait(5) and view.background.cancel_button.disabled
    assert "Cancelled: cancelled after 2 steps saved" in view.background.status.value
    with pytest.raises(RunCancelledError):
        handle.result(timeout=1)

    state = view.agent.get_state("bg")
    assert set(state.files) == {"/step0.md", "/step1.md"}
    assert set(view.dashboard.files.files) == {"/step0.md", "/step1.md"}  # refreshed
    log = view.dashboard.event_log.html
    assert log.index("▶ work") < log.index("/step0.md") < log.index("/step1.md")
    gate.set()


def test_other_work_goes_on_while_the_run_waits_and_the_view_shows_its_end() -> None:
    gate = threading.Event()
    view, handle = started(gated_steps(gate, then="All steps done."))
    until(lambda: handle.steps == 2)
    assert not handle.done() and view.result is None  # the caller was free meanwhile
    gate.set()
    assert handle.result(timeout=5).text == "All steps done."
    assert view.wait(5)
    assert "✔ finished (3 steps saved" in view.background.status.value
    assert view.result is not None and view.result.text == "All steps done."
    assert "All steps done." in view.dashboard.event_log.html
    assert view.background.cancel_button.disabled
    view.background.cancel_button.click()  # nothing left to cancel
    assert not view.cancel()


def test_a_paused_background_run_brings_its_approval() -> None:
    script: list[ToolCall | str] = [write("/plan.md", "plan"), "Saved."]
    view, handle = started(
        ScriptedModel(script),
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"write_file": HitlPolicy(note="check")},
    )
    assert handle.result(timeout=5).interrupt is not None
    assert view.wait(5)
    approval = view.approval
    assert approval is not None and view.approvals.children == (approval.widget,)
    assert "✔ finished" in view.background.status.value
    approval.approve_button.click()
    assert view.agent.get_state("bg").files == {"/plan.md": "plan"}
    assert view.result is not None and view.result.text == "Saved."


def test_a_failing_background_run_says_so() -> None:
    view, handle = started(ScriptedModel([]))
    assert view.wait(5)
    assert handle.done() and "✗ failed with ModelBehaviorError" in view.background.status.value
    assert "ModelBehaviorError" in view.dashboard.event_log.html


def test_one_background_run_at_a_time() -> None:
    gate = threading.Event()
    view, handle = started(gated_steps(gate))
    with pytest.raises(ConfigurationError, match="already follows a background run"):
        view.start("more work")
    assert view.cancel() and view.wait(5)
    gate.set()
    assert handle.cancelled()
