"""A channel's events with no login, for the broadcast real-server tests."""

from __future__ import annotations

import os

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.urls import path

from django_streamkit import EventStreamResponse, last_event_id
from django_streamkit._broadcast import hub
from django_streamkit.broadcast import subscribe
from django_streamkit.events import sync_only

# A small queue per subscriber, so a test's slow client overflows it soon.
if os.environ.get("STREAMKIT_TEST_MAX_PENDING"):
    hub.MAX_PENDING = int(os.environ["STREAMKIT_TEST_MAX_PENDING"])


def channel(request: HttpRequest, name: str) -> EventStreamResponse:
    subscription = subscribe(name, last_event_id=last_event_id(request))
    source = (
        subscription if isinstance(request, ASGIRequest) else sync_only(subscription)
    )
    return EventStreamResponse(source, ping=1)


urlpatterns = [path("<str:name>", channel)]
