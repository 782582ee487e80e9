"""Settings of the broadcast benchmark's servers (see bench/bench_broadcast.py)."""

from __future__ import annotations

from tests.support.broadcast_settings import *  # noqa: F403

ROOT_URLCONF = "bench.broadcast_views"
