"""Views the tests (and the real servers they start) exercise.

Every source is bounded: sleeps and endless loops stop by themselves.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from django_streamkit import StreamingResponse

ROW = "row {:07d},lorem ipsum dolor sit amet\n"


def _mark(token: str, state: str = "closed") -> None:
    """Record that a source's ``finally`` ran (or what it left), for a test."""
    directory = os.environ.get("STREAMKIT_TEST_MARKERS")
    if directory and token:
        Path(directory, token).write_text(state)


# Seconds a paused source sleeps, once: longer than every bound a test puts
# on a row made before it (1.5 s at most), so a row held back until the
# source wakes fails that bound.
PAUSE = 2.0


def sync_rows(n: int, *, sleep_after: int = -1, fail_after: int = -1) -> Iterator[str]:
    for i in range(n):
        if i == fail_after:
            raise RuntimeError(f"boom mid-stream at row {i}")
        if i == sleep_after:
            time.sleep(PAUSE)
        yield ROW.format(i)


async def async_rows(
    n: int, *, sleep_after: int = -1, fail_after: int = -1
) -> AsyncIterator[str]:
    for i in range(n):
        if i == fail_after:
            raise RuntimeError(f"boom mid-stream at row {i}")
        if i == sleep_after:
            await asyncio.sleep(PAUSE)
        yield ROW.format(i)


def sync_endless(token: str) -> Iterator[str]:
    try:
        for i in range(2400):  # two minutes at most
            yield ROW.format(i)
            time.sleep(0.05)
    finally:
        _mark(token)


async def async_endless(token: str) -> AsyncIterator[str]:
    try:
        for i in range(2400):
            yield ROW.format(i)
            await asyncio.sleep(0.05)
    finally:
        _mark(token)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def core(request: HttpRequest, scenario: str) -> StreamingHttpResponse:
    """``/core/<scenario>?kind=sync|async&n=...&token=...``."""
    is_async = request.GET.get("kind", "sync") == "async"
    n = int(request.GET.get("n", "100000"))
    if scenario == "endless":
        token = request.GET.get("token", "")
        source = async_endless(token) if is_async else sync_endless(token)
        return StreamingResponse(source, content_type="text/plain")
    options = {
        "slow": {"n": 20, "sleep_after": 5},
        "fail": {"n": n, "fail_after": n // 2},
        "early-fail": {"n": n, "fail_after": 0},
        "rows": {"n": n},
    }[scenario]
    rows = async_rows(**options) if is_async else sync_rows(**options)
    if request.GET.get("plain"):
        return StreamingHttpResponse(rows, content_type="text/plain")
    return StreamingResponse(rows, content_type="text/plain")
