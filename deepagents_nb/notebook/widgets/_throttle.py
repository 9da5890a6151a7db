"""Time-based throttling for widget redraws, with an injectable clock and timer.

A run can emit thousands of events a second; sending a widget update for each
would flood the browser. A `Throttle` runs its action at most once per
interval, and once more after a burst ends (the trailing redraw), so what is
on screen is never stale for longer than one interval, even while a long tool
call keeps the event stream quiet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

Clock = Callable[[], float]
Cancel = Callable[[], None]
TimerFactory = Callable[[float, Callable[[], None]], Cancel]
"""Calls the function after a delay in seconds; returns something that cancels it."""


def thread_timer(delay: float, function: Callable[[], None]) -> Cancel:
    """The default timer: a daemon `threading.Timer` (widgets may be updated from threads)."""
    timer = threading.Timer(delay, function)
    timer.daemon = True
    timer.start()
    return timer.cancel


@dataclass(frozen=True)
class Pacing:
    """How often a widget may redraw.

    Tests pass a fake `clock` and `timer=None` (no trailing redraw) to be
    deterministic without sleeping.
    """

    interval: float = 0.1
    clock: Clock = time.monotonic
    timer: TimerFactory | None = thread_timer

    def slower(self, factor: float) -> Pacing:
        """The same clock and timer with a longer interval (for costlier redraws)."""
        return replace(self, interval=self.interval * factor)

    def throttle(self, action: Callable[[], None]) -> Throttle:
        return Throttle(action, self)


class Throttle:
    """Runs `action` at most once per `pacing.interval` seconds.

    Call `request()` whenever something changed, and `flush()` when the final
    state must be shown now.
    """

    def __init__(self, action: Callable[[], None], pacing: Pacing | None = None) -> None:
        self._action = action
        self._pacing = pacing or Pacing()
        self._lock = threading.Lock()
        self._last: float | None = None
        self._pending = False
        self._cancel: Cancel | None = None
        self.runs = 0

    @property
    def pending(self) -> bool:
        """Whether a change waits to be shown."""
        return self._pending

    def request(self) -> None:
        """Note a change: act now if the interval has passed, else arm the trailing timer."""
        pacing = self._pacing
        with self._lock:
            self._pending = True
            now = pacing.clock()
            wait = 0.0 if self._last is None else self._last + pacing.interval - now
            if wait > 0:
                if pacing.timer is not None and self._cancel is None:
                    self._cancel = pacing.timer(wait, self._on_timer)
                return
        self._run()

    def flush(self) -> None:
        """Act now if a change waits, whatever the interval."""
        with self._lock:
            if self._cancel is not None:
                self._cancel()
                self._cancel = None
            if not self._pending:
                return
        self._run()

    def cancel(self) -> None:
        """Drop the trailing timer and any waiting change."""
        with self._lock:
            if self._cancel is not None:
                self._cancel()
                self._cancel = None
            self._pending = False

    def _on_timer(self) -> None:
        with self._lock:
            self._cancel = None
            if not self._pending:
                return
        self._run()

    def _run(self) -> None:
        with self._lock:
            self._pending = False
            self._last = self._pacing.clock()
            self.runs += 1
        # Outside the lock: the action may take its owner's lock, and a change
        # requested meanwhile must not deadlock; it simply runs the action again.
        self._action()
