"""The examples in docs/events.md run, and do what the guide says."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.test import RequestFactory
from httpx_sse._decoders import SSEDecoder

from tests.support.docs import read_doc, run_examples
from tests.support.testapp.models import Customer, Order

DOC = read_doc("events.md")


@pytest.fixture
def examples() -> dict[str, Any]:
    return run_examples(DOC)


def orders(count: int) -> list[Order]:
    customer = Customer.objects.create(name="Ann")
    return [
        Order.objects.create(
            number=f"N-{n}",
            customer=customer,
            status="new",
            total=n,
            secret="s",
            created=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        )
        for n in range(count)
    ]


@pytest.mark.django_db
def test_the_polling_view_resumes_after_last_event_id(examples: dict[str, Any]) -> None:
    first, second, third = orders(3)
    request = RequestFactory().get("/orders", HTTP_LAST_EVENT_ID=str(first.pk))
    response = examples["orders"](request)
    assert response["Cache-Control"] == "no-cache"
    decoder = SSEDecoder()
    seen = []
    chunks = iter(response)
    started = time.monotonic()
    try:
        while len(seen) < 2 and time.monotonic() - started < 10:
            for line in next(chunks).decode().split("\n"):
                if (event := decoder.decode(line)) is not None and event.data:
                    seen.append((event.event, event.id, event.json()["number"]))
    finally:
        response.close()  # the source closes at its next None, within a second
    assert seen == [
        ("order", str(second.pk), "N-1"),
        ("order", str(third.pk), "N-2"),
    ]
    assert time.monotonic() - started < 5


@pytest.mark.django_db
def test_the_view_class_sends_what_get_events_yields(examples: dict[str, Any]) -> None:
    first, _ = orders(2)
    view = examples["Orders"].as_view()
    request = RequestFactory().get("/orders", {"lastEventId": str(first.pk)})
    body = b"".join(view(request))
    assert body == b"retry: 3000\n\ndata: N-1\n\n"
