"""EvalReport: save and load (NaN, None, structured outputs), compare runs, display."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from evals_support import WRONG_CASES, Grader, judge_model, make_agent, questions
from pydantic import BaseModel

from deepagents_nb import ConfigurationError
from deepagents_nb.evals import Case, Contains, Dataset, EvalReport, FieldEquals, Judge


def sums(name: str = "sums") -> Dataset:
    return Dataset.from_dataframe(questions(), input="question", expected="answer", name=name)


def test_a_saved_report_loads_back_equal_with_nan_and_none(tmp_path: Path) -> None:
    careful, _ = make_agent("careful", broken={"6"})
    sloppy, _ = make_agent("sloppy", wrong=WRONG_CASES, priced=False)
    judge = Judge(judge_model(Grader()), "Right?")
    report = sums().evaluate([careful, sloppy], scorers=[Contains(), judge], progress=False)

    path = report.save(tmp_path / "runs" / "v1.json")
    loaded = EvalReport.load(path)

    assert loaded.frame.equals(report.frame)
    assert list(loaded.frame.dtypes) == list(report.frame.dtypes)
    failed = loaded.frame.set_index(["agent", "case"]).loc[("careful", "6")]
    assert failed["output"] is None and math.isnan(failed["contains"])
    assert (loaded.name, loaded.dataset, loaded.agents) == ("sums", "sums", ["careful", "sloppy"])
    assert loaded.scorers == report.scorers and loaded.created == report.created
    assert loaded.summary().equals(report.summary())
    document = json.loads(path.read_text())  # plain JSON: no NaN literals
    assert document["format"] == "deepagents-nb-eval" and "NaN" not in path.read_text()


class Sum(BaseModel):
    value: int
    unit: str


def test_structured_outputs_are_saved_as_their_data(tmp_path: Path) -> None:
    df = questions().assign(unit="n")
    df["value"] = [2 * i for i in range(20)]
    dataset = Dataset.from_dataframe(df.iloc[:4], input="question", expected=["value", "unit"])
    agent, _ = make_agent("typed")
    report = dataset.evaluate(
        agent, scorers=[FieldEquals("value")], output_type=Sum, progress=False
    )

    loaded = EvalReport.load(report.save(tmp_path / "typed.json"))

    assert report.frame["output"].iloc[1] == Sum(value=2, unit="n")
    assert loaded.frame["output"].iloc[1] == {"value": 2, "unit": "n"}
    assert loaded.frame["expected"].iloc[1] == {"value": 2, "unit": "n"}
    assert loaded.frame["value_equals"].tolist() == [1.0] * 4


def test_compare_gives_before_after_and_delta_per_agent_and_metric() -> None:
    sloppy, _ = make_agent("bot", wrong=WRONG_CASES)
    fixed, _ = make_agent("bot", wrong={"3"})
    before = sums().evaluate(sloppy, scorers=[Contains()], progress=False, name="v1")
    after = sums().evaluate(fixed, scorers=[Contains()], progress=False, name="v2")

    table = after.compare(before).set_index(["agent", "metric"])

    assert table.loc[("bot", "contains"), "before"] == pytest.approx(0.75)
    assert table.loc[("bot", "contains"), "after"] == pytest.approx(0.95)
    assert table.loc[("bot", "contains"), "delta"] == pytest.approx(0.20)
    assert table.loc[("bot", "pass_rate"), "delta"] == pytest.approx(0.20)
    assert table.loc[("bot", "cost_usd"), "delta"] == pytest.approx(0.0)
    assert list(table.columns) == ["before", "after", "delta"]


def test_compare_with_other_agents_or_scorers_leaves_nan() -> None:
    a, _ = make_agent("a")
    b, _ = make_agent("b")
    first = sums().evaluate(a, scorers=[Contains()], progress=False)
    second = sums().evaluate(b, scorers=[Contains(name="has")], progress=False)

    table = second.compare(first).set_index(["agent", "metric"])

    assert math.isnan(table.loc[("b", "has"), "before"]) and table.loc[("b", "has"), "after"] == 1.0
    assert table.loc[("a", "contains"), "before"] == 1.0 and math.isnan(
        table.loc[("a", "contains"), "delta"]
    )
    with pytest.raises(ConfigurationError, match="takes an EvalReport"):
        second.compare(second.frame)  # type: ignore[arg-type]


def test_loading_what_is_not_a_report_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        EvalReport.load(tmp_path / "missing.json")
    other = tmp_path / "other.json"
    other.write_text('{"rows": []}')
    with pytest.raises(ConfigurationError, match="is not an evaluation report"):
        EvalReport.load(other)
    other.write_text('{"format": "deepagents-nb-eval", "version": 99}')
    with pytest.raises(ConfigurationError, match="version 99"):
        EvalReport.load(other)


def test_the_report_shows_its_summary_and_failures() -> None:
    agent, _ = make_agent("bot", wrong={"1", "2"})
    tiny = Dataset([Case(f"What is {i} + {i}?", str(2 * i), str(i)) for i in (1, 2, 3)], "tiny")
    report = tiny.evaluate(agent, scorers=[Contains()], progress=False)

    html = report._repr_html_()
    assert "Evaluation &#x27;tiny&#x27;" in html and "2 not passed" in html
    assert "<table" in html and "pass_rate" in html
    assert "duration" not in html  # timings vary: saved notebooks stay stable
    assert report.failures()["case"].tolist() == ["1", "2"]
    assert report.to_dataframe().equals(report.frame)
    assert report.to_dataframe() is not report.frame
