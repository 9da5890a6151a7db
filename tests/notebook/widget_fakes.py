"""Deterministic time for widget tests: a clock that moves only when told, a manual timer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepagents_nb.notebook.widgets import Pacing


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ManualTimer:
    """A `TimerFactory` whose timers fire only when the test calls `fire()`."""

    def __init__(self) -> None:
        self.armed: list[tuple[float, Callable[[], None], list[bool]]] = []

    def __call__(self, delay: float, function: Callable[[], None]) -> Callable[[], None]:
        cancelled = [False]
        self.armed.append((delay, function, cancelled))
        return lambda: cancelled.__setitem__(0, True)

    def fire(self) -> int:
        """Run every armed, uncancelled timer; returns how many ran."""
        armed, self.armed = self.armed, []
        ran = 0
        for _, function, cancelled in armed:
            if not cancelled[0]:
                function()
                ran += 1
        return ran


def fake_pacing(clock: FakeClock | None = None, timer: Any = None) -> Pacing:
    """Pacing on a fake clock, without trailing timers unless one is given."""
    return Pacing(clock=clock or FakeClock(), timer=timer)


def meta(agent: str = "agent", depth: int = 0, run_id: str = "r1") -> dict[str, Any]:
    return {"thread_id": "t", "run_id": run_id, "agent_name": agent, "depth": depth}
