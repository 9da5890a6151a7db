"""Token counts of model calls."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel


class Usage(BaseModel):
    """Tokens used by one model call, or a sum of calls.

    `input_tokens` counts every prompt token, cached ones included;
    `cache_read_tokens` and `cache_write_tokens` say how many of them were
    served from or written to the provider's prompt cache.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    requests: int = 1

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        # Runs once per model call: pydantic-core's validation of six ints is about
        # twice as fast as model_construct, which is plain Python.
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            requests=self.requests + other.requests,
        )

    @classmethod
    def zero(cls) -> Usage:
        return cls(requests=0)


@runtime_checkable
class UsageTracker(Protocol):
    """Receives every model call's usage (sub-agents' included) and may stop a run.

    `record` returns the call's estimated cost in USD, or None when unknown;
    `check_budget` raises `BudgetExceededError` before a model call once a
    limit is reached.
    """

    def record(
        self,
        *,
        usage: Usage,
        provider: str,
        model: str,
        agent_name: str,
        thread_id: str,
        run_id: str,
        depth: int,
        duration_ms: float,
    ) -> float | None: ...

    def check_budget(self, *, thread_id: str, run_id: str) -> None: ...
