"""Tools: Python functions the model can call, with schemas from type hints.

    >>> @tool("Adds two numbers together")
    ... def add(a: int, b: int) -> int:
    ...     return a + b
    >>> add.name, add.parameters["required"]
    ('add', ['a', 'b'])

Schemas and validators are built once, when the tool is made, never per call.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from deepagents_nb.context import ToolContext
from deepagents_nb.exceptions import ToolArgumentsError, ToolDefinitionError
from deepagents_nb.messages import Image

ToolFunction = Callable[..., Any]


@dataclass(frozen=True)
class ToolSchema:
    """What a model is told about a tool."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call produced: the text the model reads, its images, whether it failed.

    A tool may return one itself, to send images or to fail without raising.
    """

    content: str
    is_error: bool = False
    images: tuple[Image, ...] = ()


class Tool:
    """A callable the model can use.

    Build one with `@tool`, or by hand from a name, a description, a JSON
    schema of its parameters and a callable that takes them as keywords::

        Tool("echo", "Repeat the text", lambda text: text,
             parameters={"type": "object", "properties": {"text": {"type": "string"}},
                         "required": ["text"]})

    A hand-built tool checks that required arguments are present; pass
    `args_model` (a pydantic model) for full validation.
    """

    __slots__ = (
        "_args_model",
        "_context_param",
        "_fn",
        "_inline",
        "_is_async",
        "description",
        "name",
        "parameters",
        "schema",
        "side_effects",
    )

    def __init__(
        self,
        name: str,
        description: str,
        fn: ToolFunction,
        parameters: Mapping[str, Any] | None = None,
        *,
        args_model: type[BaseModel] | None = None,
        context_param: str | None = None,
        inline: bool = False,
        side_effects: bool = False,
    ) -> None:
        if not name or not name.isascii() or not name.replace("_", "").replace("-", "").isalnum():
            raise ToolDefinitionError(
                f"tool name {name!r} must be non-empty letters, digits, '_' or '-'"
            )
        if not callable(fn):
            raise ToolDefinitionError(f"tool {name!r}: fn must be callable, got {fn!r}")
        if parameters is None:
            parameters = (
                _clean_schema(args_model.model_json_schema())
                if args_model
                else {"type": "object", "properties": {}}
            )
        self.name = name
        self.description = description
        self.parameters = dict(parameters)
        self.schema = ToolSchema(name, description, self.parameters)
        self._fn = fn
        self._args_model = args_model
        self._context_param = context_param
        self._is_async = inspect.iscoroutinefunction(fn)
        self._inline = inline
        self.side_effects = side_effects
        """Whether a call changes the world (sends, deploys, pays): such a call is marked
        started in the store before it runs, so a crash never re-runs it silently."""

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r}, description={self.description[:40]!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (handy in tests and notebooks)."""
        return self._fn(*args, **kwargs)

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check `args` against the schema; returns keyword arguments for the function.

        Raises `ToolArgumentsError` with a message a model can act on.
        """
        if self._args_model is not None:
            try:
                model = self._args_model.model_validate(args)
            except ValidationError as exc:
                raise ToolArgumentsError(_describe_errors(self.name, exc)) from exc
            return dict(model.__dict__)  # the validated fields, by name
        missing = [key for key in self.parameters.get("required", ()) if key not in args]
        if missing:
            raise ToolArgumentsError(
                f"Invalid arguments for tool {self.name!r}: missing required "
                f"{', '.join(repr(m) for m in missing)}."
            )
        return dict(args)

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        """Validate `args`, call the function, and turn its return value into text."""
        return (await self.invoke(args, ctx)).content

    async def invoke(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolOutcome:
        """Validate `args`, call the function, and turn its return value into an outcome."""
        kwargs = self.validate(args)
        if self._context_param is not None:
            kwargs[self._context_param] = ctx
        if self._is_async:
            value = await self._fn(**kwargs)
        elif self._inline:
            value = self._fn(**kwargs)
        else:
            # Sync tools may block on I/O: keep the event loop free. to_thread reuses
            # the loop's default executor, so no pool is created per call.
            value = await asyncio.to_thread(self._fn, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return to_outcome(value)


def to_outcome(value: Any) -> ToolOutcome:
    """A tool's return value as an outcome: an `Image`, or a list mixing text and
    images, keeps its images; anything else becomes text."""
    if isinstance(value, ToolOutcome):
        return value
    if isinstance(value, Image):
        return ToolOutcome(value.placeholder(), images=(value,))
    if isinstance(value, list | tuple) and any(isinstance(v, Image) for v in value):
        images = tuple(v for v in value if isinstance(v, Image))
        texts = [v.placeholder() if isinstance(v, Image) else to_content(v) for v in value]
        return ToolOutcome("\n".join(t for t in texts if t), images=images)
    return ToolOutcome(to_content(value))


def to_content(value: Any) -> str:
    """Turn a tool's return value into the text the model reads."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    """Models nested in lists or dicts become JSON objects, anything else its str()."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def _describe_errors(tool_name: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        got = "" if err["type"] == "missing" else f" (got {err.get('input')!r:.60})"
        parts.append(f"{where}: {err['msg']}{got}")
    return f"Invalid arguments for tool {tool_name!r}: " + "; ".join(parts) + "."


# Keywords whose value maps names (of properties, definitions) to schemas, and
# keywords whose value is data (a default, allowed values) rather than a schema.
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
_DATA_KEYWORDS = frozenset({"default", "enum", "const", "examples"})


def _clean_schema(schema: Any) -> Any:
    """Drop pydantic's generated titles: they cost prompt tokens and say nothing new.

    Only schema keywords are dropped: a property called "title", or a default
    value with a "title" key, is kept as it is.
    """
    if isinstance(schema, list):
        return [_clean_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _DATA_KEYWORDS:
            cleaned[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: _clean_schema(sub) for name, sub in value.items()}
        else:
            cleaned[key] = _clean_schema(value)
    return cleaned


def _is_tool_context(annotation: Any) -> bool:
    return annotation is ToolContext or annotation == "ToolContext"


def _accepts_none(annotation: Any) -> bool:
    """Whether None is a valid value: `Optional[T]`, `T | None`, `Annotated[T | None, ...]`."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if annotation is None or annotation is type(None):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_accepts_none(arg) for arg in typing.get_args(annotation))
    return False


def tool_from_function(
    fn: ToolFunction,
    *,
    name: str | None = None,
    description: str | None = None,
    inline: bool = False,
    side_effects: bool = False,
) -> Tool:
    """Make a `Tool` from a type-hinted function (what `@tool` does)."""
    import docstring_parser  # only needed when tools are defined

    if not callable(fn):
        raise ToolDefinitionError(f"@tool needs a function, got {fn!r}")
    tool_name = str(name or getattr(fn, "__name__", ""))
    doc = docstring_parser.parse(inspect.getdoc(fn) or "")
    summary: str = "\n\n".join(p for p in (doc.short_description, doc.long_description) if p)
    param_docs = {p.arg_name: p.description for p in doc.params}
    try:
        hints = inspect.get_annotations(fn, eval_str=True)
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot read type hints: {exc}") from exc

    fields: dict[str, Any] = {}
    context_param = None
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {tool_name!r}: *args/**kwargs are not supported")
        if param.kind is param.POSITIONAL_ONLY:  # tools are always called with keywords
            raise ToolDefinitionError(
                f"tool {tool_name!r}: positional-only parameter {pname!r} is not supported"
            )
        annotation = hints.get(pname, param.annotation)
        if _is_tool_context(annotation):
            context_param = pname
            continue
        if annotation is inspect.Parameter.empty:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: parameter {pname!r} needs a type hint "
                f"(the model is told the argument types)"
            )
        if param.default is not inspect.Parameter.empty:
            default = param.default
        elif _accepts_none(annotation):
            # As the Rust SDK's `Option<T>`: a parameter that may be None may be left out.
            default = None
        else:
            default = ...
        # A description from `Args:` only when there is one: passing None would wipe
        # one given in `Annotated[..., Field(description=...)]`.
        doc_text = param_docs.get(pname)
        field = Field(default, description=doc_text) if doc_text else Field(default)
        fields[pname] = (annotation, field)

    try:
        args_model = create_model(
            f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields
        )
        parameters = _clean_schema(args_model.model_json_schema())
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot build a schema: {exc}") from exc
    return Tool(
        tool_name,
        description or summary or tool_name,
        fn,
        parameters,
        args_model=args_model,
        context_param=context_param,
        inline=inline,
        side_effects=side_effects,
    )


@overload
def tool(fn: ToolFunction, /) -> Tool: ...
@overload
def tool(
    description: str | None = None,
    /,
    *,
    name: str | None = None,
    inline: bool = False,
    side_effects: bool = False,
) -> Callable[[ToolFunction], Tool]: ...
def tool(
    fn_or_description: ToolFunction | str | None = None,
    /,
    *,
    name: str | None = None,
    inline: bool = False,
    side_effects: bool = False,
) -> Tool | Callable[[ToolFunction], Tool]:
    """Turn a function into a `Tool`.

    Works bare (`@tool`, description from the docstring), seed-style
    (`@tool("Adds two numbers")`), or with options (`@tool(name="add", inline=True)`).
    Sync functions run in a worker thread so they may block; `inline=True` runs
    a cheap pure function directly on the event loop instead.
    `side_effects=True` marks a tool whose calls change the world: a call is
    recorded as started before it runs, and if the process dies during it the
    call becomes an interrupt for the user instead of running again (other
    tools are at-least-once: a run continued after a crash may repeat them).
    Parameter descriptions come from a Google-style `Args:` section.

    A parameter typed `Optional[T]` or `T | None` is optional even without a
    default (None when left out), as the Rust SDK's `Option<T>`. Bounds are
    written with pydantic: `Annotated[int, Field(ge=0)]` (or `NonNegativeInt`)
    for a `u32`; they appear in the schema (`"minimum": 0`) and a call that
    breaks them gets an error result naming the argument.
    """
    if callable(fn_or_description):
        return tool_from_function(
            fn_or_description, name=name, inline=inline, side_effects=side_effects
        )

    def decorate(fn: ToolFunction) -> Tool:
        return tool_from_function(
            fn,
            name=name,
            description=fn_or_description,
            inline=inline,
            side_effects=side_effects,
        )

    return decorate


def as_tool(value: Tool | ToolFunction) -> Tool:
    """Accept a `Tool` or a plain type-hinted function wherever tools are given."""
    return value if isinstance(value, Tool) else tool_from_function(value)
