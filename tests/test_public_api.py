"""The curated public API: exports, import cost, and the builder's keyword twins."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

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


# ----- every public method says what it does ---------------------------------------------

_TWIN_ONLY = re.compile(r"^(sync|async) twin of `?[\w.]+`?\.?$", re.IGNORECASE)


def docstring_problem(doc: str | None) -> str | None:
    """Why `doc` does not document its object, or None when it does."""
    if not doc or not doc.strip():
        return "no docstring"
    first = " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
    if _TWIN_ONLY.match(first):
        return f"only {first!r}: say what it does and returns"
    if len(first.split()) < 4:
        return f"too short to say anything: {first!r}"
    return None


def public_functions(cls: type) -> dict[str, Callable[..., Any]]:
    """The public methods and properties a class defines itself, by name."""
    found: dict[str, Callable[..., Any]] = {}
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, classmethod | staticmethod):
            value = value.__func__
        if isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value):
            found[name] = value
    return found


def test_the_docstring_check_catches_missing_short_and_twin_only_docstrings() -> None:
    class Undocumented:
        async def aget(self) -> int:
            """Get the number from wherever it lives."""
            return 1

        def get(self) -> int:
            """Sync twin of `aget`."""
            return 1

        def put(self) -> None:
            """Put."""

        def drop(self) -> None:
            pass

        def _private(self) -> None:
            pass

    problems = {
        name: docstring_problem(fn.__doc__) for name, fn in public_functions(Undocumented).items()
    }
    assert problems == {
        "aget": None,
        "get": "only 'Sync twin of `aget`.': say what it does and returns",
        "put": "too short to say anything: 'Put.'",
        "drop": "no docstring",
    }


def test_every_public_method_of_the_agent_and_its_builder_is_documented() -> None:
    from deepagents_nb.agent import AgentRun, SyncAgentRun

    classes = [
        deepagents_nb.DeepAgent,
        AgentRun,
        SyncAgentRun,
        deepagents_nb.AgentResult,
        ConfigurableAgentBuilder,
        deepagents_nb.EventDispatcher,
        deepagents_nb.EventBroadcaster,
        deepagents_nb.Tool,
        deepagents_nb.HitlAction,
        deepagents_nb.AgentStateSnapshot,
        deepagents_nb.StateUpdate,
    ]
    functions = [create_deep_agent, deepagents_nb.tool]
    problems = {
        f"{cls.__name__}.{name}": problem
        for cls in classes
        for name, fn in {"": cls, **public_functions(cls)}.items()
        if (problem := docstring_problem(fn.__doc__))
    }
    problems |= {
        fn.__name__: problem for fn in functions if (problem := docstring_problem(fn.__doc__))
    }
    assert problems == {}
    # The seed's names in particular, which users look up first.
    assert "new version number" in (deepagents_nb.DeepAgent.save_state.__doc__ or "")
    assert "Checkpoint" in (deepagents_nb.DeepAgent.load_state.__doc__ or "")
