"""JSON text a column at a time, for the rows of a QuerySet.

A fetched chunk of rows is turned into JSON a column at a time: each value
becomes its *fragment*, the exact text the encoder would write for it, with
one C-level ``map`` per column where the column has one plain type (strings
through the encoder's own string escaper, integers through ``int.__repr__``),
and the encoder itself for any other value. Rows are then one ``%`` of a
template each (``{"id":%s,"name":%s}``). The bytes are those of encoding the
values one by one; ``tests/test_json_fuzz.py`` holds them to that.

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
from typing import Any

from django_streamkit._writers.datetimes import ISO, DateTimeText

Column = Sequence[Any]
Fragments = Callable[[Column], list[str]]

__all__ = ["JSON_DATETIMES", "JSONDateTimes", "fragments", "template"]

_QUOTED = '"%s"'.__mod__


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

    def __init__(self) -> None:
        super().__init__(ISO)  # "iso": aware datetimes as UTC, no conversion

    def datetime(self, value: datetime.datetime) -> str:
        return django_datetime(value)

    def cell(self, value: object) -> object:
        if isinstance(value, datetime.datetime):
            return django_datetime(value)
        return value

    def utc_texts(self, texts: Any) -> list[str]:
        # "YYYY-MM-DD HH:MM:SS[.f]", a fraction of 1 to 6 digits: milliseconds
        # when there are microseconds, as DjangoJSONEncoder cuts them.
        out = []
        for text in texts:
            fraction = text[20:]
            if fraction.strip("0"):
                out.append(f"{text[:10]}T{text[11:19]}.{fraction:0<3.3}Z")
            else:
                out.append(f"{text[:10]}T{text[11:19]}Z")
        return out


JSON_DATETIMES = JSONDateTimes()

# isoformat() of aware datetimes in UTC, with or without microseconds.
_UTC_ISO = re.compile(
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]{6})?\+00:00\n)*"
)


def _utc_datetimes(column: Column) -> list[str] | None:
    texts = list(map(datetime.datetime.isoformat, column))
    if _UTC_ISO.fullmatch("\n".join(texts) + "\n") is None:
        return None
    return [
        f'"{text[:19]}Z"' if len(text) == 25 else f'"{text[:23]}Z"' for text in texts
    ]


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

    def plain(column: Column) -> list[str] | None:
        kinds = set(map(type, column))
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
            if kind is datetime.datetime:
                return _utc_datetimes(column)
        return None

    def cells(column: Column) -> list[str]:
        if None in column:
            at = [i for i, value in enumerate(column) if value is not None]
            done = ["null"] * len(column)
            values = [column[i] for i in at]
            for i, text in zip(at, plain(values) or map(one, values), strict=True):
                done[i] = text
            return done
        texts = plain(column)
        return list(map(one, column)) if texts is None else texts

    return cells


def template(keys: Sequence[str] | None, width: int) -> str:
    """The ``%`` template of a row of ``width`` fragments: an object with
    ``keys``, else an array."""
    if keys is None:
        return "[" + ",".join(["%s"] * width) + "]"
    members = (encode_basestring(key).replace("%", "%%") + ":%s" for key in keys)
    return "{" + ",".join(members) + "}"
