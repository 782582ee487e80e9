"""Server settings whose ``default`` database (the seeded one of
``server_settings_pg``) is reached through the tests' PgBouncer
(``STREAMKIT_TEST_PGBOUNCER_PORT``), with server-side cursors off as
transaction pooling needs."""

from __future__ import annotations

import os

from tests.support.server_settings_pg import *  # noqa: F403
from tests.support.server_settings_pg import DATABASES

DATABASES = {
    **DATABASES,
    "default": {
        **DATABASES["default"],
        "PORT": os.environ.get("STREAMKIT_TEST_PGBOUNCER_PORT", "6432"),
        "DISABLE_SERVER_SIDE_CURSORS": True,
    },
}
