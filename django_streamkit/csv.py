"""Streamed CSV: :func:`stream_csv` and :class:`StreamingCSVResponse`.

A thin Django adapter over the pure core in :mod:`django_streamkit._writers.csv`: it
reads the ``STREAMKIT_*`` settings, resolves lazy translation strings in the
header, takes the current time zone for datetimes, and reads QuerySets with
``.iterator()`` instead of their result cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from typing import TypeAlias, Unpack

from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable
from django.utils import timezone
from django.utils.functional import Promise

from django_streamkit._core.feed import FeedChunks
from django_streamkit._core.types import AsyncChunks, SyncChunks
from django_streamkit._db.copy import CopyFeed, copy_feed
from django_streamkit._db.queryset import Labels, QuerySetRows, must_wait
from django_streamkit._http import content_disposition
from django_streamkit._writers.csv import CSVFeed, aiter_csv, chunks_of, iter_csv
from django_streamkit._writers.csv_format import CSVFormat, CSVOptions, Row
from django_streamkit._writers.datetimes import DateTimeText
from django_streamkit.conf import conf
from django_streamkit.responses import StreamingResponse

__all__ = ["CSVOptions", "StreamingCSVResponse", "queryset_rows", "stream_csv"]

#: What stream_csv() writes: rows, sync or async (a QuerySet is one).
Rows: TypeAlias = Iterable[Row] | AsyncIterable[Row]


def queryset_rows(
    queryset: QuerySet[Model, object], labels: Labels | None = None
) -> QuerySetRows:
    """The rows of a ``values_list()``/``values()`` QuerySet, read in chunks.

    Iterating gives what ``.iterator(chunk_size=STREAMKIT_QUERYSET_CHUNK_SIZE)``
    gives: it never fills the QuerySet's result cache and uses a server-side
    cursor on PostgreSQL. ``labels`` maps a column index to {stored value:
    label}. Handed to :func:`stream_csv` as they are, the rows are read a
    column at a time, faster, to the same bytes.
    """
    if issubclass(queryset._iterable_class, ModelIterable):
        model = queryset.model.__name__
        raise TypeError(
            f"A QuerySet of {model} instances has no CSV columns; pass "
            f"queryset.values_list('field', ...) (or .values(...) with "
            f"header=[...]), or use django_streamkit.views.CSVStreamView."
        )
    return QuerySetRows(queryset, conf.QUERYSET_CHUNK_SIZE, labels)


def stream_csv(rows: Rows, **options: Unpack[CSVOptions]) -> SyncChunks | AsyncChunks:
    """Encode ``rows`` as CSV, yielding byte chunks of about ``chunk_size``.

    ``rows`` is an iterable (or async iterable) of sequences, or of dicts when
    ``header`` lists their keys; a QuerySet is read with ``.iterator()``. The
    first chunk holds the BOM, the header and the first row only, so it is
    ready at once. ``dialect`` and the format parameters are
    :func:`csv.writer`'s. ``escape_formulas`` (default:
    ``STREAMKIT_CSV_ESCAPE_FORMULAS``, on) prefixes ``'`` to string cells
    starting with ``= + - @``, tab or CR. Datetimes are written in the time
    zone current at this call (``STREAMKIT_CSV_DATETIME_FORMAT``, see
    ``docs/csv.md``). An async iterable gives an async iterator. Bad options
    raise here, at call time, not when the stream is first read. The options
    and their defaults: :class:`~django_streamkit._writers.csv_format.CSVOptions`.
    """
    feed = _feed(rows, options)
    if isinstance(feed, CopyFeed):
        return FeedChunks(feed, feed.chunks())
    return chunks_of(feed)


def _feed(rows: Rows, options: CSVOptions) -> CSVFeed | CopyFeed:
    header = options.get("header")
    escape_formulas = options.get("escape_formulas")
    fmt = CSVFormat.build(
        options,
        header=None if header is None else _resolve_header(header),
        escape_formulas=(
            conf.CSV_ESCAPE_FORMULAS if escape_formulas is None else escape_formulas
        ),
        chunk_size=conf.chunk_size(options.get("chunk_size")),
        max_latency=conf.MAX_LATENCY,
        # Taken now, in the view, as the header's language is.
        datetimes=DateTimeText(
            conf.CSV_DATETIME_FORMAT, timezone.get_current_timezone()
        ),
    )
    if isinstance(rows, QuerySet):
        rows = queryset_rows(rows)
    if isinstance(rows, QuerySetRows):
        if (copied := copy_feed(rows, fmt)) is not None:
            return copied  # PostgreSQL writes the rows (COPY ... TO STDOUT)
        wait = must_wait(rows)
        if (
            batches := rows.csv_batches(as_text=fmt.joins_text, datetimes=fmt.datetimes)
        ) is not None:
            return iter_csv(batches, fmt, header_apart=wait, batched=True)
        return iter_csv(rows, fmt, header_apart=wait)
    if isinstance(rows, AsyncIterable):
        return aiter_csv(rows.__aiter__(), fmt)
    check_rows(rows, "stream_csv()")
    return iter_csv(iter(rows), fmt)


def _resolve_header(header: Iterable[object]) -> Iterable[object]:
    # Resolved now, in the view's active language, not later on another thread.
    if isinstance(header, str | bytes):
        return header  # CSVFormat explains the mistake
    return [str(cell) if isinstance(cell, Promise) else cell for cell in header]


def attachment(filename: str | None) -> str | None:
    """The ``Content-Disposition`` that makes a response the download
    ``filename`` (a lazy translation string is resolved now); ``None``: none.
    """
    if filename is None:
        return None
    if isinstance(filename, Promise):
        filename = str(filename)
    if not isinstance(filename, str):
        raise TypeError(
            f"filename must be a str, not {filename!r} ({type(filename).__name__})."
        )
    return content_disposition(filename)


def check_rows(rows: object, caller: str) -> None:
    """Raise unless ``rows`` is an iterable of rows (a str, bytes or a dict
    is not, though it iterates)."""
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise TypeError(
            f"{caller} rows must be an iterable or async iterable of rows, "
            f"not {_short_repr(rows)} ({type(rows).__name__}); pass a list of "
            f"rows, a generator or a QuerySet."
        )


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class StreamingCSVResponse(StreamingResponse):
    """A ``text/csv`` :class:`StreamingResponse` over :func:`stream_csv`.

    ``filename`` makes it an attachment (``Content-Disposition`` with an ASCII
    fallback and an RFC 5987 ``filename*``). Errors in the header or the first
    row are raised from the view, as the response produces them at once.
    """

    def __init__(
        self,
        rows: Rows,
        *,
        filename: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **options: Unpack[CSVOptions],
    ) -> None:
        given = {key.lower() for key in headers or ()}
        disposition = None if "content-disposition" in given else attachment(filename)
        content = _feed(rows, options)
        super().__init__(
            content,
            content_type=None
            if "content-type" in given
            else f"text/csv; charset={content.fmt.charset}",
            status=status,
            headers=headers,
            chunk_size=content.fmt.chunk_size,
        )
        if disposition is not None:
            self.headers["Content-Disposition"] = disposition
