"""Debian's Chromium under Playwright, for the tests only a browser can answer."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@contextmanager
def chromium(*flags: str) -> Iterator[Browser]:
    """A headless Chromium with :data:`FLAGS` and ``flags``, closed after."""
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: run scripts/browser"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*FLAGS, *flags],
            headless=True,
            timeout=60_000,
        )
        try:
            yield browser
        finally:
            browser.close()
