"""Streaming responses that keep memory flat under WSGI and ASGI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.db import connections
from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from django_streamkit._core.bridge import DONE, AsyncDriver, in_event_loop, next_or_done
from django_streamkit._core.feed import (
    AsyncFeedChunks,
    Feed,
    FeedChunks,
    PieceFeed,
    apassthrough,
    passthrough,
)
from django_streamkit._core.scope import AsyncContextIterator, ContextIterator, Scope
from django_streamkit._core.stream import Stream
from django_streamkit._core.types import Piece
from django_streamkit._core.types import Stream as Content
from django_streamkit.conf import conf

logger = logging.getLogger("django_streamkit")


def _borrow_connections(scope: Scope) -> Callable[[Callable[[], None]], None]:
    """How a sync source's producer runs its body on its helper thread: in
    ``scope``, with the database connections of the thread that calls this,
    the one that iterates the response (the request's thread under WSGI, its
    thread-sensitive worker under ASGI), so the source keeps the request's
    connection and transaction, SQLite's locking and the test database's
    isolation."""
    shared = [(alias, connections[alias]) for alias in connections]

    def run(body: Callable[[], None]) -> None:
        for alias, connection in shared:
            # Shared as Django's live server tests share theirs. The source
            # (its queries) runs on the producer; the iterating thread only
            # renders what it made, so cells must be plain values, not model
            # instances whose str() would query on this connection meanwhile.
            connection.inc_thread_sharing()
            connections[alias] = connection
        try:
            scope.run(body)
        finally:
            for _, connection in shared:
                connection.dec_thread_sharing()

    return run


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
    _stream: Stream
    #: What a middleware (or the test client) put around the stream's chunks.
    _wrapped: Iterator[bytes] | AsyncIterator[bytes] | None

    def __init__(
        self,
        content: Content | Feed[Any] = (),
        *,
        content_type: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.chunk_size = conf.chunk_size(chunk_size)
        self.max_latency = conf.MAX_LATENCY
        super().__init__(
            # A Feed reaches _set_streaming_content, which relays it.
            cast("Content", content),
            content_type=content_type,
            status=status,
            headers=headers,
        )
        # Tell nginx not to buffer this response, so chunks pass straight through.
        self.headers.setdefault("X-Accel-Buffering", "no")
        # str pieces are encoded with self.charset: say so, or browsers guess
        # (and show "José 東京" as mojibake).
        # A Content-Type given whole in ``headers`` is sent as it is.
        content_type = self.headers.get("Content-Type", "")
        if (
            not any(key.lower() == "content-type" for key in headers or ())
            and content_type.lower().startswith("text/")
            and "charset=" not in content_type.lower()
        ):
            self.headers["Content-Type"] = f"{content_type}; charset={self.charset}"

    # -- content ---------------------------------------------------------

    def _set_streaming_content(self, value: object) -> None:
        # Normalise once, when assigned; never iterate the source twice.
        # Content is relayed when first assigned. A later assignment wraps
        # the chunks already made (GZipMiddleware, the test client), so its
        # pieces go out one for one: batching them again would hold a
        # compressed chunk back until the next one.
        encoding = self.charset
        if hasattr(self, "_stream"):
            if isinstance(value, AsyncIterable):
                self.is_async = True
                self._wrapped = apassthrough(value.__aiter__(), encoding)
            else:
                self.is_async = False
                pieces = cast("Iterable[Piece]", value)
                self._wrapped = passthrough(iter(pieces), encoding)
                # Wrapped on a sync thread (the test client, a WSGI handler's
                # middleware) after an async view built it: prime it now.
                if not self._stream.feed.is_async and not in_event_loop():
                    self._prime()
            return
        # A stream_with_context() source: its items are made, and it is
        # closed, inside its scope, on whatever thread makes them.
        scope = None
        if isinstance(value, ContextIterator | AsyncContextIterator):
            scope, value = value.scope, value.source
        if isinstance(value, FeedChunks | AsyncFeedChunks):
            value = value.feed  # stream_csv() and the like: relay the feed
        if isinstance(value, QuerySet):
            # A QuerySet has __aiter__ too, which would fetch every row at
            # once; read it in chunks, never through its result cache.
            value = value.iterator(chunk_size=conf.QUERYSET_CHUNK_SIZE)
        if not isinstance(value, Feed):
            if not hasattr(value, "__aiter__") and (
                not hasattr(value, "__iter__") or isinstance(value, str | bytes)
            ):
                raise TypeError(
                    f"{type(self).__name__} content must be an iterable or an "
                    f"async iterable of str or bytes, not {value!r} "
                    f"({type(value).__name__}); wrap a single value in a list."
                )
            value = PieceFeed(cast("Content", value), encoding, self.chunk_size)
        self.is_async = value.is_async
        self._stream = Stream(value, scope, self.max_latency, _borrow_connections)
        self._wrapped = None
        if not self.is_async:
            self._resource_closers.append(self._stream.close)
            if not in_event_loop():
                self._prime()

    def _prime(self) -> None:
        """Make the first chunk now, in the view, so an error before the
        first byte is raised from it (a hook: a subclass may decline)."""
        self._stream.prime()

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
        stream = self._stream
        if self._wrapped is not None or stream.primed:
            return
        if not self.is_async:
            await sync_to_async(self._prime, thread_sensitive=True)()
            return
        await stream.aprime()

    @property
    def streaming_content(self) -> Iterator[bytes] | AsyncIterator[bytes]:
        if self._wrapped is not None:
            return self._wrapped
        if self.is_async:
            return self._stream.achunks()
        return self._stream.chunks()

    @streaming_content.setter
    def streaming_content(
        self, value: Iterable[object] | AsyncIterable[object]
    ) -> None:
        self._set_streaming_content(value)

    def _sync_chunks(self) -> Iterator[bytes]:
        return cast("Iterator[bytes]", self.streaming_content)

    def _async_chunks(self) -> AsyncIterator[bytes]:
        return cast("AsyncIterator[bytes]", self.streaming_content)

    def _close(self) -> None:
        # A middleware's wrapper first (its ``finally`` may still use the
        # stream), then the stream and its source.
        if (close := getattr(self._wrapped, "close", None)) is not None:
            close()
        self._stream.close()

    async def _aclose(self) -> None:
        if (aclose := getattr(self._wrapped, "aclose", None)) is not None:
            await aclose()
        if self._stream.feed.is_async:
            await self._stream.aclose()
        else:
            await sync_to_async(self._stream.close, thread_sensitive=True)()

    def _leave(self) -> None:
        """The server has stopped iterating this body (a hook)."""

    def _log_abort(self) -> None:
        logger.exception(
            "Error while streaming the body of %r after the response started; "
            "aborting the connection.",
            self,
        )

    # -- WSGI --------------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        chunks: Iterator[bytes]
        if self.is_async:
            driver = AsyncDriver(self._async_chunks(), self._aclose)
            self._resource_closers.append(driver.close)
            chunks = driver
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
                async for chunk in self._async_chunks():
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
        sync_chunks = self._sync_chunks()
        # Each hop waits for one chunk on the request's thread-sensitive
        # worker, where the view and its database connection ran: never the
        # whole body at once (as sync_to_async(list) would).
        step = sync_to_async(next_or_done, thread_sensitive=True)
        try:
            while (piece := await step(sync_chunks)) is not DONE:
                yield piece
        except Exception:
            self._log_abort()
            raise
        finally:
            # A step still in flight may be waiting for its source: tell it
            # the client has gone, so it ends within one idle tick.
            self._leave()
            # On disconnect Django cancels this task; the source is closed on
            # the same worker thread, after any step still in flight.
            await asyncio.shield(sync_to_async(self._close, thread_sensitive=True)())

    def getvalue(self) -> bytes:
        return b"".join(self)
