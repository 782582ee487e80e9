"""What a response relays: a source of items and how batches of them become
bytes. Nothing here imports Django.

A :class:`Feed` is the one object a streamed format hands to
:class:`~django_streamkit.responses.StreamingResponse`: the plain piece
stream here, CSV rows in :mod:`django_streamkit._writers.csv`. The response primes it
(``head()`` and the first item, in the view), then relays the rest (see
:mod:`django_streamkit._core.stream`) and ends with ``tail()``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from itertools import chain, islice
from typing import Any, Final, Generic, Protocol, TypeVar

from django_streamkit._core.gate import Weigh
from django_streamkit._core.types import Piece, Stream

T = TypeVar("T")

_END: Final = object()


class Feed(Generic[T]):
    """A stream's items and how they are rendered."""

    #: Whether ``source`` is an async iterator.
    is_async: bool = False
    #: The items: pieces, rows, fetched batches of rows.
    source: Iterator[T] | AsyncIterator[T]
    #: An item's weight towards ``limit()``; ``None``: each weighs 1.
    weigh: Weigh[T] | None = None
    #: The first chunk is the head alone: no item is read in the view.
    head_alone: bool = False
    #: A ``None`` item means "nothing yet": never relayed (see ``Plan.waits``).
    waits: bool = False
    #: Seconds of silence after which the relay calls :meth:`on_idle`.
    idle: float | None = None

    def on_idle(self) -> bytes | None:
        """What to send after ``idle`` seconds of silence; ``None``: end."""
        return b""

    def limit(self) -> int:
        """The weight of items that make a full chunk (read after each)."""
        raise NotImplementedError

    def head(self) -> bytes:
        """What comes before the first item (a byte order mark, a header)."""
        return b""

    def render(self, items: list[T]) -> bytes:
        raise NotImplementedError

    def tail(self) -> bytes:
        """What comes after the last item."""
        return b""

    def close(self) -> None:
        if (close := getattr(self.source, "close", None)) is not None:
            close()

    async def aclose(self) -> None:
        if (aclose := getattr(self.source, "aclose", None)) is not None:
            await aclose()


class Pace(Protocol):
    """What a :class:`PacedFeed`'s format says about its chunks."""

    @property
    def chunk_size(self) -> int: ...

    @property
    def max_latency(self) -> float: ...


class PacedFeed(Feed[T]):
    """A feed of rows (CSV, XLSX, JSON items) that sizes each batch by the
    bytes the rows so far made and by how fast the source gives them, as a
    relay and as an iterator of chunks.

    A subclass counts what it writes with :meth:`_wrote`; direct iteration
    reads what :meth:`_direct` gives.
    """

    fmt: Pace
    #: What the source gives, for the error that names the wrong kind.
    noun = "rows"
    # Rows (or items) and bytes written, and (when, rows) at the last limit().
    _count = 0
    _bytes = 0
    _mark = (0.0, 0)

    def _wrote(self, count: int, data: bytes) -> bytes:
        self._count += count
        self._bytes += len(data)
        return data

    def limit(self) -> int:
        """Rows (or fetched batches) for the next chunk, read after each one.

        About one chunk's worth by the rows so far, but no more than the
        source made in ``max_latency`` last time (so a slow source flows in
        small batches), and 2 right after the first row: a first row that
        came at once says nothing about the rows after it.
        """
        now, rows = time.monotonic(), self._count
        if not rows:
            self._mark = (now, 0)
            return 1
        (then, before), self._mark = self._mark, (now, rows)
        if before == 0:
            return 2
        n = -(-self.fmt.chunk_size * rows // max(self._bytes, 1))
        if (elapsed := now - then) > 0:
            n = min(n, int((rows - before) * self.fmt.max_latency / elapsed))
        return max(1, n)

    # -- direct iteration (no relay) --------------------------------------------

    def _direct(
        self, source: Iterator[T]
    ) -> tuple[Iterator[Any], Weigh[Any] | None, Callable[[list[Any]], bytes]]:
        """What direct iteration reads batches from, each one's weight towards
        ``limit()`` (``None``: 1) and what writes a batch: by default the
        source's items, weighed and rendered as a relay does."""
        return source, self.weigh, self.render

    def chunks(self) -> Iterator[bytes]:
        """The chunks, for code that iterates them itself: the head and the
        first row, then batches of ``limit()``, then the tail; never an empty
        chunk."""
        source = self.source
        if not isinstance(source, Iterator):
            raise TypeError(f"The {self.noun} are an async iterable: use achunks().")
        items, weigh, write = self._direct(source)
        try:
            head = self.head()
            if self.head_alone and head:
                yield head
                head = b""
            first = next(items, _END)
            if first is _END:
                if end := head + self.tail():
                    yield end
                return
            yield head + write([first])
            while batch := _take(items, self.limit(), weigh):
                yield write(batch)
            if tail := self.tail():
                yield tail
        finally:
            self.close()

    async def achunks(self) -> AsyncIterator[bytes]:
        """The async twin of :meth:`chunks`: a batch ends when it holds
        ``limit()`` items or ``max_latency`` has passed since it began, so a
        slow source's rows still flow."""
        source = self.source
        if not isinstance(source, AsyncIterator):
            raise TypeError(f"The {self.noun} are a sync iterable: use chunks().")
        latency = self.fmt.max_latency
        head, batch, n = self.head(), [], 1
        began = time.monotonic()
        try:
            async for item in source:
                batch.append(item)
                if len(batch) >= n or time.monotonic() - began >= latency:
                    chunk, head, batch = head + self.render(batch), b"", []
                    yield chunk
                    n, began = self.limit(), time.monotonic()
            if end := head + self.render(batch) + self.tail():
                yield end
        finally:
            await self.aclose()


class RowFeed(PacedFeed[Any]):
    """A paced feed of rows, or (``batched``) of lists of rows as a database
    fetches them, written a list of rows at a time by :meth:`_write` (CSV,
    XLSX). Iterated directly, fetched batches are flattened, so a chunk holds
    ``limit()`` rows exactly."""

    def __init__(
        self,
        rows: Iterator[object] | AsyncIterator[object],
        fmt: Pace,
        *,
        header_apart: bool = False,
        batched: bool = False,
    ) -> None:
        self.fmt = fmt
        self.source = rows
        self.is_async = hasattr(rows, "__anext__")
        self.head_alone = header_apart
        self.weigh = len if batched else None
        self._batched = batched

    def render(self, items: list[Any]) -> bytes:
        return self._write(list(chain.from_iterable(items)) if self._batched else items)

    def _write(self, rows: list[Any]) -> bytes:
        """``rows`` as bytes, counted with :meth:`_wrote`."""
        raise NotImplementedError

    def _direct(
        self, source: Iterator[Any]
    ) -> tuple[Iterator[Any], None, Callable[[list[Any]], bytes]]:
        rows = chain.from_iterable(source) if self._batched else source
        return rows, None, self._write


def _take(items: Iterator[Any], limit: int, weigh: Weigh[Any] | None) -> list[Any]:
    # limit() counts rows; a QuerySet's items may be fetched batches of them.
    if weigh is None:
        return list(islice(items, limit))
    batch, rows = [], 0
    for item in items:
        batch.append(item)
        rows += weigh(item)
        if rows >= limit:
            break
    return batch


def bytes_of(encoding: str) -> Callable[[Piece], bytes]:
    """A piece as bytes, as Django's ``HttpResponseBase.make_bytes`` makes it."""

    def encode(piece: Piece) -> bytes:
        if type(piece) is bytes:
            return piece
        if isinstance(piece, str):
            return piece.encode(encoding)
        if isinstance(piece, bytes | memoryview):
            return bytes(piece)
        return str(piece).encode(encoding)

    return encode


class PieceFeed(Feed[bytes]):
    """``str``/``bytes`` pieces, joined into chunks of up to ``chunk_size``."""

    def __init__(self, content: Stream, encoding: str, chunk_size: int) -> None:
        self.weigh = len
        self._size = chunk_size
        encode = bytes_of(encoding)
        self._original: Iterator[Piece] | AsyncIterator[Piece]
        if isinstance(content, AsyncIterable):
            self.is_async = True
            self._original = pieces = content.__aiter__()
            self.source = _apieces(pieces, encode)
        else:
            self._original = sync = iter(content)
            # C-level map and filter: empty pieces never reach the relay.
            self.source = filter(None, map(encode, sync))

    def limit(self) -> int:
        return self._size

    render = staticmethod(b"".join)  # type: ignore[assignment]

    def close(self) -> None:
        if (close := getattr(self._original, "close", None)) is not None:
            close()

    async def aclose(self) -> None:
        await self.source.aclose()  # type: ignore[union-attr]
        if (aclose := getattr(self._original, "aclose", None)) is not None:
            await aclose()


async def _apieces(
    pieces: AsyncIterator[Piece], encode: Callable[[Piece], bytes]
) -> AsyncIterator[bytes]:
    async for piece in pieces:
        if data := encode(piece):
            yield data


def passthrough(source: Iterator[Piece], encoding: str) -> Iterator[bytes]:
    """Each non-empty piece as bytes, one for one: for content that is already
    chunked (a wrapper a middleware put around a response's chunks)."""
    yield from filter(None, map(bytes_of(encoding), source))


async def apassthrough(
    source: AsyncIterator[Piece], encoding: str
) -> AsyncIterator[bytes]:
    async for data in _apieces(source, bytes_of(encoding)):
        yield data


class _Chunks(Generic[T]):
    __slots__ = ("_chunks", "feed")

    def __init__(self, feed: Feed[T], chunks: Any) -> None:
        self.feed = feed
        self._chunks = chunks


class FeedChunks(_Chunks[T]):
    """A sync feed's chunks for code that iterates them directly (Django's own
    ``StreamingHttpResponse``, a file): only ``__iter__``, so nothing mistakes
    it for an async iterable. A ``StreamingResponse`` given one relays its
    :attr:`feed` instead."""

    __slots__ = ()
    _chunks: Iterator[bytes]

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        if (close := getattr(self._chunks, "close", None)) is not None:
            close()
        self.feed.close()


class AsyncFeedChunks(_Chunks[T]):
    """The async twin of :class:`FeedChunks`: only ``__aiter__``."""

    __slots__ = ()
    _chunks: AsyncIterator[bytes]

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        if (aclose := getattr(self._chunks, "aclose", None)) is not None:
            await aclose()
        await self.feed.aclose()


def chunks_of(feed: PacedFeed[Any]) -> FeedChunks[Any] | AsyncFeedChunks[Any]:
    """``feed``'s chunks, to iterate directly: sync or async, never both."""
    if feed.is_async:
        return AsyncFeedChunks(feed, feed.achunks())
    return FeedChunks(feed, feed.chunks())
