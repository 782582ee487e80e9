"""Mounted event channels: events/<name> under django_streamkit.urls, the
exports' permission rules, replay by Last-Event-ID and per-user filtering."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from httpx_sse import ServerSentEvent as ParsedEvent
from httpx_sse._decoders import SSEDecoder

from django_streamkit._broadcast import hub as hub_module
from django_streamkit._broadcast import memory
from django_streamkit.broadcast import publish
from django_streamkit.events import EventChannel, register, registry
from tests.support.people import user_with

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def memory_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(hub_module, "LINGER", 0.05)
    memory.clear()
    with override_settings(STREAMKIT_BROADCAST={"BACKEND": "memory"}):
        yield


def read_events(response: Any, count: int) -> list[ParsedEvent]:
    """Parse the stream with a maintained SSE decoder until ``count`` events."""
    decoder = SSEDecoder()
    events: list[ParsedEvent] = []
    buffer = ""
    for chunk in response.streaming_content:
        buffer += chunk.decode()
        *lines, buffer = buffer.split("\n")
        for line in lines:
            event = decoder.decode(line)
            if event is not None and event.data:
                events.append(event)
        if len(events) >= count:
            break
    return events


def test_anonymous_users_are_sent_to_the_login(client: Client) -> None:
    response = client.get("/exports/events/orders")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/exports/events/orders")


def test_users_without_the_permission_get_403(client: Client) -> None:
    client.force_login(user_with("view_customer"))
    assert client.get("/exports/events/orders").status_code == 403


def test_an_unknown_channel_is_404(client: Client) -> None:
    client.force_login(user_with("view_order"))
    assert client.get("/exports/events/nothing-here").status_code == 404


def test_a_channel_replays_after_last_event_id_then_streams_live(
    client: Client,
) -> None:
    client.force_login(user_with("view_order"))
    first = publish("orders", {"number": 1, "customer": "ann"}, event="order")
    second = publish("orders", {"number": 2, "customer": "bob"}, event="order")
    response = client.get("/exports/events/orders", headers={"last-event-id": "0"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    try:
        replayed = read_events(response, 2)
        third = publish("orders", {"number": 3, "customer": "ann"})
        live = read_events(response, 1)
    finally:
        response.close()
    assert [(e.id, e.event) for e in replayed] == [(first, "order"), (second, "order")]
    assert [(e.id, e.json()["number"]) for e in live] == [(third, 3)]


def test_a_channel_filters_events_per_user(client: Client) -> None:
    client.force_login(user_with(name="ann"))
    publish("orders", {"number": 1, "customer": "bob"})
    mine = publish("orders", {"number": 2, "customer": "ann"})
    publish("orders", {"number": 3, "customer": "bob"})
    response = client.get("/exports/events/my-orders", headers={"last-event-id": "0"})
    try:
        events = read_events(response, 1)
        later = publish("orders", {"number": 4, "customer": "ann"})
        events += read_events(response, 1)
    finally:
        response.close()
    assert [(e.id, e.json()["number"]) for e in events] == [(mine, 2), (later, 4)]


def test_a_dropped_last_event_id_gets_a_reset() -> None:
    client = Client()
    client.force_login(user_with("view_order"))
    with override_settings(STREAMKIT_BROADCAST={"BACKEND": "memory", "RETENTION": 2}):
        ids = [publish("orders", {"n": n}) for n in range(4)]
        response = client.get("/exports/events/orders", headers={"last-event-id": "1"})
        try:
            events = read_events(response, 3)
        finally:
            response.close()
    assert [(e.event, e.id) for e in events] == [
        ("reset", ids[1]),
        ("message", ids[2]),
        ("message", ids[3]),
    ]


def test_register_refuses_bad_channels() -> None:
    with pytest.raises(TypeError, match="EventChannel subclass"):
        register(object)  # type: ignore[type-var]

    class Unnamed(EventChannel):
        pass

    with pytest.raises(ImproperlyConfigured, match=r"Unnamed\.name is ''"):
        register(Unnamed)

    class Twin(EventChannel):
        name = "orders"

    with pytest.raises(ImproperlyConfigured, match="already the name of OrderEvents"):
        register(Twin)
    assert type(registry.get("orders")).__name__ == "OrderEvents"
