"""Settings for the broadcast real-server tests and benchmark.

``STREAMKIT_TEST_BROADCAST`` is ``database`` (the ``default`` database is
then PostgreSQL's ``STREAMKIT_TEST_BROADCAST_DB``, its connections named
``STREAMKIT_TEST_PGAPP``) or ``redis`` (``STREAMKIT_TEST_REDIS_URL``, keys
under ``STREAMKIT_TEST_REDIS_PREFIX``).
"""

from __future__ import annotations

import os

from tests.support.server_settings import *  # noqa: F403
from tests.support.server_settings import DATABASES

_backend = os.environ.get("STREAMKIT_TEST_BROADCAST", "database")

if _backend == "database":
    DATABASES = {
        **DATABASES,
        "default": {
            **DATABASES["postgres"],
            "NAME": os.environ.get(
                "STREAMKIT_TEST_BROADCAST_DB", "streamkit_broadcast"
            ),
            "OPTIONS": {
                "application_name": os.environ.get(
                    "STREAMKIT_TEST_PGAPP", "streamkit-broadcast"
                )
            },
        },
    }
    STREAMKIT_BROADCAST = {"BACKEND": "database"}
else:
    STREAMKIT_BROADCAST = {
        "BACKEND": "redis",
        "URL": os.environ.get("STREAMKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "PREFIX": os.environ.get("STREAMKIT_TEST_REDIS_PREFIX", "streamkit-test:"),
        "RETENTION": int(os.environ.get("STREAMKIT_TEST_RETENTION", "1000")),
    }
