"""Fixtures of the browser tests: one JupyterLab server for the session, one Chromium per module.

Each test gets a fresh browser context (`lab_page`); its kernels are shut down after.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import require_service
from lab_server import LabServer, start_lab

if TYPE_CHECKING:
    from lab_page import LabPage
    from playwright.sync_api import Browser

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")


def require_browser() -> None:
    """Skip (fail in CI) unless Chromium, Playwright and JupyterLab are installed."""
    missing = [
        f"{package} (pip install -e '.[lab,dev]')"
        for package in ("playwright", "jupyterlab")
        if importlib.util.find_spec(package) is None
    ]
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    how = "missing: " + "; ".join(missing)
    require_service("chromium", not missing, how)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1, stopped with its kernels whatever happens."""
    require_browser()
    server = start_lab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        server.stop()


# Module scope, not session: Playwright's sync API marks its event loop as running in
# this thread while it is open, and every async test collected after tests/e2e would
# then fail with "Runner.run() cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, closed (with its event loop) at the end of each test module."""
    require_browser()
    from lab_page import launch
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright, CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def lab_page(request: pytest.FixtureRequest, lab: LabServer, browser: Browser) -> Iterator[LabPage]:
    """A new browser context on the server; its kernels are shut down afterwards."""
    from lab_page import ACTION_TIMEOUT, VIEWPORT, LabPage

    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT)
    try:
        yield LabPage(context.new_page(), lab, ARTIFACTS, request.node.name)
    finally:
        context.close()
        lab.shutdown_kernels()


@pytest.fixture
def require_notebook7() -> None:
    """Skip (fail in CI) unless Notebook 7 (the `notebook` package, lab extra) is installed."""
    installed = importlib.util.find_spec("notebook") is not None
    require_service("notebook 7", installed, "pip install -e '.[lab]'")
