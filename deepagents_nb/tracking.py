"""Token tracking: one record per model request in a ledger, budgets, pandas DataFrames.

    agent = create_deep_agent(model=..., token_tracking=True,
                              budget=Budget(max_cost_per_thread=0.50))
    agent.handle_message("...", thread_id="t1")
    df = agent.usage.to_dataframe()          # one row per model request
    df.groupby("agent")["cost_usd"].sum()    # sub-agents included

A sub-agent's requests are recorded under the thread and run of the top-level
run that delegated to it, with the sub-agent's name in `agent` and its
delegation depth in `depth`, so per-thread sums include sub-agents.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from deepagents_nb.costs import PriceBook, TokenCosts
from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import BudgetExceededError, ConfigurationError
from deepagents_nb.ledger import UsageLedger, UsageRecord, UsageTotals
from deepagents_nb.usage import Usage

logger = logging.getLogger("deepagents_nb.usage")


@dataclass(frozen=True)
class TokenTrackingConfig:
    """How usage is tracked (the Rust SDK's fields and defaults).

    `emit_events` sends a `TokenUsage` event per request; `log_usage` logs one
    INFO line per request to the "deepagents_nb.usage" logger; `custom_costs`
    (one `TokenCosts` or several) takes precedence over built-in prices.
    """

    enabled: bool = True
    emit_events: bool = True
    log_usage: bool = True
    custom_costs: TokenCosts | Sequence[TokenCosts] | None = None


@dataclass(frozen=True)
class Budget:
    """Limits on tokens (input + output) or estimated USD per run and per thread.

    Checked before every model call, sub-agents' included: once a limit is
    reached the run stops with `BudgetExceededError`, keeping its completed
    steps, so a run can exceed a limit only by the request that reached it.
    Per-thread limits count this agent's requests on the thread in this process.
    Requests to models without a known price do not count toward cost limits.
    The per-batch limits apply to `agent.map`: once spent, no new row starts (the
    started ones finish) and the rest are `"skipped"`.
    """

    max_tokens_per_run: int | None = None
    max_cost_per_run: float | None = None
    max_tokens_per_thread: int | None = None
    max_cost_per_thread: float | None = None
    max_tokens_per_batch: int | None = None
    max_cost_per_batch: float | None = None

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value is not None and not value > 0:
                raise ConfigurationError(f"Budget {name} must be positive, got {value!r}")

    def check(self, run: UsageTotals, thread: UsageTotals) -> None:
        """Raise `BudgetExceededError` when `run` or `thread` has reached a limit."""
        used = (
            ("max_tokens_per_run", "this run", run.total_tokens),
            ("max_cost_per_run", "this run", run.cost_usd or 0.0),
            ("max_tokens_per_thread", "this thread", thread.total_tokens),
            ("max_cost_per_thread", "this thread", thread.cost_usd or 0.0),
        )
        for name, scope, amount in used:
            limit = getattr(self, name)
            if limit is not None and amount >= limit:
                fmt = _usd if "cost" in name else _tokens
                raise BudgetExceededError(
                    f"Budget exceeded: {scope} has used {fmt(amount)}; {name} is {fmt(limit)}. "
                    f"The thread's completed steps are saved. To go on, raise the limit "
                    f"(budget=Budget({name}=...), or agent.config.token_tracking.budget = "
                    f"Budget(...) on this agent) and send another message."
                )


def _usd(amount: float) -> str:
    return f"${amount:.6f}"


def _tokens(amount: float) -> str:
    return f"{int(amount):,} tokens"


class TokenTracker:
    """The `UsageTracker` behind `token_tracking=`: prices, records, logs, enforces a budget.

    `budget` may be replaced at any time (`agent.config.token_tracking.budget = ...`).
    """

    def __init__(
        self,
        config: TokenTrackingConfig | None = None,
        budget: Budget | None = None,
        ledger: UsageLedger | None = None,
    ) -> None:
        self.config = config or TokenTrackingConfig()
        self.budget = budget
        self.ledger = ledger if ledger is not None else UsageLedger()
        self._prices = PriceBook(self.config.custom_costs)
        # thread id -> the run that last checked its budget there; sub-agent runs use
        # thread ids "<parent thread>/<sub-agent>/<call id>" and climb to their root.
        self._latest_run: dict[str, str] = {}

    def prefetch_prices(self, provider: str, model: str) -> None:
        """Load what pricing `model` needs now, off the event loop (see `PriceBook.prefetch`)."""
        self._prices.prefetch(provider, model)

    @property
    def emit_events(self) -> bool:
        return self.config.emit_events

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
    ) -> float | None:
        """Price and keep one request; returns its cost in USD, or None when unknown."""
        now = utc_now()
        cost, source = self._prices.cost(usage, provider, model, now)
        thread, run = self._root(thread_id, run_id)
        record = UsageRecord(
            timestamp=now,
            thread_id=thread,
            run_id=run,
            agent=agent_name,
            depth=depth,
            provider=provider,
            model=model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            duration_ms=duration_ms,
            cost_usd=cost,
            price_source=source,
        )
        self.ledger.add(record)
        if self.config.log_usage and logger.isEnabledFor(logging.INFO):
            _log(record)
        return cost

    def check_budget(self, *, thread_id: str, run_id: str) -> None:
        """Raise `BudgetExceededError` when the run or its thread has reached a limit."""
        thread, run = self._root(thread_id, run_id)
        self._latest_run[thread_id] = run_id
        if self.budget is not None:
            self.budget.check(self.ledger.total(run_id=run), self.ledger.total(thread_id=thread))

    def _root(self, thread_id: str, run_id: str) -> tuple[str, str]:
        """The top-level thread and run a (possibly sub-agent) request belongs to."""
        thread = thread_id
        while thread.count("/") >= 2:
            parent = thread.rsplit("/", 2)[0]
            if parent not in self._latest_run:
                break
            thread = parent
        if thread == thread_id:
            return thread_id, run_id
        return thread, self._latest_run[thread]


def build_tracker(config: TokenTrackingConfig | None, budget: Budget | None) -> TokenTracker | None:
    """The tracker for an agent: none unless tracking is on or a budget is set."""
    if config is None:
        if budget is None:
            return None
        config = TokenTrackingConfig()
    if not config.enabled:
        if budget is not None:
            raise ConfigurationError(
                "a budget needs token tracking, which is turned off: drop "
                "token_tracking=False (or .with_token_tracking(False))"
            )
        return None
    return TokenTracker(config, budget)


def _log(r: UsageRecord) -> None:
    cost = "cost unknown" if r.cost_usd is None else _usd(r.cost_usd)
    logger.info(
        "%s via %s/%s on thread %s: %d in (%d cache read, %d cache write), %d out "
        "(%d reasoning), %.0f ms, %.1f tokens/s, %s",
        r.agent,
        r.provider,
        r.model,
        r.thread_id,
        r.input_tokens,
        r.cache_read_tokens,
        r.cache_write_tokens,
        r.output_tokens,
        r.reasoning_tokens,
        r.duration_ms,
        r.tokens_per_second or 0.0,
        cost,
    )
