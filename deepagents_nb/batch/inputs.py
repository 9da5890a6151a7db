"""A batch's inputs as rows: an index label and the prompt each row sends.

A DataFrame's prompt is a template over its columns (`"Classify: {text}"`); a
Series' or a list of strings' over `{value}` (the value itself when there is no
template); a list of dicts is like a DataFrame's rows.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deepagents_nb.exceptions import ConfigurationError


@dataclass(frozen=True)
class Row:
    """One row of a batch: where it goes in the result, and what it asks."""

    position: int
    label: Hashable
    prompt: str


@dataclass(frozen=True)
class Rows:
    """A batch's rows and the index the result DataFrame takes."""

    rows: tuple[Row, ...]
    index: Any  # a pandas Index

    def fingerprint(self) -> str:
        """A digest of every row's label and prompt (part of the default batch id)."""
        digest = hashlib.sha256()
        for row in self.rows:
            digest.update(json.dumps([str(row.label), row.prompt]).encode())
        return digest.hexdigest()


def to_rows(inputs: Any, prompt: str | None) -> Rows:
    """The rows of `inputs` (a DataFrame, a Series, or a list of strings or dicts).

    Raises:
        ConfigurationError: an input of another kind, or a template naming a column
            (or key) that is not there.
    """
    import pandas as pd

    if isinstance(inputs, pd.DataFrame):
        records = [{str(k): v for k, v in r.items()} for r in inputs.to_dict("records")]
        return _rows(inputs.index, [_record_prompt(r, prompt) for r in _checked(records, prompt)])
    if isinstance(inputs, pd.Series):
        values = [{"value": v} for v in inputs.tolist()]
        return _rows(inputs.index, [_value_prompt(v["value"], prompt) for v in values])
    if isinstance(inputs, Sequence) and not isinstance(inputs, str | bytes):
        items = list(inputs)
        index = pd.RangeIndex(len(items))
        if all(isinstance(item, Mapping) for item in items):
            records = [{str(k): v for k, v in item.items()} for item in items]
            return _rows(index, [_record_prompt(r, prompt) for r in _checked(records, prompt)])
        if all(isinstance(item, str) for item in items):
            return _rows(index, [_value_prompt(item, prompt) for item in items])
    raise ConfigurationError(
        f"agent.map takes a DataFrame, a Series, or a list of strings or of dicts, "
        f"not {type(inputs).__name__}"
    )


def _rows(index: Any, prompts: list[str]) -> Rows:
    if not index.is_unique:
        raise ConfigurationError(
            "the inputs' index has repeated labels: each row's thread is named by its "
            "label, so make the index unique (e.g. df.reset_index(drop=True))"
        )
    rows = tuple(Row(i, label, p) for i, (label, p) in enumerate(zip(index, prompts, strict=True)))
    return Rows(rows, index)


def _fields(template: str) -> set[str]:
    return {
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    }


def _checked(records: list[dict[str, Any]], prompt: str | None) -> list[dict[str, Any]]:
    if prompt is None or not records:
        return records
    missing = _fields(prompt) - set(records[0])
    if missing:
        raise ConfigurationError(
            f"the prompt uses {', '.join(sorted('{' + m + '}' for m in missing))}, which the "
            f"inputs do not have (columns: {', '.join(map(str, records[0]))}); write "
            f"{{{{ and }}}} for literal braces"
        )
    return records


def _record_prompt(record: dict[str, Any], prompt: str | None) -> str:
    if prompt is None:
        return "\n".join(f"{key}: {value}" for key, value in record.items())
    return prompt.format_map({str(k): v for k, v in record.items()})


def _value_prompt(value: Any, prompt: str | None) -> str:
    if prompt is None:
        return str(value)
    unknown = _fields(prompt) - {"value"}
    if unknown:
        raise ConfigurationError(
            f"a template over a Series or a list of strings can use only {{value}}, not "
            f"{', '.join(sorted('{' + u + '}' for u in unknown))}"
        )
    return prompt.format(value=value)
