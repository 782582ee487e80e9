"""A fetched column's CSV cells: the pieces every database shares.

A *column* is one column of a fetched chunk of rows; a *cells* function turns
it into values that CSV-write to the same bytes as the values Django's
``.iterator()`` would give, often faster (one C-level ``map`` per column) or
as their final text. Used by :mod:`django_streamkit._db.queryset`; the
database-specific shapes are in ``_cells_sqlite`` and ``_cells_postgres``.
"""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django_streamkit._writers.datetimes import DateTimeText

Column = Sequence[Any]
Cells = Callable[[Column], Column]


def fits(pattern: re.Pattern[str], texts: Iterable[str]) -> bool:
    """Whether every text has the shape ``pattern`` repeats, each ended by a
    newline: one C-level match over the whole column."""
    return pattern.fullmatch("\n".join(texts) + "\n") is not None


_DIGITS = bytes.maketrans(b"123456789", b"000000000")


def shaped(texts: Sequence[str], shape: str, *, exact_end: int = 0) -> bool:
    """Whether every text is ``shape`` with any ASCII digit where it has
    "0" (``"0000-00-00"``: ISO dates), but in its last ``exact_end``
    characters, which are the shape's own (``"+00"``, UTC's offset): a byte
    translation and a comparison, a few times faster than :func:`fits`'s
    regular expression."""
    joined = "\n".join(texts)
    width, count = len(shape) + 1, len(texts)
    if len(joined) != width * count - 1:
        return False
    for at in range(width - 1 - exact_end, width - 1):
        # The same place in every text: one slice of the fixed-width lines.
        if joined[at::width] != shape[at] * count:
            return False
    return joined.encode().translate(_DIGITS) == "\n".join([shape] * count).encode()


def has_negative(texts: Iterable[str]) -> bool:
    """Whether any number's text starts with "-"."""
    joined = "\n".join(texts)
    return joined[:1] == "-" or "\n-" in joined


def chained(steps: list[Cells]) -> Cells:
    def cells(column: Column) -> Column:
        for step in steps:
            column = step(column)
        return column

    return cells


def labeller(labels: dict[Any, str]) -> Cells:
    get = labels.get
    return lambda column: list(map(get, column, column))


def django_converters(convs: list[Any], expression: Any, connection: Any) -> Cells:
    def cells(column: Column) -> Column:
        values = list(column)
        for converter in convs:
            values = [converter(value, expression, connection) for value in values]
        return values

    return cells


def nulls_apart(cells: Cells) -> Cells:
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


# Values csv.writer writes as str(value) (datetimes and times as their
# DateTimeText), whose text never starts with a formula trigger: they may be
# written as their text.
_TEXT_SAFE = frozenset(
    {str, datetime.datetime, datetime.date, datetime.time, uuid.UUID, bool}
)
_DATETIMES = frozenset({datetime.datetime, datetime.time})
# Numbers: their text is safe unless it starts with "-".
_NUMBERS = frozenset({int, decimal.Decimal})


def texts(datetimes: DateTimeText) -> Cells:
    """A column as text where csv.writer writes the same and escaping can't
    tell the difference; otherwise unchanged."""

    def cell(value: Any) -> str:
        return str(datetimes.cell(value))

    def as_text(column: Column) -> Column:
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
            if has_negative(texts):
                return column  # a negative number is never escaped; keep it one
            if not has_none:
                return texts
        else:
            return column
        text = cell if kinds & _DATETIMES else str
        if has_none:
            return ["" if value is None else text(value) for value in column]
        return list(map(text, column))

    return as_text
