"""Scorers: how right an output is, from 0 to 1, per case.

Built-in: `ExactMatch`, `Contains`, `Regex`, `FieldEquals` (in `matchers.py`), and
`Judge` (an LLM, in `judge.py`). Any function `(case, output) -> bool | float | Score
| None`, sync or async, is a scorer named after the function (`scorer(fn, name=...)`
renames it).
A scorer that raises gives no score (NaN) and an error note for that row only.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from deepagents_nb._sync import run_sync
from deepagents_nb.evals.dataset import Case
from deepagents_nb.exceptions import ConfigurationError

if TYPE_CHECKING:
    from deepagents_nb.batch.progress import Progress

ScoreFunction = Callable[[Case, Any], Any]


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one output.

    `value` is from 0 to 1, or None when there is none (the row failed, the scorer
    raised, or it does not apply); `tokens` and `cost_usd` are what scoring itself
    cost (a judge's model calls), never the agent's.
    """

    value: float | None
    reason: str | None = None
    error: str | None = None
    tokens: int = 0
    cost_usd: float | None = 0.0


@dataclass(frozen=True)
class Attempt:
    """An output to score: which agent gave it, for which case."""

    agent: str
    case: Case
    output: Any


class Scorer:
    """Base of scorers: subclasses give `name` and `ascore`.

    A scorer that scores a whole batch better than row by row (a judge, through
    `agent.map`) overrides `ascore_many` instead. `threshold` is the lowest value
    that passes.
    """

    name: str = "scorer"
    threshold: float = 0.5
    reports_usage: ClassVar[bool] = False
    """Whether its scores carry tokens and cost (columns `{name}_tokens`, `{name}_cost_usd`)."""
    gives_reasons: ClassVar[bool] = False
    """Whether its scores carry reasons (a `{name}_reason` column)."""

    async def ascore(self, case: Case, output: Any) -> Score | float | bool | None:
        raise NotImplementedError

    async def ascore_many(
        self,
        attempts: Sequence[Attempt],
        *,
        concurrency: int = 8,
        progress: bool | Progress = False,
    ) -> list[Score]:
        """One score per attempt, in order; never raises."""
        slots = asyncio.Semaphore(concurrency)

        async def one(attempt: Attempt) -> Score:
            async with slots:
                try:
                    return to_score(await self.ascore(attempt.case, attempt.output))
                except Exception as exc:  # one bad row never loses the others
                    return Score(None, error=f"{type(exc).__name__}: {exc}")

        return list(await asyncio.gather(*(one(a) for a in attempts)))

    def score(self, case: Case | str, output: Any) -> Score:
        """Score one output now (for trying a scorer out); errors become `Score.error`."""
        attempt = Attempt("", case if isinstance(case, Case) else Case(case), output)
        return run_sync(self.ascore_many([attempt]))[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def to_score(result: Any) -> Score:
    """A scorer's answer as a `Score`: True/False are 1/0; numbers must be in 0..1."""
    if isinstance(result, Score):
        value = result.value
    elif result is None:
        return Score(None)
    elif isinstance(result, bool | int | float):
        value, result = float(result), None
    else:
        raise TypeError(
            f"a scorer must return a bool, a number from 0 to 1, a Score or None, not {result!r}"
        )
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"a score must be from 0 to 1, got {value!r}")
    if result is None:
        return Score(value)
    return result if value == result.value else Score(value, result.reason, result.error)


class FunctionScorer(Scorer):
    """A function `(case, output) -> bool | float | Score | None` (sync or async) as a
    scorer. None means "does not apply": no score, no error."""

    def __init__(self, fn: ScoreFunction, *, name: str | None = None, threshold: float = 0.5):
        if not callable(fn):
            raise ConfigurationError(f"{fn!r} is not a function")
        try:
            inspect.signature(fn).bind(None, None)
        except TypeError:
            raise ConfigurationError(
                f"scorer {getattr(fn, '__name__', fn)!r} must take two arguments, (case, output)"
            ) from None
        except ValueError:  # some builtins have no signature: let calls tell
            pass
        label = name or getattr(fn, "__name__", None)
        if not label or label == "<lambda>":
            raise ConfigurationError(
                "a lambda has no name to give its score column: write scorer(fn, name=...)"
            )
        self.fn = fn
        self.name = label
        self.threshold = threshold

    async def ascore(self, case: Case, output: Any) -> Any:
        result = self.fn(case, output)
        if inspect.isawaitable(result):
            result = await result
        return result


def scorer(
    fn: ScoreFunction | None = None, *, name: str | None = None, threshold: float = 0.5
) -> Any:
    """Make a function a scorer; works bare (`@scorer`) or with options
    (`@scorer(name="polite", threshold=0.8)`)."""
    if fn is None:

        def wrap(inner: ScoreFunction) -> FunctionScorer:
            return FunctionScorer(inner, name=name, threshold=threshold)

        return wrap
    return FunctionScorer(fn, name=name, threshold=threshold)


def as_scorers(items: Sequence[Any], reserved: Sequence[str] = ()) -> list[Scorer]:
    """Every item as a `Scorer`, with names unique and clear of the report's own columns.

    Raises:
        ConfigurationError: no scorers, an item that is neither a scorer nor a function,
            a scorer class given instead of an instance, or a name used twice.
    """
    if isinstance(items, Scorer) or callable(items) or isinstance(items, str):
        items = [items]
    found: list[Scorer] = []
    for item in items:
        if isinstance(item, type) and issubclass(item, Scorer):
            raise ConfigurationError(
                f"{item.__name__} is a scorer class: give an instance, {item.__name__}(...)"
            )
        if isinstance(item, Scorer):
            found.append(item)
        elif callable(item):
            found.append(FunctionScorer(item))
        else:
            raise ConfigurationError(
                f"{item!r} is not a scorer: give ExactMatch(), Contains(), Regex(...), "
                f"FieldEquals(...), Judge(...) or a function (case, output) -> score"
            )
    if not found:
        raise ConfigurationError("give at least one scorer, e.g. scorers=[ExactMatch()]")
    names = [s.name for s in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigurationError(
            f"several scorers are named {', '.join(map(repr, twice))}: give each a name=..."
        )
    clash = sorted(set(names) & set(reserved))
    if clash:
        raise ConfigurationError(
            f"scorer name {', '.join(map(repr, clash))} is a column of the report: "
            f"give the scorer another name=..."
        )
    return found
