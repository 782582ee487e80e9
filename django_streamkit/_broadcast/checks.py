"""System checks for broadcast.

streamkit.E070  STREAMKIT_BROADCAST is not a dict, has an unknown key, or
                names an unknown BACKEND.
streamkit.E071  A STREAMKIT_BROADCAST value is of the wrong kind: RETENTION
                not a positive integer, POLL_INTERVAL not a positive number,
                DATABASE no alias of DATABASES, URL or PREFIX not a str.
streamkit.E072  The redis backend's server does not answer at URL (or the
                redis package is not installed).
streamkit.W073  The database backend's tables are missing from a database
                that has been migrated (streamkit's migration not run):
                publishing fails until they exist. A warning, so that
                ``migrate`` itself is not stopped by it; a database never
                migrated is left to Django's "unapplied migrations".
streamkit.W074  The database backend's alias has DISABLE_SERVER_SIDE_CURSORS,
                Django's setting for transaction pooling (PgBouncer), where
                LISTEN is accepted but no notification ever arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db import connections

from django_streamkit.conf import BROADCAST_DEFAULTS

BACKENDS = ("database", "redis", "memory")


def check_broadcast(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[checks.CheckMessage]:
    raw = getattr(settings, "STREAMKIT_BROADCAST", {})
    if not isinstance(raw, dict):
        return [_error("E070", f"STREAMKIT_BROADCAST is {raw!r}; it must be a dict.")]
    unknown = sorted(set(raw) - set(BROADCAST_DEFAULTS))
    if unknown:
        return [
            _error(
                "E070",
                f"STREAMKIT_BROADCAST has unknown keys {unknown}; the keys are "
                f"{', '.join(BROADCAST_DEFAULTS)}.",
            )
        ]
    config = {**BROADCAST_DEFAULTS, **raw}
    if config["BACKEND"] not in BACKENDS:
        return [
            _error(
                "E070",
                f'STREAMKIT_BROADCAST["BACKEND"] is {config["BACKEND"]!r}; choose '
                f"one of {', '.join(map(repr, BACKENDS))}.",
            )
        ]
    errors = _check_values(config)
    if errors:
        return errors
    if config["BACKEND"] == "redis":
        return _check_redis(config)
    if config["BACKEND"] == "database":
        return _check_pooling(config["DATABASE"]) + _check_tables(config["DATABASE"])
    return []


def _check_pooling(alias: str) -> list[checks.CheckMessage]:
    database = cast("dict[str, Any]", settings.DATABASES[alias])
    engine = str(database.get("ENGINE", ""))
    if "postgresql" not in engine or not database.get("DISABLE_SERVER_SIDE_CURSORS"):
        return []
    return [
        checks.Warning(
            f"The database broadcast backend listens on the {alias!r} database, "
            "which sets DISABLE_SERVER_SIDE_CURSORS, as behind PgBouncer in "
            "transaction mode: there LISTEN is accepted but no notification "
            "arrives, so subscribers would wait for events that never come.",
            hint='Point STREAMKIT_BROADCAST["DATABASE"] at an alias that connects '
            "to PostgreSQL directly (or through a session-mode pool).",
            id="streamkit.W074",
        )
    ]


def _check_values(config: dict[str, Any]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    retention = config["RETENTION"]
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 1:
        errors.append(
            _error(
                "E071",
                f'STREAMKIT_BROADCAST["RETENTION"] is {retention!r}; it must be a '
                f"positive integer (events kept per channel).",
            )
        )
    poll = config["POLL_INTERVAL"]
    if not isinstance(poll, int | float) or isinstance(poll, bool) or not poll > 0:
        errors.append(
            _error(
                "E071",
                f'STREAMKIT_BROADCAST["POLL_INTERVAL"] is {poll!r}; it must be a '
                f"positive number of seconds.",
            )
        )
    if config["DATABASE"] not in settings.DATABASES:
        errors.append(
            _error(
                "E071",
                f'STREAMKIT_BROADCAST["DATABASE"] is {config["DATABASE"]!r}, which '
                f"is not in DATABASES ({', '.join(settings.DATABASES)}).",
            )
        )
    for key in ("URL", "PREFIX"):
        if not isinstance(config[key], str):
            errors.append(
                _error(
                    "E071",
                    f'STREAMKIT_BROADCAST["{key}"] is {config[key]!r}; it must be '
                    f"a str.",
                )
            )
    return errors


def _check_redis(config: dict[str, Any]) -> list[checks.CheckMessage]:
    try:
        import redis
    except ImportError:
        return [
            _error(
                "E072",
                'STREAMKIT_BROADCAST["BACKEND"] is "redis", but the redis '
                "package is not installed: pip install redis.",
            )
        ]
    url = config["URL"]
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        return [
            _error(
                "E072",
                f'The redis broadcast backend cannot reach STREAMKIT_BROADCAST["URL"] '
                f"{url!r}: {exc}. Start Redis there, or point URL at it.",
            )
        ]
    return []


def _check_tables(alias: str) -> list[checks.CheckMessage]:
    from django_streamkit.models import Channel, Event

    try:
        with connections[alias].cursor() as cursor:
            tables = set(connections[alias].introspection.table_names(cursor))
    except Exception:
        # An unreachable database (or one a test blocks) is Django's to report.
        return []
    if "django_migrations" not in tables:
        return []  # never migrated: Django's "unapplied migrations" says it all
    missing = [
        m._meta.db_table for m in (Channel, Event) if m._meta.db_table not in tables
    ]
    if not missing:
        return []
    return [
        checks.Warning(
            f"The database broadcast backend's tables {missing} are missing from "
            f"the {alias!r} database, so publish() and subscribe() fail.",
            hint=f"Run 'manage.py migrate streamkit --database {alias}'.",
            id="streamkit.W073",
        )
    ]


def _error(code: str, message: str) -> checks.Error:
    hint = "See STREAMKIT_BROADCAST in docs/broadcast.md."
    return checks.Error(message, hint=hint, id=f"streamkit.{code}")
