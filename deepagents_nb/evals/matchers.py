"""Scorers that compare an output with the expected answer: exact, contains, regex, field."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from deepagents_nb.evals.dataset import Case
from deepagents_nb.evals.scorers import Score, Scorer
from deepagents_nb.evals.values import as_jsonable, json_text
from deepagents_nb.exceptions import ConfigurationError

_MISSING: Any = object()


def normalized(text: str) -> str:
    """Case-folded, whitespace collapsed, surrounding punctuation and quotes removed."""
    return " ".join(text.casefold().split()).strip(" .,;:!?\"'`")


def _expected(case: Case) -> Any:
    if case.expected is None:
        raise ValueError(f"{_which(case)} has no expected answer")
    return case.expected


def _which(case: Case) -> str:
    return "the case" if case.name is None else f"case {case.name!r}"


def _parsed(output: Any) -> Any:
    """A text output that is JSON, parsed (an agent answering JSON without output_type)."""
    if isinstance(output, str):
        try:
            return json.loads(output)
        except ValueError:
            return output
    return output


class ExactMatch(Scorer):
    """1 when the output equals the expected answer.

    Text is compared after `normalized` (unless `normalize=False`), so "Paris." matches
    "paris"; a number expected matches its text ("42"). Structured outputs (models,
    dataclasses, dicts) are compared as JSON data, field by field.
    """

    def __init__(self, *, normalize: bool = True, name: str = "exact_match") -> None:
        self.normalize = normalize
        self.name = name

    async def ascore(self, case: Case, output: Any) -> bool:
        expected = _expected(case)
        if isinstance(output, str) and isinstance(expected, str | int | float):
            want, got = str(expected), output
            if self.normalize:
                return normalized(want) == normalized(got)
            return want == got
        return bool(as_jsonable(_parsed(output)) == as_jsonable(expected))


class Contains(Scorer):
    """1 when the output's text contains `text` (every one of them, for a list), or the
    expected answer when `text` is not given; case-insensitive unless asked."""

    def __init__(
        self,
        text: str | Sequence[str] | None = None,
        *,
        case_sensitive: bool = False,
        name: str = "contains",
    ) -> None:
        if text is not None and not isinstance(text, str):
            text = list(text)
            if not all(isinstance(t, str) for t in text):
                raise ConfigurationError(f"Contains takes text or a list of texts, not {text!r}")
        self.text = text
        self.case_sensitive = case_sensitive
        self.name = name

    async def ascore(self, case: Case, output: Any) -> bool:
        wanted = self.text if self.text is not None else _expected(case)
        needles = [wanted] if isinstance(wanted, str) else [str(w) for w in wanted]
        haystack = json_text(output)
        if not self.case_sensitive:
            haystack = " ".join(haystack.casefold().split())
            needles = [" ".join(n.casefold().split()) for n in needles]
        return all(n in haystack for n in needles)


class Regex(Scorer):
    """1 when `pattern` is found in the output's text (`re.search`)."""

    def __init__(self, pattern: str, *, flags: int = 0, name: str = "regex") -> None:
        try:
            self.pattern = re.compile(pattern, flags)
        except re.error as exc:
            raise ConfigurationError(f"Regex pattern {pattern!r} is invalid: {exc}") from None
        self.name = name

    async def ascore(self, case: Case, output: Any) -> bool:
        return self.pattern.search(json_text(output)) is not None


class FieldEquals(Scorer):
    """1 when a field of a structured output equals what is expected.

    `field` may be a dotted path (`"address.city"`). The value compared with is
    `value` when given, else that field of the case's expected answer (a model,
    dataclass or dict), else the expected answer itself. An output without the
    field scores 0. Text outputs holding JSON are parsed first.
    """

    def __init__(
        self,
        field: str,
        value: Any = _MISSING,
        *,
        normalize: bool = False,
        name: str | None = None,
    ) -> None:
        if not isinstance(field, str) or not field:
            raise ConfigurationError(f"FieldEquals needs a field name, not {field!r}")
        self.field = field
        self.value = value
        self.normalize = normalize
        self.name = name or f"{field.replace('.', '_')}_equals"

    async def ascore(self, case: Case, output: Any) -> Score:
        if self.value is not _MISSING:
            want = self.value
        else:
            expected = _expected(case)
            found = _field(expected, self.field)
            want = expected if found is _MISSING and not _is_record(expected) else found
            if want is _MISSING:
                raise ValueError(f"{_which(case)} expects no field {self.field!r}")
        got = _field(_parsed(output), self.field)
        if got is _MISSING:
            return Score(0.0, reason=f"the output has no field {self.field!r}")
        if self.normalize and isinstance(want, str) and isinstance(got, str):
            return Score(float(normalized(want) == normalized(got)))
        return Score(float(as_jsonable(got) == as_jsonable(want)))


def _is_record(value: Any) -> bool:
    return (
        isinstance(value, dict)
        or hasattr(type(value), "model_fields")
        or hasattr(type(value), "__dataclass_fields__")
    )


def _field(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif _is_record(value) and not isinstance(value, type):
            value = getattr(value, part, _MISSING)
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value
