"""Broadcast at its edges: Last-Event-IDs no backend can read, closing a
subscription another task is waiting on, and event types the hub reserves."""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import resource
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.test import override_settings

from django_streamkit._broadcast import hub as hub_module
from django_streamkit._broadcast import memory
from django_streamkit.broadcast import Subscription, get_backend, publish, subscribe
from tests.test_broadcast import configured, stop_hubs, take

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


def test_aclose_wakes_the_task_waiting_for_the_next_event() -> None:
    async def main() -> None:
        sub = subscribe("orders")
        waiting = asyncio.ensure_future(sub.__anext__())
        while not sub.live:
            await asyncio.sleep(0.01)
        await sub.aclose()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 3)

    memory.clear()
    with override_settings(STREAMKIT_BROADCAST={"BACKEND": "memory"}):
        asyncio.run(main())


def test_close_from_another_thread_wakes_an_async_subscriber() -> None:
    async def main() -> None:
        sub = subscribe("orders")
        waiting = asyncio.ensure_future(sub.__anext__())
        while not sub.live:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(sub.close)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 3)

    memory.clear()
    with override_settings(STREAMKIT_BROADCAST={"BACKEND": "memory"}):
        asyncio.run(main())


def test_publish_refuses_the_reset_event_type() -> None:
    # A published "reset" would make clients drop their state, and pass
    # through every EventChannel.filter_event unfiltered.
    with (
        override_settings(STREAMKIT_BROADCAST={"BACKEND": "memory"}),
        pytest.raises(ValueError, match="event='reset' is reserved"),
    ):
        publish("orders", {"secret": 1}, event="reset")


def test_publish_waits_for_a_transaction_on_another_alias() -> None:
    # The request's transaction (ATOMIC_REQUESTS) is on "default", the
    # broadcast's DATABASE a direct alias: the event must wait for it.
    memory.clear()
    config = {"BACKEND": "memory", "DATABASE": "postgres"}
    with override_settings(STREAMKIT_BROADCAST=config):
        with pytest.raises(ZeroDivisionError):  # noqa: PT012, SIM117
            with transaction.atomic():
                assert publish("orders", "rolled back") is None
                1 / 0  # noqa: B018
        with transaction.atomic():
            assert publish("orders", "committed") is None
            assert get_backend().head("orders") == "0"
        assert get_backend().read("orders", "0").records[0].data == "committed"
        assert get_backend().head("orders") == "1"


@pytest.mark.postgres
def test_a_psycopg_that_loses_notifications_is_refused_by_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg

    from django_streamkit._broadcast.database import DatabaseBackend

    monkeypatch.setattr(psycopg, "__version__", "3.2.3")
    with pytest.raises(ImproperlyConfigured, match=r"psycopg 3\.2\.3, which loses"):
        DatabaseBackend("postgres", 10, 1.0)._listen()


def test_a_rolled_back_savepoint_drops_only_its_own_events() -> None:
    memory.clear()
    with override_settings(STREAMKIT_BROADCAST={"BACKEND": "memory"}):
        with transaction.atomic():
            publish("orders", "outer")
            with pytest.raises(ZeroDivisionError):  # noqa: PT012, SIM117
                with transaction.atomic():
                    publish("orders", "savepoint")
                    1 / 0  # noqa: B018
            publish("orders", "after the savepoint")
        records = get_backend().read("orders", "0").records
    assert [r.data for r in records] == ["outer", "after the savepoint"]


def test_a_subscription_dropped_unclosed_leaves_its_hub(
    store: dict[str, Any],
) -> None:
    sub = subscribe("orders")
    assert next(sub) is None
    assert sub.live
    (hub,) = hub_module.hubs()
    del sub
    gc.collect()
    assert hub.channels == {}
    assert not hub.joining
    hub.thread.join(timeout=5)  # and it ends after its linger
    assert not hub.thread.is_alive()


@pytest.mark.parametrize("backend", ["memory", "database"])
def test_an_empty_event_type_is_refused_on_every_backend(backend: str) -> None:
    # Redis refused it, the database stored it as none and memory sent
    # "event: ": code tested on one backend behaved otherwise on another.
    with (
        override_settings(STREAMKIT_BROADCAST={"BACKEND": backend}),
        pytest.raises(ValueError, match="event='' is not an event type"),
    ):
        publish("orders", 1, event="")


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_the_listen_socket_may_be_past_select_s_1024_descriptors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A worker serving a thousand streams holds a thousand sockets: the hub's
    # connection, opened after them, gets a descriptor select() refuses.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1200, hard), hard))
    monkeypatch.setattr(hub_module, "LINGER", 0.05)
    held = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.dup(0))
        with (
            override_settings(
                STREAMKIT_BROADCAST={"BACKEND": "database", "DATABASE": "postgres"}
            ),
            subscribe("orders") as sub,
        ):
            assert next(sub) is None
            assert sub.live
            sent = publish("orders", "past 1024")
            assert take(sub, 1, timeout=5)[0].id == sent
        # Not by the hub failing, reconnecting and reading every channel.
        assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
    finally:
        for fd in held:
            os.close(fd)
        stop_hubs()


def live(subscription: Subscription) -> None:
    """Iterate until the hub has admitted it (a bounded wait)."""
    for _ in range(10):
        assert next(subscription) is None
        if subscription.live:
            return
    raise AssertionError(f"{subscription} never went live")


def test_a_subscriber_whose_start_fails_is_ended_and_blocks_no_one(
    store: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kind = type(get_backend())
    read = kind.read

    def failing_read(self: Any, channel: str, after: str) -> Any:
        if channel == "poisoned":
            raise RuntimeError("its replay cannot be read")
        return read(self, channel, after)

    monkeypatch.setattr(kind, "read", failing_read)
    publish("poisoned", "unreadable")
    with subscribe("orders") as good:
        live(good)
        start = "0-0" if store["BACKEND"] == "redis" else "0"
        with subscribe("poisoned", last_event_id=start) as bad:
            # Its start fails on the hub's thread: it ends, with the error
            # logged (so an EventSource reconnects), and the others still get
            # their events: the hub does not retry it forever.
            got = list(itertools.islice(bad, 5))
            assert len(got) < 5
            assert not any(got)
            sent = [publish("orders", n) for n in range(3)]
            assert [e.id for e in take(good, 3, timeout=5)] == sent
    assert "its replay cannot be read" in caplog.text


def test_a_subscriber_whose_delivery_raises_is_ended_and_the_others_get_all(
    store: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with subscribe("orders") as bad, subscribe("orders") as good:
        # The failing one first: the hub hands a batch out in join order.
        live(bad)
        live(good)
        assert bad._listener is not None

        def refuse(events: object) -> None:
            raise RuntimeError("this subscriber cannot take events")

        bad._listener.take = refuse  # type: ignore[method-assign]
        sent = [publish("orders", n) for n in range(3)]
        assert [e.id for e in take(good, 3, timeout=5)] == sent
        assert list(itertools.islice(bad, 5)) == []
        after = publish("orders", "after")
        assert take(good, 1, timeout=5)[0].id == after
    assert "this subscriber cannot take events" in caplog.text


def test_stuck_subscribers_hold_up_no_one(store: dict[str, Any]) -> None:
    # A sync subscriber that never reads, and an async one whose event loop
    # is blocked (a view stuck in a sync call): the hub never waits on them.
    blocked = threading.Event()
    ready = threading.Event()

    async def stuck() -> None:
        sub = subscribe("orders")
        waiting = asyncio.ensure_future(sub.__anext__())
        while not sub.live:
            await asyncio.sleep(0.01)
        ready.set()
        blocked.wait(10)  # blocks the loop itself
        waiting.cancel()
        await sub.aclose()

    thread = threading.Thread(target=asyncio.run, args=(stuck(),))
    thread.start()
    try:
        assert ready.wait(10)
        with subscribe("orders") as idle, subscribe("orders") as good:
            live(idle)
            live(good)
            sent = [publish("orders", n) for n in range(20)]
            assert [e.id for e in take(good, 20, timeout=5)] == sent
    finally:
        blocked.set()
        thread.join(10)


def test_a_record_that_is_not_an_event_ends_only_its_channel(
    store: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As one written by something else than publish(): an event type with a
    # line break cannot be sent.
    make = hub_module.to_event

    def to_event(record: Any) -> Any:
        if record.data == "poison":
            return make(type(record)(record.id, "bad\ntype", record.data))
        return make(record)

    monkeypatch.setattr(hub_module, "to_event", to_event)
    poisoned_channel_ends_alone(lambda: publish("poisoned", "poison"))
    assert "'poisoned' has a record that is not an event" in caplog.text


def poisoned_channel_ends_alone(poison: Callable[[], object]) -> None:
    """After ``poison()`` writes a bad record to channel "poisoned", its
    subscriber ends and one of "orders" still gets every event."""
    with subscribe("poisoned") as bad, subscribe("orders") as good:
        live(bad)
        live(good)
        poison()
        sent = [publish("orders", n) for n in range(3)]
        assert [e.id for e in take(good, 3, timeout=5)] == sent
        got = list(itertools.islice(bad, 5))
        assert len(got) < 5
        assert not any(got)


@pytest.mark.parametrize("store", ["redis"], indirect=True)
@pytest.mark.parametrize("fields", [{"d": "{not json", "e": ""}, {"e": "order"}])
def test_stored_data_that_is_not_json_ends_only_its_channel(
    store: dict[str, Any], fields: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # A stream entry written by something else than publish(): data that is
    # not JSON, or none at all, must not stop the process's hub.
    import redis

    client = redis.Redis.from_url(store["URL"], decode_responses=True)
    poisoned_channel_ends_alone(
        lambda: client.xadd(store["PREFIX"] + "poisoned", fields)  # type: ignore[arg-type]
    )
    assert "'poisoned' has a record that is not an event" in caplog.text
    assert "is not JSON" in caplog.text
