"""Server settings on PostgreSQL with persistent connections, so a test sees
that the connection a COPY export used is clean for the next request;
``STREAMKIT_TEST_PGBOUNCER_PORT`` puts a PgBouncer (transaction mode) between."""

from __future__ import annotations

import os

from tests.support.server_settings_pg import *  # noqa: F403
from tests.support.server_settings_pg import DATABASES

DATABASES = {**DATABASES, "default": {**DATABASES["default"], "CONN_MAX_AGE": None}}

if _port := os.environ.get("STREAMKIT_TEST_PGBOUNCER_PORT"):
    # Through a PgBouncer in transaction mode: no server-side cursors.
    DATABASES["default"] = {
        **DATABASES["default"],
        "PORT": _port,
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
