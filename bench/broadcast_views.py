"""The broadcast benchmark's endpoints: ``subscribe()`` and the hand-written
alternative, each subscriber polling the table every second."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.urls import path

from django_streamkit import EventStreamResponse, ServerSentEvent, last_event_id
from django_streamkit.models import Event
from tests.support.broadcast_views import channel


def _rows(name: str, after: int) -> list[tuple[int, str]]:
    return list(
        Event.objects.filter(channel=name, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "data")
    )


async def _poll(name: str, after: int) -> AsyncIterator[ServerSentEvent]:
    # What users write by hand: read the table after the last id, sleep 1 s.
    # On the shared thread pool: a thread (and connection) per request, as
    # Django's default thread_sensitive=True gives under ASGI, runs out of
    # PostgreSQL connections (100) long before 1,000 subscribers.
    while True:
        for seq, data in await sync_to_async(_rows, thread_sensitive=False)(
            name, after
        ):
            after = seq
            yield ServerSentEvent(data, id=seq)
        await asyncio.sleep(1)


def poll(request: HttpRequest, name: str) -> EventStreamResponse:
    return EventStreamResponse(_poll(name, int(last_event_id(request) or 0)), ping=5)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("healthz", healthz),
    path("broadcast/<str:name>", channel),
    path("poll/<str:name>", poll),
]
