"""Sources for the soak: deterministic bodies whose ``finally`` leaves a marker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

from django.http import HttpRequest, StreamingHttpResponse

from django_streamkit import StreamingResponse
from tests.views import ROW, _mark


def paced_rows(n: int, token: str) -> Iterator[str]:
    try:
        for i in range(n):
            if i and i % 500 == 0:
                time.sleep(0.005)  # paced, so a disconnect lands mid-source
            yield ROW.format(i)
    finally:
        _mark(token)


async def apaced_rows(n: int, token: str) -> AsyncIterator[str]:
    try:
        for i in range(n):
            if i and i % 500 == 0:
                await asyncio.sleep(0.005)
            yield ROW.format(i)
    finally:
        _mark(token)


def core(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    n = int(request.GET.get("n", "5000"))
    token = request.GET["token"]
    source = apaced_rows(n, token) if kind == "async" else paced_rows(n, token)
    return StreamingResponse(source, content_type="text/plain")
