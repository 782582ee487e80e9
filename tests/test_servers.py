"""The core against real servers: gunicorn (sync worker) and uvicorn.

Only a real server can show these: when the first bytes leave, what the client
sees on a mid-stream error, what a disconnect does, and the serving process's
memory over a long body.
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

KINDS = ["sync", "async"]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as running:
        yield running


@pytest.mark.parametrize("kind", KINDS)
def test_first_bytes_arrive_while_the_source_sleeps(server: Server, kind: str) -> None:
    start = time.monotonic()
    first_at = None
    body = b""
    with httpx.stream("GET", f"{server.url}/core/slow?kind={kind}", timeout=20) as r:
        assert r.status_code == 200
        assert r.headers["x-accel-buffering"] == "no"
        for chunk in r.iter_raw():
            if chunk and first_at is None:
                first_at = time.monotonic() - start
            body += chunk
    total = time.monotonic() - start
    assert first_at is not None
    assert first_at < 1.5, f"first bytes after {first_at:.2f}s"
    assert total >= PAUSE, "the source sleeps mid-way, so the body ends later"
    assert body.count(b"\n") == 20


@pytest.mark.parametrize("kind", KINDS)
def test_mid_stream_error_is_an_incomplete_transfer_and_is_logged(
    server: Server, kind: str
) -> None:
    received: list[int] = []
    url = f"{server.url}/core/fail?kind={kind}&n=200000"
    with httpx.stream("GET", url, timeout=20) as r:
        assert r.status_code == 200
        chunks = r.iter_raw()
        with pytest.raises(httpx.RemoteProtocolError):
            received.extend(len(chunk) for chunk in chunks)
    assert sum(received) > 65536, "the body started before it broke off"
    deadline = time.monotonic() + 5
    while "boom mid-stream" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log_text()
    assert "ERROR django_streamkit Error while streaming the body" in log
    assert "Traceback" in log
    assert "RuntimeError: boom mid-stream at row 100000" in log


@pytest.mark.parametrize("kind", KINDS)
def test_disconnect_runs_the_sources_finally(server: Server, kind: str) -> None:
    token = uuid.uuid4().hex
    with httpx.stream(
        "GET", f"{server.url}/core/endless?kind={kind}&token={token}", timeout=20
    ) as r:
        received = 0
        for chunk in r.iter_raw():
            received += len(chunk)
            if received > 200:
                break
    # Leaving the block closes the connection mid-body.
    assert server.wait_for_marker(token, timeout=5), "the source's finally did not run"


@pytest.mark.parametrize("kind", KINDS)
def test_peak_rss_stays_flat_over_a_million_rows(server: Server, kind: str) -> None:
    url = f"{server.url}/core/rows?kind={kind}"
    httpx.get(f"{url}&n=20000", timeout=60)  # warm up imports and buffers
    baseline = server.reset_peak_rss()
    size = 0
    with httpx.stream("GET", f"{url}&n=1000000", timeout=120) as r:
        for chunk in r.iter_raw():
            size += len(chunk)
    growth = server.peak_rss() - baseline
    assert size == 1_000_000 * 39
    assert growth < 30 * 1024 * 1024, f"peak RSS grew {growth / 2**20:.1f} MiB"
