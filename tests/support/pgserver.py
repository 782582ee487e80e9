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
import uuid

import psycopg

from tests.support.servers import ROOT

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
