"""Settings for the real servers the tests start (gunicorn, uvicorn)."""

from __future__ import annotations

import os

from tests.support.settings import *  # noqa: F403

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "file": {
            "class": "logging.FileHandler",
            "filename": os.environ.get("STREAMKIT_TEST_LOG", os.devnull),
            "formatter": "plain",
        }
    },
    "loggers": {"django_streamkit": {"handlers": ["file"], "level": "INFO"}},
}

# STREAMKIT_TEST_GZIP=streamkit|django puts that GZipMiddleware first.
_gzip = {
    "streamkit": "django_streamkit.middleware.GZipMiddleware",
    "django": "django.middleware.gzip.GZipMiddleware",
}.get(os.environ.get("STREAMKIT_TEST_GZIP", ""))
if _gzip:
    MIDDLEWARE = [_gzip, *MIDDLEWARE]  # noqa: F405
