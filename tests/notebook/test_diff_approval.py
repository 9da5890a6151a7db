"""Diff approvals and sub-agent paths in `ApprovalWidget`, with real clicks."""

from __future__ import annotations

from typing import Any

from widget_fakes import fake_pacing

from deepagents_nb import HitlAction, HitlPolicy, InMemoryCheckpointer, ToolCall, create_deep_agent
from deepagents_nb.agent import DeepAgent
from deepagents_nb.display import diff_html
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptedModel
from deepagents_nb.notebook.widgets import ApprovalWidget, RunView

PLAN = "step one\nstep two\n"


def write(path: str, content: str) -> ToolCall:
    return ToolCall(name="write_file", args={"file_path": path, "content": content})


def edit(path: str, old: str, new: str) -> ToolCall:
    return ToolCall(
        name="edit_file", args={"file_path": path, "old_string": old, "new_string": new}
    )


def paused(script: list[Any], gated: str, **kwargs: Any) -> tuple[RunView, ApprovalWidget]:
    agent = create_deep_agent(
        model=ScriptedModel(script),
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={gated: HitlPolicy(note="Check the change")},
        **kwargs,
    )
    view = RunView(agent, "t", pacing=fake_pacing())
    assert view.run("go").interrupt is not None
    assert view.approval is not None
    return view, view.approval


def header(approval: ApprovalWidget) -> str:
    value: str = approval.widget.children[0].value
    return value


def test_a_gated_write_shows_a_coloured_diff_instead_of_json() -> None:
    view, approval = paused([write("/plan.md", "<b>step</b> one\n"), "ok"], "write_file")
    html = header(approval)
    assert "<code>write_file</code> on <code>/plan.md</code>" in html
    assert "Check the change" in html and "class='dnb-diff'" in html
    assert "color:#166534;background:#dcfce7'>+&lt;b&gt;step&lt;/b&gt; one</span>" in html
    assert "color:#6b7280'>@@ -0,0 +1 @@</span>" in html
    assert "&quot;content&quot;" not in html  # no JSON arguments
    assert "+&lt;b&gt;step&lt;/b&gt; one</span>" in view.static_html()  # the saved copy too


def test_diff_html_colours_removed_lines_red_and_keeps_context_plain() -> None:
    html = diff_html("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n same\n-old\n+new\n")
    assert "color:#991b1b;background:#fee2e2'>-old</span>" in html
    assert "<span style='display:block;'> same</span>" in html
    assert "font-weight:600'>--- a/x</span>" in html


def test_edit_of_a_write_sends_the_edited_text_and_the_file_gets_it() -> None:
    view, approval = paused([write("/plan.md", PLAN), "Saved the plan."], "write_file")
    approval.edit_button.click()
    assert approval.form.children == (approval.file_text.widget,)
    assert approval.file_text.editor.value == PLAN
    approval.file_text.editor.value = "step one\nstep 2\nstep three\n"
    approval.file_text.send.click()

    assert approval.decision == HitlAction.edit(
        tool_name="write_file",
        tool_args={"file_path": "/plan.md", "content": "step one\nstep 2\nstep three\n"},
    )
    files = view.agent.get_state("t").files
    assert files == {"/plan.md": "step one\nstep 2\nstep three\n"}
    assert view.result is not None and view.result.text == "Saved the plan."
    assert all(control.disabled for control in approval.controls)


def test_edit_of_an_edit_opens_the_resulting_file_and_replaces_it_whole() -> None:
    script = [write("/plan.md", PLAN), edit("/plan.md", "step two", "step 2"), "Edited."]
    view, approval = paused(script, "edit_file")
    html = header(approval)
    assert ">-step two</span>" in html and ">+step 2</span>" in html and "> step one</span>" in html

    approval.edit_button.click()
    assert approval.file_text.editor.value == "step one\nstep 2\n"
    approval.file_text.editor.value = "step one\nstep 2, carefully\n"
    approval.file_text.send.click()

    assert approval.decision is not None and approval.decision.tool_args == {
        "file_path": "/plan.md",
        "old_string": PLAN,
        "new_string": "step one\nstep 2, carefully\n",
    }
    assert view.agent.get_state("t").files["/plan.md"] == "step one\nstep 2, carefully\n"
    assert view.result is not None and view.result.text == "Edited."


def test_an_edit_back_to_the_current_text_sends_nothing() -> None:
    script = [write("/plan.md", PLAN), edit("/plan.md", "step two", "step 2"), "Edited."]
    view, approval = paused(script, "edit_file")
    approval.edit_button.click()
    approval.file_text.editor.value = PLAN
    approval.file_text.send.click()
    assert "nothing would change" in approval.status.value and approval.decision is None
    assert view.agent.current_interrupt("t") is not None
    approval.cancel_button.click()
    approval.edit_button.click()  # reopening keeps what was typed
    assert approval.file_text.editor.value == PLAN


def test_a_file_the_widget_cannot_read_falls_back_to_json() -> None:
    # A mounted variable: the agent diffs against its text, which is not in the thread's state.
    agent = create_deep_agent(
        model=ScriptedModel([edit("/kernel/notes.txt", "draft", "final"), "ok"]),
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"edit_file": True},
    )
    agent.mount(notes="a draft note")
    interrupt = agent.handle_message("go", thread_id="t").interrupt
    assert interrupt is not None and interrupt.diff is not None
    approval = ApprovalWidget.for_thread(agent, "t", pacing=fake_pacing())
    assert approval is not None and "class='dnb-diff'" in header(approval)
    approval.edit_button.click()
    assert approval.form.children == (approval.edit_form,)
    assert '"old_string": "draft"' in approval.args_editor.value


def worker_model(call: ToolCall) -> FunctionModel:
    def respond(request: ModelRequest) -> ToolCall | str:
        last = request.messages[-1]
        return call if last.role == "user" else f"worker: {last.content}"

    return FunctionModel(respond)


def subagent_run(call: ToolCall, gated: str) -> tuple[DeepAgent, RunView]:
    parent = ScriptedModel(
        [
            write("/plan.md", PLAN),
            ToolCall(name="task", args={"description": "tidy", "subagent_type": "worker"}),
            "parent done",
        ]
    )
    agent = create_deep_agent(
        model=parent,
        subagents=[SubAgentConfig("worker", "Tidies.", "Tidy.", model=worker_model(call))],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={gated: True},
    )
    view = RunView(agent, "t", pacing=fake_pacing())
    result = view.run("plan it")
    assert result.interrupt is not None and result.interrupt.agent_path == ["worker"]
    return agent, view


def test_an_approval_from_a_subagent_names_it_and_its_edit_lands_in_the_parent() -> None:
    agent, view = subagent_run(edit("/plan.md", "step two", "step 2"), "edit_file")
    approval = view.approval
    assert approval is not None
    html = header(approval)
    assert "<code>edit_file</code> on <code>/plan.md</code> <small>(in worker)</small>" in html
    assert ">+step 2</span>" in html

    approval.edit_button.click()
    assert approval.file_text.editor.value == "step one\nstep 2\n"  # the sub-agent's view
    approval.file_text.editor.value = "step one\nstep two, by a human\n"
    approval.file_text.send.click()
    assert agent.get_state("t").files == {"/plan.md": "step one\nstep two, by a human\n"}
    assert view.result is not None and view.result.text == "parent done"


def test_a_json_approval_from_a_subagent_shows_its_path_too() -> None:
    _, view = subagent_run(ToolCall(name="ls", args={"path": "/"}), "ls")
    approval = view.approval
    assert approval is not None
    assert "<code>ls</code> <small>(in worker)</small>" in header(approval)
    approval.approve_button.click()
    assert view.result is not None and view.result.text == "parent done"


def test_a_nested_subagent_edit_shows_the_whole_path_and_edits_its_file() -> None:
    checker = create_deep_agent(
        model=worker_model(edit("/plan.md", "step two", "step 2")),
        name="checker",
        description="Checks.",
    )
    researcher = create_deep_agent(
        model=worker_model(
            ToolCall(name="task", args={"description": "check", "subagent_type": "checker"})
        ),
        name="researcher",
        description="Researches.",
        subagents=[checker],
    )
    parent = ScriptedModel(
        [
            write("/plan.md", PLAN),
            ToolCall(name="task", args={"description": "research", "subagent_type": "researcher"}),
            "parent done",
        ]
    )
    agent = create_deep_agent(
        model=parent,
        subagents=[researcher],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"edit_file": True},
    )
    agent.handle_message("go", thread_id="n")
    approval = ApprovalWidget.for_thread(agent, "n", pacing=fake_pacing())
    assert approval is not None
    assert "<small>(in researcher &gt; checker)</small>" in header(approval)
    approval.edit_button.click()
    assert approval.file_text.editor.value == "step one\nstep 2\n"
    approval.file_text.editor.value = "step one\nstep II\n"
    approval.file_text.send.click()
    assert agent.get_state("n").files == {"/plan.md": "step one\nstep II\n"}
