"""``ASGIStreamingMiddleware``: every streamed response streams under ASGI.

Django's ``StreamingHttpResponse.__aiter__`` serves a sync iterator under
ASGI with ``sync_to_async(list)``: the whole body is collected in memory
before the first byte leaves (the "must consume synchronous iterators"
warning), which is what a ``FileResponse``, WhiteNoise/ServeStatic or any
other app's streamed response gets. This middleware hands such an iterator to
a :class:`~django_streamkit.responses.StreamingResponse`, which steps it on
the request's thread-sensitive worker one coalesced chunk per hop, so memory
stays at about one chunk and the first bytes leave at once.

Under WSGI nothing is adapted. The one case that still can't stream, an
async source that a WSGI server forces whole, is collected exactly as Django
collects it, but the log names the view and the fix instead of Django's
anonymous warning.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, cast

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from django_streamkit.responses import StreamingResponse

logger = logging.getLogger("django_streamkit")

FORCED_WHOLE = (
    "%s returned a streamed response over an async iterator, and this WSGI "
    "server can only iterate it synchronously: Django collects the whole body "
    "in memory before sending it. Serve the project with an ASGI server, give "
    "the response a sync iterator, or return django_streamkit.StreamingResponse"
    "(...), which drives an async source one chunk at a time under WSGI."
)


class ASGIStreamingMiddleware:
    """Under ASGI, step any sync-iterator streamed response chunk by chunk.

    Put it first in ``MIDDLEWARE``, so it sees the response after every other
    middleware has wrapped it (a compressor's generator is stepped too).
    streamkit's own responses already stream and are left alone.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(
        self, request: HttpRequest
    ) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        response = cast(HttpResponseBase, self.get_response(request))
        return self.process_response(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response = cast(
            Callable[[HttpRequest], Awaitable[HttpResponseBase]], self.get_response
        )
        return self.process_response(request, await get_response(request))

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not isinstance(response, StreamingHttpResponse) or isinstance(
            response, StreamingResponse
        ):
            return response
        if isinstance(request, ASGIRequest):
            if not response.is_async:
                response.streaming_content = _stepped(response)
        elif response.is_async:
            response.streaming_content = _collected(request, response)
        return response


def _source(response: StreamingHttpResponse) -> Any:
    # The iterator Django's _set_streaming_content kept (not the
    # make_bytes map that streaming_content returns), so closing it runs the
    # source's own close(): a generator's finally, a file's close.
    return response._iterator  # type: ignore[attr-defined]


def _stepped(response: StreamingHttpResponse) -> AsyncIterator[bytes]:
    # The relay does the stepping: a producer thread pulls the source (with
    # the request's database connections), and each hop to the thread-
    # sensitive worker takes one coalesced chunk (a FileResponse's 4 KiB
    # blocks become chunks of STREAMKIT_CHUNK_SIZE).
    # Only its body is used (the headers are the response's own); str pieces
    # are encoded with the response's charset, as make_bytes() would.
    # The file is taken now: assigning the stepped body to a FileResponse
    # sets its file_to_stream to None.
    relay = StreamingResponse(
        _closing(_source(response), getattr(response, "file_to_stream", None)),
        content_type=f"application/octet-stream; charset={response.charset}",
    )
    return relay.__aiter__()


def _closing(source: Any, filelike: Any) -> Iterator[Any]:
    # Django closes a response's file only when the body was sent to the end
    # (on a disconnect its ASGI handler skips response.close()): the relay
    # closes this generator on its thread either way, and the file with it,
    # rather than leaving it to the garbage collector.
    try:
        yield from source
    finally:
        if (close := getattr(source, "close", None)) is not None:
            close()
        if filelike is not None:
            filelike.close()


def _collected(
    request: HttpRequest, response: StreamingHttpResponse
) -> Iterator[bytes]:
    logger.warning(FORCED_WHOLE, view_label(request))
    source = _source(response)

    async def collect() -> list[Any]:
        return [part async for part in source]

    return iter(async_to_sync(collect)())


def view_label(request: HttpRequest) -> str:
    """``'module.View' (GET /path)``: which view made the response."""
    match = request.resolver_match
    where = f"({request.method} {request.path})"
    if match is None:
        return f"The view at {where}"
    func = getattr(match.func, "view_class", match.func)
    name = f"{func.__module__}.{func.__qualname__}"
    return f"The view {name!r} {where}"
