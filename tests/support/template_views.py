"""Views over streamed Jinja2 templates, for the tests and the real servers.

``?n=`` rows, ``&sleep_after=i`` pauses (bounded) before row i, for
``&pause=`` seconds (``tests.support.views.PAUSE``, 2 s, by default),
``&fail_after=i`` raises at row i, ``&source=gen|agen|qs`` picks the rows'
source, ``&db=`` the database of ``source=qs``, ``&token=`` marks the source's
``finally`` for the disconnect test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path

from django_streamkit import StreamingTemplateResponse
from django_streamkit.views import AsyncTemplateStreamView, TemplateStreamView
from tests.support.testapp.models import Row
from tests.support.views import PAUSE, _mark


def rows(
    n: int,
    *,
    sleep_after: int = -1,
    pause: float = PAUSE,
    fail_after: int = -1,
    token: str = "",
) -> Iterator[dict[str, Any]]:
    try:
        for i in range(n):
            if i == fail_after:
                raise RuntimeError(f"boom in the template's rows at row {i}")
            if i == sleep_after:
                time.sleep(pause)
            yield {"name": f"row {i:07d}", "value": i}
    finally:
        _mark(token)


async def arows(
    n: int,
    *,
    sleep_after: int = -1,
    pause: float = PAUSE,
    fail_after: int = -1,
    token: str = "",
) -> AsyncIterator[dict[str, Any]]:
    try:
        for i in range(n):
            if i == fail_after:
                raise RuntimeError(f"boom in the template's rows at row {i}")
            if i == sleep_after:
                await asyncio.sleep(pause)
            yield {"name": f"row {i:07d}", "value": i}
    finally:
        _mark(token)


class Counted:
    """A generator of rows that records how far it has been read, and closed."""

    def __init__(self, n: int, fail_at: int = -1) -> None:
        self.n = n
        self.fail_at = fail_at
        self.read = 0
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise RuntimeError(f"row {i} failed")
                self.read = i + 1
                yield {"name": f"n{i}", "value": i}
        finally:
            self.closed = True


def _context(request: HttpRequest) -> dict[str, Any]:
    get = request.GET
    options = {
        "n": int(get.get("n", "100")),
        "sleep_after": int(get.get("sleep_after", "-1")),
        # Seconds of that pause, at most 10 (the views stay bounded).
        "pause": min(float(get.get("pause", PAUSE)), 10.0),
        "fail_after": int(get.get("fail_after", "-1")),
        "token": get.get("token", ""),
    }
    source = get.get("source", "gen")
    if source == "qs":
        data: Any = Row.objects.using(get.get("db", "default")).order_by("value")
    elif source == "agen":
        data = arows(**options)
    else:
        data = rows(**options)
    return {"title": "Streamed rows", "rows": data}


def table(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingTemplateResponse(
        request,
        request.GET.get("template", "stream/table.html"),
        _context(request),
        using=request.GET.get("engine"),
    )


async def async_table(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingTemplateResponse(
        request,
        "stream/table.html",
        _context(request),
        using=request.GET.get("engine", "jinja2_async"),
    )
    await response.aprime()
    return response


class TableView(TemplateStreamView):
    template_name = "stream/table.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(_context(self.request))
        return context


class AsyncTableView(AsyncTemplateStreamView):
    template_name = "stream/table.html"
    template_engine = "jinja2_async"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(_context(self.request))
        return context


urlpatterns = [
    path("table", table),
    path("async-table", async_table),
    path("view", TableView.as_view()),
    path("async-view", AsyncTableView.as_view()),
]
