"""``EventStreamResponse`` and ``last_event_id``."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from django_streamkit._core.scope import AsyncContextIterator, ContextIterator
from django_streamkit._events.feed import EventFeed
from django_streamkit._events.watch import (
    client_gone,
    current_environ,
    server_stopping,
    worker_heartbeat,
)
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
        if isinstance(events, QuerySet):
            # Its __aiter__ would fetch every row into its cache at once.
            events = events.iterator(chunk_size=conf.QUERYSET_CHUNK_SIZE)
        self._feed = EventFeed(events, ping=conf.sse_ping(ping), retry=retry)
        self._left = False
        super().__init__(
            self._feed,
            # The format is UTF-8 only, and so is the body, whatever the
            # project's DEFAULT_CHARSET.
            content_type="text/event-stream; charset=utf-8",
            status=status,
            headers=headers,
        )
        if scope is not None:
            # Priming read only the head; the source runs in the scope.
            self._stream.scope = scope
        # Headers given win: a Cache-Control of the caller's ("no-store",
        # "no-transform" for a proxy) is theirs to choose.
        self.headers.setdefault("Cache-Control", "no-cache")
        # No compression middleware (Django's, ours, nginx's) touches a body
        # that already has an encoding: an event is never held in a
        # compressor's buffer, nor made to flush one per event.
        self.headers.setdefault("Content-Encoding", "identity")

    def _set_streaming_content(self, value: object) -> None:
        if not hasattr(self, "_stream"):
            self.max_latency = 0.0  # every event leaves at once
        super()._set_streaming_content(value)

    def _ended(self, gone: Any, beat: Any) -> bool:
        # Asked on each idle tick and after each chunk: where a stream that
        # goes on can also tell a gunicorn worker's arbiter so.
        beat()
        return self._left or gone() or server_stopping()

    def _watch(self) -> None:
        gone = client_gone(current_environ())
        beat = worker_heartbeat()
        self._feed.ended = lambda: self._ended(gone, beat)

    # A stream that is never silent is checked after each chunk too, so it
    # also ends when the server is told to stop, not when it is killed.
    def _answers_head(self) -> bool:
        """Whether this answers a HEAD request. Django's handler registers
        the request's ``close`` among the response's closers (WSGI and ASGI
        alike); it is how a response returned by a function view learns its
        request."""
        for closer in self._resource_closers:
            request = getattr(closer, "__self__", None)
            if isinstance(request, HttpRequest):
                return request.method == "HEAD"
        return False

    def __iter__(self) -> Iterator[bytes]:
        if self._answers_head():
            # The GET's headers and no body: servers read a HEAD body to its
            # end before dropping it, so the source would run (and hold the
            # worker) for as long as it goes on. It is closed unstarted.
            return
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
        if self._answers_head():
            if self._stream.feed.is_async:
                await self._aclose()  # no closer runs an async source's
            return
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
    # An empty header is no id (a polyfill may send one beside the query).
    header = request.headers.get("Last-Event-ID")
    if header:
        return _utf_8(header)
    return request.GET.get("lastEventId") or None


def _utf_8(header: str) -> str:
    # A browser sends the id UTF-8 encoded; servers and Django decode header
    # bytes as Latin-1.
    try:
        return header.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return header
