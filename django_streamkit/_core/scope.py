"""The pure machinery behind ``stream_with_context``: run a source in a Context.

A :class:`Scope` is a copy of the caller's :class:`contextvars.Context`, taken
once, in the view. Every step of a wrapped source runs inside it with
``Context.run``, so the source sees the view's context variables, and when the
step returns the thread (or task) is back in its own context: nothing the
source reads or sets can leak into the code that iterates it, even when the
source is abandoned half way.

Django keeps the active language, the active time zone, the URLconf and the
script prefix in ``asgiref.local.Local`` objects, which are context variables,
so one copy carries all of them and nothing has to be re-activated per step.
Recent asgiref versions tag that storage with the thread that owns it and hide
it from other threads; when a scope is first entered on another thread (a sync
generator captured in an async view, say) its Local storage is re-homed to
that thread, exactly as ``asgiref.sync`` does when it moves a context.

Nothing here imports Django.
"""

from __future__ import annotations

import contextvars
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
)
from threading import get_ident
from typing import Any, Generic, TypeVar

from django_streamkit._core.bridge import DONE

try:  # asgiref >= 3.10 tags Local storage with its thread.
    from asgiref.local import _rehome, _Storage
except ImportError:  # pragma: no cover - older asgiref shares it freely
    _rehome = _Storage = None  # type: ignore[assignment,misc]

T = TypeVar("T")


def _rehome_locals(context: contextvars.Context) -> None:
    # Runs inside ``context``: point every asgiref Local at this thread.
    moved = [(var, value) for var, value in context.items() if type(value) is _Storage]
    for var, value in moved:
        var.set(_rehome(value))


class Scope:
    """A captured Context and the thread that last ran it."""

    __slots__ = ("context", "thread")

    def __init__(self, context: contextvars.Context | None = None) -> None:
        self.context = contextvars.copy_context() if context is None else context
        self.thread = get_ident()

    def move_here(self) -> None:
        """Adopt the current thread before running a step on it."""
        self.thread = get_ident()
        if _Storage is not None:
            self.context.run(_rehome_locals, self.context)

    def run(self, func: Callable[..., T], *args: Any) -> T:
        if self.thread != get_ident():
            self.move_here()
        return self.context.run(func, *args)


class _CloseOnce:
    """Close an iterator inside a scope (``close()`` or ``aclose()``), the
    first time only."""

    __slots__ = ("done", "iterator", "scope")

    def __init__(self, scope: Scope, iterator: object) -> None:
        self.scope = scope
        self.iterator = iterator
        self.done = False

    def _claim(self, name: str) -> Callable[[], Any] | None:
        if self.done:
            return None
        self.done = True
        return getattr(self.iterator, name, None)

    def __call__(self) -> None:
        if (close := self._claim("close")) is not None:
            self.scope.run(close)

    async def acall(self) -> None:
        if (aclose := self._claim("aclose")) is not None:
            await in_scope(self.scope, self.scope.run(aclose))


class _Wrapper:
    """What both wrappers hold: the scope, the source, its closer, the loop."""

    __slots__ = ("_close", "_steps", "scope", "source")

    def __init__(self, scope: Scope, iterator: Any) -> None:
        self.scope = scope
        self.source = iterator
        self._close = _CloseOnce(scope, iterator)
        self._steps = self._loop(scope, iterator, self._close)

    @staticmethod
    def _loop(scope: Scope, iterator: Any, close: _CloseOnce) -> Any:
        raise NotImplementedError


def _step_loop(
    scope: Scope, iterator: Iterator[T], close: _CloseOnce
) -> Generator[T, None, None]:
    # The per-step loop, as a generator: resuming one costs less than calling
    # a ``__next__`` method, and this is all the wrapper adds to each step.
    run = scope.context.run
    try:
        while True:
            if scope.thread != get_ident():
                scope.move_here()
            item = run(next, iterator, DONE)
            if item is DONE:
                return
            yield item
    finally:
        # Exhausted, closed, or abandoned and finalised by the garbage
        # collector: close the source in its scope (never in whatever context
        # is current when the collector runs), like Flask's wrapper does.
        close()


class ContextIterator(_Wrapper, Generic[T]):
    """An iterator whose every step, and the source's ``close()``, run in a scope.

    ``iter()`` of it gives its stepping generator, so a ``for`` loop runs at
    generator speed; ``next()`` of either advances the same iteration. The
    loop holds everything it needs, so it works on (and closes the source
    when it is finalised) even after this object is gone.
    """

    __slots__ = ()
    source: Iterator[T]
    _steps: Generator[T, None, None]
    _loop = staticmethod(_step_loop)

    def __init__(self, scope: Scope, iterator: Iterator[T]) -> None:
        super().__init__(scope, iterator)

    def __iter__(self) -> Iterator[T]:
        return self._steps

    def __next__(self) -> T:
        return next(self._steps)

    def close(self) -> None:
        self._steps.close()  # a started loop closes the source itself...
        self._close()  # ...one that never started does not


async def _astep_loop(
    scope: Scope, iterator: AsyncIterator[T], close: _CloseOnce
) -> AsyncGenerator[T, None]:
    # The async twin of _step_loop. A step that completes without suspending (a
    # generator producing rows) costs one send in the scope; one that waits
    # is resumed slice by slice, each slice in the scope.
    run = scope.context.run
    anext_ = iterator.__anext__
    try:
        while True:
            if scope.thread != get_ident():
                scope.move_here()
            slices = run(anext_).__await__()
            try:
                signal = run(slices.send, None)
            except StopIteration as stop:
                item = stop.value
            except StopAsyncIteration:
                return
            else:
                try:
                    item = await _Slices(scope, slices, signal)
                except StopAsyncIteration:
                    # The source awaited after its last yield. Left to
                    # propagate, this async generator would turn the end into
                    # a RuntimeError (PEP 525) and abort the response.
                    return
            yield item
    finally:
        await close.acall()


class AsyncContextIterator(_Wrapper, Generic[T]):
    """The async twin of :class:`ContextIterator`: every slice of every step,
    and the source's ``aclose()``, run in the scope."""

    __slots__ = ()
    source: AsyncIterator[T]
    _steps: AsyncGenerator[T, None]
    _loop = staticmethod(_astep_loop)

    def __init__(self, scope: Scope, iterator: AsyncIterator[T]) -> None:
        super().__init__(scope, iterator)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._steps

    def __anext__(self) -> Awaitable[T]:
        return self._steps.__anext__()

    async def aclose(self) -> None:
        await self._steps.aclose()
        await self._close.acall()


async def in_scope(scope: Scope, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` with each of its slices run inside ``scope``."""
    slices = awaitable.__await__()
    try:
        signal = scope.run(slices.send, None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    return await _Slices(scope, slices, signal)


class _Slices(Generic[T]):
    """The rest of an awaitable whose first slice yielded ``signal``.

    The event loop sees the futures it yields unchanged, so it stays one
    await in the caller's task (``asyncio.current_task()``, timeouts and
    cancellation behave as if it were awaited directly); only the code of the
    awaitable runs in the captured context.
    """

    __slots__ = ("_scope", "_signal", "_slices")

    def __init__(
        self, scope: Scope, slices: Generator[Any, Any, T], signal: Any
    ) -> None:
        self._scope = scope
        self._slices = slices
        self._signal = signal

    def __await__(self) -> Generator[Any, Any, T]:
        scope, slices, signal = self._scope, self._slices, self._signal
        while True:
            try:
                value, error = (yield signal), None
            except GeneratorExit:
                scope.run(slices.close)
                raise
            except BaseException as exc:  # cancellation, thrown into the step
                value, error = None, exc
            try:
                if error is None:
                    signal = scope.run(slices.send, value)
                else:
                    signal = scope.run(slices.throw, error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
