"""Broadcast across processes on Redis (the redis backend): the same
publisher, servers and cut-off clients as on PostgreSQL, every client
ending with exactly its channel's events, in order, each once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.broadcast_site import Site, no_loss, start_site
from tests.support.redisserver import drop, private_prefix, redis_url

pytestmark = [pytest.mark.server]


@pytest.fixture(scope="module")
def redis_site() -> Iterator[Site]:
    url, prefix = redis_url(), private_prefix()
    env = {
        "STREAMKIT_TEST_BROADCAST": "redis",
        "STREAMKIT_TEST_REDIS_URL": url,
        "STREAMKIT_TEST_REDIS_PREFIX": prefix,
    }
    try:
        yield from start_site(env)
    finally:
        drop(url, prefix)


def test_no_event_lost_or_repeated_across_servers_on_redis(redis_site: Site) -> None:
    no_loss(redis_site, "0-0")
