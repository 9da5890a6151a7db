"""The run loop: tool calls, bad model input, limits, threads, sync and async twins."""

from __future__ import annotations

import asyncio

import pytest
from helpers import Recorder

from deepagents_nb import (
    AgentCompleted,
    AgentFailed,
    AgentStarted,
    AgentStateSnapshot,
    ConfigurableAgentBuilder,
    ConfigurationError,
    MaxTurnsExceededError,
    Message,
    StateCheckpointed,
    StreamingToken,
    TokenUsage,
    ToolCall,
    ToolCompleted,
    ToolContext,
    ToolFailed,
    ToolStarted,
    create_deep_agent,
    tool,
)
from deepagents_nb.exceptions import ModelBehaviorError
from deepagents_nb.models.base import ModelRequest, ModelResponse
from deepagents_nb.models.testing import FunctionModel, ScriptedModel
from deepagents_nb.usage import Usage


@tool("Adds two numbers together")
def add(a: int, b: int) -> int:
    return a + b


@tool
async def slow_echo(text: str, delay: float) -> str:
    """Echo text after a delay."""
    await asyncio.sleep(delay)
    return text


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


@tool
def remember(key: str, value: str, ctx: ToolContext) -> str:
    """Store a value in a file."""
    ctx.write_file(f"/{key}.txt", value)
    return "stored"


def test_tool_loop_runs_tools_and_returns_final_answer() -> None:
    model = ScriptedModel([ToolCall(name="add", args={"a": 5, "b": 3}), "5 + 3 = 8"])
    agent = create_deep_agent(model=model, instructions="You add.", tools=[add])

    result = agent.handle_message("What is 5 + 3?")

    assert result.text == "5 + 3 = 8"
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    assert result.messages[2].content == "8" and not result.messages[2].is_error
    assert result.interrupt is None
    # The second request saw the tool result, and the system prompt and schema were sent.
    second = model.requests[1]
    assert second.messages[-1].content == "8"
    assert second.system is not None and second.system.startswith("You add.\n\n## Planning")
    assert next(t.name for t in second.tools) == "add"  # user tools first, then the stack's
    assert result.usage.requests == 2
    assert result.usage.input_tokens > 0


async def test_parallel_calls_run_concurrently_and_keep_call_order() -> None:
    calls = [
        ToolCall(name="slow_echo", args={"text": "first", "delay": 0.2}),
        ToolCall(name="slow_echo", args={"text": "second", "delay": 0.01}),
        ToolCall(name="slow_echo", args={"text": "third", "delay": 0.1}),
    ]
    agent = create_deep_agent(model=ScriptedModel([calls, "done"]), tools=[slow_echo])

    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await agent.ahandle_message("go")
    elapsed = loop.time() - started

    tool_messages = [m for m in result.messages if m.role == "tool"]
    assert [m.content for m in tool_messages] == ["first", "second", "third"]
    assert [m.tool_call_id for m in tool_messages] == [c.id for c in calls]
    assert elapsed < 0.3  # sequential execution would take at least 0.31 s


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (ToolCall(name="nope", args={}), "Unknown tool 'nope'. Available tools: add, edit_file"),
        (ToolCall(name="add", args='{"a": 1,'), "arguments are not valid JSON"),
        (ToolCall(name="add", args="[1, 2]"), "must be a JSON object"),
        (ToolCall(name="add", args={"a": "x", "b": 2}), "a: Input should be a valid integer"),
        (ToolCall(name="add", args={"a": 1}), "b: Field required"),
        (ToolCall(name="explode", args={"reason": "bad"}), "RuntimeError: boom: bad"),
    ],
)
def test_bad_model_input_becomes_an_error_result_and_the_run_continues(
    call: ToolCall, expected: str
) -> None:
    recorder = Recorder()
    model = ScriptedModel([call, "recovered"])
    agent = create_deep_agent(model=model, tools=[add, explode], event_broadcasters=[recorder])

    result = agent.handle_message("try")

    assert result.text == "recovered"
    error = result.messages[2]
    assert error.role == "tool" and error.is_error
    assert expected in error.content
    assert model.requests[1].messages[-1] == error  # the model saw the error
    failed = recorder.of(ToolFailed)
    assert len(failed) == 1 and failed[0].tool_name == call.name  # type: ignore[attr-defined]
    assert not recorder.of(ToolCompleted)


def test_failed_tool_does_not_apply_its_state_changes() -> None:
    @tool
    def half_done(ctx: ToolContext) -> str:
        """Writes, then fails."""
        ctx.write_file("/partial.txt", "x")
        raise ValueError("disk full")

    agent = create_deep_agent(
        model=ScriptedModel([ToolCall(name="half_done"), "ok"]), tools=[half_done]
    )
    assert agent.handle_message("go").state.files == {}


def test_tool_state_updates_are_applied_and_persist_on_the_thread() -> None:
    model = ScriptedModel(
        [ToolCall(name="remember", args={"key": "color", "value": "blue"}), "Saved.", "Hi again"]
    )
    agent = create_deep_agent(model=model, tools=[remember])

    first = agent.handle_message("remember blue", thread_id="t1")
    assert first.state.files == {"/color.txt": "blue"}

    second = agent.handle_message("hello", thread_id="t1")
    assert second.state.files == {"/color.txt": "blue"}
    # The thread continued: the third request carries the whole conversation.
    assert [m.content for m in model.requests[2].messages][:1] == ["remember blue"]
    assert len(second.state.messages) == 6
    assert agent.get_state("t1").messages[-1].content == "Hi again"
    assert agent.get_state("other").messages == []


def test_explicit_state_is_the_starting_point() -> None:
    model = ScriptedModel(["answer"])
    agent = create_deep_agent(model=model)
    start = AgentStateSnapshot(messages=[Message.user("earlier"), Message.assistant("yes")])

    result = agent.handle_message("now", thread_id="t", state=start)

    assert [m.content for m in result.state.messages] == ["earlier", "yes", "now", "answer"]
    assert len(start.messages) == 2  # the caller's state is not mutated


def test_turn_limit_raises_a_clear_error_and_keeps_completed_steps() -> None:
    model = ScriptedModel([ToolCall(name="add", args={"a": 1, "b": 1})] * 3)
    agent = ConfigurableAgentBuilder().with_model(model).with_tool(add).with_max_turns(3).build()

    with pytest.raises(MaxTurnsExceededError, match=r"3 model calls.*max_turns"):
        agent.handle_message("loop forever", thread_id="t")
    saved = agent.get_state("t")
    assert [m.role for m in saved.messages].count("tool") == 3


def test_model_failure_keeps_thread_state_and_emits_agent_failed() -> None:
    recorder = Recorder()
    model = ScriptedModel([ToolCall(name="add", args={"a": 2, "b": 2})])  # then runs dry
    agent = create_deep_agent(model=model, tools=[add], event_broadcasters=[recorder])

    with pytest.raises(ModelBehaviorError, match="asked for call #2"):
        agent.handle_message("go", thread_id="t")

    assert agent.get_state("t").messages[-1].content == "4"
    failed = recorder.of(AgentFailed)
    assert len(failed) == 1 and failed[0].error_type == "ModelBehaviorError"  # type: ignore[attr-defined]


async def test_sync_call_works_inside_a_running_event_loop() -> None:
    # A Jupyter cell runs inside an event loop; the sync API must still work there.
    agent = create_deep_agent(model=ScriptedModel(["from inside a loop"]))
    assert asyncio.get_running_loop().is_running()
    assert agent.handle_message("hi").text == "from inside a loop"


def test_events_in_order_with_metadata() -> None:
    recorder = Recorder()
    model = ScriptedModel([ToolCall(name="add", args={"a": 1, "b": 2}), "3"])
    agent = create_deep_agent(model=model, tools=[add], name="calc")
    agent.add_broadcaster(recorder)

    result = agent.handle_message("1+2", thread_id="t9")

    assert recorder.types() == [
        "AgentStarted",
        "TokenUsage",  # the first answer is a tool call only: no text to stream
        "ToolStarted",
        "ToolCompleted",
        "StateCheckpointed",
        "StreamingToken",  # the recorder opted in to streaming, so the model streamed
        "TokenUsage",
        "StateCheckpointed",
        "AgentCompleted",
    ]
    for event in recorder.events:
        assert event.thread_id == "t9"
        assert event.run_id == result.run_id
        assert event.agent_name == "calc"
    started = recorder.of(ToolStarted)[0]
    assert started.args == {"a": 1, "b": 2}  # type: ignore[attr-defined]
    usage = recorder.of(TokenUsage)
    assert len(usage) == 2 and usage[0].provider == "scripted"  # type: ignore[attr-defined]
    checkpoints = recorder.of(StateCheckpointed)
    # t9:1 holds the user's message, saved before the first model call (no event: not a step).
    assert [c.checkpoint_id for c in checkpoints] == ["t9:2", "t9:3"]  # type: ignore[attr-defined]
    assert recorder.of(AgentCompleted)[0].response == "3"  # type: ignore[attr-defined]


def test_events_are_sanitized_by_default_and_raw_when_disabled() -> None:
    secret_call = ToolCall(
        name="remember", args={"key": "contact", "value": "mail john@example.com"}
    )

    def run(sanitize: bool) -> Recorder:
        recorder = Recorder()
        model = ScriptedModel([secret_call, "Stored john@example.com"])
        builder = ConfigurableAgentBuilder().with_model(model).with_tool(remember)
        agent = builder.with_event_broadcaster(recorder).with_pii_sanitization(sanitize).build()
        agent.handle_message("my email is john@example.com, password hunter2")
        return recorder

    safe = run(True)
    assert "john@example.com" not in str([e.model_dump() for e in safe.events])
    assert safe.of(AgentStarted)[0].message_preview.startswith("my email is [EMAIL]")  # type: ignore[attr-defined]
    assert safe.of(ToolStarted)[0].args["value"] == "mail [EMAIL]"  # type: ignore[attr-defined]

    raw = run(False)
    assert raw.of(ToolStarted)[0].args["value"] == "mail john@example.com"  # type: ignore[attr-defined]
    assert raw.of(AgentCompleted)[0].response == "Stored john@example.com"  # type: ignore[attr-defined]


def test_stream_yields_events_live_and_then_the_result() -> None:
    agent = create_deep_agent(model=ScriptedModel(["Hello there, friend"]), pii_sanitization=False)
    run = agent.stream("hi")
    tokens = [e.token for e in run if isinstance(e, StreamingToken)]
    assert "".join(tokens) == "Hello there, friend"
    assert len(tokens) == 3
    assert run.result is not None and run.result.text == "Hello there, friend"


def test_a_sanitized_stream_holds_back_only_a_short_tail() -> None:
    text = " ".join(f"word{i}" for i in range(60)) + " mail me at jo.smith@example.com"
    agent = create_deep_agent(model=ScriptedModel([text]))
    tokens = [e.token for e in agent.stream("hi") if isinstance(e, StreamingToken)]
    assert len(tokens) > 3  # text flows while the run streams, not all at the end
    assert "".join(tokens) == text.replace("jo.smith@example.com", "[EMAIL]")


async def test_astream_raises_the_run_error() -> None:
    agent = create_deep_agent(model=ScriptedModel([]))
    run = agent.astream("hi")
    seen = []
    with pytest.raises(ModelBehaviorError):
        async for event in run:
            seen.append(type(event).__name__)
    assert seen[0] == "AgentStarted" and "AgentFailed" in seen
    assert run.result is None


def test_function_model_sees_requests() -> None:
    def respond(request: ModelRequest) -> str | ToolCall:
        last = request.messages[-1]
        if last.role == "user":
            return ToolCall(name="add", args={"a": 20, "b": 22})
        return f"The answer is {last.content}"

    agent = create_deep_agent(model=FunctionModel(respond), tools=[add])
    assert agent.handle_message("compute").text == "The answer is 42"


def test_usage_from_full_responses_is_summed() -> None:
    responses = [
        ModelResponse(
            message=Message.assistant(tool_calls=[ToolCall(name="add", args={"a": 1, "b": 1})]),
            usage=Usage(input_tokens=100, output_tokens=10, cache_read_tokens=80),
        ),
        ModelResponse(
            message=Message.assistant("2"), usage=Usage(input_tokens=120, output_tokens=5)
        ),
    ]
    result = create_deep_agent(model=ScriptedModel(responses), tools=[add]).handle_message("1+1")
    assert result.usage.input_tokens == 220
    assert result.usage.output_tokens == 15
    assert result.usage.cache_read_tokens == 80
    assert result.usage.total_tokens == 235


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ConfigurationError, match="no model"):
        create_deep_agent()
    with pytest.raises(ConfigurationError, match="two tools are named 'add'"):
        create_deep_agent(model=ScriptedModel([]), tools=[add, add])
    with pytest.raises(ConfigurationError, match="not a ChatModel"):
        ConfigurableAgentBuilder().with_model("gpt")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_turns"):
        create_deep_agent(model=ScriptedModel([]), max_turns=0)
    agent = create_deep_agent(model=ScriptedModel([]))
    with pytest.raises(ConfigurationError, match="must be a str"):
        agent.handle_message(42)  # type: ignore[arg-type]
