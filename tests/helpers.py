"""Small helpers shared by tests."""

from __future__ import annotations

import os
import time

import pytest

from deepagents_nb.events import EventBase

SERVICES_REQUIRED = os.environ.get("DEEPAGENTS_NB_REQUIRE_SERVICES") == "1"


def require_service(name: str, available: bool, how: str) -> None:
    """Skip a test whose service is missing, or fail it when CI requires services."""
    if available:
        return
    message = f"{name} is not running ({how})"
    if SERVICES_REQUIRED:
        pytest.fail(f"{message}; DEEPAGENTS_NB_REQUIRE_SERVICES=1 turns this skip into a failure")
    pytest.skip(message)


class Recorder:
    """A broadcaster that keeps every event it receives."""

    supports_streaming = True

    def __init__(self, broadcaster_id: str = "recorder") -> None:
        self.id = broadcaster_id
        self.events: list[EventBase] = []

    async def broadcast(self, event: EventBase) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    def of(self, kind: type[EventBase]) -> list[EventBase]:
        return [e for e in self.events if isinstance(e, kind)]


def process_gone(pid: int, wait: float = 10.0) -> bool:
    """Whether process `pid` has exited (and been reaped) within `wait` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
