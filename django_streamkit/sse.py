"""Server-Sent Events (``text/event-stream``): :class:`ServerSentEvent`."""

from __future__ import annotations

from django_streamkit._events.event import ServerSentEvent

__all__ = ["ServerSentEvent"]
