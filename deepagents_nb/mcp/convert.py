"""MCP results as the model reads them, and MCP schemas as argument checks.

A tool result's text parts stay text, images become `Image` parts (a placeholder
marks their place in the text), structured content is JSON, resource links and
embedded resources are named by URI (with the `/mcp/...` path that reads them),
and `isError` makes an error result.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from deepagents_nb.exceptions import ToolArgumentsError
from deepagents_nb.messages import MEDIA_TYPES, Image
from deepagents_nb.tools import ToolOutcome

if TYPE_CHECKING:
    import mcp_types

PathOf = Callable[[str], str | None]
"""A resource URI -> its path in the virtual filesystem (registering it), or None."""


def to_outcome(result: mcp_types.CallToolResult, path_of: PathOf) -> ToolOutcome:
    """A `CallToolResult` as the model's tool result."""
    from mcp_types import AudioContent, EmbeddedResource, ImageContent, ResourceLink, TextContent

    texts: list[str] = []
    images: list[Image] = []
    structured = result.structured_content
    for block in result.content:
        if isinstance(block, TextContent):
            if structured is not None and _same_json(block.text, structured):
                continue  # the JSON copy a server sends beside structured content
            texts.append(block.text)
        elif isinstance(block, ImageContent):
            image = _image(block.data, block.mime_type)
            if image is None:
                texts.append(f"[image {block.mime_type}: not a PNG, JPEG, GIF or WebP; not shown]")
            else:
                images.append(image)
                texts.append(image.placeholder())
        elif isinstance(block, AudioContent):
            texts.append(f"[audio {block.mime_type}, {_decoded_size(block.data)}; not shown]")
        elif isinstance(block, ResourceLink):
            texts.append(_link(block, path_of))
        elif isinstance(block, EmbeddedResource):
            text, image = embedded(block.resource, path_of)
            texts.append(text)
            if image is not None:
                images.append(image)
    if structured is not None:
        texts.insert(0, json.dumps(structured, ensure_ascii=False))
    content = "\n".join(texts)
    if not content and result.is_error:
        content = "The tool reported an error without a message."
    return ToolOutcome(content, is_error=result.is_error, images=tuple(images))


def embedded(
    contents: mcp_types.TextResourceContents | mcp_types.BlobResourceContents, path_of: PathOf
) -> tuple[str, Image | None]:
    """An embedded resource: its text under a header naming it, or an image, or a note."""
    path = path_of(contents.uri)
    where = f"{contents.uri}" + (f" (read_file {path})" if path else "")
    text = getattr(contents, "text", None)
    if text is not None:
        return f"[resource {where}]\n{text}", None
    blob = getattr(contents, "blob", "")
    image = _image(blob, contents.mime_type)
    if image is not None:
        return f"[resource {where}: {image.placeholder()}]", image
    mime = contents.mime_type or "binary"
    return f"[resource {where}: {mime}, {_decoded_size(blob)}; not shown]", None


def resource_text(result: mcp_types.ReadResourceResult) -> tuple[str | None, bytes | None, str]:
    """A read resource as (text, bytes, media type): text when every part is text."""
    parts = result.contents
    if parts and all(getattr(p, "text", None) is not None for p in parts):
        if len(parts) == 1:
            return str(getattr(parts[0], "text", "")), None, parts[0].mime_type or "text/plain"
        joined = "\n\n".join(f"[{p.uri}]\n{getattr(p, 'text', '')}" for p in parts)
        return joined, None, "text/plain"
    blob = next((getattr(p, "blob", None) for p in parts if getattr(p, "blob", None)), None)
    mime = next((p.mime_type for p in parts if p.mime_type), None) or "application/octet-stream"
    try:
        data = base64.b64decode(blob or "", validate=False)
    except (binascii.Error, ValueError):
        data = b""
    return None, data, mime


def _link(block: mcp_types.ResourceLink, path_of: PathOf) -> str:
    path = path_of(block.uri)
    parts = [f"[resource link {block.name}: {block.uri}"]
    if block.mime_type:
        parts.append(f" ({block.mime_type})")
    if block.description:
        parts.append(f" {block.description}")
    if path:
        parts.append(f"; read it with read_file {path}")
    return "".join(parts) + "]"


def _image(data: str, mime_type: str | None) -> Image | None:
    if mime_type not in MEDIA_TYPES:
        return None
    try:
        raw = base64.b64decode(data, validate=False)
        return Image.from_bytes(raw) if raw else None
    except (binascii.Error, ValueError):
        return None


def _decoded_size(data: str) -> str:
    size = len(data) * 3 // 4
    return f"{size} bytes" if size < 1024 else f"{max(1, round(size / 1024))} KB"


def _same_json(text: str, value: Any) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False


class ArgsValidator:
    """Checks a call's arguments against the JSON schema the server gave, built once.

    Uses `jsonschema` (which the MCP SDK depends on). A schema that `jsonschema`
    rejects is not used: then only the required keys are checked, and the server
    remains the judge of the rest.
    """

    def __init__(self, tool_name: str, schema: Mapping[str, Any]) -> None:
        self.tool_name = tool_name
        self.required = [str(k) for k in schema.get("required", ()) if isinstance(k, str)]
        self._validator: Any = None
        try:
            from jsonschema import validators
            from jsonschema.exceptions import SchemaError

            cls = validators.validator_for(schema)
            try:
                cls.check_schema(schema)
                self._validator = cls(schema)
            except SchemaError:
                self._validator = None
        except ImportError:  # the MCP SDK brings jsonschema; keep the minimal check without it
            self._validator = None

    def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """`args` as a dict, or `ToolArgumentsError` naming each problem."""
        if self._validator is None:
            missing = [key for key in self.required if key not in args]
            if missing:
                raise ToolArgumentsError(
                    f"Invalid arguments for tool {self.tool_name!r}: missing required "
                    f"{', '.join(repr(m) for m in missing)}."
                )
            return dict(args)
        errors = sorted(
            self._validator.iter_errors(dict(args)), key=lambda e: [str(p) for p in e.path]
        )
        if errors:
            problems = []
            for error in errors[:5]:
                where = ".".join(str(p) for p in error.absolute_path) or "arguments"
                problems.append(f"{where}: {error.message}")
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise ToolArgumentsError(
                f"Invalid arguments for tool {self.tool_name!r}: "
                + "; ".join(problems)
                + more
                + "."
            )
        return dict(args)
