"""Broadcast at its edges: Last-Event-IDs no backend can read, closing a
subscription another task is waiting on, and event types the hub reserves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_streamkit.broadcast import publish, subscribe
from tests.test_broadcast import configured, take

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["memory", "redis"])
def store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    yield from configured(request, monkeypatch)


def test_an_id_out_of_the_backends_range_is_reset_and_blocks_no_one(
    store: dict[str, Any],
) -> None:
    # Redis refuses stream ids past 64 bits, and Python ints of over 4,300
    # digits: a client's header must not stop the process's hub.
    head = publish("orders", "only")
    huge = [str(2**64) + "-0", "18446744073709551615-18446744073709551615"]
    if store["BACKEND"] == "memory":
        huge = ["9" * 5000]
    for bogus in huge:
        with subscribe("orders", last_event_id=bogus) as sub:
            reset = take(sub, 1, timeout=5)[0]
            assert (reset.event, reset.id) == ("reset", head)
            after = publish("orders", "next")
            assert take(sub, 1, timeout=5)[0].id == after
        head = after
