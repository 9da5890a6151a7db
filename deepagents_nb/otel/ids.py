"""Span ids derived from run ids, so a run resumed in another process can link to
the run that paused, knowing only its run id (kept in the thread's checkpoint).

A top-level run's trace id is its run id (128 random bits) and every run's
`invoke_agent` span id is a digest of it. Other spans keep random ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

from opentelemetry.trace import SpanContext, TraceFlags


def trace_id_for(run_id: str) -> int:
    try:
        value = int(run_id, 16) if len(run_id) == 32 else 0
    except ValueError:
        value = 0
    return value or int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:16], "big") or 1


def span_id_for(run_id: str) -> int:
    digest = hashlib.sha256(b"invoke_agent:" + run_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") or 1


def run_span_context(run_id: str) -> SpanContext:
    """The `invoke_agent` span of a top-level run, wherever it ran."""
    return SpanContext(
        trace_id_for(run_id),
        span_id_for(run_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


class SeededIds:
    """An SDK id generator that hands out chosen ids once, then its wrapped one's.

    Set on a tracer of our own (`tracer.id_generator`), never on a provider, so
    other tracers' spans are untouched.
    """

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.trace_id: int | None = None
        self.span_id: int | None = None

    def generate_trace_id(self) -> int:
        seeded, self.trace_id = self.trace_id, None
        return seeded if seeded is not None else int(self.fallback.generate_trace_id())

    def generate_span_id(self) -> int:
        seeded, self.span_id = self.span_id, None
        return seeded if seeded is not None else int(self.fallback.generate_span_id())

    def is_trace_id_random(self) -> bool:
        return True  # run ids are uuid4: random


def seed_tracer(tracer: Any) -> SeededIds | None:
    """Give `tracer` seedable ids; None when it is not an SDK tracer (ids stay random)."""
    fallback = getattr(tracer, "id_generator", None)
    if fallback is None:
        return None
    seeded = SeededIds(fallback)
    tracer.id_generator = seeded
    return seeded
