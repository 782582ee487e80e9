"""PostgreSQL: values loaded as their text, which is the CSV cell or close.

Integers, numerics, timestamps and dates come from PostgreSQL as text that is
already what ``str()`` of Django's value writes (timestamps, written in UTC,
need reshaping); each column is checked whole, and falls back to the values
psycopg and Django would load.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings

from django_streamkit._db.cells import (
    Cells,
    Column,
    fits,
    has_negative,
    nulls_apart,
    shaped,
)
from django_streamkit._writers.datetimes import DateTimeText


class Text:
    """A column PostgreSQL sent as text: its cells, or Django's values."""

    def __init__(self, cells: Cells, values: Cells) -> None:
        self.cells = nulls_apart(cells)
        self.values = nulls_apart(values)


def _unsigned(
    values: Cells, unusual: re.Pattern[str] | None = None, *, signed: bool = False
) -> Cells:
    # A number's text is its CSV cell unless it is negative (escaping never
    # touches a number, and would touch the text) or unusual; ``signed``: a
    # negative one's text is kept too (no escaping: another writer's str()).
    def cells(column: Column) -> Column:
        if not signed and has_negative(column):
            return values(column)
        if unusual is not None and unusual.search("\n".join(column)) is not None:
            return values(column)
        return column

    return cells


def _ints(column: Column) -> Column:
    return list(map(int, column))


def _decimals(column: Column) -> Column:
    return list(map(decimal.Decimal, column))


# str(Decimal) switches to exponents below 1e-6: leave those to Decimal.
_TINY = re.compile(r"(?:^|\n)-?0\.0{6}", re.MULTILINE)
_TIMESTAMPS = re.compile(
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}(?:\.[0-9]{1,6})?\+00\n)*"
)


def _loaded(connection: Any, loader_class: Any, oid: int, tz: bool) -> Cells:
    loader = loader_class(oid, connection.connection)
    timezone = connection.timezone

    def values(column: Column) -> Column:
        # As a value Django's cursor loads raises (a date before year 1,
        # say): Django's class of the error, the driver's as its cause.
        with connection.wrap_database_errors:
            loaded = [loader.load(text.encode()) for text in column]
        if tz:  # as Django's loader does
            return [value.replace(tzinfo=timezone) for value in loaded]
        return loaded

    return values


def _timestamps(values: Cells, datetimes: DateTimeText) -> Cells:
    # PostgreSQL writes "2024-01-01 10:00:00.5+00" in UTC: the datetime's
    # UTC wall-clock text and "+00".
    if not datetimes.utc:
        return values  # written in another time zone: converted per value

    def cells(column: Column) -> Column:
        # Whole seconds (most instants) at C speed; "+00" is UTC's, digits and all.
        utc = shaped(column, "0000-00-00 00:00:00+00", exact_end=3)
        if utc or fits(_TIMESTAMPS, column):
            return datetimes.utc_texts([text[:-3] for text in column])
        return values(column)

    return cells


def _dates(values: Cells) -> Cells:
    def cells(column: Column) -> Column:
        if shaped(column, "0000-00-00"):
            return column
        return values(column)

    return cells


class Loaders:
    """An execute wrapper for the one query: faster psycopg loaders.

    Django's timestamptz loader is Python code per value; psycopg's own (in
    C) loads the same instants in the session's time zone, which Django has
    set to the connection's, UTC. With ``as_text``, integers, numerics,
    timestamps and dates are loaded as PostgreSQL's text instead, which is
    their CSV cell or close to it; :attr:`columns` then maps those columns'
    indexes to how their cells and values are made. With ``value_texts``
    (another writer than CSV, which writes a value as its ``str()``),
    numerics, timestamps and dates are loaded as text, their cells being
    ``str()`` of the decimal and date, and the timestamp's
    ``datetimes.utc_texts()``.
    """

    TEXT_TYPES = ("int2", "int4", "int8", "numeric", "timestamptz", "date")
    VALUE_TEXT_TYPES = ("numeric", "timestamptz", "date")

    def __init__(
        self,
        connection: Any,
        as_text: bool,
        datetimes: DateTimeText,
        *,
        value_texts: bool = False,
    ) -> None:
        self.connection = connection
        self.as_text = as_text
        self.value_texts = value_texts and not as_text
        self.datetimes = datetimes
        self.columns: dict[int, Text] = {}

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
        names: tuple[str, ...]
        if self.as_text:
            names = self.TEXT_TYPES
        elif self.value_texts:
            names = self.VALUE_TEXT_TYPES
        else:
            return execute(sql, params, many, context)
        for name in names:
            adapters.register_loader(name, TextLoader)
        result = execute(sql, params, many, context)
        types = adapters.types
        kinds = {types[name].oid: name for name in names}
        for index, column in enumerate(context["cursor"].description or ()):
            kind = kinds.get(column.type_code)
            if kind in ("int2", "int4", "int8"):
                self.columns[index] = Text(_unsigned(_ints), _ints)
            elif kind == "numeric":
                signed = self.value_texts
                cells = _unsigned(_decimals, _TINY, signed=signed)
                self.columns[index] = Text(cells, _decimals)
            elif kind == "timestamptz":
                values = _loaded(connection, TimestamptzLoader, column.type_code, True)
                self.columns[index] = Text(_timestamps(values, self.datetimes), values)
            elif kind == "date":
                values = _loaded(connection, DateLoader, column.type_code, False)
                self.columns[index] = Text(_dates(values), values)
        return result
