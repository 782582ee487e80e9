"""Broadcast: events published anywhere reach every subscriber everywhere.

::

    from django_streamkit import EventStreamResponse, last_event_id
    from django_streamkit.broadcast import publish, subscribe

    publish("orders", {"id": order.pk, "status": "paid"}, event="order")

    def live_orders(request):
        return EventStreamResponse(
            subscribe("orders", last_event_id=last_event_id(request))
        )

The backend is ``STREAMKIT_BROADCAST["BACKEND"]``: ``"database"`` (the
default: this app's tables, woken by ``LISTEN``/``NOTIFY`` on PostgreSQL,
polled elsewhere), ``"redis"`` (Redis Streams at ``URL``) or ``"memory"``
(one process). See docs/broadcast.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction

from django_streamkit._broadcast import hub as _hub
from django_streamkit._broadcast.base import Backend, check_channel, encode_data
from django_streamkit._events.event import ServerSentEvent
from django_streamkit.conf import conf

__all__ = [
    "BACKENDS",
    "Subscription",
    "apublish",
    "get_backend",
    "publish",
    "subscribe",
]

BACKENDS = ("database", "redis", "memory")

#: How long the sync iterator waits before it yields ``None``.
WAIT = 1.0

_backends: dict[str, Backend] = {}


def _config() -> tuple[str, dict[str, Any]]:
    config = conf.broadcast()
    return repr(sorted(config.items())), config


def get_backend() -> Backend:
    """The configured backend (one instance per configuration and process)."""
    key, config = _config()
    backend = _backends.get(key)
    if backend is None:
        backend = _backends[key] = make_backend(config)
    return backend


def make_backend(config: dict[str, Any]) -> Backend:
    name = config["BACKEND"]
    retention = int(config["RETENTION"])
    if name == "database":
        from django_streamkit._broadcast.database import DatabaseBackend

        return DatabaseBackend(
            config["DATABASE"], retention, float(config["POLL_INTERVAL"])
        )
    if name == "redis":
        from django_streamkit._broadcast.redis import RedisBackend

        return RedisBackend(str(config["URL"]), str(config["PREFIX"]), retention)
    if name == "memory":
        from django_streamkit._broadcast.memory import MemoryBackend

        return MemoryBackend(retention)
    raise ImproperlyConfigured(
        f'STREAMKIT_BROADCAST["BACKEND"] is {name!r}; choose one of '
        f"{', '.join(map(repr, BACKENDS))}."
    )


def publish(
    channel: str, data: object = None, *, event: str | None = None
) -> str | None:
    """Store ``data`` as the next event of ``channel`` and fan it out.

    Returns the event's id; inside ``transaction.atomic()`` (of the
    ``STREAMKIT_BROADCAST["DATABASE"]`` alias, or else of any other) it is
    published when that transaction commits, never if it rolls back, and
    ``None`` is returned.
    """
    check_channel(channel)
    ServerSentEvent(data, event=event)  # refuses a bad event type now
    if event == "":
        raise ValueError(
            "Broadcast event='' is not an event type; use event=None for the "
            "default ('message')."
        )
    if event == "reset":
        raise ValueError(
            "Broadcast event='reset' is reserved: subscribers get it when "
            "events they asked for are gone, and it passes every "
            "EventChannel.filter_event() unfiltered; name yours otherwise."
        )
    text = encode_data(data)
    backend = get_backend()
    if _after_commits(lambda: backend.publish(channel, event, text)):
        return None
    return backend.publish(channel, event, text)


def _after_commits(send: Callable[[], object]) -> bool:
    """Run ``send`` by ``on_commit`` if a transaction is open in this thread
    (the ``DATABASE`` alias's first, else any other's); ``False`` if none
    is. The request's (``ATOMIC_REQUESTS``) may be on another alias than
    ``DATABASE``, which can be a direct one for ``LISTEN``."""
    alias = conf.broadcast()["DATABASE"]
    if not connections[alias].in_atomic_block:
        opened = [
            c for c in connections.all(initialized_only=True) if c.in_atomic_block
        ]
        if not opened:
            return False
        alias = opened[0].alias
    transaction.on_commit(send, using=alias, robust=False)
    return True


async def apublish(
    channel: str, data: object = None, *, event: str | None = None
) -> str | None:
    """:func:`publish` from async code."""
    return await sync_to_async(publish)(channel, data, event=event)


def subscribe(channel: str, *, last_event_id: str | None = None) -> Subscription:
    """The events of ``channel``: the retained ones after ``last_event_id``
    (a ``reset`` event first if some of them are no longer retained), then
    live ones; with ``last_event_id=None``, live ones from the first
    iteration on. Iterate it (yields ``None`` while it waits) or iterate it
    asynchronously; close it when done."""
    check_channel(channel)
    if last_event_id is not None and not isinstance(last_event_id, str):
        raise ValueError(
            f"last_event_id={last_event_id!r} must be a str (the Last-Event-ID "
            "header) or None."
        )
    return Subscription(channel, last_event_id)


class Subscription:
    """One subscriber: an iterator and an async iterator of events."""

    def __init__(self, channel: str, last_event_id: str | None) -> None:
        self.channel = channel
        self.last_event_id = last_event_id
        self._listener: _hub.Listener | None = None
        self._hub: _hub.Hub | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<Subscription {self.channel!r} after {self.last_event_id!r}>"

    @property
    def live(self) -> bool:
        """Whether it is receiving: it started, and its replay was read."""
        return self._listener is not None and self._listener.live

    def _join(self, loop: asyncio.AbstractEventLoop | None) -> _hub.Listener:
        listener = _hub.Listener(self.channel, self.last_event_id)
        if loop is not None:
            listener.loop = loop
            listener.wakeup = asyncio.Event()
        key, config = _config()
        self._hub = _hub.join(key, lambda: make_backend(config), listener)
        self._listener = listener
        # Leave the hub even if the subscription is dropped unclosed.
        weakref.finalize(self, self._hub.leave, listener)
        return listener

    # -- sync -----------------------------------------------------------------

    def __iter__(self) -> Iterator[ServerSentEvent | None]:
        return self

    def __next__(self) -> ServerSentEvent | None:
        if self._closed:
            raise StopIteration
        listener = self._listener or self._join(None)
        if listener.loop is not None:
            raise RuntimeError(
                "This subscription is iterated asynchronously; iterate a new "
                "subscribe() to read it synchronously."
            )
        with listener.condition:
            if not listener.queue and not listener.ended:
                listener.condition.wait(WAIT)
            if listener.queue:
                return listener.queue.popleft()
        if listener.ended:  # dropped by the hub (see hub.Hub.drop)
            self._closed = True
            raise StopIteration
        return None

    def close(self) -> None:
        self._closed = True
        listener = self._listener
        if self._hub is None or listener is None:
            return
        self._hub.leave(listener)
        # Wake whoever waits for its next event, on any thread or task.
        if listener.loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop is closed
                listener.loop.call_soon_threadsafe(listener.signal)
        else:
            with listener.condition:
                listener.condition.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- async ----------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self

    async def __anext__(self) -> ServerSentEvent:
        if self._closed:
            raise StopAsyncIteration
        listener = self._listener or self._join(asyncio.get_running_loop())
        if listener.wakeup is None:
            raise RuntimeError(
                "This subscription is iterated synchronously; iterate a new "
                "subscribe() to read it asynchronously."
            )
        while not listener.queue:
            if listener.ended:  # dropped by the hub (see hub.Hub.drop)
                self._closed = True
                raise StopAsyncIteration
            listener.wakeup.clear()
            await listener.wakeup.wait()
            if self._closed:
                raise StopAsyncIteration
        return listener.queue.popleft()

    async def aclose(self) -> None:
        self.close()
