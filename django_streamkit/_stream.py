"""One response's stream: priming in the view, then the relay, on any server.

The Django side of :mod:`django_streamkit._core.relay`: a sync source's producer
thread works with the database connections of the thread that iterates the
response (the request's thread under WSGI, its thread-sensitive worker under
ASGI), so the source keeps the request's connection and transaction, SQLite's
locking and the test database's isolation; and it runs in the request's
context (a ``stream_with_context`` scope, or a copy of the iterating thread's
context), so language, time zone and context variables are the request's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Final

from django.db import connections

from django_streamkit._core.feed import Feed
from django_streamkit._core.gate import Plan
from django_streamkit._core.relay import arelay, relay
from django_streamkit._core.scope import Scope, in_scope
from django_streamkit.conf import conf


def check_chunk_size(chunk_size: object) -> int:
    if chunk_size is None:
        return conf.CHUNK_SIZE
    if (
        not isinstance(chunk_size, int)
        or isinstance(chunk_size, bool)
        or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be a positive number of bytes, not {chunk_size!r}; "
            "pass None to use the STREAMKIT_CHUNK_SIZE setting."
        )
    return chunk_size


def _runner(scope: Scope) -> Callable[[Callable[[], None]], None]:
    """Run a producer's body on its thread, in ``scope``, with the database
    connections of the thread that calls this."""
    shared = [(alias, connections[alias]) for alias in connections]

    def run(body: Callable[[], None]) -> None:
        for alias, connection in shared:
            # The iterating thread waits while the producer works, so the
            # connection is used by one thread at a time, as Django's live
            # server tests share theirs.
            connection.inc_thread_sharing()
            connections[alias] = connection
        try:
            scope.run(body)
        finally:
            for _, connection in shared:
                connection.dec_thread_sharing()

    return run


class Stream:
    """The chunks of one :class:`Feed`, each made once."""

    def __init__(self, feed: Feed[Any], scope: Scope | None, latency: float) -> None:
        self.feed = feed
        self.scope = scope
        self.latency = latency
        self.primed = False
        self._first = b""
        self._finished = False  # the source ended while priming
        self._relayed = False  # the relay owns closing the source
        self._closed = False
        self._chunks: Iterator[bytes] | None = None
        self._achunks: AsyncIterator[bytes] | None = None

    # -- the first chunk ---------------------------------------------------

    def prime(self) -> None:
        if self.primed:
            return
        self.primed = True
        try:
            if self.scope is None:
                self._make_first()
            else:
                self.scope.run(self._make_first)
        except BaseException:
            self.close()
            raise

    def _make_first(self) -> None:
        feed = self.feed
        head = feed.head()
        if feed.head_alone:
            self._first = head
            return
        item = next(feed.source, _END)  # type: ignore[arg-type]
        if item is _END:
            self._first, self._finished = head + feed.tail(), True
        else:
            self._first = head + feed.render([item])

    async def aprime(self) -> None:
        if self.primed:
            return
        self.primed = True
        feed = self.feed
        try:
            head = feed.head()
            if feed.head_alone:
                self._first = head
                return
            step = feed.source.__anext__()  # type: ignore[union-attr]
            try:
                item = await (
                    step if self.scope is None else in_scope(self.scope, step)
                )
            except StopAsyncIteration:
                self._first, self._finished = head + feed.tail(), True
                return
            self._first = head + feed.render([item])
        except BaseException:
            await self.aclose()
            raise

    # -- sync --------------------------------------------------------------

    def chunks(self) -> Iterator[bytes]:
        if self._chunks is None:
            self._chunks = self._sync()
        return self._chunks

    def _opening(self) -> tuple[bytes, bytes, bool]:
        """(the chunk to send first, the head still owed to the first relayed
        chunk, whether the stream already ended); shared by both drivers."""
        if self.primed:
            first, self._first = self._first, b""
            return first, b"", self._finished
        head = self.feed.head()
        if self.feed.head_alone:
            return head, b"", False
        return b"", head, False

    def _plan(self, head: bytes) -> Plan[Any]:
        self._relayed = True  # from now on the relay closes the source
        feed = self.feed
        return Plan(
            feed.render,
            feed.limit,
            self.latency,
            feed.weigh,
            fresh=not self.primed,
            head=head,
            tail=feed.tail,
        )

    def _sync(self) -> Iterator[bytes]:
        first, head, ended = self._opening()
        if first:
            yield first
        if ended:
            return
        scope = Scope() if self.scope is None else self.scope
        feed = self.feed
        yield from relay(
            feed.source,  # type: ignore[arg-type]
            self._plan(head),
            run=_runner(scope),
            close=feed.close,
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._chunks is not None:
            self._chunks.close()  # type: ignore[attr-defined]
        if not self._relayed:
            if self.scope is None:
                self.feed.close()
            else:
                self.scope.run(self.feed.close)

    # -- async -------------------------------------------------------------

    def achunks(self) -> AsyncIterator[bytes]:
        if self._achunks is None:
            self._achunks = self._async()
        return self._achunks

    async def _async(self) -> AsyncIterator[bytes]:
        first, head, ended = self._opening()
        if first:
            yield first
        if ended:
            return
        loop = asyncio.get_running_loop()
        context = None
        if self.scope is not None:
            self.scope.move_here()
            context = self.scope.context

        def spawn(coroutine: Coroutine[None, None, None]) -> asyncio.Task[None]:
            return loop.create_task(coroutine, context=context)

        feed = self.feed
        async for chunk in arelay(
            feed.source,  # type: ignore[arg-type]
            self._plan(head),
            spawn=spawn,
            aclose=feed.aclose,
        ):
            yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._achunks is not None:
            await self._achunks.aclose()  # type: ignore[attr-defined]
        if not self._relayed:
            if self.scope is None:
                await self.feed.aclose()
            else:
                await in_scope(self.scope, self.scope.run(self.feed.aclose))


_END: Final = object()
