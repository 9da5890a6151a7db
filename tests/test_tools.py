"""Tests for deepagents_nb.tools: making tools from functions, schemas, validation, running."""

# No `from __future__ import annotations` here on purpose: several tools below are
# defined inside test functions and use classes local to them in their type hints.

import asyncio
import dataclasses
import enum
import json
import threading
from typing import Annotated, Any, Optional, Union

import pytest
from pydantic import BaseModel, Field, NonNegativeInt

from deepagents_nb import ToolCall, create_deep_agent
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.exceptions import ToolArgumentsError, ToolDefinitionError, ToolError
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.state import AgentStateSnapshot, StateUpdate, TodoItem
from deepagents_nb.tools import (
    Tool,
    ToolOutcome,
    ToolSchema,
    as_tool,
    to_content,
    tool,
    tool_from_function,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    y: int = 0


def make_ctx(state: AgentStateSnapshot | None = None) -> ToolContext:
    extra: dict[str, Any] = {}
    if "model" in {f.name for f in dataclasses.fields(RunContext)}:
        extra["model"] = ScriptedModel([])  # tools never talk to the model
    run = RunContext(
        thread_id="t",
        run_id="r",
        agent_name="a",
        state=state if state is not None else AgentStateSnapshot(),
        emit=lambda e: None,
        **extra,
    )
    return ToolContext(run=run, call_id="c1")


def titles_outside_property_names(schema: Any, path: str = "") -> list[str]:
    """Paths of every "title" key used as a schema keyword (not as a property name)."""
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "title":
                found.append(path or "<root>")
            if key in ("properties", "$defs") and isinstance(value, dict):
                for name, sub in value.items():
                    found += titles_outside_property_names(sub, f"{path}/{key}/{name}")
            elif key not in ("default", "enum", "const", "examples"):
                found += titles_outside_property_names(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            found += titles_outside_property_names(item, f"{path}[{i}]")
    return found


# ----- the three ways of writing @tool ---------------------------------------------------


def test_bare_decorator_reads_description_and_argument_docs_from_docstring() -> None:
    @tool
    def search_notes(query: str, limit: int = 10) -> list[str]:
        """Search the notes.

        Looks through every note in the thread.

        Args:
            query: Words to look for.
            limit: Most results to return.
        """
        return [query] * limit

    assert isinstance(search_notes, Tool)
    assert search_notes.name == "search_notes"
    assert search_notes.description == (
        "Search the notes.\n\nLooks through every note in the thread."
    )
    props = search_notes.parameters["properties"]
    assert props["query"] == {"type": "string", "description": "Words to look for."}
    assert props["limit"] == {
        "type": "integer",
        "default": 10,
        "description": "Most results to return.",
    }
    assert search_notes.parameters["required"] == ["query"]
    # The tool stays directly callable, like the function it wraps.
    assert search_notes("x", limit=2) == ["x", "x"]


def test_seed_style_decorator_uses_the_given_description() -> None:
    @tool("Adds two numbers together")
    def add(a: int, b: int) -> int:
        """This docstring is not the description."""
        return a + b

    assert add.name == "add"
    assert add.description == "Adds two numbers together"
    assert add.parameters["required"] == ["a", "b"]
    assert add.schema == ToolSchema("add", "Adds two numbers together", add.parameters)


def test_decorator_with_name_and_inline_options() -> None:
    @tool(name="plus", inline=True)
    def add(a: int, b: int) -> int:
        """Add a and b."""
        return a + b

    assert add.name == "plus"
    assert add.schema.name == "plus"
    assert add.description == "Add a and b."


def test_decorator_with_empty_parentheses_behaves_like_bare() -> None:
    @tool()
    def ping() -> str:
        """Answer pong."""
        return "pong"

    assert ping.name == "ping"
    assert ping.description == "Answer pong."
    assert ping.parameters == {"type": "object", "properties": {}, "additionalProperties": False}


def test_function_without_docstring_is_described_by_its_name() -> None:
    def no_doc(a: int) -> int:
        return a

    assert tool(no_doc).description == "no_doc"


def test_tool_from_function_accepts_explicit_name_and_description() -> None:
    def f(a: int) -> int:
        """Ignored."""
        return a

    t = tool_from_function(f, name="renamed", description="Explicit")
    assert (t.name, t.description) == ("renamed", "Explicit")


def test_as_tool_keeps_tools_and_wraps_functions() -> None:
    @tool
    def existing(a: int) -> int:
        """Existing tool."""
        return a

    def plain(a: int) -> int:
        """Plain function."""
        return a

    assert as_tool(existing) is existing
    wrapped = as_tool(plain)
    assert isinstance(wrapped, Tool)
    assert (wrapped.name, wrapped.description) == ("plain", "Plain function.")


# ----- schemas ----------------------------------------------------------------------------


def draw(
    label: str,
    tags: list[str],
    color: Color,
    at: Point,
    size: Optional[int] = None,  # noqa: UP045 - Optional spelling on purpose
    scale: float = 1.0,
    title: str = "untitled",
) -> str:
    """Draw a shape.

    Args:
        label: Text to show.
        tags: Tags to attach.
    """
    return f"{label}|{tags}|{color.name}|{at.x},{at.y}|{size}|{scale}|{title}"


def test_schema_from_type_hints_is_exact() -> None:
    assert tool(draw).parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "label": {"type": "string", "description": "Text to show."},
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Tags to attach.",
            },
            "color": {"$ref": "#/$defs/Color"},
            "at": {"$ref": "#/$defs/Point"},
            "size": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            "scale": {"type": "number", "default": 1.0},
            "title": {"type": "string", "default": "untitled"},
        },
        "required": ["label", "tags", "color", "at"],
        "$defs": {
            "Color": {"type": "string", "enum": ["red", "blue"]},
            "Point": {
                "type": "object",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
                "required": ["x"],
            },
        },
    }


def test_optional_and_defaulted_parameters_are_not_required() -> None:
    def f(a: int, b: int | None = None, c: Optional[str] = None, d: str = "x") -> str:  # noqa: UP045
        """F."""
        return ""

    assert tool(f).parameters["required"] == ["a"]


async def test_optional_without_a_default_may_be_left_out_as_the_seeds_option() -> None:
    # The seed's `fn search(query: String, max_results: Option<u32>)`.
    @tool("Searches with optional filters")
    def search(
        query: str,
        max_results: Optional[int],  # noqa: UP045 - the spelling users write
        since: str | None,
        page: Annotated[int | None, Field(description="Page number.")],
    ) -> str:
        return f"{query}|{max_results}|{since}|{page}"

    assert search.parameters["required"] == ["query"]
    assert search.parameters["properties"]["max_results"] == {
        "anyOf": [{"type": "integer"}, {"type": "null"}],
        "default": None,
    }
    assert search.parameters["properties"]["page"]["description"] == "Page number."
    assert await search.run({"query": "q"}, make_ctx()) == "q|None|None|None"
    assert await search.run({"query": "q", "max_results": 5}, make_ctx()) == "q|5|None|None"
    with pytest.raises(ToolArgumentsError, match="max_results: Input should be a valid integer"):
        search.validate({"query": "q", "max_results": "many"})


def test_parameters_that_cannot_be_none_stay_required_without_a_default() -> None:
    def f(a: Any, b: Union[int, str], c: list[int | None]) -> str:  # noqa: UP007
        """F."""
        return ""

    assert tool(f).parameters["required"] == ["a", "b", "c"]


def test_unsigned_and_bounded_ints_are_in_the_schema() -> None:
    @tool
    def fetch(
        count: Annotated[int, Field(ge=0)],
        limit: NonNegativeInt = 10,
        ratio: Annotated[float, Field(gt=0, le=1)] = 0.5,
        max_results: Optional[Annotated[int, Field(ge=0)]] = None,  # noqa: UP045 - Option<u32>
    ) -> str:
        """Fetch things."""
        return f"{count}|{limit}|{ratio}|{max_results}"

    properties = fetch.parameters["properties"]
    assert properties["count"] == {"type": "integer", "minimum": 0}
    assert properties["limit"] == {"type": "integer", "minimum": 0, "default": 10}
    assert properties["ratio"] == {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 1,
        "default": 0.5,
    }
    assert properties["max_results"] == {
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
        "default": None,
    }
    assert fetch.parameters["required"] == ["count"]
    with pytest.raises(ToolArgumentsError) as caught:
        fetch.validate({"count": -1, "max_results": -2})
    assert str(caught.value) == (
        "Invalid arguments for tool 'fetch': count: Input should be greater than or equal "
        "to 0 (got -1); max_results: Input should be greater than or equal to 0 (got -2)."
    )


async def test_a_negative_count_reaches_the_model_as_an_error_result() -> None:
    ran: list[int] = []

    @tool
    def take(count: Annotated[int, Field(ge=0)]) -> str:
        """Take some."""
        ran.append(count)
        return "taken"

    model = ScriptedModel([ToolCall(name="take", args={"count": -3}), "Sorry."])
    agent = create_deep_agent(model=model, tools=[take])
    result = await agent.ahandle_message("Take -3")
    answer = next(m for m in result.messages if m.role == "tool")
    assert answer.is_error
    assert "count: Input should be greater than or equal to 0 (got -3)" in answer.content
    assert ran == []  # the function never saw the bad value
    assert result.text == "Sorry."


def test_schema_has_no_pydantic_titles_but_keeps_a_property_named_title() -> None:
    schema = tool(draw).parameters
    assert "title" in schema["properties"]
    assert titles_outside_property_names(schema) == []
    # The walker itself can fail: it does see a keyword title.
    assert titles_outside_property_names({"properties": {"a": {"title": "A"}}}) == ["/properties/a"]


def test_property_named_properties_and_title_in_a_default_are_kept_intact() -> None:
    def configure(properties: dict[str, str], options: dict[str, str] | None = None) -> str:
        """Configure."""
        return ""

    def with_default(options: dict[str, str] = {"title": "Report"}) -> str:  # noqa: B006
        """With a default."""
        return ""

    schema = tool(configure).parameters
    assert titles_outside_property_names(schema) == []
    assert schema["properties"]["properties"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    # A default value is data, not schema: its "title" key must survive.
    assert tool(with_default).parameters["properties"]["options"]["default"] == {"title": "Report"}


def test_schema_forbids_additional_properties() -> None:
    assert tool(draw).parameters["additionalProperties"] is False


def test_parameters_and_schema_are_built_once() -> None:
    t = tool(draw)
    assert t.schema.parameters is t.parameters
    assert t.schema.description == t.description == "Draw a shape."


# ----- running and validation -------------------------------------------------------------


async def test_sync_tool_runs_and_returns_text() -> None:
    @tool("Adds two numbers together")
    def add(a: int, b: int) -> int:
        return a + b

    assert await add.run({"a": 2, "b": 3}, make_ctx()) == "5"


async def test_async_tool_runs_and_returns_text() -> None:
    @tool
    async def shout(text: str) -> str:
        """Shout the text."""
        await asyncio.sleep(0)
        return text.upper() + "!"

    assert await shout.run({"text": "hi"}, make_ctx()) == "HI!"


async def test_all_parameter_kinds_arrive_as_python_values() -> None:
    received: dict[str, Any] = {}

    @tool
    def capture(
        tags: list[str],
        color: Color,
        at: Point,
        size: Optional[int] = None,  # noqa: UP045
        scale: float = 1.5,
    ) -> str:
        """Capture the arguments."""
        received.update(tags=tags, color=color, at=at, size=size, scale=scale)
        return "ok"

    args = {"tags": ["a", "b"], "color": "blue", "at": {"x": 3}}
    assert await capture.run(args, make_ctx()) == "ok"
    assert received["tags"] == ["a", "b"]
    assert received["color"] is Color.BLUE
    assert isinstance(received["at"], Point)
    assert received["at"] == Point(x=3, y=0)
    assert received["size"] is None
    assert received["scale"] == 1.5


async def test_optional_parameter_given_explicitly() -> None:
    @tool
    def f(size: int | None = None) -> str:
        """F."""
        return repr(size)

    assert await f.run({"size": 4}, make_ctx()) == "4"
    assert await f.run({"size": None}, make_ctx()) == "None"
    assert await f.run({}, make_ctx()) == "None"


class _Spy:
    """A tool whose function records whether it was called."""

    def __init__(self) -> None:
        self.calls = 0

        def count(n: int, color: Color, at: Point | None = None) -> str:
            """Count."""
            self.calls += 1
            return "called"

        self.tool = tool(count)


@pytest.mark.parametrize(
    ("args", "field", "expected"),
    [
        ({"n": "not a number", "color": "red"}, "n", "valid integer"),
        ({"color": "red"}, "n", "Field required"),
        ({"n": 1, "color": "red", "verbose": True}, "verbose", "Extra inputs are not permitted"),
        ({"n": 1, "color": "green"}, "color", "'red' or 'blue'"),
        ({"n": 1, "color": "red", "at": {"y": 2}}, "at.x", "Field required"),
        ({"n": [1], "color": "red"}, "n", "valid integer"),
    ],
)
async def test_bad_arguments_raise_before_the_function_runs(
    args: dict[str, Any], field: str, expected: str
) -> None:
    spy = _Spy()
    with pytest.raises(ToolArgumentsError) as info:
        await spy.tool.run(args, make_ctx())
    message = str(info.value)
    assert message.startswith("Invalid arguments for tool 'count': ")
    assert f"{field}: " in message
    assert expected in message
    assert spy.calls == 0


async def test_valid_arguments_do_reach_the_spy() -> None:
    spy = _Spy()
    assert await spy.tool.run({"n": 1, "color": "red"}, make_ctx()) == "called"
    assert spy.calls == 1


def test_argument_errors_are_tool_errors_and_list_every_problem() -> None:
    spy = _Spy()
    with pytest.raises(ToolError) as info:
        spy.tool.validate({"verbose": True})
    message = str(info.value)
    assert "n: Field required" in message
    assert "color: Field required" in message
    assert "verbose: Extra inputs are not permitted" in message


def test_argument_error_quotes_long_input_briefly() -> None:
    spy = _Spy()
    with pytest.raises(ToolArgumentsError) as info:
        spy.tool.validate({"n": "z" * 1000, "color": "red"})
    message = str(info.value)
    assert "(got 'zzz" in message
    assert "z" * 61 not in message
    assert len(message) < 200


def test_validate_returns_keyword_arguments_with_defaults_filled_in() -> None:
    assert tool(draw).validate(
        {"label": "l", "tags": [], "color": "red", "at": {"x": 1, "y": 2}}
    ) == {
        "label": "l",
        "tags": [],
        "color": Color.RED,
        "at": Point(x=1, y=2),
        "size": None,
        "scale": 1.0,
        "title": "untitled",
    }


# ----- ToolContext injection --------------------------------------------------------------


async def test_tool_context_is_injected_and_hidden_from_the_schema() -> None:
    seen: list[ToolContext] = []

    @tool
    def remember(text: str, ctx: ToolContext) -> str:
        """Remember something."""
        seen.append(ctx)
        return "ok"

    assert remember.parameters["properties"] == {"text": {"type": "string"}}
    assert remember.parameters["required"] == ["text"]
    ctx = make_ctx()
    assert await remember.run({"text": "x"}, ctx) == "ok"
    assert seen == [ctx]
    assert seen[0] is ctx


async def test_model_cannot_pass_the_context_parameter() -> None:
    @tool
    def remember(text: str, ctx: ToolContext) -> str:
        """Remember something."""
        return "ok"

    with pytest.raises(ToolArgumentsError, match="ctx: Extra inputs are not permitted"):
        await remember.run({"text": "x", "ctx": "forged"}, make_ctx())


async def test_string_annotation_of_tool_context_is_recognised() -> None:
    def annotated(text: str, context: "ToolContext") -> str:
        """Quoted annotation."""
        return context.call_id

    t = tool(annotated)
    assert "context" not in t.parameters["properties"]
    assert await t.run({"text": "x"}, make_ctx()) == "c1"


async def test_tool_context_records_state_changes_into_its_update() -> None:
    state = AgentStateSnapshot(files={"old.md": "old", "gone.md": "bye"}, extra={"k": 1})

    @tool
    def edit(ctx: ToolContext) -> str:
        """Edit the state."""
        before = ctx.read_file("notes.md")
        ctx.write_file("notes.md", "hello")
        after = ctx.read_file("notes.md")
        ctx.delete_file("gone.md")
        ctx.set_todos([TodoItem(content="write tests", status="in_progress")])
        ctx.set_extra("mode", "review")
        ctx.set_extra("k", None)
        return json.dumps(
            {
                "before": before,
                "after": after,
                "old": ctx.read_file("old.md"),
                "gone": ctx.read_file("gone.md"),
                "thread": ctx.thread_id,
            }
        )

    ctx = make_ctx(state)
    out = json.loads(await edit.run({}, ctx))
    assert out == {"before": None, "after": "hello", "old": "old", "gone": None, "thread": "t"}
    assert ctx.update == StateUpdate(
        files={"notes.md": "hello", "gone.md": None},
        todos=[TodoItem(content="write tests", status="in_progress")],
        extra={"mode": "review", "k": None},
    )
    # The state itself is only read; changes wait in the update.
    assert state.files == {"old.md": "old", "gone.md": "bye"}
    assert state.todos == []
    assert state.extra == {"k": 1}
    assert ctx.state is state


async def test_async_tool_gets_the_context_too() -> None:
    @tool
    async def note(text: str, ctx: ToolContext) -> None:
        """Write a note."""
        ctx.write_file("n.txt", text)

    ctx = make_ctx()
    assert await note.run({"text": "hi"}, ctx) == ""
    assert ctx.update.files == {"n.txt": "hi"}


# ----- return values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain text", "plain text"),
        ("", ""),
        (None, ""),
        ({"a": 1, "b": [True, None]}, '{"a": 1, "b": [true, null]}'),
        ([1, "two"], '[1, "two"]'),
        (42, "42"),
        (1.5, "1.5"),
        (False, "false"),
        ({"word": "café"}, '{"word": "café"}'),
        (Point(x=1, y=2), '{"x":1,"y":2}'),
        ([Point(x=1)], '[{"x": 1, "y": 0}]'),
        ({"p": Point(x=5, y=6)}, '{"p": {"x": 5, "y": 6}}'),
        ({"c": Color.RED}, '{"c": "Color.RED"}'),
    ],
)
def test_to_content(value: Any, text: str) -> None:
    assert to_content(value) == text


async def test_return_values_become_text_through_run() -> None:
    @tool
    def as_dict() -> dict[str, int]:
        """Dict."""
        return {"n": 1}

    @tool
    def as_model() -> Point:
        """Model."""
        return Point(x=7)

    @tool
    def as_none() -> None:
        """Nothing."""

    ctx = make_ctx()
    assert json.loads(await as_dict.run({}, ctx)) == {"n": 1}
    assert json.loads(await as_model.run({}, ctx)) == {"x": 7, "y": 0}
    assert await as_none.run({}, ctx) == ""


async def test_awaitable_returned_by_a_sync_callable_is_awaited() -> None:
    async def later() -> str:
        return "done"

    t = Tool("later", "Returns a coroutine", lambda: later(), inline=True)
    assert await t.run({}, make_ctx()) == "done"


def test_tool_outcome_defaults_and_is_frozen() -> None:
    outcome = ToolOutcome("text")
    assert (outcome.content, outcome.is_error) == ("text", False)
    assert ToolOutcome("bad", is_error=True).is_error is True
    with pytest.raises(AttributeError):
        outcome.content = "other"  # type: ignore[misc]


# ----- hand-built tools -------------------------------------------------------------------

ECHO_PARAMS = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "times": {"type": "integer"}},
    "required": ["text"],
}


async def test_hand_built_tool_runs_with_keyword_arguments() -> None:
    echo = Tool("echo", "Repeat the text", lambda text, times=1: text * times, ECHO_PARAMS)
    assert echo.parameters == ECHO_PARAMS
    assert echo.parameters is not ECHO_PARAMS  # a copy, not the caller's dict
    assert echo.schema == ToolSchema("echo", "Repeat the text", ECHO_PARAMS)
    assert await echo.run({"text": "ab", "times": 2}, make_ctx()) == "abab"
    assert "echo" in repr(echo)


async def test_hand_built_tool_checks_required_keys_before_calling() -> None:
    calls: list[dict[str, Any]] = []

    def fn(**kwargs: Any) -> str:
        calls.append(kwargs)
        return "ran"

    t = Tool("echo", "Repeat", fn, ECHO_PARAMS)
    with pytest.raises(ToolArgumentsError) as info:
        await t.run({"times": 2}, make_ctx())
    assert "'echo'" in str(info.value)
    assert "missing required 'text'" in str(info.value)
    assert calls == []
    assert await t.run({"text": "x"}, make_ctx()) == "ran"
    assert calls == [{"text": "x"}]


def test_hand_built_tool_without_parameters_takes_none() -> None:
    t = Tool("now", "The time", lambda: "noon")
    assert t.parameters == {"type": "object", "properties": {}}
    assert t.validate({}) == {}


async def test_hand_built_tool_with_args_model_validates_fully() -> None:
    t = Tool("move", "Move to a point", lambda x, y: f"{x},{y}", args_model=Point)
    assert t.parameters == {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
        "required": ["x"],
    }
    assert await t.run({"x": 4}, make_ctx()) == "4,0"
    with pytest.raises(ToolArgumentsError, match="x: Input should be a valid integer"):
        await t.run({"x": "left"}, make_ctx())


async def test_hand_built_tool_with_context_param() -> None:
    t = Tool(
        "who",
        "Which call is this",
        lambda ctx: ctx.call_id,
        {"type": "object", "properties": {}},
        context_param="ctx",
    )
    assert await t.run({}, make_ctx()) == "c1"


# ----- definition errors ------------------------------------------------------------------


def test_missing_type_hint_is_a_definition_error() -> None:
    def untyped(a: int, b) -> int:  # type: ignore[no-untyped-def]
        return a

    with pytest.raises(ToolDefinitionError, match="parameter 'b' needs a type hint"):
        tool(untyped)


def test_star_args_and_kwargs_are_definition_errors() -> None:
    def star(*items: int) -> int:
        return 0

    def double_star(**options: int) -> int:
        return 0

    with pytest.raises(ToolDefinitionError, match=r"\*args/\*\*kwargs"):
        tool(star)
    with pytest.raises(ToolDefinitionError, match=r"\*args/\*\*kwargs"):
        tool(double_star)


def test_positional_only_parameters_are_definition_errors() -> None:
    # Tools are called with keyword arguments, so such a tool could never run.
    def pos_only(a: int, /) -> int:
        return a

    with pytest.raises(ToolDefinitionError, match="positional-only parameter 'a'"):
        tool(pos_only)


def test_unresolvable_type_hint_is_a_definition_error() -> None:
    def broken(a: "NoSuchType") -> int:  # type: ignore[name-defined]  # noqa: F821
        return 0

    with pytest.raises(ToolDefinitionError, match="cannot read type hints"):
        tool(broken)


def test_type_without_a_schema_is_a_definition_error() -> None:
    def takes_lock(lock: threading.Lock) -> int:  # type: ignore[valid-type]
        return 0

    with pytest.raises(ToolDefinitionError, match="cannot build a schema"):
        tool(takes_lock)


@pytest.mark.parametrize("name", ["", "has space", "dot.name", "slash/name", "café", "<lambda>"])
def test_bad_names_are_definition_errors(name: str) -> None:
    with pytest.raises(ToolDefinitionError, match="tool name"):
        Tool(name, "d", lambda: None)


def test_lambda_gets_a_bad_name_unless_one_is_given() -> None:
    def fn(a: int) -> int:
        return a

    lam = lambda a: a  # noqa: E731
    lam.__annotations__ = {"a": int}
    with pytest.raises(ToolDefinitionError, match="'<lambda>'"):
        tool_from_function(lam)
    assert tool_from_function(lam, name="identity").name == "identity"
    assert tool_from_function(fn, name="get-item_2").name == "get-item_2"


def test_non_callables_are_definition_errors() -> None:
    with pytest.raises(ToolDefinitionError, match="fn must be callable"):
        Tool("x", "d", "not a function")  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="needs a function"):
        tool_from_function(42)  # type: ignore[arg-type]


# ----- where tools run --------------------------------------------------------------------


async def test_sync_tool_runs_in_a_worker_thread_and_inline_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    def where() -> int:
        return threading.get_ident()

    async def where_async() -> int:
        return threading.get_ident()

    worker = tool(where)
    inline = tool(name="where_inline", inline=True)(where)
    in_async = tool(where_async)
    ctx = make_ctx()
    assert int(await worker.run({}, ctx)) != loop_thread
    assert int(await inline.run({}, ctx)) == loop_thread
    assert int(await in_async.run({}, ctx)) == loop_thread


async def test_blocking_sync_tools_do_not_block_each_other() -> None:
    # Each call waits for the other one: only possible if neither holds the loop.
    barrier = threading.Barrier(2, timeout=5)

    @tool
    def meet(who: str) -> str:
        """Wait for the other caller."""
        barrier.wait()
        return who

    ctx = make_ctx()
    results = await asyncio.wait_for(
        asyncio.gather(meet.run({"who": "a"}, ctx), meet.run({"who": "b"}, ctx)), timeout=5
    )
    assert results == ["a", "b"]


async def test_exceptions_from_the_function_propagate() -> None:
    @tool
    def fails(a: int) -> int:
        """Always fails."""
        raise RuntimeError(f"boom {a}")

    with pytest.raises(RuntimeError, match="boom 3"):
        await fails.run({"a": 3}, make_ctx())
