"""Server settings on PostgreSQL with persistent connections, so a test sees
that the connection a COPY export used is clean for the next request."""

from __future__ import annotations

from tests.support.server_settings_pg import *  # noqa: F403
from tests.support.server_settings_pg import DATABASES

DATABASES = {**DATABASES, "default": {**DATABASES["default"], "CONN_MAX_AGE": None}}
