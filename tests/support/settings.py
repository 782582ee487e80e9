"""Minimal settings for the test suite (and, via server_settings, real servers)."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_streamkit",
    "tests.support.testapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.support.urls"
LOGIN_URL = "admin:login"  # tests.support.urls has no accounts/ (see streamkit.W050)

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("STREAMKIT_TEST_SQLITE", ":memory:"),
    },
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("STREAMKIT_TEST_PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("STREAMKIT_TEST_PGPORT", "5432"),
        "NAME": os.environ.get("STREAMKIT_TEST_PGDATABASE", "test"),
        "USER": os.environ.get("STREAMKIT_TEST_PGUSER", "postgres"),
        "TEST": {"NAME": os.environ.get("STREAMKIT_TEST_PGTESTDB", "streamkit_test")},
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["tests.support.context_processors.site"]},
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    },
    {
        # The same templates, rendered natively async (generate_async).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2_async",
        "DIRS": [BASE_DIR / "jinja2"],
        "OPTIONS": {
            "enable_async": True,
            "context_processors": ["tests.support.context_processors.site"],
        },
    },
]

STATIC_URL = "/static/"
