"""SQLite: dates, datetimes and decimals without Django's per-value work.

Each shape is checked a whole column at a time (one regular expression over
the joined column, C-level parsers) and gives exactly what Django's converter
would; a column that doesn't fit goes through Django's converter.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable, Collection
from typing import Any

from django.conf import settings
from django.db.models.expressions import Col, Func
from django.db.models.sql import Query

from django_streamkit._db.cells import (
    Cells,
    Column,
    django_converters,
    fits,
    has_negative,
    nulls_apart,
    shaped,
)
from django_streamkit._writers.datetimes import DateTimeText


def untyped_query(query: Query, skip: Collection[int]) -> Query:
    """``query`` with its date and datetime columns selected as ``+column``
    (but those at the ``skip`` indexes).

    SQLite's driver parses a column declared ``datetime`` or ``date`` into
    a Python value (in Python, per value); ``+column``, the same value
    with no declared type, skips that. Django's converters still apply,
    and parse the text where it has no fast shape.
    """
    if query.combinator or not query.select:
        return query
    query = query.clone()
    query.select = tuple(
        Untyped(col)
        if isinstance(col, Col)
        and index not in skip
        and col.output_field.get_internal_type() in ("DateTimeField", "DateField")
        else col
        for index, col in enumerate(query.select)
    )
    return query


class Untyped(Func):
    """A column as ``+column``: its value, without its declared type."""

    template = "+%(expressions)s"
    arity = 1

    def __init__(self, col: Col) -> None:
        super().__init__(col, output_field=col.output_field)

    def get_db_converters(self, connection: Any) -> list[Any]:
        return self.get_source_expressions()[0].get_db_converters(connection)  # type: ignore[no-any-return]

    def get_group_by_cols(self) -> list[Any]:
        return self.get_source_expressions()[0].get_group_by_cols()  # type: ignore[no-any-return]


#: The qualified name of the function SQLite's
#: ``DatabaseOperations.get_decimalfield_converter()`` returns (a closure, so
#: it is recognised by name; ``tests/test_private_apis.py`` holds it to that).
DECIMAL_CONVERTER = "DatabaseOperations.get_decimalfield_converter.<locals>.converter"


def fast_converter(
    convs: list[Any],
    expression: Any,
    connection: Any,
    as_text: bool,
    datetimes: DateTimeText,
    *,
    labelled: bool = False,
) -> Cells:
    """Django's converters for a column, or a faster exact equivalent.

    With ``as_text`` the result may be the values' text where it can't be
    mistaken for a formula. Datetimes' text is ``datetimes``', but in a
    ``labelled`` column (its labels are keyed by the values).
    """
    slow = django_converters(convs, expression, connection)
    if len(convs) != 1 or connection.vendor != "sqlite":
        return slow
    (converter,) = convs
    if converter == connection.ops.convert_datetimefield_value:
        if (
            settings.USE_TZ
            and connection.timezone_name == "UTC"
            and datetimes.utc
            and not labelled
        ):
            return _sqlite_utc_datetimes(slow, datetimes)
    elif converter == connection.ops.convert_datefield_value:
        # Their text: only where it may stand for the value (another JSON
        # encoder must see dates, and CSV's QUOTE_STRINGS quotes only text).
        return _sqlite_dates(slow) if as_text else slow
    elif isinstance(expression, Col) and _qualname(converter) == DECIMAL_CONVERTER:
        precision = _precision(expression.output_field)
        if precision is not None and precision[0] <= 15 and precision[1] <= 6:
            return _sqlite_decimals(*precision, slow, as_text)
    return slow


def _qualname(function: object) -> str:
    return getattr(function, "__qualname__", "")


def _precision(field: Any) -> tuple[int, int] | None:
    """A DecimalField's ``(max_digits, decimal_places)``, or ``None``.

    Django 6.1 allows a DecimalField with neither (any precision); its
    converter then makes the decimal without quantizing, which none of the
    shapes below covers.
    """
    digits, places = field.max_digits, field.decimal_places
    if type(digits) is not int or type(places) is not int or places < 0:
        return None
    return digits, places


# SQLite hands DateTimeField values over as naive datetimes in UTC (its
# "datetime" converter); Django makes them aware in the connection's time
# zone, UTC, so where datetimes are written in UTC their text is made from
# the naive text.

# Django's own text for a naive datetime, with microseconds only when not 0.
_DATETIME_TEXT = re.compile(
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.(?!000000)[0-9]{6})?\n)*"
)


def _valid(parse: Callable[[str], Any], column: Column) -> bool:
    try:
        for _ in map(parse, column):
            pass
    except ValueError:
        return False
    return True


def _sqlite_utc_datetimes(slow: Cells, datetimes: DateTimeText) -> Cells:
    utc_texts = datetimes.utc_texts

    @nulls_apart
    def cells(column: Column) -> Column:
        kinds = set(map(type, column))
        if kinds == {str}:  # selected without SQLite's own converter
            if not (
                shaped(column, "0000-00-00 00:00:00") or fits(_DATETIME_TEXT, column)
            ) or not _valid(datetime.datetime.fromisoformat, column):
                return slow(column)
            return utc_texts(column)
        if kinds != {datetime.datetime}:
            return slow(column)
        texts = list(map(str, column))
        joined = "".join(texts)
        if "+" in joined or joined.count("-") != 2 * len(texts):
            return slow(column)  # aware already, or a year before 1 CE
        return utc_texts(texts)

    return cells


def _sqlite_dates(slow: Cells) -> Cells:
    @nulls_apart
    def cells(column: Column) -> Column:
        if (
            set(map(type, column)) == {str}
            and shaped(column, "0000-00-00")
            and _valid(datetime.date.fromisoformat, column)
        ):
            return column  # str(date) of what Django parses
        return slow(column)

    return cells


def _sqlite_decimals(max_digits: int, places: int, slow: Cells, as_text: bool) -> Cells:
    bound = 10 ** (max_digits - places)
    text = f"%.{places}f".__mod__

    @nulls_apart
    def cells(column: Column) -> Column:
        if not set(map(type, column)) <= {float, int}:
            return slow(column)
        # Each value is the float nearest to its text with ``places``
        # decimals (no more than ``max_digits`` <= 15 digits), so Django's
        # 15-digit rounding and quantize give that decimal, and (places
        # <= 6) its str() is that text.
        texts = list(map(text, column))
        if (
            list(map(float, texts)) != list(column)
            or max(map(abs, column), default=0) >= bound
        ):
            return slow(column)
        if as_text and not has_negative(texts):
            return texts
        return list(map(decimal.Decimal, texts))

    return cells
