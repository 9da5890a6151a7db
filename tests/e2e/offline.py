"""A browser page with no network, and notebooks converted to HTML for it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from nbconvert import HTMLExporter

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route


class Offline:
    """A browser page that may load local files only; what it tried to fetch is kept."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.blocked: list[str] = []
        page.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("file://", "data:", "about:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, html: str, path: Path) -> None:
        path.write_text(html, encoding="utf-8")
        self.page.goto(path.as_uri(), wait_until="load")


def to_html(notebook: nbformat.NotebookNode) -> str:
    body, _ = HTMLExporter().from_notebook_node(notebook)
    return body
