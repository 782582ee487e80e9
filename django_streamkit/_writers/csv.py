"""The pure CSV core: rows in, encoded chunks of about ``chunk_size`` bytes out.

Nothing here imports Django. Rows are written with :mod:`csv` in batches (one
C-level ``writerows`` call per batch, never a Python call per cell), and each
batch becomes one chunk. Values keep :mod:`csv`'s own conversion, which is
already the one a spreadsheet user expects: ``None`` is empty, floats are
``repr()``, everything else is ``str()`` (so dates are ISO 8601, UUIDs are
hyphenated and lazy strings are resolved), but datetimes and times, which
:class:`~django_streamkit._writers.datetimes.DateTimeText` writes in one shape.

Rows of plain text are joined with ``str.join`` instead when that gives the
same bytes (see :class:`~django_streamkit._writers.csv_text.PlainJoin`). Formula
escaping (OWASP "CSV injection") costs a few ``memchr``-speed scans of each
written batch (see :class:`~django_streamkit._writers.csv_text.FormulaCheck`): only
when they find a field that *could* start with a formula trigger is the batch
written again with each cell checked in Python.

The row source is closed (a generator's ``finally`` runs) when the chunks
end, fail or are closed early.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import time
from collections.abc import (
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any

from django_streamkit._core.feed import Feed
from django_streamkit._core.relay import arelay
from django_streamkit._writers.csv_text import (
    BareLineBreaks,
    FormulaCheck,
    PlainJoin,
    Sink,
    check_header_encodes,
    escape_cell,
    escape_row,
    extra_keys,
    options,
    unencodable,
    unknown_option,
    unwritable,
)
from django_streamkit._writers.datetimes import DEFAULT_DATETIMES, DateTimeText

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
        if (unknown := unknown_option(fmtparams)) is not None:
            raise unknown
        try:
            writer = csv.writer(Sink(), dialect, **fmtparams)
        except (csv.Error, TypeError) as exc:
            if isinstance(dialect, str) and dialect not in csv.list_dialects():
                raise ValueError(
                    f"Unknown CSV dialect {dialect!r}; choose from "
                    f"{sorted(csv.list_dialects())} or pass a csv.Dialect "
                    "subclass."
                ) from None
            raise ValueError(
                f"Bad CSV format options ({options(fmtparams)}): {exc}"
            ) from None
        header = None if header is None else list(header)
        check_header_encodes(header, codec.name)
        return cls(
            header=header,
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
        first = self.rows + 1
        self.rows += len(batch)
        try:
            return self.encode(prefix + text)
        except UnicodeEncodeError as exc:
            raise unencodable(
                exc, batch, self.fmt.header, first, self.fmt.encoding
            ) from exc

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
        except ValueError as exc:  # DictWriter's, for keys not in the header
            self.sink.take()
            if not self.dicts:
                raise
            raise extra_keys(exc, rows, self.fmt.header, self.rows + 1) from exc
        text = self.sink.take()
        if self.bare.found(text):
            # Written again as newer Pythons write it: quoted or escaped.
            sink = self.bare.sink()
            self._writer(sink, **self.bare.fmtparams)(rows)
            text = sink.take()
        return text


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
        rows: Iterator[Any] | AsyncIterator[Any],
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
        self._encoder = _Encoder(fmt)
        self._copy: Any = _END  # bound from the first row
        self._rows = self._bytes = 0
        self._mark = (0.0, 0)
        self._iteration: Any = None

    # -- Feed ----------------------------------------------------------------

    def head(self) -> bytes:
        # Even with nothing else, the encoding's own byte order mark.
        return self._encoder.encode(self._encoder.start())

    def render(self, items: list[Any]) -> bytes:
        rows = list(chain.from_iterable(items)) if self._batched else items
        if not rows:
            return b""
        if (copy := self._copy) is _END:
            copy = self._copy = self._encoder.bind(rows[0])
        if copy is not None:
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
        if self._iteration is None:
            self._iteration = self._chunks()
        return next(self._iteration)  # type: ignore[no-any-return]

    def _chunks(self) -> Iterator[bytes]:
        rows: Iterator[Any] = self.source  # type: ignore[assignment]
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
        if self._iteration is None:
            # The same relay a response uses, so a slow or blocked async
            # source still gives its rows within ``max_latency``.
            self._iteration = arelay(
                self.source,  # type: ignore[arg-type]
                self.render,
                limit=self.limit,
                latency=self.fmt.max_latency,
                weigh=self.weigh,
                fresh=True,
                spawn=asyncio.ensure_future,
                aclose=super().aclose,
            )
            head = self.head()
            try:
                chunk: bytes = await self._iteration.__anext__()
            except StopAsyncIteration:
                if head:
                    return head
                raise
            return head + chunk
        if self._iteration is False:
            raise StopAsyncIteration
        return await self._iteration.__anext__()  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._iteration is not None and hasattr(self._iteration, "close"):
            iteration, self._iteration = self._iteration, False
            iteration.close()
        super().close()

    async def aclose(self) -> None:
        if self._iteration is not None and hasattr(self._iteration, "aclose"):
            iteration, self._iteration = self._iteration, False
            await iteration.aclose()
        await super().aclose()


def iter_csv(
    rows: Iterator[Any],
    fmt: CSVFormat,
    *,
    header_apart: bool = False,
    batched: bool = False,
) -> CSVFeed:
    """Encoded CSV chunks of ``rows`` (see :class:`CSVFeed`)."""
    return CSVFeed(rows, fmt, header_apart=header_apart, batched=batched)


def aiter_csv(rows: AsyncIterator[Any], fmt: CSVFormat) -> CSVFeed:
    """The async twin of :func:`iter_csv`."""
    return CSVFeed(rows, fmt)
