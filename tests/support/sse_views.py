"""Event streams the real-server tests exercise. Every source is bounded:
waits and polling loops stop by themselves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

from django.http import HttpRequest
from django.urls import path

from django_streamkit import EventStreamResponse, ServerSentEvent, last_event_id
from django_streamkit.views import EventStreamView
from tests.support.views import _mark


def _slow_sync(count: int, every: float) -> Iterator[ServerSentEvent]:
    for n in range(count):
        time.sleep(every)
        yield ServerSentEvent(repr(time.time()), id=n)


async def _slow_async(count: int, every: float) -> AsyncIterator[ServerSentEvent]:
    for n in range(count):
        await asyncio.sleep(every)
        yield ServerSentEvent(repr(time.time()), id=n)


def slow(request: HttpRequest) -> EventStreamResponse:
    """``count`` events, each made ``every`` seconds after the last, its data
    the time it was made."""
    count = int(request.GET.get("count", "3"))
    every = float(request.GET.get("every", "0.5"))
    source = _slow_async if request.GET.get("kind") == "async" else _slow_sync
    return EventStreamResponse(source(count, every))


def _blocked_sync(token: str, seconds: float) -> Iterator[str]:
    try:
        time.sleep(seconds)  # one blocking call: no None to yield meanwhile
        yield "after the block"
    finally:
        _mark(token)


async def _blocked_async(token: str, seconds: float) -> AsyncIterator[str]:
    try:
        await asyncio.sleep(seconds)
        yield "after the block"
    finally:
        _mark(token)


def blocked(request: HttpRequest) -> EventStreamResponse:
    seconds = float(request.GET.get("seconds", "2"))
    token = request.GET.get("token", "")
    if request.GET.get("kind") == "async":
        return EventStreamResponse(_blocked_async(token, seconds), ping=0.3)
    return EventStreamResponse(_blocked_sync(token, seconds), ping=0.3)


def _polling_sync(token: str, limit: float) -> Iterator[str | None]:
    try:
        yield "hello"
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            time.sleep(0.2)  # a poll of a queue or a table that found nothing
            yield None
        yield "bye"
    finally:
        _mark(token)


async def _polling_async(token: str, limit: float) -> AsyncIterator[str]:
    try:
        yield "hello"
        await asyncio.sleep(limit)
        yield "bye"
    finally:
        _mark(token)


def _busy_sync(token: str, limit: float) -> Iterator[str]:
    try:
        yield "hello"
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            time.sleep(0.2)  # never silent for a whole idle tick
            yield "more"
    finally:
        _mark(token)


async def _busy_async(token: str, limit: float) -> AsyncIterator[str]:
    try:
        yield "hello"
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            yield "more"
    finally:
        _mark(token)


SOURCES = {
    "sync": _polling_sync,
    "async": _polling_async,
    "busy-sync": _busy_sync,
    "busy-async": _busy_async,
}


def silent(request: HttpRequest) -> EventStreamResponse:
    """One event, then silence (or, ``kind=busy-*``, an event every 0.2 s)
    for up to ``limit`` seconds; ``retry`` 500."""
    token = request.GET.get("token", "")
    limit = float(request.GET.get("limit", "60"))
    ping = float(request.GET.get("ping", "30"))
    source = SOURCES[request.GET.get("kind", "sync")]
    return EventStreamResponse(source(token, limit), ping=ping, retry=500)


class Resume(EventStreamView):
    """Three events after ``last_event_id`` (ids count up), then the end: a
    reconnecting client resumes where it was."""

    retry = 200

    def get_events(self, last_event_id: str | None) -> Iterator[ServerSentEvent]:
        start = int(last_event_id or 0)
        for n in range(start + 1, min(start + 3, 9) + 1):
            yield ServerSentEvent(f"event {n}", id=n, event="tick")


class AsyncResume(EventStreamView):
    retry = 200

    async def get_events(
        self, last_event_id: str | None
    ) -> AsyncIterator[ServerSentEvent]:
        start = int(last_event_id or 0)
        for n in range(start + 1, min(start + 3, 9) + 1):
            await asyncio.sleep(0)
            yield ServerSentEvent(f"event {n}", id=n, event="tick")


def _probed_sync(token: str) -> Iterator[str]:
    _mark(token, "started")
    for n in range(3):
        time.sleep(0.1)
        yield f"event {n}"


async def _probed_async(token: str) -> AsyncIterator[str]:
    _mark(token, "started")
    for n in range(3):
        await asyncio.sleep(0.1)
        yield f"event {n}"


def probed(request: HttpRequest) -> EventStreamResponse:
    """A function view over a source that records that it started."""
    token = request.GET.get("token", "")
    if request.GET.get("kind") == "async":
        return EventStreamResponse(_probed_async(token), retry=500)
    return EventStreamResponse(_probed_sync(token), retry=500)


def echo_id(request: HttpRequest) -> EventStreamResponse:
    """One event: what ``last_event_id()`` read from the request."""
    return EventStreamResponse([str(last_event_id(request))])


urlpatterns = [
    path("echo-id", echo_id),
    path("probed", probed),
    path("slow", slow),
    path("blocked", blocked),
    path("silent", silent),
    path("resume", Resume.as_view()),
    path("aresume", AsyncResume.as_view()),
]
