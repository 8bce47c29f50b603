"""The console in a real browser: Debian's Chromium, headless, driven by Playwright.

Chromium comes from ``apt-get install chromium`` (``make test`` installs it where it can); the
tests skip, saying why, only where no Chromium can be had. Screenshots of the main pages go to
``$FNFLOW_SCREENSHOTS`` (the README's come from ``docs/console``) or the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One Chromium per module; Playwright's event loop ends with it, so tests that run asyncio
    later in the same process are not disturbed."""
    if CHROMIUM is None:
        pytest.skip(
            "BROWSER TESTS NOT RUN: no Chromium (apt-get install chromium; make test does it as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser page that fails the test on any JavaScript error (a refused request, which the
    browser logs too, is the server's answer, not an error of the console)."""

    def __init__(self, page: object) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))  # type: ignore[attr-defined]
        page.on("console", self._console)  # type: ignore[attr-defined]

    def _console(self, message: object) -> None:
        text = message.text  # type: ignore[attr-defined]
        if message.type == "error" and not text.startswith("Failed to load resource"):  # type: ignore[attr-defined]
            self.errors.append(f"console: {text}")


@pytest.fixture
def page(browser: object, tmp_path: Path) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})  # type: ignore[attr-defined]
    watched = Page(context.new_page())
    yield watched.page
    context.close()
    assert watched.errors == [], "the console logged errors"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FNFLOW_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
