"""The pure CSV core: rows in, encoded chunks of about ``chunk_size`` bytes out.

Nothing here imports Django. Rows are written with :mod:`csv` in batches (one
C-level ``writerows`` call per batch, never a Python call per cell), and each
batch becomes one chunk. Values keep :mod:`csv`'s own conversion, which is
already the one a spreadsheet user expects: ``None`` is empty, floats are
``repr()``, everything else is ``str()`` (so dates are ISO 8601, UUIDs are
hyphenated and lazy strings are resolved), but datetimes and times, which
:class:`~django_streamkit._datetimes.DateTimeText` writes in one shape.

Rows of plain text are joined with ``str.join`` instead when that gives the
same bytes (see :class:`~django_streamkit._csv_text.PlainJoin`). Formula
escaping (OWASP "CSV injection") costs a few ``memchr``-speed scans of each
written batch (see :class:`~django_streamkit._csv_text.FormulaCheck`): only
when they find a field that *could* start with a formula trigger is the batch
written again with each cell checked in Python.

The row source is closed (a generator's ``finally`` runs) when the chunks
end, fail or are closed early.
"""

from __future__ import annotations

import codecs
import csv
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

from django_streamkit._csv_text import (
    BareLineBreaks,
    FormulaCheck,
    PlainJoin,
    Sink,
    escape_cell,
    escape_row,
    unwritable,
)
from django_streamkit._datetimes import DEFAULT_DATETIMES, DateTimeText

_END: Any = object()

# Encodings whose encoder writes its own byte order mark.
_SELF_MARKING = {"utf-16", "utf-32", "utf-8-sig"}


@dataclass(frozen=True)
class CSVFormat:
    """Everything that decides how rows become bytes, validated once."""

    header: list[Any] | None
    dialect: Any
    fmtparams: Mapping[str, Any]
    escape_formulas: bool
    encoding: str
    bom: bool
    chunk_size: int
    max_latency: float
    #: Cells that are text already write as csv.writer would write them
    #: (the dialect quotes minimally), so rows may be joined as text.
    joins_text: bool = False
    datetimes: DateTimeText = DEFAULT_DATETIMES

    @classmethod
    def build(
        cls,
        *,
        header: Iterable[Any] | None,
        dialect: Any,
        fmtparams: Mapping[str, Any],
        escape_formulas: bool,
        encoding: str,
        bom: bool,
        chunk_size: int,
        max_latency: float,
        datetimes: DateTimeText | None = None,
    ) -> CSVFormat:
        if isinstance(header, str | bytes):
            raise TypeError(
                f"header must be a sequence of column names, not the string "
                f"{header!r}; pass a list such as [{header!r}]."
            )
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"Unknown encoding {encoding!r}; pass a Python codec name such "
                f"as 'utf-8', 'utf-16' or 'cp1252'."
            ) from None
        if bom and codec.name not in _SELF_MARKING:
            try:
                "\ufeff".encode(codec.name)
            except UnicodeEncodeError:
                raise ValueError(
                    f"bom=True needs a Unicode encoding such as 'utf-8'; "
                    f"{encoding!r} has no byte order mark."
                ) from None
        try:
            writer = csv.writer(Sink(), dialect, **fmtparams)
        except csv.Error as exc:
            if isinstance(dialect, str) and dialect not in csv.list_dialects():
                raise ValueError(
                    f"Unknown CSV dialect {dialect!r}; choose from "
                    f"{sorted(csv.list_dialects())} or pass a csv.Dialect "
                    "subclass."
                ) from None
            raise ValueError(f"Bad CSV format options: {exc}") from None
        return cls(
            header=None if header is None else list(header),
            dialect=dialect,
            fmtparams=dict(fmtparams),
            escape_formulas=escape_formulas,
            encoding=codec.name,
            bom=bom,
            chunk_size=chunk_size,
            max_latency=max_latency,
            joins_text=PlainJoin(writer.dialect).usable,
            datetimes=datetimes or DEFAULT_DATETIMES,
        )


class _Encoder:
    """Writes batches of rows to text, escapes formulas, encodes to bytes."""

    def __init__(self, fmt: CSVFormat) -> None:
        self.fmt = fmt
        self.sink = sink = Sink()
        self.writer = writer = csv.writer(sink, fmt.dialect, **fmt.fmtparams)
        self.writerows: Callable[[Iterable[Any]], Any] = writer.writerows
        self.dicts = False
        self.risky = FormulaCheck(writer.dialect) if fmt.escape_formulas else None
        plain = PlainJoin(writer.dialect)
        self.plain: PlainJoin | None = plain if plain.usable else None
        self.bare = BareLineBreaks(writer.dialect)
        self.encode = codecs.getincrementalencoder(fmt.encoding)().encode
        self.rows = 0  # data rows written so far

    def _writer(self, sink: Sink, **fmtparams: Any) -> Callable[[Iterable[Any]], Any]:
        params = {**self.fmt.fmtparams, **fmtparams}
        if self.dicts:
            assert self.fmt.header is not None
            return csv.DictWriter(
                sink, self.fmt.header, dialect=self.fmt.dialect, **params
            ).writerows
        return csv.writer(sink, self.fmt.dialect, **params).writerows

    def bind(self, first_row: Any) -> Callable[[Any], Any] | None:
        """Choose how rows are written from the first one.

        Returns ``None`` when rows are written as they are, or the function
        that copies each row (one-shot iterators would be read twice by the
        checked rewrite, so anything but a sequence or a dict becomes a tuple).
        """
        if isinstance(first_row, Mapping):
            if self.fmt.header is None:
                raise TypeError(
                    "The rows are dicts, so header= must list their keys in "
                    f"column order, e.g. header={list(first_row)!r}."
                )
            self.plain = None
            self.dicts = True
            self.writerows = self._writer(self.sink)
            return None
        if isinstance(first_row, str | bytes):
            raise TypeError(
                "Each CSV row must be a sequence of cells, not a string "
                f"({first_row!r}); yield [value, ...] or a tuple."
            )
        if isinstance(first_row, list | tuple):
            return None
        if not hasattr(first_row, "__iter__"):
            raise TypeError(
                f"Each CSV row must be a sequence of cells or a dict, not "
                f"{first_row!r} ({type(first_row).__name__}); yield [value, ...] "
                "or a tuple."
            )
        return tuple

    def start(self) -> str:
        """The byte order mark and the header line, as text."""
        text = (
            "\ufeff" if self.fmt.bom and self.fmt.encoding not in _SELF_MARKING else ""
        )
        if self.fmt.header is not None:
            header = self.fmt.header
            if self.fmt.escape_formulas:
                header = [escape_cell(cell) for cell in header]
            # Before bind(): written as a list, whatever the rows are.
            text += self._write([header], self.writer.writerows, header=True)
        return text

    def write(self, batch: list[Any], prefix: str = "") -> bytes:
        text = None if self.plain is None else self.plain(batch)
        if text is None:
            batch = self.fmt.datetimes.rows(batch)
            text = self._write(batch, self.writerows)
        if self.risky is not None and self.risky(text):
            text = self._write([escape_row(row) for row in batch], self.writerows)
        self.rows += len(batch)
        return self.encode(prefix + text)

    def _write(
        self,
        rows: list[Any],
        writerows: Callable[[Iterable[Any]], Any],
        *,
        header: bool = False,
    ) -> str:
        try:
            writerows(rows)
        except csv.Error as exc:
            self.sink.take()
            number = None if header else self.rows + 1
            raise unwritable(exc, rows, self._writer(Sink()), number) from exc
        text = self.sink.take()
        if self.bare.found(text):
            # Written again as newer Pythons write it: quoted or escaped.
            sink = self.bare.sink()
            self._writer(sink, **self.bare.fmtparams)(rows)
            text = sink.take()
        return text

    def next_size(self, rows: int, size: int, elapsed: float) -> int:
        """How many rows the next batch should hold.

        Enough for about one chunk, but no more than the source produces in
        ``max_latency`` seconds, so slow sources still flow.
        """
        per_chunk = max(1, -(-self.fmt.chunk_size * rows // max(size, 1)))
        if elapsed <= 0:
            return per_chunk
        in_time = int(rows * self.fmt.max_latency / elapsed)
        return max(1, min(per_chunk, in_time))


def iter_csv(
    rows: Iterator[Any],
    fmt: CSVFormat,
    *,
    header_apart: bool = False,
    batched: bool = False,
) -> Iterator[bytes]:
    """Encoded CSV chunks of ``rows``: header and first row, then ~chunk_size.

    The first chunk is small (BOM, header, first row) so a response can make
    it before the view returns, and errors in it reach the view. With
    ``header_apart`` the header is a chunk of its own and no row is read
    until the second chunk is asked for. ``batched`` rows come as lists of
    rows (as a database fetches them).
    """
    try:
        yield from _iter_csv(
            chain.from_iterable(rows) if batched else rows, fmt, header_apart
        )
    finally:
        if (close := getattr(rows, "close", None)) is not None:
            close()


def _iter_csv(
    rows: Iterator[Any], fmt: CSVFormat, header_apart: bool
) -> Iterator[bytes]:
    encoder = _Encoder(fmt)
    start = encoder.start()
    if header_apart and start:
        yield encoder.encode(start)
        start = ""
    monotonic = time.monotonic
    began = monotonic()
    first = next(rows, _END)
    if first is _END:
        # Even with nothing else, the encoding's own byte order mark.
        if data := encoder.encode(start):
            yield data
        return
    if (copy := encoder.bind(first)) is not None:
        first = copy(first)
        rows = map(copy, rows)
    data = encoder.write([first], start)
    elapsed = monotonic() - began
    yield data
    n = encoder.next_size(1, len(data) - len(start), elapsed)
    while True:
        began = monotonic()
        batch = list(islice(rows, n))
        if not batch:
            return
        data = encoder.write(batch)
        elapsed = monotonic() - began
        yield data
        n = encoder.next_size(len(batch), len(data), elapsed)


async def aiter_csv(rows: AsyncIterator[Any], fmt: CSVFormat) -> AsyncIterator[bytes]:
    """The async twin of :func:`iter_csv`."""
    chunks = _aiter_csv(rows, fmt)
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        await chunks.aclose()
        if (aclose := getattr(rows, "aclose", None)) is not None:
            await aclose()


async def _aiter_csv(
    rows: AsyncIterator[Any], fmt: CSVFormat
) -> AsyncGenerator[bytes, None]:
    encoder = _Encoder(fmt)
    start = encoder.start()
    monotonic = time.monotonic
    began = monotonic()
    try:
        first = await rows.__anext__()
    except StopAsyncIteration:
        # Even with nothing else, the encoding's own byte order mark.
        if data := encoder.encode(start):
            yield data
        return
    if (copy := encoder.bind(first)) is not None:
        first = copy(first)
    data = encoder.write([first], start)
    elapsed = monotonic() - began
    yield data
    n = encoder.next_size(1, len(data) - len(start), elapsed)
    latency = fmt.max_latency
    done = False
    while not done:
        began = monotonic()
        batch: list[Any] = []
        append = batch.append
        # Per-row awaits are the async source's own cost; checking the clock
        # here too bounds how long produced rows wait, however slow the source.
        while len(batch) < n:
            try:
                row = await rows.__anext__()
            except StopAsyncIteration:
                done = True
                break
            append(row if copy is None else copy(row))
            if monotonic() - began >= latency:
                break
        if not batch:
            return
        data = encoder.write(batch)
        elapsed = monotonic() - began
        yield data
        n = encoder.next_size(len(batch), len(data), elapsed)
