"""Streaming responses that keep memory flat under WSGI and ASGI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from django_streamkit._context import AsyncContextIterator, ContextIterator
from django_streamkit._iter import (
    DONE,
    AsyncCloser,
    AsyncDriver,
    Closer,
    acoalesce,
    anext_or_done,
    apassthrough,
    aprepend,
    coalesce,
    next_or_done,
    passthrough,
    prepend,
)
from django_streamkit._typing import Stream, SyncChunks
from django_streamkit.conf import conf

logger = logging.getLogger("django_streamkit")


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _check_chunk_size(chunk_size: object) -> int:
    if chunk_size is None:
        return conf.CHUNK_SIZE
    if (
        not isinstance(chunk_size, int)
        or isinstance(chunk_size, bool)
        or chunk_size < 1
    ):
        raise ValueError(
            f"chunk_size must be a positive number of bytes, not {chunk_size!r}; "
            "pass None to use the STREAMKIT_CHUNK_SIZE setting."
        )
    return chunk_size


def _in_scope(scoped: Any, chunks: Any, source: Any) -> tuple[Any, Any]:
    """``(chunks, source)``, for a ``stream_with_context()`` source run with the
    chunker inside its scope."""
    if scoped is None:
        return chunks, source
    return scoped.rewrap(chunks), scoped


class StreamingResponse(StreamingHttpResponse):
    """A ``StreamingHttpResponse`` over any sync or async iterable.

    Pieces (``str`` or ``bytes``) are coalesced into chunks of about
    ``chunk_size`` bytes; the first piece leaves at once and no piece waits
    longer than ``STREAMKIT_MAX_LATENCY`` while the source keeps producing.

    A sync source is iterated directly under WSGI and stepped on the request's
    worker thread, one chunk per hop, under ASGI. An async source is iterated
    natively under ASGI and driven chunk by chunk on one event loop under WSGI.
    Neither is ever collected into a list.

    A sync source is *primed* when the response is built outside an event loop
    (a sync view): its first piece is produced then, so an exception before
    the first byte is raised from the view. Exceptions after that are logged
    on the ``django_streamkit`` logger and re-raised, so the server aborts the
    connection and the client sees an incomplete transfer.
    """

    _resource_closers: list[Callable[[], object]]  # HttpResponseBase's, untyped

    def __init__(
        self,
        content: Stream = (),
        *,
        content_type: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.chunk_size = _check_chunk_size(chunk_size)
        self.max_latency = conf.MAX_LATENCY
        super().__init__(
            content, content_type=content_type, status=status, headers=headers
        )
        # Tell nginx not to buffer this response, so chunks pass straight through.
        self.headers.setdefault("X-Accel-Buffering", "no")

    # -- content ---------------------------------------------------------

    def _set_streaming_content(self, value: Any) -> None:
        # Normalise once, when assigned; never iterate the source twice.
        # Content is coalesced when first assigned. A later assignment wraps
        # the chunks already made (GZipMiddleware, the test client), so its
        # pieces go out one for one: batching them again would hold a
        # compressed chunk back until the next one.
        rewrap = hasattr(self, "_chunks")
        size, latency, encoding = self.chunk_size, self.max_latency, self.charset
        self._first = b""
        self._primed = False
        # A stream_with_context() source: chunk the pieces it wraps inside its
        # scope, so the scope is entered once per chunk, not once per piece.
        scoped = None
        if isinstance(value, ContextIterator | AsyncContextIterator):
            scoped, value = value, value.source
        if isinstance(value, QuerySet):
            # A QuerySet has __aiter__ too, which would fetch every row at
            # once; read it in chunks, never through its result cache.
            value = value.iterator(chunk_size=conf.QUERYSET_CHUNK_SIZE)
        if hasattr(value, "__aiter__"):
            self.is_async = True
            source = value.__aiter__()
            self._chunks: Any = (
                apassthrough(source, encoding)
                if rewrap
                else acoalesce(
                    source, chunk_size=size, max_latency=latency, encoding=encoding
                )
            )
            self._chunks, source = _in_scope(scoped, self._chunks, source)
            self._aclose = AsyncCloser(self._chunks, source)
            self._async_source = source
        elif hasattr(value, "__iter__") and not isinstance(value, str | bytes):
            self.is_async = False
            source = iter(value)
            self._chunks = (
                passthrough(source, encoding)
                if rewrap
                else coalesce(
                    source, chunk_size=size, max_latency=latency, encoding=encoding
                )
            )
            self._chunks, source = _in_scope(scoped, self._chunks, source)
            self._close = Closer(self._chunks, source)
            self._resource_closers.append(self._close)
            if not _in_event_loop():
                self._prime()
        else:
            raise TypeError(
                f"{type(self).__name__} content must be an iterable or an async "
                f"iterable of str or bytes, not {value!r} "
                f"({type(value).__name__}); wrap a single value in a list."
            )
        self._iterator = self._chunks

    def _prime(self) -> None:
        self._primed = True
        try:
            self._first = next(self._chunks, b"")
        except BaseException:
            self._close()
            raise

    async def aprime(self) -> None:
        """Produce the first chunk now, from an async view.

        The constructor cannot prime inside an event loop, so an async view
        awaits this before returning the response: an exception before the
        first byte is then raised from the view, as in a sync view. A sync
        source is primed on the request's thread-sensitive worker (where the
        rest of it will run under ASGI); an async source is primed on the
        running loop, so only await this when the response will be iterated
        on that same loop (an ASGI server), not from an async view that
        Django runs under WSGI, whose loop ends with the view. Calling it
        again, or on an already primed response, does nothing.
        """
        if self._primed:
            return
        self._primed = True
        if not self.is_async:
            await sync_to_async(self._prime, thread_sensitive=True)()
            return
        chunks = self._chunks
        try:
            first = await anext_or_done(chunks)
        except BaseException:
            await self._aclose()
            raise
        self._chunks = self._iterator = aprepend(
            b"" if first is DONE else first, chunks
        )
        self._aclose = AsyncCloser(self._chunks, chunks, self._async_source)

    @property
    def streaming_content(self) -> Any:
        if self.is_async:
            return self._chunks
        return self._sync_chunks()

    @streaming_content.setter
    def streaming_content(self, value: Any) -> None:
        self._set_streaming_content(value)

    def _sync_chunks(self) -> SyncChunks:
        # Bind the current generator now: the content may be reassigned (the
        # test client and GZipMiddleware wrap it) before this is iterated.
        first, self._first = self._first, b""
        return prepend(first, self._chunks)

    def _log_abort(self) -> None:
        logger.exception(
            "Error while streaming the body of %r after the response started; "
            "aborting the connection.",
            self,
        )

    # -- WSGI --------------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        if self.is_async:
            driver = AsyncDriver(self._chunks, self._aclose)
            self._resource_closers.append(driver.close)
            chunks: Iterator[bytes] = driver
        else:
            chunks = self._sync_chunks()
        try:
            yield from chunks
        except Exception:
            self._log_abort()
            raise

    # -- ASGI --------------------------------------------------------------

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.is_async:
            try:
                async for chunk in self._chunks:
                    yield chunk
                    # Let the loop run between chunks even when the source
                    # never suspends (a template over in-memory rows): else a
                    # disconnect goes unnoticed and other requests wait.
                    await asyncio.sleep(0)
            except Exception:
                self._log_abort()
                raise
            finally:
                await asyncio.shield(self._aclose())
            return
        chunks = self._sync_chunks()
        # Each hop runs one chunk's worth of the source on the request's
        # thread-sensitive worker, where the view and its database connection
        # ran: never the whole body at once (as sync_to_async(list) would).
        step = sync_to_async(next_or_done, thread_sensitive=True)
        try:
            while (chunk := await step(chunks)) is not DONE:
                yield chunk
        except Exception:
            self._log_abort()
            raise
        finally:
            # On disconnect Django cancels this task; the source is closed on
            # the same worker thread, after any step still in flight.
            await asyncio.shield(sync_to_async(self._close, thread_sensitive=True)())

    def getvalue(self) -> bytes:
        return b"".join(self)
