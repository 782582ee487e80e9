"""The relay between a source and the server: the latency bound, kept even
while the source blocks.

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

The state both sides share is in :mod:`django_streamkit._core.gate`.

Nothing here imports Django.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Generic, TypeVar

from django_streamkit._core.gate import Closed, Plan, TaskRelay, ThreadRelay

T = TypeVar("T")


class _Output(Generic[T]):
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
        self.gate.limit = self.plan.limit()
        return chunk

    def end(self) -> bytes:
        return self.head + self.plan.tail()


# -- drivers ----------------------------------------------------------------


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

    def body() -> None:
        error = None
        try:
            send = gate.send
            for item in source:
                send(item)
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

    thread = threading.Thread(
        target=run, args=(body,), name="streamkit-producer", daemon=True
    )
    thread.start()
    output = _Output(gate, plan)
    try:
        while batch := gate.receive():
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
        except BaseException as exc:  # cancellation included: the end
            error = exc
        finally:
            try:
                await aclose()
            except BaseException as exc:
                error = error or exc
            gate.finish(error)

    task = spawn(body())
    output = _Output(gate, plan)
    try:
        while batch := await gate.receive():
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
