"""A guard that keeps test suites from calling paid vendor APIs.

When the environment variable `DEEPAGENTS_NB_BLOCK_VENDOR_REQUESTS` is `1`
(our test suite sets it), every provider adapter refuses to send a request to
a host other than this machine, unless the code runs inside
`allow_vendor_requests()`.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from deepagents_nb.exceptions import VendorRequestBlockedError

BLOCK_ENV_VAR = "DEEPAGENTS_NB_BLOCK_VENDOR_REQUESTS"
_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "vendor_requests_allowed", default=False
)


def is_local_url(url: str | None) -> bool:
    """Whether `url` points at this machine (loopback address or localhost)."""
    if not url:
        return False
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_vendor_request(provider: str, base_url: str | None) -> None:
    """Raise `VendorRequestBlockedError` if the guard is on and `base_url` is not local.

    `base_url=None` means the vendor's public endpoint.
    """
    if os.environ.get(BLOCK_ENV_VAR) != "1" or _allowed.get() or is_local_url(base_url):
        return
    raise VendorRequestBlockedError(
        f"refused a real {provider} request to {base_url or 'its public API'} while "
        f"{BLOCK_ENV_VAR}=1; point the model at a local server or wrap the call in "
        f"allow_vendor_requests()",
        provider=provider,
    )


@contextmanager
def allow_vendor_requests() -> Iterator[None]:
    """Let real vendor requests through inside this block, guard or not."""
    token = _allowed.set(True)
    try:
        yield
    finally:
        _allowed.reset(token)
