"""Headless Chromium on a JupyterLab page: open a notebook, run it, fail readably.

Every wait has a timeout. A step that times out (or an expectation that fails)
becomes one `AssertionError` saying what was awaited, with the page's console
errors, the notebook's progress, the server log's tail and a screenshot's path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from lab_server import LabServer
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    expect,
)
from playwright.sync_api import Error as PlaywrightError

if TYPE_CHECKING:  # not exported by playwright.sync_api's __all__
    from playwright.sync_api._generated import LocatorAssertions

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls Google's services, and the sandboxed network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1400, "height": 1100}
SECOND = 1000  # Playwright counts in milliseconds
ACTION_TIMEOUT = 20 * SECOND
"""For clicks and typing (a browser context's default)."""

# Widgets render a moment after their cell ran; 15 s leaves room for a slow machine.
expect.set_options(timeout=15 * SECOND)

# The notebook panel is read through `window.jupyterapp` (`--LabApp.expose_app_in_browser`).
_NOTEBOOK = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
KERNEL_IDLE = f"""() => {{
    const panel = {_NOTEBOOK};
    if (!panel || !panel.context || !panel.context.isReady || !panel.sessionContext) return false;
    const session = panel.sessionContext.session;
    return Boolean(session && session.kernel && session.kernel.status === 'idle');
}}"""
PROGRESS = f"""() => {{
    const panel = {_NOTEBOOK};
    if (!panel || !panel.content || !panel.sessionContext) return null;
    const code = panel.content.widgets.filter(cell => cell.model.type === 'code');
    const session = panel.sessionContext.session;
    const errors = [];
    panel.content.widgets.forEach((cell, index) => {{
        if (cell.model.type !== 'code') return;
        for (const output of cell.model.outputs.toJSON()) {{
            if (output.output_type === 'error')
                errors.push(`cell ${{index}}: ${{output.ename}}: ${{output.evalue}}`);
        }}
    }});
    return {{
        path: panel.context.path,
        ran: code.filter(cell => cell.model.executionCount !== null).length,
        cells: code.length,
        kernel: session && session.kernel ? session.kernel.status : 'none',
        errors: errors,
    }};
}}"""
# Done when every code cell ran, or as soon as one failed (Run All stops there).
ALL_CELLS_RAN = f"""() => {{
    const progress = ({PROGRESS})();
    if (!progress || progress.kernel !== 'idle') return false;
    return progress.ran === progress.cells || progress.errors.length > 0;
}}"""

SAVE_WIDGET_STATE = "@jupyter-widgets/jupyterlab-manager:saveWidgetState"

SCROLL_CELL_TO_TOP = "node => (node.closest('.jp-Cell') || node).scrollIntoView({block: 'start'})"


class BrowserStepFailed(AssertionError):
    """A step in the browser failed; the message says what, and what the page showed."""


def launch(playwright: Playwright, executable: Path) -> Browser:
    """Debian's Chromium, headless (Playwright's own browser download is not used)."""
    return playwright.chromium.launch(
        executable_path=str(executable), args=CHROMIUM_ARGS, timeout=30 * SECOND
    )


class LabPage:
    """One browser tab on the JupyterLab server, with what its console reported.

    Example::

        lab = LabPage(context.new_page(), server, artifacts, "approve")
        lab.open_notebook("03_human_in_the_loop.ipynb")
        lab.run_all_cells()
        with lab.step("the Approve button"):
            lab.expect(lab.page.locator(".dnb-approve")).to_be_visible()
    """

    def __init__(self, page: Page, server: LabServer, artifacts: Path, name: str) -> None:
        self.page = page
        self.server = server
        self.artifacts = artifacts
        self.name = re.sub(r"[^\w.-]+", "-", name).strip("-")
        self.console_errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        page.on("crash", lambda _: self.console_errors.append("the page crashed"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"console error: {message.text} ({where})")

    # ----- steps -----------------------------------------------------------------------------

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Run one step; a timeout or failed expectation fails with a readable report."""
        try:
            yield
        except BrowserStepFailed:
            raise
        except (PlaywrightError, AssertionError) as exc:
            self.fail(what, exc)

    def expect(self, locator: Locator) -> LocatorAssertions:
        """Playwright's `expect`, for use inside `step`."""
        return expect(locator)

    def fail(self, what: str, error: BaseException | str) -> NoReturn:
        """Raise `BrowserStepFailed` with the page's state, and keep a screenshot of it."""
        detail = str(error).strip().splitlines()
        shot = self.screenshot("FAILED")
        progress = self.progress()
        errors = self.console_errors[-10:] or ["(none)"]
        report = [
            f"{self.name}: gave up waiting for {what}",
            *(f"  {line}" for line in detail[:12]),
            f"notebook: {progress or 'not open'}",
            "browser console errors (last 10):",
            *(f"  {line}" for line in errors),
            f"screenshot: {shot}",
            "JupyterLab log (tail):",
            *(f"  {line}" for line in self.server.log_tail(15).splitlines()),
        ]
        raise BrowserStepFailed("\n".join(report)) from None

    # ----- the notebook ----------------------------------------------------------------------

    def open_notebook(
        self, path: str, timeout: float = 45 * SECOND, *, notebook7: bool = False
    ) -> None:
        """Open `path` (relative to the server's root), kernel idle.

        In JupyterLab, in a workspace of its own; with `notebook7`, in Notebook 7's
        single-document page instead.
        """
        if notebook7:
            url = self.server.url(f"notebooks/{quote(path)}")
        else:
            url = self.server.url(f"lab/workspaces/{self.name}/tree/{quote(path)}")
        with self.step(f"{'Notebook 7' if notebook7 else 'JupyterLab'} to open {path}"):
            self.page.goto(url, wait_until="domcontentloaded", timeout=timeout)
            self.page.wait_for_function(KERNEL_IDLE, timeout=timeout, polling=200)
            self._collapse_left()

    def _collapse_left(self) -> None:
        # The file browser only takes room from the notebook in the screenshots
        # (Notebook 7's shell has no side panel open and no such method).
        self.page.evaluate(
            "() => { const s = window.jupyterapp.shell; if (s.collapseLeft) s.collapseLeft(); }"
        )

    def run_all_cells(self, timeout: float = 45 * SECOND) -> None:
        """Run all cells (the Run menu's command) and wait until each ran without an error."""
        with self.step("notebook:run-all-cells to start"):
            # Not awaited: the command's promise ends with the last cell, and
            # `evaluate` has no timeout of its own; the wait below has one.
            self.page.evaluate(
                "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
            )
        with self.step("every cell to run"):
            self.page.wait_for_function(ALL_CELLS_RAN, timeout=timeout, polling=250)
        progress = self.progress()
        if progress and progress["errors"]:
            self.fail("every cell to run without an error", "\n".join(progress["errors"]))

    def wait_kernel_idle(self, what: str, timeout: float = 20 * SECOND) -> None:
        """Wait until the notebook's kernel is idle (everything it sent has arrived)."""
        with self.step(what):
            self.page.wait_for_function(KERNEL_IDLE, timeout=timeout, polling=200)

    def save_widget_state(self, enabled: bool) -> None:
        """Turn the Settings menu's "Save Widget State Automatically" on or off."""
        with self.step(f"widget state saving turned {'on' if enabled else 'off'}"):
            self.page.evaluate(
                """async ([id, enabled]) => {
                    const commands = window.jupyterapp.commands;
                    if (commands.isToggled(id) !== enabled) await commands.execute(id);
                }""",
                [SAVE_WIDGET_STATE, enabled],
            )
            self.page.wait_for_function(
                f"e => window.jupyterapp.commands.isToggled({SAVE_WIDGET_STATE!r}) === e",
                arg=enabled,
                timeout=10 * SECOND,
            )

    def save(self) -> None:
        """Save the notebook (File > Save) and wait until the file is written."""
        with self.step("the notebook to be saved"):
            self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
            self.page.wait_for_function(
                f"() => {{ const p = {_NOTEBOOK}; return p && !p.context.model.dirty; }}",
                timeout=15 * SECOND,
                polling=200,
            )

    def shut_down_and_reload(self) -> None:
        """Shut the kernel down (every model it held is gone), then reload the page."""
        self.server.shutdown_kernels()
        with self.step("the page to reload the notebook"):
            self.page.reload(wait_until="domcontentloaded")
            # A fresh kernel starts; it knows none of the saved outputs' widgets.
            self.page.wait_for_function(KERNEL_IDLE, timeout=45 * SECOND, polling=200)
            self._collapse_left()

    def progress(self) -> dict[str, Any] | None:
        """The open notebook: path, cells run of all, kernel status, error outputs."""
        try:
            result: dict[str, Any] | None = self.page.evaluate(PROGRESS)
        except PlaywrightError:
            return None
        return result

    # ----- artifacts -------------------------------------------------------------------------

    def screenshot(self, label: str = "", show: Locator | None = None) -> Path:
        """Save the visible page under the artifacts directory, `show`'s cell at the top."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{self.name}{'-' + label if label else ''}.png"
        try:
            if show is not None:
                show.evaluate(SCROLL_CELL_TO_TOP, timeout=5 * SECOND)
            self.page.screenshot(path=str(path), timeout=15 * SECOND)
        except PlaywrightError as exc:
            first_line = str(exc).partition("\n")[0]
            return Path(f"(no screenshot: {first_line})")
        return path
