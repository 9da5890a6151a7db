"""Judge: a scripted judge model grades outputs; its tokens and cost are its own."""

from __future__ import annotations

import math

import pytest
from evals_support import (
    MINI_ROW_COST,
    ROW_TOKENS,
    Grader,
    judge_model,
    make_agent,
    usage_response,
)

from deepagents_nb import SqliteCheckpointer
from deepagents_nb.evals import Case, Dataset, Grade, Judge
from deepagents_nb.messages import ToolCall
from deepagents_nb.models.testing import FunctionModel, ScriptedModel
from deepagents_nb.output import FINAL_ANSWER


def dataset() -> Dataset:
    return Dataset([Case(f"What is {i} + {i}?", str(2 * i), str(i)) for i in range(6)], name="d")


def test_the_judge_sees_rubric_task_expected_answer_and_output() -> None:
    grader = Grader()
    judge = Judge(judge_model(grader), "Is the sum right? Be strict.", name="strict")

    score = judge.score(Case("What is 2 + 2?", "4"), "The answer is 4.")

    assert (score.value, score.reason, score.tokens) == (1.0, "right", ROW_TOKENS)
    assert score.cost_usd == pytest.approx(MINI_ROW_COST)
    request = judge.agent.model.requests[0]  # type: ignore[attr-defined]
    assert "Rubric:\nIs the sum right? Be strict." in (request.system or "")
    assert grader.prompts == [
        "## Task\nWhat is 2 + 2?\n\n## Expected answer\n4\n\n"
        "## The agent's answer\nThe answer is 4."
    ]
    assert [t.name for t in request.tools] == [FINAL_ANSWER]  # no other tools
    assert judge.usage.total().cost_usd == pytest.approx(MINI_ROW_COST)


def test_judge_cost_is_reported_apart_from_the_agents_and_not_paid_twice() -> None:
    agent, _ = make_agent("careful", wrong={"2"})
    grader = Grader()
    judge = Judge(judge_model(grader), "Is the sum right?")

    first = dataset().evaluate(agent, scorers=[judge], progress=False)

    rows = first.frame.set_index("case")
    assert rows["judge"].tolist() == [1.0, 1.0, 0.2, 1.0, 1.0, 1.0]
    assert rows.loc["2", "judge_reason"] == "wrong sum" and not rows.loc["2", "passed"]
    assert rows["judge_tokens"].eq(ROW_TOKENS).all()
    assert rows["judge_cost_usd"].sum() == pytest.approx(judge.usage.total().cost_usd)
    assert rows["cost_usd"].sum() == pytest.approx(agent.usage.total().cost_usd)
    summary = first.summary().loc["careful"]
    assert summary["judge_cost_usd"] == pytest.approx(6 * MINI_ROW_COST)
    assert summary["cost_usd"] == pytest.approx(6 * MINI_ROW_COST)
    assert len(grader.prompts) == 6

    again = dataset().evaluate(agent, scorers=[judge], progress=False)
    assert len(grader.prompts) == 6  # the same outputs: grades read back, not paid again
    assert again.frame["judge"].tolist() == first.frame["judge"].tolist()
    assert again.frame["judge_cost_usd"].eq(0.0).all()


def test_a_changed_output_is_graded_again() -> None:
    grader = Grader()
    judge = Judge(judge_model(grader), "Is the sum right?")
    case = Case("What is 1 + 1?", "2", "one")

    assert judge.score(case, "The answer is 2.").value == 1.0
    assert judge.score(case, "The answer is 2.").tokens == 0  # kept from the first time
    assert judge.score(case, "The answer is 3.").value == pytest.approx(0.2)
    assert len(grader.prompts) == 2


def test_a_failing_judge_gives_nan_and_an_error_note_for_its_rows_only() -> None:
    agent, _ = make_agent("careful")
    judge = Judge(judge_model(Grader(fail_on="What is 4 + 4?")), "Is the sum right?")

    report = dataset().evaluate(agent, scorers=[judge], progress=False)

    rows = report.frame.set_index("case")
    assert math.isnan(rows.loc["4", "judge"]) and not rows.loc["4", "passed"]
    assert rows.loc["4", "score_errors"] == "judge: judge: RuntimeError: judge down"
    assert rows.drop(index="4")["judge"].eq(1.0).all()
    assert rows.loc["4", "status"] == "done"  # the agent's row itself is fine


def test_a_scripted_judge_and_grades_kept_across_restarts(tmp_path: object) -> None:
    grades = [usage_response(call=ToolCall(FINAL_ANSWER, {"score": 0.9, "reason": "ok"}))] * 6
    path = f"{tmp_path}/grades.db"
    judge = Judge(ScriptedModel(grades), "Fine?", checkpointer=SqliteCheckpointer(path))
    agent, _ = make_agent("careful")

    report = dataset().evaluate(agent, scorers=[judge], progress=False)
    assert report.frame["judge"].tolist() == [0.9] * 6
    assert math.isnan(report.summary().loc["careful", "judge_cost_usd"])  # "scripted": no price

    # A new judge on the same store: nothing is asked of its (empty) script.
    later = Judge(ScriptedModel([]), "Fine?", checkpointer=SqliteCheckpointer(path))
    again = dataset().evaluate(agent, scorers=[later], progress=False)
    assert again.frame["judge"].tolist() == [0.9] * 6


def test_structured_grade_is_validated() -> None:
    def lenient(request: object) -> Grade:
        return Grade(score=0.7, reason="mostly")

    judge = Judge(FunctionModel(lenient), "Good?", threshold=0.8)
    score = judge.score("q", "a")
    assert score.value == pytest.approx(0.7) and score.reason == "mostly"
    assert judge.threshold == 0.8
    assert repr(judge) == "Judge(name='judge', model=function:function)"
