"""COPY exports through a real PgBouncer in transaction pooling mode.

COPY is one statement, so it needs neither a server-side cursor nor a
transaction held across statements: behind a transaction-mode bouncer (and
``DISABLE_SERVER_SIDE_CURSORS``) an export still streams from the database.
gunicorn serves ``tests.support.copy_server_settings`` with its ``default``
database through the bouncer; the backends are found by the bouncer's
``SHOW SERVERS`` in ``pg_stat_activity``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.support.pgbouncer import Bouncer, pgbouncer  # noqa: F401 (a fixture)
from tests.support.pgserver import seed
from tests.support.servers import Server, serve

pytestmark = [pytest.mark.server, pytest.mark.postgres]


def backends(bouncer: Bouncer) -> list[tuple[str, bool, str]]:
    """(state, in a transaction, query) of each PostgreSQL backend the bouncer holds."""
    pids = list(bouncer.server_pids())
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        return conn.execute(
            "SELECT state, xact_start IS NOT NULL, query FROM pg_stat_activity "
            "WHERE pid = ANY(%s)",
            [pids],
        ).fetchall()


@pytest.fixture(scope="module")
def server(pgbouncer: Bouncer) -> Iterator[Server]:  # noqa: F811
    seed()
    with serve(
        "gunicorn",
        settings="tests.support.copy_server_settings",
        extra_env={"STREAMKIT_TEST_PGBOUNCER_PORT": str(pgbouncer.port)},
    ) as running:
        yield running


def test_an_export_through_the_bouncer_is_a_copy_with_the_python_bytes(
    server: Server,
    pgbouncer: Bouncer,  # noqa: F811
) -> None:
    copied = httpx.get(f"{server.url}/copy/records.csv?n=20000", timeout=60)
    assert copied.status_code == 200
    assert any(query.startswith("COPY (SELECT") for _, _, query in backends(pgbouncer))
    python = httpx.get(f"{server.url}/copy/records-python.csv?n=20000", timeout=60)
    assert copied.content == python.content
    assert copied.content.count(b"\r\n") == 20001


def test_a_disconnect_through_the_bouncer_cancels_the_copy(
    server: Server,
    pgbouncer: Bouncer,  # noqa: F811
) -> None:
    received = 0
    with httpx.stream("GET", f"{server.url}/copy/records.csv", timeout=30) as r:
        chunks = r.iter_raw()  # held: dropping it would close the connection
        for chunk in chunks:
            received += len(chunk)
            if received > 256 * 1024:
                break
        assert any(
            state == "active" and query.startswith("COPY (SELECT")
            for state, _, query in backends(pgbouncer)
        ), "mid-export, the COPY runs on a backend behind the bouncer"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        held = backends(pgbouncer)
        if all(state == "idle" and not in_tx for state, in_tx, _ in held):
            break
        time.sleep(0.1)
    assert all(state == "idle" and not in_tx for state, in_tx, _ in held), held
    after = httpx.get(f"{server.url}/copy/records.csv?n=10", timeout=30)
    assert after.content.count(b"\r\n") == 11
