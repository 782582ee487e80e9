"""Middleware for streamed responses and the request scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.utils.cache import patch_vary_headers
from django.utils.regex_helper import _lazy_re_compile

from django_streamkit._gzip import acompress_chunks, compress_chunks
from django_streamkit._servers.middleware import ASGIStreamingMiddleware
from django_streamkit.context import request_scope

_accepts_gzip = _lazy_re_compile(r"\bgzip\b")


class GZipMiddleware(DjangoGZipMiddleware):
    """Django's ``GZipMiddleware``, with streamed bodies flushed chunk by chunk.

    A drop-in replacement: ordinary responses are compressed exactly as
    Django does. Streamed responses are compressed as one gzip stream whose
    compressor is flushed after every chunk, so each chunk reaches the client
    when it is produced, on every supported Django version (Django's own only
    flushes from 6.1 on, ticket #36293).
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not response.streaming:
            return super().process_response(request, response)
        if response.has_header("Content-Encoding"):
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        if not _accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            return response
        content = response.streaming_content  # type: ignore[attr-defined]
        response.streaming_content = (  # type: ignore[attr-defined]
            acompress_chunks(content, max_random_bytes=self.max_random_bytes)
            if response.is_async  # type: ignore[attr-defined]
            else compress_chunks(content, max_random_bytes=self.max_random_bytes)
        )
        del response.headers["Content-Length"]
        # RFC 9110 section 8.8.1: a strong ETag can't survive a new encoding.
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response.headers["ETag"] = "W/" + etag
        response.headers["Content-Encoding"] = "gzip"
        return response


class RequestContextMiddleware:
    """Bind ``current_request`` while the request is handled.

    Sync and async capable, so it adds no thread hop under either handler.
    Put it early in ``MIDDLEWARE`` so later middleware and the view see it.
    The binding ends when the response is returned; a streamed body that needs
    the request afterwards is wrapped in ``stream_with_context``.
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
        with request_scope(request):
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        with request_scope(request):
            return await cast(Awaitable[HttpResponseBase], self.get_response(request))


__all__ = ["ASGIStreamingMiddleware", "GZipMiddleware", "RequestContextMiddleware"]
