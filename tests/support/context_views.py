"""Views and middleware for the request-scope tests (in process and on servers).

``RequestStateMiddleware`` gives each request its own state, as LocaleMiddleware,
a time-zone middleware and a tracing middleware would: ``?lang=`` activates a
language, ``?tz=`` a time zone and ``?tag=`` sets the ``TAG`` context variable,
all undone when the response is returned (so the caller's state is known:
the defaults).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone, translation

from django_streamkit import (
    StreamingResponse,
    current_request,
    get_current_request,
    stream_with_context,
)
from django_streamkit.views import StreamingView

TAG: ContextVar[str | None] = ContextVar("tests.tag", default=None)


@contextmanager
def request_state(request: HttpRequest) -> Iterator[None]:
    with ExitStack() as stack:
        if lang := request.GET.get("lang"):
            stack.enter_context(translation.override(lang))
        if tz := request.GET.get("tz"):
            stack.enter_context(timezone.override(tz))
        token = TAG.set(request.GET.get("tag"))
        stack.callback(TAG.reset, token)
        yield


class RequestStateMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        with request_state(request):
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        with request_state(request):
            response: HttpResponseBase = await self.get_response(request)
            return response


def state() -> str:
    """The state a piece of code sees: language, time zone, tag, request id."""
    request = get_current_request()
    request_id = request.GET.get("id", "-") if request is not None else None
    return (
        f"lang={translation.get_language()} tz={timezone.get_current_timezone_name()} "
        f"tag={TAG.get()} req={request_id}"
    )


# -- Flask's TestStreaming, in Django -------------------------------------


def hello(request: HttpRequest) -> StreamingHttpResponse:
    def generate() -> Iterator[str]:
        yield "Hello "
        yield current_request.GET["name"]
        yield "!"

    return response_class(request)(stream_with_context(generate()))


def hello_decorated(request: HttpRequest) -> StreamingHttpResponse:
    @stream_with_context
    def generate(greeting: str, *, end: str) -> Iterator[str]:
        yield greeting
        yield current_request.GET["name"]
        yield end

    return response_class(request)(generate("Hello ", end="!"))


def hello_decorated_async(request: HttpRequest) -> StreamingHttpResponse:
    @stream_with_context
    async def generate(greeting: str, *, end: str) -> AsyncIterator[str]:
        yield greeting
        await asyncio.sleep(0)
        yield current_request.GET["name"]
        yield end

    return StreamingResponse(generate("Hello ", end="!"))


CLOSED: list[object] = []


class Wrapper:
    """An iterator with its own ``close()`` (Flask's test uses one)."""

    def __init__(self, gen: Iterator[str]) -> None:
        self._gen = gen

    def __iter__(self) -> Wrapper:
        return self

    def __next__(self) -> str:
        return next(self._gen)

    def close(self) -> None:
        CLOSED.append((42, state()))


def hello_custom_close(request: HttpRequest) -> StreamingHttpResponse:
    def generate() -> Iterator[str]:
        yield "Hello "
        yield current_request.GET["name"]
        yield "!"

    return response_class(request)(stream_with_context(Wrapper(generate())))


def keeps_session(request: HttpRequest) -> StreamingHttpResponse:
    request.session["test"] = "django"

    @stream_with_context
    def gen() -> Iterator[str]:
        yield current_request.session["test"]

    return response_class(request)(gen())


FINALLY: list[str] = []


async def async_view(request: HttpRequest) -> StreamingHttpResponse:
    await request.session.aset("test", "django")

    @stream_with_context
    def gen() -> Iterator[str]:
        try:
            yield current_request.session["test"]
        finally:
            FINALLY.append(state())

    return response_class(request)(gen())


def without_wrapper(request: HttpRequest) -> StreamingHttpResponse:
    def generate() -> Iterator[str]:
        yield "Hello "
        yield current_request.GET["name"]

    return response_class(request)(generate())


def response_class(request: HttpRequest) -> type[StreamingHttpResponse]:
    if request.GET.get("response") == "plain":
        return StreamingHttpResponse
    return StreamingResponse


# -- state round trip (in process and on real servers) ---------------------

_active = 0
_active_lock = threading.Lock()


def _enter() -> int:
    global _active
    with _active_lock:
        _active += 1
        return _active


def _leave() -> None:
    global _active
    with _active_lock:
        _active -= 1


def _line(step: int, active: int) -> str:
    return f"step={step} active={active} inside: {state()}"


def sync_echo(steps: int, delay: float) -> Iterator[str]:
    active = _enter()
    try:
        for step in range(steps):
            time.sleep(delay)
            yield _line(step, active)
            active = max(active, _active)
    finally:
        _leave()


async def async_echo(steps: int, delay: float) -> AsyncIterator[str]:
    active = _enter()
    try:
        for step in range(steps):
            await asyncio.sleep(delay)
            yield _line(step, active)
            active = max(active, _active)
    finally:
        _leave()


def probe(inner: Iterator[str], request: HttpRequest) -> Iterator[str]:
    """Report, after every step of ``inner``, the state of the code iterating
    it. That is the view itself while the view runs (``StreamingResponse``
    produces the first piece then), and the server's own state afterwards."""
    for piece in inner:
        yield f"{piece} | {_phase(request)}: {state()}\n"


async def aprobe(inner: AsyncIterator[str], request: HttpRequest) -> AsyncIterator[str]:
    async for piece in inner:
        yield f"{piece} | {_phase(request)}: {state()}\n"


def _phase(request: HttpRequest) -> str:
    return "server" if getattr(request, "view_returned", False) else "view"


def _returned(request: HttpRequest, response: StreamingHttpResponse) -> Any:
    request.view_returned = True  # type: ignore[attr-defined]
    return response


def _echo(request: HttpRequest) -> StreamingHttpResponse:
    steps = int(request.GET.get("steps", "3"))
    delay = float(request.GET.get("delay", "0"))
    source = request.GET.get("source", "sync")
    body: Any
    if source == "async":
        body = aprobe(stream_with_context(async_echo(steps, delay)), request)
    else:
        body = probe(stream_with_context(sync_echo(steps, delay)), request)
    return _returned(request, response_class(request)(body, content_type="text/plain"))


def echo(request: HttpRequest) -> StreamingHttpResponse:
    return _echo(request)


async def aecho(request: HttpRequest) -> StreamingHttpResponse:
    return _echo(request)


class EchoView(StreamingView):
    """``StreamingView`` binds the request itself; the probe wraps its body."""

    content_type = "text/plain"

    def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Iterator[str]:
        steps = int(request.GET.get("steps", "3"))
        delay = float(request.GET.get("delay", "0"))
        yield from sync_echo(steps, delay)

    def render_to_response(self, source: Any) -> StreamingHttpResponse:
        return _returned(
            self.request, super().render_to_response(probe(source, self.request))
        )


class AsyncEchoView(StreamingView):
    content_type = "text/plain"

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[str]:
        steps = int(request.GET.get("steps", "3"))
        delay = float(request.GET.get("delay", "0"))
        async for piece in async_echo(steps, delay):
            yield piece

    def render_to_response(self, source: Any) -> StreamingHttpResponse:
        return super().render_to_response(aprobe(source, self.request))

    async def get(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> StreamingHttpResponse:
        # Under ASGI the view makes the first piece after render_to_response,
        # so it has returned only now.
        response = await StreamingView._async_get(self, request, *args, **kwargs)
        return _returned(request, response)  # type: ignore[no-any-return]
