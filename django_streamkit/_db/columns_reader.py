"""The column reader: a ``values_list()`` query run as Django runs it, each
fetched chunk then converted a column at a time (one C-level ``map`` per
column instead of Django's Python loop over every value of every row), to
cells that write the same bytes as Django's converted values.

:class:`~django_streamkit._db.queryset.QuerySetRows` reads with it when a
writer reads the QuerySet directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeAlias

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.sql import Query
from django.db.models.sql.constants import MULTI

from django_streamkit._db.cells import Cells, chained, labeller, texts
from django_streamkit._db.postgres import Loaders, Text
from django_streamkit._db.sqlite import fast_converter, untyped_query
from django_streamkit._writers.datetimes import DateTimeText

__all__ = ["ColumnPlan", "Labels", "columns_of", "convert", "with_labels"]

#: Column index -> {stored value: label}, for choice columns.
Labels: TypeAlias = dict[int, dict[object, str]]


def with_labels(rows: Iterator[Sequence[Any]], maps: Labels) -> Iterator[list[Any]]:
    lookups = list(maps.items())
    for row in rows:
        cells = list(row)
        for index, labels in lookups:
            value = cells[index]
            cells[index] = labels.get(value, value)
        yield cells


class ColumnPlan:
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
                sent_as_text = loaders.columns
                chunks = _each(chunks, lambda chunk: _loaded(chunk, sent_as_text))
            rows: Iterator[Any] = map(
                tuple, compiler.results_iter(chunks, tuple_expected=True)
            )
            if self.labels:
                rows = with_labels(rows, self.labels)
            batches = iter(lambda: list(islice(rows, self.chunk_size)), [])
            if (finish := self.finish) is not None:
                width = len(fields)
                last: list[Cells | None] = [finish(i) for i in range(width)]
                return (columns_of(chunk, last) for chunk in batches)
            return batches
        converters = compiler.get_converters(fields)
        columns = [
            self._cells(
                index, converters.get(index), connection, loaders.columns.get(index)
            )
            for index in range(len(fields))
        ]
        if self.finish is not None:
            return _each(chunks, lambda chunk: columns_of(chunk, columns))
        if all(cells is None for cells in columns):
            return iter(chunks)
        return _each(chunks, lambda chunk: convert(chunk, columns))

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


def columns_of(chunk: list[Any], columns: list[Cells | None]) -> list[Any]:
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


def convert(chunk: list[Any], columns: list[Cells | None]) -> list[tuple[Any, ...]]:
    return list(zip(*columns_of(chunk, columns), strict=True))
