"""Structured output: output_type in each mode, retries, gated tools, streaming, sub-agents."""

from __future__ import annotations

import dataclasses
import json
from typing import Literal

import pytest
from helpers import Recorder
from pydantic import BaseModel
from typing_extensions import TypedDict

from deepagents_nb import (
    ConfigurableAgentBuilder,
    ConfigurationError,
    HitlAction,
    InMemoryCheckpointer,
    Message,
    SubAgentConfig,
    ToolCall,
    create_deep_agent,
    tool,
)
from deepagents_nb.events import OutputDelta, SubAgentCompleted
from deepagents_nb.exceptions import OutputValidationError
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.output import FINAL_ANSWER, OutputSpec

MODES = ["tool", "native", "prompted"]


class City(BaseModel):
    name: str
    population: int
    country: str | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Movie(TypedDict):
    title: str
    year: int


OSLO = City(name="Oslo", population=709_000)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("output_type", "scripted", "expected"),
    [
        (City, OSLO, OSLO),
        (Point, Point(1.5, -2.0), Point(1.5, -2.0)),
        (Movie, {"title": "Alien", "year": 1979}, {"title": "Alien", "year": 1979}),
        (int, {"response": 42}, 42),
        (Literal["positive", "negative"], {"response": "negative"}, "negative"),
        (
            list[City],
            [OSLO, City(name="Lima", population=10)],
            [OSLO, City(name="Lima", population=10)],
        ),
        (City | Point, {"response": {"x": 1, "y": 2}}, Point(1, 2)),
    ],
    ids=["model", "dataclass", "typeddict", "int", "literal", "list", "union"],
)
def test_every_kind_of_type_in_every_mode(
    mode: str, output_type: object, scripted: object, expected: object
) -> None:
    model = ScriptedModel([scripted])
    agent = create_deep_agent(model=model, output_type=output_type, output_mode=mode)  # type: ignore[arg-type]

    result = agent.handle_message("Answer.")

    assert result.output == expected
    assert json.loads(result.text) == OutputSpec(output_type).to_json(expected)
    request = model.requests[0]
    assert request.output is not None and request.output.mode == mode
    offered = [t.name for t in request.tools]
    assert (FINAL_ANSWER in offered) == (mode == "tool")
    assert ("matching this JSON schema" in (request.system or "")) == (mode == "prompted")


def test_without_an_output_type_nothing_changes() -> None:
    model = ScriptedModel(["Plain text."])
    result = create_deep_agent(model=model).handle_message("hi")

    assert result.output is None and result.text == "Plain text."
    assert model.requests[0].output is None
    assert FINAL_ANSWER not in [t.name for t in model.requests[0].tools]


def test_per_call_output_type_replaces_the_agents() -> None:
    model = ScriptedModel([OSLO, {"response": 3}])
    agent = create_deep_agent(model=model, output_type=City)

    first = agent.handle_message("city?")
    second = agent.handle_message("count?", output_type=int, output_mode="prompted")

    assert first.output == OSLO and second.output == 3
    assert model.requests[1].output is not None and model.requests[1].output.mode == "prompted"


def test_an_invalid_final_answer_goes_back_naming_the_fields_then_succeeds() -> None:
    model = ScriptedModel([{"name": "Oslo"}, {"name": 7, "population": "many"}, OSLO])
    agent = create_deep_agent(model=model, output_type=City)

    result = agent.handle_message("Biggest city in Norway?")

    assert result.output == OSLO
    errors = [m for m in result.messages if m.role == "tool" and m.is_error]
    assert len(errors) == 2
    assert "- population: Field required" in errors[0].content
    assert "- name: Input should be a valid string" in errors[1].content
    assert "- population: Input should be a valid integer" in errors[1].content
    # The model saw each error as the result of its final_answer call.
    assert model.requests[1].messages[-1].content == errors[0].content


@pytest.mark.parametrize("mode", ["native", "prompted"])
def test_invalid_text_goes_back_as_a_user_message(mode: str) -> None:
    model = ScriptedModel(["It is Oslo.", '```json\n{"name": "Oslo", "population": 709000}\n```'])
    agent = create_deep_agent(model=model, output_type=City, output_mode=mode)  # type: ignore[arg-type]

    result = agent.handle_message("Biggest city?")

    assert result.output == OSLO
    feedback = model.requests[1].messages[-1]
    assert feedback.role == "user" and feedback.content.startswith("Your answer is not valid JSON")


def test_text_in_tool_mode_is_asked_to_call_final_answer() -> None:
    model = ScriptedModel(["Oslo, I think.", OSLO])
    result = create_deep_agent(model=model, output_type=City).handle_message("Biggest city?")

    assert result.output == OSLO
    assert model.requests[1].messages[-1].content.startswith("Answer by calling final_answer")


def test_retries_exhausted_raise_with_the_last_raw_output_and_the_thread_saved() -> None:
    checkpointer = InMemoryCheckpointer()
    model = ScriptedModel([{"name": "Oslo"}] * 2)
    agent = create_deep_agent(
        model=model, output_type=City, output_retries=1, checkpointer=checkpointer
    )

    with pytest.raises(OutputValidationError) as caught:
        agent.handle_message("Biggest city?", thread_id="t")

    assert caught.value.raw_output == {"name": "Oslo"}
    assert "output_retries=1" in str(caught.value) and "population" in str(caught.value)
    state = agent.get_state("t")
    assert [m.role for m in state.messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert state.messages[-1].is_error
    # The thread goes on: a new message works.
    later = ScriptedModel([OSLO])
    again = create_deep_agent(model=later, output_type=City, checkpointer=checkpointer)
    assert again.handle_message("Try again.", thread_id="t").output == OSLO


def test_final_answer_runs_after_the_other_calls_of_its_turn() -> None:
    seen: list[str] = []

    @tool
    def lookup(city: str) -> str:
        """Look a city up."""
        seen.append(city)
        return "709000"

    model = ScriptedModel(
        [[ToolCall("lookup", {"city": "Oslo"}), ToolCall(FINAL_ANSWER, OSLO.model_dump())]]
    )
    result = create_deep_agent(model=model, tools=[lookup], output_type=City).handle_message("?")

    assert seen == ["Oslo"] and result.output == OSLO
    assert len(model.requests) == 1


def test_a_final_answer_next_to_a_failed_call_is_not_taken() -> None:
    @tool
    def lookup(city: str) -> str:
        """Look a city up."""
        raise ValueError("service down")

    model = ScriptedModel(
        [[ToolCall("lookup", {"city": "Oslo"}), ToolCall(FINAL_ANSWER, OSLO.model_dump())], OSLO]
    )
    result = create_deep_agent(model=model, tools=[lookup], output_type=City).handle_message("?")

    assert result.output == OSLO and len(model.requests) == 2
    answer = model.requests[1].messages[-1]
    assert answer.is_error and answer.content.startswith("Not taken: lookup in the same turn")


def _gated_agent(model: ScriptedModel, ran: list[dict[str, object]]) -> object:
    @tool
    def deploy(version: str, notes: str = "") -> str:
        """Deploy a version."""
        ran.append({"version": version, "notes": notes})
        return f"deployed {version}"

    return create_deep_agent(
        model=model,
        tools=[deploy],
        output_type=City,
        interrupt_on={"deploy": True},
        checkpointer=InMemoryCheckpointer(),
    )


def test_a_final_answer_next_to_a_gated_call_waits_for_the_approval() -> None:
    ran: list[dict[str, object]] = []
    args = {"version": "1.2", "notes": "ship {it}"}
    model = ScriptedModel([[ToolCall("deploy", args), ToolCall(FINAL_ANSWER, OSLO.model_dump())]])
    agent = _gated_agent(model, ran)

    paused = agent.handle_message("Deploy, then answer.")  # type: ignore[attr-defined]

    assert paused.interrupt is not None and paused.interrupt.tool_args == args
    assert paused.output is None and ran == []
    done = agent.resume_with_approval(HitlAction.accept())  # type: ignore[attr-defined]
    assert ran == [args]  # the gated call's arguments, untouched by the output machinery
    assert done.output == OSLO and len(model.requests) == 1


def test_a_rejected_gated_call_makes_the_model_answer_again() -> None:
    ran: list[dict[str, object]] = []
    model = ScriptedModel(
        [[ToolCall("deploy", {"version": "1.2"}), ToolCall(FINAL_ANSWER, OSLO.model_dump())], OSLO]
    )
    agent = _gated_agent(model, ran)

    agent.handle_message("Deploy, then answer.")  # type: ignore[attr-defined]
    done = agent.resume_with_approval(HitlAction.reject("not today"))  # type: ignore[attr-defined]

    assert ran == [] and done.output == OSLO and len(model.requests) == 2
    results = [m.content for m in model.requests[1].messages if m.role == "tool"]
    assert results[0].startswith("The user rejected this tool call. Reason: not today")
    assert results[1].startswith("Not taken: deploy in the same turn")


def test_the_output_is_kept_in_the_checkpoint() -> None:
    checkpointer = InMemoryCheckpointer()
    agent = create_deep_agent(
        model=ScriptedModel([OSLO]), output_type=City, checkpointer=checkpointer
    )
    result = agent.handle_message("?", thread_id="kept")

    stored = create_deep_agent(model=ScriptedModel([]), checkpointer=checkpointer).get_state("kept")

    assert stored.extra["output"] == {
        "run_id": result.run_id,
        "type": "City",
        "value": {"name": "Oslo", "population": 709000, "country": None},
    }


async def test_streamed_native_output_fills_in_then_ends_with_the_value() -> None:
    answer = json.dumps({"name": "Oslo", "population": 709000, "country": "Norway"})
    agent = create_deep_agent(model=ScriptedModel([answer]), output_type=City, output_mode="native")

    run = agent.astream("Biggest city?")
    deltas = [event async for event in run if isinstance(event, OutputDelta)]

    partial, last = deltas[:-1], deltas[-1]
    assert len(partial) >= 2 and not any(d.final for d in partial)
    assert partial[0].value == {"name": "Oslo"}
    assert partial[-1].value == json.loads(answer)
    assert last.final and last.value == json.loads(answer)
    assert run.result is not None and run.result.output == City.model_validate_json(answer)


async def test_tool_mode_streams_the_final_answer_arguments_as_they_come() -> None:
    run = create_deep_agent(model=ScriptedModel([OSLO]), output_type=City).astream("?")
    deltas = [event async for event in run if isinstance(event, OutputDelta)]

    *partial, last = deltas
    assert partial and partial[0].value == {"name": "Oslo"} and not partial[0].final
    assert (last.final, last.value) == (True, OSLO.model_dump())


async def test_output_events_are_sanitized() -> None:
    class Contact(BaseModel):
        email: str

    recorder = Recorder()
    agent = create_deep_agent(
        model=ScriptedModel([Contact(email="jane.doe@example.com")]),
        output_type=Contact,
        event_broadcasters=[recorder],
    )
    result = await agent.ahandle_message("?")
    await agent.dispatcher.flush()

    assert result.output == Contact(email="jane.doe@example.com")  # the value itself is whole
    deltas = [e for e in recorder.events if isinstance(e, OutputDelta)]
    assert deltas and "jane.doe" not in json.dumps([d.value for d in deltas])


def test_a_sub_agents_validated_output_is_the_task_result() -> None:
    recorder = Recorder()
    researcher = SubAgentConfig("researcher", "Finds city facts.", "Find facts.", output_type=City)
    model = ScriptedModel(
        [
            ToolCall(
                "task", {"description": "Biggest city in Norway", "subagent_type": "researcher"}
            ),
            {"name": "Oslo", "population": "lots"},  # the sub-agent's first try fails
            OSLO,
            "Oslo it is.",
        ]
    )
    agent = create_deep_agent(model=model, subagents=[researcher], event_broadcasters=[recorder])

    result = agent.handle_message("Research the biggest city.")

    task_result = next(m for m in result.messages if m.role == "tool" and m.name == "task")
    assert json.loads(task_result.content) == OSLO.model_dump()
    assert result.output is None and result.text == "Oslo it is."
    done = [e for e in recorder.events if isinstance(e, SubAgentCompleted)]
    assert done and json.loads(done[0].result_summary) == OSLO.model_dump()


def test_result_to_dataframe() -> None:
    cities = [OSLO, City(name="Lima", population=10, country="Peru")]
    result = create_deep_agent(model=ScriptedModel([cities])).handle_message(
        "?", output_type=list[City]
    )

    frame = result.to_dataframe()

    assert list(frame.columns) == ["name", "population", "country"]
    assert frame.to_dict("records")[1] == {"name": "Lima", "population": 10, "country": "Peru"}
    plain = create_deep_agent(model=ScriptedModel(["hi"])).handle_message("?")
    with pytest.raises(ConfigurationError, match="needs an output of models"):
        plain.to_dataframe()


def test_both_spellings_and_bad_settings() -> None:
    built = (
        ConfigurableAgentBuilder()
        .with_model(ScriptedModel([]))
        .with_output_type(City, "native", 4)
        .build()
    )
    made = create_deep_agent(
        model=ScriptedModel([]), output_type=City, output_mode="native", output_retries=4
    )
    assert built.config.output is not None and made.config.output is not None
    assert (built.config.output.mode, built.config.output.retries) == ("native", 4)
    assert built.config.output.format == made.config.output.format

    with pytest.raises(ConfigurationError, match="output_mode must be one of"):
        create_deep_agent(model=ScriptedModel([]), output_type=City, output_mode="json")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="output_retries must be 0 or more"):
        create_deep_agent(model=ScriptedModel([]), output_type=City, output_retries=-1)
    with pytest.raises(ConfigurationError, match="cannot be validated"):
        create_deep_agent(model=ScriptedModel([]), output_type=object())


def test_a_script_with_structured_output_needs_an_output_type() -> None:
    from deepagents_nb.exceptions import ModelBehaviorError

    with pytest.raises(ModelBehaviorError, match="the run has no output_type"):
        create_deep_agent(model=ScriptedModel([OSLO])).handle_message("?")


def test_strict_schema_closes_objects_and_makes_optional_fields_nullable() -> None:
    strict = OutputSpec(City, "native").format.strict_schema

    assert strict["additionalProperties"] is False
    assert strict["required"] == ["name", "population", "country"]
    assert {"type": "null"} in strict["properties"]["country"]["anyOf"]
    assert "default" not in json.dumps(strict)
    # A null the strict schema forced is dropped again, so the default applies.
    spec = OutputSpec(City, "native")
    assert spec.parse_text('{"name": "Oslo", "population": 1, "country": null}') == City(
        name="Oslo", population=1
    )


def test_messages_keep_their_form() -> None:
    # The feedback of the text modes is a plain user message: no new message kinds.
    model = ScriptedModel(["nope", OSLO])
    result = create_deep_agent(
        model=model, output_type=City, output_mode="prompted"
    ).handle_message("?")
    assert all(isinstance(m, Message) for m in result.messages)


def test_a_partial_value_never_shows_a_number_cut_short() -> None:
    spec = OutputSpec(City, "native")

    assert spec.partial('{"name": "Oslo", "population": 70') == {"name": "Oslo"}
    assert spec.partial('{"name": "Route 66') == {"name": "Route 66"}  # in a string: kept
    assert spec.partial('{"name": "Oslo", "population": 709000}') == OSLO.model_dump(
        exclude_none=True
    )
