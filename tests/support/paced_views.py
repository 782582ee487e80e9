"""Sources that make rows slowly, pause, or never end, for every layer that
can hold bytes back (the core's relay, the CSV writer, a streamed template),
and async sources of every shape, for the real-server tests.

Every row carries the time it was made, so a client can tell how long it
waited; every loop is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path

from django_streamkit import (
    StreamingCSVResponse,
    StreamingJSONResponse,
    StreamingNDJSONResponse,
    StreamingResponse,
    StreamingTemplateResponse,
    stream_with_context,
)
from django_streamkit.context import request_scope
from django_streamkit.views import StreamingView
from tests.support.views import PAUSE, _mark

TEMPLATE = "{% for row in rows %}{{ row[0] }},{{ row[1] }}\n{% endfor %}"


def _plan(request: HttpRequest) -> tuple[int, int, float, float]:
    """(rows, pause after row, pause seconds, seconds between rows)."""
    mode = request.GET.get("mode", "slow")
    return {
        "slow": (40, -1, 0.0, 0.05),  # a short row every 50 ms
        # 3 rows at once, a pause (PAUSE, 2 s), 5 more: 3 is no multiple of
        # the template's buffer size (5) or of anything else that might batch.
        "pause": (8, 3, PAUSE, 0.0),
        "endless": (2400, -1, 0.0, 0.05),  # two minutes at most
    }[mode]


def sync_source(request: HttpRequest) -> Iterator[list[Any]]:
    n, pause_after, pause, every = _plan(request)
    token = request.GET.get("token", "")
    try:
        for i in range(n):
            if i == pause_after:
                time.sleep(pause)
            yield [i, f"{time.time():.6f}"]
            if every:
                time.sleep(every)
    finally:
        _mark(token)


async def async_source(request: HttpRequest) -> AsyncIterator[list[Any]]:
    n, pause_after, pause, every = _plan(request)
    token = request.GET.get("token", "")
    try:
        for i in range(n):
            if i == pause_after:
                await asyncio.sleep(pause)
            yield [i, f"{time.time():.6f}"]
            if every:
                await asyncio.sleep(every)
    finally:
        _mark(token)


def _as_lines(rows: Any) -> Any:
    if hasattr(rows, "__aiter__"):

        async def lines() -> AsyncIterator[str]:
            try:
                async for row in rows:
                    yield f"{row[0]},{row[1]}\n"
            finally:
                await rows.aclose()

        return lines()
    return (f"{row[0]},{row[1]}\n" for row in rows)


def paced(request: HttpRequest, layer: str) -> StreamingHttpResponse:
    """``/paced/<layer>?kind=sync|async&mode=slow|pause|endless&token=``."""
    is_async = request.GET.get("kind") == "async"
    rows = async_source(request) if is_async else sync_source(request)
    if layer == "core":
        return StreamingResponse(_as_lines(rows), content_type="text/plain")
    if layer == "plain":  # Django's own, for ASGIStreamingMiddleware
        return StreamingHttpResponse(_as_lines(rows), content_type="text/plain")
    if layer == "csv":
        return StreamingCSVResponse(rows)
    if layer == "json":
        return StreamingJSONResponse(rows)
    if layer == "ndjson":
        return StreamingNDJSONResponse(rows)
    if layer == "template":
        return StreamingTemplateResponse(
            request, _template_name(request), {"rows": rows}
        )
    raise ValueError(f"unknown layer {layer!r}")


def _template_name(request: HttpRequest) -> str:
    return "paced/rows.html"


# -- async sources of every shape (they must all end cleanly) ---------------


async def await_after_last_yield() -> AsyncIterator[str]:
    for i in range(3):
        yield f"{i}\n"
        await asyncio.sleep(0.01)


async def early_return() -> AsyncIterator[str]:
    for i in range(10):
        if i == 3:
            return
        yield f"{i}\n"
        await asyncio.sleep(0)


async def await_in_finally() -> AsyncIterator[str]:
    try:
        for i in range(3):
            yield f"{i}\n"
    finally:
        await asyncio.sleep(0.01)


class Countdown:
    """An async iterator class (no generator)."""

    def __init__(self) -> None:
        self.left = 3

    def __aiter__(self) -> Countdown:
        return self

    async def __anext__(self) -> str:
        await asyncio.sleep(0.01)
        if not self.left:
            raise StopAsyncIteration
        self.left -= 1
        return f"{2 - self.left}\n"


SHAPES = {
    "await-after-last-yield": await_after_last_yield,
    "early-return": early_return,
    "await-in-finally": await_in_finally,
    "iterator-class": Countdown,
}


def _shape(request: HttpRequest, shape: str) -> Any:
    source = SHAPES[shape]()
    if request.GET.get("wrap"):
        # Function views bind the request as RequestContextMiddleware would.
        with request_scope(request):
            return stream_with_context(source)
    return source


def shape_function(request: HttpRequest, shape: str) -> StreamingHttpResponse:
    return StreamingResponse(_shape(request, shape), content_type="text/plain")


async def shape_async_function(
    request: HttpRequest, shape: str
) -> StreamingHttpResponse:
    return StreamingResponse(_shape(request, shape), content_type="text/plain")


class ShapeView(StreamingView):
    content_type = "text/plain"

    async def stream(self, request: HttpRequest, shape: str) -> AsyncIterator[str]:
        async for piece in _shape(request, shape):
            yield piece
        await asyncio.sleep(0.01)  # as the demo's clock does


urlpatterns = [
    path("<slug:layer>", paced),
    path("shape/function/<slug:shape>", shape_function),
    path("shape/async-function/<slug:shape>", shape_async_function),
    path("shape/view/<slug:shape>", ShapeView.as_view()),
]
