"""COPY exports of the 1,000,000-row PostgreSQL table through real servers.

gunicorn (sync worker) and uvicorn serve ``tests.support.copy_server_settings``
(persistent connections), so what a COPY leaves on its connection is there
to see in ``pg_stat_activity`` after the response.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.support.pgserver import pg_server
from tests.support.seed import export_size
from tests.support.servers import Server

pytestmark = [pytest.mark.server, pytest.mark.postgres]

SETTINGS = "tests.support.copy_server_settings"


def activity(app: str) -> list[tuple[int, str, bool, str]]:
    """(pid, state, in a transaction, query) of each connection the server holds."""
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        return conn.execute(
            "SELECT pid, state, xact_start IS NOT NULL, query FROM pg_stat_activity "
            "WHERE application_name = %s",
            [app],
        ).fetchall()


def copying(app: str) -> bool:
    return any(
        state == "active" and query.startswith("COPY (SELECT")
        for _, state, _, query in activity(app)
    )


def settle(app: str) -> list[tuple[int, str, bool, str]]:
    """The server's connections once none is busy (10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        held = activity(app)
        if all(state == "idle" and not in_tx for _, state, in_tx, _ in held):
            return held
        time.sleep(0.1)
    return activity(app)


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, str]]:
    with pg_server(request.param, "streamkit-copy", settings=SETTINGS) as running:
        yield running


def test_the_copy_export_is_the_python_export_byte_for_byte(
    server: tuple[Server, str],
) -> None:
    running, _ = server
    copied = httpx.get(f"{running.url}/copy/records.csv?n=20000", timeout=60)
    python = httpx.get(f"{running.url}/copy/records-python.csv?n=20000", timeout=60)
    assert copied.status_code == python.status_code == 200
    assert copied.headers["content-type"] == python.headers["content-type"]
    assert copied.content == python.content
    assert copied.content.count(b"\r\n") == 20001


def test_rows_stream_from_copy_with_flat_memory(
    server: tuple[Server, str],
) -> None:
    running, app = server
    baseline = running.reset_peak_rss()
    size = 0
    streaming_while_copying = None
    with httpx.stream(
        "GET", f"{running.url}/copy/records.csv?n=300000", timeout=120
    ) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            if streaming_while_copying is None:
                # The first bytes arrive while PostgreSQL is still copying.
                streaming_while_copying = copying(app)
            size += len(chunk)
    growth = running.peak_rss() - baseline
    assert streaming_while_copying
    assert size == export_size(300_000)
    assert growth < 30 * 1024 * 1024, f"peak RSS grew {growth / 2**20:.1f} MiB"


def test_a_disconnect_cancels_the_copy_and_the_connection_stays_clean(
    server: tuple[Server, str],
) -> None:
    running, app = server
    received = 0
    with httpx.stream("GET", f"{running.url}/copy/records.csv", timeout=30) as r:
        chunks = r.iter_raw()  # held: dropping it would close the connection
        for chunk in chunks:
            received += len(chunk)
            if received > 256 * 1024:
                break
        assert copying(app), "mid-export, the COPY runs on the server"
    held = settle(app)
    assert held, "the persistent connection is kept"
    assert all(state == "idle" and not in_tx for _, state, in_tx, _ in held), (
        f"the COPY was cancelled and its connection is clean: {held}"
    )
    # The next export, on the kept connection, starts at once.
    after = httpx.get(f"{running.url}/copy/records.csv?n=10", timeout=30)
    assert after.content.count(b"\r\n") == 11


def test_an_error_mid_copy_aborts_the_transfer_and_is_logged(
    server: tuple[Server, str],
) -> None:
    running, app = server
    received: list[int] = []
    with httpx.stream(
        "GET", f"{running.url}/copy/failing.csv?at=50000", timeout=60
    ) as r:
        assert r.status_code == 200
        chunks = r.iter_raw()
        with pytest.raises(httpx.RemoteProtocolError):
            received.extend(len(chunk) for chunk in chunks)
    assert sum(received) > 64 * 1024, "the body started before it broke off"
    deadline = time.monotonic() + 5
    while "division by zero" not in running.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "DivisionByZero: division by zero" in running.log_text()
    held = settle(app)
    assert all(state == "idle" and not in_tx for _, state, in_tx, _ in held), held
