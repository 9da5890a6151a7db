"""Token tracking end to end: the ledger, DataFrames, events, logging, budgets."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pandas as pd
import pytest
from helpers import Recorder

from deepagents_nb import (
    AgentFailed,
    Budget,
    BudgetExceededError,
    ConfigurableAgentBuilder,
    ConfigurationError,
    DeepAgent,
    Message,
    ModelResponse,
    TokenCosts,
    TokenTrackingConfig,
    TokenUsage,
    ToolCall,
    UsageLedger,
    create_deep_agent,
    tool,
)
from deepagents_nb.costs import UnknownModelPriceWarning
from deepagents_nb.events import AGENT_EVENT_ADAPTER
from deepagents_nb.ledger import COLUMNS
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.tracking import TokenTracker
from deepagents_nb.usage import Usage

SONNET = ("anthropic", "claude-3-5-sonnet-20241022")
MINI = ("openai", "gpt-4o-mini")


def reply(
    content: str | ToolCall | list[ToolCall],
    usage: Usage,
    vendor: tuple[str, str],
    duration_ms: float = 0.0,
) -> ModelResponse:
    """A response as a provider adapter returns it: its vendor, model and usage."""
    if isinstance(content, str):
        message = Message.assistant(content)
    else:
        message = Message.assistant(tool_calls=content if isinstance(content, list) else [content])
    provider, model = vendor
    return ModelResponse(
        message=message, usage=usage, provider=provider, model=model, duration_ms=duration_ms
    )


def task(description: str, subagent_type: str) -> ToolCall:
    return ToolCall(name="task", args={"description": description, "subagent_type": subagent_type})


@tool(inline=True)
def step(n: int) -> str:
    """Do one step of the job."""
    return f"step {n} done"


def stepper(usages: list[Usage], vendor: tuple[str, str] = MINI) -> ScriptedModel:
    """A model that calls `step` once per usage but the last, then answers."""
    items = [reply(ToolCall(name="step", args={"n": i}), u, vendor) for i, u in enumerate(usages)]
    items[-1] = reply("finished", usages[-1], vendor)
    return ScriptedModel(items)


def tokens(n: int) -> Usage:
    return Usage(input_tokens=n - n // 10, output_tokens=n // 10)


def agent_with(model: ScriptedModel, **kwargs: Any) -> DeepAgent:
    kwargs.setdefault("token_tracking", True)
    return create_deep_agent(model=model, tools=[step], **kwargs)


# ----- the done-when scenario ---------------------------------------------------------------


def test_a_run_with_a_sub_agent_and_cached_prompts_adds_up_to_hand_computed_costs() -> None:
    parent = ScriptedModel(
        [
            # First turn writes the prompt cache, and delegates.
            reply(
                task("Find the answer", "researcher"),
                Usage(input_tokens=2_000, cache_write_tokens=1_500, output_tokens=100),
                SONNET,
                duration_ms=2_000,
            ),
            # Second turn reads it back.
            reply(
                "The answer is 42.",
                Usage(input_tokens=2_300, cache_read_tokens=1_500, output_tokens=50),
                SONNET,
                duration_ms=1_000,
            ),
        ]
    )
    researcher = ScriptedModel(
        [
            reply(
                "42",
                Usage(
                    input_tokens=1_000,
                    cache_read_tokens=512,
                    output_tokens=200,
                    reasoning_tokens=64,
                ),
                MINI,
                duration_ms=400,
            )
        ]
    )
    agent = create_deep_agent(
        model=parent,
        subagents=[SubAgentConfig("researcher", "Finds answers.", "Find it.", model=researcher)],
        token_tracking=True,
    )

    result = agent.handle_message("What is the answer?", thread_id="t1")

    # Claude 3.5 Sonnet: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million.
    first = (500 * 3 + 1_500 * 3.75 + 100 * 15) / 1e6  # 0.008625
    second = (800 * 3 + 1_500 * 0.30 + 50 * 15) / 1e6  # 0.0036
    # gpt-4o-mini: $0.15 in, $0.60 out (reasoning included), $0.075 cached input.
    sub = (488 * 0.15 + 512 * 0.075 + 200 * 0.60) / 1e6  # 0.0002316
    df = agent.usage.to_dataframe()
    assert list(df["agent"]) == ["agent", "researcher", "agent"]
    assert list(df["depth"]) == [0, 1, 0]
    assert list(df["provider"]) == ["anthropic", "openai", "anthropic"]
    assert list(df["cost_usd"]) == pytest.approx([first, sub, second])
    assert df["cost_usd"].sum() == pytest.approx(0.0124566)
    # The sub-agent's request belongs to the thread and run that delegated it.
    assert set(df["thread_id"]) == {"t1"} and set(df["run_id"]) == {result.run_id}
    assert df.groupby("agent")["cost_usd"].sum().to_dict() == pytest.approx(
        {"agent": first + second, "researcher": sub}
    )
    assert list(df["tokens_per_second"]) == pytest.approx([50.0, 500.0, 50.0])
    totals = agent.usage.total()
    assert totals.cost_usd == pytest.approx(0.0124566)
    assert (totals.requests, totals.unknown_cost_requests) == (3, 0)
    assert (totals.input_tokens, totals.output_tokens) == (5_300, 350)
    assert (totals.cache_read_tokens, totals.cache_write_tokens) == (2_012, 1_500)
    assert totals.reasoning_tokens == 64
    assert result.usage.requests == 3  # the run's own sum agrees


# ----- the DataFrame -------------------------------------------------------------------------


EXPECTED_COLUMNS = [
    "timestamp",
    "thread_id",
    "run_id",
    "agent",
    "depth",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "duration_ms",
    "tokens_per_second",
    "cost_usd",
    "price_source",
]


def check_schema(df: pd.DataFrame) -> None:
    assert list(df.columns) == EXPECTED_COLUMNS == list(COLUMNS)
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"
    for name in ["thread_id", "run_id", "agent", "provider", "model", "price_source"]:
        assert df[name].dtype == "string", name
    for name in ["depth", "input_tokens", "output_tokens", "cache_read_tokens"]:
        assert df[name].dtype == "int64", name
    for name in ["cache_write_tokens", "reasoning_tokens", "total_tokens"]:
        assert df[name].dtype == "int64", name
    for name in ["duration_ms", "tokens_per_second", "cost_usd"]:
        assert df[name].dtype == "float64", name


def test_dataframe_columns_and_dtypes_are_stable_empty_or_not() -> None:
    check_schema(UsageLedger().to_dataframe())
    agent = agent_with(stepper([tokens(100), tokens(100)]))
    agent.handle_message("go")
    df = agent.usage.to_dataframe()
    check_schema(df)
    assert len(df) == 2 and (df["timestamp"].diff().dropna() >= pd.Timedelta(0)).all()


def test_unknown_costs_are_nan_and_counted_apart() -> None:
    model = ScriptedModel(
        [
            reply(ToolCall(name="step", args={"n": 1}), tokens(1_000), ("acme", "toy")),
            reply("done", Usage(input_tokens=1_000_000), MINI),
        ]
    )
    agent = agent_with(model)
    with pytest.warns(UnknownModelPriceWarning):
        agent.handle_message("go")
    df = agent.usage.to_dataframe()
    assert df["cost_usd"].isna().tolist() == [True, False]
    assert df["price_source"].isna().tolist() == [True, False]
    assert df["price_source"].iloc[1] == "preset"
    totals = agent.usage.total()
    assert totals.cost_usd == pytest.approx(0.15)  # a lower bound: one request is unpriced
    assert totals.unknown_cost_requests == 1
    assert agent.usage.total(agent="nobody").cost_usd == 0.0  # no requests: nothing spent


def test_totals_are_none_when_no_request_has_a_price() -> None:
    agent = agent_with(ScriptedModel(["hello"], provider="acme", model_name="toy"))
    with pytest.warns(UnknownModelPriceWarning):
        agent.handle_message("hi")
    totals = agent.usage.total()
    assert totals.cost_usd is None and totals.unknown_cost_requests == 1
    assert "cost unknown" in repr(agent.usage)


def test_group_bys_by_thread_model_and_agent() -> None:
    # Each scripted response names its own vendor, as a sub-agent on another model would.
    model = ScriptedModel(
        [
            reply(ToolCall(name="step", args={"n": 1}), tokens(1_000), MINI),
            reply(ToolCall(name="step", args={"n": 2}), tokens(2_000), MINI),
            reply("done", tokens(3_000), MINI),
            reply("ok", Usage(input_tokens=500, output_tokens=50), SONNET),
        ]
    )
    agent = agent_with(model)
    agent.handle_message("go", thread_id="a")
    agent.handle_message("go", thread_id="b")
    df = agent.usage.to_dataframe()
    assert df.groupby("thread_id")["total_tokens"].sum().to_dict() == {"a": 6_000, "b": 550}
    by_model = agent.usage.by("model")
    assert by_model["requests"].to_dict() == {"claude-3-5-sonnet-20241022": 1, "gpt-4o-mini": 3}
    by_thread_model = agent.usage.by("thread_id", "model")
    assert list(by_thread_model.index) == [
        ("a", "gpt-4o-mini"),
        ("b", "claude-3-5-sonnet-20241022"),
    ]
    assert agent.usage.total(thread_id="b").total_tokens == 550
    with pytest.raises(ConfigurationError, match="group by"):
        agent.usage.by("colour")


def test_by_keeps_unknown_group_costs_unknown() -> None:
    agent = agent_with(ScriptedModel(["hi"], provider="acme", model_name="toy"))
    with pytest.warns(UnknownModelPriceWarning):
        agent.handle_message("hi")
    assert pd.isna(agent.usage.by("agent")["cost_usd"].iloc[0])


def test_clear_empties_the_ledger() -> None:
    agent = agent_with(stepper([tokens(100), tokens(100)]))
    agent.handle_message("go")
    assert len(agent.usage) == 2
    agent.usage.clear()
    assert len(agent.usage) == 0 and agent.usage.total().requests == 0


def test_usage_of_an_agent_without_tracking_is_an_empty_ledger_that_says_so() -> None:
    agent = create_deep_agent(model=ScriptedModel(["hi"]), token_tracking=False)
    agent.handle_message("hi")
    assert len(agent.usage) == 0
    assert "token tracking is off" in repr(agent.usage)
    check_schema(agent.usage.to_dataframe())


def test_concurrent_sub_agents_are_all_recorded() -> None:
    parent = ScriptedModel(
        [
            reply([task("a", "worker"), task("b", "worker")], tokens(1_000), SONNET),
            reply("both done", tokens(1_000), SONNET),
        ]
    )
    worker = ScriptedModel([reply("done", tokens(100), MINI), reply("done", tokens(100), MINI)])
    agent = create_deep_agent(
        model=parent,
        subagents=[SubAgentConfig("worker", "Works.", "Work.", model=worker)],
        token_tracking=True,
    )
    result = agent.handle_message("go", thread_id="t")
    df = agent.usage.to_dataframe()
    assert df["agent"].value_counts().to_dict() == {"agent": 2, "worker": 2}
    assert set(df["run_id"]) == {result.run_id}


def test_streaming_runs_are_recorded_too() -> None:
    agent = agent_with(stepper([tokens(100), tokens(200)]))
    list(agent.stream("go"))
    assert agent.usage.total().total_tokens == 300


# ----- provider usage ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "usage", "expected"),
    [
        # Anthropic, normalized by its adapter: input counts cache reads and writes.
        (
            ("anthropic", "claude-sonnet-4-5-20250929"),
            Usage(input_tokens=12_000, cache_read_tokens=8_000, cache_write_tokens=3_000,
                  output_tokens=700, reasoning_tokens=300),
            (1_000 * 3 + 8_000 * 0.3 + 3_000 * 3.75 + 700 * 15) / 1e6,
        ),
        # OpenAI: prompt tokens include cached ones, completion tokens include reasoning.
        (
            ("openai", "gpt-4o-2024-08-06"),
            Usage(input_tokens=5_000, cache_read_tokens=4_096, output_tokens=300),
            (904 * 2.5 + 4_096 * 1.25 + 300 * 10) / 1e6,
        ),
        # Gemini: thoughts added to the output by the adapter; "models/" names accepted.
        (
            ("gemini", "models/gemini-2.5-flash"),
            Usage(input_tokens=3_000, cache_read_tokens=2_000, output_tokens=900,
                  reasoning_tokens=600),
            (1_000 * 0.3 + 2_000 * 0.03 + 900 * 2.5) / 1e6,
        ),
    ],
)  # fmt: skip
def test_usage_as_each_provider_reports_it_is_priced(
    vendor: tuple[str, str], usage: Usage, expected: float
) -> None:
    agent = agent_with(ScriptedModel([reply("ok", usage, vendor)]))
    agent.handle_message("hi")
    (record,) = agent.usage.records
    assert (record.provider, record.model) == vendor
    assert record.cost_usd == pytest.approx(expected)
    assert record.reasoning_tokens == usage.reasoning_tokens


# ----- configuration, events, logging --------------------------------------------------------


def test_both_spellings_configure_tracking_and_budgets() -> None:
    config = TokenTrackingConfig(log_usage=False, custom_costs=TokenCosts.openai_gpt4o_mini())
    budget = Budget(max_tokens_per_run=10_000)
    built = (
        ConfigurableAgentBuilder()
        .with_model(ScriptedModel([]))
        .with_token_tracking_config(config)
        .with_budget(budget)
        .build()
    )
    created = create_deep_agent(model=ScriptedModel([]), token_tracking=config, budget=budget)
    for agent in (built, created):
        tracker = agent.config.token_tracking
        assert isinstance(tracker, TokenTracker)
        assert (tracker.config, tracker.budget) == (config, budget)
    on = ConfigurableAgentBuilder().with_model(ScriptedModel([])).with_token_tracking().build()
    assert isinstance(on.config.token_tracking, TokenTracker)
    off = create_deep_agent(model=ScriptedModel([]), token_tracking=False)
    assert off.config.token_tracking is None
    # On by default, so `agent.usage` and the notebook's cost panel work unconfigured.
    assert isinstance(
        create_deep_agent(model=ScriptedModel([])).config.token_tracking, TokenTracker
    )
    # Each agent keeps its own ledger.
    assert built.usage is not created.usage


def test_a_budget_alone_turns_tracking_on_but_not_against_an_explicit_off() -> None:
    agent = create_deep_agent(model=ScriptedModel([]), budget=Budget(max_tokens_per_run=5))
    assert isinstance(agent.config.token_tracking, TokenTracker)
    with pytest.raises(ConfigurationError, match="budget needs token tracking"):
        create_deep_agent(
            model=ScriptedModel([]), token_tracking=False, budget=Budget(max_tokens_per_run=5)
        )
    with pytest.raises(ConfigurationError, match="TokenTrackingConfig"):
        ConfigurableAgentBuilder().with_token_tracking_config(True)  # type: ignore[arg-type]


def test_token_usage_events_carry_the_cost_and_survive_json() -> None:
    recorder = Recorder()
    agent = agent_with(
        ScriptedModel([reply("ok", Usage(input_tokens=1_000_000), MINI)]),
        event_broadcasters=[recorder],
    )
    agent.handle_message("my email is jane@example.com")
    (event,) = recorder.of(TokenUsage)
    assert isinstance(event, TokenUsage)
    assert event.estimated_cost == pytest.approx(0.15)
    assert (event.provider, event.model, event.agent_name) == ("openai", "gpt-4o-mini", "agent")
    again = AGENT_EVENT_ADAPTER.validate_json(event.model_dump_json())
    assert again == event
    assert "jane@example.com" not in "".join(e.model_dump_json() for e in recorder.events)


def test_emit_events_false_keeps_recording_but_sends_no_token_usage_events() -> None:
    recorder = Recorder()
    agent = agent_with(
        stepper([tokens(100), tokens(100)]),
        token_tracking=TokenTrackingConfig(emit_events=False),
        event_broadcasters=[recorder],
    )
    agent.handle_message("go")
    assert recorder.of(TokenUsage) == []
    assert "AgentCompleted" in recorder.types()
    assert len(agent.usage) == 2


def test_log_usage_writes_one_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_with(stepper([tokens(1_000), tokens(2_000)]))
    with caplog.at_level(logging.INFO, logger="deepagents_nb.usage"):
        agent.handle_message("go", thread_id="t9")
    lines = [r.getMessage() for r in caplog.records if r.name == "deepagents_nb.usage"]
    assert len(lines) == 2
    assert "agent via openai/gpt-4o-mini on thread t9: 900 in" in lines[0]
    assert "$" in lines[0]


def test_log_usage_false_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_with(
        stepper([tokens(100), tokens(100)]), token_tracking=TokenTrackingConfig(log_usage=False)
    )
    with caplog.at_level(logging.INFO, logger="deepagents_nb.usage"):
        agent.handle_message("go")
    assert [r for r in caplog.records if r.name == "deepagents_nb.usage"] == []


def test_an_unknown_model_warns_once_per_tracker() -> None:
    def fresh() -> DeepAgent:
        return agent_with(
            ScriptedModel(
                [ToolCall(name="step", args={"n": 1}), "a", "b"], provider="acme", model_name="toy"
            )
        )

    agent = fresh()
    with pytest.warns(UnknownModelPriceWarning) as caught:
        agent.handle_message("one")
        agent.handle_message("two")
    assert len([w for w in caught if w.category is UnknownModelPriceWarning]) == 1
    with pytest.warns(UnknownModelPriceWarning):
        fresh().handle_message("one")  # another agent, its own warning


def test_custom_costs_price_test_doubles_without_warnings() -> None:
    config = TokenTrackingConfig(
        custom_costs=[TokenCosts(provider="scripted", input_per_million=1, output_per_million=1)]
    )
    agent = agent_with(ScriptedModel([reply("x", tokens(1_000), ("scripted", "toy"))]),
                       token_tracking=config)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        agent.handle_message("hi")
    assert agent.usage.records[0].cost_usd == pytest.approx(0.001)
    assert agent.usage.records[0].price_source == "custom"


# ----- budgets -------------------------------------------------------------------------------


def test_a_run_stops_at_its_token_budget_and_keeps_its_completed_steps() -> None:
    recorder = Recorder()
    agent = agent_with(
        stepper([tokens(1_000)] * 4),
        budget=Budget(max_tokens_per_run=1_500),
        event_broadcasters=[recorder],
    )
    with pytest.raises(BudgetExceededError) as raised:
        agent.handle_message("go", thread_id="t")
    message = str(raised.value)
    assert "this run has used 2,000 tokens; max_tokens_per_run is 1,500 tokens" in message
    assert "Budget(max_tokens_per_run=...)" in message
    state = agent.get_state("t")
    assert [m.role for m in state.messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert state.messages[-1].content == "step 1 done"
    assert len(agent.usage) == 2
    (failed,) = recorder.of(AgentFailed)
    assert failed.error_type == "BudgetExceededError"  # type: ignore[attr-defined]


def test_a_per_run_budget_resets_for_the_next_run() -> None:
    agent = agent_with(
        ScriptedModel([reply("a", tokens(1_000), MINI), reply("b", tokens(1_000), MINI)]),
        budget=Budget(max_tokens_per_run=1_500),
    )
    agent.handle_message("one", thread_id="t")
    assert agent.handle_message("two", thread_id="t").text == "b"


def test_a_thread_budget_counts_every_run_on_the_thread() -> None:
    # Each answer costs 1M input tokens of gpt-4o-mini: $0.15.
    big = Usage(input_tokens=1_000_000)
    agent = agent_with(
        ScriptedModel([reply("a", big, MINI), reply("b", big, MINI), reply("c", big, MINI)]),
        budget=Budget(max_cost_per_thread=0.25),
    )
    agent.handle_message("one", thread_id="t")
    agent.handle_message("two", thread_id="t")  # starts at $0.15, under the limit
    with pytest.raises(BudgetExceededError) as raised:
        agent.handle_message("three", thread_id="t")
    assert "this thread has used $0.300000; max_cost_per_thread is $0.250000" in str(raised.value)
    assert [m.content for m in agent.get_state("t").messages] == ["one", "a", "two", "b"]
    # Other threads have their own allowance.
    assert agent.handle_message("one", thread_id="other").text == "c"


def test_raising_the_budget_lets_the_thread_continue() -> None:
    agent = agent_with(
        ScriptedModel([reply("a", tokens(1_000), MINI), reply("b", tokens(1_000), MINI)]),
        budget=Budget(max_tokens_per_thread=1_000),
    )
    agent.handle_message("one", thread_id="t")
    with pytest.raises(BudgetExceededError):
        agent.handle_message("two", thread_id="t")
    tracker = agent.config.token_tracking
    assert isinstance(tracker, TokenTracker)
    tracker.budget = Budget(max_tokens_per_thread=5_000)
    assert agent.handle_message("two", thread_id="t").text == "b"


def test_a_sub_agents_usage_counts_toward_its_parents_run() -> None:
    parent = ScriptedModel(
        [
            reply(task("dig", "digger"), tokens(1_000), SONNET),
            reply("never reached", tokens(1_000), SONNET),
        ]
    )
    digger = ScriptedModel([reply("dug", tokens(1_000), MINI)])
    agent = create_deep_agent(
        model=parent,
        subagents=[SubAgentConfig("digger", "Digs.", "Dig.", model=digger)],
        budget=Budget(max_tokens_per_run=1_500),
    )
    with pytest.raises(BudgetExceededError, match="this run has used 2,000 tokens"):
        agent.handle_message("go", thread_id="t")
    assert agent.get_state("t").messages[-1].content == "dug"  # the delegation step is saved


def test_a_budget_reached_inside_a_sub_agent_stops_it_and_then_the_parent() -> None:
    parent = ScriptedModel([reply(task("dig", "digger"), tokens(1_000), SONNET)])
    digger = stepper([tokens(1_000), tokens(1_000)])
    agent = create_deep_agent(
        model=parent,
        tools=[step],
        subagents=[SubAgentConfig("digger", "Digs.", "Dig.", model=digger)],
        budget=Budget(max_tokens_per_run=1_500),
    )
    with pytest.raises(BudgetExceededError):
        agent.handle_message("go", thread_id="t")
    last = agent.get_state("t").messages[-1]
    assert last.role == "tool" and "Budget exceeded" in last.content
    assert list(agent.usage.to_dataframe()["agent"]) == ["agent", "digger"]


def test_cost_limits_ignore_requests_without_a_price() -> None:
    agent = agent_with(stepper([tokens(1_000)] * 3, ("acme", "toy")),
                       budget=Budget(max_cost_per_run=0.000001))  # fmt: skip
    with pytest.warns(UnknownModelPriceWarning, match="cost budgets cannot count them"):
        assert agent.handle_message("go").text == "finished"


@pytest.mark.parametrize("bad", [0, -1, -0.5])
def test_budget_limits_must_be_positive(bad: float) -> None:
    with pytest.raises(ConfigurationError, match="must be positive"):
        Budget(max_cost_per_run=bad)
