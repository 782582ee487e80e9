"""The relay's shared state: what is pending between a producer and a
consumer, and when to take it (the drivers are in
:mod:`django_streamkit._core.stream`).

A producer (a helper thread for a sync source, a task for an async one) pulls
the source's items and puts them here; the consumer (whatever iterates the
response) takes them in batches and renders each batch into one chunk: pieces
joined, CSV rows written. A batch is taken

- at once, for the first item of a stream that has sent nothing yet;
- when the pending items weigh a chunk's worth (``limit``);
- when the oldest pending item has waited ``latency`` seconds, measured by the
  consumer's own clock, so items made before the source blocks (a slow query,
  a ``time.sleep``, a long ``await``) go out during the block, not after it;
- when the source has ended.

The producer waits while a chunk's worth is pending, so memory stays bounded
by about one chunk whatever the speeds. Rendering happens on the consumer's
side, in batches, which keeps a CSV writer's one-call-per-batch speed while
the rows of a slow source still flow.

Only the producer appends items and adds to ``put``; only the consumer pops
them and adds to ``taken``; the lock (or event) is touched when the pending
weight goes from nothing to something, when it reaches ``limit``, and when
either side stops. No Django imports.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from time import monotonic
from typing import Any, Generic, Literal, TypeAlias, TypeVar

T = TypeVar("T")
G = TypeVar("G", bound="Gate[Any]")

#: An item's weight towards a chunk (a piece's length); ``None``: 1 each.
Weigh: TypeAlias = Callable[[T], int]
#: A batch of items as one chunk's bytes.
Render: TypeAlias = Callable[[list[T]], bytes]
#: Called by the consumer after each ``idle`` seconds with nothing pending:
#: bytes to send now (``b""``: nothing), or ``None`` to end the stream.
OnIdle: TypeAlias = Callable[[], "bytes | None"]


@dataclass(frozen=True, slots=True)
class Plan(Generic[T]):
    """How a relay makes chunks, for both drivers: ``render`` a batch, at
    most ``limit()`` of weight (read after each chunk), none waiting longer
    than ``latency``; ``fresh``: nothing sent yet, so the first item leaves
    alone; ``head`` before the first chunk, ``tail()`` after the last;
    ``waits``: a ``None`` item means "nothing yet" and is never relayed (it
    only lets the producer notice a consumer that has gone); ``on_idle()``
    after every ``idle`` seconds with nothing pending (heartbeats)."""

    render: Render[T]
    limit: Callable[[], int]
    latency: float
    weigh: Weigh[T] | None = None
    fresh: bool = True
    head: bytes = b""
    tail: Callable[[], bytes] = bytes
    waits: bool = False
    idle: float | None = None
    on_idle: OnIdle | None = None

    def gate(self, relay: type[G]) -> G:
        gate = relay(self.limit(), self.latency, self.weigh, fresh=self.fresh)
        gate.waits = self.waits
        return gate


class Closed(Exception):
    """Raised in the producer when the consumer has gone."""


class Gate(Generic[T]):
    """What both relays share: the pending items and when to take them."""

    __slots__ = (
        "closed",
        "ended",
        "error",
        "fresh",
        "items",
        "latency",
        "limit",
        "put",
        "since",
        "taken",
        "waits",
        "weigh",
    )

    def __init__(
        self, limit: int, latency: float, weigh: Weigh[T] | None, *, fresh: bool
    ) -> None:
        self.items: deque[T] = deque()
        self.put = 0  # weight put so far; written by the producer only
        self.taken = 0  # weight taken so far; written by the consumer only
        self.since = 0.0  # when the pending weight last went up from nothing
        self.limit = max(1, limit)  # a limit of 0 would never let go
        self.latency = latency
        self.weigh = weigh  # None: every item weighs 1
        self.fresh = fresh  # nothing sent yet: the first item leaves alone
        self.ended = False
        self.error: BaseException | None = None
        self.closed = False
        self.waits = False  # a None item is "nothing yet", never relayed

    def add(self, item: T) -> tuple[bool, bool]:
        """Append ``item``: (pending was empty, pending is now full)."""
        before = self.put
        if before == self.taken:
            self.since = monotonic()
        self.items.append(item)
        self.put = before + (1 if self.weigh is None else self.weigh(item))
        # Read ``taken`` again: a consumer that took everything meanwhile is
        # about to wait, and must be woken (a stale ``since`` only makes it
        # take this item sooner, never later).
        return self.taken == before, self.put - self.taken >= self.limit

    def full(self) -> bool:
        return self.put - self.taken >= self.limit and not self.closed

    def wait_time(self) -> float | None:
        """0 when a batch (or the end) is to be taken now; else how long to
        wait for one (``None``: until woken)."""
        pending = self.put - self.taken
        if not pending:
            return 0.0 if self.ended else None
        if self.fresh or self.ended or pending >= self.limit:
            return 0.0
        return max(0.0, self.since + self.latency - monotonic())

    def take(self) -> list[T] | None:
        """The pending items, up to ``limit`` of weight; ``None`` at the end.

        Raises the source's error once everything it made before failing has
        been taken.
        """
        pending = self.put - self.taken
        if not pending:
            if self.error is not None:
                raise self.error
            return None
        self.fresh = False
        items, weigh, limit = self.items, self.weigh, self.limit
        popleft = items.popleft
        if weigh is None:
            count = min(pending, limit)
            batch = [popleft() for _ in range(count)]
            self.taken += count
            return batch
        batch = []
        got = 0
        # Only items already counted in ``put`` are taken (FIFO), and a chunk
        # stops before it would overflow ``limit``.
        while got < pending:
            weight = weigh(items[0])
            if batch and got + weight > limit:
                break
            batch.append(popleft())
            got += weight
        self.taken += got
        return batch


class ThreadRelay(Gate[T]):
    """A sync source's relay: the producer runs on a helper thread."""

    __slots__ = ("_cond",)

    def __init__(
        self, limit: int, latency: float, weigh: Weigh[T] | None, *, fresh: bool
    ) -> None:
        super().__init__(limit, latency, weigh, fresh=fresh)
        self._cond = threading.Condition(threading.Lock())

    # -- producer ----------------------------------------------------------

    def fill(self, source: Iterator[T]) -> None:
        """Put every item of ``source``: :meth:`Gate.add` and the wait for
        room, inlined, as this loop is all the relay adds to each item of a
        sync source."""
        append, weigh, cond = self.items.append, self.weigh, self._cond
        for item in source:
            if self.closed:  # the client left: stop at the next item
                raise Closed
            if item is None and self.waits:
                continue
            before = self.put
            if before == self.taken:
                self.since = monotonic()
            append(item)
            self.put = put = before + (1 if weigh is None else weigh(item))
            if self.taken == before or put - self.taken >= self.limit:
                with cond:
                    cond.notify()
                    while self.full():
                        cond.wait()
                if self.closed:
                    raise Closed

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self.error = error
            self.ended = True
            self._cond.notify_all()

    # -- consumer ----------------------------------------------------------

    def receive(self, idle: float | None = None) -> list[T] | Literal[False] | None:
        """The next batch, ``None`` at the end, or ``False`` after ``idle``
        seconds with nothing pending."""
        with self._cond:
            while (wait := self.wait_time()) != 0:
                if wait is None:
                    if not self._cond.wait(idle) and self.wait_time() is None:
                        return False
                else:
                    self._cond.wait(wait)
            batch = self.take()
        # The producer is woken when the batch is rendered (set_limit), not
        # now: rendering and producing would only take turns with the GIL.
        return batch

    def set_limit(self, limit: int) -> None:
        with self._cond:
            self.limit = max(1, limit)
            self._cond.notify_all()  # a producer waiting for room may have it

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class TaskRelay(Gate[T]):
    """An async source's relay: the producer is a task on the same loop."""

    __slots__ = ("_consumer", "_producer")

    def __init__(
        self, limit: int, latency: float, weigh: Weigh[T] | None, *, fresh: bool
    ) -> None:
        super().__init__(limit, latency, weigh, fresh=fresh)
        self._consumer = asyncio.Event()
        self._producer = asyncio.Event()

    async def send(self, item: T) -> None:
        if self.closed:
            raise Closed
        if item is None and self.waits:
            return
        was_empty, full = self.add(item)
        if was_empty or full:
            self._consumer.set()
            while self.full():
                self._producer.clear()
                await self._producer.wait()
            if self.closed:
                raise Closed

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        self.ended = True
        self._consumer.set()

    async def receive(
        self, idle: float | None = None
    ) -> list[T] | Literal[False] | None:
        while (wait := self.wait_time()) != 0:
            self._consumer.clear()
            timeout = idle if wait is None else wait
            try:
                async with asyncio.timeout(timeout):
                    await self._consumer.wait()
            except TimeoutError:
                if wait is None:
                    return False
        batch = self.take()  # the producer is woken by set_limit()
        return batch

    def set_limit(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._producer.set()  # a producer waiting for room may have it

    def close(self) -> None:
        self.closed = True
        self._producer.set()


class Output(Generic[T]):
    """The consumer's side, shared by both drivers: each batch rendered into
    a chunk (the head before the first), the next limit read after it, and
    the tail at the end."""

    __slots__ = ("gate", "head", "plan")

    def __init__(self, gate: ThreadRelay[T] | TaskRelay[T], plan: Plan[T]) -> None:
        self.gate = gate
        self.plan = plan
        self.head = plan.head

    def chunk(self, batch: list[T]) -> bytes:
        chunk = self.plan.render(batch)
        if self.head:
            chunk, self.head = self.head + chunk, b""
        self.gate.set_limit(self.plan.limit())
        return chunk

    def end(self) -> bytes:
        return self.head + self.plan.tail()
