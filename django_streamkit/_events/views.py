"""``EventStreamView``: a class-based view whose body is its events."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.views.generic.base import View

from django_streamkit._events.response import EventStreamResponse, last_event_id
from django_streamkit.context import request_scope, stream_with_context


class EventStreamView(View):
    """Serve ``get_events(self, last_event_id)``, a generator (or an async
    generator, which makes the view async) of events, as an event stream::

        class Orders(EventStreamView):
            retry = 3000

            def get_events(self, last_event_id):
                yield from new_orders(after=last_event_id)

    The events are made in the request's scope (``current_request``, the
    language and time zone). ``last_event_id`` is
    :func:`~django_streamkit.last_event_id` of the request.
    """

    #: Seconds of silence before a ``: ping`` comment; ``None``: the setting.
    ping: ClassVar[float | None] = None
    #: The client's reconnection delay in milliseconds, sent first; ``None``:
    #: the browser's default (about 3 s).
    retry: ClassVar[int | None] = None
    response_class: ClassVar[type[EventStreamResponse]] = EventStreamResponse

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.get in (EventStreamView._sync_get, EventStreamView._async_get):
            is_async = inspect.isasyncgenfunction(cls.get_events)
            cls.get = (
                EventStreamView._async_get if is_async else EventStreamView._sync_get
            )

    def get_events(
        self, last_event_id: str | None
    ) -> Iterator[Any] | AsyncIterator[Any]:
        raise ImproperlyConfigured(
            f"{type(self).__qualname__} must define get_events(self, "
            "last_event_id), a generator (or async generator) method that "
            "yields the events: ServerSentEvent, str or JSON-able values."
        )

    def get_headers(self) -> dict[str, str]:
        """Extra response headers."""
        return {}

    def _respond(self, request: HttpRequest) -> EventStreamResponse:
        with request_scope(request):
            events = stream_with_context(self.get_events(last_event_id(request)))
        return self.response_class(
            events, ping=self.ping, retry=self.retry, headers=self.get_headers()
        )

    def _sync_get(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> EventStreamResponse:
        return self._respond(request)

    async def _async_get(
        self, request: HttpRequest, *args: object, **kwargs: object
    ) -> EventStreamResponse:
        return self._respond(request)

    get: Callable[..., EventStreamResponse | Awaitable[EventStreamResponse]] = _sync_get
