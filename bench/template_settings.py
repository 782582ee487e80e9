"""Settings for bench_templates' Django server: the tests' server settings."""

from __future__ import annotations

from tests.support.server_settings import *  # noqa: F403

ROOT_URLCONF = "bench.template_django"
