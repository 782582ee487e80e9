"""The soak's server: PostgreSQL as ``default`` (``tests.support.server_settings_pg``),
the soak's URLs, and a fixed signed-in user, so the export needs no session
or user tables and no request touches the database unless its kind does.
Smaller chunks than the default, so each body leaves in several and a client
that goes away is noticed mid-source.
"""

from __future__ import annotations

from tests.support.server_settings_pg import *  # noqa: F403
from tests.support.server_settings_pg import MIDDLEWARE

ROOT_URLCONF = "tests.support.soak_urls"
MIDDLEWARE = [*MIDDLEWARE, "tests.support.soak_views.soak_user"]

STREAMKIT_CHUNK_SIZE = 4 * 1024
STREAMKIT_QUERYSET_CHUNK_SIZE = 250
