"""PostgreSQL exports through ``COPY (...) TO STDOUT``: the database writes the CSV.

:func:`copy_feed` turns a ``values_list()`` QuerySet that is about to be
written as CSV into a :class:`CopyFeed` when PostgreSQL can write every
cell byte for byte as the Python writer would (see
:mod:`django_streamkit._db.copy_sql`), and returns ``None`` otherwise, so the
export takes the Python path. The BOM and the header are the Python
writer's; the rows are COPY's, gathered into chunks of about ``chunk_size``
bytes, their line ends rewritten to the dialect's terminator and, for an
encoding other than UTF-8, re-encoded.

The COPY runs where the rows would have been read (the view for the first
row, the producer thread after it). Closing the feed early (a client that
went away) leaves the ``with copy`` block, where psycopg cancels the COPY on
the server and drains it, so the connection is idle and clean again. An
error of the server mid-COPY is raised from the read, after the rows made
before it were sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models.query import ValuesListIterable
from django.utils.functional import Promise

from django_streamkit._core.feed import Feed
from django_streamkit._db.copy_sql import (
    FLOATS,
    INTEGERS,
    Column,
    Inexact,
    column,
    copy_statement,
)
from django_streamkit._db.queryset import QuerySetRows, must_wait
from django_streamkit._writers.csv_encoder import Encoder
from django_streamkit._writers.csv_format import CSVFormat
from django_streamkit.conf import conf

__all__ = ["CopyFeed", "copy_feed", "inexact"]

logger = logging.getLogger("django_streamkit")

_UTF8 = frozenset({"utf-8", "utf-8-sig"})


class CopyFeed(Feed[bytes]):
    """CSV chunks written by PostgreSQL's ``COPY``, as a :class:`Feed`."""

    weigh = staticmethod(len)

    def __init__(
        self,
        db: str,
        statement: str,
        params: list[object],
        fmt: CSVFormat,
        *,
        header_apart: bool,
    ) -> None:
        self.fmt = fmt
        self.head_alone = header_apart
        self._db = db
        self._statement = statement
        self._params = params
        self._encoder = encoder = Encoder(fmt)
        self._terminator = encoder.writer.dialect.lineterminator.encode()
        self._quote = str(encoder.writer.dialect.quotechar).encode()
        self._transcode = fmt.encoding not in _UTF8
        self.source = self._rows = self._chunks()

    def head(self) -> bytes:
        return self._encoder.encode(self._encoder.start())

    def limit(self) -> int:
        return self.fmt.chunk_size

    render = staticmethod(b"".join)  # type: ignore[assignment]

    def chunks(self) -> Iterator[bytes]:
        """The chunks, for code that iterates them itself: the head and the
        first row, then chunks of about ``chunk_size``."""
        try:
            head = self.head()
            if self.head_alone and head:
                yield head
                head = b""
            for chunk in self._rows:
                yield head + chunk
                head = b""
            if head:
                yield head
        finally:
            self.close()

    def _chunks(self) -> Iterator[bytes]:
        connection = connections[self._db]
        size, latency = self.fmt.chunk_size, self.fmt.max_latency
        statement = self._statement
        if not self._params:
            statement = statement % ()  # as psycopg merges "%%" with params
        # Django's error wrapper, as its cursors have: Django's exception
        # classes (which middleware catches), and the connection marked for
        # a usability check at the request's end after a failure.
        with connection.cursor() as cursor, connection.wrap_database_errors:
            raw = cursor.cursor  # Django's wrapper has no copy()
            with raw.copy(statement, self._params or None) as copy:
                read = copy.read
                first = read()
                if not first:
                    return
                yield self._shape(bytes(first), 1)  # at once: the first byte
                parts: list[bytes] = []
                append = parts.append
                held = 0
                began = time.monotonic()
                while data := read():
                    append(bytes(data))
                    held += len(data)
                    # The clock every 64 rows: a read that waits for the
                    # server waits either way.
                    if held >= size or (
                        not len(parts) & 63 and time.monotonic() - began >= latency
                    ):
                        yield self._shape(b"".join(parts), len(parts))
                        parts.clear()
                        held, began = 0, time.monotonic()
                if parts:
                    yield self._shape(b"".join(parts), len(parts))

    def _shape(self, rows: bytes, count: int) -> bytes:
        # COPY sends whole rows, each ended by "\n": a "\n" outside quotes
        # ends a row (one inside a quoted cell is the cell's). Each read is
        # one row (libpq returns "one data row at a time"), so ``count``
        # newlines in ``count`` rows are all row ends: no quote to look for.
        terminator = self._terminator
        if terminator != b"\n":
            if self._quote not in rows or rows.count(b"\n") == count:
                rows = rows.replace(b"\n", terminator)
            else:
                parts = rows.split(self._quote)
                parts[::2] = [part.replace(b"\n", terminator) for part in parts[::2]]
                rows = self._quote.join(parts)
        if self._transcode:
            try:
                return self._encoder.encode(rows.decode())
            except UnicodeEncodeError as exc:
                held = exc.object[exc.start : exc.end]
                exc.reason = (
                    f"{exc.reason}: a cell holds {held!r}, which {exc.encoding} "
                    "can't hold; pass encoding='utf-8' (or 'utf-16')"
                )
                raise
        return rows


def copy_feed(rows: QuerySetRows, fmt: CSVFormat) -> CopyFeed | None:
    """The COPY feed of ``rows``, or ``None`` where the Python path writes
    them (the reason is logged at DEBUG on ``django_streamkit``)."""
    queryset = rows.queryset
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or not conf.CSV_COPY:
        return None
    try:
        return _build(rows, fmt)
    except Inexact as exc:
        logger.debug(
            "CSV export of %s through Python, not COPY: %s",
            queryset.model.__name__,
            exc,
        )
        return None


def inexact(rows: QuerySetRows, fmt: CSVFormat) -> str | None:
    """Why ``rows`` are not written through COPY, or ``None`` if they are."""
    try:
        _build(rows, fmt, probe_only=True)
    except Inexact as exc:
        return str(exc)
    return None


def _build(
    rows: QuerySetRows, fmt: CSVFormat, *, probe_only: bool = False
) -> CopyFeed | None:
    queryset = rows.queryset
    if rows.started:
        raise Inexact("the rows were started")
    if rows.row is not None:
        raise Inexact("rows made by Python (the admin's display callables)")
    if queryset._iterable_class is not ValuesListIterable:
        raise Inexact("not a values_list() QuerySet")
    if not settings.USE_TZ:
        raise Inexact("USE_TZ = False (naive datetimes in the connection's zone)")
    connection = connections[queryset.db]
    connection.ensure_connection()
    if not hasattr(connection.connection, "pgconn"):
        raise Inexact("psycopg 2 (COPY is read through psycopg 3's copy())")
    compiler = queryset.query.get_compiler(queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        # .none(), an empty __in, [:0]: no SQL, and no query on the Python path.
        raise Inexact("an empty query (Django runs none)") from None
    fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
    if getattr(compiler, "has_composite_fields", lambda fields: False)(fields):
        raise Inexact("a composite primary key")
    kinds, scales, width, float_digits = _kinds(connection, sql, params)
    if FLOATS & set(kinds[: len(fields)]) and float_digits <= 0:
        raise Inexact(
            f"extra_float_digits = {float_digits}: PostgreSQL writes floats "
            "with fewer digits than repr()"
        )
    converters = compiler.get_converters(fields)
    for index, (convs, expression) in converters.items():
        _check_converters(convs, expression, kinds[index])
    dialect = Encoder(fmt).writer.dialect
    # A lazy label is written as its text (csv.writer calls str()).
    labels = {
        index: {k: str(v) if isinstance(v, Promise) else v for k, v in m.items()}
        for index, m in rows.labels.items()
    }
    cols: list[Column] = [
        column(
            kind,
            labels.get(index),
            fmt.escape_formulas and index not in fmt.verbatim,
            dialect.quoting,
            len(fields) == 1,
            scales[index],
        )
        for index, kind in enumerate(kinds[: len(fields)])
    ]
    date_style = connection.connection.info.parameter_status("DateStyle") or ""
    statement, merged = copy_statement(
        sql,
        params,
        width,
        cols,
        dialect,
        fmt.datetimes,
        iso_dates=date_style.startswith("ISO"),
    )
    if probe_only:
        return None
    return CopyFeed(
        queryset.db, statement, merged, fmt, header_apart=must_wait(queryset)
    )


def _kinds(
    connection: Any, sql: str, params: Any
) -> tuple[list[str], list[int | None], int, int]:
    # The types PostgreSQL gives the query's columns (what each cell's text
    # is) and, in the same round trip, the session's extra_float_digits
    # (which shapes a float's text, and which the server doesn't report):
    # one row, the query's columns NULL.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT _sk.*, current_setting('extra_float_digits')"
            f" FROM (SELECT) AS _one LEFT JOIN (SELECT * FROM ({sql}) AS _sk"
            " LIMIT 0) AS _sk ON true",
            params,
        )
        *description, _ = cursor.description
        (*_, float_digits) = cursor.fetchone()
        types = cursor.cursor.adapters.types
    kinds = []
    for item in description:
        info = types.get(item.type_code)
        kinds.append(info.name if info is not None else f"type {item.type_code}")
    scales = [item.scale for item in description]
    return kinds, scales, len(kinds), int(float_digits)


def _check_converters(convs: list[Any], expression: Any, kind: str) -> None:
    # An expression's own converter (int(), Decimal(); a truncation's date
    # from a datetime) changes nothing when PostgreSQL already returns that
    # type; anything else is Python's to run.
    internal = expression.output_field.get_internal_type()
    for conv in convs:
        name = getattr(conv, "__qualname__", "")
        if name.startswith("BaseExpression.convert_value") and (
            (internal.endswith("IntegerField") and kind in INTEGERS)
            or (internal == "DecimalField" and kind == "numeric")
            or (internal == "FloatField" and kind in FLOATS)
        ):
            continue
        if name == "TruncBase.convert_value" and (internal, kind) in (
            ("DateField", "date"),
            ("TimeField", "time"),
        ):
            continue
        raise Inexact(f"a column Django converts in Python ({expression!r})")
