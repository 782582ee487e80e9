"""The request scope: ``current_request`` and ``stream_with_context``.

Django runs a streamed body after the view has returned: under WSGI the
middleware that activated the request's language or time zone has unwound
and the thread may serve another request next; under ASGI a sync body runs on
a worker thread and an async body in the handler's task, neither of which is
the context the view ran in. ``stream_with_context`` copies the view's context
once and runs every step of the body inside it (see
:mod:`django_streamkit._core.scope`).
"""

from __future__ import annotations

import functools
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, cast, overload

from django.http import HttpRequest

from django_streamkit._core.scope import AsyncContextIterator, ContextIterator, Scope

T = TypeVar("T")
P = ParamSpec("P")

_request: ContextVar[HttpRequest | None] = ContextVar(
    "django_streamkit.request", default=None
)

HOW_TO_BIND = (
    "Add 'django_streamkit.middleware.RequestContextMiddleware' to MIDDLEWARE "
    "(or serve the view with django_streamkit.views.StreamingView), and wrap a "
    "streamed generator in stream_with_context() inside the view so it keeps "
    "the request after the view has returned."
)


def get_current_request() -> HttpRequest | None:
    """The request being served, or ``None`` outside a request scope."""
    return _request.get()


@contextmanager
def request_scope(request: HttpRequest) -> Generator[HttpRequest, None, None]:
    """Bind ``request`` as the current request for the ``with`` block.

    ``RequestContextMiddleware`` and ``StreamingView`` use this; call it
    yourself to bind a request elsewhere (a test, a management command).
    """
    if not isinstance(request, HttpRequest):
        raise TypeError(
            f"request_scope() needs an HttpRequest, not {request!r} "
            f"({type(request).__name__})."
        )
    token = _request.set(request)
    try:
        yield request
    finally:
        _request.reset(token)


class _RequestProxy:
    """Stands for the request of the current scope, resolved on every use."""

    __slots__ = ()

    @staticmethod
    def _resolve() -> HttpRequest:
        request = _request.get()
        if request is None:
            raise RuntimeError(
                "current_request was used outside a request scope. " + HOW_TO_BIND
            )
        return request

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resolve(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._resolve(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._resolve(), name)

    def __bool__(self) -> bool:
        return _request.get() is not None

    def __repr__(self) -> str:
        request = _request.get()
        if request is None:
            return "<current_request: no request scope>"
        return f"<current_request: {request!r}>"


#: The request being served. Any attribute access outside a request scope
#: raises ``RuntimeError``; ``bool(current_request)`` says whether there is one.
current_request: HttpRequest = cast(HttpRequest, _RequestProxy())


def _capture(what: str) -> Scope:
    if _request.get() is None:
        raise RuntimeError(
            f"stream_with_context() was given {what} outside a request scope, "
            "so there is no request state to keep. Call it while the view runs. "
            + HOW_TO_BIND
        )
    return Scope()


@overload
def stream_with_context(
    source: Callable[P, AsyncIterator[T]],
) -> Callable[P, AsyncIterator[T]]: ...
@overload
def stream_with_context(
    source: Callable[P, Iterator[T]],
) -> Callable[P, Iterator[T]]: ...
@overload
def stream_with_context(source: AsyncIterable[T]) -> AsyncIterator[T]: ...
@overload
def stream_with_context(source: Iterable[T]) -> Iterator[T]: ...
def stream_with_context(source: Any) -> Any:
    """Keep the request scope alive while ``source`` runs.

    ``source`` is a generator, any iterator or iterable (its own ``close()``
    is called, inside the scope, when the response is closed), an async
    generator or async iterable; or a generator function or async generator
    function, to use as a decorator (the scope is captured when the decorated
    function is called, with its arguments forwarded).

    The scope is the context of the call: the current request, every context
    variable, the active language and the active time zone. Each step of
    ``source`` runs inside it, and the caller's own state is back after each
    step. Outside a request scope this raises ``RuntimeError``.
    """
    if isinstance(source, str | bytes):
        raise TypeError(
            f"stream_with_context() needs an iterable of pieces, not the single "
            f"{type(source).__name__} {source!r}; wrap it in a list or a generator."
        )
    if hasattr(source, "__aiter__"):
        scope = _capture(repr(source))
        return AsyncContextIterator(scope, scope.run(source.__aiter__))
    if hasattr(source, "__iter__"):
        scope = _capture(repr(source))
        return ContextIterator(scope, scope.run(iter, source))
    if callable(source):
        return _decorate(source)
    raise TypeError(
        f"stream_with_context() needs a generator, an iterator, an async iterator "
        f"or a generator function, not {source!r} ({type(source).__name__})."
    )


def _decorate(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _request.get() is None:
            _capture(f"{function.__qualname__}()")  # raises, naming the function
        return stream_with_context(function(*args, **kwargs))

    return wrapper
