"""agent.map over DataFrames, Series and lists: typed columns, failures as rows, resuming,
paused rows and decisions, budgets, cancelling."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import pandas as pd
import pytest
from pydantic import BaseModel

from deepagents_nb import (
    ConfigurationError,
    HitlAction,
    InMemoryCheckpointer,
    SqliteCheckpointer,
    ToolCall,
    create_deep_agent,
    tool,
)
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptItem
from deepagents_nb.tracking import Budget


class Label(BaseModel):
    sentiment: Literal["positive", "negative"]
    score: float


REVIEWS = pd.DataFrame(
    {"text": ["good film", "bad film", "broken", "great"], "stars": [4, 1, 0, 5]},
    index=pd.Index(["r1", "r2", "r3", "r4"], name="review"),
)


class Classifier:
    """A model that labels the last user message; counts its calls; fails on 'broken'."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, request: ModelRequest) -> ScriptItem:
        text = request.messages[-1].content
        self.calls.append(text)
        if "broken" in text:
            raise RuntimeError("model down")
        if request.output is None:
            return "negative" if "bad" in text else "positive"
        return Label(sentiment="negative" if "bad" in text else "positive", score=0.5)


def classify_agent(classifier: Classifier, **options: object) -> object:
    return create_deep_agent(model=FunctionModel(classifier), **options)  # type: ignore[arg-type]


def test_a_dataframe_becomes_typed_columns_on_its_index_and_failures_are_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    classifier = Classifier()
    agent = classify_agent(classifier, checkpointer=InMemoryCheckpointer())

    out = agent.map(  # type: ignore[attr-defined]
        REVIEWS, "Classify ({stars} stars): {text}", output_type=Label, progress=False
    )

    assert list(out.columns) == [
        "sentiment",
        "score",
        "status",
        "error",
        "thread_id",
        "total_tokens",
        "cost_usd",
        "duration_ms",
    ]
    assert out.index.equals(REVIEWS.index)
    assert out.sentiment.tolist()[:2] == ["positive", "negative"] and out.sentiment.isna()["r3"]
    assert out.status.tolist() == ["done", "done", "failed", "done"]
    assert out.error["r3"] == "RuntimeError: model down" and out.error.isna().sum() == 3
    assert (out.total_tokens[out.status == "done"] > 0).all()
    batch_id = out.thread_id["r1"].rsplit("/", 1)[0]
    assert out.thread_id.tolist() == [f"{batch_id}/{label}" for label in REVIEWS.index]
    assert f"batch {batch_id}: 4 rows" in capsys.readouterr().out
    assert "Classify (1 stars): bad film" in classifier.calls


def test_the_same_batch_again_makes_no_call_for_done_rows_even_after_a_restart(
    tmp_path: Path,
) -> None:
    first = Classifier()
    store = tmp_path / "threads.db"
    agent = classify_agent(first, checkpointer=SqliteCheckpointer(store))
    before = agent.map(REVIEWS, "Classify: {text}", output_type=Label, progress=False)  # type: ignore[attr-defined]
    assert len(first.calls) == 4

    # A new process: a new agent on the same file.
    second = Classifier()
    again = classify_agent(second, checkpointer=SqliteCheckpointer(store))
    after = again.map(REVIEWS, "Classify: {text}", output_type=Label, progress=False)  # type: ignore[attr-defined]

    assert second.calls == ["Classify: broken"]  # only the failed row ran again
    assert after.drop(columns=["total_tokens", "cost_usd", "duration_ms"]).equals(
        before.drop(columns=["total_tokens", "cost_usd", "duration_ms"])
    )
    assert after.total_tokens[after.status == "done"].sum() == 0  # read from the store


def test_an_agent_without_a_checkpointer_keeps_rows_in_its_own_store() -> None:
    classifier = Classifier()
    agent = classify_agent(classifier)  # no checkpointer: its default in-memory one
    first = agent.map(REVIEWS, "Classify: {text}", output_type=Label, progress=False)  # type: ignore[attr-defined]
    calls = len(classifier.calls)
    agent.map(REVIEWS, "Classify: {text}", output_type=Label, progress=False)  # type: ignore[attr-defined]
    assert classifier.calls[calls:] == ["Classify: broken"]  # done rows were found
    done = first[first.status == "done"].iloc[0]
    state = agent.get_state(done.thread_id)  # type: ignore[attr-defined]
    assert state.messages[0].content.startswith("Classify: ")


def test_the_default_batch_id_changes_with_the_agents_instructions() -> None:
    classifier = Classifier()
    before = create_deep_agent(model=FunctionModel(classifier), instructions="Be terse.")
    after = create_deep_agent(model=FunctionModel(classifier), instructions="Be kind.")
    first = before.map(["good"], progress=False)
    assert after.map(["good"], progress=False).thread_id[0] != first.thread_id[0]
    assert len(classifier.calls) == 2  # the changed agent ran the row again


def test_series_lists_and_no_output_type() -> None:
    classifier = Classifier()
    agent = classify_agent(classifier)
    series = pd.Series(["bad one", "fine one"], index=[10, 20])

    by_series = agent.map(series, "Review: {value}", progress=False)  # type: ignore[attr-defined]
    by_strings = agent.map(["bad x", "good y"], progress=False)  # type: ignore[attr-defined]
    by_dicts = agent.map([{"text": "bad z"}], "Say {text}", progress=False)  # type: ignore[attr-defined]

    assert by_series.output.to_dict() == {10: "negative", 20: "positive"}
    assert by_strings.output.tolist() == ["negative", "positive"]
    assert by_strings.index.tolist() == [0, 1]
    assert by_dicts.output.tolist() == ["negative"]
    assert classifier.calls[:2] == ["Review: bad one", "Review: fine one"]


def test_bad_inputs_are_clear_errors_before_any_row_runs() -> None:
    classifier = Classifier()
    agent = classify_agent(classifier)

    with pytest.raises(ConfigurationError, match=r"uses \{body\}, which the inputs do not have"):
        agent.map(REVIEWS, "Classify: {body}", progress=False)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="repeated labels"):
        agent.map(pd.Series(["a", "b"], index=[1, 1]), progress=False)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="takes a DataFrame, a Series"):
        agent.map(42, progress=False)  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match=r"can use only \{value\}"):
        agent.map(["a"], "Say {text}", progress=False)  # type: ignore[attr-defined]
    assert classifier.calls == []


def gated_agent(ran: list[str]) -> object:
    @tool
    def publish(text: str) -> str:
        """Publish a text."""
        ran.append(text)
        return "published"

    def model(request: ModelRequest) -> ScriptItem:
        last = request.messages[-1]
        if last.role == "user":
            return ToolCall("publish", {"text": last.content})
        return f"done: {last.content}"

    return create_deep_agent(
        model=FunctionModel(model),
        tools=[publish],
        interrupt_on={"publish": True},
        checkpointer=InMemoryCheckpointer(),
    )


def test_paused_rows_are_listed_decided_and_continued_by_the_next_map() -> None:
    ran: list[str] = []
    agent = gated_agent(ran)
    texts = ["one", "two", "three"]

    first = agent.map(texts, batch_id="pub", progress=False)  # type: ignore[attr-defined]

    assert first.status.tolist() == ["paused"] * 3 and ran == []
    waiting = agent.batch_interrupts("pub")  # type: ignore[attr-defined]
    assert [(w.label, w.interrupt.tool_name) for w in waiting] == [
        ("0", "publish"),
        ("1", "publish"),
        ("2", "publish"),
    ]
    assert agent.decide_batch("pub", {0: HitlAction.accept(), 2: HitlAction.reject("no")}) == 2  # type: ignore[attr-defined]
    assert ran == []  # deciding runs nothing

    second = agent.map(texts, batch_id="pub", progress=False)  # type: ignore[attr-defined]

    assert second.status.tolist() == ["done", "paused", "done"]
    assert ran == ["one"]
    assert second.output[0] == "done: published"
    assert second.output[2].startswith("done: The user rejected this tool call. Reason: no")
    assert agent.decide_batch("pub", HitlAction.accept()) == 1  # type: ignore[attr-defined]
    third = agent.map(texts, batch_id="pub", progress=False)  # type: ignore[attr-defined]
    assert third.status.tolist() == ["done"] * 3 and ran == ["one", "two"]
    with pytest.raises(ConfigurationError, match="no paused row labelled 7"):
        agent.decide_batch("pub", {7: HitlAction.accept()})  # type: ignore[attr-defined]


def test_a_spent_batch_budget_starts_no_more_rows() -> None:
    classifier = Classifier()
    agent = classify_agent(classifier)
    texts = [f"good {i}" for i in range(6)]

    out = agent.map(  # type: ignore[attr-defined]
        texts, concurrency=1, budget=Budget(max_tokens_per_batch=1), progress=False
    )

    assert out.status.tolist() == ["done"] + ["skipped"] * 5
    assert out.error[1] == "the batch's token budget (1) is spent"
    assert len(classifier.calls) == 1


async def test_a_cancelled_batch_keeps_every_finished_row() -> None:
    release = asyncio.Event()
    calls: list[str] = []

    async def model(request: ModelRequest) -> ScriptItem:
        text = request.messages[-1].content
        calls.append(text)
        if text != "fast":
            await release.wait()  # the slow rows never finish before the cancel
        return "ok"

    agent = create_deep_agent(model=FunctionModel(model), checkpointer=InMemoryCheckpointer())
    texts = ["fast", "slow 1", "slow 2"]
    task = asyncio.ensure_future(agent.amap(texts, batch_id="c", progress=False))
    while "slow 2" not in calls:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    calls.clear()
    release.set()
    again = await agent.amap(texts, batch_id="c", progress=False)

    assert again.status.tolist() == ["done"] * 3
    assert calls == ["slow 1", "slow 2"]  # the finished row was not asked again
