"""Evaluations: run agents over a dataset of cases, score the outputs, compare agents.

    from deepagents_nb.evals import Dataset, ExactMatch, Judge

    dataset = Dataset.from_dataframe(df, input="question", expected="answer", name="qa")
    report = dataset.evaluate([agent_a, agent_b], scorers=[ExactMatch(), Judge(model, rubric)])
    report.frame       # one row per case and agent: output, scores, tokens, cost, thread_id
    report.summary()   # one row per agent
    report.chart()     # plotly, agents side by side
    report.save("evals/run1.json")

Each agent runs the cases through `agent.map`, so rows are resumable threads, share
one rate limiter and obey budgets. A judge's own tokens and cost are reported in
their own columns.
"""

from deepagents_nb.evals.dataset import Case, Dataset
from deepagents_nb.evals.judge import Grade, Judge
from deepagents_nb.evals.matchers import Contains, ExactMatch, FieldEquals, Regex
from deepagents_nb.evals.report import EvalReport, ScorerInfo
from deepagents_nb.evals.scorers import Attempt, FunctionScorer, Score, Scorer, scorer

__all__ = [
    "Attempt",
    "Case",
    "Contains",
    "Dataset",
    "EvalReport",
    "ExactMatch",
    "FieldEquals",
    "FunctionScorer",
    "Grade",
    "Judge",
    "Regex",
    "Score",
    "Scorer",
    "ScorerInfo",
    "scorer",
]
