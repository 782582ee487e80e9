"""The PostgreSQL side of the real-server tests: the seeded table and the
server's sessions in ``pg_stat_activity``.

A server started with ``tests.support.server_settings_pg`` (or settings built on it)
reads the ``Record`` table of ``STREAMKIT_TEST_PGSERVERDB``, seeded once by
``tests.support.seed`` and kept between runs, and names its connections with
``STREAMKIT_TEST_PGAPP``. When PostgreSQL is unreachable, :func:`seed` fails
(it raises; nothing here skips).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg

from tests.support.servers import ROOT, Server, serve

ROWS = 1_000_000
SETTINGS = "tests.support.server_settings_pg"


def seed(settings: str = SETTINGS) -> None:
    """Create and fill the server's database unless it already holds ``ROWS``."""
    subprocess.run(
        [sys.executable, "-m", "tests.support.seed", "--rows", str(ROWS)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=300,
    )


def app_name(prefix: str) -> str:
    """A fresh ``application_name``, so one server's sessions can be told apart."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@contextmanager
def pg_server(
    kind: str, prefix: str, *, settings: str = SETTINGS
) -> Iterator[tuple[Server, str]]:
    """A ``kind`` server of ``settings`` over the seeded table, and the
    ``application_name`` (from ``prefix``) its connections go by."""
    seed()
    app = app_name(prefix)
    with serve(
        kind, settings=settings, extra_env={"STREAMKIT_TEST_PGAPP": app}
    ) as running:
        yield running, app


def sessions(app: str) -> list[tuple[str, bool]]:
    """(state, in a transaction) of each connection the server holds."""
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        rows = conn.execute(
            "SELECT state, xact_start IS NOT NULL FROM pg_stat_activity "
            "WHERE application_name = %s",
            [app],
        ).fetchall()
    return [(state, in_transaction) for state, in_transaction in rows]


def settled(app: str) -> list[tuple[str, bool]]:
    """The server's sessions once it holds none, or as they are after 10 s."""
    deadline = time.monotonic() + 10
    while (left := sessions(app)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def leave_mid_stream(url: str, app: str) -> None:
    """Read 256 KiB of ``url``, see the server's session hold its cursor in a
    transaction (what must not outlive the client), then close the connection
    mid-body and see the server let go of every session."""
    received = 0
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        # Hold the iterator: dropping it would close the connection at once.
        chunks = response.iter_raw()
        for chunk in chunks:
            received += len(chunk)
            if received > 256 * 1024:
                break
        held = sessions(app)
        assert held, "the stream's database session is visible"
        assert all(in_transaction for _, in_transaction in held), held
    left = settled(app)
    assert left == [], f"the server still holds {left} after the client left"
