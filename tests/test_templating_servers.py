"""Streamed templates against real servers: gunicorn (sync worker) and uvicorn.

Each case names a URL per server: a sync view (Jinja2 sync engine, and the
``enable_async`` engine driven for a sync caller) under both; under uvicorn
also the async view, with the async engine rendering natively on the loop
and with the sync engine on the request's worker thread.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import Server, serve
from tests.support.views import PAUSE

pytestmark = pytest.mark.server

VIEWS = {
    "gunicorn": ["table?", "table?engine=jinja2_async&"],
    "uvicorn": [
        "table?",
        "async-table?engine=jinja2_async&source=agen&",
        "async-table?engine=jinja2&",
    ],
}
CASES = [(kind, view) for kind, views in VIEWS.items() for view in views]


@pytest.fixture(scope="module", params=list(VIEWS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as running:
        yield running


def views(server: Server) -> list[str]:
    return [f"{server.url}/templates/{view}" for view in VIEWS[server.kind]]


def test_first_bytes_arrive_while_the_rows_pause(server: Server) -> None:
    for url in views(server):
        start = time.monotonic()
        first_at = None
        body = b""
        with httpx.stream("GET", f"{url}n=200&sleep_after=100", timeout=20) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "text/html; charset=utf-8"
            assert "csrftoken=" in r.headers["set-cookie"]
            for chunk in r.iter_raw():
                if chunk and first_at is None:
                    first_at = time.monotonic() - start
                    # Rendered up to the first row, which the view fetched.
                    assert b'<table id="rows">\n<tr id="r' in chunk, url
                body += chunk
        total = time.monotonic() - start
        assert first_at is not None
        assert first_at < 1.5, f"{url}: first bytes after {first_at:.2f}s"
        assert total >= PAUSE, "the rows pause mid-way, so the page ends later"
        assert body.count(b"<tr ") == 200
        assert body.rstrip().endswith(b"</html>")


def test_error_before_the_first_piece_is_a_500(server: Server) -> None:
    for url in views(server):
        response = httpx.get(f"{url}n=50&fail_after=0", timeout=20)
        assert response.status_code == 500, url
        assert b"<tr" not in response.content


def test_mid_stream_error_is_an_incomplete_transfer_and_is_logged(
    server: Server,
) -> None:
    for url in views(server):
        received = 0
        with (  # noqa: PT012
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream("GET", f"{url}n=40000&fail_after=20000", timeout=20) as r,
        ):
            assert r.status_code == 200
            for chunk in r.iter_raw():
                received += len(chunk)
        assert received > 0, url
    deadline = time.monotonic() + 5
    expected = len(views(server))
    while (
        server.log_text().count("row 20000") < expected and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    log = server.log_text()
    assert (
        log.count("ERROR django_streamkit Error while streaming the body") >= expected
    )
    assert (
        log.count("RuntimeError: boom in the template's rows at row 20000") == expected
    )
    assert 'table.html", line' in log  # the template's frame in the traceback


def test_disconnect_runs_the_rows_finally(server: Server) -> None:
    for url in views(server):
        token = uuid.uuid4().hex
        with httpx.stream("GET", f"{url}n=1000000&token={token}", timeout=20) as r:
            received = 0
            for chunk in r.iter_raw():
                received += len(chunk)
                if received > 100_000:
                    break
        assert server.wait_for_marker(token, timeout=5), f"{url}: no finally"
