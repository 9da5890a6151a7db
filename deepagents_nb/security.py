"""PII and secret redaction for everything that leaves a run as an event.

The same helpers as the Rust SDK's `agents_core::security`, usable directly::

    >>> redact_pii("Mail john@example.com or call 555-123-4567")
    'Mail [EMAIL] or call [PHONE]'
    >>> sanitize_json({"user": "john", "api_key": "sk-123"})
    {'user': 'john', 'api_key': '[REDACTED]'}
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

MAX_PREVIEW_LENGTH = 100
REDACTED = "[REDACTED]"

SENSITIVE_FIELDS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_token",
    "refresh_token",
    "auth_token",
    "authorization",
    "bearer",
    "credit_card",
    "card_number",
    "cvv",
    "ssn",
    "social_security",
    "private_key",
    "privatekey",
    "encryption_key",
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 13 to 19 digits, optionally grouped by spaces or dashes: every card network's length.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# Ungrouped runs starting with 1 are epoch times in milli-, micro- or nanoseconds
# ("1732470000000"), which tool output is full of; no major card network starts with 1.
_EPOCH_TIME = re.compile(r"1\d{12,18}")
# North American style numbers with separators, optionally with a country code;
# separators are required so plain ids and timestamps are left alone.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)"
)
# camelCase boundaries, including after an acronym: "apiKey", "JWTToken" -> "JWT_Token".
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SENSITIVE_WORDS = tuple(tuple(field.split("_")) for field in SENSITIVE_FIELDS)
# "tokens" alone counts tokens (`max_tokens`); `access_tokens` are secrets.
_PLURAL_FIELDS = tuple(field for field in _SENSITIVE_WORDS if field != ("token",))
# A name ending in one of these holds a number about a secret, not the secret:
# `total_token_count`, `password_length`.
_QUANTITY_WORDS = frozenset({"count", "counts", "length", "len", "size", "limit"})


def _key_words(key: str) -> tuple[str, ...]:
    spaced = _CAMEL_BOUNDARY.sub("_", key).lower()
    return tuple(word for word in _NON_ALNUM.split(spaced) if word)


@functools.lru_cache(maxsize=4096)  # payloads repeat the same few keys event after event
def is_sensitive_field(key: str) -> bool:
    """Whether a field name names a secret (case-insensitive, any naming style).

    `apiKey`, `X-Api-Key`, `github_token` and plurals such as `passwords` or
    `api_keys` are sensitive. Matching is by whole words, so `max_tokens` (a
    count; "tokens" alone is never a secret) and `total_token_count` are not.
    """
    words = _key_words(key)
    if not words or (len(words) > 1 and words[-1] in _QUANTITY_WORDS):
        return False
    if _names_one_of(words, _SENSITIVE_WORDS):
        return True
    plural = words[-1]
    return plural.endswith("s") and _names_one_of((*words[:-1], plural[:-1]), _PLURAL_FIELDS)


def _names_one_of(words: tuple[str, ...], fields: tuple[tuple[str, ...], ...]) -> bool:
    for field in fields:
        n = len(field)
        if any(words[i : i + n] == field for i in range(len(words) - n + 1)):
            return True
    return False


def redact_pii(text: str) -> str:
    """Replace emails, card numbers and phone numbers with placeholders."""
    if not text:
        return text
    text = _EMAIL.sub("[EMAIL]", text)
    text = _CARD.sub(_card_placeholder, text)
    return _PHONE.sub("[PHONE]", text)


def _card_placeholder(match: re.Match[str]) -> str:
    number = match.group()
    return number if _EPOCH_TIME.fullmatch(number) else "[CARD]"


def truncate(text: str, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """Cut `text` to at most `max_length` characters, marking the cut with '...'."""
    if len(text) <= max_length:
        return text
    if max_length < 3:  # no room for the marker
        return text[: max(max_length, 0)]
    return text[: max_length - 3] + "..."


def safe_preview(text: str, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """A short, PII-free preview of `text` (redacted before cutting, so no half email leaks)."""
    return truncate(redact_pii(text), max_length)


def preview(text: str, *, sanitize: bool, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """`safe_preview` when sanitizing, else `truncate`: an event's preview of `text`."""
    return safe_preview(text, max_length) if sanitize else truncate(text, max_length)


def sanitize_json(value: Any, *, redact_strings: bool = False) -> Any:
    """A copy of a JSON-like value with the values of sensitive fields replaced.

    With `redact_strings=True`, PII inside every string is redacted too.
    """
    if isinstance(value, str):
        return redact_pii(value) if redact_strings else value
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and is_sensitive_field(key)
            else sanitize_json(v, redact_strings=redact_strings)
            for key, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [sanitize_json(v, redact_strings=redact_strings) for v in value]
    return value


def sanitize_tool_payload(value: Any, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """A short, safe text summary of a tool's input or output.

    A string holding a JSON object or array (what a tool returning a dict
    produces) has its sensitive fields redacted like the value itself would.
    """
    if isinstance(value, str):
        text = value
        if value.lstrip()[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict | list):
                text = json.dumps(sanitize_json(parsed), ensure_ascii=False)
    else:
        text = json.dumps(sanitize_json(value), ensure_ascii=False, default=str)
    return safe_preview(text, max_length)
