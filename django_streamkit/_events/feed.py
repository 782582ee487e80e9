"""The event stream as a :class:`~django_streamkit._core.feed.Feed`.

Events are never held for coalescing: the response relays them with a
latency of 0, so the consumer takes whatever is pending as soon as anything
is (what a fast source made while the last chunk was being written goes out
together, nothing waits for more). The head is the ``retry:`` field, or an
empty comment: headers and a first byte leave at once without reading the
source, so a view never waits for a first event. ``None`` items are "nothing
yet" (see ``Plan.waits``), and after ``ping`` seconds of silence the relay's
idle hook sends a ``: ping`` comment, or ends the stream once ``ended()``
says the client or the server has gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from time import monotonic
from typing import Any

from django_streamkit._core.feed import Feed
from django_streamkit._events.event import ServerSentEvent

#: Longest wait between two looks at the client and the server while silent:
#: a client that left is noticed within this, well inside 5 s.
TICK = 1.0
PING = b": ping\n\n"
#: Events pending at once that make one chunk (a chunk is never waited for).
BATCH = 256


def encode(item: object) -> str:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    return ServerSentEvent(item).encode()


class EventFeed(Feed[Any]):
    head_alone = True
    waits = True

    def __init__(
        self,
        events: Iterable[Any] | AsyncIterable[Any],
        *,
        ping: float,
        retry: int | None,
    ) -> None:
        self.source: Iterator[Any] | AsyncIterator[Any]
        if isinstance(events, AsyncIterable):
            self.is_async = True
            self.source = events.__aiter__()
        else:
            self.source = iter(events)
        self.ping = ping
        self.idle = min(TICK, ping / 2)
        self.retry = retry
        self.ended: Callable[[], bool] = _never
        self._sent = monotonic()

    def limit(self) -> int:
        return BATCH

    def head(self) -> bytes:
        if self.retry is not None:
            return f"retry: {self.retry}\n\n".encode()
        return b":\n\n"

    def render(self, items: list[Any]) -> bytes:
        self._sent = monotonic()
        return "".join(map(encode, items)).encode()

    def on_idle(self) -> bytes | None:
        if self.ended():
            return None
        now = monotonic()
        if now - self._sent < self.ping:
            return b""
        self._sent = now
        return PING


def _never() -> bool:
    return False
