"""The broadcast system checks: settings, Redis, the database tables."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core import checks
from django.db import connection
from django.test import override_settings

from django_streamkit._broadcast.checks import check_broadcast
from tests.support.redisserver import redis_url


def ids(config: Any) -> list[str]:
    with override_settings(STREAMKIT_BROADCAST=config):
        found = check_broadcast()
        registered = [m.id for m in checks.run_checks() if m.id and "E07" in m.id]
    assert registered == [m.id for m in found if m.id and "E07" in m.id]
    return [str(m.id) for m in found]


@pytest.mark.parametrize(
    ("config", "check_id", "words"),
    [
        ("redis", "streamkit.E070", "must be a dict"),
        ({"BACKEND": "kafka"}, "streamkit.E070", "'kafka'; choose one of"),
        ({"BACKNED": "redis"}, "streamkit.E070", "unknown keys ['BACKNED']"),
        ({"BACKEND": "memory", "RETENTION": 0}, "streamkit.E071", "RETENTION"),
        ({"BACKEND": "memory", "POLL_INTERVAL": "1"}, "streamkit.E071", "POLL"),
        ({"BACKEND": "memory", "DATABASE": "nope"}, "streamkit.E071", "'nope'"),
        ({"BACKEND": "redis", "URL": 6379}, "streamkit.E071", '["URL"] is 6379'),
    ],
)
def test_bad_settings_are_reported_by_id(
    config: Any, check_id: str, words: str
) -> None:
    with override_settings(STREAMKIT_BROADCAST=config):
        found = check_broadcast()
    assert [m.id for m in found] == [check_id]
    assert words in found[0].msg


def test_an_unreachable_redis_is_an_error() -> None:
    from tests.support.servers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(STREAMKIT_BROADCAST={"BACKEND": "redis", "URL": url}):
        found = check_broadcast()
    assert [m.id for m in found] == ["streamkit.E072"]
    assert url in found[0].msg


def test_a_reachable_redis_passes() -> None:
    assert ids({"BACKEND": "redis", "URL": redis_url()}) == []


@pytest.mark.django_db(transaction=True)
def test_missing_tables_are_a_warning_naming_migrate() -> None:
    assert ids({}) == []  # migrated
    with connection.schema_editor() as editor:
        from django_streamkit.models import Event

        editor.delete_model(Event)
    try:
        with override_settings(STREAMKIT_BROADCAST={}):
            found = check_broadcast()
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(Event)
    assert [m.id for m in found] == ["streamkit.W073"]
    assert "streamkit_broadcast_event" in found[0].msg
    assert "migrate streamkit" in str(found[0].hint)


def test_the_default_configuration_passes_without_a_database() -> None:
    # Outside a database test the query is refused; the check stays quiet.
    assert ids({}) == []


def test_an_alias_set_up_for_transaction_pooling_is_warned_of(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {"BACKEND": "database", "DATABASE": "postgres"}
    assert "streamkit.W074" not in ids(config)
    pooled = settings.DATABASES["postgres"]
    monkeypatch.setitem(pooled, "DISABLE_SERVER_SIDE_CURSORS", True)
    with override_settings(STREAMKIT_BROADCAST=config):
        found = check_broadcast()
    (warning,) = [m for m in found if m.id == "streamkit.W074"]
    assert "'postgres'" in warning.msg
    assert "LISTEN is accepted but no notification" in warning.msg
