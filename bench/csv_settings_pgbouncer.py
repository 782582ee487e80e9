"""Benchmark server settings on PostgreSQL through the tests' PgBouncer
(``STREAMKIT_TEST_PGBOUNCER_PORT``), server-side cursors off."""

from __future__ import annotations

from tests.support.server_settings_pgbouncer import *  # noqa: F403

ROOT_URLCONF = "bench.csv_views"
