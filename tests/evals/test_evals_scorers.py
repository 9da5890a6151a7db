"""Scorers one output at a time: what each counts as right, and clear errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
from pydantic import BaseModel

from deepagents_nb import ConfigurationError
from deepagents_nb.evals import (
    Case,
    Contains,
    ExactMatch,
    FieldEquals,
    Judge,
    Regex,
    Score,
    scorer,
)
from deepagents_nb.evals.run import RESERVED
from deepagents_nb.evals.scorers import as_scorers


class City(BaseModel):
    name: str
    population: int


@dataclasses.dataclass
class Place:
    city: City
    country: str


def test_exact_match_normalizes_text_unless_asked_not_to() -> None:
    case = Case("Capital of France?", "Paris")
    assert ExactMatch().score(case, "  paris. ").value == 1.0
    assert ExactMatch().score(case, "Paris, France").value == 0.0
    assert ExactMatch(normalize=False).score(case, "paris").value == 0.0
    assert ExactMatch().score(Case("6 x 7?", 42), "42").value == 1.0


def test_exact_match_compares_structured_outputs_as_data() -> None:
    case = Case("Oslo?", {"name": "Oslo", "population": 709_000})
    assert ExactMatch().score(case, City(name="Oslo", population=709_000)).value == 1.0
    assert ExactMatch().score(case, City(name="Oslo", population=1)).value == 0.0
    assert ExactMatch().score(case, '{"name": "Oslo", "population": 709000}').value == 1.0


def test_a_case_without_an_expected_answer_is_an_error_not_a_zero() -> None:
    score = ExactMatch().score(Case("hi"), "hello")
    assert score.value is None and score.error == "ValueError: the case has no expected answer"


def test_contains_looks_for_given_texts_or_the_expected_answer() -> None:
    case = Case("Name a fruit", "apple")
    assert Contains().score(case, "An APPLE a day").value == 1.0
    assert Contains(case_sensitive=True).score(case, "An APPLE a day").value == 0.0
    assert Contains(["red", "green"]).score(case, "Red and   green").value == 1.0
    assert Contains(["red", "blue"]).score(case, "red and green").value == 0.0
    assert Contains("oslo").score(case, City(name="Oslo", population=1)).value == 1.0


def test_regex_searches_the_output_text() -> None:
    assert Regex(r"\b\d{4}\b").score("Year?", "It was 1969.").value == 1.0
    assert Regex(r"^\d+$").score("Year?", "It was 1969.").value == 0.0
    with pytest.raises(ConfigurationError, match="is invalid"):
        Regex("(unclosed")


def test_field_equals_reads_a_field_of_the_output_and_of_the_expected_answer() -> None:
    oslo = City(name="Oslo", population=709_000)
    case = Case("Biggest city in Norway?", oslo)
    assert FieldEquals("name").score(case, City(name="Oslo", population=1)).value == 1.0
    assert FieldEquals("population").score(case, City(name="Oslo", population=1)).value == 0.0
    assert FieldEquals("name", "Bergen").score(case, oslo).value == 0.0
    assert FieldEquals("name").score(Case("?", "oslo"), {"name": "Oslo"}).value == 0.0
    loose = FieldEquals("name", normalize=True)
    assert loose.score(Case("?", "oslo"), {"name": "Oslo"}).value == 1.0
    place = Place(city=oslo, country="NO")
    assert FieldEquals("city.name", "Oslo").score("?", place).value == 1.0
    assert FieldEquals("city.name").name == "city_name_equals"
    assert FieldEquals("name").score(case, '{"name": "Oslo"}').value == 1.0  # JSON text
    missing = FieldEquals("name").score(case, {"city": "Oslo"})
    assert missing.value == 0.0 and missing.reason == "the output has no field 'name'"
    no_field = FieldEquals("mayor").score(case, oslo)
    assert no_field.value is None and "expects no field 'mayor'" in (no_field.error or "")


def test_functions_are_scorers_sync_or_async_returning_bools_numbers_or_scores() -> None:
    def short(case: Case, output: str) -> bool:
        return len(output) < 10

    async def ratio(case: Case, output: str) -> float:
        return 0.25

    @scorer(name="explained", threshold=0.9)
    def explained(case: Case, output: str) -> Score:
        return Score(0.5, reason="half")

    assert [s.name for s in as_scorers([short, ratio, explained])] == [
        "short",
        "ratio",
        "explained",
    ]
    assert scorer(short).score("q", "tiny").value == 1.0
    assert scorer(ratio).score("q", "x").value == 0.25
    assert explained.score("q", "x") == Score(0.5, reason="half")
    assert explained.threshold == 0.9


def test_a_score_outside_zero_to_one_or_of_another_type_is_a_row_error() -> None:
    too_big = scorer(lambda case, output: 3, name="big").score("q", "x")
    assert too_big.value is None
    assert too_big.error == "ValueError: a score must be from 0 to 1, got 3.0"
    text = scorer(lambda case, output: "yes", name="text").score("q", "x")
    assert text.value is None and "TypeError: a scorer must return" in (text.error or "")
    nan = scorer(lambda case, output: math.nan, name="nan").score("q", "x")
    assert nan.value is None and nan.error is not None


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([ExactMatch], r"scorer class: give an instance, ExactMatch\(...\)"),
        (["exact"], "'exact' is not a scorer"),
        ([Regex("a"), Regex("b")], "several scorers are named 'regex'"),
        ([lambda case, output: True], "a lambda has no name"),
        ([lambda: True], "must take two arguments"),
        ([ExactMatch(name="status")], "'status' is a column of the report"),
        ([], "at least one scorer"),
    ],
)
def test_what_is_not_a_scorer_is_a_clear_error(items: list[object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        as_scorers(items, reserved=RESERVED)


def test_a_judge_needs_a_rubric_and_a_sane_threshold() -> None:
    from deepagents_nb.models.testing import ScriptedModel

    with pytest.raises(ConfigurationError, match="needs a rubric"):
        Judge(ScriptedModel([]), "  ")
    with pytest.raises(ConfigurationError, match="threshold is from 0 to 1"):
        Judge(ScriptedModel([]), "Correct?", threshold=2)
    with pytest.raises(ConfigurationError, match="is not a model"):
        Judge(42, "Correct?")  # type: ignore[arg-type]
