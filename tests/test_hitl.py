"""Human-in-the-loop approval: interrupts, the four actions, durability, sub-agents."""

from __future__ import annotations

import warnings

import pytest
from helpers import Recorder

from deepagents_nb import (
    AgentInterrupt,
    ConfigurableAgentBuilder,
    HitlAction,
    HitlPolicy,
    InMemoryCheckpointer,
    InterruptRaised,
    InterruptResolved,
    NoPendingInterruptError,
    PendingInterruptError,
    ToolCall,
    ToolContext,
    create_deep_agent,
    tool,
)
from deepagents_nb.hitl import decisions
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptedModel

RAN: list[str] = []


@tool
def delete_file(path: str) -> str:
    """Delete a file."""
    RAN.append(f"delete {path}")
    return f"deleted {path}"


@tool
def archive(path: str) -> str:
    """Archive a file."""
    RAN.append(f"archive {path}")
    return f"archived {path}"


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    RAN.append(f"lookup {key}")
    return f"value of {key}"


@pytest.fixture(autouse=True)
def _clear_ran() -> None:
    RAN.clear()


def gated_agent(script: list[object], **kwargs: object) -> tuple[object, ScriptedModel]:
    model = ScriptedModel(script)  # type: ignore[arg-type]
    agent = create_deep_agent(
        model=model,
        tools=[delete_file, archive, lookup],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"delete_file": HitlPolicy(note="Deletion needs review")},
        general_purpose_agent=False,
        **kwargs,  # type: ignore[arg-type]
    )
    return agent, model


def test_gated_call_stops_before_the_tool_and_accept_runs_it() -> None:
    recorder = Recorder()
    agent, model = gated_agent(
        [ToolCall(name="delete_file", args={"path": "/mail/ann@example.com"}, id="c1"), "Deleted."],
        event_broadcasters=[recorder],
    )
    result = agent.handle_message("delete it", thread_id="t")  # type: ignore[attr-defined]

    assert RAN == []
    interrupt = result.interrupt
    assert isinstance(interrupt, AgentInterrupt)
    assert (interrupt.tool_name, interrupt.call_id, interrupt.thread_id) == (
        "delete_file",
        "c1",
        "t",
    )
    assert interrupt.tool_args == {"path": "/mail/ann@example.com"}  # the human sees it all
    assert interrupt.policy_note == "Deletion needs review"
    assert result.text == "Paused: Approval needed for delete_file: Deletion needs review"
    assert agent.current_interrupt("t") == interrupt  # type: ignore[attr-defined]
    raised = recorder.of(InterruptRaised)
    assert len(raised) == 1 and raised[0].args == {"path": "/mail/[EMAIL]"}  # type: ignore[attr-defined]

    resumed = agent.resume_with_approval(HitlAction.accept(), thread_id="t")  # type: ignore[attr-defined]

    assert RAN == ["delete /mail/ann@example.com"]
    assert resumed.interrupt is None and resumed.text == "Deleted."
    assert model.requests[1].messages[-1].content == "deleted /mail/ann@example.com"
    assert agent.current_interrupt("t") is None  # type: ignore[attr-defined]
    assert [(d.action, d.tool_name, d.note) for d in decisions(resumed.state)] == [
        ("accept", "delete_file", "Deletion needs review")
    ]
    assert [e.action for e in recorder.of(InterruptResolved)] == ["accept"]  # type: ignore[attr-defined]


def test_edit_runs_with_the_edited_arguments_and_tool() -> None:
    agent, model = gated_agent([ToolCall(name="delete_file", args={"path": "/"}), "ok"])
    agent.handle_message("clean up")  # type: ignore[attr-defined]
    agent.resume_with_approval(  # type: ignore[attr-defined]
        HitlAction.edit(tool_name="archive", tool_args={"path": "/tmp/cache"})
    )
    assert RAN == ["archive /tmp/cache"]
    assert model.requests[1].messages[-1].content == "archived /tmp/cache"


def test_reject_tells_the_model_why_and_respond_answers_for_the_tool() -> None:
    agent, model = gated_agent(
        [
            ToolCall(name="delete_file", args={"path": "/a"}),
            ToolCall(name="delete_file", args={"path": "/b"}),
            "understood",
        ]
    )
    agent.handle_message("go")  # type: ignore[attr-defined]
    second = agent.resume_with_approval(HitlAction.reject(reason="Too dangerous"))  # type: ignore[attr-defined]
    rejected = model.requests[1].messages[-1]
    assert rejected.is_error
    assert rejected.content == "The user rejected this tool call. Reason: Too dangerous"
    assert second.interrupt is not None and second.interrupt.tool_args == {"path": "/b"}

    final = agent.resume_with_approval(HitlAction.respond("Use the archive tool instead."))  # type: ignore[attr-defined]
    responded = model.requests[2].messages[-1]
    assert not responded.is_error and responded.content == "Use the archive tool instead."
    assert final.text == "understood"
    assert RAN == []
    assert [d.action for d in decisions(final.state)] == ["reject", "respond"]
    assert decisions(final.state)[0].reason == "Too dangerous"


def test_several_gated_calls_in_one_turn_are_resolved_one_at_a_time() -> None:
    calls = [
        ToolCall(name="delete_file", args={"path": "/1"}, id="d1"),
        ToolCall(name="lookup", args={"key": "k"}, id="l1"),
        ToolCall(name="delete_file", args={"path": "/2"}, id="d2"),
    ]
    agent, model = gated_agent([calls, "all done"])
    first = agent.handle_message("go", thread_id="t")  # type: ignore[attr-defined]
    assert first.interrupt.call_id == "d1"
    assert RAN == ["lookup k"]  # the ungated call ran at once

    second = agent.resume_with_approval(HitlAction.accept(), thread_id="t")  # type: ignore[attr-defined]
    assert second.interrupt.call_id == "d2"
    assert RAN == ["lookup k", "delete /1"]
    assert len(model.requests) == 1  # the model waits until the whole turn is done

    final = agent.resume_with_approval(HitlAction.reject(), thread_id="t")  # type: ignore[attr-defined]
    assert RAN == ["lookup k", "delete /1"]  # nothing ran twice
    tool_messages = [m for m in model.requests[1].messages if m.role == "tool"]
    assert [m.tool_call_id for m in tool_messages] == ["d1", "l1", "d2"]  # call order kept
    assert [m.content for m in tool_messages][:2] == ["deleted /1", "value of k"]
    assert final.text == "all done"


def test_misuse_is_a_clear_error() -> None:
    agent, _ = gated_agent([ToolCall(name="delete_file", args={"path": "/x"}), "done"])
    with pytest.raises(NoPendingInterruptError, match="no pending interrupt"):
        agent.resume_with_approval(HitlAction.accept(), thread_id="t")  # type: ignore[attr-defined]
    agent.handle_message("go", thread_id="t")  # type: ignore[attr-defined]
    with pytest.raises(PendingInterruptError, match="waiting for approval of delete_file"):
        agent.handle_message("something else", thread_id="t")  # type: ignore[attr-defined]
    agent.resume_with_approval(HitlAction.accept(), thread_id="t")  # type: ignore[attr-defined]
    with pytest.raises(NoPendingInterruptError):
        agent.resume_with_approval(HitlAction.accept(), thread_id="t")  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="needs a HitlAction"):
        agent.resume_with_approval("yes", thread_id="t")  # type: ignore[attr-defined]


def test_interrupt_survives_a_new_agent_on_the_same_store() -> None:
    store = InMemoryCheckpointer()

    def build(script: list[object]) -> object:
        return create_deep_agent(
            model=ScriptedModel(script),  # type: ignore[arg-type]
            tools=[delete_file],
            checkpointer=store,
            interrupt_on={"delete_file": True},
        )

    build([ToolCall(name="delete_file", args={"path": "/x"})]).handle_message("go", "t")  # type: ignore[attr-defined]
    fresh = build(["done after restart"])  # as if the kernel restarted
    assert fresh.current_interrupt("t").tool_name == "delete_file"  # type: ignore[attr-defined]
    assert fresh.resume_with_approval(HitlAction.accept(), "t").text == "done after restart"  # type: ignore[attr-defined]
    assert RAN == ["delete /x"]


def test_without_checkpointer_approval_still_holds_and_a_warning_says_why() -> None:
    with pytest.warns(UserWarning, match="will not survive a restart"):
        agent = create_deep_agent(
            model=ScriptedModel([ToolCall(name="delete_file", args={"path": "/x"})]),
            tools=[delete_file],
            interrupt_on={"delete_file": True},
        )
    assert agent.handle_message("go").interrupt is not None
    assert RAN == []


def test_allow_auto_policy_runs_without_asking() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agent = (
            ConfigurableAgentBuilder()
            .with_model(ScriptedModel([ToolCall(name="delete_file", args={"path": "/x"}), "ok"]))
            .with_tool(delete_file)
            .with_checkpointer(InMemoryCheckpointer())
            .with_tool_interrupt("delete_file", HitlPolicy(allow_auto=True))
            .build()
        )
    assert agent.handle_message("go").interrupt is None
    assert RAN == ["delete /x"]


def test_gated_call_inside_a_subagent_pauses_the_parent_and_resumes_inside_it() -> None:
    def worker(request: ModelRequest) -> ToolCall | str:
        last = request.messages[-1]
        if last.role == "user":
            return [  # type: ignore[return-value]
                ToolCall(name="write_file", args={"file_path": "/w.md", "content": "w"}),
                ToolCall(name="delete_file", args={"path": "/old"}, id="sub1"),
            ]
        return f"worker saw: {last.content}"

    parent = ScriptedModel(
        [
            ToolCall(name="task", args={"description": "clean", "subagent_type": "worker"}),
            "parent done",
        ]
    )
    agent = create_deep_agent(
        model=parent,
        tools=[delete_file],
        subagents=[SubAgentConfig("worker", "Cleans.", "Clean.", model=FunctionModel(worker))],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"delete_file": HitlPolicy(note="review")},
    )
    paused = agent.handle_message("clean up", thread_id="t")
    interrupt = paused.interrupt
    assert interrupt is not None
    assert (interrupt.tool_name, interrupt.call_id) == ("delete_file", "sub1")
    assert interrupt.agent_path == ["worker"] and interrupt.thread_id == "t"
    assert str(interrupt) == "Approval needed for delete_file (in worker): review"
    assert RAN == []
    assert len(parent.requests) == 1

    final = agent.resume_with_approval(HitlAction.accept(), thread_id="t")
    assert RAN == ["delete /old"]
    assert final.text == "parent done"
    assert parent.requests[1].messages[-1].content == "worker saw: deleted /old"
    assert final.state.files == {"/w.md": "w"}  # the sub-agent's work was merged back


def test_stream_resume_yields_the_continued_runs_events() -> None:
    agent, _ = gated_agent([ToolCall(name="delete_file", args={"path": "/x"}), "fine"])
    agent.handle_message("go")  # type: ignore[attr-defined]
    run = agent.stream_resume(HitlAction.accept())  # type: ignore[attr-defined]
    kinds = [e.event_type for e in run]
    assert kinds[:2] == ["agent_started", "interrupt_resolved"]
    assert "tool_completed" in kinds and kinds[-1] == "agent_completed"
    assert run.result.text == "fine"


def test_policies_apply_to_a_tool_given_through_the_context() -> None:
    @tool
    def pay(amount: int, ctx: ToolContext) -> str:
        """Pay money."""
        RAN.append(f"pay {amount}")
        return "paid"

    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="pay", args={"amount": 5}), "ok"]),
        tools=[pay],
        checkpointer=InMemoryCheckpointer(),
        interrupt_on={"pay": True},
    )
    assert agent.handle_message("pay").interrupt is not None
    assert RAN == []


def test_the_no_checkpointer_warning_points_at_the_users_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_deep_agent(
            model=ScriptedModel([]), tools=[delete_file], interrupt_on={"delete_file": True}
        )
    (warning,) = caught
    assert warning.filename == __file__ and "no checkpointer" in str(warning.message)
