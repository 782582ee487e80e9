"""Views the server matrix and the ASGI stepping tests exercise.

Every source is bounded: sleeps and loops stop by themselves.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from pathlib import Path

from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.urls import path
from django.utils import translation

from django_streamkit import StreamingResponse, current_request, stream_with_context
from tests.support.views import ROW, async_rows, sync_endless, sync_rows

TAG: ContextVar[str] = ContextVar("tests.matrix.tag", default="unset")
BLOCK = b"x" * 8191 + b"\n"


def big_file(request: HttpRequest, mb: int) -> FileResponse:
    """A sparse file of ``mb`` MiB, as Django's own ``FileResponse``."""
    target = Path(tempfile.gettempdir(), f"streamkit-big-{mb}.bin")
    if not target.exists() or target.stat().st_size != mb << 20:
        partial = target.with_suffix(f".{os.getpid()}")
        with partial.open("wb") as out:
            out.truncate(mb << 20)
        partial.replace(target)
    return FileResponse(target.open("rb"), content_type="application/octet-stream")


def plain(request: HttpRequest, scenario: str) -> StreamingHttpResponse:
    """Django's own ``StreamingHttpResponse`` over a sync generator."""
    if scenario == "endless":
        return StreamingHttpResponse(
            sync_endless(request.GET.get("token", "")), content_type="text/plain"
        )
    return StreamingHttpResponse(
        sync_rows(int(request.GET.get("n", "1000"))), content_type="text/plain"
    )


def plain_async(request: HttpRequest) -> StreamingHttpResponse:
    """An async source: under WSGI, Django can only collect it whole."""
    return StreamingHttpResponse(async_rows(1000), content_type="text/plain")


def blocks(request: HttpRequest) -> StreamingResponse:
    """``mb`` MiB of 8 KiB lines, as fast as the client takes them."""
    count = int(request.GET.get("mb", "20")) * 128
    return StreamingResponse((BLOCK for _ in range(count)), content_type="text/plain")


def made_then_fail(request: HttpRequest) -> StreamingResponse:
    """``n`` complete rows made quickly (less than a chunk after the first),
    then an error: every one of them must reach the client before the abort."""
    n = int(request.GET.get("n", "500"))

    def rows() -> Iterator[str]:
        for i in range(n):
            yield ROW.format(i)
        raise RuntimeError(f"boom after {n} rows")

    async def arows() -> AsyncIterator[str]:
        for i in range(n):
            yield ROW.format(i)
        raise RuntimeError(f"boom after {n} rows")

    source = arows() if request.GET.get("kind") == "async" else rows()
    return StreamingResponse(source, content_type="text/plain")


def pause(request: HttpRequest) -> StreamingResponse:
    """Five rows, a one-second pause, five more: the first must not wait."""

    def rows() -> Iterator[str]:
        for i in range(10):
            if i == 5:
                time.sleep(1)
            yield ROW.format(i)

    async def arows() -> AsyncIterator[str]:
        for i in range(10):
            if i == 5:
                await asyncio.sleep(1)
            yield ROW.format(i)

    source = arows() if request.GET.get("kind") == "async" else rows()
    return StreamingResponse(source, content_type="text/plain")


def context(request: HttpRequest) -> StreamingResponse:
    """Request-scoped state seen by a generator after the view returned."""
    translation.activate(request.GET.get("lang", "en"))
    TAG.set(request.GET.get("tag", ""))

    def line(step: int) -> str:
        return (
            f"{step} name={current_request.GET['name']} "
            f"lang={translation.get_language()} tag={TAG.get()}\n"
        )

    @stream_with_context
    def generate() -> Iterator[str]:
        for step in range(3):
            time.sleep(0.05)  # the view has long returned
            yield line(step)

    @stream_with_context
    async def agenerate() -> AsyncIterator[str]:
        for step in range(3):
            await asyncio.sleep(0.05)
            yield line(step)

    source = agenerate() if request.GET.get("kind") == "async" else generate()
    try:
        return StreamingResponse(source, content_type="text/plain")
    finally:
        translation.deactivate()


urlpatterns = [
    path("file/<int:mb>", big_file),
    path("plain/<slug:scenario>", plain),
    path("plain-async", plain_async),
    path("blocks", blocks),
    path("made-then-fail", made_then_fail),
    path("pause", pause),
    path("context", context),
]
