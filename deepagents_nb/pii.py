"""Finding PII and secrets in free text, in linear time.

Each pattern finds candidates cheaply (bounded repetitions, each start anchored
by a look-behind so a long run of letters or digits is scanned once); code then
validates what a regular expression cannot: the Luhn digit of a card, an IBAN's
mod-97 checksum, a phone number's plan (Google's libphonenumber, via the
`phonenumbers` package). Order matters: keys and tokens first (they may hold
digits or `@`), then e-mails, cards, IBANs, SSNs and phone numbers.

Caught: e-mail addresses (international, quoted local parts, `@localhost`),
phone numbers (E.164 `+44 20 7946 0958`, North American numbers with or without
separators, national numbers of common countries written with separators), card
numbers passing the Luhn check, IBANs passing their checksum, US social security
numbers, API keys and tokens (OpenAI/Anthropic `sk-`, AWS `AKIA`/`ASIA`, GitHub,
GitLab, Slack, Google, Stripe), JWTs, `Bearer`/`Basic` credentials, PEM private
keys, and the value of any `name = value` / `name: value` pair whose name is a
secret's (`password=...`, `"api_key": "..."`). Not caught: names, street
addresses, dates of birth, free-form secrets with no telling name or prefix.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

# ----- secrets -------------------------------------------------------------------------

_PEM = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----[A-Za-z0-9+/=\s:.,-]{0,20000}?"
    r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----"
)
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/-]{8,}=*")
_JWT = re.compile(r"(?<![\w-])eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
_API_KEY = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}"
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|hf_[A-Za-z0-9]{30,}"
    r")(?![\w-])"
)
# `name = value` and `name: value`, the name checked in code (`is_sensitive_field`).
_PAIR = re.compile(
    r"""(?<![\w.-])([A-Za-z][\w.-]{0,40})(["']?\s{0,3}[:=]\s{0,3})"""
    r"""("[^"\n]{1,60}"|'[^'\n]{1,60}'|[^\s,;&"'}\]]{1,200})"""
)

_KEEP = frozenset({'""', "''", "bearer", "basic", "token", "none", "null", "true", "false"})

# ----- personal data -------------------------------------------------------------------

_LOCAL_CHARS = r"\w.%+-"
_EMAIL = re.compile(
    rf"(?<![{_LOCAL_CHARS}])"
    rf"(?:\"[^\"\n]{{1,64}}\"|[{_LOCAL_CHARS}]{{1,64}})"
    r"@(?:localhost\b|\[[0-9A-Fa-f:.]{3,45}\]|(?:[\w-]{1,63}\.){1,8}[^\W\d_][\w-]{1,62})"
)
_FILE_SUFFIX = re.compile(r"@\d+x\.(?:png|jpe?g|gif|svg|webp)$", re.IGNORECASE)
_CARD = re.compile(r"(?<![\w.-])[2-6](?:[ .-]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w-])")
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
# North American numbers with separators: taken without further checks.
_NANP = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
)
# Anything else phone-shaped: validated by libphonenumber.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+#.:/-])(?:\+|00)?\(?\d[\d\s().-]{5,18}\d(?![\w-])")
_DATE_OR_ADDRESS = re.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{1,3}(?:\.\d{1,3}){3}"
)
_ISBN_END = re.compile(r"-\d$")  # ISBNs and part numbers end in one check digit
_NATIONAL_REGIONS = ("GB", "DE", "FR", "IT", "ES", "NL", "AU", "BR", "JP", "CN", "IN", "MX")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    groups = [len(g) for g in re.split(r"[ .-]", text)]
    grouped = (
        len(groups) == 1
        or groups in ([4, 6, 5], [4, 6, 4])
        or (all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4)
    )
    return "[CARD]" if grouped and 13 <= len(digits) <= 19 and _luhn(digits) else text


def _iban(match: re.Match[str]) -> str:
    text = match.group()
    code = text.replace(" ", "")
    if not 15 <= len(code) <= 34:
        return text
    moved = code[4:] + code[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return "[IBAN]" if int(number) % 97 == 1 else text


@functools.cache
def _phonenumbers() -> Any:
    import phonenumbers  # loaded at the first phone-shaped candidate only

    return phonenumbers


def _is_phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    international = text.startswith(("+", "00"))
    if not 7 <= len(digits) <= 15:
        return False
    if not international and (_DATE_OR_ADDRESS.search(text) or _ISBN_END.search(text)):
        return False
    pn = _phonenumbers()
    candidates: tuple[str | None, ...]
    if international:
        if text.startswith("00"):
            text = "+" + text[2:]
        candidates = (None,)
    else:
        separated = any(c in text for c in " -.()")
        national = separated and (text.startswith(("0", "(")) or len(digits) == 10)
        candidates = ("US", *_NATIONAL_REGIONS) if national else ("US",)
    for region in candidates:
        try:
            number = pn.parse(text, region)
        except pn.NumberParseException:
            continue
        if pn.is_valid_number(number) or (international and pn.is_possible_number(number)):
            return True
    return False


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    return "[PHONE]" if _is_phone(text) else text


def _email(match: re.Match[str]) -> str:
    text = match.group()
    return text if _FILE_SUFFIX.search(text) or text.startswith("git@") else "[EMAIL]"


def _auth_header(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}[REDACTED]"


def redact_text(text: str, is_secret_name: Callable[[str], bool]) -> str:
    """`text` with every PII and secret found replaced by a placeholder."""
    if not text:
        return text
    if "PRIVATE KEY" in text:
        text = _PEM.sub("[PRIVATE_KEY]", text)
    text = _API_KEY.sub("[API_KEY]", text)
    if "eyJ" in text:
        text = _JWT.sub("[TOKEN]", text)
    text = _AUTH_HEADER.sub(_auth_header, text)
    if ":" in text or "=" in text:

        def pair(match: re.Match[str]) -> str:
            name, sep, value = match.groups()
            bare = value.strip("\"'")
            if not is_secret_name(name) or bare.startswith("[") or value.lower() in _KEEP:
                return match.group()
            quote = value[0] if value[0] in "\"'" else ""
            return f"{name}{sep}{quote}[REDACTED]{quote}"

        text = _PAIR.sub(pair, text)
    if "@" in text:
        text = _EMAIL.sub(_email, text)
    if not any(c.isdigit() for c in text):
        return text
    text = _CARD.sub(_card, text)
    text = _IBAN.sub(_iban, text)
    text = _SSN.sub("[SSN]", text)
    text = _NANP.sub("[PHONE]", text)
    return _PHONE_CANDIDATE.sub(_phone, text)
