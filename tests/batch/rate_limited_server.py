"""A local OpenAI-compatible chat server that enforces a request rate, as vendors do.

A token bucket of `rate` requests per second (burst `burst`): a request that finds
it empty gets a 429 in OpenAI's error format with `retry-after` and
`retry-after-ms` headers saying when a token will be there. Each answer is computed
from the request (the sentiment of the last user message), so any number of rows
can be served in any order. Counts every request, answered or refused.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RateLimitedServer:
    def __init__(self, rate: float, burst: int = 5) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self.answered = 0
        self.refused = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> RateLimitedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> float | None:
        """A token (None), or the seconds until one is there."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                self.answered += 1
                return None
            self.refused += 1
            return (1 - self._tokens) / self.rate


def answer(body: dict[str, Any]) -> str:
    last = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    text = last["content"] if isinstance(last["content"], str) else str(last["content"])
    return "negative" if "bad" in text.lower() else "positive"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        fake: RateLimitedServer = self.server.fake  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        wait = fake.take()
        if wait is not None:
            self._send(
                429,
                {
                    "error": {
                        "message": "Rate limit reached",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                    }
                },
                {"retry-after": f"{wait:.3f}", "retry-after-ms": str(int(wait * 1000) + 1)},
            )
            return
        reply = {
            "id": "chatcmpl-batch",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer(body)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52},
        }
        self._send(200, reply, {})

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
