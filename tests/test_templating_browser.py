"""A real browser shows a streamed page's first rows before the page ends.

Headless Chromium (Debian's ``chromium``, installed by ``scripts/browser``),
driven by Playwright from PyPI, loads a page from gunicorn whose rows pause
for 3 s half-way; the rows before the pause are in the laid-out page while it
is still loading.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium
from tests.support.servers import Server, serve

pytestmark = pytest.mark.server

# Beyond the usual flags: nothing but the test's own requests on the wire.
FLAGS = [
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROWS, PAUSE_AT = 6000, 3000  # ~150 KB of rows, so whole chunks leave before it
# Seconds the rows pause: the browser, not only the server, has to lay out a
# row before the pause ends.
PAUSE = 3.0

STATE = """() => ({
    rows: document.querySelectorAll('#rows tr').length,
    firstRowHeight: document.getElementById('r0')?.getBoundingClientRect().height ?? 0,
    ended: document.getElementById('end') !== null,
    readyState: document.readyState,
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(*FLAGS) as running:
        yield running


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve("gunicorn") as running:
        yield running


def test_first_rows_render_before_the_page_finishes(
    browser: Browser, server: Server
) -> None:
    page = browser.new_page()
    url = f"{server.url}/templates/table?n={ROWS}&sleep_after={PAUSE_AT}&pause={PAUSE}"
    start = time.monotonic()
    page.goto(url, wait_until="commit", timeout=15_000)
    seen: dict[str, Any] | None = None
    deadline = start + PAUSE
    while time.monotonic() < deadline:
        state = page.evaluate(STATE)
        if state["rows"] and state["firstRowHeight"] > 0:
            seen = {**state, "at": time.monotonic() - start}
            break
        time.sleep(0.05)
    assert seen is not None, "no row was rendered while the source paused"
    # Rendered and laid out while the page was still loading, mid-pause.
    assert seen["readyState"] == "loading"
    assert not seen["ended"]
    assert 0 < seen["rows"] < ROWS
    page.wait_for_selector("#end", state="attached", timeout=20_000)
    ended_at = time.monotonic() - start
    final = page.evaluate(STATE)
    page.close()
    assert final["rows"] == ROWS
    assert ended_at >= PAUSE > seen["at"]
