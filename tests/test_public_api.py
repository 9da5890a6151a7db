"""The curated public API: exports, import cost, and the builder's keyword twins."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import deepagents_nb
from deepagents_nb.builder import KEYWORD_TWINS, ConfigurableAgentBuilder, create_deep_agent


def test_all_is_sorted_and_every_name_exists() -> None:
    assert deepagents_nb.__all__ == sorted(deepagents_nb.__all__)
    for name in deepagents_nb.__all__:
        assert hasattr(deepagents_nb, name), name


def test_public_names_are_not_private_modules_leaking() -> None:
    public = {n for n in dir(deepagents_nb) if not n.startswith("_")}
    modules = {n for n in public if inspect.ismodule(getattr(deepagents_nb, n))}
    # Submodules appear as attributes once imported; everything else must be curated.
    assert public - modules - {"annotations"} == set(deepagents_nb.__all__)


def test_import_loads_no_vendor_sdk_or_notebook_stack() -> None:
    heavy = ["anthropic", "openai", "google.genai", "pandas", "plotly", "ipywidgets", "IPython"]
    code = (
        "import sys, json, deepagents_nb; "
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_every_builder_method_has_a_keyword_twin() -> None:
    keywords = set(inspect.signature(create_deep_agent).parameters)
    methods = {m for m in dir(ConfigurableAgentBuilder) if m.startswith("with_")}
    assert methods == set(KEYWORD_TWINS)
    missing = {m: KEYWORD_TWINS[m] for m in methods if KEYWORD_TWINS[m] not in keywords}
    assert missing == {}


def test_both_spellings_build_the_same_configuration() -> None:
    from helpers import Recorder

    from deepagents_nb import InMemoryCheckpointer, tool
    from deepagents_nb.models.testing import ScriptedModel

    @tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    model, checkpointer, recorder = ScriptedModel([]), InMemoryCheckpointer(), Recorder()
    built = (
        ConfigurableAgentBuilder("Be brief.")
        .with_name("bot")
        .with_model(model)
        .with_tools([ping])
        .with_checkpointer(checkpointer)
        .with_event_broadcaster(recorder)
        .with_broadcast_timeout(0.25)
        .with_pii_sanitization(False)
        .with_max_turns(7)
        .with_max_tokens(256)
        .with_temperature(0.2)
        .build()
    )
    created = create_deep_agent(
        model=model,
        instructions="Be brief.",
        tools=[ping],
        name="bot",
        checkpointer=checkpointer,
        event_broadcasters=[recorder],
        broadcast_timeout=0.25,
        pii_sanitization=False,
        max_turns=7,
        max_tokens=256,
        temperature=0.2,
    )
    for agent in (built, created):
        assert agent.name == "bot"
        assert agent.system_prompt.startswith("Be brief.\n\n")
        assert next(iter(agent.tools)) == "ping"
        assert agent.checkpointer is checkpointer
        assert agent.dispatcher.broadcasters == (recorder,)
        assert agent.dispatcher.flush_timeout == 0.25
        config = agent.config
        assert (config.pii_sanitization, config.max_turns) == (False, 7)
        assert (config.max_tokens, config.temperature) == (256, 0.2)


def test_what_the_readme_configures_models_with_is_public() -> None:
    # README: `retry_policy=RetryPolicy(...)` from `deepagents_nb.models`.
    from deepagents_nb import models
    from deepagents_nb.models.openai import OpenAIChatModel

    policy = models.RetryPolicy(max_retries=5)
    model = OpenAIChatModel("gpt-4o-mini", api_key="sk-test", retry_policy=policy)
    assert model.retry_policy is policy
    assert models.__all__ == sorted(models.__all__) and "RetryPolicy" in models.__all__
