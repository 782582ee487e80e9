"""Mounted broadcast channels: :class:`EventChannel` and :func:`register`.

Declare a channel in an app's ``events.py`` (imported at startup, as
``exports.py`` is)::

    from django_streamkit.events import EventChannel, register

    @register
    class OrderEvents(EventChannel):
        name = "orders"
        permission_required = "shop.view_order"

        def filter_event(self, request, event):
            # Only my orders (no database queries here: decide from the event).
            return event if event.data["customer"] == request.user.pk else None

and it is served at ``events/orders`` under the mounted
``django_streamkit.urls``: anonymous users are sent to the login page,
users without the permission get 403, an unknown name 404. Events published
with ``publish("orders", ...)`` reach every open page, replayed from the
browser's ``Last-Event-ID`` after a reconnection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterator
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.module_loading import autodiscover_modules
from django.views import View

from django_streamkit._events.event import ServerSentEvent
from django_streamkit._events.response import EventStreamResponse, last_event_id
from django_streamkit._exports.login import LoginRedirectMixin
from django_streamkit.broadcast import Subscription, subscribe
from django_streamkit.exports import SLUG_CHARACTERS

__all__ = [
    "ChannelRegistry",
    "EventChannel",
    "EventChannelView",
    "autodiscover",
    "register",
    "registry",
]


class EventChannel:
    """One broadcast channel that signed-in users with its permission may read.

    ``name`` is its URL (``events/<name>``) and, unless :meth:`get_channel`
    says otherwise, the channel it reads. ``permission_required`` (a
    permission or several) defaults to none: any signed-in user. ``retry``
    and ``ping`` are passed to the :class:`EventStreamResponse`.
    """

    name: str = ""
    permission_required: str | Collection[str] = ()
    retry: int | None = 3000
    ping: float | None = None

    def get_permission_required(self) -> tuple[str, ...]:
        perms = self.permission_required
        return (perms,) if isinstance(perms, str) else tuple(perms)

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_active and user.has_perms(self.get_permission_required())

    def get_channel(self, request: HttpRequest) -> str:
        """The broadcast channel this user reads (say ``f"orders:{user.pk}"``)."""
        return self.name

    def filter_event(
        self, request: HttpRequest, event: ServerSentEvent
    ) -> ServerSentEvent | None:
        """The event as this user sees it, or ``None`` to hide it. It may run
        in an event loop: decide from the event and ``request.user``, without
        database queries. ``reset`` events are never filtered."""
        return event

    def response(self, request: HttpRequest) -> EventStreamResponse:
        events = subscribe(
            self.get_channel(request), last_event_id=last_event_id(request)
        )
        if type(self).filter_event is not EventChannel.filter_event:
            events = Filtered(events, self, request)  # type: ignore[assignment]
        source: Iterator[ServerSentEvent | None] | AsyncIterator[ServerSentEvent]
        # Under WSGI the server's thread reads it directly; under ASGI the
        # event loop awaits it, with no thread per subscriber.
        source = events if isinstance(request, ASGIRequest) else sync_only(events)
        return EventStreamResponse(source, ping=self.ping, retry=self.retry)


class Filtered:
    """A subscription seen through :meth:`EventChannel.filter_event`, still
    an iterator (yielding ``None`` while it waits) and an async iterator."""

    def __init__(
        self, subscription: Subscription, channel: EventChannel, request: HttpRequest
    ) -> None:
        self.subscription = subscription
        self.channel = channel
        self.request = request

    def _show(self, event: ServerSentEvent) -> ServerSentEvent | None:
        if event.event == "reset":
            return event
        shown = self.channel.filter_event(self.request, event)
        if shown is not None and shown.id is None:
            # Keep the position, so a reconnection resumes after it.
            shown = ServerSentEvent(
                shown.data, event=shown.event, id=event.id, retry=shown.retry
            )
        return shown

    def __iter__(self) -> Iterator[ServerSentEvent | None]:
        return self

    def __next__(self) -> ServerSentEvent | None:
        event = next(self.subscription)
        return None if event is None else self._show(event)

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self

    async def __anext__(self) -> ServerSentEvent:
        while True:
            shown = self._show(await self.subscription.__anext__())
            if shown is not None:
                return shown

    def close(self) -> None:
        self.subscription.close()

    async def aclose(self) -> None:
        self.subscription.close()


def sync_only(
    events: Subscription | Filtered,
) -> Iterator[ServerSentEvent | None]:
    """``events`` as a plain iterator (a response would iterate an async
    iterable asynchronously), closed with it."""
    try:
        yield from events
    finally:
        events.close()


ChannelT = TypeVar("ChannelT", bound=type[EventChannel])


class ChannelRegistry:
    """The registered channels, by name."""

    def __init__(self) -> None:
        self._registry: dict[type[EventChannel], EventChannel] = {}

    def register(self, channel_class: ChannelT) -> ChannelT:
        if not (
            isinstance(channel_class, type) and issubclass(channel_class, EventChannel)
        ):
            raise TypeError(
                f"register() takes an EventChannel subclass, not {channel_class!r}; "
                "write @register above 'class OrderEvents(EventChannel):'."
            )
        name = channel_class.name
        if not name or not set(name) <= SLUG_CHARACTERS:
            raise ImproperlyConfigured(
                f"{channel_class.__name__}.name is {name!r}; a channel's name is "
                "its URL: ASCII letters, digits, hyphens and underscores, as in "
                "'orders'."
            )
        taken = self.get(name)
        if taken is not None and type(taken) is not channel_class:
            raise ImproperlyConfigured(
                f"{channel_class.__name__}.name {name!r} is already the name of "
                f"{type(taken).__name__}; give one of them another name."
            )
        self._registry[channel_class] = channel_class()
        return channel_class

    def unregister(self, channel_class: type[EventChannel]) -> None:
        self._registry.pop(channel_class, None)

    def __iter__(self) -> Iterator[EventChannel]:
        return iter(list(self._registry.values()))

    def get(self, name: str) -> EventChannel | None:
        return next((c for c in self if c.name == name), None)


registry = ChannelRegistry()


def register(channel_class: ChannelT) -> ChannelT:
    """Class decorator: serve an :class:`EventChannel` at ``events/<name>``."""
    return registry.register(channel_class)


def autodiscover() -> None:
    """Import every installed app's ``events`` module."""
    autodiscover_modules("events", register_to=registry)


class EventChannelView(LoginRedirectMixin, View):
    """``events/<name>``: one registered channel, as an event stream."""

    http_method_names = ["get", "options"]

    def get(self, request: HttpRequest, name: str) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()  # the login redirect
        channel = registry.get(name)
        if channel is None:
            raise Http404(f"No event channel is registered with the name {name!r}.")
        if not channel.has_permission(request):
            return self.handle_no_permission()  # 403 when signed in
        return channel.response(request)
