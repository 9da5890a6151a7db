"""Tests for deepagents_nb.security: PII redaction and secret sanitization."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deepagents_nb.security import (
    MAX_PREVIEW_LENGTH,
    REDACTED,
    SENSITIVE_FIELDS,
    is_sensitive_field,
    preview,
    redact_pii,
    safe_preview,
    sanitize_json,
    sanitize_tool_payload,
    truncate,
)

# ----- the Rust SDK README's examples, exactly --------------------------------------------


def test_readme_email_and_phone() -> None:
    assert (
        redact_pii("Contact me at john@example.com or call 555-123-4567")
        == "Contact me at [EMAIL] or call [PHONE]"
    )


def test_readme_card() -> None:
    # Cards are checked with the Luhn digit: the seed's README example 4532-1234-5678-9010
    # fails it, so a real-shaped number stands in.
    assert redact_pii("Card: 4532-0151-1283-0366") == "Card: [CARD]"
    assert redact_pii("4532-0151-1283-0366") == "[CARD]"
    assert redact_pii("order 4532-1234-5678-9010") == "order 4532-1234-5678-9010"


def test_readme_sanitize_json() -> None:
    assert sanitize_json(
        {"username": "john", "password": "secret123", "api_key": "sk-1234567890"}
    ) == {
        "username": "john",
        "password": "[REDACTED]",
        "api_key": "[REDACTED]",
    }


def test_constants() -> None:
    assert MAX_PREVIEW_LENGTH == 100
    assert REDACTED == "[REDACTED]"
    # The seed's names, and the wider list an adversarial probe found missing.
    seed = {"password", "passwd", "pwd", "secret", "token", "api_key", "apikey"}
    seed |= {"access_token", "refresh_token", "auth_token", "authorization", "bearer"}
    seed |= {"credit_card", "card_number", "cvv", "ssn", "social_security", "private_key"}
    seed |= {"privatekey", "encryption_key"}
    wider = {"pass", "passphrase", "access_key", "jwt", "cookie", "session_id", "ssh_key"}
    wider |= {"signing_key", "master_key", "cc_number", "cvc", "pin", "otp", "mfa_code"}
    wider |= {"credentials", "auth"}
    assert seed | wider <= set(SENSITIVE_FIELDS)


# ----- sensitive field names --------------------------------------------------------------


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


@pytest.mark.parametrize("name", SENSITIVE_FIELDS)
def test_every_sensitive_field_is_detected_in_any_style(name: str) -> None:
    variants = {
        name,
        name.upper(),
        name.title(),
        _camel(name),
        name.replace("_", "-"),
        name.replace("_", "-").upper(),
        f"user_{name}",
        f"{name}_value",
        f"X-{name.replace('_', '-').title()}",
    }
    for variant in variants:
        assert is_sensitive_field(variant), variant


@pytest.mark.parametrize(
    "key",
    [
        "apiKey",
        "ApiKey",
        "APIKey",
        "X-Api-Key",
        "x-api-key",
        "GITHUB_TOKEN",
        "github_token",
        "accessToken",
        "refreshToken",
        "Authorization",
        "clientSecret",
        "privateKey",
        "creditCardNumber",
        "cardNumber",
        "userPassword",
        "DB_PASSWD",
        "JWTToken",
        "APISecret",
        "AWSSecretAccessKey",
        "aws.secret.access.key",
        "Bearer",
        "SSN",
        "encryptionKey",
        # plurals
        "passwords",
        "api_keys",
        "apiKeys",
        "access_tokens",
        "refreshTokens",
        "clientSecrets",
        "ssns",
    ],
)
def test_sensitive_names(key: str) -> None:
    assert is_sensitive_field(key)


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "total_tokens",
        "maxTokens",
        "input_tokens",
        "username",
        "user",
        "email",
        "name",
        "id",
        "tokenizer",
        "secretary",
        "passage",
        "keyboard",
        "description",
        "",
        "___",
        # counts and sizes about secrets, not secrets (Gemini's usage fields among them)
        "total_token_count",
        "promptTokenCount",
        "password_length",
        "tokens",
        "statuses",
        "keys",
    ],
)
def test_non_sensitive_names(key: str) -> None:
    assert not is_sensitive_field(key)


# ----- redact_pii -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail a.b-c+tag@mail.example.co.uk now", "mail [EMAIL] now"),
        ("two: x@y.io, z@w.org", "two: [EMAIL], [EMAIL]"),
        ("card 4532 0151 1283 0366 ok", "card [CARD] ok"),
        ("card 4532015112830366 ok", "card [CARD] ok"),
        ("amex 3782-822463-10005", "amex [CARD]"),
        ("visa 4111111111111111", "visa [CARD]"),
        ("dotted 4532.0151.1283.0366", "dotted [CARD]"),
        ("call (555) 123-4567 today", "call [PHONE] today"),
        ("call 555.123.4567", "call [PHONE]"),
        ("call 555 123 4567", "call [PHONE]"),
        ("call +1 555-123-4567", "call [PHONE]"),
        ("call +44 20 7946 0958", "call [PHONE]"),
        ("not an email: user@localhost", "not an email: [EMAIL]"),
    ],
)
def test_redact_pii_finds(text: str, expected: str) -> None:
    assert redact_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nothing personal here",
        "created at 1700000000",
        "unix time 1700000000 and 1712345678",
        "id 12345, order 987654, build 4567",
        "call 5551234567",
        "version 1.2.3 on 2024-01-15 at 12:30:45",
        "ip 192.168.1.1",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "a handle: @handle",
        "grouped 1234 5678 9012 3456",  # no card network starts with 1
        "price 1,234,567.89",
        "sha 4532123456789010abc",
        # epoch times in milli-, micro- and nanoseconds are not card numbers
        "sent 1732470000000 ms",
        "sent 1732470000000000 us",
        "sent 1732470000000000000 ns",
    ],
)
def test_redact_pii_leaves_ordinary_text_alone(text: str) -> None:
    assert redact_pii(text) == text


def test_redact_pii_is_idempotent() -> None:
    once = redact_pii("john@example.com 555-123-4567 4532-0151-1283-0366")
    assert once == "[EMAIL] [PHONE] [CARD]"
    assert redact_pii(once) == once


# ----- truncate and safe_preview ----------------------------------------------------------


def test_truncate_keeps_short_text_and_marks_cuts() -> None:
    assert truncate("short") == "short"
    assert truncate("x" * 100) == "x" * 100
    cut = truncate("x" * 101)
    assert cut == "x" * 97 + "..."
    assert len(cut) == 100
    assert truncate("abcdefghij", 6) == "abc..."


@pytest.mark.parametrize("max_length", [0, 1, 2, 3, 4, 5, 10, 50])
def test_truncate_never_exceeds_max_length(max_length: int) -> None:
    text = "0123456789" * 10
    cut = truncate(text, max_length)
    assert len(cut) <= max_length
    if max_length >= 3:
        assert cut.endswith("...")
        assert text.startswith(cut[:-3])


def test_safe_preview_redacts_before_truncating() -> None:
    # The cut at 40 characters falls inside the address.
    text = "x" * 30 + " reach me at jonathan.smith@example.com please"
    leaky = truncate(text, 50)
    assert leaky.endswith(" jona...")  # plain truncation leaks a partial address
    assert redact_pii(leaky) == leaky  # ... which redaction after the cut no longer sees
    preview = safe_preview(text, 50)
    assert "jona" not in preview
    assert "@" not in preview
    assert "example" not in preview
    assert len(preview) <= 50
    assert preview.endswith("...")


def test_safe_preview_never_cuts_a_placeholder_in_half() -> None:
    assert safe_preview("abc john@example.com", 8) == "abc ..."
    assert safe_preview("mail a@b.com now", 10) == "mail ..."
    assert safe_preview("mail a@b.com now", 15) == "mail [EMAIL]..."


def test_safe_preview_of_short_text_is_just_redacted() -> None:
    assert safe_preview("hi john@example.com") == "hi [EMAIL]"


def test_safe_preview_default_length() -> None:
    preview = safe_preview("word " * 100)
    assert len(preview) == MAX_PREVIEW_LENGTH
    assert preview.endswith("...")


# ----- sanitize_json ----------------------------------------------------------------------


def test_sanitize_json_nested_dicts_and_lists() -> None:
    value = {
        "user": {"name": "ann", "Password": "p", "profile": {"apiKey": "k", "age": 3}},
        "items": [{"token": "t", "id": 1}, {"id": 2, "headers": {"Authorization": "Bearer x"}}],
        "tuple": ({"secret": 1}, "plain"),
        "max_tokens": 512,
    }
    assert sanitize_json(value) == {
        "user": {"name": "ann", "Password": REDACTED, "profile": {"apiKey": REDACTED, "age": 3}},
        "items": [{"token": REDACTED, "id": 1}, {"id": 2, "headers": {"Authorization": REDACTED}}],
        "tuple": [{"secret": REDACTED}, "plain"],
        "max_tokens": 512,
    }


def test_sanitize_json_redacts_whole_values_of_sensitive_keys() -> None:
    # Whatever a sensitive key holds is hidden, structure included.
    assert sanitize_json({"count": 1, "secret": {"nested": [1, 2]}, "pwd": None}) == {
        "count": 1,
        "secret": REDACTED,
        "pwd": REDACTED,
    }


def test_sanitize_json_does_not_touch_its_input() -> None:
    value = {"password": "p", "list": [{"token": "t"}]}
    snapshot = json.loads(json.dumps(value))
    sanitize_json(value, redact_strings=True)
    assert value == snapshot


def test_sanitize_json_leaves_strings_alone_unless_asked() -> None:
    value = {"note": "mail john@example.com", "list": ["call 555-123-4567", 7, None, True]}
    assert sanitize_json(value) == value
    assert sanitize_json(value, redact_strings=True) == {
        "note": "mail [EMAIL]",
        "list": ["call [PHONE]", 7, None, True],
    }
    assert sanitize_json("john@example.com", redact_strings=True) == "[EMAIL]"


@pytest.mark.parametrize("scalar", [None, 1, 1.5, True, "text", 1700000000])
def test_sanitize_json_scalars_pass_through(scalar: Any) -> None:
    assert sanitize_json(scalar) == scalar


def test_sanitize_json_non_string_keys() -> None:
    assert sanitize_json({1: "a", (2, 3): {"token": "x"}}) == {1: "a", (2, 3): {"token": REDACTED}}


# ----- sanitize_tool_payload --------------------------------------------------------------


def test_tool_payload_dict_is_sanitized_json_text() -> None:
    out = sanitize_tool_payload({"query": "weather", "api_key": "sk-123", "to": "a@b.com"})
    assert out == '{"query": "weather", "api_key": "[REDACTED]", "to": "[EMAIL]"}'


def test_tool_payload_string_is_redacted() -> None:
    assert sanitize_tool_payload("sent to john@example.com") == "sent to [EMAIL]"


def test_tool_payload_json_text_has_sensitive_fields_redacted() -> None:
    # What a tool returning {"api_key": ...} hands back is JSON text: still no secret.
    text = json.dumps({"status": "ok", "api_key": "sk-live-abcdef", "items": [{"token": "t1"}]})
    out = sanitize_tool_payload(text)
    assert "sk-live-abcdef" not in out
    assert "t1" not in out
    assert json.loads(out) == {"status": "ok", "api_key": REDACTED, "items": [{"token": REDACTED}]}


def test_tool_payload_text_that_only_looks_like_json_is_kept() -> None:
    assert sanitize_tool_payload("{not json: password=x}") == "{not json: password=x}"
    assert sanitize_tool_payload("[1, 2") == "[1, 2"
    assert sanitize_tool_payload('"a json string"') == '"a json string"'


def test_tool_payload_is_truncated() -> None:
    out = sanitize_tool_payload({"data": "y" * 500})
    assert len(out) == MAX_PREVIEW_LENGTH
    assert out.startswith('{"data": "yyy')
    assert out.endswith("...")
    assert len(sanitize_tool_payload("z" * 500, max_length=20)) == 20


def test_tool_payload_other_values() -> None:
    assert sanitize_tool_payload([1, {"secret": "s"}]) == '[1, {"secret": "[REDACTED]"}]'
    assert sanitize_tool_payload(None) == "null"
    assert sanitize_tool_payload(1700000000) == "1700000000"
    assert sanitize_tool_payload({"when": object}) == '{"when": "<class \'object\'>"}'


def test_preview_redacts_only_when_sanitizing() -> None:
    text = "mail john@example.com " + "x" * 200
    assert preview(text, sanitize=True) == safe_preview(text)
    assert preview(text, sanitize=False) == truncate(text)
    assert preview(text, sanitize=False, max_length=30).startswith("mail john@example.com")
