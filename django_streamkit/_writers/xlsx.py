"""The XLSX feed: rows in, chunks of a streamed ``.xlsx`` workbook out.

The twin of :mod:`django_streamkit._writers.csv`: a :class:`XLSXFeed` is what a
streaming response relays (rows pulled as they come, a batch written at a
time by :class:`~django_streamkit._writers.xlsx_sheet.Workbook`), and it can
be iterated directly. Every batch leaves the deflate stream whole, so a batch
cut short by ``max_latency`` reaches the client at once. The container ends
(central directory and all) only after the last row: a stream that fails or
is closed early never looks like a complete file. Nothing here imports Django.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from django_streamkit._core.feed import RowFeed, chunks_of
from django_streamkit._writers.xlsx_cells import Cells
from django_streamkit._writers.xlsx_parts import check_sheet_name
from django_streamkit._writers.xlsx_sheet import MAX_COLUMNS, Workbook

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "XLSXFeed", "XLSXFormat", "chunks_of"]

#: Excel's rows per sheet, the header row included.
MAX_ROWS: Final = 1_048_576


@dataclass(frozen=True)
class XLSXFormat:
    """What a workbook is written as, checked once by :meth:`build`."""

    header: Sequence[str] | None
    sheet_name: str
    rows_per_sheet: int
    chunk_size: int
    max_latency: float
    #: Aware datetimes are written in it (naive ones as they are).
    timezone: datetime.tzinfo
    #: The header's own values, by which dict rows are read (the labels are
    #: their text).
    keys: Sequence[object] | None = None

    @classmethod
    def build(
        cls,
        *,
        header: Iterable[object] | None,
        sheet_name: object,
        rows_per_sheet: object,
        chunk_size: int,
        max_latency: float,
        timezone: datetime.tzinfo,
    ) -> XLSXFormat:
        labels = keys = None
        if header is not None:
            if isinstance(header, str | bytes) or not isinstance(header, Iterable):
                raise TypeError(
                    f"header must be a list of column labels, not {header!r}; "
                    f"for one column pass [{header!r}]."
                )
            keys = list(header)
            labels = [str(label) for label in keys]
            if len(labels) > MAX_COLUMNS:
                raise ValueError(
                    f"header has {len(labels):,} columns; a sheet holds at most "
                    f"{MAX_COLUMNS:,} (Excel's XFD): split the columns."
                )
        if rows_per_sheet is None:
            rows_per_sheet = MAX_ROWS
        least = 1 + (labels is not None)
        if (
            not isinstance(rows_per_sheet, int)
            or isinstance(rows_per_sheet, bool)
            or not least <= rows_per_sheet <= MAX_ROWS
        ):
            raise ValueError(
                f"rows_per_sheet must be a whole number of rows from {least} to "
                f"{MAX_ROWS:,} (Excel's limit, the header included), not "
                f"{rows_per_sheet!r}."
            )
        return cls(
            labels,
            check_sheet_name(sheet_name),
            rows_per_sheet,
            chunk_size,
            max_latency,
            timezone,
            keys,
        )


class XLSXFeed(RowFeed):
    """A streamed workbook of ``rows``, as a :class:`Feed` and as an iterator.

    Iterated directly, the first chunk holds every part up to the first row
    and that row; then chunks of about ``chunk_size`` bytes. With
    ``header_apart`` the first chunk is made without reading a row.
    ``batched`` rows come as lists of rows (as a database fetches them).
    """

    fmt: XLSXFormat

    def __init__(
        self,
        rows: Iterator[object] | AsyncIterator[object],
        fmt: XLSXFormat,
        *,
        header_apart: bool = False,
        batched: bool = False,
    ) -> None:
        super().__init__(rows, fmt, header_apart=header_apart, batched=batched)
        self._book = Workbook(
            fmt.header,
            fmt.sheet_name,
            fmt.rows_per_sheet,
            Cells(fmt.timezone),
            fmt.keys,
        )

    # -- Feed ----------------------------------------------------------------

    def head(self) -> bytes:
        return self._book.head()

    def _write(self, rows: list[Any]) -> bytes:
        return self._wrote(len(rows), self._book.write(rows))

    def tail(self) -> bytes:
        return self._book.tail()
