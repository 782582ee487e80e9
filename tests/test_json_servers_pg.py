"""JSON of a 1,000,000-row PostgreSQL table through real servers.

gunicorn (sync worker) and uvicorn serve ``tests.support.server_settings_pg``,
whose table is seeded once by ``tests.support.seed`` (shared with the CSV
server tests). Only a real server shows the serving process's memory, and
what a client that goes away leaves behind in PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.pgserver import ROWS, leave_mid_stream, pg_server, settled
from tests.support.servers import Server

pytestmark = [pytest.mark.server, pytest.mark.postgres]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, str]]:
    with pg_server(request.param, "streamkit-json") as running:
        yield running


def test_a_million_rows_stream_with_flat_memory(server: tuple[Server, str]) -> None:
    running, app = server
    url = f"{running.url}/json/records.json"
    warm = httpx.get(f"{url}?n=2", timeout=60).json()  # and warm up
    assert [row["id"] for row in warm] == [1, 2]
    assert warm[0] == {
        "id": 1,
        "name": "Customer 1",
        "email": "user1@example.com",
        "city": "City 1",
        "status": "paid",
        "quantity": 1,
        "amount": "0.01",
        "created": "2024-01-01T00:00:01Z",
    }
    baseline = running.reset_peak_rss()
    ids = 0
    tail = carry = b""
    with httpx.stream("GET", url, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        for chunk in response.iter_raw():
            # A row's start may be cut between two chunks.
            ids += (carry + chunk).count(b'{"id":')
            carry = chunk[-5:]
            tail = (tail + chunk)[-200:]
    growth = running.peak_rss() - baseline
    assert ids == ROWS
    assert tail.endswith(b"}]")  # the whole array, closed
    last = json.loads(b"{" + tail.rpartition(b",{")[2].removesuffix(b"]"))
    assert list(last) == list(warm[0])
    assert growth < 30 * 1024 * 1024, f"peak RSS grew {growth / 2**20:.1f} MiB"
    assert settled(app) == [], "the connection is closed after the response"


def test_a_client_that_disconnects_leaves_no_cursor_or_transaction(
    server: tuple[Server, str],
) -> None:
    running, app = server
    leave_mid_stream(f"{running.url}/json/records.json?format=ndjson", app)
    after = httpx.get(f"{running.url}/json/records.json?n=10&format=ndjson", timeout=30)
    assert after.text.count("\n") == 10
