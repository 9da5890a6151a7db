"""Values as JSON data and as text, and short stable digests (for batch ids and labels)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import TypeAdapter

_JSON: TypeAdapter[Any] = TypeAdapter(Any)


def digest(*parts: str) -> str:
    """Twelve hex digits of SHA-256 over `parts` (a stable id for batches and labels)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def as_jsonable(value: Any) -> Any:
    """`value` as JSON-ready data: models, dataclasses and tuples become dicts and lists."""
    return _JSON.dump_python(value, mode="json")


def json_text(value: Any) -> str:
    """`value` as text: a string itself, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(as_jsonable(value), ensure_ascii=False)
