"""JSON text a column at a time, for the rows of a QuerySet.

A fetched chunk of rows is turned into JSON a column at a time: each value
becomes its *fragment*, the exact text the encoder would write for it, with
one C-level ``map`` per column where the column has one plain type (strings
through the encoder's own string escaper, integers through
``int.__repr__``), and the encoder itself for any other value. A column of
strings with nothing to escape (and decimals, UUIDs, dates and UTC
datetimes, whose text never needs escaping) is not even mapped: its values
go between quotes as they are. The chunk is then one ``str.join`` of the
columns' values interleaved with what goes between them (``{"id":``,
``,"name":"``, ``"},``). The bytes are those of encoding the rows one by
one; ``tests/test_json_fuzz.py`` holds them to that.

With ``django_types`` (the encoder is Django's ``DjangoJSONEncoder``),
decimals, UUIDs, dates and datetimes get their fragment here as that encoder
writes them, without a call into Python per value where the column allows.
No Django imports.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
import uuid
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from types import NoneType
from typing import Any

from django_streamkit._writers.datetimes import ISO, DateTimeText

Column = Sequence[Any]
Fragments = Callable[[Column], list[str]]

__all__ = [
    "JSON_DATETIMES",
    "ColumnRows",
    "JSONDateTimes",
    "as_bytes",
    "fragments",
    "line_safe",
]

_QUOTED = '"%s"'.__mod__
# What the encoder's string escaper (ensure_ascii=False) escapes, as UTF-8
# bytes (none of them is part of a longer character's bytes).
_ESCAPED = bytes(range(0x20)) + b'"\\'


def needs_escaping(text: str) -> bool:
    """Whether the encoder's string escaper changes anything in ``text``:
    one C-level pass over its bytes (a copy, faster than a regular
    expression's search)."""
    data = text.encode("utf-8", "surrogatepass")
    return len(data.translate(None, _ESCAPED)) != len(data)


def django_datetime(value: datetime.datetime) -> str:
    """A datetime as ``DjangoJSONEncoder`` writes it (ECMA-262's format)."""
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    if text.endswith("+00:00"):
        text = text.removesuffix("+00:00") + "Z"
    return text


class JSONDateTimes(DateTimeText):
    """Datetimes as ``DjangoJSONEncoder`` writes them, for the QuerySet reader,
    which hands over SQLite's UTC datetimes as text (see
    :meth:`~django_streamkit._writers.datetimes.DateTimeText.utc_texts`)."""

    __slots__ = ()

    def __init__(self, *, as_text: bool = True) -> None:
        super().__init__(ISO)  # "iso": aware datetimes as UTC, no conversion
        # Without as_text, no datetime is handed over as its text.
        self.utc = as_text

    def datetime(self, value: datetime.datetime) -> str:
        return django_datetime(value)

    def cell(self, value: object) -> object:
        if isinstance(value, datetime.datetime):
            return django_datetime(value)
        return value

    def utc_texts(self, texts: Any) -> list[str]:
        # "YYYY-MM-DD HH:MM:SS[.f]", a fraction of 1 to 6 digits: milliseconds
        # when there are microseconds, as DjangoJSONEncoder cuts them.
        texts = list(texts)
        joined = "\n".join(texts)
        if len(joined) == 20 * len(texts) - 1:  # no fractions: C-level edits
            return (joined.replace(" ", "T").replace("\n", "Z\n") + "Z").split("\n")
        out = []
        for text in texts:
            fraction = text[20:]
            if fraction.strip("0"):
                out.append(f"{text[:10]}T{text[11:19]}.{fraction:0<3.3}Z")
            else:
                out.append(f"{text[:10]}T{text[11:19]}Z")
        return out


JSON_DATETIMES = JSONDateTimes()
#: For another encoder than Django's: datetimes stay values.
VALUE_DATETIMES = JSONDateTimes(as_text=False)

# isoformat() of aware datetimes in UTC, with or without microseconds.
_UTC_ISO = re.compile(
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{6})?\+00:00\n)*"
)


def utc_datetimes(column: Column) -> list[str] | None:
    """Aware UTC datetimes as ``DjangoJSONEncoder`` writes them (``None``
    when any is not one), from their C-level ``isoformat()``."""
    texts = list(map(datetime.datetime.isoformat, column))
    joined = "\n".join(texts)
    if _UTC_ISO.fullmatch(joined + "\n") is None:
        return None
    if len(joined) == 26 * len(texts) - 1:  # no microseconds: C-level edits
        return joined.replace("+00:00", "Z").split("\n")
    return [f"{text[:19]}Z" if len(text) == 25 else f"{text[:23]}Z" for text in texts]


def fragments(encode: Callable[[Any], str], *, django_types: bool) -> Fragments:
    """The fragments of a column, as ``encode`` (the encoder's ``encode``)
    would write each value."""

    def one(value: Any) -> str:
        kind = type(value)
        if kind is str:
            return encode_basestring(value)
        if value is None:
            return "null"
        if kind is int:
            return int.__repr__(value)
        if kind is bool:
            return "true" if value else "false"
        if django_types:
            if kind is decimal.Decimal or kind is uuid.UUID or kind is datetime.date:
                return f'"{value}"'
            if kind is datetime.datetime:
                return f'"{django_datetime(value)}"'
        return encode(value)

    def plain(column: Column, kinds: set[type]) -> list[str] | None:
        if len(kinds) != 1:
            return None
        (kind,) = kinds
        if kind is str:
            return list(map(encode_basestring, column))
        if kind is int:
            return list(map(int.__repr__, column))
        if kind is float and all(map(math.isfinite, column)):
            return list(map(float.__repr__, column))
        if django_types:
            if kind in (decimal.Decimal, uuid.UUID, datetime.date):
                return list(map(_QUOTED, column))
            if kind is datetime.datetime and (texts := utc_datetimes(column)):
                return list(map(_QUOTED, texts))
        return None

    def cells(column: Column) -> list[str]:
        # Types, not values, are compared: "None in column" would call
        # Decimal.__eq__ on every value.
        kinds = set(map(type, column))
        if NoneType not in kinds:
            found = plain(column, kinds)
            return list(map(one, column)) if found is None else found
        kinds.discard(NoneType)
        at = [i for i, value in enumerate(column) if value is not None]
        texts = ["null"] * len(column)
        values = [column[i] for i in at]
        for i, text in zip(at, plain(values, kinds) or map(one, values), strict=True):
            texts[i] = text
        return texts

    return cells


class Quoted(list[str]):
    """A column of strings that are their JSON text between quotes: the
    quotes are written around them, not added to each."""

    __slots__ = ()


class ColumnRows:
    """A QuerySet's rows, written a batch of columns at a time.

    ``column(index)`` makes column ``index``'s fragments (or a
    :class:`Quoted` column: strings with nothing to escape, decimals, UUIDs,
    dates, UTC datetimes, without a pass over them); ``write(columns)``
    interleaves the columns with what goes between them (``{"id":``,
    ``,"name":"``...) in one ``str.join``. Rows of ``width`` values are
    objects with ``keys``, else arrays; ``width`` 0: one value alone.
    """

    def __init__(
        self,
        encode: Callable[[Any], str],
        *,
        django_types: bool,
        keys: Sequence[str] | None,
        width: int,
        lines: bool,
    ) -> None:
        self.keys = keys
        self.width = width
        self.lines = lines
        self.django_types = django_types
        self._fragments = fragments(encode, django_types=django_types)
        self._quoted_kinds = (
            {decimal.Decimal, uuid.UUID, datetime.date} if django_types else set()
        )

    def column(self, index: int) -> Fragments:
        return self._cells

    def _cells(self, column: Column) -> list[str]:
        if column and type(column[0]) is str:
            # Joined at once, which fails on anything but strings; a string
            # with nothing to escape is its own JSON text, between quotes.
            try:
                joined = "".join(column)
            except TypeError:
                pass
            else:
                if not needs_escaping(joined):
                    return Quoted(column)
            return self._fragments(column)
        kinds = set(map(type, column))
        if len(kinds) == 1:
            (kind,) = kinds
            if kind is int:
                return list(map(int.__repr__, column))
            if kind in self._quoted_kinds:
                return Quoted(map(str, column))
            if (
                kind is datetime.datetime
                and self.django_types
                and (texts := utc_datetimes(column))
            ):
                return Quoted(texts)
        return self._fragments(column)

    def write(self, batches: list[list[list[str]]]) -> bytes:
        end = "\n" if self.lines else ","
        texts = [self._rows(columns, end) for columns in batches]
        text = "".join(texts)
        return as_bytes(text if self.lines else text[:-1])  # the last ","

    def _rows(self, columns: list[list[str]], end: str) -> str:
        # Each row's pieces in place in one list: the separators before each
        # column's values, the values, and the row's end.
        keys, width = self.keys, self.width
        rows, step = len(columns[0]), 2 * len(columns) + 1
        pieces = [""] * (rows * step)
        after = ""  # what closes the previous column's value
        for index, column in enumerate(columns):
            quote = '"' if isinstance(column, Quoted) else ""
            if width == 0:
                before = quote
            else:
                before = after + ("," if index else "[" if keys is None else "{")
                if keys is not None:
                    before += encode_basestring(keys[index]) + ":"
                before += quote
            pieces[2 * index :: step] = [before] * rows
            pieces[2 * index + 1 :: step] = column
            after = quote
        close = "" if width == 0 else "]" if keys is None else "}"
        pieces[step - 1 :: step] = [after + close + end] * rows
        return "".join(pieces)


def as_bytes(text: str) -> bytes:
    """JSON text as UTF-8; a lone surrogate (UTF-8 has none) as ``\\udXXX``,
    as an ASCII-only encoder would write it."""
    return text.encode("utf-8", "backslashreplace")


# Line breaks to str.splitlines() and httpx's iter_lines() that JSON leaves raw
# in strings. In UTF-8 these bytes are only ever these characters, and in
# JSON text any non-ASCII character is inside a string.
_LINE_BREAKS = [
    (char.encode(), f"\\u{ord(char):04x}".encode()) for char in "\u2028\u2029\x85"
]


def line_safe(data: bytes) -> bytes:
    """JSON Lines with U+2028, U+2029 and U+0085 escaped, as an ASCII-only
    encoder writes them, so a reader splitting at every line break reads
    one item a line."""
    for raw, escaped in _LINE_BREAKS:
        if raw in data:
            data = data.replace(raw, escaped)
    return data
