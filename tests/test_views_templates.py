"""TemplateStreamView and AsyncTemplateStreamView, and Django's test assertions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, RequestFactory, SimpleTestCase, override_settings
from django.urls import path

from django_streamkit import StreamingTemplateResponse
from django_streamkit.views import AsyncTemplateStreamView, TemplateStreamView
from tests.support import urls
from tests.support.template_views import Counted

rf = RequestFactory()


class Page(TemplateStreamView):
    template_name = "stream/table.html"
    extra_context = {"footer": "from extra_context"}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["rows"] = (
            {"name": f"n{i}", "value": i} for i in range(int(kwargs["n"]))
        )
        return context


class TaggedResponse(StreamingTemplateResponse):
    tagged = True


urlpatterns = [
    *urls.urlpatterns,
    path("page/<int:n>", Page.as_view()),
    path(
        "plain/<int:n>",
        Page.as_view(
            template_name="stream/missing.html",
            content_type="text/plain; charset=utf-8",
            buffer_size=1,
            response_class=TaggedResponse,
        ),
    ),
    path("noname", TemplateStreamView.as_view()),
]


def render(view: Any, **kwargs: Any) -> Any:
    return view(rf.get("/"), **kwargs)


def test_template_stream_view_renders_with_view_and_extra_context() -> None:
    response = render(Page.as_view(), n=3)
    assert isinstance(response, StreamingTemplateResponse)
    assert response.template_name == ["stream/table.html"]
    assert response.context_data["footer"] == "from extra_context"
    assert isinstance(response.context_data["view"], Page)
    html = b"".join(response).decode()
    assert html.count("<tr ") == 3
    assert '<p id="end">from extra_context</p>' in html
    assert response["X-Accel-Buffering"] == "no"


def test_get_template_names_list_and_options() -> None:
    class Fallback(Page):
        content_type = "text/plain; charset=utf-8"
        buffer_size = 1
        response_class = TaggedResponse
        template_engine = "jinja2_async"

        def get_template_names(self) -> list[str]:
            return ["stream/missing.html", "stream/table.html"]

    response = render(Fallback.as_view(), n=2)
    assert isinstance(response, TaggedResponse)
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.using == "jinja2_async"
    assert b"".join(response).decode().count("<tr ") == 2


def test_missing_template_name_is_improperly_configured() -> None:
    with pytest.raises(
        ImproperlyConfigured, match="TemplateStreamView requires either"
    ):
        render(TemplateStreamView.as_view())


def test_async_view_is_async_and_primes() -> None:
    class AsyncPage(AsyncTemplateStreamView):
        template_name = "stream/table.html"

        def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
            return {"rows": iter(Counted(10, fail_at=0))}

    view = AsyncPage.as_view()
    assert AsyncPage.view_is_async
    with pytest.raises(RuntimeError, match="row 0 failed"):
        asyncio.run(view(rf.get("/")))


@override_settings(ROOT_URLCONF=__name__)
class AssertionsTests(SimpleTestCase):
    """Django's own test assertions work on streamed templates."""

    def test_assert_template_used_and_context(self) -> None:
        response = self.client.get("/page/4")
        self.assertTemplateUsed(response, "stream/table.html")
        self.assertTemplateNotUsed(response, "stream/child.html")
        assert response.context["footer"] == "from extra_context"
        assert b"".join(response.streaming_content).count(b"<tr ") == 4

    def test_assert_template_used_as_a_context_manager(self) -> None:
        with self.assertTemplateUsed("stream/table.html"):
            b"".join(self.client.get("/page/1").streaming_content)

    def test_async_client(self) -> None:
        async def get() -> Any:
            return await AsyncClient().get("/templates/async-view?n=2")

        response = asyncio.run(get())
        self.assertTemplateUsed(response, "stream/table.html")
