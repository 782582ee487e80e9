"""django_streamkit.views: StreamingView.

CSVStreamView is tested in test_views_csv.py, TemplateStreamView and
AsyncTemplateStreamView in test_views_templates.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import AsyncRequestFactory, RequestFactory
from django.utils import translation

from django_streamkit import StreamingResponse, current_request, get_current_request
from django_streamkit.views import StreamingView
from tests.support.context_views import TAG, request_state, state


@pytest.fixture(autouse=True)
def _no_request_middleware(settings: Any) -> None:
    # The view binds the request itself: no RequestContextMiddleware here.
    assert not any("RequestContext" in name for name in settings.MIDDLEWARE)


class Hello(StreamingView):
    content_type = "text/plain; charset=utf-8"

    def stream(self, request: HttpRequest, name: str = "") -> Iterator[str]:
        yield "Hello "
        yield name or current_request.GET["name"]
        yield f" ({state()})"

    def get_headers(self) -> dict[str, str]:
        return {"X-Greeting": "yes"}


class AsyncHello(StreamingView):
    async def stream(self, request: HttpRequest) -> AsyncIterator[str]:
        yield "Hello "
        yield current_request.GET["name"]
        yield f" ({state()})"


class PlainHello(Hello):
    response_class = StreamingHttpResponse


def get(path: str = "/", **query: str) -> HttpRequest:
    return RequestFactory().get(path, query)


def read(response: Any) -> str:
    return b"".join(response).decode()


def test_sync_stream_keeps_the_request_and_its_state() -> None:
    request = get(name="World", id="1", lang="fr", tz="Asia/Tokyo", tag="t")
    assert not Hello.view_is_async
    with request_state(request):
        response = Hello.as_view()(request)
    assert isinstance(response, StreamingResponse)
    assert get_current_request() is None  # bound only while the view ran
    with translation.override("de"):
        text = read(response)
        assert translation.get_language() == "de"
    assert text == "Hello World (lang=fr tz=Asia/Tokyo tag=t req=1)"
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Greeting"] == "yes"
    assert TAG.get() is None


def test_url_arguments_reach_stream() -> None:
    response = Hello.as_view()(get(id="2"), name="Django")
    assert read(response).startswith("Hello Django (")


def test_async_stream_makes_an_async_view() -> None:
    assert AsyncHello.view_is_async
    request = get(name="World", id="3", lang="es")

    async def call() -> str:
        with request_state(request):
            response = await AsyncHello.as_view()(request)
        assert response.is_async
        assert response["Content-Type"] == "text/html; charset=utf-8"
        return b"".join([chunk async for chunk in response]).decode()

    assert async_to_sync(call)() == "Hello World (lang=es tz=UTC tag=None req=3)"


def test_response_class() -> None:
    response = PlainHello.as_view()(get(name="World", id="4"))
    assert type(response) is StreamingHttpResponse
    assert read(response) == "Hello World (lang=en tz=UTC tag=None req=4)"


def test_a_subclass_can_switch_between_sync_and_async() -> None:
    class BackToSync(AsyncHello):
        def stream(self, request: HttpRequest) -> Iterator[str]:  # type: ignore[override]
            yield current_request.GET["name"]

    assert not BackToSync.view_is_async
    assert read(BackToSync.as_view()(get(name="sync"))) == "sync"


def test_an_own_get_is_kept() -> None:
    class Custom(Hello):
        def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return HttpResponse("custom")

    assert Custom.as_view()(get()).content == b"custom"


def test_a_view_without_stream_says_what_to_define() -> None:
    class Empty(StreamingView):
        pass

    with pytest.raises(ImproperlyConfigured, match=r"Empty must define stream\(self"):
        Empty.as_view()(get())


class FailsFirst(StreamingView):
    async def stream(self, request: HttpRequest) -> AsyncIterator[str]:
        if request.GET.get("late"):
            yield f"Hello {current_request.GET['name']}"
        raise ValueError("no greeting")


def test_under_asgi_an_error_before_the_first_piece_is_raised_from_the_view() -> None:
    factory = AsyncRequestFactory()

    async def call(**query: str) -> Any:
        return await FailsFirst.as_view()(factory.get("/", query))

    with pytest.raises(ValueError, match="no greeting"):
        async_to_sync(call)()

    chunks: list[bytes] = []

    async def late() -> None:
        response = await call(late="1", name="World")
        async for chunk in response:
            chunks.append(chunk)

    with pytest.raises(ValueError, match="no greeting"):
        async_to_sync(late)()

    # The first piece was made in the view, with the request in scope.
    assert chunks == [b"Hello World"]
