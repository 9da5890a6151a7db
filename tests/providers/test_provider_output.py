"""Structured output (`output_type=...`) through each vendor's official SDK.

Every mode of every adapter against the fake vendor: the answer comes back as
a `final_answer` tool call (tool mode) or as JSON text (native and prompted
modes), and the assertions read the request bodies the server received: the
`final_answer` tool, the vendor's own JSON-schema format, the schema in the
system prompt, and the validation message an invalid answer sends back.
"""

from __future__ import annotations

import json
from typing import Any, Literal, cast

import pytest
from conftest import PROVIDERS, ModelFactory
from fake_vendor import Call, FakeVendor, Raw, Reply, openai_json
from helpers import Recorder
from pydantic import BaseModel

from deepagents_nb import HitlAction, InMemoryCheckpointer, create_deep_agent, tool
from deepagents_nb.events import OutputDelta
from deepagents_nb.exceptions import OutputValidationError
from deepagents_nb.output import OutputMode


class City(BaseModel):
    name: str
    population: int
    country: str | None = None


Sentiment = Literal["positive", "negative"]
MODES: list[OutputMode] = ["tool", "native", "prompted"]
QUESTION = "What is the biggest city in Norway?"
OSLO = {"name": "Oslo", "population": 709000}
BERGEN = {"name": "Bergen", "population": 291000}
CITY_FIELDS = set(City.model_fields)


GEMINI_JSON_WITH_TOOLS = "gemini-3-pro-preview"
"""Gemini 3 takes a JSON response mode next to tools; 2.x refuses it (see below)."""


def model_options(provider: str, mode: str) -> dict[str, Any]:
    """Native mode on Gemini: a model that takes it with the agent's tools."""
    return {"model": GEMINI_JSON_WITH_TOOLS} if provider == "gemini" and mode == "native" else {}


def answer(mode: str, data: Any, call_id: str = "call_answer") -> Reply:
    """The model's answer in `mode`: a `final_answer` call, or the JSON as text."""
    if mode == "tool":
        return Reply(calls=[Call("final_answer", data, id=call_id)])
    return Reply(data if isinstance(data, str) else json.dumps(data))


async def ask(agent: Any, stream: bool, **options: Any) -> tuple[Any, list[OutputDelta]]:
    """Run QUESTION, whole or streamed; the result and the `OutputDelta`s seen."""
    if not stream:
        return await agent.ahandle_message(QUESTION, **options), []
    run = agent.astream(QUESTION, **options)
    deltas = [event async for event in run if isinstance(event, OutputDelta)]
    return run.result, deltas


# ----- reading the request bodies -----------------------------------------------------------


def system_text(provider: str, body: dict[str, Any]) -> str:
    if provider == "openai":
        return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")
    if provider == "anthropic":
        system = body.get("system") or []
        return system if isinstance(system, str) else "\n".join(b["text"] for b in system)
    return "\n".join(p["text"] for p in body["systemInstruction"]["parts"])


def tool_schemas(provider: str, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each offered tool's parameter schema, by name."""
    if provider == "openai":
        return {t["function"]["name"]: t["function"]["parameters"] for t in body.get("tools", [])}
    if provider == "anthropic":
        return {t["name"]: t["input_schema"] for t in body.get("tools", [])}
    return {
        d["name"]: d.get("parametersJsonSchema", d.get("parameters_json_schema"))
        for t in body.get("tools", [])
        for d in t.get("functionDeclarations", [])
    }


GEMINI_FORMAT_KEYS = ("responseMimeType", "responseJsonSchema", "responseSchema")


def vendor_format(provider: str, body: dict[str, Any]) -> Any:
    """The vendor's own structured-output setting in a request, None without one."""
    if provider == "openai":
        return body.get("response_format")
    if provider == "anthropic":
        return (body.get("output_config") or {}).get("format")
    config = body.get("generationConfig") or {}
    return {k: config[k] for k in GEMINI_FORMAT_KEYS if k in config} or None


def native_schema(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of a native-mode request, after checking the vendor's wrapping."""
    fmt: dict[str, Any] = vendor_format(provider, body)
    assert fmt is not None, body
    if provider == "openai":
        assert fmt["type"] == "json_schema"
        assert fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["name"]
        schema: dict[str, Any] = fmt["json_schema"]["schema"]
        assert_strict(schema)
        return schema
    if provider == "anthropic":
        assert fmt["type"] == "json_schema"
        schema = fmt["schema"]
        assert_strict(schema)  # Anthropic requires closed objects too
        return schema
    assert fmt["responseMimeType"] == "application/json"
    schema = fmt["responseJsonSchema"]
    return schema


def assert_strict(schema: Any) -> None:
    """Every object closed, every property required, no defaults (OpenAI's strict mode)."""
    if isinstance(schema, list):
        for item in schema:
            assert_strict(item)
        return
    if not isinstance(schema, dict):
        return
    assert "default" not in schema, schema
    if schema.get("type") == "object":
        assert schema.get("additionalProperties") is False, schema
        assert set(schema.get("required", [])) == set(schema.get("properties", {})), schema
    for value in schema.values():
        assert_strict(value)


def allows_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(allows_null(s) for s in schema.get("anyOf", []))


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, following a local `$ref` into `schema`'s `$defs`."""
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def embedded_json(text: str) -> list[Any]:
    """Every JSON object that starts somewhere in `text`."""
    decoder = json.JSONDecoder()
    found = []
    for i, char in enumerate(text):
        if char == "{":
            try:
                found.append(decoder.raw_decode(text, i)[0])
            except json.JSONDecodeError:
                continue
    return found


def user_texts(provider: str, body: dict[str, Any]) -> list[str]:
    """The text of each user message, in order (tool results left out)."""
    if provider == "openai":
        return [
            m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
            for m in body["messages"]
            if m["role"] == "user"
        ]
    if provider == "anthropic":
        return [
            block["text"]
            for turn in body["messages"]
            if turn["role"] == "user"
            for block in turn["content"]
            if block["type"] == "text"
        ]
    return [
        part["text"]
        for turn in body["contents"]
        if turn["role"] == "user"
        for part in turn["parts"]
        if "text" in part
    ]


def last_turn(provider: str, body: dict[str, Any]) -> tuple[str, list[str]]:
    """The role of the request's last message and its texts."""
    if provider == "openai":
        m = body["messages"][-1]
        return m["role"], [m["content"]]
    if provider == "anthropic":
        turn = body["messages"][-1]
        return turn["role"], [b["text"] for b in turn["content"] if b["type"] == "text"]
    turn = body["contents"][-1]
    return turn["role"], [p["text"] for p in turn["parts"] if "text" in p]


def assistant_texts(provider: str, body: dict[str, Any]) -> list[str]:
    if provider == "openai":
        return [m["content"] for m in body["messages"] if m["role"] == "assistant"]
    if provider == "anthropic":
        return [
            block["text"]
            for turn in body["messages"]
            if turn["role"] == "assistant"
            for block in turn["content"]
            if block["type"] == "text"
        ]
    return [
        part["text"]
        for turn in body["contents"]
        if turn["role"] == "model"
        for part in turn["parts"]
        if "text" in part
    ]


def tool_results(provider: str, body: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(call id, content, is_error) of each tool result; OpenAI has no error flag (None)."""
    if provider == "openai":
        return [
            (m["tool_call_id"], m["content"], None) for m in body["messages"] if m["role"] == "tool"
        ]
    if provider == "anthropic":
        return [
            (block["tool_use_id"], block.get("content", ""), bool(block.get("is_error")))
            for turn in body["messages"]
            for block in turn["content"]
            if block["type"] == "tool_result"
        ]
    results = []
    for turn in body["contents"]:
        for part in turn["parts"]:
            if "functionResponse" in part:
                fr = part["functionResponse"]
                (key, content), *_ = fr["response"].items()
                results.append((fr["id"], content, key == "error"))
    return results


def assert_request_format(provider: str, mode: str, body: dict[str, Any]) -> dict[str, Any]:
    """Check what each mode puts in the request; return the answer's schema as sent."""
    tools = tool_schemas(provider, body)
    if mode == "tool":
        assert vendor_format(provider, body) is None
        return tools["final_answer"]
    assert "final_answer" not in tools
    if mode == "native":
        return native_schema(provider, body)
    assert vendor_format(provider, body) is None
    schemas = [s for s in embedded_json(system_text(provider, body)) if "properties" in s]
    assert len(schemas) == 1, "the system prompt carries the schema"
    return cast(dict[str, Any], schemas[0])


# ----- 1. one question, every vendor and mode -------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_city_comes_back_through_every_vendor_and_mode(
    provider: str, mode: OutputMode, stream: bool, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(answer(mode, OSLO))
    model = model_for(provider, **model_options(provider, mode))
    agent = create_deep_agent(model=model, output_type=City, output_mode=mode)

    result, deltas = await ask(agent, stream)

    assert result.output == City(name="Oslo", population=709000)
    assert isinstance(result.output, City)
    assert json.loads(result.text) == result.output.model_dump(mode="json")
    assert result.interrupt is None
    assert len(vendor.requests) == 1 and vendor.remaining == 0
    (request,) = vendor.requests
    assert request.stream is stream
    schema = assert_request_format(provider, mode, request.body)
    assert set(schema["properties"]) == CITY_FIELDS
    assert schema["properties"]["population"]["type"] == "integer"
    if mode == "native" and provider != "gemini":  # the strict schema: all required
        assert set(schema["required"]) == CITY_FIELDS
        assert allows_null(schema["properties"]["country"])
        assert not allows_null(schema["properties"]["population"])
    else:  # the schema as pydantic gives it
        assert schema == City.model_json_schema()
    if stream:
        *partials, last = deltas
        assert last.final is True and last.value == result.output.model_dump(mode="json")
        assert all(not d.final for d in partials)
        if mode == "tool":  # the final_answer arguments fill in as they stream
            whole = result.output.model_dump(mode="json")
            assert partials and all(is_partial_of(d.value, whole) for d in partials)


async def test_openai_native_schema_is_strict_and_the_null_for_country_is_dropped(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    # Strict mode makes the model send every property: an optional one as null.
    vendor.script(answer("native", {**OSLO, "country": None}))
    agent = create_deep_agent(model=model_for("openai"), output_type=City, output_mode="native")

    result = await agent.ahandle_message(QUESTION)

    assert result.output == City(name="Oslo", population=709000)
    fmt = vendor.requests[0].body["response_format"]
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == list(schema["properties"])
    country = schema["properties"]["country"]
    assert {"type": "string"} in country["anyOf"] and {"type": "null"} in country["anyOf"]
    assert "default" not in country


# ----- 2. an invalid answer, then a valid one -------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_invalid_answer_goes_back_to_the_model_in_the_vendors_form(
    provider: str, mode: OutputMode, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    vendor.script(
        answer(mode, {"name": "Oslo"}, call_id="call_first"),  # population missing
        answer(mode, OSLO, call_id="call_second"),
    )
    model = model_for(provider, **model_options(provider, mode))
    agent = create_deep_agent(model=model, output_type=City, output_mode=mode)

    result = await agent.ahandle_message(QUESTION)

    assert result.output == City(name="Oslo", population=709000)
    assert len(vendor.requests) == 2 and vendor.remaining == 0
    first, second = (r.body for r in vendor.requests)
    assert_request_format(provider, mode, second)  # the format is asked for again
    if mode == "tool":
        assert tool_results(provider, first) == []
        ((call_id, content, is_error),) = tool_results(provider, second)
        assert call_id == "call_first"
        assert "population" in content
        assert is_error is (None if provider == "openai" else True)
        assert user_texts(provider, second) == [QUESTION]
    else:
        assert user_texts(provider, first) == [QUESTION]
        question, feedback = user_texts(provider, second)
        assert question == QUESTION
        assert "population" in feedback
        role, texts = last_turn(provider, second)
        assert role == "user" and texts == [feedback]
        # the invalid answer is in the history, as the model's own text
        assert [json.loads(t) for t in assistant_texts(provider, second)] == [{"name": "Oslo"}]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_answers_that_stay_invalid_fail_the_run_after_the_retries(
    provider: str, mode: OutputMode, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    invalid = {"name": "Oslo", "population": "many"}
    vendor.script(*(answer(mode, invalid, call_id=f"call_{i}") for i in range(2)))
    agent = create_deep_agent(
        model=model_for(provider, **model_options(provider, mode)),
        output_type=City,
        output_mode=mode,
        output_retries=1,
    )

    with pytest.raises(OutputValidationError, match="population") as caught:
        await agent.ahandle_message(QUESTION)

    assert len(vendor.requests) == 2 and vendor.remaining == 0
    raw = caught.value.raw_output
    assert (raw if mode == "tool" else json.loads(cast(str, raw))) == invalid


async def test_an_openai_refusal_in_native_mode_is_answered_like_an_invalid_answer(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    refusal = "I'm sorry, I can't help with that."
    refused = openai_json(Reply(), "gpt-4o-mini")
    refused["choices"][0]["message"].update(content=None, refusal=refusal)
    vendor.script(Raw(refused), answer("native", OSLO))
    agent = create_deep_agent(model=model_for("openai"), output_type=City, output_mode="native")

    result = await agent.ahandle_message(QUESTION)

    assert result.output == City(name="Oslo", population=709000)
    second = vendor.requests[1].body
    assert assistant_texts("openai", second) == [refusal]  # the model sees what it said
    role, (feedback,) = last_turn("openai", second)
    assert role == "user" and "JSON" in feedback


# ----- 3. output types that are not objects ---------------------------------------------------

NON_OBJECT_CASES = [
    pytest.param("tool", list[City], {"response": [OSLO, BERGEN]}, id="tool-list"),
    pytest.param("native", list[City], {"response": [OSLO, BERGEN]}, id="native-list"),
    pytest.param("tool", Sentiment, {"response": "positive"}, id="tool-literal"),
    pytest.param("native", Sentiment, {"response": "positive"}, id="native-literal"),
    pytest.param("prompted", Sentiment, "positive", id="prompted-bare-literal"),
]


@pytest.mark.parametrize(("mode", "output_type", "sent"), NON_OBJECT_CASES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_non_object_output_is_wrapped_as_response(
    provider: str,
    mode: OutputMode,
    output_type: Any,
    sent: Any,
    vendor: FakeVendor,
    model_for: ModelFactory,
) -> None:
    vendor.script(answer(mode, sent))
    agent = create_deep_agent(model=model_for(provider, **model_options(provider, mode)))

    result = await agent.ahandle_message(QUESTION, output_type=output_type, output_mode=mode)

    data = sent["response"] if isinstance(sent, dict) else sent
    if output_type is Sentiment:
        assert result.output == data
        assert json.loads(result.text) == data  # the value itself, not the wrapper
    else:
        assert result.output == [City(**c) for c in data]
        assert json.loads(result.text) == [c.model_dump(mode="json") for c in result.output]
    schema = assert_request_format(provider, mode, vendor.requests[0].body)
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"response"} and schema["required"] == ["response"]
    response = schema["properties"]["response"]
    if output_type is Sentiment:
        assert set(response["enum"]) == {"positive", "negative"}
    else:
        assert response["type"] == "array"
        city = resolve(schema, response["items"])
        assert set(city["properties"]) == CITY_FIELDS


# ----- 4. native mode, streamed --------------------------------------------------------------


def is_partial_of(partial: Any, whole: Any) -> bool:
    """Whether `partial` could be `whole` cut short (strings and numbers by prefix)."""
    if isinstance(whole, dict):
        return isinstance(partial, dict) and all(
            k in whole and is_partial_of(v, whole[k]) for k, v in partial.items()
        )
    if isinstance(whole, list):
        return (
            isinstance(partial, list)
            and len(partial) <= len(whole)
            and all(is_partial_of(p, w) for p, w in zip(partial, whole, strict=False))
        )
    if isinstance(whole, str | int | float) and not isinstance(whole, bool):
        return type(partial) is type(whole) and str(whole).startswith(str(partial))
    return bool(partial == whole)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_native_output_streams_in_as_partial_values(
    provider: str, vendor: FakeVendor, model_for: ModelFactory
) -> None:
    text = json.dumps({**OSLO, "country": "Norway"})
    chunks = [text[i : i + 9] for i in range(0, len(text), 9)]
    assert len(chunks) > 4
    vendor.script(Reply(text, chunks=chunks))
    recorder = Recorder()  # a streaming listener sees the same deltas
    agent = create_deep_agent(
        model=model_for(provider, **model_options(provider, "native")),
        output_type=City,
        output_mode="native",
        event_broadcasters=[recorder],
    )

    run = agent.astream(QUESTION)
    deltas = [event async for event in run if isinstance(event, OutputDelta)]

    assert run.result is not None
    expected = City(name="Oslo", population=709000, country="Norway")
    assert run.result.output == expected
    assert vendor.requests[0].stream is True
    native_schema(provider, vendor.requests[0].body)
    *partials, last = deltas
    whole = expected.model_dump(mode="json")
    assert last.final is True and last.value == whole
    assert partials and all(d.final is False for d in partials)
    assert all(isinstance(d.value, dict) for d in partials)
    assert all(is_partial_of(d.value, whole) for d in partials), [d.value for d in partials]
    assert any(d.value != whole for d in partials), "some deltas came before the end"
    # the name appears before the population (the order the text streamed in)
    assert partials[0].value.keys() <= {"name"}
    assert [cast(OutputDelta, d).value for d in recorder.of(OutputDelta)] == [
        d.value for d in deltas
    ]


# ----- 5. a gated tool in the same turn as the final answer ---------------------------------


def deploy_agent(model: Any, deployed: list[dict[str, Any]], **options: Any) -> Any:
    @tool
    def deploy(version: str) -> str:
        """Deploy a version of the service."""
        deployed.append({"version": version})
        return f"deployed {version}"

    return create_deep_agent(
        model=model,
        tools=[deploy],
        interrupt_on={"deploy": True},
        checkpointer=InMemoryCheckpointer(),
        **options,
    )


DEPLOY_AND_ANSWER = Reply(
    calls=[
        Call("deploy", {"version": "1.2"}, id="call_deploy"),
        Call("final_answer", OSLO, id="call_answer"),
    ]
)


async def test_a_final_answer_next_to_a_gated_call_is_taken_once_it_is_approved(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    deployed: list[dict[str, Any]] = []
    agent = deploy_agent(model_for("openai"), deployed, output_type=City)
    vendor.script(DEPLOY_AND_ANSWER)

    paused = await agent.ahandle_message(QUESTION, thread_id="ops")

    assert paused.interrupt is not None and paused.interrupt.tool_name == "deploy"
    assert paused.interrupt.tool_args == {"version": "1.2"}
    assert paused.output is None and deployed == []
    tools = tool_schemas("openai", vendor.requests[0].body)
    assert {"deploy", "final_answer"} <= set(tools)

    result = await agent.aresume_with_approval(HitlAction.accept(), thread_id="ops")

    assert deployed == [{"version": "1.2"}]
    assert result.interrupt is None
    assert result.output == City(name="Oslo", population=709000)
    assert json.loads(result.text) == result.output.model_dump(mode="json")
    assert len(vendor.requests) == 1, "the answer was taken without asking the model again"
    results = {m.tool_call_id: (m.content, m.is_error) for m in result.messages if m.role == "tool"}
    assert results["call_deploy"] == ("deployed 1.2", False)
    assert results["call_answer"][1] is False


async def test_a_final_answer_next_to_a_rejected_call_is_not_taken(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    deployed: list[dict[str, Any]] = []
    agent = deploy_agent(model_for("openai"), deployed)  # the output type per call
    vendor.script(DEPLOY_AND_ANSWER, answer("tool", BERGEN, call_id="call_again"))

    paused = await agent.ahandle_message(QUESTION, thread_id="ops", output_type=City)
    assert paused.interrupt is not None and paused.output is None

    result = await agent.aresume_with_approval(
        HitlAction.reject("not on a Friday"), thread_id="ops", output_type=City
    )

    assert deployed == []
    assert result.output == City(name="Bergen", population=291000)
    assert len(vendor.requests) == 2 and vendor.remaining == 0
    results = {
        cid: (content, err) for cid, content, err in tool_results("openai", vendor.requests[1].body)
    }
    assert set(results) == {"call_deploy", "call_answer"}
    assert "not on a Friday" in results["call_deploy"][0]
    not_taken = results["call_answer"][0]
    assert not_taken.startswith("Not taken") and "deploy" in not_taken
    # the second request still offers final_answer, with City's schema
    schema = tool_schemas("openai", vendor.requests[1].body)["final_answer"]
    assert set(schema["properties"]) == CITY_FIELDS


async def test_gemini_2_native_mode_next_to_tools_asks_in_the_prompt_instead(
    vendor: FakeVendor, model_for: ModelFactory
) -> None:
    # Gemini 2.x answers 400 to responseMimeType=application/json with function calling.
    vendor.script(answer("native", OSLO))
    agent = create_deep_agent(model=model_for("gemini"), output_type=City, output_mode="native")

    result = await agent.ahandle_message(QUESTION)

    assert result.output == City(name="Oslo", population=709000)
    body = vendor.requests[0].body
    assert tool_schemas("gemini", body) and vendor_format("gemini", body) is None
    schemas = [s for s in embedded_json(system_text("gemini", body)) if "properties" in s]
    assert schemas == [City.model_json_schema()]
