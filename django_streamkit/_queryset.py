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

import datetime
import decimal
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from itertools import islice, repeat
from operator import add
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import QuerySet
from django.db.models.expressions import Col, Func
from django.db.models.query import ValuesListIterable
from django.db.models.sql import Query
from django.db.models.sql.constants import MULTI

__all__ = ["QuerySetRows", "must_wait"]

Column = Sequence[Any]
Cells = Callable[[Column], Column]


class QuerySetRows:
    """An iterator over a QuerySet's rows, read in chunks of ``chunk_size``.

    Iterating it yields what ``queryset.iterator(chunk_size)`` yields, with
    ``labels`` (column index -> {stored value: label}) applied. The CSV writer
    asks :meth:`csv_cells` instead, before the first row is read.
    """

    def __init__(
        self,
        queryset: QuerySet[Any, Any],
        chunk_size: int,
        labels: dict[int, dict[Any, str]] | None = None,
    ) -> None:
        self.queryset = queryset
        self.chunk_size = chunk_size
        self.labels = labels or {}
        self._rows: Iterator[Any] | None = None

    def __iter__(self) -> QuerySetRows:
        return self

    def __next__(self) -> Any:
        if self._rows is None:
            rows = _in_transaction(self.queryset, self._django_rows)
            self._rows = _with_labels(rows, self.labels) if self.labels else rows
        return next(self._rows)

    def close(self) -> None:
        if self._rows is not None and hasattr(self._rows, "close"):
            self._rows.close()

    def _django_rows(self) -> Iterator[Any]:
        return self.queryset.iterator(chunk_size=self.chunk_size)

    def csv_batches(self, *, as_text: bool) -> Iterator[list[Any]] | None:
        """The rows in fetched batches, as cells that CSV-write to the same
        bytes as the values; ``None`` when the rows have been started or are
        not plain ``values_list()`` tuples (then iterate instead).

        ``as_text`` (the dialect quotes minimally) lets values become their
        final text where that can't change a byte, formula escaping included.
        """
        if self._rows is not None or self.queryset._iterable_class is not (
            ValuesListIterable
        ):
            return None
        plan = _ColumnPlan(self.queryset, self.chunk_size, self.labels, as_text)
        self._rows = batches = _in_transaction(self.queryset, plan.batches)
        return batches


def _in_transaction(
    queryset: QuerySet[Any, Any], rows: Callable[[], Iterator[Any]]
) -> Iterator[Any]:
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


def _streams_from_server(queryset: QuerySet[Any, Any]) -> bool:
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


def _with_labels(
    rows: Iterator[Sequence[Any]], maps: dict[int, dict[Any, str]]
) -> Iterator[list[Any]]:
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
        queryset: QuerySet[Any, Any],
        chunk_size: int,
        labels: dict[int, dict[Any, str]],
        as_text: bool,
    ) -> None:
        self.queryset = queryset
        self.chunk_size = chunk_size
        self.labels = labels
        self.as_text = as_text

    def batches(self) -> Iterator[list[Any]]:
        queryset = self.queryset
        connection = connections[queryset.db]
        compiler = self._query(connection).get_compiler(queryset.db)
        loaders = _Loaders(connection, self.as_text)
        with connection.execute_wrapper(loaders):
            chunks = compiler.execute_sql(
                MULTI, chunked_fetch=True, chunk_size=self.chunk_size
            )
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        if getattr(compiler, "has_composite_fields", lambda fields: False)(fields):
            # A composite primary key is one value of several columns.
            rows: Iterator[Any] = map(
                tuple, compiler.results_iter(chunks, tuple_expected=True)
            )
            if self.labels:
                rows = _with_labels(rows, self.labels)
            return iter(lambda: list(islice(rows, self.chunk_size)), [])
        converters = compiler.get_converters(fields)
        columns = [
            self._cells(
                index, converters.get(index), connection, loaders.as_text.get(index)
            )
            for index in range(len(fields))
        ]
        if all(cells is None for cells in columns):
            return iter(chunks)
        return (_convert(chunk, columns) for chunk in chunks)

    def _query(self, connection: Any) -> Query:
        """The QuerySet's query; on SQLite, with dates and datetimes selected
        as ``+column`` when they will be written as text.

        SQLite's driver parses a column declared ``datetime`` or ``date`` into
        a Python value (in Python, per value); ``+column``, the same value
        with no declared type, skips that. Django's converters still apply,
        and parse the text where it has no fast shape.
        """
        query = self.queryset.query
        if (
            connection.vendor != "sqlite"
            or not self.as_text
            or query.combinator
            or not query.select
        ):
            return query
        query = query.clone()
        query.select = tuple(
            _Untyped(col)
            if isinstance(col, Col)
            and index not in self.labels
            and col.output_field.get_internal_type() in ("DateTimeField", "DateField")
            else col
            for index, col in enumerate(query.select)
        )
        return query

    def _cells(
        self, index: int, converters: Any, connection: Any, text: _Text | None
    ) -> Cells | None:
        labels = self.labels.get(index)
        if text is not None and converters is None and labels is None:
            return text.cells
        steps: list[Cells] = []
        if text is not None:
            steps.append(text.values)
        if converters is not None:
            convs, expression = converters
            steps.append(
                _fast_converter(
                    convs, expression, connection, self.as_text and labels is None
                )
            )
        if labels is not None:
            steps.append(_labeller(labels))
        if self.as_text:
            steps.append(_as_text)
        if not steps:
            return None
        if len(steps) == 1:
            return steps[0]
        return _chained(steps)


class _Untyped(Func):
    """A column as ``+column``: its value, without its declared type."""

    template = "+%(expressions)s"
    arity = 1

    def __init__(self, col: Col) -> None:
        super().__init__(col, output_field=col.output_field)

    def get_db_converters(self, connection: Any) -> list[Any]:
        return self.get_source_expressions()[0].get_db_converters(connection)  # type: ignore[no-any-return]

    def get_group_by_cols(self) -> list[Any]:
        return self.get_source_expressions()[0].get_group_by_cols()  # type: ignore[no-any-return]


def _convert(chunk: list[Any], columns: list[Cells | None]) -> list[tuple[Any, ...]]:
    cols = zip(*chunk, strict=True)
    converted = [
        col if cells is None else cells(col)
        for col, cells in zip(cols, columns, strict=True)
    ]
    return list(zip(*converted, strict=True))


def _chained(steps: list[Cells]) -> Cells:
    def cells(column: Column) -> Column:
        for step in steps:
            column = step(column)
        return column

    return cells


def _labeller(labels: dict[Any, str]) -> Cells:
    get = labels.get
    return lambda column: list(map(get, column, column))


def _django_converters(convs: list[Any], expression: Any, connection: Any) -> Cells:
    def cells(column: Column) -> Column:
        values = list(column)
        for converter in convs:
            values = [converter(value, expression, connection) for value in values]
        return values

    return cells


def _fast_converter(
    convs: list[Any], expression: Any, connection: Any, as_text: bool
) -> Cells:
    """Django's converters for a column, or a faster exact equivalent.

    With ``as_text`` the result may be the values' text where it can't be
    mistaken for a formula.
    """
    slow = _django_converters(convs, expression, connection)
    if len(convs) != 1 or connection.vendor != "sqlite":
        return slow
    (converter,) = convs
    if converter == connection.ops.convert_datetimefield_value:
        if settings.USE_TZ and connection.timezone_name == "UTC":
            return _sqlite_utc_datetimes(slow)
    elif converter == connection.ops.convert_datefield_value:
        return _sqlite_dates(slow)
    elif (
        getattr(converter, "__qualname__", "")
        == "DatabaseOperations.get_decimalfield_converter.<locals>.converter"
        and isinstance(expression, Col)
    ):
        field: Any = expression.output_field
        if field.max_digits <= 15 and 0 <= field.decimal_places <= 6:
            return _sqlite_decimals(
                field.max_digits, field.decimal_places, slow, as_text
            )
    return slow


def _nulls_apart(cells: Cells) -> Cells:
    """``cells`` over the column's values that are not NULL; NULLs stay."""

    def with_nulls(column: Column) -> Column:
        if None not in column:
            return cells(column)
        at = [i for i, value in enumerate(column) if value is not None]
        result = list(column)
        for i, value in zip(at, cells([column[i] for i in at]), strict=True):
            result[i] = value
        return result

    return with_nulls


# SQLite hands DateTimeField values over as naive datetimes in UTC (its
# "datetime" converter); Django makes them aware in the connection's time
# zone, UTC, so their text is the naive text plus "+00:00".
_UTC = "+00:00"


# Django's own text for a naive datetime, with microseconds only when not 0.
_DATETIME_TEXT = re.compile(
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.(?!000000)[0-9]{6})?\n)*"
)
_DATE_TEXT = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}\n)*")


def _valid(parse: Callable[[str], Any], column: Column) -> bool:
    try:
        for _ in map(parse, column):
            pass
    except ValueError:
        return False
    return True


def _sqlite_utc_datetimes(slow: Cells) -> Cells:
    @_nulls_apart
    def cells(column: Column) -> Column:
        kinds = set(map(type, column))
        if kinds == {str}:  # selected without SQLite's own converter
            if _DATETIME_TEXT.fullmatch("\n".join(column) + "\n") is None or not _valid(
                datetime.datetime.fromisoformat, column
            ):
                return slow(column)
            return list(map(add, column, repeat(_UTC)))
        if kinds != {datetime.datetime}:
            return slow(column)
        texts = list(map(str, column))
        joined = "".join(texts)
        if "+" in joined or joined.count("-") != 2 * len(texts):
            return slow(column)  # aware already, or a year before 1 CE
        return list(map(add, texts, repeat(_UTC)))

    return cells


def _sqlite_dates(slow: Cells) -> Cells:
    @_nulls_apart
    def cells(column: Column) -> Column:
        if (
            set(map(type, column)) == {str}
            and _DATE_TEXT.fullmatch("\n".join(column) + "\n") is not None
            and _valid(datetime.date.fromisoformat, column)
        ):
            return column  # str(date) of what Django parses
        return slow(column)

    return cells


@cache
def _decimal_shape(max_digits: int, places: int) -> re.Pattern[str]:
    # A float's shortest repr with at most `places` decimals and `max_digits`
    # (<= 15) digits in all: it is exactly the decimal Django makes of it
    # (15-digit rounding, then quantize), and "%.{places}f" writes it.
    whole = (
        f"(?:0|[1-9][0-9]{{0,{max_digits - places - 1}}})"
        if max_digits > places
        else "0"
    )
    fraction = r"(?:\.0)?" if places == 0 else rf"(?:\.[0-9]{{1,{places}}})?"
    one = f"-?{whole}{fraction}"
    return re.compile(f"{one}(?:\n{one})*")


def _sqlite_decimals(max_digits: int, places: int, slow: Cells, as_text: bool) -> Cells:
    shape = _decimal_shape(max_digits, places)
    text = f"%.{places}f".__mod__

    @_nulls_apart
    def cells(column: Column) -> Column:
        if not set(map(type, column)) <= {float, int}:
            return slow(column)
        if shape.fullmatch("\n".join(map(repr, column))) is None:
            return slow(column)
        texts = list(map(text, column))
        if as_text and not any(map(_negative, texts)):
            return texts
        return list(map(decimal.Decimal, texts))

    return cells


_negative = re.compile("-").match


# Values csv.writer writes as str(value), and whose str() never starts with
# a formula trigger: they may be written as their text.
_TEXT_SAFE = frozenset(
    {str, datetime.datetime, datetime.date, datetime.time, uuid.UUID, bool}
)
# Numbers: their text is safe unless it starts with "-".
_NUMBERS = frozenset({int, decimal.Decimal})


def _as_text(column: Column) -> Column:
    """The column as text where csv.writer writes the same and escaping can't
    tell the difference; otherwise unchanged."""
    kinds = set(map(type, column))
    has_none = type(None) in kinds
    kinds.discard(type(None))
    if kinds <= {str}:
        if not has_none:
            return column
    elif kinds <= _TEXT_SAFE:
        pass
    elif kinds <= _NUMBERS or kinds == {float}:
        texts = list(map(repr if float in kinds else str, column))
        joined = "\n".join(texts)
        if joined[:1] == "-" or "\n-" in joined:
            return column  # a negative number is never escaped; keep it one
        if not has_none:
            return texts
    else:
        return column
    if has_none:
        return ["" if value is None else str(value) for value in column]
    return list(map(str, column))


# -- PostgreSQL: values loaded as their text --------------------------------


class _Text:
    """A column PostgreSQL sent as text: its cells, or Django's values."""

    def __init__(self, cells: Cells, values: Cells) -> None:
        self.cells = _nulls_apart(cells)
        self.values = _nulls_apart(values)


def _unsigned(values: Cells, unusual: re.Pattern[str] | None = None) -> Cells:
    # A number's text is its CSV cell unless it is negative (escaping never
    # touches a number, and would touch the text) or unusual.
    def cells(column: Column) -> Column:
        joined = "\n".join(column)
        if joined[:1] == "-" or "\n-" in joined:
            return values(column)
        if unusual is not None and unusual.search(joined) is not None:
            return values(column)
        return column

    return cells


def _ints(column: Column) -> Column:
    return list(map(int, column))


def _decimals(column: Column) -> Column:
    return list(map(decimal.Decimal, column))


# str(Decimal) switches to exponents below 1e-6: leave those to Decimal.
_TINY = re.compile(r"(?:^|\n)-?0\.0{6}", re.MULTILINE)
_TIMESTAMPS = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\+00\n)*")
_FRACTIONAL = re.compile(
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}(?:\.[0-9]{1,6})?\+00\n)*"
)
_DATES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}\n)*")


def _loaded(connection: Any, loader_class: Any, oid: int, tz: bool) -> Cells:
    loader = loader_class(oid, connection.connection)
    timezone = connection.timezone

    def values(column: Column) -> Column:
        loaded = [loader.load(text.encode()) for text in column]
        if tz:  # as Django's loader does
            return [value.replace(tzinfo=timezone) for value in loaded]
        return loaded

    return values


def _timestamps(values: Cells) -> Cells:
    # PostgreSQL writes "2024-01-01 10:00:00.5+00" in UTC; str() of the
    # datetime Django loads is "2024-01-01 10:00:00.500000+00:00".
    def cells(column: Column) -> Column:
        joined = "\n".join(column) + "\n"
        if _TIMESTAMPS.fullmatch(joined) is not None:
            return list(map(add, column, repeat(":00")))
        if _FRACTIONAL.fullmatch(joined) is not None:
            return [_pad_fraction(text) for text in column]
        return values(column)

    return cells


def _pad_fraction(text: str) -> str:
    if "." not in text:
        return text + ":00"
    whole, fraction = text[:-3].split(".")
    return f"{whole}.{fraction:0<6}+00:00"


def _dates(values: Cells) -> Cells:
    def cells(column: Column) -> Column:
        if _DATES.fullmatch("\n".join(column) + "\n") is not None:
            return column
        return values(column)

    return cells


class _Loaders:
    """An execute wrapper for the one query: faster psycopg loaders.

    Django's timestamptz loader is Python code per value; psycopg's own (in
    C) loads the same instants in the session's time zone, which Django has
    set to the connection's, UTC. With ``as_text``, integers, numerics,
    timestamps and dates are loaded as PostgreSQL's text instead, which is
    their CSV cell or close to it; :attr:`as_text` then maps those columns'
    indexes to how their cells and values are made.
    """

    TEXT_TYPES = ("int2", "int4", "int8", "numeric", "timestamptz", "date")

    def __init__(self, connection: Any, as_text: bool) -> None:
        self.connection = connection
        self.text = as_text
        self.as_text: dict[int, _Text] = {}

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: Any,
    ) -> Any:
        connection = self.connection
        adapters = getattr(getattr(context["cursor"], "cursor", None), "adapters", None)
        if (
            connection.vendor != "postgresql"
            or adapters is None
            or not settings.USE_TZ
            or connection.timezone_name != "UTC"
        ):
            return execute(sql, params, many, context)
        from psycopg.types.datetime import DateLoader, TimestamptzLoader
        from psycopg.types.string import TextLoader

        adapters.register_loader("timestamptz", TimestamptzLoader)
        if not self.text:
            return execute(sql, params, many, context)
        for name in self.TEXT_TYPES:
            adapters.register_loader(name, TextLoader)
        result = execute(sql, params, many, context)
        types = adapters.types
        kinds = {types[name].oid: name for name in self.TEXT_TYPES}
        for index, column in enumerate(context["cursor"].description or ()):
            kind = kinds.get(column.type_code)
            if kind in ("int2", "int4", "int8"):
                self.as_text[index] = _Text(_unsigned(_ints), _ints)
            elif kind == "numeric":
                self.as_text[index] = _Text(_unsigned(_decimals, _TINY), _decimals)
            elif kind == "timestamptz":
                values = _loaded(connection, TimestamptzLoader, column.type_code, True)
                self.as_text[index] = _Text(_timestamps(values), values)
            elif kind == "date":
                values = _loaded(connection, DateLoader, column.type_code, False)
                self.as_text[index] = _Text(_dates(values), values)
        return result
