"""Settings for the server matrix: every server, streamkit's middleware on."""

from __future__ import annotations

from tests.support.server_settings import *  # noqa: F403
from tests.support.server_settings import MIDDLEWARE

MIDDLEWARE = [
    "django_streamkit.middleware.ASGIStreamingMiddleware",
    "django_streamkit.middleware.RequestContextMiddleware",
    *MIDDLEWARE,
]
