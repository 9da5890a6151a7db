"""`ApprovalWidget` and `RunView`: real clicks resume real runs (ScriptedModel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from widget_fakes import fake_pacing

from deepagents_nb import (
    AgentResult,
    HitlAction,
    HitlPolicy,
    InMemoryCheckpointer,
    PendingInterruptError,
    ToolCall,
    create_deep_agent,
    tool,
)
from deepagents_nb.agent import DeepAgent
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.notebook.widgets import ApprovalWidget, RunView
from deepagents_nb.persistence.base import Checkpointer
from deepagents_nb.persistence.sqlite import SqliteCheckpointer

RAN: list[str] = []


@tool
def deploy(env: str) -> str:
    """Deploy to an environment."""
    RAN.append(f"deploy {env}")
    return f"deployed to {env}"


@tool
def rollback(env: str) -> str:
    """Roll an environment back."""
    RAN.append(f"rollback {env}")
    return f"rolled back {env}"


@pytest.fixture(autouse=True)
def _clear_ran() -> None:
    RAN.clear()


def gated(
    script: list[Any], checkpointer: Checkpointer | None = None
) -> tuple[DeepAgent, ScriptedModel]:
    model = ScriptedModel(script)
    agent = create_deep_agent(
        model=model,
        tools=[deploy, rollback],
        checkpointer=checkpointer or InMemoryCheckpointer(),
        interrupt_on={"deploy": HitlPolicy(note="Deploys need a human")},
    )
    return agent, model


def paused_view(script: list[Any]) -> tuple[RunView, ScriptedModel]:
    agent, model = gated([ToolCall(name="deploy", args={"env": "prod"}), *script])
    view = RunView(agent, "ops", pacing=fake_pacing())
    result = view.run("ship it")
    assert result.interrupt is not None and RAN == []
    return view, model


def last_tool_message(model: ScriptedModel) -> str:
    return model.requests[-1].messages[-1].content


def test_the_widget_shows_tool_arguments_and_note() -> None:
    view, _ = paused_view(["done"])
    approval = view.approval
    assert approval is not None and view.approvals.children == (approval.widget,)
    header = approval.widget.children[0].value
    assert "<code>deploy</code>" in header and "Deploys need a human" in header
    assert "&quot;env&quot;: &quot;prod&quot;" in header
    assert approval.args_editor.value == '{\n  "env": "prod"\n}'
    assert not any(control.disabled for control in approval.controls)


def test_approve_resumes_into_the_dashboard_and_disables_the_widget() -> None:
    view, model = paused_view(["Deployed to prod."])
    approval = view.approval
    assert approval is not None
    approval.approve_button.click()

    assert RAN == ["deploy prod"] and last_tool_message(model) == "deployed to prod"
    log = view.dashboard.event_log.html
    assert "▶ approved deploy" in log and "Deployed to prod." in log
    assert "✔ Approved" in approval.status.value
    assert all(control.disabled for control in approval.controls)
    assert view.result is not None and view.result.text == "Deployed to prod."
    assert view.agent.current_interrupt("ops") is None
    approval.approve_button.click()  # a disabled widget sends nothing twice
    assert RAN == ["deploy prod"]


def test_edit_with_bad_json_sends_nothing() -> None:
    view, _ = paused_view(["ok"])
    approval = view.approval
    assert approval is not None
    approval.edit_button.click()
    assert approval.form.children == (approval.edit_form,)

    approval.args_editor.value = '{"env": "prod",'
    approval.edit_send.click()
    assert "not valid JSON" in approval.status.value and "#b91c1c" in approval.status.value
    approval.args_editor.value = '["prod"]'
    approval.edit_send.click()
    assert "must be a JSON object" in approval.status.value and "list" in approval.status.value

    assert RAN == [] and approval.decision is None
    assert view.agent.current_interrupt("ops") is not None
    assert not approval.edit_send.disabled


def test_edit_with_good_json_runs_the_edited_call() -> None:
    view, model = paused_view(["Staging it is."])
    approval = view.approval
    assert approval is not None
    approval.edit_button.click()
    approval.args_editor.value = '{"env": "staging"}'
    approval.edit_send.click()
    assert RAN == ["deploy staging"] and last_tool_message(model) == "deployed to staging"
    assert "✎ Edited: deploy({&quot;env&quot;: &quot;staging&quot;})" in approval.status.value
    assert approval.decision == HitlAction.edit(tool_args={"env": "staging"})


def test_edit_can_switch_the_tool() -> None:
    view, _ = paused_view(["Rolled back instead."])
    approval = view.approval
    assert approval is not None
    approval.edit_button.click()
    approval.tool_name.value = "rollback"
    approval.edit_send.click()
    assert RAN == ["rollback prod"]


def test_reject_with_a_reason() -> None:
    view, model = paused_view(["Understood, not today."])
    approval = view.approval
    assert approval is not None
    approval.reject_button.click()
    approval.reason.value = "not on a Friday"
    approval.reject_send.click()
    assert RAN == []
    assert last_tool_message(model) == "The user rejected this tool call. Reason: not on a Friday"
    assert "✘ Rejected: not on a Friday" in approval.status.value
    assert "Understood, not today." in view.dashboard.event_log.html


def test_respond_answers_for_the_tool_and_needs_a_message() -> None:
    view, model = paused_view(["Thanks."])
    approval = view.approval
    assert approval is not None
    approval.respond_button.click()
    approval.respond_send.click()
    assert "Write the answer" in approval.status.value and approval.decision is None
    approval.message.value = "Already deployed by hand."
    approval.respond_send.click()
    assert RAN == [] and last_tool_message(model) == "Already deployed by hand."
    assert "↩ Responded: Already deployed by hand." in approval.status.value


def test_cancel_closes_the_form() -> None:
    view, _ = paused_view(["ok"])
    approval = view.approval
    assert approval is not None
    approval.reject_button.click()
    approval.cancel_button.click()
    assert approval.form.children == () and approval.decision is None


def test_a_second_interrupt_brings_a_second_widget() -> None:
    view, _ = paused_view([ToolCall(name="deploy", args={"env": "eu"}), "Both deployed."])
    first = view.approval
    assert first is not None
    first.approve_button.click()
    second = view.approval
    assert second is not None and second is not first
    assert view.approvals.children == (first.widget, second.widget)
    assert "the run paused again: approval needed for deploy" in first.status.value
    assert second.interrupt.tool_args == {"env": "eu"}
    second.approve_button.click()
    assert RAN == ["deploy prod", "deploy eu"]
    assert view.result is not None and view.result.text == "Both deployed."
    assert "Both deployed." in view.dashboard.event_log.html


def test_standalone_widget_streams_into_its_own_log_and_chains() -> None:
    agent, _ = gated(
        [
            ToolCall(name="deploy", args={"env": "a"}),
            ToolCall(name="deploy", args={"env": "b"}),
            "fin",
        ]
    )
    agent.handle_message("go", thread_id="s")
    approval = ApprovalWidget.for_thread(agent, "s", pacing=fake_pacing())
    assert approval is not None and approval.log is not None
    approval.approve_button.click()
    assert len(approval.chained) == 1 and approval.next_area.children == (
        approval.chained[0].widget,
    )
    approval.chained[0].approve_button.click()
    assert RAN == ["deploy a", "deploy b"] and "fin" in approval.log.html


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_for_thread_after_a_restart(store: str, tmp_path: Path) -> None:
    def checkpointer() -> Checkpointer:
        return SqliteCheckpointer(tmp_path / "threads.db") if store == "sqlite" else shared

    shared = InMemoryCheckpointer()
    before, _ = gated([ToolCall(name="deploy", args={"env": "prod"})], checkpointer())
    before.handle_message("ship it", thread_id="ops")
    assert ApprovalWidget.for_thread(before, "other-thread") is None

    after, _ = gated(["Deployed after the restart."], checkpointer())  # a new kernel
    done: list[AgentResult | None] = []
    approval = ApprovalWidget.for_thread(after, "ops", on_done=done.append, pacing=fake_pacing())
    assert approval is not None and approval.interrupt.tool_args == {"env": "prod"}
    approval.approve_button.click()
    assert RAN == ["deploy prod"]
    assert done and done[0] is not None and done[0].text == "Deployed after the restart."


def test_run_view_shows_a_pending_approval_and_resumes_from_code() -> None:
    agent, _ = gated([ToolCall(name="deploy", args={"env": "prod"}), "Done."])
    agent.handle_message("ship it", thread_id="ops")
    view = RunView(agent, "ops", pacing=fake_pacing())
    approval = view.show_pending()
    assert approval is not None and view.approvals.children == (approval.widget,)
    result = view.resume(HitlAction.accept())
    assert result.text == "Done." and RAN == ["deploy prod"] and approval.decided
    assert RunView(agent, "ops").show_pending() is None


def test_a_new_prompt_on_a_waiting_thread_shows_the_approval() -> None:
    view, _ = paused_view(["Done."])
    again = RunView(view.agent, "ops", pacing=fake_pacing())
    with pytest.raises(PendingInterruptError):
        again.run("and now?")
    assert again.approval is not None and again.approvals.children == (again.approval.widget,)
    again.approval.approve_button.click()
    assert RAN == ["deploy prod"] and again.result is not None and again.result.text == "Done."


def test_a_call_answered_elsewhere_is_not_answered_twice() -> None:
    view, _ = paused_view([ToolCall(name="deploy", args={"env": "eu"}), "fin"])
    approval = view.approval
    assert approval is not None
    view.agent.resume_with_approval(HitlAction.accept(), thread_id="ops")  # e.g. %agent approve
    assert RAN == ["deploy prod"]  # the thread now waits for the "eu" deploy
    approval.approve_button.click()
    assert RAN == ["deploy prod"]
    assert "no longer waiting" in approval.status.value
    assert all(control.disabled for control in approval.controls)


def test_a_run_failing_after_the_decision_is_shown_in_red() -> None:
    view, _ = paused_view([])  # the model has nothing left to say after the tool runs
    approval = view.approval
    assert approval is not None
    approval.approve_button.click()
    assert RAN == ["deploy prod"] and approval.error is not None
    assert "the run then failed: ModelBehaviorError" in approval.status.value
    assert "#b91c1c" in approval.status.value
    assert "ModelBehaviorError" in view.dashboard.event_log.html  # AgentFailed, in red
