"""The ledger of model requests: records, totals, pandas DataFrames.

`agent.usage` is a `UsageLedger`; `to_dataframe()` gives one row per request
with the columns of `COLUMNS`, so group-bys are one line of pandas::

    df = agent.usage.to_dataframe()
    df.groupby(["thread_id", "agent"])["cost_usd"].sum()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from deepagents_nb.exceptions import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

COLUMNS: dict[str, str] = {
    "timestamp": "datetime64[ns, UTC]",
    "thread_id": "string",
    "run_id": "string",
    "agent": "string",
    "depth": "int64",
    "provider": "string",
    "model": "string",
    "input_tokens": "int64",
    "output_tokens": "int64",
    "cache_read_tokens": "int64",
    "cache_write_tokens": "int64",
    "reasoning_tokens": "int64",
    "total_tokens": "int64",
    "duration_ms": "float64",
    "tokens_per_second": "float64",
    "cost_usd": "float64",
    "price_source": "string",
}
"""`UsageLedger.to_dataframe()` columns, in order, with their dtypes.

`timestamp` is when the response arrived; `input_tokens` includes cached ones
and `output_tokens` reasoning ones; `total_tokens` is input + output;
`tokens_per_second` is output tokens per second of the request (NaN when its
duration is 0); `cost_usd` is NaN when no price is known, and `price_source`
says where the price came from ("custom", "preset", "genai-prices") or is <NA>.
"""

_SUMMED = [c for c, dtype in COLUMNS.items() if c != "depth" and dtype in ("int64", "float64")]
_SUMMED.remove("tokens_per_second")


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One model request (a row of `UsageLedger.to_dataframe()`)."""

    timestamp: datetime
    thread_id: str
    run_id: str
    agent: str
    depth: int
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    duration_ms: float
    cost_usd: float | None
    price_source: str | None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens per second of the request's duration."""
        return self.output_tokens * 1000 / self.duration_ms if self.duration_ms > 0 else None


@dataclass(frozen=True)
class UsageTotals:
    """Sums over requests. `cost_usd` adds the known costs: it is `None` when requests
    were made but none had a price, and a lower bound when `unknown_cost_requests > 0`."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    duration_ms: float = 0.0
    cost_usd: float | None = 0.0
    unknown_cost_requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class _Tally:
    """A running `UsageTotals`, updated per record so budget checks never rescan."""

    requests: int = 0
    priced: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    duration_ms: float = 0.0
    cost_usd: float = 0.0

    def add(self, record: UsageRecord) -> None:
        self.requests += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cache_read_tokens += record.cache_read_tokens
        self.cache_write_tokens += record.cache_write_tokens
        self.reasoning_tokens += record.reasoning_tokens
        self.duration_ms += record.duration_ms
        if record.cost_usd is not None:
            self.cost_usd += record.cost_usd
            self.priced += 1

    def result(self) -> UsageTotals:
        return UsageTotals(
            requests=self.requests,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens,
            duration_ms=self.duration_ms,
            # Requests made but none priced: the cost is unknown, not $0.
            cost_usd=self.cost_usd if self.priced or not self.requests else None,
            unknown_cost_requests=self.requests - self.priced,
        )


class UsageLedger:
    """Every model request an agent made (its sub-agents' included), across threads.

    Kept in memory for the agent's lifetime; `clear()` empties it (and resets
    per-thread budgets). `agent.usage` of an agent without token tracking is
    an empty ledger that says so in its repr.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._records: list[UsageRecord] = []
        self._all = _Tally()
        self._threads: dict[str, _Tally] = {}
        self._runs: dict[str, _Tally] = {}
        # Records arrive from one event loop, but a ledger may be read from another thread.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        if not self.enabled:
            return (
                "UsageLedger(token tracking is off: pass token_tracking=True to "
                "create_deep_agent, or call .with_token_tracking(True))"
            )
        t = self.total()
        cost = "cost unknown" if t.cost_usd is None else f"${t.cost_usd:.6f}"
        return f"UsageLedger({t.requests} requests, {t.total_tokens:,} tokens, {cost})"

    def _repr_html_(self) -> str:
        """Totals per agent and model as a small table (no pandas needed)."""
        from html import escape

        if not self.enabled or not self._records:
            return f"<div><em>{escape(repr(self))}</em></div>"
        groups: dict[tuple[str, str], _Tally] = {}
        for r in self.records:
            groups.setdefault((r.agent, r.model), _Tally()).add(r)
        rows = []
        for (agent, model), tally in sorted(groups.items()):
            t = tally.result()
            cost = "unknown" if t.cost_usd is None else f"${t.cost_usd:,.6f}"
            rows.append(
                f"<tr><td>{escape(agent)}</td><td>{escape(model)}</td><td>{t.requests}</td>"
                f"<td>{t.input_tokens:,}</td><td>{t.output_tokens:,}</td><td>{cost}</td></tr>"
            )
        head = (
            "<tr><th>agent</th><th>model</th><th>requests</th><th>input tokens</th>"
            "<th>output tokens</th><th>cost (USD)</th></tr>"
        )
        return (
            f"<div><b>{escape(repr(self))}</b><table>{head}{''.join(rows)}</table>"
            f"<small>agent.usage.to_dataframe() has one row per request.</small></div>"
        )

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[UsageRecord]:
        return iter(self.records)

    @property
    def records(self) -> list[UsageRecord]:
        """The records in the order the requests completed (a copy)."""
        with self._lock:
            return list(self._records)

    def add(self, record: UsageRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._all.add(record)
            self._threads.setdefault(record.thread_id, _Tally()).add(record)
            self._runs.setdefault(record.run_id, _Tally()).add(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._all = _Tally()
            self._threads.clear()
            self._runs.clear()

    def total(
        self, *, thread_id: str | None = None, run_id: str | None = None, agent: str | None = None
    ) -> UsageTotals:
        """Totals of all requests, or of those matching every filter given."""
        with self._lock:
            if agent is None and (thread_id is None or run_id is None):
                if thread_id is not None:
                    return self._threads.get(thread_id, _Tally()).result()
                if run_id is not None:
                    return self._runs.get(run_id, _Tally()).result()
                return self._all.result()
            tally = _Tally()
            for r in self._records:
                if (
                    (thread_id is None or r.thread_id == thread_id)
                    and (run_id is None or r.run_id == run_id)
                    and (agent is None or r.agent == agent)
                ):
                    tally.add(r)
            return tally.result()

    def to_dataframe(self) -> pd.DataFrame:
        """One row per request; columns and dtypes as documented in `COLUMNS`."""
        import pandas as pd

        records = self.records
        frame: pd.DataFrame = pd.DataFrame(
            {
                name: pd.Series([getattr(r, name) for r in records], dtype=dtype)
                for name, dtype in COLUMNS.items()
            }
        )
        return frame

    def by(self, *columns: str) -> pd.DataFrame:
        """Summed tokens, duration and cost per group, with a `requests` count.

        Example: `agent.usage.by("agent")`, `agent.usage.by("thread_id", "model")`.
        """
        unknown = [c for c in columns if c not in COLUMNS]
        if not columns or unknown:
            raise ConfigurationError(
                f"group by one or more of {', '.join(COLUMNS)}; got {list(columns)}"
            )
        grouped = self.to_dataframe().groupby(list(columns), sort=True)
        # min_count=1: a group whose costs are all unknown sums to NaN, not to $0.
        sums = grouped[_SUMMED].sum(min_count=1)
        sums.insert(0, "requests", grouped.size())
        return sums
