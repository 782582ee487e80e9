"""publish() and subscribe() on every backend: ids, replay, retention and
reset, transactions, sync and async subscribers, one hub per process."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.test import override_settings

from django_streamkit._broadcast import hub as hub_module
from django_streamkit._broadcast import memory
from django_streamkit._events.event import ServerSentEvent
from django_streamkit.broadcast import Subscription, apublish, publish, subscribe
from tests.support.redisserver import drop, private_prefix, redis_url

BACKENDS = [
    pytest.param("memory", marks=pytest.mark.django_db(transaction=True)),
    pytest.param("sqlite", marks=pytest.mark.django_db(transaction=True)),
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.django_db(databases=["default", "postgres"], transaction=True),
        ],
    ),
    pytest.param("redis", marks=pytest.mark.django_db(transaction=True)),
]


def config_for(kind: str, **extra: Any) -> dict[str, Any]:
    if kind == "memory":
        return {"BACKEND": "memory", **extra}
    if kind == "sqlite":
        return {"BACKEND": "database", "POLL_INTERVAL": 0.02, **extra}
    if kind == "postgres":
        return {"BACKEND": "database", "DATABASE": "postgres", **extra}
    return {"BACKEND": "redis", "URL": redis_url(), "PREFIX": private_prefix(), **extra}


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    yield from configured(request, monkeypatch)


# The suite's SQLite database is in memory, in shared-cache mode, where
# concurrent writers fail at once ("database table is locked") instead of
# waiting as they do on a database file.
@pytest.fixture(params=[p for p in BACKENDS if p.values != ("sqlite",)])
def concurrent_backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    yield from configured(request, monkeypatch)


def configured(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    monkeypatch.setattr(hub_module, "LINGER", 0.05)
    config = config_for(request.param)
    memory.clear()
    with override_settings(STREAMKIT_BROADCAST=config):
        yield config
    stop_hubs()
    if request.param == "redis":
        drop(config["URL"], config["PREFIX"])


def stop_hubs() -> None:
    """Wait for every hub to close its connection (they linger briefly)."""
    for hub in list(hub_module._hubs.values()):
        hub.backend.wake()
    for thread in threading.enumerate():
        if thread.name.startswith("streamkit-broadcast-"):
            thread.join(timeout=10)
            assert not thread.is_alive(), "a hub outlived its subscribers"


def start(subscription: Subscription) -> Subscription:
    """Iterate once, so the subscription is live (its first iteration)."""
    assert next(subscription) is None
    assert subscription.live
    return subscription


def take(subscription: Subscription, count: int, timeout: float = 10) -> list[Any]:
    got: list[ServerSentEvent] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        item = next(subscription)
        if item is not None:
            got.append(item)
    assert len(got) == count, f"got {len(got)} of {count} events: {got}"
    return got


def triples(events: list[ServerSentEvent]) -> list[tuple[Any, Any, Any]]:
    return [(e.id, e.event, e.data) for e in events]


def test_live_events_from_the_first_iteration(backend: dict[str, Any]) -> None:
    publish("orders", "before anyone listened")
    with start(subscribe("orders")) as sub:
        first = publish("orders", {"id": 1, "status": "paid"}, event="order")
        second = publish("orders", "line one\nline two")
        events = take(sub, 2)
    assert triples(events) == [
        (first, "order", {"id": 1, "status": "paid"}),
        (second, None, "line one\nline two"),
    ]
    assert events[1].encode() == f"id: {second}\ndata: line one\ndata: line two\n\n"


def test_ids_increase_per_channel(backend: dict[str, Any]) -> None:
    ids = [publish("a", i) for i in range(3)] + [publish("b", 0)]
    keys = [tuple(map(int, str(i).split("-"))) for i in ids[:3]]
    assert keys == sorted(keys)
    assert len(set(keys)) == 3
    if backend["BACKEND"] != "redis":
        assert ids == ["1", "2", "3", "1"]


def test_replay_after_last_event_id_then_live(backend: dict[str, Any]) -> None:
    ids = [publish("orders", n) for n in range(5)]
    with subscribe("orders", last_event_id=ids[1]) as sub:
        replayed = take(sub, 3)
        assert sub.live
        live = publish("orders", "live")
        events = replayed + take(sub, 1)
    assert [e.id for e in events] == [*ids[2:], live]
    assert [e.data for e in events] == [2, 3, 4, "live"]


def test_last_event_id_fallen_out_of_retention_gets_a_reset_first(
    backend: dict[str, Any],
) -> None:
    with override_settings(STREAMKIT_BROADCAST={**backend, "RETENTION": 3}):
        ids = [publish("orders", n) for n in range(6)]
        with subscribe("orders", last_event_id=ids[0]) as sub:
            events = take(sub, 4)
        with subscribe("orders", last_event_id=ids[2]) as kept:
            retained = take(kept, 3)
    reset = events[0]
    assert (reset.event, reset.id) == ("reset", ids[2])
    assert reset.data == {"after": ids[0], "until": ids[2]}
    assert [e.data for e in events[1:]] == [3, 4, 5]
    assert [e.data for e in retained] == [3, 4, 5]  # nothing lost: no reset


def test_a_last_event_id_the_channel_never_gave_is_reset(
    backend: dict[str, Any],
) -> None:
    head = publish("orders", "only")
    for bogus in (
        "not-an-id",
        "9" * 15 + "-0" if backend["BACKEND"] == "redis" else "999",
    ):
        with subscribe("orders", last_event_id=bogus) as sub:
            reset = take(sub, 1)[0]
            assert (reset.event, reset.id) == ("reset", head)
            after = publish("orders", "next")
            assert take(sub, 1)[0].id == after
        head = after


def test_publish_in_a_transaction_waits_for_the_commit(
    backend: dict[str, Any],
) -> None:
    alias = backend.get("DATABASE", "default")
    with start(subscribe("orders")) as sub:
        with transaction.atomic(using=alias):
            assert publish("orders", "committed") is None
            assert next(sub) is None  # not before the commit
        with pytest.raises(ZeroDivisionError):  # noqa: PT012, SIM117
            with transaction.atomic(using=alias):
                publish("orders", "rolled back")
                1 / 0  # noqa: B018
        last = publish("orders", "after")
        events = take(sub, 2)
    assert [e.data for e in events] == ["committed", "after"]
    assert events[-1].id == last


def test_concurrent_publishers_get_distinct_ordered_ids(
    concurrent_backend: dict[str, Any],
) -> None:
    per_thread, threads = 15, 4
    with start(subscribe("orders")) as sub:

        def publisher(n: int) -> None:
            for i in range(per_thread):
                publish("orders", f"{n}:{i}")
            connections.close_all()

        workers = [
            threading.Thread(target=publisher, args=(n,)) for n in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        events = take(sub, per_thread * threads, timeout=20)
    keys = [tuple(map(int, str(e.id).split("-"))) for e in events]
    assert keys == sorted(set(keys))  # increasing, each once
    for n in range(threads):  # each publisher's own order is kept
        mine = [e.data for e in events if e.data.startswith(f"{n}:")]
        assert mine == [f"{n}:{i}" for i in range(per_thread)]


def test_many_async_subscribers_share_one_hub(backend: dict[str, Any]) -> None:
    async def main() -> list[list[Any]]:
        subs = [subscribe("orders") for _ in range(50)]
        firsts = [asyncio.ensure_future(s.__anext__()) for s in subs]
        deadline = time.monotonic() + 10
        while not all(s.live for s in subs) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await apublish("orders", "one")
        await apublish("orders", "two", event="note")
        got = []
        for sub, first in zip(subs, firsts, strict=True):
            events = [await asyncio.wait_for(first, 10)]
            events.append(await asyncio.wait_for(sub.__anext__(), 10))
            got.append([(e.event, e.data) for e in events])
            await sub.aclose()
        await sync_to_async(connections.close_all)()  # apublish's thread's
        return got

    got = asyncio.run(main())
    assert got == [[(None, "one"), ("note", "two")]] * 50
    assert len(hub_module.hubs()) <= 1


def test_sync_and_async_subscribers_see_the_same_events(
    backend: dict[str, Any],
) -> None:
    with start(subscribe("orders")) as sync_sub:

        async def main() -> list[Any]:
            async_sub = subscribe("orders", last_event_id=None)
            first = asyncio.ensure_future(async_sub.__anext__())
            while not async_sub.live:
                await asyncio.sleep(0.01)
            await apublish("orders", [1, 2])
            event = await asyncio.wait_for(first, 10)
            await async_sub.aclose()
            await sync_to_async(connections.close_all)()
            return [event]

        async_events = asyncio.run(main())
        assert triples(take(sync_sub, 1)) == triples(async_events)


def test_the_hub_ends_with_its_last_subscriber(backend: dict[str, Any]) -> None:
    with start(subscribe("orders")):
        (hub,) = hub_module.hubs()
        assert hub.thread.is_alive()
    hub.thread.join(timeout=10)
    assert not hub.thread.is_alive()
    assert hub_module.hubs() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("",), {}, "'' is not a channel name"),
        (("orders\n",), {}, "is not a channel name"),
        ((42,), {}, "42 is not a channel name"),
        (("orders", object()), {}, "cannot be stored as JSON"),
        (("orders", 1), {"event": "a\nb"}, "event='a\\nb'"),
    ],
)
def test_bad_input_is_refused_by_name(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with (
        override_settings(STREAMKIT_BROADCAST={"BACKEND": "memory"}),
        pytest.raises(ValueError, match=r".") as info,
    ):
        publish(*args, **kwargs)
    assert message in str(info.value)


def test_subscribe_refuses_a_bad_last_event_id() -> None:
    with pytest.raises(ValueError, match="last_event_id=5 must be a str"):
        subscribe("orders", last_event_id=5)  # type: ignore[arg-type]


def test_a_subscriber_too_far_behind_is_ended_and_resumes_from_its_last_id(
    backend: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "MAX_PENDING", 5)
    with start(subscribe("orders")) as sub:
        first = publish("orders", "read")
        assert take(sub, 1)[0].id == first
        ids = [publish("orders", n) for n in range(8)]
        # Not reading: past MAX_PENDING events the hub drops it (its queue
        # freed) rather than hold them, or skip some behind a reset.
        deadline = time.monotonic() + 10
        while (
            sub._listener
            in hub_module.hubs()[0]
            .channels.get("orders", hub_module._Channel(""))
            .listeners
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert list(itertools.islice(sub, 20)) == []
    # Its consumer resumes from the last id it had (an EventSource does so
    # by itself): nothing lost, nothing twice.
    with subscribe("orders", last_event_id=first) as again:
        assert [e.id for e in take(again, 8)] == ids


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_the_hub_reconnects_and_catches_up_after_losing_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub_module, "LINGER", 0.05)
    config = config_for("postgres")
    with (
        override_settings(STREAMKIT_BROADCAST=config),
        start(subscribe("orders")) as sub,
    ):
        first = publish("orders", "before")
        assert take(sub, 1)[0].id == first
        with connections["postgres"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchall(), "the hub's session was not found"
        during = [publish("orders", n) for n in range(3)]
        events = take(sub, 3, timeout=20)
    stop_hubs()
    assert [e.id for e in events] == during
