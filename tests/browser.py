"""Debian's Chromium, driven by Playwright, for the tests of the pages gosd serves.

Playwright's own browser download is never used: Debian's build (``/usr/bin/chromium``)
is the one that plays H.264 (DESIGN §10). Where Chromium is missing the browser tests
are skipped, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from tests.conftest import unavailable

CHROMIUM = Path(os.environ.get("GOSD_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    # Chromium's own traffic (updates, sync, field trials) is not the page's: keep it
    # off so that nothing but the page talks to the network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> Path:
    """Debian's Chromium; skips the test where there is none (fails under CI)."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)", "browser")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium (skipped where it is missing, failing under CI): a
    fixture, imported by the conftest of each folder whose tests use it."""
    async with chromium() as launched:
        yield launched


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed on the way out."""
    executable = require_chromium()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class Recorded:
    """What a browser context asked of the network, and what went wrong on its pages."""

    def __init__(self, context: BrowserContext) -> None:
        self.urls: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda request: self.urls.append(request.url))
        context.on(
            "requestfailed",
            lambda request: self.failed.append(f"{request.url}: {request.failure}"),
        )
        context.on(
            "response",
            lambda response: (
                self.failed.append(f"{response.url}: {response.status}")
                if response.status >= 400
                else None
            ),
        )
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def elsewhere(self, base: str) -> list[str]:
        """The requests that went anywhere but the server at ``base``.

        ``data:`` URLs (images inlined in a stylesheet) and ``blob:`` URLs (the media of
        Media Source Extensions) reach no network.
        """
        server = urlsplit(base).netloc
        return [
            url
            for url in self.urls
            if not url.startswith(("data:", "blob:"))
            and not (urlsplit(url).scheme == "http" and urlsplit(url).netloc == server)
        ]
