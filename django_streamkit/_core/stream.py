"""One response's stream, from the view to the server: :class:`Stream`
primes a :class:`~django_streamkit._core.feed.Feed` (its head and first item,
in the view, so an error before the first byte is raised there), then relays
the rest: a producer (a helper thread for a sync source, a task for an async
one) pulls the source's items into a gate (:mod:`django_streamkit._core.gate`
says when a batch is taken), and the consumer, whatever iterates the
response, renders each batch into one chunk, even while the source blocks.

What a sync producer's thread borrows from the iterating thread (a Django
request's database connections) is the caller's ``borrow``. No Django imports.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import suppress
from typing import Any, Final, TypeAlias, TypeVar

from django_streamkit._core.feed import Feed
from django_streamkit._core.gate import Closed, Output, Plan, TaskRelay, ThreadRelay
from django_streamkit._core.scope import Scope, in_scope

T = TypeVar("T")

#: ``borrow(scope)``, called on the thread that iterates the response, gives
#: what runs a sync producer's body on its helper thread: in ``scope``, with
#: whatever the producer borrows from the iterating thread.
Borrow: TypeAlias = Callable[[Scope], Callable[[Callable[[], None]], None]]


def _in_scope(scope: Scope) -> Callable[[Callable[[], None]], None]:
    return scope.run


def relay(
    source: Iterator[T],
    plan: Plan[T],
    *,
    run: Callable[[Callable[[], None]], None],
    close: Callable[[], None],
) -> Iterator[bytes]:
    """Chunks of ``source``, pulled on a helper thread and rendered here.

    ``run(body)`` runs the producer's body on the helper thread (inside the
    request's context, with its database connections); ``close()`` closes
    the source, on that thread after the last item, or here if the thread
    never started. ``plan`` says how chunks are made (see :class:`Plan`).
    """
    gate: ThreadRelay[T] = plan.gate(ThreadRelay)
    started = False

    def body() -> None:
        nonlocal started
        started = True
        error = None
        try:
            gate.fill(source)
        except Closed:
            pass
        except BaseException as exc:
            error = exc
        finally:
            try:
                close()
            except BaseException as exc:
                error = error or exc
            gate.finish(error)

    def target() -> None:
        try:
            run(body)
        except BaseException as exc:
            # run() failed around body (borrowing a connection, entering the
            # scope): end the stream with that error rather than hang.
            if not started:
                with suppress(BaseException):
                    close()
                gate.finish(exc)

    thread = threading.Thread(target=target, name="streamkit-producer", daemon=True)
    thread.start()
    output = Output(gate, plan)
    idle, on_idle = plan.idle, plan.on_idle
    try:
        while (batch := gate.receive(idle)) is not None:
            if batch is False:
                if (beat := on_idle()) is None:  # type: ignore[misc]
                    break
                if beat:
                    yield beat
                continue
            yield output.chunk(batch)
        if end := output.end():
            yield end
    finally:
        gate.close()
        thread.join()


async def arelay(
    source: AsyncIterator[T],
    plan: Plan[T],
    *,
    spawn: Callable[[Coroutine[None, None, None]], asyncio.Task[None]],
    aclose: Callable[[], Awaitable[object]],
) -> AsyncIterator[bytes]:
    """The async twin of :func:`relay`: the producer is a task made by
    ``spawn(coroutine)`` (in the source's context); ``aclose()`` runs in it."""
    gate: TaskRelay[T] = plan.gate(TaskRelay)

    started = False

    async def body() -> None:
        nonlocal started
        started = True
        error = None
        try:
            send = gate.send
            async for item in source:
                await send(item)
        except Closed:
            pass
        except GeneratorExit:
            raise  # destroyed unawaited: nothing may be awaited any more
        except BaseException as exc:  # cancellation included: the end
            error = exc
        try:
            await aclose()
        except BaseException as exc:
            error = error or exc
        gate.finish(error)

    task = spawn(body())
    output = Output(gate, plan)
    idle, on_idle = plan.idle, plan.on_idle
    try:
        while (batch := await gate.receive(idle)) is not None:
            if batch is False:
                if (beat := on_idle()) is None:  # type: ignore[misc]
                    break
                if beat:
                    yield beat
                continue
            yield output.chunk(batch)
        if end := output.end():
            yield end
    finally:
        gate.close()
        if not task.done():
            task.cancel()
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this consumer is cancelled, not (only) the producer
        if not started:  # cancelled before its first step: body() never ran
            await aclose()


class Stream:
    """The chunks of one :class:`Feed`, each made once."""

    def __init__(
        self,
        feed: Feed[Any],
        scope: Scope | None,
        latency: float,
        borrow: Borrow = _in_scope,
    ) -> None:
        self.feed = feed
        self.borrow = borrow
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
        if not self._first_head():
            self._first_item(next(self.feed.source, _END))  # type: ignore[arg-type]

    async def aprime(self) -> None:
        if self.primed:
            return
        self.primed = True
        try:
            if not self._first_head():
                step = self.feed.source.__anext__()  # type: ignore[union-attr]
                try:
                    item = await (
                        step if self.scope is None else in_scope(self.scope, step)
                    )
                except StopAsyncIteration:
                    item = _END
                self._first_item(item)
        except BaseException:
            await self.aclose()
            raise

    # Both primings: the head, then (unless it goes alone) the first item.
    def _first_head(self) -> bool:
        self._first = self.feed.head()
        return self.feed.head_alone

    def _first_item(self, item: object) -> None:
        if item is _END:
            self._first, self._finished = self._first + self.feed.tail(), True
        else:
            self._first += self.feed.render([item])

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
            waits=feed.waits,
            idle=feed.idle,
            on_idle=feed.on_idle,
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
            run=self.borrow(scope),
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
        chunks = arelay(
            feed.source,  # type: ignore[arg-type]
            self._plan(head),
            spawn=spawn,
            aclose=feed.aclose,
        )
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            # ``async for`` does not close what it iterates: the relay (and
            # its producer) must end now, not when the collector finds it.
            await chunks.aclose()  # type: ignore[attr-defined]

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
