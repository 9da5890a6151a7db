"""Row outcomes as the DataFrame `agent.map` returns, on the input's index."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from deepagents_nb.batch.rows import RowOutcome

if TYPE_CHECKING:
    import pandas as pd

STATUS_COLUMNS = ("status", "error", "thread_id", "total_tokens", "cost_usd", "duration_ms")


def _fields(value: Any) -> dict[str, Any] | None:
    """A structured output's fields (a model, dataclass or dict), else None."""
    if hasattr(value, "model_dump") and hasattr(type(value), "model_fields"):
        return {name: getattr(value, name) for name in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return dict(value)
    return None


def to_frame(outcomes: Sequence[RowOutcome], index: Any, structured: bool) -> pd.DataFrame:
    """The output's fields as columns (one `output` column for other values), then the
    status columns; rows in input order, on the input's index."""
    import pandas as pd

    fields = [_fields(o.output) if o.status == "done" else None for o in outcomes]
    columns: list[str] = []
    if (
        structured
        and any(f is not None for f in fields)
        and all(f is not None for f, o in zip(fields, outcomes, strict=True) if o.status == "done")
    ):
        columns = list(dict.fromkeys(k for f in fields if f for k in f))
        records = [{c: (f or {}).get(c) for c in columns} for f in fields]
    else:
        columns = ["output"]
        records = [{"output": o.output if o.status == "done" else None} for o in outcomes]
    for record, outcome in zip(records, outcomes, strict=True):
        record.update(
            status=outcome.status,
            error=outcome.error,
            thread_id=outcome.thread_id,
            total_tokens=outcome.total_tokens,
            cost_usd=outcome.cost_usd,
            duration_ms=round(outcome.duration_ms, 1),
        )
    frame = pd.DataFrame.from_records(records, columns=[*columns, *STATUS_COLUMNS])
    frame.index = index
    result: pd.DataFrame = frame
    return result
