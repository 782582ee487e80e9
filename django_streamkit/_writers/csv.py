"""The CSV feed: rows in, encoded chunks of about ``chunk_size`` bytes out.

Nothing here imports Django. Rows are read a batch at a time, sized by the
chunk they make and by how fast the source gives them, and each batch becomes
one chunk (see :class:`~django_streamkit._writers.csv_encoder.Encoder`; the
options and their validation are in
:mod:`~django_streamkit._writers.csv_format`). The row source is closed (a
generator's ``finally`` runs) when the chunks end, fail or are closed early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from django_streamkit._core.feed import RowFeed, chunks_of
from django_streamkit._writers.csv_encoder import Encoder
from django_streamkit._writers.csv_format import CSVFormat
from django_streamkit._writers.csv_text import Row

__all__ = ["CSVFeed", "CSVFormat", "aiter_csv", "chunks_of", "iter_csv"]


class CSVFeed(RowFeed):
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

    fmt: CSVFormat

    def __init__(
        self,
        rows: Iterator[object] | AsyncIterator[object],
        fmt: CSVFormat,
        *,
        header_apart: bool = False,
        batched: bool = False,
    ) -> None:
        super().__init__(rows, fmt, header_apart=header_apart, batched=batched)
        self._encoder = Encoder(fmt)
        self._bound = False  # bind() has seen the first row
        self._copy: Callable[[Iterable[object]], Row] | None = None

    # -- Feed ----------------------------------------------------------------

    def head(self) -> bytes:
        # Even with nothing else, the encoding's own byte order mark.
        return self._encoder.encode(self._encoder.start())

    def _write(self, rows: list[Row]) -> bytes:
        if not rows:
            return b""
        if not self._bound:  # bind() checks the first row
            self._copy, self._bound = self._encoder.bind(rows[0]), True
        if (copy := self._copy) is not None:
            rows = [copy(row) for row in rows]
        return self._wrote(len(rows), self._encoder.write(rows))


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
