"""stream_with_context, current_request and RequestContextMiddleware, in process.

The first group ports Flask's ``TestStreaming`` (tests/test_helpers.py) to
Django, against both streamkit's ``StreamingResponse`` and Django's plain
``StreamingHttpResponse``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.http import HttpRequest, StreamingHttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.utils import timezone, translation

from django_streamkit import (
    StreamingResponse,
    current_request,
    get_current_request,
    stream_with_context,
)
from django_streamkit._core.scope import AsyncContextIterator
from django_streamkit.context import request_scope
from django_streamkit.middleware import RequestContextMiddleware
from tests.support import context_views
from tests.support.context_views import TAG, state

RESPONSES = ["streamkit", "plain"]
BASELINE = "lang=en tz=UTC tag=None req=None"


@pytest.fixture(autouse=True)
def _middleware(settings: Any) -> None:
    settings.MIDDLEWARE = [
        "django_streamkit.middleware.RequestContextMiddleware",
        *settings.MIDDLEWARE,
        "tests.support.context_views.RequestStateMiddleware",
    ]
    # Sessions without a database: nothing here needs one.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


def body(response: Any) -> bytes:
    return b"".join(response)


def run(test: Any) -> Any:
    """Run an async test on an event loop (the suite has no async plugin)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return async_to_sync(test)(*args, **kwargs)

    return wrapper


async def abody(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response])


# -- Flask's TestStreaming --------------------------------------------------


@pytest.mark.parametrize("kind", RESPONSES)
def test_streaming_with_context(client: Client, kind: str) -> None:
    response = client.get(f"/context/hello?name=World&response={kind}")
    assert body(response) == b"Hello World!"


@pytest.mark.parametrize("kind", RESPONSES)
def test_streaming_with_context_as_decorator(client: Client, kind: str) -> None:
    response = client.get(f"/context/hello-decorated?name=World&response={kind}")
    assert body(response) == b"Hello World!"


def test_streaming_with_context_as_decorator_of_async_generator_under_wsgi(
    client: Client,
) -> None:
    response = client.get("/context/hello-decorated-async?name=World")
    assert body(response) == b"Hello World!"


@run
async def test_streaming_with_context_as_decorator_of_async_generator(
    async_client: AsyncClient,
) -> None:
    response = await async_client.get("/context/hello-decorated-async?name=World")
    assert await abody(response) == b"Hello World!"


@pytest.mark.parametrize("kind", RESPONSES)
def test_streaming_with_context_and_custom_close(client: Client, kind: str) -> None:
    context_views.CLOSED.clear()
    response = client.get(
        f"/context/hello-custom-close?name=World&response={kind}&lang=fr&id=7"
    )
    assert body(response) == b"Hello World!"  # the test client closes it
    # Called once, and inside the request scope.
    assert context_views.CLOSED == [(42, "lang=fr tz=UTC tag=None req=7")]


@pytest.mark.parametrize("kind", RESPONSES)
def test_stream_keeps_session(client: Client, kind: str) -> None:
    response = client.get(f"/context/keeps-session?response={kind}")
    assert body(response) == b"django"


# Closing a response unread makes the test client's closing wrapper reconnect
# close_old_connections before the response sends request_finished, so the
# database must be open to this test.
@pytest.mark.django_db
@pytest.mark.parametrize("kind", RESPONSES)
def test_async_view(client: Client, kind: str) -> None:
    context_views.FINALLY.clear()
    url = f"/context/async-view?response={kind}&id=1&lang=de"
    # The response is closed without reading the stream (streamkit has run
    # it to its first piece, Django's response has not started it)...
    client.get(url).close()
    assert (
        ["lang=de tz=UTC tag=None req=1"] if kind == "streamkit" else []
    ) == context_views.FINALLY
    # ...and read.
    assert body(client.get(url)) == b"django"
    assert context_views.FINALLY[-1] == "lang=de tz=UTC tag=None req=1"


@run
async def test_async_view_under_asgi(async_client: AsyncClient) -> None:
    context_views.FINALLY.clear()
    url = "/context/async-view?id=2&lang=es"
    response = await async_client.get(url)
    await sync_to_async(response.close)()
    # Never iterated, so its ``finally`` never ran; closing leaves no error.
    assert context_views.FINALLY == []
    response = await async_client.get(url)
    assert await abody(response) == b"django"
    assert context_views.FINALLY == ["lang=es tz=UTC tag=None req=2"]


# -- without the wrapper, and outside a request ------------------------------


@pytest.mark.parametrize("kind", RESPONSES)
def test_generator_without_wrapper_has_no_request(client: Client, kind: str) -> None:
    response = client.get(f"/context/without-wrapper?name=World&response={kind}")
    with pytest.raises(RuntimeError, match="RequestContextMiddleware"):
        body(response)


def test_current_request_outside_a_request_scope() -> None:
    assert get_current_request() is None
    assert not current_request
    with pytest.raises(RuntimeError, match=r"outside a request scope.*MIDDLEWARE"):
        current_request.GET  # noqa: B018
    with pytest.raises(RuntimeError, match="outside a request scope"):
        current_request.anything = 1
    assert "no request scope" in repr(current_request)


def test_stream_with_context_outside_a_request_scope() -> None:
    def generate() -> Iterator[str]:
        yield "x"

    async def agenerate() -> AsyncIterator[str]:
        yield "x"

    for source in (generate(), agenerate(), ["x"]):
        with pytest.raises(RuntimeError, match=r"outside a request scope.*Middleware"):
            stream_with_context(source)  # type: ignore[call-overload]
    decorated = stream_with_context(generate)
    with pytest.raises(RuntimeError, match=r"generate\(\) outside a request scope"):
        decorated()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("text", "not the single str 'text'"),
        (b"data", "not the single bytes b'data'"),
        (42, r"not 42 \(int\)"),
    ],
)
def test_stream_with_context_bad_input(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        stream_with_context(value)  # type: ignore[call-overload]


# -- the request scope: request, language, time zone, context variables ------


def scoped(**query: str) -> HttpRequest:
    return RequestFactory().get("/", query)


def in_caller_state() -> Any:
    """A caller with a state of its own, distinct from any request's."""
    stack = [translation.override("nl"), timezone.override("Africa/Cairo")]
    for manager in stack:
        manager.__enter__()
    token = TAG.set("caller")
    return stack, token


def leave_caller_state(saved: Any) -> None:
    stack, token = saved
    TAG.reset(token)
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


CALLER = "lang=nl tz=Africa/Cairo tag=caller req=None"


def build(request: HttpRequest, source_factory: Any) -> Any:
    """Build a wrapped source inside the request scope and state of ``request``."""
    with request_scope(request), context_views.request_state(request):
        return stream_with_context(source_factory())


def test_round_trip_restores_the_callers_state_after_each_step() -> None:
    def generate() -> Iterator[str]:
        yield state()
        # The source may change its own state: that stays in its scope...
        translation.activate("it")
        TAG.set("changed")
        yield state()
        yield state()

    stream = build(scoped(id="5", lang="fr", tz="Asia/Tokyo", tag="t5"), generate)
    saved = in_caller_state()
    try:
        seen = []
        for piece in stream:
            seen.append(piece)
            # ...and the caller's own state is back after every step.
            assert state() == CALLER
    finally:
        leave_caller_state(saved)
    assert seen == [
        "lang=fr tz=Asia/Tokyo tag=t5 req=5",
        "lang=it tz=Asia/Tokyo tag=changed req=5",
        "lang=it tz=Asia/Tokyo tag=changed req=5",
    ]
    assert state() == BASELINE


@run
async def test_round_trip_async_generator() -> None:
    async def generate() -> AsyncIterator[str]:
        yield state()
        await asyncio.sleep(0)
        timezone.activate("Europe/Lisbon")
        TAG.set("changed")
        await asyncio.sleep(0.001)
        yield state()

    stream = build(scoped(id="6", lang="pt", tz="Asia/Tokyo", tag="t6"), generate)
    assert isinstance(stream, AsyncContextIterator)
    saved = in_caller_state()
    try:
        seen = []
        async for piece in stream:
            seen.append(piece)
            assert state() == CALLER
    finally:
        leave_caller_state(saved)
    assert seen == [
        "lang=pt tz=Asia/Tokyo tag=t6 req=6",
        "lang=pt tz=Europe/Lisbon tag=changed req=6",
    ]


def test_state_follows_the_scope_to_another_thread() -> None:
    # Captured in one thread, run in another: asgiref hides Local storage
    # from other threads unless it is deliberately moved, as here.
    def generate() -> Iterator[str]:
        yield state()
        yield state()

    stream = build(scoped(id="8", lang="fr", tz="Asia/Tokyo", tag="t8"), generate)
    seen: list[str] = []
    other = threading.Thread(target=lambda: seen.append(next(stream)))
    other.start()
    other.join(10)
    seen.append(next(stream))  # and back
    assert seen == ["lang=fr tz=Asia/Tokyo tag=t8 req=8"] * 2
    assert state() == BASELINE


def test_sync_generator_captured_in_async_code() -> None:
    # An async view makes the generator on the event loop; the server steps
    # it on a worker thread.
    async def view() -> Any:
        with request_scope(scoped(id="9")), translation.override("ja"):
            return stream_with_context(iter_state())

    def iter_state() -> Iterator[str]:
        yield state()

    stream = async_to_sync(view)()
    assert next(stream) == "lang=ja tz=UTC tag=None req=9"


def test_abandoned_generator_is_finalised_in_its_scope() -> None:
    finalised: list[str] = []

    def generate() -> Iterator[str]:
        try:
            with translation.override("es"):
                yield state()
                yield state()
        finally:
            finalised.append(state())

    stream = build(scoped(id="3", lang="fr"), generate)
    saved = in_caller_state()
    try:
        assert next(stream) == "lang=es tz=UTC tag=None req=3"
        del stream  # abandoned: never closed, never exhausted
        gc.collect()
        # Without the scope, override("es").__exit__ would have re-activated
        # "fr" in the caller's context.
        assert state() == CALLER
    finally:
        leave_caller_state(saved)
    assert finalised == ["lang=fr tz=UTC tag=None req=3"]


def test_abandoned_streaming_response_finalises_its_source_in_scope() -> None:
    finalised: list[str] = []

    def generate() -> Iterator[str]:
        try:
            with translation.override("es"):
                for i in range(100_000):
                    yield f"{i}\n"
        finally:
            finalised.append(state())

    response = StreamingResponse(build(scoped(id="4", lang="fr"), generate))
    saved = in_caller_state()
    try:
        chunks = iter(response)
        assert next(chunks) == b"0\n"  # primed in the "view", sent now
        assert next(chunks)
        del response, chunks  # dropped by a careless server: never closed
        gc.collect()
        assert state() == CALLER
    finally:
        leave_caller_state(saved)
    assert finalised == ["lang=fr tz=UTC tag=None req=4"]


@run
async def test_abandoned_async_generator_is_finalised_in_its_scope() -> None:
    finalised: list[str] = []

    async def generate() -> AsyncIterator[str]:
        try:
            yield state()
            yield state()
        finally:
            finalised.append(state())

    stream = build(scoped(id="5", lang="fr"), generate)
    saved = in_caller_state()
    try:
        assert await stream.__anext__() == "lang=fr tz=UTC tag=None req=5"
        del stream  # abandoned: asyncio's finaliser closes it, in its scope
        gc.collect()
        for _ in range(10):
            await asyncio.sleep(0)
        assert state() == CALLER
    finally:
        leave_caller_state(saved)
    assert finalised == ["lang=fr tz=UTC tag=None req=5"]


def test_the_loop_outlives_the_wrapper_object() -> None:
    def generate() -> Iterator[str]:
        yield from "abc"

    request = scoped()
    with request_scope(request):
        pieces = (piece.upper() for piece in stream_with_context(generate()))
    gc.collect()
    assert list(pieces) == ["A", "B", "C"]


@run
async def test_async_generator_steps_stay_in_the_callers_task() -> None:
    async def generate() -> AsyncIterator[int]:
        task = asyncio.current_task()
        async with asyncio.timeout(30):  # spans yields: one task throughout
            yield 1
            await asyncio.sleep(0)
            assert asyncio.current_task() is task
            yield 2

    stream = build(scoped(), generate)
    assert [piece async for piece in stream] == [1, 2]


@run
async def test_async_generator_cancelled_mid_step() -> None:
    cleaned: list[str] = []

    async def generate() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.sleep(30)
            yield "never"
        finally:
            cleaned.append(state())

    stream = build(scoped(id="c", lang="fr"), generate)
    assert await stream.__anext__() == "first"
    task = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["lang=fr tz=UTC tag=None req=c"]
    assert state() == BASELINE


def test_any_iterable_and_its_close() -> None:
    closed: list[str] = []

    class Rows:
        def __iter__(self) -> Iterator[str]:
            return iter(["a", "b"])

    class Closing:
        def __init__(self) -> None:
            self.items = iter(["x"])

        def __iter__(self) -> Closing:
            return self

        def __next__(self) -> str:
            return next(self.items)

        def close(self) -> None:
            closed.append(state())

    assert list(build(scoped(), Rows)) == ["a", "b"]
    stream = build(scoped(id="i", lang="de"), Closing)
    assert list(stream) == ["x"]
    stream.close()
    stream.close()
    assert closed == ["lang=de tz=UTC tag=None req=i"]


# -- responses: per-chunk scope in StreamingResponse, per piece otherwise ----


def test_streaming_response_enters_the_scope_per_chunk() -> None:
    def rows() -> Iterator[str]:
        for i in range(10_000):
            yield f"{i},{state()}\n"

    response = StreamingResponse(
        build(scoped(id="r", lang="fr"), rows), chunk_size=4096
    )
    # The producer runs whole inside the scope, not a step at a time.
    assert response._stream.scope is not None
    saved = in_caller_state()
    try:
        lines = []
        for chunk in response:
            assert state() == CALLER
            lines.extend(chunk.decode().splitlines())
    finally:
        leave_caller_state(saved)
        response.close()
    assert len(lines) == 10_000
    assert {line.split(",", 1)[1] for line in lines} == {
        "lang=fr tz=UTC tag=None req=r"
    }


@pytest.mark.parametrize("response_class", [StreamingResponse, StreamingHttpResponse])
@run
async def test_async_source_in_an_async_response(
    response_class: type[StreamingHttpResponse],
) -> None:
    async def rows() -> AsyncIterator[str]:
        for i in range(3):
            await asyncio.sleep(0)
            yield f"{i} {state()}\n"

    response = response_class(build(scoped(id="a", lang="fr"), rows))
    saved = in_caller_state()
    try:
        chunks = [chunk async for chunk in response]
    finally:
        leave_caller_state(saved)
    assert b"".join(chunks).decode().splitlines() == [
        f"{i} lang=fr tz=UTC tag=None req=a" for i in range(3)
    ]


# -- RequestContextMiddleware ------------------------------------------------


def test_middleware_binds_the_request_for_the_request_only() -> None:
    seen: list[object] = []

    def view(request: HttpRequest) -> Any:
        seen.append(get_current_request())
        seen.append(current_request.GET["id"])
        return "response"

    middleware = RequestContextMiddleware(view)
    request = scoped(id="m")
    assert middleware(request) == "response"
    assert seen == [request, "m"]
    assert get_current_request() is None


@run
async def test_middleware_async_mode() -> None:
    seen: list[object] = []

    async def view(request: HttpRequest) -> Any:
        seen.append(get_current_request())
        return "response"

    middleware = RequestContextMiddleware(view)
    assert asyncio.iscoroutinefunction(middleware.__acall__)
    request = scoped()
    assert await middleware(request) == "response"  # type: ignore[misc]
    assert seen == [request]
    assert get_current_request() is None


def test_request_scope_rejects_a_non_request() -> None:
    with (
        pytest.raises(TypeError, match="needs an HttpRequest, not 'nope'"),
        request_scope("nope"),  # type: ignore[arg-type]
    ):
        pass
