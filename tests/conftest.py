"""Shared test set-up: no vendor calls, no network, services required in CI."""

from __future__ import annotations

import asyncio
import os

import pytest

from deepagents_nb.models.guard import BLOCK_ENV_VAR

# Any adapter asked to reach a real vendor fails; sockets are limited to loopback
# by pytest-socket (see addopts in pyproject.toml).
os.environ[BLOCK_ENV_VAR] = "1"
for _key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
    os.environ.pop(_key, None)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Name the culprit when an event loop is left running in the main thread.

    Playwright's sync API (the browser tests) keeps its loop marked as running while it
    is open; every async test after it would fail with a message that hides the cause.
    """
    if "e2e" in item.path.parts:
        return
    if asyncio.events._get_running_loop() is not None:
        pytest.fail("an earlier test or fixture left an event loop running in this thread")
