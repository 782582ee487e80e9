"""XLSX benchmark server settings on SQLite (the file in STREAMKIT_TEST_SQLITE)."""

from __future__ import annotations

from tests.support.server_settings import *  # noqa: F403

ROOT_URLCONF = "bench.xlsx_views"
