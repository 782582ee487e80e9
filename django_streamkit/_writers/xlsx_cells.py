"""Worksheet cells: a column of values at a time becomes SpreadsheetML ``<c>``.

Each column of a batch is looked at once (the set of its value types); a
column of one type (``None`` aside) is written by one C-level ``map`` where it
can. Cells carry no ``r`` reference: a reader counts them, and ``<c/>`` holds
the place of ``None``. Nothing here imports Django.

- ``str``: an inline string (``t="inlineStr"``), so there is no shared-strings
  table and no formula can ever be written. Characters XML 1.0 can't hold
  (C0 controls other than tab, LF and CR, U+FFFE, U+FFFF and lone surrogates)
  become U+FFFD (``\N{REPLACEMENT CHARACTER}``); CR is written as ``&#13;`` so
  it survives XML's line-end normalisation; text that looks like Excel's own
  ``_xHHHH_`` escape gets its ``_`` escaped, so it reads back as written. A
  text longer than Excel's 32,767 characters is an error.
- ``int``, ``float``, ``Decimal``: numbers. An ``int`` of more than 15 digits
  (Excel keeps 15 significant digits and rounds the rest to 0, even below
  2**53) is written as text, digit for digit, and so is a ``Decimal`` beyond
  a double's range (as a number it reads back as infinity). NaN and
  infinities have no cell: an error.
- ``bool``: a boolean cell.
- ``datetime``, ``date``, ``time``: serial day numbers with a number format
  (aware datetimes in the writer's time zone first); a date before
  1900-03-01, which Excel's calendar can't hold, and an aware ``time`` are
  written as their ISO text.
- anything else (``UUID``, ``timedelta``, ...) as its ``str()`` text.
"""

from __future__ import annotations

import datetime
import decimal
import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

__all__ = ["MAX_TEXT", "CellError", "Cells", "display_width", "header_cells"]

#: Excel's longest cell text, in characters.
MAX_TEXT: Final = 32_767
#: Style indexes in styles.xml's cellXfs.
BOLD, DATETIME, DATE, TIME = 1, 2, 3, 4

_EMPTY: Final = "<c/>"
_NUMBER: Final = "<c><v>{}</v></c>".format
_FLOAT: Final = "<c><v>{!r}</v></c>".format
_TEXT: Final = '<c t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>'.format
_BOLD_TEXT: Final = (
    '<c t="inlineStr" s="1"><is><t xml:space="preserve">{}</t></is></c>'.format
)
_TRUE: Final = '<c t="b"><v>1</v></c>'
_FALSE: Final = '<c t="b"><v>0</v></c>'
_DATETIME: Final = f'<c s="{DATETIME}"><v>{{!r}}</v></c>'.format
_DATE: Final = f'<c s="{DATE}"><v>{{}}</v></c>'.format
_TIME: Final = f'<c s="{TIME}"><v>{{!r}}</v></c>'.format

# Excel keeps 15 significant digits: every int below this survives it.
_LARGEST_EXACT: Final = 10**15
# Past a double's largest value a spreadsheet reads a number as infinity.
_LARGEST_DECIMAL: Final = decimal.Decimal("1.7976931348623157E+308")
_EPOCH: Final = datetime.datetime(1899, 12, 30)
_EPOCH_DATE: Final = _EPOCH.date()
_FIRST_DATE: Final = datetime.date(1900, 3, 1)  # Excel's fake 1900-02-29 before it
_FIRST_DATETIME: Final = datetime.datetime(1900, 3, 1)
_DAY: Final = datetime.timedelta(days=1)

# Anything that makes a text's XML differ from the text itself.
_SPECIAL: Final = re.compile(
    "[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_"
)
_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EXCEL_ESCAPE: Final = re.compile("_(x[0-9A-Fa-f]{4}_)")


class CellError(ValueError):
    """A value no cell can hold, at ``index`` in its column."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def escape(text: str) -> str:
    """``text`` as XML element content."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(r"_x005F_\1", text)
    return _ILLEGAL.sub("\N{REPLACEMENT CHARACTER}", text)


def _check_length(column: Sequence[str]) -> None:
    if max(map(len, column), default=0) > MAX_TEXT:
        index = next(i for i, text in enumerate(column) if len(text) > MAX_TEXT)
        raise CellError(
            index,
            f"a text of {len(column[index]):,} characters is longer than a "
            f"spreadsheet cell holds ({MAX_TEXT:,}); shorten it before it is "
            f"written (it starts {column[index][:40]!r})",
        )


def texts(column: Sequence[str], style: Callable[[str], str] = _TEXT) -> list[str]:
    _check_length(column)
    if _SPECIAL.search("\n".join(column)) is None:
        return list(map(style, column))
    return [style(escape(text)) for text in column]


def _ints(column: Sequence[int]) -> list[str]:
    if max(column) < _LARGEST_EXACT and min(column) > -_LARGEST_EXACT:
        return list(map(_NUMBER, column))
    return [
        _NUMBER(n) if -_LARGEST_EXACT < n < _LARGEST_EXACT else _TEXT(n) for n in column
    ]


def _finite(column: Sequence[Any], finite: Callable[[Any], bool]) -> None:
    if not all(map(finite, column)):
        index = next(i for i, n in enumerate(column) if not finite(n))
        raise CellError(
            index,
            f"{column[index]!r} has no spreadsheet cell; replace NaN and "
            f"infinities with None (an empty cell) or a number",
        )


def _floats(column: Sequence[float]) -> list[str]:
    _finite(column, math.isfinite)
    return list(map(_FLOAT, column))


def _decimals(column: Sequence[decimal.Decimal]) -> list[str]:
    _finite(column, decimal.Decimal.is_finite)
    if max(column) <= _LARGEST_DECIMAL and min(column) >= -_LARGEST_DECIMAL:
        return list(map(_NUMBER, column))
    return [_NUMBER(d) if abs(d) <= _LARGEST_DECIMAL else _TEXT(d) for d in column]


def _bools(column: Sequence[bool]) -> list[str]:
    return [_TRUE if value else _FALSE for value in column]


def _dates(column: Sequence[datetime.date]) -> list[str]:
    if min(column) >= _FIRST_DATE:
        return [_DATE((d - _EPOCH_DATE).days) for d in column]
    return [
        _DATE((d - _EPOCH_DATE).days) if d >= _FIRST_DATE else _TEXT(d.isoformat())
        for d in column
    ]


def _times(column: Sequence[datetime.time]) -> list[str]:
    return [
        _TEXT(t.isoformat())
        if t.tzinfo is not None
        else _TIME(
            (t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6) / 86400
        )
        for t in column
    ]


def header_cells(header: Sequence[object]) -> str:
    """The bold header row's cells (every label is text)."""
    return "".join(texts([str(label) for label in header], _BOLD_TEXT))


def display_width(value: object) -> int:
    """About how many characters ``value`` shows as, for column widths."""
    if value is None:
        return 0
    if isinstance(value, datetime.datetime):
        return 19
    if isinstance(value, datetime.date):
        return 10
    if isinstance(value, datetime.time):
        return 8
    if isinstance(value, float):
        return min(len(repr(value)), 12)
    return max(map(len, str(value).splitlines() or [""]))


class Cells:
    """Columns of values as cells, datetimes in ``timezone`` (``None``: UTC)."""

    def __init__(self, timezone: datetime.tzinfo | None) -> None:
        self.timezone = timezone or datetime.UTC
        self._by_type: dict[type, Callable[[Sequence[Any]], list[str]]] = {
            str: texts,
            int: _ints,
            float: _floats,
            decimal.Decimal: _decimals,
            bool: _bools,
            datetime.datetime: self._datetimes,
            datetime.date: _dates,
            datetime.time: _times,
        }

    def _datetimes(self, column: Sequence[datetime.datetime]) -> list[str]:
        if {value.tzinfo for value in column} != {None}:
            zone = self.timezone
            column = [
                value
                if value.utcoffset() is None
                else value.astimezone(zone).replace(tzinfo=None)
                for value in column
            ]
        if min(column) >= _FIRST_DATETIME:
            return [_DATETIME((value - _EPOCH) / _DAY) for value in column]
        return [
            _DATETIME((value - _EPOCH) / _DAY)
            if value >= _FIRST_DATETIME
            else _TEXT(value.isoformat())
            for value in column
        ]

    def column(self, column: Sequence[object]) -> list[str]:
        """The cells of one column of a batch."""
        kinds = set(map(type, column))
        nulls = type(None) in kinds
        kinds.discard(type(None))
        if not kinds:
            return [_EMPTY] * len(column)
        if len(kinds) == 1 and (write := self._by_type.get(kinds.pop())) is not None:
            if not nulls:
                return write(column)
            at = [i for i, value in enumerate(column) if value is not None]
            cells = [_EMPTY] * len(column)
            try:
                written = write([column[i] for i in at])
            except CellError as error:
                error.index = at[error.index]
                raise
            for i, cell in zip(at, written, strict=True):
                cells[i] = cell
            return cells
        out = []
        for index, value in enumerate(column):
            try:
                out.append(self.cell(value))
            except CellError as error:
                error.index = index
                raise
        return out

    def cell(self, value: object) -> str:
        """One value's cell, whatever its type (subclasses too)."""
        if value is None:
            return _EMPTY
        write = self._by_type.get(type(value))
        if write is None:
            value = self._base(value)
            write = self._by_type[type(value)]
        return write([value])[0]

    @staticmethod
    def _base(value: object) -> object:
        # A subclass as its base type (bool before int, datetime before date:
        # each is a subclass of the next); an integer type (numpy's) as int.
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int) or hasattr(value, "__index__"):
            return operator.index(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, decimal.Decimal):
            return decimal.Decimal(value)
        if isinstance(value, datetime.date) and value != value:
            # pandas' NaT: a datetime subclass equal to nothing, as NaN.
            raise CellError(
                0,
                f"{value!r} has no spreadsheet cell; replace it with None (an "
                f"empty cell) or a date",
            )
        if isinstance(value, datetime.datetime):
            return datetime.datetime(
                *value.timetuple()[:6], value.microsecond, value.tzinfo
            )
        if isinstance(value, datetime.date):
            return datetime.date(value.year, value.month, value.day)
        if isinstance(value, datetime.time):
            return datetime.time(
                value.hour, value.minute, value.second, value.microsecond, value.tzinfo
            )
        # A str subclass's str() may be itself (Django's SafeString is).
        return str.__str__(value if isinstance(value, str) else str(value))
