"""Scripted agents and judges for the evals tests: no network, exact token counts.

Every scripted answer carries its usage (100 tokens in, 20 out), so tokens and the
cost of a model priced by the presets (openai gpt-4o-mini: $0.15 / $0.60 per
million) are known to the digit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from deepagents_nb import DeepAgent, create_deep_agent
from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.models.base import ModelRequest, ModelResponse
from deepagents_nb.models.testing import FunctionModel, ScriptItem
from deepagents_nb.output import FINAL_ANSWER
from deepagents_nb.usage import Usage

IN, OUT = 100, 20
ROW_TOKENS = IN + OUT
MINI_ROW_COST = (IN * 0.15 + OUT * 0.60) / 1_000_000  # gpt-4o-mini preset
WRONG_CASES = {"3", "7", "11", "15", "19"}  # the cases the "sloppy" agent gets wrong


def questions() -> pd.DataFrame:
    """Twenty sums: "What is i + i?" -> 2i, with a difficulty column (metadata)."""
    return pd.DataFrame(
        {
            "question": [f"What is {i} + {i}?" for i in range(20)],
            "answer": [str(2 * i) for i in range(20)],
            "level": ["easy" if i < 10 else "hard" for i in range(20)],
        }
    )


def usage_response(text: str = "", call: ToolCall | None = None) -> ModelResponse:
    message = Message.assistant(text, tool_calls=[call] if call else [])
    return ModelResponse(message=message, usage=Usage(input_tokens=IN, output_tokens=OUT))


def case_number(request: ModelRequest) -> int:
    return int(request.messages[-1].content.split()[2])


class Answers:
    """A scripted model's brain: the answer to each sum, wrong on `wrong` cases; counts
    calls; raises on `broken` cases."""

    def __init__(self, wrong: set[str] = frozenset(), broken: set[str] = frozenset()) -> None:
        self.wrong, self.broken = set(wrong), set(broken)
        self.calls: list[int] = []

    def __call__(self, request: ModelRequest) -> ScriptItem:
        i = case_number(request)
        self.calls.append(i)
        if str(i) in self.broken:
            raise RuntimeError(f"model down on {i}")
        answer = 2 * i + (1 if str(i) in self.wrong else 0)
        if request.output is not None:  # structured: {"value": ..., "unit": ...}
            return usage_response(call=ToolCall(FINAL_ANSWER, {"value": answer, "unit": "n"}))
        return usage_response(f"The answer is {answer}.")


def make_agent(
    name: str,
    *,
    wrong: set[str] = frozenset(),
    broken: set[str] = frozenset(),
    priced: bool = True,
    **options: object,
) -> tuple[DeepAgent, Answers]:
    """An agent answering the sums (wrong on `wrong`, failing on `broken`), priced as
    gpt-4o-mini unless `priced=False` (a test double's name: no price)."""
    answers = Answers(wrong, broken)
    names = {"provider": "openai", "model_name": "gpt-4o-mini"} if priced else {}
    model = FunctionModel(answers, **names)
    agent = create_deep_agent(model=model, name=name, **options)  # type: ignore[arg-type]
    return agent, answers


class Grader:
    """A judge's scripted model: 1 when the answer holds the expected number, else 0.2;
    counts calls."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.prompts: list[str] = []
        self.fail_on = fail_on

    def __call__(self, request: ModelRequest) -> ScriptItem:
        prompt = request.messages[-1].content
        self.prompts.append(prompt)
        if self.fail_on is not None and self.fail_on in prompt:
            raise RuntimeError("judge down")
        expected = prompt.split("## Expected answer\n")[1].split("\n")[0]
        answer = prompt.split("## The agent's answer\n")[1]
        right = f" {expected}." in answer or answer.strip() == expected
        grade = {"score": 1.0 if right else 0.2, "reason": "right" if right else "wrong sum"}
        return usage_response(call=ToolCall(FINAL_ANSWER, grade))


def judge_model(grader: Callable[[ModelRequest], ScriptItem]) -> FunctionModel:
    return FunctionModel(grader, provider="openai", model_name="gpt-4o-mini")


def by_case(frame: pd.DataFrame, agent: str, column: str) -> Mapping[str, object]:
    rows = frame[frame["agent"] == agent]
    return dict(zip(rows["case"], rows[column], strict=True))
