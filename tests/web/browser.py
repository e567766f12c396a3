"""Real Chromium for the browser tests and the screenshot script (Playwright for Python).

Uses Debian's ``/usr/bin/chromium`` (``scripts/test`` installs it), never a browser
downloaded by ``playwright install``. Every page opened through :class:`Tab` records
the requests it makes and the console errors it logs, so a test can assert that a
page loaded nothing from another site and broke no Content-Security-Policy rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("PAPERFEED_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "screenshots"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (scripts/test installs Debian's chromium when run as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


#: How long a page or an expectation may take: generous, the test machines are shared.
TIMEOUT_MS = 30_000


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A page in a fresh browser context (its own cookies), watched for what it loads."""

    page: Page
    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but this server (``data:`` URLs are inline, not requests)."""
        return [
            url for url in self.requests
            if not url.startswith((self.base + "/", "data:"))
        ]  # fmt: skip

    def mark_document(self) -> None:
        """Tag the loaded document; :meth:`same_document` is False after a full page load."""
        self.page.evaluate("window.__paperfeedMark = 'kept'")

    def same_document(self) -> bool:
        return self.page.evaluate("window.__paperfeedMark === 'kept'")

    def screenshot(
        self, name: str, directory: Path = ARTIFACTS, *, full_page: bool = False
    ) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@contextmanager
def tab(browser: Browser, base: str) -> Iterator[Tab]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watched = Tab(page, base)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on(
        "console",
        lambda message: watched.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    try:
        yield watched
    finally:
        context.close()
