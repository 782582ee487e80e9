"""Benchmark server settings for event streams."""

from __future__ import annotations

from tests.support.server_settings import *  # noqa: F403

ROOT_URLCONF = "bench.sse_views"
