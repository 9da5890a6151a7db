"""Keys, the test guard, and the shared retry and error-mapping helpers."""

from __future__ import annotations

import email.utils
import time

import pytest
from conftest import PROVIDERS, TEST_KEY, make_model
from fake_vendor import FakeVendor, Reply

from deepagents_nb.exceptions import (
    AuthenticationError,
    BadRequestError,
    MissingAPIKeyError,
    ModelTimeoutError,
    OverloadedError,
    RateLimitError,
    ServerError,
    VendorRequestBlockedError,
)
from deepagents_nb.messages import Message
from deepagents_nb.models._errors import error_class, make_error, parse_retry_after, scrub
from deepagents_nb.models._retry import RetryPolicy, call_with_retries, stream_with_retries
from deepagents_nb.models.base import ChatModel, ModelRequest

KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
BASE_URL_VARS = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*KEY_VARS, *BASE_URL_VARS):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def adapter(provider: str, **options: object) -> ChatModel:
    from deepagents_nb.models.anthropic import AnthropicModel
    from deepagents_nb.models.gemini import GeminiModel
    from deepagents_nb.models.openai import OpenAIChatModel

    classes = {"openai": OpenAIChatModel, "anthropic": AnthropicModel, "gemini": GeminiModel}
    return classes[provider]("some-model", **options)  # type: ignore[arg-type]


HELLO = ModelRequest(messages=[Message.user("hello")])


# ----- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
    ],
)
def test_missing_key_names_the_variable(
    provider: str, variable: str, clean_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MissingAPIKeyError) as caught:
        adapter(provider)

    assert (caught.value.provider, caught.value.env_var) == (provider, variable)
    assert variable in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
        ("gemini", "GOOGLE_API_KEY"),
    ],
)
async def test_key_from_the_environment_is_sent(
    provider: str, variable: str, clean_env: pytest.MonkeyPatch, vendor: FakeVendor
) -> None:
    clean_env.setenv(variable, TEST_KEY)
    model = make_model(provider, vendor, api_key=None)
    vendor.script(Reply("hi"))

    await model.complete(HELLO)
    await model.aclose()

    headers = vendor.requests[0].headers
    sent = headers.get("x-goog-api-key") or headers.get("x-api-key") or headers["authorization"]
    assert sent.removeprefix("Bearer ") == TEST_KEY


# ----- the guard ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("base_url", [None, "https://llm.example.com/v1"])
async def test_guard_refuses_real_endpoints_before_any_request(
    provider: str, base_url: str | None, clean_env: pytest.MonkeyPatch
) -> None:
    model = adapter(provider, api_key=TEST_KEY, base_url=base_url)

    with pytest.raises(VendorRequestBlockedError, match=provider):
        await model.complete(HELLO)
    with pytest.raises(VendorRequestBlockedError):
        async for _ in model.stream(HELLO):
            pass


async def test_guard_sees_base_urls_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ANTHROPIC_BASE_URL", "https://gateway.example.com")
    model = adapter("anthropic", api_key=TEST_KEY)

    with pytest.raises(VendorRequestBlockedError, match=r"gateway\.example\.com"):
        await model.complete(HELLO)


# ----- retries ------------------------------------------------------------------------------


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(max_retries=5, initial_delay=1.0, max_delay=5.0, jitter=0.1)

    delays = [policy.delay(n) for n in range(1, 6)]

    for delay, base in zip(delays, [1, 2, 4, 5, 5], strict=True):
        assert delay is not None and base * 0.9 <= delay <= base * 1.1
    assert policy.delay(6) is None


def test_retry_after_is_honoured_up_to_max_delay() -> None:
    policy = RetryPolicy(max_retries=2, max_delay=30.0)

    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=31.0) is None
    assert policy.delay(3, retry_after=1.0) is None


async def test_only_transient_errors_are_retried() -> None:
    policy = RetryPolicy(max_retries=3, initial_delay=0.0, jitter=0.0)
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OverloadedError("busy", provider="x")
        return "ok"

    async def refused() -> str:
        attempts.append(1)
        raise AuthenticationError("no", provider="x")

    assert await call_with_retries(flaky, policy) == "ok"
    assert len(attempts) == 3
    attempts.clear()
    with pytest.raises(AuthenticationError):
        await call_with_retries(refused, policy)
    assert len(attempts) == 1


async def test_a_stream_is_retried_only_before_its_first_item() -> None:
    policy = RetryPolicy(max_retries=3, initial_delay=0.0, jitter=0.0)
    opened: list[int] = []

    async def fails_at_once():  # type: ignore[no-untyped-def]
        opened.append(1)
        if len(opened) == 1:
            raise ServerError("boom")
        yield "a"

    async def fails_midway():  # type: ignore[no-untyped-def]
        opened.append(1)
        yield "a"
        raise ServerError("cut")

    assert [x async for x in stream_with_retries(fails_at_once, policy)] == ["a"]
    assert len(opened) == 2
    opened.clear()
    seen: list[str] = []
    with pytest.raises(ServerError):
        async for item in stream_with_retries(fails_midway, policy):
            seen.append(item)
    assert (seen, len(opened)) == (["a"], 1)


# ----- error mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (401, None, AuthenticationError),
        (403, None, AuthenticationError),
        (400, "API_KEY_INVALID", BadRequestError),
        (400, "UNAUTHENTICATED", AuthenticationError),
        (429, None, RateLimitError),
        (429, "insufficient_quota", RateLimitError),
        (503, "server_error", OverloadedError),
        (529, None, OverloadedError),
        (500, "overloaded_error", OverloadedError),
        (500, None, ServerError),
        (502, None, ServerError),
        (504, None, ModelTimeoutError),
        (408, None, ModelTimeoutError),
        (404, None, BadRequestError),
        (422, None, BadRequestError),
        (None, "overloaded_error", OverloadedError),
        (None, "rate_limit_error", RateLimitError),
        (None, "invalid_request_error", BadRequestError),
        (None, None, ServerError),
    ],
)
def test_error_classes(status: int | None, kind: str | None, expected: type) -> None:
    assert error_class(status, kind) is expected


def test_errors_never_carry_keys() -> None:
    secret = "my-very-secret-key-42"
    error = make_error(
        "openai",
        f"Incorrect API key provided: {secret}; "
        "also sk-proj-abc***wxyz and AIzaSyA1234567890abcdefghij",
        status=401,
        secret=secret,
    )

    text = str(error)
    assert secret not in text and "sk-proj" not in text and "AIza" not in text
    assert text.startswith("openai 401: Incorrect API key provided: [REDACTED]")
    assert scrub("nothing to hide") == "nothing to hide"


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 < (parse_retry_after({"retry-after": in_ten}) or 0) <= 10
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after(None) is None
