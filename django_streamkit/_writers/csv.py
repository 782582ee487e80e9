"""The CSV feed: rows in, encoded chunks of about ``chunk_size`` bytes out.

Nothing here imports Django. Rows are read a batch at a time, sized by the
chunk they make and by how fast the source gives them, and each batch becomes
one chunk (see :class:`~django_streamkit._writers.csv_encoder.Encoder`; the
options and their validation are in
:mod:`~django_streamkit._writers.csv_format`). The row source is closed (a
generator's ``finally`` runs) when the chunks end, fail or are closed early.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from itertools import chain, islice
from typing import Any, Final

from django_streamkit._core.feed import Feed
from django_streamkit._core.gate import Plan
from django_streamkit._core.stream import arelay
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
        self._sync: Generator[bytes, None, None] | None = None
        self._async: AsyncIterator[bytes] | None = None
        self._ended = False  # closed while iterated directly

    # -- Feed ----------------------------------------------------------------

    def head(self) -> bytes:
        # Even with nothing else, the encoding's own byte order mark.
        return self._encoder.encode(self._encoder.start())

    def render(self, items: list[Any]) -> bytes:
        # Rows as the source gives them: bind() checks the first one.
        rows: list[Row] = list(chain.from_iterable(items)) if self._batched else items
        if not rows:
            return b""
        if not self._bound:
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

    # -- direct iteration ------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._ended:
            raise StopIteration
        if self._sync is None:
            self._sync = self._chunks()
        return next(self._sync)

    def _chunks(self) -> Generator[bytes, None, None]:
        rows = self.source
        if not isinstance(rows, Iterator):
            raise TypeError("The rows are an async iterable: use async for.")
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
            yield head + self.render([first])
            while batch := list(islice(rows, self.limit())):
                yield self.render(batch)
        finally:
            Feed.close(self)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._ended:
            raise StopAsyncIteration
        if self._async is not None:
            return await self._async.__anext__()
        if not isinstance(self.source, AsyncIterator):
            raise TypeError("The rows are a sync iterable: use for.")
        # The same relay a response uses, so a slow or blocked async source
        # still gives its rows within ``max_latency``.
        plan = Plan(self.render, self.limit, self.fmt.max_latency, self.weigh)
        self._async = arelay(
            self.source, plan, spawn=asyncio.ensure_future, aclose=super().aclose
        )
        head = self.head()
        try:
            chunk = await self._async.__anext__()
        except StopAsyncIteration:
            if head:
                return head
            raise
        return head + chunk

    def close(self) -> None:
        if self._sync is not None:
            self._ended = True
            self._sync.close()
        super().close()

    async def aclose(self) -> None:
        if self._async is not None:
            self._ended = True
            if (aclose := getattr(self._async, "aclose", None)) is not None:
                await aclose()
        await super().aclose()


def iter_csv(
    rows: Iterator[object],
    fmt: CSVFormat,
    *,
    header_apart: bool = False,
    batched: bool = False,
) -> CSVFeed:
    """Encoded CSV chunks of ``rows`` (see :class:`CSVFeed`)."""
    return CSVFeed(rows, fmt, header_apart=header_apart, batched=batched)


def aiter_csv(rows: AsyncIterator[object], fmt: CSVFormat) -> CSVFeed:
    """The async twin of :func:`iter_csv`."""
    return CSVFeed(rows, fmt)
