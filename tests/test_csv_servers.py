"""CSV exports of a 1,000,000-row PostgreSQL table through real servers.

gunicorn (sync worker) and uvicorn serve ``tests.support.server_settings_pg``, whose
default database is seeded once by ``tests.support.seed`` and kept between runs. Only
a real server shows the serving process's memory, and what a client that
goes away leaves behind in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.pgserver import ROWS, leave_mid_stream, pg_server, settled
from tests.support.seed import export_size, record_line
from tests.support.servers import Server

pytestmark = [pytest.mark.server, pytest.mark.postgres]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, str]]:
    with pg_server(request.param, "streamkit-csv") as running:
        yield running


@pytest.fixture(scope="module")
def expected_size() -> int:
    return export_size(ROWS)


def test_a_million_rows_stream_with_flat_memory(
    server: tuple[Server, str], expected_size: int
) -> None:
    running, app = server
    url = f"{running.url}/csv/records.csv"
    warm = httpx.get(f"{url}?n=3", timeout=60).content  # and warm up
    expected = [record_line(i).rstrip(b"\r\n") for i in (1, 2, 3)]
    assert sorted(warm.splitlines()[1:]) == expected
    baseline = running.reset_peak_rss()
    lines = size = 0
    with httpx.stream("GET", url, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith("attachment;")
        for chunk in response.iter_raw():
            lines += chunk.count(b"\n")
            size += len(chunk)
    growth = running.peak_rss() - baseline
    assert lines == ROWS + 1
    assert size == expected_size
    assert growth < 30 * 1024 * 1024, f"peak RSS grew {growth / 2**20:.1f} MiB"
    assert settled(app) == [], "the connection is closed after the response"


def test_a_client_that_disconnects_leaves_no_cursor_or_transaction(
    server: tuple[Server, str],
) -> None:
    running, app = server
    leave_mid_stream(f"{running.url}/csv/records.csv", app)
    # The worker is free again and the next export starts at once.
    after = httpx.get(f"{running.url}/csv/records.csv?n=10", timeout=30)
    assert after.text.count("\r\n") == 11


def test_an_error_in_the_first_row_is_a_500(server: tuple[Server, str]) -> None:
    running, _ = server
    response = httpx.get(f"{running.url}/csv/failing.csv?at=0", timeout=30)
    assert response.status_code == 500
    assert "ValueError: bad row 0" not in response.text  # DEBUG is off
