"""The rival: Starlette with sse-starlette's EventSourceResponse, the same
three endpoints as :mod:`bench.sse_views`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.sse_data import EVENT, IDLE_FOR, PING


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _many(n: int) -> AsyncIterator[str]:
    for _ in range(n):
        yield EVENT


async def events(request: Request) -> EventSourceResponse:
    return EventSourceResponse(_many(int(request.query_params["n"])), ping=PING)


async def _idle() -> AsyncIterator[str]:
    await asyncio.sleep(IDLE_FOR)
    yield "bye"


async def idle(request: Request) -> EventSourceResponse:
    return EventSourceResponse(_idle(), ping=PING)


async def _ticks(n: int, every: float) -> AsyncIterator[str]:
    for _ in range(n):
        await asyncio.sleep(every)
        yield repr(time.time())


async def tick(request: Request) -> EventSourceResponse:
    query = request.query_params
    return EventSourceResponse(
        _ticks(int(query["n"]), float(query["every"])), ping=PING
    )


application = Starlette(
    routes=[
        Route("/", health),
        Route("/events", events),
        Route("/idle", idle),
        Route("/tick", tick),
    ]
)
