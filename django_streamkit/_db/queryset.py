"""Reading QuerySets for CSV: in chunks, and column by column when it can.

:class:`QuerySetRows` iterates a ``values_list()``/``values()`` QuerySet with
``.iterator(chunk_size)``, as Django does. When the CSV writer reads it
directly (nothing wrapped it), it reads the database's raw rows instead and
turns each fetched chunk into CSV cells a column at a time: one C-level
``map`` per column instead of Django's Python loop over every value of every
row, and cells already in their final text so the writer can join them. The
bytes written are the same either way; ``tests/test_queryset_csv.py`` holds
them to that. The column reader is :mod:`django_streamkit._db.columns_reader`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, cast

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    NamedValuesListIterable,
    ValuesIterable,
    ValuesListIterable,
)

from django_streamkit._db import keyset
from django_streamkit._db.cells import Cells
from django_streamkit._db.columns_reader import ColumnPlan, Labels, with_labels
from django_streamkit._writers.datetimes import DateTimeText

__all__ = ["Labels", "QuerySetRows", "must_wait"]


class QuerySetRows(Generator[Any, None, None]):
    """A generator of a QuerySet's rows, read in chunks of ``chunk_size``.

    Iterating it yields what ``queryset.iterator(chunk_size)`` yields, with
    ``labels`` (column index -> {stored value: label}) applied, or ``row(item)``
    of each item when ``row`` is given (a model instance's cells). The CSV writer
    asks :meth:`csv_batches` instead, before the first row is read. Close it
    (as a generator) when you stop early: on PostgreSQL that ends the
    cursor's transaction, on the thread that runs the query.
    """

    def __init__(
        self,
        queryset: QuerySet[Model, object],
        chunk_size: int,
        labels: Labels | None = None,
        *,
        row: Callable[[Any], Sequence[Any]] | None = None,
    ) -> None:
        self.queryset = queryset
        self.chunk_size = chunk_size
        self.labels = labels or {}
        self.row = row
        self._rows: Generator[Any, None, None] | None = None

    def send(self, value: None) -> Any:
        return next(self._started())

    def throw(self, *args: Any) -> Any:
        # Not started yet, the generator raises it at once.
        return self._started().throw(*args)

    @property
    def started(self) -> bool:
        """Whether the rows are being read (by iteration or as batches)."""
        return self._rows is not None

    def close(self) -> None:
        if self._rows is not None:
            self._rows.close()

    def _started(self) -> Generator[Any, None, None]:
        if self._rows is None:
            self._rows = _in_transaction(self.queryset, self._django_rows)
        return self._rows

    def _django_rows(self) -> Iterator[Any]:
        # Inside _in_transaction, so closing that ends the transaction.
        return keyset.read(self.queryset, self.chunk_size, self._rows_of)

    def _rows_of(self, queryset: QuerySet[Model, object]) -> Iterator[Any]:
        rows = queryset.iterator(chunk_size=self.chunk_size)
        if self.row is not None:
            return map(self.row, rows)
        if not self.labels:
            return rows
        return with_labels(cast("Iterator[Sequence[object]]", rows), self.labels)

    def csv_batches(
        self, *, as_text: bool, datetimes: DateTimeText
    ) -> Iterator[list[Any]] | None:
        """The rows in fetched batches, as cells that CSV-write to the same
        bytes as the values; ``None`` when the rows have been started or are
        not plain ``values_list()`` tuples (then iterate instead).

        ``as_text`` (the dialect quotes minimally) lets values become their
        final text where that can't change a byte, formula escaping included;
        ``datetimes`` writes datetimes and times.
        """
        if (
            self._rows is not None
            or self.row is not None
            or self.queryset._iterable_class is not ValuesListIterable
        ):
            return None

        return self._read(
            lambda queryset: ColumnPlan(
                queryset, self.chunk_size, self.labels, as_text, datetimes
            )
        )

    def value_batches(
        self,
        *,
        finish: Callable[[int], Cells],
        datetimes: DateTimeText,
        texts: bool = True,
    ) -> Iterator[list[Any]] | None:
        """The rows in fetched batches of columns, for writers other than
        CSV: each column Django's values (labels applied), then
        ``finish(index)(column)`` (``index``: the column's position); a
        batch is the list of its columns;
        ``None`` when the rows have been started or are not ``values()`` or
        ``values_list()`` rows (then iterate instead).

        With ``texts``, on SQLite and PostgreSQL, dates and UTC datetimes are
        handed to ``finish`` as their text (``datetimes.utc_texts()`` for
        datetimes, where ``datetimes.utc``), without Python parsing them, and
        decimals (on SQLite those that are not negative) as ``str()`` of the
        value, where the values have a fast shape; without it, as values.
        """
        if (
            self._rows is not None
            or self.row is not None
            or self.queryset._iterable_class not in _VALUE_ROWS
        ):
            return None

        return self._read(
            lambda queryset: ColumnPlan(
                queryset,
                self.chunk_size,
                self.labels,
                False,
                datetimes,
                finish=finish,
                finish_texts=texts,
            )
        )

    def _read(
        self, plan: Callable[[QuerySet[Model, object]], ColumnPlan]
    ) -> Iterator[list[Any]]:
        # By the column reader, in keyset pages behind PgBouncer and inside
        # _in_transaction, as iteration reads them.
        def batches(queryset: QuerySet[Model, object]) -> Iterator[list[Any]]:
            return plan(queryset).batches()

        self._rows = _in_transaction(
            self.queryset, lambda: keyset.read(self.queryset, self.chunk_size, batches)
        )
        return self._rows


_VALUE_ROWS = (
    ValuesIterable,
    ValuesListIterable,
    FlatValuesListIterable,
    NamedValuesListIterable,
)


def _in_transaction(
    queryset: QuerySet[Model, object], rows: Callable[[], Iterator[Any]]
) -> Generator[Any, None, None]:
    # Decided when the first row is asked for, where the query runs.
    if _streams_from_server(queryset) and not connections[queryset.db].in_atomic_block:
        # Outside a transaction Django declares the cursor WITH HOLD, which
        # PostgreSQL materialises in full before returning the first row;
        # inside one it streams from the first row (and reads one snapshot).
        # Closing this generator early (a disconnect) rolls it back.
        with transaction.atomic(using=queryset.db):
            yield from rows()
    else:
        yield from rows()


def _streams_from_server(queryset: QuerySet[Model, object]) -> bool:
    connection = connections[queryset.db]
    return (
        connection.features.can_use_chunked_reads
        and connection.vendor == "postgresql"
        and not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    )


def must_wait(rows: object) -> bool:
    """Whether the query must wait until the view has returned.

    A server-side cursor declared inside the view's transaction (say, under
    ``ATOMIC_REQUESTS``) dies when the view returns and the transaction
    commits; then only the header is made in the view, and the query runs
    when the body is read.
    """
    if isinstance(rows, QuerySetRows):
        rows = rows.queryset
    return (
        isinstance(rows, QuerySet)
        and _streams_from_server(rows)
        and connections[rows.db].in_atomic_block
    )
