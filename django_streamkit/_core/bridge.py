"""The pure streaming core: the sync/async bridges and clean-up helpers.

Nothing here imports Django, so it can be read, tested and benchmarked on its
own; :mod:`django_streamkit.responses` adapts it to Django's response classes.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Final, Generic, Literal, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Done(enum.Enum):
    DONE = "done"


DONE: Final = _Done.DONE
"""What :func:`next_or_done` and :func:`anext_or_done` return at the end."""


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


def in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class AsyncDriver(Generic[T]):
    """Drive an async iterator from synchronous code, one item per call.

    One event loop serves the iterator's whole life (an async generator, and
    what it opened, may be bound to the loop it started on). The loop runs in
    the calling thread when that thread has none running, as under a WSGI
    server, and in a dedicated thread otherwise. ``aclose`` runs on the same
    loop when the driver is closed; a close requested from inside a step (a
    wrapper's ``finally`` closing the response) waits until that step is over.
    """

    def __init__(
        self, iterator: AsyncIterator[T], aclose: Callable[[], Awaitable[object]]
    ) -> None:
        self._iterator = iterator
        self._aclose = aclose
        self._runner: asyncio.Runner | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._busy = False
        self._close_pending = False
        self._closed = False

    def _run(self, factory: Callable[[], Awaitable[R]]) -> R:
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

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
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
