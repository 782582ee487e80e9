"""Streamed Excel workbooks: :func:`stream_xlsx` and :class:`StreamingXLSXResponse`.

A thin Django adapter over :mod:`django_streamkit._writers.xlsx`, as
:mod:`django_streamkit.csv` is over the CSV writer: it reads the settings,
resolves lazy translation strings in the header, takes the time zone for
datetimes, and reads QuerySets with the same column-wise reader as CSV.
Needs the ``xlsx`` extra (``pip install django-streamkit[xlsx]``).
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Final, TypedDict, Unpack

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise

from django_streamkit._core.types import AsyncChunks, SyncChunks
from django_streamkit._db.queryset import QuerySetRows, must_wait
from django_streamkit._writers.datetimes import ISO, LOCAL, DateTimeText
from django_streamkit._writers.xlsx import XLSXFeed, XLSXFormat, chunks_of
from django_streamkit.conf import conf
from django_streamkit.csv import Rows, attachment, check_rows, queryset_rows
from django_streamkit.responses import StreamingResponse

__all__ = ["CONTENT_TYPE", "StreamingXLSXResponse", "XLSXOptions", "stream_xlsx"]

CONTENT_TYPE: Final = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

# The column-wise reader gives datetimes as values, never as CSV text, for a
# time zone that isn't UTC (see django_streamkit._db.sqlite.fast_converter).
_AS_VALUES: Final = DateTimeText(
    LOCAL, datetime.timezone(datetime.timedelta(0), "values")
)


class XLSXOptions(TypedDict, total=False):
    """The keywords of ``stream_xlsx()`` and ``StreamingXLSXResponse``.

    Defaults: ``header=None``, ``sheet_name="Sheet1"``, ``rows_per_sheet=None``
    (Excel's 1,048,576, the header row included), ``chunk_size=None``
    (``STREAMKIT_CHUNK_SIZE``, in compressed bytes).
    """

    header: Iterable[object] | None
    sheet_name: str
    rows_per_sheet: int | None
    chunk_size: int | None


def stream_xlsx(rows: Rows, **options: Unpack[XLSXOptions]) -> SyncChunks | AsyncChunks:
    """Write ``rows`` as an ``.xlsx`` workbook, yielding its bytes in chunks.

    ``rows`` is an iterable (or async iterable) of sequences, or of dicts when
    ``header`` lists their keys; a QuerySet is read with ``.iterator()``.
    Numbers are numbers, dates and datetimes are dates (aware ones in the
    current time zone, or UTC with ``STREAMKIT_CSV_DATETIME_FORMAT = "iso"``),
    bools are bools, ``None`` is an empty cell and strings are inline text,
    never formulas. The header row is bold and frozen. Past
    ``rows_per_sheet`` rows the rows continue on a new sheet, ``"Sheet1 (2)"``
    and so on. Memory stays flat: nothing grows with the rows. Bad options
    raise here; a bad value raises when its row is written, naming the row
    and the column. See ``docs/xlsx.md``.
    """
    return chunks_of(_feed(rows, options))


def _feed(rows: Rows, options: XLSXOptions) -> XLSXFeed:
    unknown = set(options) - set(XLSXOptions.__optional_keys__)
    if unknown:
        raise TypeError(
            f"Unknown option(s) {sorted(unknown)} for an XLSX stream; choose from "
            f"{sorted(XLSXOptions.__optional_keys__)}."
        )
    header = options.get("header")
    fmt = XLSXFormat.build(
        # Resolved now, in the view's active language.
        header=None if header is None else _resolve(header),
        sheet_name=_resolve_one(options.get("sheet_name", "Sheet1")),
        rows_per_sheet=options.get("rows_per_sheet"),
        chunk_size=conf.chunk_size(options.get("chunk_size")),
        max_latency=conf.MAX_LATENCY,
        # Taken now, in the view, as the CSV writer takes it.
        timezone=datetime.UTC
        if conf.CSV_DATETIME_FORMAT == ISO
        else timezone.get_current_timezone(),
    )
    if isinstance(rows, QuerySet):
        rows = queryset_rows(rows)
    if isinstance(rows, QuerySetRows):
        wait = must_wait(rows)
        batches = rows.csv_batches(as_text=False, datetimes=_AS_VALUES)
        if batches is not None:
            return XLSXFeed(batches, fmt, header_apart=wait, batched=True)
        return XLSXFeed(rows, fmt, header_apart=wait)
    if isinstance(rows, AsyncIterable):
        return XLSXFeed(rows.__aiter__(), fmt)
    check_rows(rows, "stream_xlsx()")
    return XLSXFeed(iter(rows), fmt)


def _resolve(header: Iterable[object]) -> Iterable[object]:
    if isinstance(header, str | bytes):
        return header  # XLSXFormat explains the mistake
    return [_resolve_one(label) for label in header]


def _resolve_one(value: object) -> object:
    return str(value) if isinstance(value, Promise) else value


class StreamingXLSXResponse(StreamingResponse):
    """An ``.xlsx`` :class:`StreamingResponse` over :func:`stream_xlsx`.

    ``filename`` makes it an attachment, with the same ``Content-Disposition``
    rules as :class:`~django_streamkit.csv.StreamingCSVResponse`. Errors in
    the header or the first row are raised from the view; a later error
    aborts the connection, so the client never has a complete-looking file.
    """

    def __init__(
        self,
        rows: Rows,
        *,
        filename: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **options: Unpack[XLSXOptions],
    ) -> None:
        given = {key.lower() for key in headers or ()}
        disposition = None if "content-disposition" in given else attachment(filename)
        content = _feed(rows, options)
        super().__init__(
            content,
            content_type=None if "content-type" in given else CONTENT_TYPE,
            status=status,
            headers=headers,
            chunk_size=content.fmt.chunk_size,
        )
        if disposition is not None:
            self.headers["Content-Disposition"] = disposition
