"""How a batch shows its progress: a widget in a notebook, a tqdm bar in a script.

Both get the same calls: `start(total)`, `row(outcome)` per finished row, and
`finish()`. The notebook widget lives in the notebook layer and is imported only
inside a running kernel.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from deepagents_nb.batch.rows import RowOutcome


class Progress(Protocol):
    def start(self, total: int, batch_id: str) -> None: ...

    def row(self, outcome: RowOutcome) -> None: ...

    def finish(self) -> None: ...


@dataclass
class Tally:
    """Counts and totals of a batch so far (what every progress display shows)."""

    total: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    tokens: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def add(self, outcome: RowOutcome) -> None:
        self.statuses[outcome.status] += 1
        if outcome.error and outcome.status == "failed":
            self.errors[outcome.error.split(":", 1)[0]] += 1
        self.tokens += outcome.total_tokens
        self.cost_usd += outcome.cost_usd or 0.0

    @property
    def finished(self) -> int:
        return sum(self.statuses.values())

    def rate(self) -> float:
        """Rows per second so far."""
        elapsed = time.monotonic() - self.started
        return self.finished / elapsed if elapsed > 0 else 0.0

    def eta_seconds(self) -> float | None:
        rate = self.rate()
        return (self.total - self.finished) / rate if rate > 0 else None

    def summary(self) -> str:
        parts = [f"{self.statuses[s]} {s}" for s in ("done", "failed", "paused", "skipped")]
        return f"{', '.join(parts)}; {self.tokens:,} tokens, ${self.cost_usd:.4f}"


class BarProgress:
    """A tqdm bar on stderr (nothing when tqdm is not installed)."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._bar: Any = None

    def start(self, total: int, batch_id: str) -> None:
        self.tally = Tally(total=total)
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, desc=batch_id, unit="row", file=sys.stderr)

    def row(self, outcome: RowOutcome) -> None:
        self.tally.add(outcome)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(self.tally.summary(), refresh=False)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()


class NoProgress:
    """progress=False."""

    def start(self, total: int, batch_id: str) -> None:
        return None

    def row(self, outcome: RowOutcome) -> None:
        return None

    def finish(self) -> None:
        return None


def choose(progress: bool | Progress, on_cancel: Callable[[], object] | None = None) -> Progress:
    """The display for `progress=`: a widget in a kernel (with a Cancel button calling
    `on_cancel`, when given), a bar elsewhere, or the one given."""
    if progress is False:
        return NoProgress()
    if progress is not True:
        return progress
    ipython = sys.modules.get("IPython")  # not loaded: surely not in a notebook
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and "ZMQ" in type(shell).__name__:  # a kernel with a front end
        try:
            from deepagents_nb.notebook.widgets.batch import BatchProgressWidget
        except ImportError:  # ipywidgets missing: the bar will do
            return BarProgress()
        return BatchProgressWidget(on_cancel=on_cancel)
    return BarProgress()
