"""dataset.evaluate: two scripted agents over 20 cases -> 40 scored rows, a summary and a
chart; resumed re-runs, failed rows, broken scorers, structured outputs, labels."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from evals_support import (
    MINI_ROW_COST,
    ROW_TOKENS,
    WRONG_CASES,
    Grader,
    by_case,
    judge_model,
    make_agent,
    questions,
    usage_response,
)
from pydantic import BaseModel

from deepagents_nb import ConfigurationError, create_deep_agent
from deepagents_nb.evals import (
    Case,
    Contains,
    Dataset,
    EvalReport,
    ExactMatch,
    FieldEquals,
    Judge,
    Regex,
    Score,
    scorer,
)
from deepagents_nb.models.testing import ScriptedModel


def sums() -> Dataset:
    return Dataset.from_dataframe(questions(), input="question", expected="answer", name="sums")


def number(case: Case, output: str) -> bool:
    """The last word of the answer is the expected number."""
    return output.rstrip(".").split()[-1] == case.expected


def test_two_agents_over_twenty_cases_give_forty_scored_rows_a_summary_and_a_chart() -> None:
    careful, careful_answers = make_agent("careful")
    sloppy, _ = make_agent("sloppy", wrong=WRONG_CASES, priced=False)
    judge = Judge(judge_model(Grader()), "Is the sum right?")

    report = sums().evaluate([careful, sloppy], scorers=[Contains(), number, judge], progress=False)

    frame = report.frame
    assert len(frame) == 40
    assert list(frame.columns) == [
        "agent", "case", "input", "expected", "output", "status", "error",
        "contains", "number", "judge", "passed", "judge_reason", "score_errors",
        "total_tokens", "cost_usd", "duration_ms", "judge_tokens", "judge_cost_usd",
        "thread_id", "level",
    ]  # fmt: skip
    assert frame["agent"].tolist() == ["careful"] * 20 + ["sloppy"] * 20
    assert frame["case"].tolist() == [str(i) for i in range(20)] * 2
    assert by_case(frame, "careful", "output")["7"] == "The answer is 14."
    assert by_case(frame, "sloppy", "output")["7"] == "The answer is 15."
    assert by_case(frame, "sloppy", "level")["12"] == "hard"
    assert frame["status"].eq("done").all() and frame["error"].isna().all()
    for column in ("contains", "number"):
        assert by_case(frame, "careful", column) == {str(i): 1.0 for i in range(20)}
        wrong = by_case(frame, "sloppy", column)
        assert {c for c, v in wrong.items() if v == 0.0} == WRONG_CASES
        right = {c for c, v in wrong.items() if v == 1.0}
        assert right == {str(i) for i in range(20)} - WRONG_CASES
    judged = by_case(frame, "sloppy", "judge")
    assert {c for c, v in judged.items() if v == pytest.approx(0.2)} == WRONG_CASES
    assert by_case(frame, "sloppy", "judge_reason")["3"] == "wrong sum"
    assert frame["passed"].tolist() == [True] * 20 + [str(i) not in WRONG_CASES for i in range(20)]
    # Tokens and cost are the agents' own; the judge's are apart.
    assert frame["total_tokens"].eq(ROW_TOKENS).all()
    assert by_case(frame, "careful", "cost_usd")["0"] == pytest.approx(MINI_ROW_COST)
    assert frame[frame.agent == "sloppy"]["cost_usd"].isna().all()  # no price for "function"
    assert frame["judge_tokens"].eq(ROW_TOKENS).all()
    assert frame["judge_cost_usd"].sum() == pytest.approx(40 * MINI_ROW_COST)
    assert sorted(careful_answers.calls) == list(range(20))

    summary = report.summary()
    assert summary.index.tolist() == ["careful", "sloppy"]
    assert summary.loc["careful", ["rows", "done", "failed"]].tolist() == [20, 20, 0]
    assert summary.loc["careful", "contains"] == 1.0
    assert summary.loc["sloppy", "contains"] == pytest.approx(15 / 20)
    assert summary.loc["sloppy", "judge"] == pytest.approx((15 * 1.0 + 5 * 0.2) / 20)
    assert summary.loc["sloppy", "pass_rate"] == pytest.approx(0.75)
    assert summary.loc["careful", "total_tokens"] == 20 * ROW_TOKENS
    assert summary.loc["careful", "mean_tokens"] == ROW_TOKENS
    assert summary.loc["careful", "cost_usd"] == pytest.approx(20 * MINI_ROW_COST)
    assert math.isnan(summary.loc["sloppy", "cost_usd"])
    assert summary.loc["sloppy", "judge_cost_usd"] == pytest.approx(20 * MINI_ROW_COST)
    assert summary.loc["sloppy", "judge_tokens"] == 20 * ROW_TOKENS

    fig = report.chart()
    assert [trace.name for trace in fig.data] == ["careful", "sloppy"]
    assert list(fig.data[0].x) == ["contains", "number", "judge", "pass rate"]
    assert list(fig.data[0].y) == [1.0, 1.0, 1.0, 1.0]
    assert list(fig.data[1].y) == pytest.approx([0.75, 0.75, 0.8, 0.75])
    assert fig.layout.barmode == "group"
    assert "Evaluation" in report._repr_html_() and "careful" in repr(report)


def test_each_row_is_a_thread_of_its_agent_and_a_rerun_skips_finished_rows() -> None:
    agent, answers = make_agent("careful")
    first = sums().evaluate(agent, scorers=[ExactMatch()], progress=False)

    thread = by_case(first.frame, "careful", "thread_id")["4"]
    assert isinstance(thread, str) and thread.startswith("eval-sums-careful-")
    state = agent.get_state(thread)  # the row's run, opened from the report
    assert state.messages[0].content == "What is 4 + 4?"
    assert state.messages[-1].content == "The answer is 8."
    assert len(answers.calls) == 20

    again = sums().evaluate(agent, scorers=[ExactMatch(), Regex(r"\d+")], progress=False)
    assert len(answers.calls) == 20  # every row read back from its thread
    assert again.frame["output"].tolist() == first.frame["output"].tolist()
    assert again.frame["total_tokens"].eq(0).all()
    assert again.frame["regex"].eq(1.0).all()

    renamed = sums().evaluate(agent, scorers=[ExactMatch()], progress=False, name="second")
    assert len(answers.calls) == 40  # a new name runs afresh
    assert renamed.frame["thread_id"].str.startswith("eval-second-careful-").all()


def test_a_scripted_model_plays_its_script_in_case_order_with_its_usage() -> None:
    script = [usage_response(f"The answer is {2 * i}.") for i in range(20)]
    model = ScriptedModel(script, provider="openai", model_name="gpt-4o-mini")
    agent = create_deep_agent(model=model, name="scripted")

    report = sums().evaluate(agent, scorers=[number], concurrency=1, progress=False)

    assert report.frame["number"].eq(1.0).all()
    assert report.summary().loc["scripted", "total_tokens"] == 20 * ROW_TOKENS
    assert report.summary().loc["scripted", "cost_usd"] == pytest.approx(20 * MINI_ROW_COST)
    assert model.remaining == 0


def test_a_failed_row_has_no_scores_and_loses_no_other_row() -> None:
    agent, _ = make_agent("flaky", broken={"5"})

    report = sums().evaluate(agent, scorers=[Contains(), number], progress=False)

    row = report.frame.set_index("case").loc["5"]
    assert row["status"] == "failed" and "RuntimeError: model down on 5" in row["error"]
    assert row["output"] is None and math.isnan(row["number"]) and not row["passed"]
    others = report.frame[report.frame.case != "5"]
    assert others["status"].eq("done").all() and others["number"].eq(1.0).all()
    summary = report.summary().loc["flaky"]
    assert (summary["done"], summary["failed"]) == (19, 1)
    assert summary["number"] == 1.0  # the mean of the scored rows
    assert summary["pass_rate"] == pytest.approx(19 / 20)  # a failed row does not pass


def test_a_scorer_that_raises_costs_its_own_cells_only() -> None:
    agent, _ = make_agent("careful")

    @scorer(name="picky")
    async def picky(case: Case, output: str) -> float:
        if case.name == "2":
            raise ValueError("cannot read this one")
        return 0.5 if case.name == "3" else 1.0

    report = sums().evaluate(agent, scorers=[picky, number], progress=False)

    rows = report.frame.set_index("case")
    assert math.isnan(rows.loc["2", "picky"]) and rows.loc["2", "number"] == 1.0
    assert rows.loc["2", "score_errors"] == "picky: ValueError: cannot read this one"
    assert not rows.loc["2", "passed"]
    assert rows.loc["3", "picky"] == 0.5 and rows.loc["3", "passed"]  # at the threshold
    assert rows["score_errors"].notna().sum() == 1


class Sum(BaseModel):
    value: int
    unit: str


def test_structured_outputs_are_scored_whole_and_by_field() -> None:
    frame = questions().assign(unit="n")
    frame["value"] = [2 * i for i in range(20)]
    dataset = Dataset.from_dataframe(frame, input="question", expected=["value", "unit"])
    agent, _ = make_agent("typed", wrong={"1"})

    report = dataset.evaluate(
        {"v1": agent},
        scorers=[FieldEquals("value"), FieldEquals("unit", "n"), ExactMatch()],
        output_type=Sum,
        progress=False,
    )

    rows = report.frame.set_index("case")
    assert rows.loc["4", "output"] == Sum(value=8, unit="n")
    assert rows.loc["4", "expected"] == {"value": 8, "unit": "n"}
    assert rows.loc["1", "value_equals"] == 0.0 and rows.loc["1", "unit_equals"] == 1.0
    assert rows.loc["1", "exact_match"] == 0.0
    assert rows.drop(index="1")[["value_equals", "exact_match"]].eq(1.0).all().all()
    assert report.agents == ["v1"] and rows["agent"].eq("v1").all()


def test_agents_are_labelled_by_name_or_by_dict_and_checked() -> None:
    a, _ = make_agent("agent")
    b, _ = make_agent("agent")
    with pytest.raises(ConfigurationError, match="several agents are named 'agent'"):
        sums().evaluate([a, b], scorers=[number], progress=False)
    with pytest.raises(ConfigurationError, match="is not an agent"):
        sums().evaluate(["agent"], scorers=[number], progress=False)  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="at least one agent"):
        sums().evaluate([], scorers=[number], progress=False)
    with pytest.raises(ConfigurationError, match="at least one scorer"):
        sums().evaluate(a, scorers=[], progress=False)
    with pytest.raises(ConfigurationError, match="is a column of the report"):
        sums().evaluate(a, scorers=[ExactMatch(name="output")], progress=False)

    report = sums().evaluate({"first": a, "second": b}, scorers=[number], progress=False)
    assert report.summary().index.tolist() == ["first", "second"]
    assert report.frame.groupby("agent")["thread_id"].first().str.split("-").str[2].tolist() == [
        "first",
        "second",
    ]


async def test_aevaluate_is_the_async_twin() -> None:
    agent, _ = make_agent("careful")
    report = await sums().aevaluate(agent, scorers=[number], progress=False)
    assert isinstance(report, EvalReport) and report.frame["number"].eq(1.0).all()


def test_scores_of_a_function_can_be_reasons_and_not_applicable() -> None:
    agent, _ = make_agent("careful")

    def odd_only(case: Case, output: str) -> Score | None:
        if int(case.name or 0) % 2 == 0:
            return None  # does not apply: no score, no error
        return Score(1.0, reason="odd case")

    report = sums().evaluate(agent, scorers=[odd_only], progress=False)

    rows = report.frame.set_index("case")
    assert math.isnan(rows.loc["0", "odd_only"]) and rows.loc["0", "passed"]
    assert rows.loc["1", "odd_only"] == 1.0
    assert rows["score_errors"].isna().all()
    assert pd.isna(report.summary().loc["careful", "cost_usd"]) is False
