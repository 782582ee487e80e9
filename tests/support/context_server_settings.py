"""Real-server settings for the request-scope tests: the request is bound and
each request gets its own language, time zone and context variable."""

from __future__ import annotations

from tests.support.server_settings import *  # noqa: F403
from tests.support.server_settings import MIDDLEWARE

MIDDLEWARE = [
    "django_streamkit.middleware.RequestContextMiddleware",
    *MIDDLEWARE,
    "tests.support.context_views.RequestStateMiddleware",
]
