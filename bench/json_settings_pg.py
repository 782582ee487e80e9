"""Benchmark server settings on PostgreSQL (STREAMKIT_TEST_PGSERVERDB)."""

from __future__ import annotations

from tests.support.server_settings_pg import *  # noqa: F403

ROOT_URLCONF = "bench.json_views"
