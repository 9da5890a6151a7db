"""Record a real model's answers to a JSONL cassette; replay them offline, without keys.

    model = RecordingModel(AnthropicModel("claude-sonnet-4-6"), "cassettes/demo.jsonl")
    ...                                        # run the notebook once, with a key
    model = ReplayModel("cassettes/demo.jsonl")  # re-run it anywhere, no key, no network

Each line holds one request and the response it got (and, for streams, the
text pieces as they arrived). A replayed request must equal a recorded one
(system prompt, messages, tools and limits); anything else fails with the
first difference, so a notebook that changed is noticed, not silently
answered with stale text. API keys are never part of a request: a cassette
holds none.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from deepagents_nb.exceptions import ConfigurationError, ModelBehaviorError
from deepagents_nb.messages import Message
from deepagents_nb.models.base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
)
from deepagents_nb.usage import Usage

_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)

CASSETTE_FORMAT = 1
MATCHED_FIELDS = ("system", "messages", "tools", "max_tokens", "temperature")
"""What a replayed request is compared on (pass `ignore=` to skip some)."""

_WORD = re.compile(r"\S+\s*|\s+")


def request_record(request: ModelRequest) -> dict[str, Any]:
    """A request as JSON-ready data (message metadata left out: it is not sent as text)."""
    return {
        "system": request.system,
        "messages": [
            _MESSAGE.dump_python(m, mode="json", exclude={"metadata"}, exclude_defaults=True)
            for m in request.messages
        ],
        "tools": [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "metadata": {k: v for k, v in request.metadata.items() if _is_json(v)},
    }


def response_record(response: ModelResponse) -> dict[str, Any]:
    return {
        "message": _MESSAGE.dump_python(response.message, mode="json"),
        "usage": response.usage.model_dump() if response.usage else None,
        "model": response.model,
        "provider": response.provider,
        "stop_reason": response.stop_reason,
        "duration_ms": response.duration_ms,
    }


def response_from_record(data: dict[str, Any]) -> ModelResponse:
    return ModelResponse(
        message=_MESSAGE.validate_python(data["message"]),
        usage=Usage.model_validate(data["usage"]) if data.get("usage") else None,
        model=data.get("model", ""),
        provider=data.get("provider", ""),
        stop_reason=data.get("stop_reason"),
        duration_ms=data.get("duration_ms", 0.0),
    )


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class RecordingModel:
    """Wraps a model and appends each request/response pair to a JSONL cassette.

    The cassette is started afresh unless `append=True`. Failed calls are
    not recorded (a replay then asks for the call again, and fails clearly).
    """

    def __init__(self, model: ChatModel, path: str | os.PathLike[str], *, append: bool = False):
        self.model = model
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not append:
            self.path.write_text("", encoding="utf-8")
        self.recorded = 0

    @property
    def provider(self) -> str:
        return self.model.provider

    @property
    def model_name(self) -> str:
        return self.model.model_name

    def __repr__(self) -> str:
        return f"RecordingModel({self.model!r}, path={str(self.path)!r})"

    def _write(
        self, request: ModelRequest, response: ModelResponse, chunks: list[str] | None
    ) -> None:
        line = {
            "format": CASSETTE_FORMAT,
            "provider": self.provider,
            "model": self.model_name,
            "request": request_record(request),
            "response": response_record(response),
            "stream": chunks,
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.recorded += 1

    async def complete(self, request: ModelRequest) -> ModelResponse:
        response = await self.model.complete(request)
        self._write(request, response, None)
        return response

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        chunks: list[str] = []
        async for event in self.model.stream(request):
            if isinstance(event, TextDelta):
                chunks.append(event.text)
            elif isinstance(event, ResponseComplete):
                # Written before the last event: a caller may stop iterating after it.
                self._write(request, event.response, chunks)
            yield event


class ReplayModel:
    """Serves the responses of a cassette written by `RecordingModel`.

    Requests are matched to recordings by content (the first unused equal
    one), so concurrent calls, e.g. of parallel sub-agents, replay in any
    order. `ignore` names request fields not to compare (see `MATCHED_FIELDS`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ignore: Iterable[str] = (),
        provider: str | None = None,
        model_name: str | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigurationError(
                f"no cassette at {str(self.path)!r}: record one first with "
                f"RecordingModel(model, {str(self.path)!r})"
            )
        unknown = set(ignore) - set(MATCHED_FIELDS)
        if unknown:
            raise ConfigurationError(
                f"cannot ignore {sorted(unknown)}; request fields are {list(MATCHED_FIELDS)}"
            )
        self._fields = [f for f in MATCHED_FIELDS if f not in set(ignore)]
        self._records = self._load()
        self._used = [False] * len(self._records)
        first = self._records[0] if self._records else {}
        self._provider = provider or first.get("provider") or "replay"
        self._model_name = model_name or first.get("model") or "replay"
        self.requests: list[ModelRequest] = []

    def _load(self) -> list[dict[str, Any]]:
        records = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(
                    f"{self.path}:{number} is not a cassette line ({exc.msg})"
                ) from None
            if record.get("format") != CASSETTE_FORMAT:
                raise ConfigurationError(
                    f"{self.path}:{number}: cassette format {record.get('format')!r} "
                    f"is not supported (expected {CASSETTE_FORMAT})"
                )
            records.append(record)
        return records

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def remaining(self) -> int:
        """How many recordings have not been replayed yet."""
        return self._used.count(False)

    def __repr__(self) -> str:
        count = len(self._records)
        return f"ReplayModel({str(self.path)!r}, {count} recordings, {self.remaining} left)"

    def _key(self, request: dict[str, Any]) -> dict[str, Any]:
        return {f: request.get(f) for f in self._fields}

    def _match(self, request: ModelRequest) -> dict[str, Any]:
        self.requests.append(request)
        wanted = self._key(request_record(request))
        # A JSON round trip so tuples and lists (and int/float) compare as stored.
        wanted = json.loads(json.dumps(wanted))
        for index, record in enumerate(self._records):
            if not self._used[index] and self._key(record["request"]) == wanted:
                self._used[index] = True
                return record
        raise ModelBehaviorError(self._mismatch(wanted))

    def _mismatch(self, wanted: dict[str, Any]) -> str:
        call = len(self.requests)
        unused = [i for i, used in enumerate(self._used) if not used]
        head = f"ReplayModel ({self.path}): model call #{call} matches no recording"
        if not unused:
            return f"{head}: all {len(self._records)} recordings were used already"
        nearest = unused[0]
        difference = _first_difference(self._key(self._records[nearest]["request"]), wanted)
        return (
            f"{head}; compared with recording #{nearest + 1} (the next unused one): "
            f"{difference}. Re-record the cassette if the notebook changed."
        )

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return response_from_record(self._match(request)["response"])

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        record = self._match(request)
        response = response_from_record(record["response"])
        chunks = record.get("stream")
        if chunks is None:
            chunks = _WORD.findall(response.message.content)
        for chunk in chunks:
            yield TextDelta(chunk)
        yield ResponseComplete(response)


def _first_difference(recorded: Any, got: Any, where: str = "request") -> str:
    """Where two JSON values first differ, for an error a person can act on."""
    if isinstance(recorded, dict) and isinstance(got, dict):
        for key in [*recorded, *(k for k in got if k not in recorded)]:
            if recorded.get(key) != got.get(key):
                return _first_difference(recorded.get(key), got.get(key), f"{where}.{key}")
    elif isinstance(recorded, list) and isinstance(got, list):
        for i, (a, b) in enumerate(zip(recorded, got, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{where}[{i}]")
        if len(recorded) != len(got):
            return f"{where} has {len(got)} items, the recording {len(recorded)}"
    return f"{where} is {_short(got)}, the recording has {_short(recorded)}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
