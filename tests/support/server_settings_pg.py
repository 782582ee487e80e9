"""Server settings whose ``default`` database is PostgreSQL.

The database (``STREAMKIT_TEST_PGSERVERDB``) is seeded by ``tests.support.seed`` and
kept between runs; ``STREAMKIT_TEST_PGAPP`` names the server's connections in
``pg_stat_activity`` so a test can find them.
"""

from __future__ import annotations

import os

from tests.support.server_settings import *  # noqa: F403
from tests.support.server_settings import DATABASES

DATABASES = {
    **DATABASES,
    "default": {
        **DATABASES["postgres"],
        "NAME": os.environ.get("STREAMKIT_TEST_PGSERVERDB", "streamkit_server"),
        "OPTIONS": {
            "application_name": os.environ.get(
                "STREAMKIT_TEST_PGAPP", "streamkit-server"
            )
        },
    },
}
