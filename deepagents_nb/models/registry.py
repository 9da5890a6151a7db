"""Models from configuration: "provider:model" strings, dicts and `ModelConfig`.

    >>> config = ModelConfig(provider="anthropic", model="claude-sonnet-4-6", max_tokens=64000)
    >>> parse_model_string("ollama:llama3.2").base_url
    'http://localhost:11434/v1'

`resolve_model` turns any of these (or a ready `ChatModel`) into a model;
the vendor SDK is imported only then. A key in a config is kept as a secret:
it is never shown in a repr and never serialized.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.models.base import ChatModel

DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-6"
"""The model `get_default_model()` returns (Claude Sonnet, as in the Rust SDK)."""

VENDORS = ("openai", "anthropic", "gemini")
PROVIDER_ALIASES = {"google": "gemini", "claude": "anthropic"}
LOCAL_SERVERS = {
    "ollama": "http://localhost:11434/v1",
    "lmstudio": "http://localhost:1234/v1",
    "vllm": "http://localhost:8000/v1",
    "llamacpp": "http://localhost:8080/v1",
}
"""OpenAI-compatible servers and their usual local address (override with base_url)."""

# A bare model name's provider, guessed from how vendors name their models.
_PREFIXES = (
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
)


class ModelConfig(BaseModel):
    """A model as data: the seed's planned dict-based model configuration.

    `provider` is "openai", "anthropic", "gemini", or an OpenAI-compatible
    local server ("ollama", "lmstudio", "vllm", "llamacpp"). Unset fields
    take the adapter's defaults; `api_key` defaults to the provider's
    environment variable. `options` go to the vendor SDK's client.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0)
    base_url: str | None = None
    api_key: SecretStr | None = Field(default=None, repr=False, exclude=True)
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int = Field(default=2, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split_provider(cls, data: Any) -> Any:
        """Accept {"model": "anthropic:claude-..."} and bare known model names."""
        if isinstance(data, Mapping) and not data.get("provider") and data.get("model"):
            provider, model = _split(str(data["model"]))
            data = {**data, "provider": provider, "model": model}
        if isinstance(data, Mapping) and isinstance(data.get("provider"), str):
            name = data["provider"].strip().lower()
            name = PROVIDER_ALIASES.get(name, name)
            data = {**data, "provider": name}
            if name in LOCAL_SERVERS and not data.get("base_url"):
                data["base_url"] = LOCAL_SERVERS[name]
        return data

    @model_validator(mode="after")
    def _known_provider(self) -> ModelConfig:
        if self.provider not in (*VENDORS, *LOCAL_SERVERS):
            raise ValueError(
                f"unknown provider {self.provider!r}; use one of "
                f"{', '.join((*VENDORS, *LOCAL_SERVERS))}"
            )
        return self

    def create(self) -> ChatModel:
        """Make the adapter this configuration describes."""
        options: dict[str, Any] = {
            "api_key": self.api_key.get_secret_value() if self.api_key else None,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "max_retries": self.max_retries,
            "client_options": self.options or None,
        }
        if self.timeout is not None:
            options["timeout"] = self.timeout
        if self.provider == "anthropic":
            from deepagents_nb.models.anthropic import AnthropicModel

            return AnthropicModel(self.model, base_url=self.base_url, **options)
        if self.provider == "gemini":
            from deepagents_nb.models.gemini import GeminiModel

            return GeminiModel(self.model, base_url=self.base_url, **options)
        from deepagents_nb.models.openai import OpenAIChatModel

        return OpenAIChatModel(
            self.model, base_url=self.base_url, provider=self.provider, **options
        )


ModelSpec: TypeAlias = "ChatModel | str | Mapping[str, Any] | ModelConfig"
"""Anything `resolve_model` (and `with_model`, `model=`) accepts."""


def _split(spec: str) -> tuple[str, str]:
    """ "provider:model" -> (provider, model); a bare name's provider is guessed."""
    provider, sep, model = spec.partition(":")
    known = (*VENDORS, *LOCAL_SERVERS, *PROVIDER_ALIASES)
    if sep and provider.strip().lower() in known:
        return provider.strip().lower(), model.strip()
    name = spec.strip()
    for prefix, vendor in _PREFIXES:
        if name.lower().startswith(prefix):
            return vendor, name
    raise ConfigurationError(
        f"{spec!r} is not a ChatModel or a model name with a known provider: write it "
        f"as 'provider:model', e.g. 'anthropic:{DEFAULT_ANTHROPIC_MODEL}', "
        f"'openai:gpt-4o-mini', 'gemini:gemini-2.5-flash' or 'ollama:llama3.2'"
    )


def parse_model_string(spec: str, **fields: Any) -> ModelConfig:
    """A `ModelConfig` from "provider:model" (or a bare, recognisable model name)."""
    provider, model = _split(spec)
    return _validated({**fields, "provider": provider, "model": model})


def _validated(data: Mapping[str, Any]) -> ModelConfig:
    try:
        return ModelConfig.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"invalid model configuration: {problems}") from None


def resolve_model(spec: ModelSpec) -> ChatModel:
    """Any way of naming a model -> a `ChatModel`.

    Accepts a ready model, "provider:model", a dict of `ModelConfig` fields,
    or a `ModelConfig`.
    """
    if isinstance(spec, ModelConfig):
        return spec.create()
    if isinstance(spec, str):
        return parse_model_string(spec).create()
    if isinstance(spec, Mapping):
        return _validated(spec).create()
    if isinstance(spec, ChatModel):
        return spec
    raise ConfigurationError(
        f"{spec!r} is not a model: pass a ChatModel, a 'provider:model' string, "
        f"a dict of model settings or a ModelConfig"
    )


def get_default_model(**fields: Any) -> ChatModel:
    """Claude Sonnet through the Anthropic API (needs `ANTHROPIC_API_KEY`).

    Keyword arguments are `ModelConfig` fields, e.g. `max_tokens=64000`.
    Raises `MissingAPIKeyError` naming the variable when no key is set.
    """
    fields.setdefault("model", DEFAULT_ANTHROPIC_MODEL)
    return _validated({**fields, "provider": "anthropic"}).create()
