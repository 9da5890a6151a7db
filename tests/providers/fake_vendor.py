"""A local stand-in for the OpenAI, Anthropic and Gemini HTTP APIs.

Tests script what the "model" says in vendor-neutral terms (`Reply`, `Fail`,
`Cut`, ...); the server renders each item in the wire format of the endpoint
the SDK called, as JSON or as a server-sent-event stream, following each
vendor's API reference:

- OpenAI   POST {base}/v1/chat/completions            (`stream: true` -> SSE, `[DONE]`)
- Anthropic POST {base}/v1/messages                   (`stream: true` -> named SSE events)
- Gemini   POST {base}/{version}/models/M:generateContent, :streamGenerateContent?alt=sse

Streams use chunked transfer encoding, so a `Cut` (the connection dropped
before the terminating chunk) is seen by the client as a broken response,
as it would be on the internet. Every request is kept in `requests`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BAD_KEY = "sk-test-bad-key-0123456789"
"""A key the server refuses, quoting it back as OpenAI does, to test scrubbing."""


@dataclass
class Call:
    """A tool call; `args` as a str is sent verbatim (e.g. invalid JSON)."""

    name: str
    args: dict[str, Any] | str
    id: str | None = None
    signature: str | None = None  # a Gemini thought signature (base64)


@dataclass
class Tokens:
    """Usage in our terms; rendered into each vendor's own accounting."""

    input: int = 0  # every prompt token, cached ones included
    output: int = 0  # every output token, reasoning included
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass
class Reply:
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    tokens: Tokens = field(default_factory=Tokens)
    chunks: list[str] | None = None  # how the text is split when streamed
    stop: str | None = None  # a vendor stop reason instead of the natural one

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return self.chunks
        words = self.text.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]] if self.text else []


@dataclass
class Fail:
    """An HTTP error in the vendor's error format."""

    status: int
    message: str = "scripted failure"
    kind: str | None = None  # vendor error type/status, else the usual one for `status`
    retry_after: str | None = None


@dataclass
class Cut:
    """Stream `after` frames of `reply`, then drop the connection (or, `clean`,
    end the response properly, as a proxy that loses the rest might)."""

    reply: Reply
    after: int
    clean: bool = False


@dataclass
class StreamError:
    """Stream `after` frames of `reply`, then an error event (Anthropic and OpenAI)."""

    reply: Reply
    after: int
    kind: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass
class Raw:
    """A response body sent as it is (for shapes the other items cannot make)."""

    payload: dict[str, Any]
    status: int = 200


@dataclass
class Stall:
    """Wait `seconds` before answering (to trigger client timeouts)."""

    seconds: float
    reply: Reply = field(default_factory=Reply)


Item = Reply | Fail | Cut | StreamError | Stall | Raw


@dataclass
class Received:
    vendor: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    stream: bool


# ----- OpenAI -------------------------------------------------------------------------------


def _args_text(args: dict[str, Any] | str) -> str:
    return args if isinstance(args, str) else json.dumps(args)


def _split(text: str, parts: int = 3) -> list[str]:
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def openai_usage(t: Tokens) -> dict[str, Any]:
    prompt_details: dict[str, Any] = {"cached_tokens": t.cache_read, "audio_tokens": 0}
    if t.cache_write:
        prompt_details["cache_write_tokens"] = t.cache_write
    return {
        "prompt_tokens": t.input,
        "completion_tokens": t.output,
        "total_tokens": t.input + t.output,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": t.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_json(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text or None,
        "refusal": None,
        "annotations": [],
    }
    if reply.calls:
        message["tool_calls"] = [
            {
                "id": c.id or f"call_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": _args_text(c.args)},
            }
            for i, c in enumerate(reply.calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.stop or ("tool_calls" if reply.calls else "stop"),
            }
        ],
        "usage": openai_usage(reply.tokens),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def openai_frames(reply: Reply, model: str, body: dict[str, Any]) -> list[bytes]:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            data["usage"] = None
        return data

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in reply.pieces()]
    for i, c in enumerate(reply.calls):
        head = {"name": c.name, "arguments": ""}
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": c.id or f"call_{i}",
                            "type": "function",
                            "function": head,
                        }
                    ]
                }
            )
        )
        for piece in _split(_args_text(c.args)):
            events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    events.append(chunk({}, reply.stop or ("tool_calls" if reply.calls else "stop")))
    if include_usage:
        last = chunk({})
        last["choices"] = []
        last["usage"] = openai_usage(reply.tokens)
        events.append(last)
    frames = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    return [*frames, b"data: [DONE]\n\n"]


_OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def openai_error(fail: Fail) -> dict[str, Any]:
    kind, code = _OPENAI_ERRORS.get(fail.status, ("server_error", None))
    return {
        "error": {"message": fail.message, "type": kind, "param": None, "code": fail.kind or code}
    }


# ----- Anthropic ----------------------------------------------------------------------------


def anthropic_usage(t: Tokens, output: int | None = None) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": t.input - t.cache_read - t.cache_write,
        "cache_creation_input_tokens": t.cache_write,
        "cache_read_input_tokens": t.cache_read,
        "output_tokens": t.output if output is None else output,
        "service_tier": "standard",
    }
    if t.reasoning:
        usage["output_tokens_details"] = {"thinking_tokens": t.reasoning}
    return usage


def _anthropic_stop(reply: Reply) -> str:
    return reply.stop or ("tool_use" if reply.calls else "end_turn")


def anthropic_json(reply: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    for i, c in enumerate(reply.calls):
        assert isinstance(c.args, dict), "Anthropic sends tool input as an object"
        content.append(
            {"type": "tool_use", "id": c.id or f"toolu_{i}", "name": c.name, "input": c.args}
        )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _anthropic_stop(reply),
        "stop_sequence": None,
        "usage": anthropic_usage(reply.tokens),
    }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def anthropic_frames(reply: Reply, model: str) -> list[bytes]:
    start = anthropic_json(Reply(tokens=reply.tokens), model)
    start.update(content=[], stop_reason=None, usage=anthropic_usage(reply.tokens, output=1))
    frames = [
        _event("message_start", {"type": "message_start", "message": start}),
        _event("ping", {"type": "ping"}),
    ]
    index = 0
    if reply.text:
        block = {"type": "text", "text": ""}
        frames.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        for piece in reply.pieces():
            delta = {"type": "text_delta", "text": piece}
            frames.append(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        frames.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    for i, c in enumerate(reply.calls):
        block = {"type": "tool_use", "id": c.id or f"toolu_{i}", "name": c.name, "input": {}}
        frames.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        for piece in ["", *_split(_args_text(c.args))]:
            delta = {"type": "input_json_delta", "partial_json": piece}
            frames.append(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        frames.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    frames.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": _anthropic_stop(reply), "stop_sequence": None},
                "usage": {"output_tokens": reply.tokens.output},
            },
        )
    )
    frames.append(_event("message_stop", {"type": "message_stop"}))
    return frames


_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def anthropic_error(fail: Fail) -> dict[str, Any]:
    kind = fail.kind or _ANTHROPIC_ERRORS.get(fail.status, "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": fail.message},
        "request_id": "req_fake",
    }


# ----- Gemini -------------------------------------------------------------------------------


def gemini_usage(t: Tokens) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": t.input,
        "candidatesTokenCount": t.output - t.reasoning,
        "totalTokenCount": t.input + t.output,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": t.input}],
    }
    if t.cache_read:
        usage["cachedContentTokenCount"] = t.cache_read
    if t.reasoning:
        usage["thoughtsTokenCount"] = t.reasoning
    return usage


def _gemini_call(c: Call) -> dict[str, Any]:
    assert isinstance(c.args, dict), "Gemini sends function arguments as an object"
    call: dict[str, Any] = {"name": c.name, "args": c.args}
    if c.id:
        call["id"] = c.id
    part: dict[str, Any] = {"functionCall": call}
    if c.signature:
        part["thoughtSignature"] = c.signature
    return part


def _gemini_response(
    parts: list[dict[str, Any]], model: str, usage: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "fake-response",
    }


def gemini_json(reply: Reply, model: str) -> dict[str, Any]:
    parts = [{"text": reply.text}] if reply.text else []
    parts += [_gemini_call(c) for c in reply.calls]
    return _gemini_response(parts, model, gemini_usage(reply.tokens), reply.stop or "STOP")


def gemini_frames(reply: Reply, model: str) -> list[bytes]:
    chunks: list[list[dict[str, Any]]] = [[{"text": piece}] for piece in reply.pieces()]
    if reply.calls:
        chunks.append([_gemini_call(c) for c in reply.calls])
    chunks = chunks or [[]]
    # Prompt tokens are known from the first chunk; the last carries the totals.
    partial = {"promptTokenCount": reply.tokens.input, "totalTokenCount": reply.tokens.input}
    events = [_gemini_response(parts, model, partial, None) for parts in chunks]
    events[-1] = _gemini_response(
        chunks[-1], model, gemini_usage(reply.tokens), reply.stop or "STOP"
    )
    return [b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events]


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_error(fail: Fail) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": fail.status,
        "message": fail.message,
        "status": fail.kind or _GEMINI_STATUS.get(fail.status, "UNKNOWN"),
    }
    if fail.retry_after is not None:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{fail.retry_after}s",
            }
        ]
    return {"error": error}


# ----- the server ---------------------------------------------------------------------------


def _vendor_of(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/v1/messages"):
        return "anthropic"
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    return "unknown"


def _key_of(vendor: str, headers: dict[str, str]) -> str:
    if vendor == "openai":
        return headers.get("authorization", "").removeprefix("Bearer ")
    if vendor == "anthropic":  # x-api-key, or a bearer token in recent SDKs
        return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    return headers.get("x-goog-api-key", "")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw or b"{}")
        path = self.path.split("?")[0]
        vendor = _vendor_of(path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        stream = bool(body.get("stream")) or ":streamGenerateContent" in path
        fake = self.server.fake
        fake.record(Received(vendor, self.path, headers, body, stream))
        model = body.get("model") or path.split("/models/")[-1].split(":")[0]
        key = _key_of(vendor, headers)
        try:
            if vendor == "unknown":
                self._json(404, {"error": f"no such endpoint {self.path}"})
            elif not key:
                self._fail(vendor, Fail(401, "no API key sent"))
            elif key == BAD_KEY:
                self._bad_key(vendor, key)
            else:
                self._answer(vendor, model, body, stream, fake.next_item())
        except OSError:  # the client went away (timeouts, cuts): nothing to answer
            self.close_connection = True

    def _answer(
        self, vendor: str, model: str, body: dict[str, Any], stream: bool, item: Item | None
    ) -> None:
        if item is None:
            self._fail(vendor, Fail(500, "the fake vendor's script is exhausted"))
            return
        if isinstance(item, Fail):
            self._fail(vendor, item)
            return
        if isinstance(item, Raw):
            self._json(item.status, item.payload)
            return
        if isinstance(item, Stall):
            time.sleep(item.seconds)
            item = item.reply
        reply = item if isinstance(item, Reply) else item.reply
        if not stream:
            render = {"openai": openai_json, "anthropic": anthropic_json, "gemini": gemini_json}
            self._json(200, render[vendor](reply, model))
            return
        if vendor == "openai":
            frames = openai_frames(reply, model, body)
        elif vendor == "anthropic":
            frames = anthropic_frames(reply, model)
        else:
            frames = gemini_frames(reply, model)
        self._stream(vendor, frames, item)

    def _stream(self, vendor: str, frames: list[bytes], item: Item) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        limit = item.after if isinstance(item, Cut | StreamError) else len(frames)
        for frame in frames[:limit]:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        if isinstance(item, Cut) and not item.clean:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(item, StreamError):
            if vendor == "anthropic":
                error = {"type": "error", "error": {"type": item.kind, "message": item.message}}
                frame = _event("error", error)
            else:
                error = {"error": {"message": item.message, "type": item.kind, "code": item.kind}}
                frame = b"data: " + json.dumps(error).encode() + b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        self.wfile.write(b"0\r\n\r\n")

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _fail(self, vendor: str, fail: Fail) -> None:
        render = {"openai": openai_error, "anthropic": anthropic_error, "gemini": gemini_error}
        headers = {"retry-after": fail.retry_after} if fail.retry_after is not None else {}
        if vendor == "anthropic":
            headers["request-id"] = "req_fake"
        self._json(fail.status, render[vendor](fail), headers)

    def _bad_key(self, vendor: str, key: str) -> None:
        if vendor == "gemini":  # Gemini answers a bad key with 400 and a reason
            error = gemini_error(Fail(400, "API key not valid. Please pass a valid API key."))
            error["error"]["details"] = [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ]
            self._json(400, error)
        else:
            self._fail(vendor, Fail(401, f"Incorrect API key provided: {key}."))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeVendor


class FakeVendor:
    """The server, bound to an ephemeral port on 127.0.0.1, in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Item] = deque()
        self.requests: list[Received] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeVendor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *items: Item) -> None:
        """Queue what the next requests get, in order."""
        with self._lock:
            self._script.extend(items)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def next_item(self) -> Item | None:
        with self._lock:
            return self._script.popleft() if self._script else None
