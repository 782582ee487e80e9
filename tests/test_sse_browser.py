"""A real EventSource in headless Chromium, against gunicorn (gthread): it
reconnects after the server ends each stream, sends ``Last-Event-ID``, and
``get_events(last_event_id)`` resumes after it, so every event arrives once,
in order. The htmx SSE extension (htmx and htmx-ext-sse from npm, fetched by
``scripts/browser``) does the same, and its ``lastEventId`` query parameter
reaches ``last_event_id()`` where no header is sent yet."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.support.browser import chromium
from tests.support.servers import Server, serve

pytestmark = pytest.mark.server

TIMEOUT = 20_000  # ms
CACHE = Path(
    os.environ.get("STREAMKIT_BROWSER_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "streamkit-browser"
)
HTMX = CACHE / "htmx.org/package/dist/htmx.min.js"
HTMX_SSE = CACHE / "htmx-ext-sse/package/dist/sse.js"
EXPECTED = [f"event {n}" for n in range(1, 10)]

EVENTSOURCE_PAGE = """<!doctype html><meta charset="utf-8"><script>
window.log = [];
const source = new EventSource("%s");
source.addEventListener("tick", (e) => window.log.push([e.data, e.lastEventId]));
</script>"""

HTMX_PAGE = """<!doctype html><meta charset="utf-8">
<script src="/static-test/htmx.min.js"></script>
<script src="/static-test/sse.js"></script>
<div hx-ext="sse" sse-connect="%s"><ul id="list" sse-swap="tick"
  hx-swap="beforeend"></ul></div>"""


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve("gthread") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def open_page(browser: Browser, server: Server, html: str) -> Page:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT)

    def fulfil(route: Route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        if not HTMX.exists() or not HTMX_SSE.exists():
            pytest.fail(f"htmx is not in {CACHE}: run scripts/browser to fetch it")
        path = HTMX if name == "htmx.min.js" else HTMX_SSE
        route.fulfill(path=path, content_type="text/javascript")

    page.route(f"{server.url}/static-test/*", fulfil)
    page.route(
        f"{server.url}/page",
        lambda route: route.fulfill(body=html, content_type="text/html"),
    )
    page.goto(f"{server.url}/page")
    return page


@pytest.mark.parametrize("view", ["resume", "aresume"])
def test_eventsource_reconnects_and_resumes_after_last_event_id(
    browser: Browser, server: Server, view: str
) -> None:
    # Each response sends three events and ends; retry is 200 ms.
    page = open_page(browser, server, EVENTSOURCE_PAGE % f"/sse/{view}")
    try:
        page.wait_for_function("window.log.length >= 9")
        page.wait_for_timeout(600)  # two more reconnects: nothing after 9
        log = page.evaluate("window.log")
    finally:
        page.close()
    assert [data for data, _ in log] == EXPECTED
    assert [last for _, last in log] == [str(n) for n in range(1, 10)]


def test_htmx_sse_extension_resumes_too(browser: Browser, server: Server) -> None:
    page = open_page(browser, server, HTMX_PAGE % "/sse/resume")
    try:
        page.wait_for_function(
            "document.querySelector('#list').textContent.includes('event 9')"
        )
        page.wait_for_timeout(600)
        items = page.eval_on_selector("#list", "el => el.textContent")
    finally:
        page.close()
    assert items == "".join(EXPECTED)


def test_htmx_last_event_id_query_parameter(browser: Browser, server: Server) -> None:
    # The first request has no Last-Event-ID header: the query parameter is
    # what last_event_id() reads; the reconnects' header then takes over.
    page = open_page(browser, server, HTMX_PAGE % "/sse/resume?lastEventId=6")
    try:
        page.wait_for_function("document.querySelector('#list').textContent.length")
        page.wait_for_timeout(800)
        text = page.eval_on_selector("#list", "el => el.textContent")
    finally:
        page.close()
    assert text == "event 7event 8event 9"
