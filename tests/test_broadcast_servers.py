"""Broadcast across processes on PostgreSQL (the database backend).

One publisher process sends events on several channels; subscribers read
them through two gunicorn gthread servers and two uvicorn servers (separate
processes, each with its own connections), are cut off at random and
reconnect to any server with Last-Event-ID. Every client must end with
exactly its channel's events, in order, each once. A server holds one
listening connection whatever the number of its subscribers (1,000 on one
uvicorn worker: one session in pg_stat_activity), and none once they leave.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.support.broadcast_site import (
    Site,
    no_loss,
    run_django,
    start_site,
    thousand_subscribers,
)
from tests.support.pgserver import sessions

pytestmark = [pytest.mark.server, pytest.mark.postgres]


def database_name() -> str:
    return os.environ.get("STREAMKIT_TEST_PGTESTDB", "streamkit_test") + "_broadcast"


def admin_connection() -> psycopg.Connection[Any]:
    return psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    )


@pytest.fixture(scope="module")
def postgres_site() -> Iterator[Site]:
    name = database_name()
    with admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {"STREAMKIT_TEST_BROADCAST": "database", "STREAMKIT_TEST_BROADCAST_DB": name}
    run_django(env, "-m", "django", "migrate", "streamkit", "--noinput")
    try:
        yield from start_site(env)
    finally:
        with admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_sessions(app: str, most: int, timeout: float = 15) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = sessions(app)
        if len(found) <= most or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_no_event_lost_or_repeated_across_servers_on_postgres(
    postgres_site: Site,
) -> None:
    no_loss(postgres_site, "0")
    # Every server let go of its listening connection once its clients left.
    for app in postgres_site.apps:
        assert wait_for_sessions(app, 0) == []


def test_a_thousand_subscribers_share_one_listening_connection(
    postgres_site: Site,
) -> None:
    server, app = postgres_site.servers[2], postgres_site.apps[2]
    assert server.kind == "uvicorn"
    channel = f"many-{uuid.uuid4().hex[:8]}"
    postgres_site.publish([channel], 1)

    def opened() -> int:
        held = sessions(app)
        # With 1,000 open streams, the second event is published now.
        threading.Thread(target=postgres_site.publish, args=([channel], 1)).start()
        return len(held)

    held, received = asyncio.run(
        thousand_subscribers(f"{server.url}/broadcast/{channel}", 1000, opened)
    )
    assert held == 1  # one LISTEN connection for 1,000 subscribers
    assert received == 1000
    assert wait_for_sessions(app, 0) == []  # and none once they have gone
