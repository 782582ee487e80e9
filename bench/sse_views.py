"""django-streamkit's side of the event-stream benchmark: the same endpoints
as :mod:`bench.sse_rival.asgi`, with ``EventStreamResponse``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

from django.http import HttpRequest, HttpResponse
from django.urls import path

from bench.sse_data import EVENT, IDLE_FOR, PING
from django_streamkit import EventStreamResponse


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


async def _many(n: int) -> AsyncIterator[str]:
    for _ in range(n):
        yield EVENT


async def events(request: HttpRequest) -> EventStreamResponse:
    return EventStreamResponse(_many(int(request.GET["n"])), ping=PING)


async def _idle() -> AsyncIterator[str]:
    await asyncio.sleep(IDLE_FOR)
    yield "bye"


async def idle(request: HttpRequest) -> EventStreamResponse:
    return EventStreamResponse(_idle(), ping=PING)


def _idle_sync() -> Iterator[str | None]:
    deadline = time.monotonic() + IDLE_FOR
    while time.monotonic() < deadline:
        time.sleep(1)  # a poll that found nothing
        yield None


def idle_sync(request: HttpRequest) -> EventStreamResponse:
    return EventStreamResponse(_idle_sync(), ping=PING)


async def _ticks(n: int, every: float) -> AsyncIterator[str]:
    for _ in range(n):
        await asyncio.sleep(every)
        yield repr(time.time())


async def tick(request: HttpRequest) -> EventStreamResponse:
    return EventStreamResponse(
        _ticks(int(request.GET["n"]), float(request.GET["every"])), ping=PING
    )


urlpatterns = [
    path("healthz", healthz),
    path("events", events),
    path("idle", idle),
    path("idle-sync", idle_sync),
    path("tick", tick),
]
