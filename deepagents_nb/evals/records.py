"""Rows (a DataFrame's or dicts) as cases' prompts, expected answers and metadata."""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any

from deepagents_nb.exceptions import ConfigurationError


def _missing(value: Any) -> bool:
    """pandas' empty cell (NaN, None, NaT, pd.NA): an expected answer that is not there."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _template_fields(template: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigurationError(f"input template {template!r} is malformed: {exc}") from None
    return [n.split(".")[0].split("[")[0] for _, n, _, _ in parsed if n]


def from_rows(
    records: list[dict[str, Any]],
    columns: list[str],
    input: str,
    expected: str | Sequence[str] | None,
) -> list[tuple[str, Any, dict[str, Any]]]:
    """Each row's (prompt, expected, metadata): `input` a column or a template,
    `expected` columns, the other columns metadata. Columns are checked once, first."""
    if not records:
        raise ConfigurationError("there are no rows to make cases of")
    if not isinstance(input, str) or not input:
        raise ConfigurationError(f"input must name a column or be a template, not {input!r}")
    available = ", ".join(columns)
    is_column = input in columns
    if not is_column:
        used = _template_fields(input)
        if not used:
            raise ConfigurationError(
                f"there is no column {input!r} for the input (columns: {available}); "
                f"a template names columns in braces, e.g. 'Q: {{question}}'"
            )
        unknown = sorted(set(used) - set(columns))
        if unknown:
            raise ConfigurationError(
                f"the input template uses {', '.join('{' + u + '}' for u in unknown)}, which "
                f"are not columns (columns: {available})"
            )
    wanted = [expected] if isinstance(expected, str) else list(expected or [])
    absent = [c for c in wanted if c not in columns]
    if absent:
        raise ConfigurationError(
            f"there is no column {', '.join(map(repr, absent))} for the expected answer "
            f"(columns: {available})"
        )
    reserved = {*wanted, input} if is_column else set(wanted)
    cases = []
    for record in records:
        prompt = record.get(input) if is_column else input.format_map(record)
        if _missing(prompt):
            raise ConfigurationError(f"a row has no input: {record!r}")
        if isinstance(expected, str):
            answer = record.get(expected)
            answer = None if _missing(answer) else answer
        elif wanted:
            answer = {c: (None if _missing(record.get(c)) else record.get(c)) for c in wanted}
        else:
            answer = None
        metadata = {k: v for k, v in record.items() if k not in reserved}
        cases.append((str(prompt), answer, metadata))
    return cases
