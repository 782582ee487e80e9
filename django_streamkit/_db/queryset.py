"""Reading QuerySets for CSV: in chunks, and column by column when it can.

:class:`QuerySetRows` iterates a ``values_list()``/``values()`` QuerySet with
``.iterator(chunk_size)``, as Django does. When the CSV writer reads it
directly (nothing wrapped it), it reads the database's raw rows instead and
turns each fetched chunk into CSV cells a column at a time: one C-level
``map`` per column instead of Django's Python loop over every value of every
row, and cells already in their final text so the writer can join them. The
bytes written are the same either way; ``tests/test_queryset_csv.py`` holds
them to that.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from itertools import islice
from typing import Any, TypeAlias, cast

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import (
    FlatValuesListIterable,
    NamedValuesListIterable,
    ValuesIterable,
    ValuesListIterable,
)
from django.db.models.sql import Query
from django.db.models.sql.constants import MULTI

from django_streamkit._db import keyset
from django_streamkit._db.cells import Cells, chained, labeller, texts
from django_streamkit._db.postgres import Loaders, Text
from django_streamkit._db.sqlite import fast_converter, untyped_query
from django_streamkit._writers.datetimes import DateTimeText

__all__ = ["Labels", "QuerySetRows", "must_wait"]

#: Column index -> {stored value: label}, for choice columns.
Labels: TypeAlias = dict[int, dict[object, str]]


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
        return _with_labels(cast("Iterator[Sequence[object]]", rows), self.labels)

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

        def batches(queryset: QuerySet[Model, object]) -> Iterator[list[Any]]:
            plan = _ColumnPlan(
                queryset, self.chunk_size, self.labels, as_text, datetimes
            )
            return plan.batches()

        self._rows = _in_transaction(
            self.queryset, lambda: keyset.read(self.queryset, self.chunk_size, batches)
        )
        return self._rows

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

        def batches(queryset: QuerySet[Model, object]) -> Iterator[list[Any]]:
            plan = _ColumnPlan(
                queryset,
                self.chunk_size,
                self.labels,
                False,
                datetimes,
                finish=finish,
                finish_texts=texts,
            )
            return plan.batches()

        # In keyset pages behind PgBouncer, as csv_batches() reads them.
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


def _with_labels(rows: Iterator[Sequence[Any]], maps: Labels) -> Iterator[list[Any]]:
    lookups = list(maps.items())
    for row in rows:
        cells = list(row)
        for index, labels in lookups:
            value = cells[index]
            cells[index] = labels.get(value, value)
        yield cells


# -- column by column ---------------------------------------------------------


class _ColumnPlan:
    """Runs the query as Django's ``values_list()`` does, then converts each
    fetched chunk a column at a time.

    Each column's cells write the same CSV bytes as Django's converted value:
    Django's own converters where no faster equivalent is known, and with
    ``as_text`` the value's final text where that text can't be a formula
    (so escaping treats it exactly as it treats the value).
    """

    def __init__(
        self,
        queryset: QuerySet[Model, object],
        chunk_size: int,
        labels: Labels,
        as_text: bool,
        datetimes: DateTimeText,
        *,
        finish: Callable[[int], Cells] | None = None,
        finish_texts: bool = False,
    ) -> None:
        self.queryset = queryset
        self.chunk_size = chunk_size
        self.labels = labels
        self.as_text = as_text
        self.datetimes = datetimes
        # The last step of every column (another writer's cells); its
        # datetimes come from SQLite as text, as CSV's do.
        self.finish = finish
        self.texts = as_text or (finish is not None and finish_texts)

    def batches(self) -> Iterator[list[Any]]:
        queryset = self.queryset
        connection = connections[queryset.db]
        compiler = self._query(connection).get_compiler(queryset.db)
        loaders = Loaders(
            connection,
            self.as_text,
            self.datetimes,
            value_texts=self.finish is not None and self.texts,
        )
        # As QuerySet.iterator(): no server-side cursor where they're disabled.
        chunked = not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
        with connection.execute_wrapper(loaders):
            chunks = compiler.execute_sql(
                MULTI, chunked_fetch=chunked, chunk_size=self.chunk_size
            )
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        if getattr(compiler, "has_composite_fields", lambda fields: False)(fields):
            # A composite primary key is one value of several columns, made
            # by Django from the values: the columns PostgreSQL sent as text
            # are loaded as values first.
            if loaders.columns:
                texts = loaders.columns
                chunks = _each(chunks, lambda chunk: _loaded(chunk, texts))
            rows: Iterator[Any] = map(
                tuple, compiler.results_iter(chunks, tuple_expected=True)
            )
            if self.labels:
                rows = _with_labels(rows, self.labels)
            batches = iter(lambda: list(islice(rows, self.chunk_size)), [])
            if (finish := self.finish) is not None:
                width = len(fields)
                last: list[Cells | None] = [finish(i) for i in range(width)]
                return (_columns(chunk, last) for chunk in batches)
            return batches
        converters = compiler.get_converters(fields)
        columns = [
            self._cells(
                index, converters.get(index), connection, loaders.columns.get(index)
            )
            for index in range(len(fields))
        ]
        if self.finish is not None:
            return _each(chunks, lambda chunk: _columns(chunk, columns))
        if all(cells is None for cells in columns):
            return iter(chunks)
        return _each(chunks, lambda chunk: _convert(chunk, columns))

    def _query(self, connection: Any) -> Query:
        query = self.queryset.query
        if connection.vendor == "sqlite" and self.texts:
            return untyped_query(query, skip=self.labels)
        return query

    def _cells(
        self, index: int, converters: Any, connection: Any, text: Text | None
    ) -> Cells | None:
        labels = self.labels.get(index)
        if text is not None and converters is None and labels is None:
            if self.finish is not None:
                return chained([text.cells, self.finish(index)])
            return text.cells
        steps: list[Cells] = []
        if text is not None:
            steps.append(text.values)
        if converters is not None:
            convs, expression = converters
            steps.append(
                fast_converter(
                    convs,
                    expression,
                    connection,
                    # Another writer may take a decimal's text for the value.
                    self.texts and labels is None,
                    self.datetimes,
                    labelled=labels is not None,
                )
            )
        if labels is not None:
            steps.append(labeller(labels))
        if self.as_text:
            steps.append(texts(self.datetimes))
        if self.finish is not None:
            steps.append(self.finish(index))
        if not steps:
            return None
        if len(steps) == 1:
            return steps[0]
        return chained(steps)


def _columns(chunk: list[Any], columns: list[Cells | None]) -> list[Any]:
    cols = zip(*chunk, strict=True)
    return [
        col if cells is None else cells(col)
        for col, cells in zip(cols, columns, strict=True)
    ]


def _each(chunks: Any, convert: Callable[[Any], Any]) -> Iterator[Any]:
    """``convert`` of each fetched chunk. Where it raises (a value Python
    can't hold) or the reading stops, Django's chunks are closed at once,
    closing the cursor inside its transaction, not when collected."""
    try:
        for chunk in chunks:
            yield convert(chunk)
    finally:
        if (close := getattr(chunks, "close", None)) is not None:
            close()


def _loaded(chunk: list[Any], texts: dict[int, Text]) -> list[tuple[Any, ...]]:
    """A chunk of raw rows with the columns sent as text made values."""
    cols: list[Sequence[Any]] = list(zip(*chunk, strict=True))
    for index, text in texts.items():
        cols[index] = text.values(cols[index])
    return list(zip(*cols, strict=True))


def _convert(chunk: list[Any], columns: list[Cells | None]) -> list[tuple[Any, ...]]:
    return list(zip(*_columns(chunk, columns), strict=True))
