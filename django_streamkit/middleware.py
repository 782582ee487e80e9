"""Middleware for streamed responses."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.utils.cache import patch_vary_headers
from django.utils.regex_helper import _lazy_re_compile

from django_streamkit._gzip import acompress_chunks, compress_chunks

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
