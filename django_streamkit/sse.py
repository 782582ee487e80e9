"""Server-Sent Events (``text/event-stream``): :class:`ServerSentEvent`,
:class:`EventStreamResponse` and :func:`last_event_id`."""

from __future__ import annotations

from django_streamkit._events.event import ServerSentEvent
from django_streamkit._events.response import EventStreamResponse, last_event_id

__all__ = ["EventStreamResponse", "ServerSentEvent", "last_event_id"]
