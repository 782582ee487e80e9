"""The CSV feed: rows in, encoded chunks of about ``chunk_size`` bytes out.

Nothing here imports Django. Rows are read a batch at a time, sized by the
chunk they make and by how fast the source gives them, and each batch becomes
one chunk (see :class:`~django_streamkit._writers.csv_encoder.Encoder`; the
options and their validation are in
:mod:`~django_streamkit._writers.csv_format`). The row source is closed (a
generator's ``finally`` runs) when the chunks end, fail or are closed early.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any, Final, cast

from django_streamkit._core.feed import AsyncFeedChunks, Feed, FeedChunks
from django_streamkit._writers.csv_encoder import Encoder
from django_streamkit._writers.csv_format import CSVFormat
from django_streamkit._writers.csv_text import Row

__all__ = ["CSVFeed", "CSVFormat", "aiter_csv", "iter_csv"]

_END: Final = object()


class CSVFeed(Feed[Any]):
    """Encoded CSV of ``rows``, as a :class:`Feed` and as an iterator.

    A streaming response relays it: the rows are pulled as they come and
    written here a batch at a time, a chunk's worth or whatever arrived
    within ``max_latency``. Iterated directly, it gives the BOM, the header
    and the first row as a first chunk (so a response can make it before the
    view returns), then chunks of about ``chunk_size``. With ``header_apart``
    the header is a chunk of its own and no row is read until the second
    chunk is asked for. ``batched`` rows come as lists of rows (as a database
    fetches them). The row source is closed when the chunks end, fail or are
    closed early.
    """

    def __init__(
        self,
        rows: Iterator[object] | AsyncIterator[object],
        fmt: CSVFormat,
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
        self._encoder = Encoder(fmt)
        self._bound = False  # bind() has seen the first row
        self._copy: Callable[[Iterable[object]], Row] | None = None
        self._rows = self._bytes = 0
        self._mark = (0.0, 0)

    # -- Feed ----------------------------------------------------------------

    def head(self) -> bytes:
        # Even with nothing else, the encoding's own byte order mark.
        return self._encoder.encode(self._encoder.start())

    def render(self, items: list[Any]) -> bytes:
        # Rows as the source gives them (fetched batches of rows, flattened).
        return self._write(list(chain.from_iterable(items)) if self._batched else items)

    def _write(self, rows: list[Row]) -> bytes:
        if not rows:
            return b""
        if not self._bound:  # bind() checks the first row
            self._copy, self._bound = self._encoder.bind(rows[0]), True
        if (copy := self._copy) is not None:
            rows = [copy(row) for row in rows]
        data = self._encoder.write(rows)
        self._rows += len(rows)
        self._bytes += len(data)
        return data

    def limit(self) -> int:
        """Rows (or fetched batches) for the next chunk, read after each one.

        About one chunk's worth by the rows so far, but no more than the
        source made in ``max_latency`` last time (so a slow source flows in
        small batches), and 2 right after the first row: a first row that
        came at once says nothing about the rows after it.
        """
        now, rows = time.monotonic(), self._rows
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

    def chunks(self) -> Iterator[bytes]:
        """The chunks, for code that iterates them itself."""
        source = self.source
        if not isinstance(source, Iterator):
            raise TypeError("The rows are an async iterable: use achunks().")
        rows: Iterator[Row] = chain.from_iterable(source) if self._batched else source
        try:
            head = self.head()
            if self.head_alone and head:
                yield head
                head = b""
            first = next(rows, _END)
            if first is _END:
                if head:
                    yield head
                return
            yield head + self._write([cast("Row", first)])
            while batch := list(islice(rows, self.limit())):
                yield self._write(batch)
        finally:
            self.close()

    async def achunks(self) -> AsyncIterator[bytes]:
        """The async twin of :meth:`chunks`: a batch ends when it holds
        ``limit()`` rows or ``max_latency`` has passed since it began, so a
        slow source's rows still flow."""
        source = self.source
        if not isinstance(source, AsyncIterator):
            raise TypeError("The rows are a sync iterable: use chunks().")
        latency = self.fmt.max_latency
        head, batch, n = self.head(), [], 1
        began = time.monotonic()
        try:
            async for row in source:
                batch.append(row)
                if len(batch) >= n or time.monotonic() - began >= latency:
                    chunk, head, batch = head + self._write(batch), b"", []
                    yield chunk
                    n, began = self.limit(), time.monotonic()
            if batch or head:
                yield head + self._write(batch)
        finally:
            await self.aclose()


def iter_csv(
    rows: Iterator[object],
    fmt: CSVFormat,
    *,
    header_apart: bool = False,
    batched: bool = False,
) -> CSVFeed:
    """The feed of ``rows`` (see :class:`CSVFeed`)."""
    return CSVFeed(rows, fmt, header_apart=header_apart, batched=batched)


def aiter_csv(rows: AsyncIterator[object], fmt: CSVFormat) -> CSVFeed:
    """The async twin of :func:`iter_csv`."""
    return CSVFeed(rows, fmt)


def chunks_of(feed: CSVFeed) -> FeedChunks[Any] | AsyncFeedChunks[Any]:
    """``feed``'s chunks, to iterate directly: sync or async, never both."""
    if feed.is_async:
        return AsyncFeedChunks(feed, feed.achunks())
    return FeedChunks(feed, feed.chunks())
