"""Case and Dataset: from lists, dicts, DataFrames and records; clear errors for bad ones."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from evals_support import questions

from deepagents_nb import ConfigurationError
from deepagents_nb.evals import Case, Dataset


def test_cases_from_cases_dicts_and_strings_are_named_by_position() -> None:
    dataset = Dataset(
        [Case("a?", "A"), {"input": "b?", "expected": "B", "name": "bee"}, "c?"], name="abc"
    )

    assert [c.name for c in dataset] == ["0", "bee", "2"]
    assert dataset["bee"].expected == "B" and dataset[2].input == "c?"
    assert len(dataset) == 3 and repr(dataset) == "Dataset(name='abc', 3 cases)"
    with pytest.raises(KeyError):
        dataset["nope"]


def test_from_dataframe_takes_a_column_or_a_template_and_keeps_other_columns() -> None:
    df = questions().iloc[:3].set_axis(["q1", "q2", "q3"])

    by_column = Dataset.from_dataframe(df, input="question", expected="answer", name="sums")
    by_template = Dataset.from_dataframe(df, input="Level {level}: {question}")

    assert by_column.name == "sums" and [c.name for c in by_column] == ["q1", "q2", "q3"]
    assert by_column["q2"].input == "What is 1 + 1?" and by_column["q2"].expected == "2"
    assert by_column["q2"].metadata == {"level": "easy"}
    assert by_template["q1"].input == "Level easy: What is 0 + 0?"
    assert by_template["q1"].expected is None
    # A template's columns stay metadata: they may be what a report is sliced by.
    assert by_template["q1"].metadata == {
        "question": "What is 0 + 0?",
        "answer": "0",
        "level": "easy",
    }
    table = by_column.to_dataframe()
    assert table.index.tolist() == ["q1", "q2", "q3"]
    assert list(table.columns) == ["input", "expected", "level"]


def test_several_expected_columns_give_a_dict_and_empty_cells_give_none() -> None:
    df = pd.DataFrame({"q": ["x", "y"], "city": ["Oslo", None], "pop": [709_000, math.nan]})

    dataset = Dataset.from_dataframe(df, input="q", expected=["city", "pop"])
    single = Dataset.from_dataframe(df, input="q", expected="city")

    assert dataset["0"].expected == {"city": "Oslo", "pop": 709_000}
    assert dataset["1"].expected == {"city": None, "pop": None}
    assert single["1"].expected is None


def test_from_records_reads_dicts_with_optional_names() -> None:
    dataset = Dataset.from_records(
        [
            {"name": "first", "input": "2+2?", "expected": "4", "topic": "math"},
            {"input": "Capital of France?", "expected": "Paris", "topic": "geo"},
        ],
        name="mixed",
    )

    assert [c.name for c in dataset] == ["first", "1"]
    assert dataset["1"].metadata == {"topic": "geo"}
    no_answers = Dataset.from_records([{"input": "hi"}])
    assert no_answers[0].expected is None


def test_the_fingerprint_follows_inputs_not_expected_answers() -> None:
    a = Dataset([Case("q", "1", "x")])
    assert a.fingerprint() == Dataset([Case("q", "2", "x")]).fingerprint()
    assert a.fingerprint() != Dataset([Case("q2", "1", "x")]).fingerprint()
    assert a.fingerprint() != Dataset([Case("q", "1", "y")]).fingerprint()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Dataset([]), "has no cases"),
        (lambda: Dataset([Case("a", name="x"), Case("b", name="x")]), "several cases named 'x'"),
        (lambda: Dataset([Case("a", name="1"), Case("b")]), "several cases named '1'"),
        (lambda: Dataset("just one"), "a list of cases"),
        (lambda: Dataset([42]), "not 42"),
        (lambda: Dataset([{"question": "x"}]), "needs an 'input' key"),
        (lambda: Case(3), "must be text"),
        (lambda: Dataset(["a"], name=""), "non-empty string"),
        (
            lambda: Dataset.from_dataframe(questions(), input="prompt"),
            "no column 'prompt' for the input",
        ),
        (
            lambda: Dataset.from_dataframe(questions(), input="Q: {prompt}"),
            r"uses \{prompt\}, which are not columns",
        ),
        (
            lambda: Dataset.from_dataframe(questions(), input="question", expected="truth"),
            "no column 'truth' for the expected answer",
        ),
        (
            lambda: Dataset.from_dataframe(questions().iloc[:0], input="question"),
            "no rows",
        ),
        (
            lambda: Dataset.from_dataframe(questions().set_axis([0] * 20), input="question"),
            "repeated labels",
        ),
        (lambda: Dataset.from_dataframe([{"q": 1}], input="q"), "takes a DataFrame"),
    ],
)
def test_bad_datasets_are_clear_errors(make: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()  # type: ignore[operator]
