"""Models by name, dict or `ModelConfig`; the default model; the builder's model methods."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TEST_KEY
from fake_vendor import FakeVendor, Reply

from deepagents_nb import ConfigurableAgentBuilder, create_deep_agent
from deepagents_nb.builder import KEYWORD_TWINS
from deepagents_nb.exceptions import ConfigurationError, MissingAPIKeyError
from deepagents_nb.models.anthropic import AnthropicModel
from deepagents_nb.models.gemini import GeminiModel
from deepagents_nb.models.openai import OpenAIChatModel
from deepagents_nb.models.registry import (
    DEFAULT_ANTHROPIC_MODEL,
    ModelConfig,
    get_default_model,
    parse_model_string,
    resolve_model,
)
from deepagents_nb.models.testing import ScriptedModel


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(name, TEST_KEY)
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("spec", "cls", "provider", "model"),
    [
        ("anthropic:claude-sonnet-4-6", AnthropicModel, "anthropic", "claude-sonnet-4-6"),
        ("openai:gpt-4o-mini", OpenAIChatModel, "openai", "gpt-4o-mini"),
        ("gemini:gemini-2.5-flash", GeminiModel, "gemini", "gemini-2.5-flash"),
        ("google:gemini-2.5-pro", GeminiModel, "gemini", "gemini-2.5-pro"),
        ("ollama:llama3.2:3b", OpenAIChatModel, "ollama", "llama3.2:3b"),
        ("claude-haiku-4-5", AnthropicModel, "anthropic", "claude-haiku-4-5"),
        ("gpt-4o", OpenAIChatModel, "openai", "gpt-4o"),
        ("o3-mini", OpenAIChatModel, "openai", "o3-mini"),
        ("gemini-2.5-flash", GeminiModel, "gemini", "gemini-2.5-flash"),
    ],
)
def test_model_strings(spec: str, cls: type, provider: str, model: str) -> None:
    resolved = resolve_model(spec)

    assert isinstance(resolved, cls)
    assert (resolved.provider, resolved.model_name) == (provider, model)


def test_local_servers_get_their_usual_address() -> None:
    assert parse_model_string("ollama:llama3.2").base_url == "http://localhost:11434/v1"
    assert parse_model_string("lmstudio:qwen").base_url == "http://localhost:1234/v1"
    assert parse_model_string("vllm:m", base_url="http://gpu:9000/v1").base_url == (
        "http://gpu:9000/v1"
    )


@pytest.mark.parametrize("spec", ["mystery-model", "acme:foo", ""])
def test_unknown_model_strings_say_how_to_write_them(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="provider:model"):
        resolve_model(spec)


def test_dicts_as_in_the_seed() -> None:
    model = resolve_model(
        {
            "provider": "anthropic",
            "model": "claude-sonnet-4-6",
            "max_tokens": 64000,
            "temperature": 0.1,
            "api_key": "sk-ant-from-dict",
            "max_retries": 5,
        }
    )

    assert isinstance(model, AnthropicModel)
    assert (model.max_tokens, model.temperature) == (64000, 0.1)
    assert model.retry_policy.max_retries == 5
    assert "sk-ant-from-dict" not in repr(model)
    assert isinstance(resolve_model({"model": "openai:gpt-4o"}), OpenAIChatModel)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"provider": "anthropic", "model": "x", "max_tokenz": 5}, "max_tokenz"),
        ({"provider": "anthropic", "model": "x", "max_tokens": 0}, "max_tokens"),
        ({"provider": "acme", "model": "x"}, "unknown provider 'acme'"),
        ({"provider": "openai"}, "model"),
    ],
)
def test_bad_dicts_are_configuration_errors(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        resolve_model(data)


def test_model_config_keeps_its_key_secret() -> None:
    config = ModelConfig(provider="openai", model="gpt-4o-mini", api_key="sk-config-secret")

    assert "sk-config-secret" not in repr(config)
    assert "sk-config-secret" not in config.model_dump_json()
    assert "api_key" not in config.model_dump()
    with pytest.raises(ValueError):
        config.model = "other"  # type: ignore[misc]
    created = config.create()
    assert isinstance(created, OpenAIChatModel)
    assert created._api_key == "sk-config-secret"


def test_model_config_round_trips_as_data() -> None:
    config = ModelConfig(provider="gemini", model="gemini-2.5-flash", max_tokens=512)

    assert ModelConfig.model_validate_json(config.model_dump_json()) == config


def test_default_model_is_claude_sonnet() -> None:
    model = get_default_model()

    assert isinstance(model, AnthropicModel)
    assert model.model_name == DEFAULT_ANTHROPIC_MODEL and "sonnet" in DEFAULT_ANTHROPIC_MODEL
    assert get_default_model(max_tokens=64000).max_tokens == 64000  # type: ignore[attr-defined]


def test_default_model_without_a_key_says_which_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")

    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        get_default_model()


def test_builder_model_methods_are_twins_of_model() -> None:
    for method in ("with_model_config", "with_openai_chat", "with_anthropic", "with_gemini"):
        assert KEYWORD_TWINS[method] == "model"


@pytest.mark.parametrize(
    ("configure", "cls", "name"),
    [
        (lambda b: b.with_model("openai:gpt-4o-mini"), OpenAIChatModel, "gpt-4o-mini"),
        (
            lambda b: b.with_model_config({"provider": "gemini", "model": "gemini-2.5-pro"}),
            GeminiModel,
            "gemini-2.5-pro",
        ),
        (
            lambda b: b.with_model_config(ModelConfig(provider="anthropic", model="claude-x")),
            AnthropicModel,
            "claude-x",
        ),
        (lambda b: b.with_openai_chat("gpt-4o", max_tokens=99), OpenAIChatModel, "gpt-4o"),
        (lambda b: b.with_anthropic("claude-opus-4-6"), AnthropicModel, "claude-opus-4-6"),
        (lambda b: b.with_gemini("gemini-2.5-flash"), GeminiModel, "gemini-2.5-flash"),
    ],
)
def test_builder_model_methods(configure: Any, cls: type, name: str) -> None:
    agent = configure(ConfigurableAgentBuilder("Be brief.")).build()

    assert isinstance(agent.model, cls) and agent.model.model_name == name


def test_create_deep_agent_takes_any_model_spec() -> None:
    assert isinstance(create_deep_agent(model="claude-sonnet-4-6").model, AnthropicModel)
    assert isinstance(
        create_deep_agent(model={"provider": "ollama", "model": "llama3.2"}).model,
        OpenAIChatModel,
    )
    scripted = ScriptedModel(["hi"])
    assert create_deep_agent(model=scripted).model is scripted
    with pytest.raises(ConfigurationError, match="not a ChatModel"):
        create_deep_agent(model=42)  # type: ignore[arg-type]


async def test_a_configured_model_talks_to_its_server(vendor: FakeVendor) -> None:
    agent = create_deep_agent(
        model={
            "provider": "vllm",
            "model": "qwen3",
            "base_url": f"{vendor.url}/v1",
            "max_tokens": 77,
        },
        instructions="Be brief.",
    )
    vendor.script(Reply("Hello from vLLM."))

    result = await agent.ahandle_message("hi")
    await agent.model.aclose()  # type: ignore[attr-defined]

    assert result.text == "Hello from vLLM."
    assert vendor.requests[0].body["model"] == "qwen3"
    assert vendor.requests[0].body["max_tokens"] == 77
