"""The redis backend's hub when its link to Redis goes silent (half-open:
nothing arrives, nothing is closed): its blocking read is bounded, so it
notices, reconnects, and resumes from the last id it had, every event once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from django_streamkit._broadcast import hub as hub_module
from django_streamkit._broadcast import redis as redis_module
from django_streamkit._broadcast.redis import RedisBackend
from django_streamkit.broadcast import subscribe
from tests.support.redisserver import drop, private_prefix, redis_url
from tests.support.tcpproxy import Proxy, proxy
from tests.test_broadcast import stop_hubs, take

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Proxy, RedisBackend]]:
    monkeypatch.setattr(hub_module, "LINGER", 0.05)
    # Seconds a read may take past its BLOCK: short here, to keep it fast.
    monkeypatch.setattr(redis_module, "READ_SLACK", 1.0)
    url, prefix = redis_url(), private_prefix()
    parts = urlsplit(url)
    with proxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as running:
        # A timeout of an hour, as a URL may ask (and as good as the none of
        # redis-py before 8): the hub's read must be bounded by itself.
        via = f"redis://127.0.0.1:{running.port}{parts.path}?socket_timeout=3600"
        direct = RedisBackend(url, prefix, 1000)
        config: dict[str, Any] = {"BACKEND": "redis", "URL": via, "PREFIX": prefix}
        try:
            with override_settings(STREAMKIT_BROADCAST=config):
                yield running, direct
                stop_hubs()
        finally:
            drop(url, prefix)


def test_a_silent_link_is_noticed_and_the_hub_resumes_without_loss(
    link: tuple[Proxy, RedisBackend],
) -> None:
    silent, direct = link
    with subscribe("orders") as sub:
        for _ in range(10):  # until the hub has admitted it
            if next(sub) is None and sub.live:
                break
        before = direct.publish("orders", None, '"before"')
        assert take(sub, 1, timeout=5)[0].id == before
        time.sleep(0.2)  # the hub is back in its blocking read
        assert silent.silence() >= 1
        # Published meanwhile, straight to Redis: the hub's read never ends
        # by itself, as the link neither answers nor closes.
        during = [direct.publish("orders", None, str(n)) for n in range(3)]
        events = take(sub, 3, timeout=15)
        assert [e.id for e in events] == during
        after = direct.publish("orders", None, '"after"')
        assert take(sub, 1, timeout=5)[0].id == after
