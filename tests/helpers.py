"""Small helpers shared by tests."""

from __future__ import annotations

from deepagents_nb.events import EventBase


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
