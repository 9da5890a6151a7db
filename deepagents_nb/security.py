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

from deepagents_nb.pii import redact_text

MAX_PREVIEW_LENGTH = 100
REDACTED = "[REDACTED]"

SENSITIVE_FIELDS: tuple[str, ...] = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "client_secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "secret_key",
    "access_token",
    "refresh_token",
    "auth_token",
    "id_token",
    "session_token",
    "auth",
    "authorization",
    "bearer",
    "credentials",
    "credential",
    "jwt",
    "cookie",
    "session_id",
    "sessionid",
    "credit_card",
    "card_number",
    "cc_number",
    "cvv",
    "cvc",
    "pin",
    "otp",
    "mfa_code",
    "totp",
    "ssn",
    "social_security",
    "private_key",
    "privatekey",
    "ssh_key",
    "signing_key",
    "master_key",
    "encryption_key",
)

# camelCase boundaries, including after an acronym: "apiKey", "JWTToken" -> "JWT_Token".
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Names compared with their words joined, so `passWord`, `pass_word` and `PASSWORD` agree.
_SENSITIVE = frozenset(field.replace("_", "") for field in SENSITIVE_FIELDS)
# "tokens" alone counts tokens (`max_tokens`); `access_tokens` are secrets.
_PLURALS = _SENSITIVE - {"token"}
# A name ending in one of these holds a number about a secret, not the secret:
# `total_token_count`, `password_length`.
_QUANTITY_WORDS = frozenset({"count", "counts", "length", "len", "size", "limit", "type"})
_LONGEST = 4  # words in the longest sensitive name


def _key_words(key: str) -> tuple[str, ...]:
    spaced = _CAMEL_BOUNDARY.sub("_", key).lower()
    return tuple(word for word in _NON_ALNUM.split(spaced) if word)


@functools.lru_cache(maxsize=4096)  # payloads repeat the same few keys event after event
def is_sensitive_field(key: str) -> bool:
    """Whether a field name names a secret (case-insensitive, any naming style).

    `apiKey`, `X-Api-Key`, `passWord`, `aws_access_key_id`, `github_token` and
    plurals such as `passwords` or `api_keys` are sensitive. Matching is by
    whole words, so `max_tokens` (a count; "tokens" alone is never a secret),
    `total_token_count`, `author` and `passenger` are not.
    """
    words = _key_words(key)
    if not words or (len(words) > 1 and words[-1] in _QUANTITY_WORDS):
        return False
    for start in range(len(words)):
        for stop in range(start + 1, min(start + _LONGEST, len(words)) + 1):
            joined = "".join(words[start:stop])
            if joined in _SENSITIVE:
                return True
            if stop == len(words) and joined.endswith("s") and joined[:-1] in _PLURALS:
                return True
    return False


def redact_pii(text: str) -> str:
    """Replace PII and secrets in `text` with placeholders ([EMAIL], [PHONE], [CARD],
    [IBAN], [SSN], [API_KEY], [TOKEN], [PRIVATE_KEY], [REDACTED]); linear in its length.

    What is and is not caught: see `deepagents_nb.pii`.
    """
    return redact_text(text, is_sensitive_field)


def truncate(text: str, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """Cut `text` to at most `max_length` characters, marking the cut with '...'."""
    if len(text) <= max_length:
        return text
    if max_length < 3:  # no room for the marker
        return text[: max(max_length, 0)]
    return text[: max_length - 3] + "..."


_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|SSN|API_KEY|TOKEN|PRIVATE_KEY|REDACTED)\]")


def safe_preview(text: str, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """A short, PII-free preview of `text`: redacted before cutting, so no half e-mail
    leaks, and never cutting a placeholder in half."""
    redacted = redact_pii(text)
    if len(redacted) <= max_length or max_length < 3:
        return truncate(redacted, max_length)
    cut = max_length - 3
    for found in _PLACEHOLDER.finditer(redacted, max(0, cut - 14), cut + 14):
        if found.start() < cut < found.end():
            cut = found.start()
            break
    return redacted[:cut] + "..."


def preview(text: str, *, sanitize: bool, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """`safe_preview` when sanitizing, else `truncate`: an event's preview of `text`."""
    return safe_preview(text, max_length) if sanitize else truncate(text, max_length)


def sanitize_json(value: Any, *, redact_strings: bool = False) -> Any:
    """A copy of a JSON-like value with the values of sensitive fields replaced.

    With `redact_strings=True`, PII inside every string is redacted too.
    """
    if isinstance(value, str):
        if not redact_strings:
            return value
        embedded = _embedded_json(value)
        if embedded is not None:  # a JSON document inside a string: its keys count too
            return json.dumps(sanitize_json(embedded, redact_strings=True), ensure_ascii=False)
        return redact_pii(value)
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


def _embedded_json(text: str) -> dict[str, Any] | list[Any] | None:
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def sanitize_tool_payload(value: Any, max_length: int = MAX_PREVIEW_LENGTH) -> str:
    """A short, safe text summary of a tool's input or output.

    A string holding a JSON object or array (what a tool returning a dict
    produces) has its sensitive fields redacted like the value itself would.
    """
    if isinstance(value, str):
        parsed = _embedded_json(value)
        text = value if parsed is None else json.dumps(sanitize_json(parsed), ensure_ascii=False)
    else:
        text = json.dumps(sanitize_json(value), ensure_ascii=False, default=str)
    return safe_preview(text, max_length)


class StreamRedactor:
    """Redacts a text that arrives in chunks (a model's streamed tokens).

    Redacting each chunk alone lets an e-mail or a card split over two chunks
    through; this holds back a short tail that may still become part of a match,
    and releases text only where cutting changes nothing: what it releases,
    joined, is what `redact_pii` makes of the whole text.

        redactor = StreamRedactor()
        shown = [redactor.feed(chunk) for chunk in chunks] + [redactor.flush()]
    """

    HOLD = 64
    """Characters always held back: longer than any match with spaces in it."""
    LIMIT = 8192
    """At most this much is held (a private key block may need it), then released."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, chunk: str) -> str:
        """Add a chunk; return the redacted text that is safe to show now (maybe "")."""
        self._buffer += chunk
        buffer = self._buffer
        if len(buffer) < self.HOLD + 16:
            return ""
        begin = buffer.rfind("-----BEGIN")
        if begin != -1 and "-----END" not in buffer[begin:] and len(buffer) < self.LIMIT:
            return ""  # an unfinished key block: hold it whole
        whole = redact_pii(buffer)
        cut = len(buffer) - self.HOLD
        for _ in range(8):  # a few whitespace cuts, from the latest back
            cut = max(buffer.rfind(" ", 0, cut), buffer.rfind("\n", 0, cut))
            if cut <= 0:
                break
            head = redact_pii(buffer[:cut])
            if whole.startswith(head) and whole[len(head) :] == redact_pii(buffer[cut:]):
                self._buffer = buffer[cut:]
                return head
        if len(buffer) >= self.LIMIT:  # no clean cut in a huge run: release what is safe
            return self.flush()
        return ""

    def flush(self) -> str:
        """The rest, redacted: call once the stream has ended."""
        rest, self._buffer = self._buffer, ""
        return redact_pii(rest)
