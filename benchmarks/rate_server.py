"""A local OpenAI-compatible chat server limited to `rate` requests per second, as vendors are.

Standard library only, so every scenario script can start it from its own
interpreter; it runs in a process of its own (`RateServer`), so its work does not
share a core's GIL with the framework being measured.

A token bucket of `rate` requests per second holding at most `burst`: a request
that finds it empty gets a 429 in OpenAI's error format, with `retry-after`
(seconds) and `retry-after-ms` saying when the next token will be there. An
answered request gets `common.answer_for` of its last user message, so every row
has its own expected answer. HTTP/1.1 with keep-alive, as the SDKs' connection
pools expect; streaming is refused (400), so a framework that streamed would
show up as failed rows instead of being measured on something else.

    python benchmarks/rate_server.py --rate 100 --burst 5   # prints "listening <port>"

`GET /stats` gives the counts; `POST /reset` refills the bucket and zeroes them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import common

LISTENING = "listening "


class Bucket:
    """`rate` tokens a second, at most `burst` kept; counts what it answered and refused."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.reset()

    def reset(self) -> None:
        self.tokens = float(self.burst)
        self.last = time.monotonic()
        self.answered = 0
        self.refused = 0
        self.first_answer: float | None = None
        self.last_answer: float | None = None

    def take(self) -> float | None:
        """A token (None), or the seconds until the next one."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.answered += 1
            if self.first_answer is None:
                self.first_answer = now
            self.last_answer = now
            return None
        self.refused += 1
        return (1 - self.tokens) / self.rate

    def stats(self) -> dict[str, Any]:
        span = None
        if self.first_answer is not None and self.last_answer is not None:
            span = self.last_answer - self.first_answer
        return {"answered": self.answered, "refused": self.refused, "answer_span_s": span}


def _last_user_text(body: dict[str, Any]) -> str:
    last = next(m for m in reversed(body["messages"]) if m.get("role") == "user")
    content = last.get("content")
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "bench"),
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": common.answer_for(_last_user_text(body)),
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52},
    }


RATE_LIMITED = json.dumps(
    {
        "error": {
            "message": "Rate limit reached for requests",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
).encode()


def _response(status: int, payload: bytes, headers: dict[str, str] | None = None) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}[status]
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(payload)}",
    ]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def _route(bucket: Bucket, method: str, path: str, body: bytes) -> bytes:
    if method == "GET" and path == "/stats":
        return _response(200, json.dumps(bucket.stats()).encode())
    if method == "POST" and path == "/reset":
        bucket.reset()
        return _response(200, b"{}")
    if method != "POST" or not path.endswith("/chat/completions"):
        return _response(404, b'{"error": {"message": "not found"}}')
    wait = bucket.take()  # before parsing: a refusal costs the server next to nothing
    if wait is not None:
        headers = {"retry-after": f"{wait:.3f}", "retry-after-ms": str(int(wait * 1000) + 1)}
        return _response(429, RATE_LIMITED, headers)
    request = json.loads(body)
    if request.get("stream"):
        return _response(400, b'{"error": {"message": "streaming is not served here"}}')
    return _response(200, json.dumps(_completion(request)).encode())


async def _serve_connection(
    bucket: Bucket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                break
            method, path, _ = request_line.decode("latin-1").split(" ", 2)
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            body = await reader.readexactly(length) if length else b""
            writer.write(_route(bucket, method, path, body))
            await writer.drain()
            if close:
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve(rate: float, burst: int) -> None:
    bucket = Bucket(rate, burst)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(bucket, r, w), "127.0.0.1", 0, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{LISTENING}{port}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


class RateServer:
    """The server in a child process (this interpreter), for `with RateServer(...) as s:`."""

    def __init__(self, rate: float = common.RATE_LIMIT_RPS, burst: int = common.RATE_BURST):
        self.rate = rate
        self.burst = burst
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The OpenAI base URL to give a client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RateServer:
        script = str(Path(__file__).resolve())
        command = [sys.executable, script, "--rate", str(self.rate), "--burst", str(self.burst)]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith(LISTENING):
            self._process.kill()
            raise RuntimeError(f"rate_server.py did not start: {line!r}")
        self.port = int(line[len(LISTENING) :])
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        if method == "POST":
            request.data = b""
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def reset(self) -> None:
        """A full bucket and zero counts (before each measured run)."""
        self._call("POST", "/reset")

    def stats(self) -> dict[str, Any]:
        """`answered`, `refused` and `answer_span_s` (first to last answer) since the reset."""
        return self._call("GET", "/stats")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--burst", type=int, required=True)
    options = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options.rate, options.burst))
