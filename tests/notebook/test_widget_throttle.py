"""`Throttle`: at most one action per interval, a trailing action after a burst, flush."""

from __future__ import annotations

from itertools import pairwise

from widget_fakes import FakeClock, ManualTimer

from deepagents_nb.notebook.widgets import Pacing, Throttle


def test_acts_at_once_then_at_most_once_per_interval() -> None:
    clock, calls = FakeClock(), []
    throttle = Throttle(lambda: calls.append(clock.now), Pacing(0.1, clock, None))
    for _ in range(1000):
        throttle.request()
        clock.advance(0.001)  # a burst of 1,000 changes over one second
    assert 9 <= len(calls) <= 11
    assert all(b - a >= 0.1 - 1e-9 for a, b in pairwise(calls))
    assert throttle.pending
    throttle.flush()
    assert len(calls) in range(10, 13) and not throttle.pending
    throttle.flush()  # nothing new: nothing to do
    assert throttle.runs == len(calls)


def test_trailing_timer_shows_the_end_of_a_burst_and_flush_cancels_it() -> None:
    clock, timer, calls = FakeClock(), ManualTimer(), []
    throttle = Throttle(lambda: calls.append(clock.now), Pacing(0.1, clock, timer))
    throttle.request()
    throttle.request()
    throttle.request()
    assert calls == [0.0] and len(timer.armed) == 1  # one timer per quiet period
    assert timer.armed[0][0] == 0.1
    clock.advance(0.1)
    assert timer.fire() == 1 and calls == [0.0, 0.1]

    throttle.request()
    assert len(timer.armed) == 1
    throttle.flush()
    assert calls == [0.0, 0.1, 0.1]
    assert timer.fire() == 0  # cancelled by the flush


def test_cancel_drops_the_waiting_change() -> None:
    clock, timer, calls = FakeClock(), ManualTimer(), []
    throttle = Throttle(lambda: calls.append(1), Pacing(0.1, clock, timer))
    throttle.request()
    throttle.request()
    throttle.cancel()
    assert timer.fire() == 0
    throttle.flush()
    assert calls == [1]


def test_slower_keeps_clock_and_timer() -> None:
    clock = FakeClock()
    pacing = Pacing(0.1, clock, None).slower(10)
    assert pacing.interval == 1.0 and pacing.clock is clock and pacing.timer is None
