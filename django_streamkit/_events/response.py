"""``EventStreamResponse`` and ``last_event_id``."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from django.http import HttpRequest

from django_streamkit._core.scope import AsyncContextIterator, ContextIterator
from django_streamkit._events.feed import EventFeed
from django_streamkit._events.watch import client_gone, current_environ, server_stopping
from django_streamkit.conf import conf
from django_streamkit.responses import StreamingResponse


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response over a sync or async iterable of
    :class:`~django_streamkit.ServerSentEvent`, ``str`` (the data of an
    unnamed event) or JSON-able values.

    Every event leaves as soon as it is made. After ``ping`` seconds without
    an event (default ``STREAMKIT_SSE_PING``) a ``: ping`` comment goes out,
    also while a sync source blocks. ``retry`` (milliseconds) is sent first,
    as the client's reconnection delay. A sync source yields ``None`` while it
    has nothing new, so it can be closed between its waits when the client
    leaves; ``None`` is never sent.
    """

    _feed: EventFeed

    def __init__(
        self,
        events: Iterable[Any] | AsyncIterable[Any],
        *,
        ping: float | None = None,
        retry: int | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(events, str | bytes) or not isinstance(
            events, Iterable | AsyncIterable
        ):
            raise TypeError(
                f"EventStreamResponse events must be an iterable or an async "
                f"iterable of events, not {events!r} ({type(events).__name__}); "
                f"wrap a single event in a list."
            )
        if retry is not None and (
            not isinstance(retry, int) or isinstance(retry, bool) or retry < 0
        ):
            raise ValueError(
                f"EventStreamResponse retry={retry!r} must be a whole number of "
                f"milliseconds (an int >= 0), e.g. retry=3000."
            )
        scope = None
        if isinstance(events, ContextIterator | AsyncContextIterator):
            scope, events = events.scope, events.source
        self._feed = EventFeed(events, ping=conf.sse_ping(ping), retry=retry)
        self._left = False
        super().__init__(
            self._feed, content_type="text/event-stream", status=status, headers=headers
        )
        if scope is not None:
            # Priming read only the head; the source runs in the scope.
            self._stream.scope = scope
        self.headers["Cache-Control"] = "no-cache"
        # No compression middleware (Django's, ours, nginx's) touches a body
        # that already has an encoding: an event is never held in a
        # compressor's buffer, nor made to flush one per event.
        self.headers.setdefault("Content-Encoding", "identity")

    def _set_streaming_content(self, value: object) -> None:
        if not hasattr(self, "_stream"):
            self.max_latency = 0.0  # every event leaves at once
        super()._set_streaming_content(value)

    def _ended(self, gone: Any) -> bool:
        return self._left or gone() or server_stopping()

    def _watch(self) -> None:
        gone = client_gone(current_environ())
        self._feed.ended = lambda: self._ended(gone)

    # A stream that is never silent is checked after each chunk too, so it
    # also ends when the server is told to stop, not when it is killed.
    def __iter__(self) -> Iterator[bytes]:
        self._watch()
        chunks = super().__iter__()
        try:
            for chunk in chunks:
                yield chunk
                if self._feed.ended():
                    return
        finally:
            chunks.close()  # type: ignore[attr-defined]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._watch()
        chunks = super().__aiter__()
        try:
            async for chunk in chunks:
                yield chunk
                if self._feed.ended():
                    return
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    def _leave(self) -> None:
        self._left = True


def last_event_id(request: HttpRequest) -> str | None:
    """The ``Last-Event-ID`` header a reconnecting ``EventSource`` sends,
    else the ``lastEventId`` query parameter (EventSource polyfills, htmx),
    else ``None``."""
    value = request.headers.get("Last-Event-ID")
    if value is None:
        value = request.GET.get("lastEventId")
    return value or None
