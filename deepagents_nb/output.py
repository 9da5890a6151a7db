"""Structured output: `output_type=T` makes a run end with a validated `T`.

Three ways to get it from a model (`output_mode`):

- `"tool"` (default): the model answers by calling `final_answer`, whose
  parameters are T's JSON schema (a T that is not an object is wrapped as
  `{"response": T}`). Works with every provider, next to any other tool.
- `"native"`: the vendor's own JSON-schema mode (OpenAI `response_format` with a
  strict schema, Anthropic `output_config.format`, Gemini `response_json_schema`);
  the answer's text is the JSON.
- `"prompted"`: the schema goes in the system prompt and the JSON is read from the
  text, for OpenAI-compatible servers with neither.

An answer that fails T goes back to the model with the fields named, up to
`retries` times, then `OutputValidationError`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError, create_model
from pydantic_core import from_json

from deepagents_nb.exceptions import ConfigurationError, OutputValidationError
from deepagents_nb.tools import ToolSchema

T = TypeVar("T")
OutputMode = Literal["tool", "native", "prompted"]
OUTPUT_MODES: tuple[OutputMode, ...] = get_args(OutputMode)
FINAL_ANSWER = "final_answer"
OUTPUT_KEY = "output"
"""Where a thread keeps its last run's output in `state.extra`."""
DEFAULT_RETRIES = 2
_NOT_JSON = object()
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True)
class OutputFormat:
    """What a model request asks the answer to look like (set on `ModelRequest.output`).

    Adapters read it for `"native"` mode; test doubles to shape a scripted answer.
    """

    name: str
    schema: dict[str, Any]
    """The answer's JSON schema: always an object (T itself, or `{"response": T}`)."""
    mode: OutputMode
    wrapped: bool
    strict_schema: dict[str, Any] = field(repr=False, default_factory=dict)
    """`schema` made strict-compatible (closed objects, every property required,
    optional ones nullable, no defaults): what OpenAI and Anthropic need."""


def prompted_instructions(answer: OutputFormat) -> str:
    """The system-prompt section asking for JSON in the text (prompted mode, and native
    mode where a vendor cannot combine its JSON mode with tools)."""
    schema = json.dumps(answer.schema, ensure_ascii=False)
    return (
        "## Final answer\n\nWhen you are done, answer with one JSON value and nothing "
        f"else (no prose, no code fence), matching this JSON schema:\n{schema}"
    )


class OutputInvalid(Exception):
    """An answer failed the output type; `message` is what the model is told."""

    def __init__(self, message: str, raw: Any) -> None:
        super().__init__(message)
        self.message = message
        self.raw = raw


class OutputSpec(Generic[T]):
    """One output type, compiled once: its schema, validator and `final_answer` tool.

    Args:
        output_type: A pydantic model, dataclass, TypedDict, primitive,
            `Literal[...]`, `list[...]` or a union.
        mode: `"tool"`, `"native"` or `"prompted"`.
        retries: How many invalid answers go back to the model before the run fails.
    """

    def __init__(
        self, output_type: Any, mode: OutputMode = "tool", retries: int = DEFAULT_RETRIES
    ) -> None:
        if mode not in OUTPUT_MODES:
            raise ConfigurationError(
                f"output_mode must be one of {', '.join(map(repr, OUTPUT_MODES))}, got {mode!r}"
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"output_retries must be 0 or more, got {retries!r}")
        self.output_type = output_type
        self.mode: OutputMode = mode
        self.retries = retries
        try:
            self._adapter: TypeAdapter[Any] = TypeAdapter(output_type)
            inner = self._adapter.json_schema()
        except Exception as exc:
            raise ConfigurationError(
                f"output_type={output_type!r} cannot be validated: {exc}"
            ) from exc
        self.name = _type_name(output_type)
        self.wrapped = inner.get("type") != "object"
        if self.wrapped:
            wrapper = create_model(self.name, response=(output_type, ...))
            self._outer: TypeAdapter[Any] = TypeAdapter(wrapper)
        else:
            self._outer = self._adapter
        schema = self._outer.json_schema()
        self.format = OutputFormat(
            name=self.name,
            schema=schema,
            mode=mode,
            wrapped=self.wrapped,
            strict_schema=strict_schema(schema),
        )

    def __repr__(self) -> str:
        return f"OutputSpec({self.name}, mode={self.mode!r})"

    # ----- what the model is offered -------------------------------------------------------

    def tool_schema(self) -> ToolSchema:
        """The `final_answer` tool (tool mode)."""
        return ToolSchema(
            FINAL_ANSWER,
            "Give your final answer. Call this once, when you are done, with the answer "
            "as its arguments; do not answer in text.",
            self.format.schema,
        )

    def instructions(self) -> str:
        """The system-prompt section of each mode."""
        if self.mode == "tool":
            return (
                f"## Final answer\n\nWhen you are done, answer by calling `{FINAL_ANSWER}` "
                f"with the answer as its arguments, not in text."
            )
        if self.mode == "native":
            return "## Final answer\n\nWhen you are done, answer with the JSON asked for."
        return prompted_instructions(self.format)

    # ----- reading answers -----------------------------------------------------------------

    def parse_args(self, args: dict[str, Any] | str) -> T:
        """The value in a `final_answer` call's arguments; `OutputInvalid` if they fail T."""
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                raise OutputInvalid(
                    f"The {FINAL_ANSWER} arguments are not valid JSON ({exc.msg}); send them "
                    f"as a JSON object.",
                    args,
                ) from None
        return self._validate(args, args)

    def parse_text(self, text: str) -> T:
        """The value in a text answer (native and prompted modes)."""
        match = _FENCE.match(text)
        body = match.group(1) if match else text
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            value = _NOT_JSON
            error = f"Your answer is not valid JSON ({exc.msg} at position {exc.pos})."
        if self.wrapped and not (isinstance(value, dict) and set(value) == {"response"}):
            # A model may give the bare value (`"positive"`, even unquoted) for {"response": T}.
            value = {"response": body.strip() if value is _NOT_JSON else value}
        elif value is _NOT_JSON:
            raise OutputInvalid(f"{error} Answer with only the JSON value.", text)
        return self._validate(value, text)

    def partial(self, text: str) -> Any:
        """As much of a streamed JSON answer as has arrived, as plain data (None if nothing)."""
        match = _FENCE.match(text + "\n```") if text.lstrip().startswith("```") else None
        body = match.group(1) if match else text
        body = _without_trailing_number(body)
        if not body.strip():
            return None
        try:
            value = from_json(body, allow_partial="trailing-strings")
        except ValueError:
            return None
        if self.wrapped and isinstance(value, dict):
            return value.get("response")
        return value

    def from_json(self, data: Any) -> T:
        """A value `to_json` gave, validated back into T (a row read from its thread)."""
        return cast(T, self._adapter.validate_python(data))

    def to_json(self, value: Any) -> Any:
        """`value` as JSON-ready data (for events, checkpoints and the `task` tool)."""
        return self._adapter.dump_python(value, mode="json")

    def _validate(self, value: Any, raw: Any) -> T:
        if isinstance(value, dict):
            value = _without_strict_nulls(value, self.format.schema)
        try:
            validated = self._outer.validate_python(value)
        except ValidationError as exc:
            raise OutputInvalid(_describe(exc), raw) from None
        if self.wrapped:
            return cast(T, validated.response)
        return cast(T, validated)


@dataclass
class OutputRun:
    """One run's progress towards its output: invalid answers so far, the value once taken."""

    spec: OutputSpec[Any]
    failures: int = 0
    done: bool = False
    value: Any = None
    data: Any = None
    """`value` as JSON data (`spec.to_json`), made once when it is taken."""
    error: OutputValidationError | None = None

    def take(self, value: Any) -> None:
        self.value, self.data, self.done = value, self.spec.to_json(value), True

    def reject(self, invalid: OutputInvalid) -> None:
        """Count an invalid answer; past the retries, `error` is what the run raises."""
        self.failures += 1
        if self.failures > self.spec.retries:
            self.error = OutputValidationError(
                f"the model's answer failed output_type {self.spec.name} "
                f"{self.failures} times (output_retries={self.spec.retries}); the last "
                f"time: {invalid.message}",
                invalid.raw,
            )


_TRAILING_NUMBER = re.compile(r"-?[0-9][0-9.eE+-]*$|-$")


def _without_trailing_number(body: str) -> str:
    """`body` without a number at its end that may go on (`70` of `709000`), so a partial
    value never shows a wrong number; a number inside a string stays."""
    stripped = body.rstrip()
    match = _TRAILING_NUMBER.search(stripped)
    if match is None or _in_string(stripped[: match.start()]):
        return body
    return stripped[: match.start()]


def _in_string(text: str) -> bool:
    """Whether JSON `text` ends inside a string (an odd number of unescaped quotes)."""
    inside = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = inside
        elif char == '"':
            inside = not inside
    return inside


def as_output_spec(
    output_type: Any, mode: OutputMode = "tool", retries: int = DEFAULT_RETRIES
) -> OutputSpec[Any] | None:
    """An `OutputSpec` for `output_type` (None stays None; a spec is returned as is)."""
    if output_type is None or isinstance(output_type, OutputSpec):
        return output_type
    return OutputSpec(output_type, mode, retries)


def _type_name(output_type: Any) -> str:
    name = getattr(output_type, "__name__", None)
    if not isinstance(name, str) or name.startswith("<"):
        name = "Output"
    # Vendors take schema names of letters, digits, _ and - only.
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "Output"


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "the answer"
        lines.append(f"- {where}: {error['msg']}")
    return (
        "The answer does not match the output schema:\n"
        + "\n".join(lines)
        + ("\nFix these and answer again.")
    )


# ----- strict schemas ------------------------------------------------------------------------


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as OpenAI's strict mode (and Anthropic's) accept it.

    Every object is closed (`additionalProperties: false`) and lists every property
    as required; a property that was optional becomes nullable, and a null for it
    is dropped again before validation (`_without_strict_nulls`), so its default
    applies. Defaults themselves are removed (strict mode refuses them).
    """
    return cast(dict[str, Any], _strict(schema))


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k != "default"}
    if node.get("type") == "object" and "properties" in node:
        required = set(node.get("required", ()))
        properties = out["properties"]
        for name in list(properties):
            if name not in required and not _allows_null(properties[name]):
                properties[name] = {"anyOf": [properties[name], {"type": "null"}]}
        out["required"] = list(properties)
        out["additionalProperties"] = False
    return out


def _allows_null(node: Any) -> bool:
    return isinstance(node, dict) and (
        node.get("type") == "null" or any(_allows_null(n) for n in node.get("anyOf", ()))
    )


def _without_strict_nulls(value: Any, schema: dict[str, Any]) -> Any:
    """`value` without the nulls strict mode made a model send for optional properties."""
    defs = schema.get("$defs", {})

    def walk(item: Any, node: dict[str, Any]) -> Any:
        while "$ref" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        if isinstance(item, dict) and "properties" in node:
            required = set(node.get("required", ()))
            props = node["properties"]
            return {
                k: walk(v, props.get(k, {}))
                for k, v in item.items()
                if not (v is None and k in props and k not in required)
            }
        if isinstance(item, list) and isinstance(node.get("items"), dict):
            return [walk(v, node["items"]) for v in item]
        return item

    return walk(value, schema)


def is_model_like(value: Any) -> bool:
    """Whether a scripted answer is structured data (a model, dataclass or dict)."""
    import dataclasses

    return isinstance(value, BaseModel | dict) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )
