"""The PgBouncer the tests run (tests/support/pgbouncer.py) pools by transaction."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.pgbouncer import Bouncer, pgbouncer  # noqa: F401 (a fixture)

pytestmark = pytest.mark.postgres


def test_the_bouncer_pools_by_transaction(pgbouncer: Bouncer) -> None:  # noqa: F811
    with psycopg.connect(pgbouncer.dsn("pgbouncer"), autocommit=True) as admin:
        cursor = admin.cursor()
        cursor.execute("SHOW CONFIG")
        config = {row[0]: row[1] for row in cursor}
    assert config["pool_mode"] == "transaction"
    with psycopg.connect(pgbouncer.dsn("test"), autocommit=True) as conn:
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
    assert pgbouncer.server_pids()
