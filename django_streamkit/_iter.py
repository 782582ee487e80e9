"""The pure streaming core: chunk coalescing and the sync/async bridges.

Nothing here imports Django, so it can be read, tested and benchmarked on its
own; :mod:`django_streamkit.responses` adapts it to Django's response classes.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Final, Literal, TypeVar

from django_streamkit._typing import AsyncChunks, Piece, SyncChunks

T = TypeVar("T")


class _Done(enum.Enum):
    DONE = "done"


DONE: Final = _Done.DONE
"""What :func:`next_or_done` and :func:`anext_or_done` return at the end."""


def to_bytes(piece: Piece, encoding: str) -> bytes:
    """Encode a piece as Django's ``HttpResponseBase.make_bytes`` would."""
    if isinstance(piece, bytes):
        return piece
    if isinstance(piece, str):
        return piece.encode(encoding)
    if isinstance(piece, memoryview):
        return bytes(piece)
    return str(piece).encode(encoding)


class Batcher:
    """Decide when pending bytes become a chunk; shared by both coalescers.

    The first non-empty piece is let through on its own, at once, so the
    client sees a first byte as early as possible. After that, pending bytes
    are flushed when they reach ``chunk_size`` or when ``max_latency`` seconds
    have passed since the oldest of them was produced, whichever comes first.
    """

    __slots__ = (
        "_deadline",
        "_encoding",
        "_first",
        "_latency",
        "_left",
        "_pending",
        "_size",
    )

    def __init__(self, chunk_size: int, max_latency: float, encoding: str) -> None:
        self._size = chunk_size
        self._latency = max_latency
        self._encoding = encoding
        self._pending: list[bytes] = []
        self._deadline = 0.0
        self._left = 0
        self._first = True

    def push(self, piece: Piece) -> bytes | None:
        data = piece if type(piece) is bytes else to_bytes(piece, self._encoding)
        if not data:
            return None
        if self._first:
            self._first = False
            return data
        pending = self._pending
        if not pending:
            self._deadline = time.monotonic() + self._latency
            self._left = self._size
        elif len(data) > self._left:
            # Flush before overflowing, so chunks stay within ``chunk_size``
            # (servers split anything larger, e.g. ASGI's 64 KiB messages).
            chunk = b"".join(pending)
            pending.clear()
            pending.append(data)
            self._deadline = time.monotonic() + self._latency
            self._left = self._size - len(data)
            return chunk
        pending.append(data)
        self._left -= len(data)
        if self._left <= 0 or time.monotonic() >= self._deadline:
            return self.flush()
        return None

    def flush(self) -> bytes | None:
        if not self._pending:
            return None
        chunk = b"".join(self._pending)
        self._pending.clear()
        return chunk


def coalesce(
    source: Iterator[Piece],
    *,
    chunk_size: int,
    max_latency: float,
    encoding: str = "utf-8",
) -> SyncChunks:
    """Join the pieces of ``source`` into chunks of about ``chunk_size`` bytes.

    See :class:`Batcher` for when a chunk is let go.
    """
    push = (batcher := Batcher(chunk_size, max_latency, encoding)).push
    for piece in source:
        if (chunk := push(piece)) is not None:
            yield chunk
    if (chunk := batcher.flush()) is not None:
        yield chunk


async def acoalesce(
    source: AsyncIterator[Piece],
    *,
    chunk_size: int,
    max_latency: float,
    encoding: str = "utf-8",
) -> AsyncChunks:
    """The async twin of :func:`coalesce`."""
    push = (batcher := Batcher(chunk_size, max_latency, encoding)).push
    async for piece in source:
        if (chunk := push(piece)) is not None:
            yield chunk
    if (chunk := batcher.flush()) is not None:
        yield chunk


def passthrough(source: Iterator[Piece], encoding: str = "utf-8") -> SyncChunks:
    """Each non-empty piece as bytes, one for one: for content that is already
    chunked (a wrapper a middleware put around coalesced chunks)."""
    for piece in source:
        if data := to_bytes(piece, encoding):
            yield data


async def apassthrough(
    source: AsyncIterator[Piece], encoding: str = "utf-8"
) -> AsyncChunks:
    async for piece in source:
        if data := to_bytes(piece, encoding):
            yield data


def prepend(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``first`` (when not empty), then the rest of ``chunks``."""
    if first:
        yield first
    yield from chunks


async def aprepend(first: bytes, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The async twin of :func:`prepend`."""
    if first:
        yield first
    async for chunk in chunks:
        yield chunk


def next_or_done(iterator: Iterator[T]) -> T | Literal[_Done.DONE]:
    """``next()`` that returns a sentinel instead of raising ``StopIteration``.

    ``StopIteration`` must not cross a thread or a future boundary (PEP 479).
    """
    return next(iterator, DONE)


async def anext_or_done(iterator: AsyncIterator[T]) -> T | Literal[_Done.DONE]:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return DONE


class AsyncDriver:
    """Drive an async iterator from synchronous code, one item per call.

    One event loop serves the iterator's whole life (an async generator, and
    what it opened, may be bound to the loop it started on). The loop runs in
    the calling thread when that thread has none running, as under a WSGI
    server, and in a dedicated thread otherwise. ``aclose`` runs on the same
    loop when the driver is closed; a close requested from inside a step (a
    wrapper's ``finally`` closing the response) waits until that step is over.
    """

    def __init__(
        self, iterator: AsyncIterator[Any], aclose: Callable[[], Awaitable[Any]]
    ) -> None:
        self._iterator = iterator
        self._aclose = aclose
        self._runner: asyncio.Runner | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._busy = False
        self._close_pending = False
        self._closed = False

    def _run(self, factory: Callable[[], Awaitable[T]]) -> T:
        self._busy = True
        try:
            if self._thread_loop is None:
                try:
                    asyncio.get_running_loop()
                except RuntimeError:
                    if self._runner is None:
                        self._runner = asyncio.Runner()
                    return self._runner.run(_awaited(factory))
                self._thread_loop = _loop_in_thread()
            coroutine = _awaited(factory)
            return asyncio.run_coroutine_threadsafe(
                coroutine, self._thread_loop
            ).result()
        finally:
            self._busy = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._closed:
            raise StopIteration
        try:
            item = self._run(lambda: anext_or_done(self._iterator))
        except BaseException:
            self.close()
            raise
        if item is DONE or self._close_pending:
            # Release the event loop now, not when the response is closed.
            self.close()
            raise StopIteration
        return item

    def close(self) -> None:
        if self._closed:
            return
        if self._busy:
            self._close_pending = True
            return
        self._closed = True
        try:
            self._run(self._aclose)
        finally:
            if self._runner is not None:
                self._runner.close()
            if self._thread_loop is not None:
                self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)


def _loop_in_thread() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()

    def run() -> None:
        try:
            loop.run_forever()
        finally:
            loop.close()

    threading.Thread(target=run, name="streamkit-async-driver", daemon=True).start()
    return loop


async def _awaited(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def call_all(calls: Iterable[Callable[[], object]]) -> None:
    """Call each clean-up, then raise the first error, if any: one failing
    clean-up must not keep the others from running."""
    errors: list[Exception] = []
    for call in calls:
        try:
            call()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


async def acall_all(calls: Iterable[Callable[[], object]]) -> None:
    """The async twin of :func:`call_all`; awaits what a call returns, if
    anything (so sync and async clean-ups can be mixed)."""
    errors: list[Exception] = []
    for call in calls:
        try:
            result = call()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


class Closer:
    """Close a chunk generator, then its source, each exactly once.

    Closing the generator first throws ``GeneratorExit`` into any wrapper it
    runs; the source's own ``close()`` (a generator's ``finally``) follows.
    The async twin is :class:`AsyncCloser`.
    """

    def __init__(self, *closables: object) -> None:
        self._closables = closables
        self.closed = False

    def __call__(self) -> None:
        if self.closed:
            return
        self.closed = True
        call_all(_methods(self._closables, "close"))


class AsyncCloser:
    def __init__(self, *closables: object) -> None:
        self._closables = closables
        self.closed = False

    async def __call__(self) -> None:
        if self.closed:
            return
        self.closed = True
        await acall_all(_methods(self._closables, "aclose"))


def _methods(objects: Iterable[object], name: str) -> Iterator[Callable[[], object]]:
    for obj in objects:
        if (method := getattr(obj, name, None)) is not None:
            yield method
