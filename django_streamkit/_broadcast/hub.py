"""The process's hub: one reading connection per backend, whatever the number
of subscribers.

A daemon thread owns the backend's reading side (the ``LISTEN`` connection,
the polling loop or the blocking ``XREAD``). It keeps one cursor per channel
that has subscribers here, reads each new event once and hands it to every
local subscriber: a sync one through a condition, an async one through its
event loop (one ``call_soon_threadsafe`` per loop per batch, not per
subscriber). Subscribers never touch a connection, so 1,000 of them on one
worker cost one connection, and none is left when they go: the hub closes
its connection and ends a moment after its last subscriber leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django_streamkit._broadcast.base import Backend, Batch, Record, Undecodable
from django_streamkit._events.event import ServerSentEvent

logger = logging.getLogger("django_streamkit")

#: How long an idle hub keeps its connection for the next subscriber.
LINGER = 2.0
#: Events a subscriber may have waiting before it is ended (a stuck client).
MAX_PENDING = 10_000


def reset_event(after: str | None, until: str) -> ServerSentEvent:
    """Events after ``after`` up to ``until`` are gone: the client should
    reload its state; its last id becomes ``until``."""
    return ServerSentEvent({"after": after, "until": until}, event="reset", id=until)


def to_event(record: Record) -> ServerSentEvent:
    if isinstance(record.data, Undecodable):
        raise ValueError(
            f"Record {record.id} holds data that is not JSON: {record.data!r}"
        )
    return ServerSentEvent(record.data, event=record.event, id=record.id)


class Listener:
    """One subscriber's side of the hub: its queue, position and wake-up."""

    def __init__(self, channel: str, last_event_id: str | None) -> None:
        self.channel = channel
        self.last_event_id = last_event_id
        self.position: tuple[int, ...] | None = None
        self.queue: deque[ServerSentEvent] = deque()
        self.live = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.condition = threading.Condition()
        self.ready = threading.Event()
        self.wakeup: asyncio.Event | None = None
        #: Dropped by the hub: its subscription ends once its queue is read.
        self.ended = False
        #: Its replay, which it may have waiting beside MAX_PENDING live ones.
        self.replayed = 0

    def take(self, events: Iterable[ServerSentEvent]) -> bool:
        """Append (on the listener's own thread or loop, or under its lock);
        ``False`` if that made it overflow: it is then ended, its queue
        freed, and the hub drops it."""
        if self.ended:
            return True
        self.queue.extend(events)
        if len(self.queue) <= MAX_PENDING + self.replayed:
            return True
        # A consumer this far behind (a client that stopped reading) is
        # ended rather than fed forever, or told to skip what it missed: it
        # resumes from the last event it did get (an EventSource reconnects
        # with it), from the retained events.
        self.queue.clear()
        self.ended = True
        return False

    def signal(self) -> None:
        if self.wakeup is not None:
            self.wakeup.set()

    def end(self) -> None:
        """Make its subscription stop (from any thread), waking its reader."""
        self.ended = True
        self.ready.set()
        if self.loop is None:
            with self.condition:
                self.condition.notify_all()
        else:
            with contextlib.suppress(RuntimeError):  # its loop is closed
                self.loop.call_soon_threadsafe(self.signal)


@dataclass
class _Channel:
    cursor: str
    listeners: list[Listener] = field(default_factory=list)


class Hub:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.channels: dict[str, _Channel] = {}
        self.joining: deque[Listener] = deque()
        self.closing = False
        self.thread = threading.Thread(
            target=self._run, name=f"streamkit-broadcast-{backend.name}", daemon=True
        )
        self.thread.start()

    # -- called by subscribers, on any thread ---------------------------------

    def join(self, listener: Listener) -> bool:
        """Queue ``listener``; ``False`` if this hub is ending (use a new one)."""
        with self.lock:
            if self.closing:
                return False
            self.joining.append(listener)
        self.backend.wake()
        return True

    def leave(self, listener: Listener) -> None:
        with self.lock:
            if listener in self.joining:
                self.joining.remove(listener)
            state = self.channels.get(listener.channel)
            if state is not None and listener in state.listeners:
                state.listeners.remove(listener)
                if not state.listeners:
                    del self.channels[listener.channel]
        self.backend.wake()  # so an idle hub starts its linger now

    def drop(self, listener: Listener, why: str) -> None:
        """End one subscriber that failed, with the error being handled
        logged: the others, and the hub, go on. An event stream over it
        ends, and its ``EventSource`` reconnects with its Last-Event-ID."""
        logger.exception(
            "Broadcast subscriber of %r dropped: %s", listener.channel, why
        )
        self.leave(listener)
        listener.end()

    def _overflowed(self, listener: Listener) -> None:
        logger.warning(
            "Broadcast subscriber of %r fell more than %d events behind and "
            "was ended; it resumes from its last event id",
            listener.channel,
            MAX_PENDING,
        )
        self.leave(listener)
        listener.end()

    # -- the hub's thread -----------------------------------------------------

    def _run(self) -> None:
        idle_since: float | None = None
        failures = 0
        while True:
            try:
                self._admit()
                with self.lock:
                    cursors = {n: c.cursor for n, c in self.channels.items()}
                    if cursors or self.joining:
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since > LINGER:
                        self.closing = True
                        break
                batches = self.backend.wait(cursors, LINGER if not cursors else 30.0)
                self._dispatch(batches)
                failures = 0
            except Exception:
                failures += 1
                logger.exception(
                    "Broadcast %s backend failed; reconnecting", self.backend.name
                )
                self._close_backend()
                time.sleep(min(0.2 * 2**failures, 5.0))
        self._close_backend()

    def _close_backend(self) -> None:
        try:
            self.backend.close()
        except Exception:
            logger.exception("Closing the broadcast %s backend", self.backend.name)

    def _admit(self) -> None:
        while True:
            with self.lock:
                if not self.joining:
                    return
                listener = self.joining[0]
                state = self.channels.get(listener.channel)
            if state is None:
                # Read before joining, so the channel's cursor is no later
                # than anything the backend will report after it.
                state = _Channel(self.backend.head(listener.channel))
            try:
                first = self._start(listener, state.cursor)
            except Exception:
                # Its own start (its replay) failed: retrying it before the
                # others would hold every subscriber of the process.
                with self.lock:
                    if self.joining and self.joining[0] is listener:
                        self.joining.popleft()
                self.drop(listener, "its start failed")
                continue
            with self.lock:
                if not self.joining or self.joining[0] is not listener:
                    continue  # it left meanwhile
                self.joining.popleft()
                self.channels.setdefault(listener.channel, state).listeners.append(
                    listener
                )
            listener.replayed = len(first)
            self._deliver([(listener, first)], ready=True)

    def _start(self, listener: Listener, cursor: str) -> list[ServerSentEvent]:
        """Where ``listener`` starts: the hub's cursor, or its last event id."""
        backend = self.backend
        last = listener.last_event_id
        if last is None:
            listener.position = backend.key(cursor)
            return []
        key = backend.key(last)
        if key is None:
            listener.position = backend.key(cursor)
            return [reset_event(last, cursor)]
        batch = backend.read(listener.channel, last)
        events: list[ServerSentEvent] = []
        if batch.lost_until is not None:
            events.append(reset_event(last, batch.lost_until))
        elif not batch.records:
            head = backend.head(listener.channel)
            head_key = backend.key(head)
            if head_key is not None and key > head_key:
                # An id this channel never gave (its store was emptied).
                listener.position = head_key
                return [reset_event(last, head)]
        listener.position = key
        if batch.records:
            listener.position = backend.key(batch.records[-1].id)
        elif batch.lost_until is not None:
            listener.position = backend.key(batch.lost_until)
        events.extend(map(to_event, batch.records))
        return events

    def _dispatch(self, batches: dict[str, Batch]) -> None:
        if not batches:
            return
        deliveries: list[tuple[Listener, list[ServerSentEvent]]] = []
        failed: list[Listener] = []
        key = self.backend.key
        with self.lock:
            for name, batch in batches.items():
                state = self.channels.get(name)
                if state is None:
                    continue
                if batch.records:
                    state.cursor = batch.records[-1].id
                elif batch.lost_until is not None:
                    state.cursor = batch.lost_until
                else:
                    continue
                try:
                    events = [(key(r.id), to_event(r)) for r in batch.records]
                except Exception:
                    # A record no event can be made of (written by something
                    # else than publish()): its channel's subscribers end, the
                    # other channels' batches still go out.
                    logger.exception(
                        "Broadcast channel %r has a record that is not an "
                        "event; its subscribers are dropped",
                        name,
                    )
                    failed.extend(state.listeners)
                    del self.channels[name]
                    continue
                lost = batch.lost_until
                for listener in state.listeners:
                    position = listener.position
                    mine: list[ServerSentEvent] = []
                    lost_key = key(lost) if lost is not None else None
                    if lost_key is not None and (
                        position is None or lost_key > position
                    ):
                        mine.append(reset_event(None, str(lost)))
                        listener.position = position = lost_key
                    # Skip what it already has: a replay, or a reconnection
                    # to a hub behind the server that served its last id.
                    mine.extend(
                        e for k, e in events if position is None or (k and k > position)
                    )
                    if mine:
                        listener.position = key(str(mine[-1].id))
                        deliveries.append((listener, mine))
        self._deliver(deliveries)
        for listener in failed:
            listener.end()

    def _deliver(
        self,
        deliveries: list[tuple[Listener, list[ServerSentEvent]]],
        *,
        ready: bool = False,
    ) -> None:
        by_loop: dict[
            asyncio.AbstractEventLoop, list[tuple[Listener, list[ServerSentEvent]]]
        ] = {}
        for listener, events in deliveries:
            if listener.loop is None:
                try:
                    with listener.condition:
                        kept = listener.take(events)
                        if ready:
                            listener.live = True
                        listener.condition.notify_all()
                except Exception:
                    self.drop(listener, "taking its events failed")
                    continue
                if not kept:
                    self._overflowed(listener)
                if ready:
                    listener.ready.set()
            else:
                by_loop.setdefault(listener.loop, []).append((listener, events))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._take_on_loop, items, ready)
            except RuntimeError:  # the loop is closed: its subscribers are gone
                for listener, _ in items:
                    self.leave(listener)

    def _take_on_loop(
        self, items: list[tuple[Listener, list[ServerSentEvent]]], ready: bool
    ) -> None:
        # On the subscribers' event loop: one failing leaves the others.
        for listener, events in items:
            try:
                kept = listener.take(events)
            except Exception:
                self.drop(listener, "taking its events failed")
                continue
            if not kept:
                self._overflowed(listener)
            if ready:
                listener.live = True
                listener.ready.set()
            listener.signal()


_hubs: dict[str, Hub] = {}
_hubs_lock = threading.Lock()


def join(key: str, make_backend: Callable[[], Backend], listener: Listener) -> Hub:
    """Add ``listener`` to this process's hub for ``key``, starting one."""
    while True:
        with _hubs_lock:
            hub = _hubs.get(key)
            if hub is None or hub.pid != os.getpid() or hub.closing:
                hub = _hubs[key] = Hub(make_backend())
        if hub.join(listener):
            return hub


def hubs() -> list[Hub]:
    """The running hubs of this process (for tests and checks)."""
    with _hubs_lock:
        return [h for h in _hubs.values() if h.pid == os.getpid() and not h.closing]
