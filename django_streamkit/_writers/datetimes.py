"""The CSV text of datetimes and times: one shape for every value.

``str()`` drops a datetime's microseconds when they are 0 and adds its UTC
offset, so a column mixes ``2024-05-01 14:30:09+00:00`` with
``2024-05-01 14:30:58.286786+00:00``: pandas can't parse that column and
LibreOffice keeps every value as text. Here every datetime is written as
``YYYY-MM-DDTHH:MM:SS.ffffff``, microseconds always (so nothing is lost),
which both read as a date-time:

- ``"local"`` (the default): an aware datetime in the given time zone (the
  Django adapter passes the current one, as templates display it), with no
  offset; LibreOffice reads no value with an offset as a date-time.
- ``"iso"``: ISO 8601 with its offset, aware datetimes in UTC
  (``...T12:30:00.000000+00:00``), so a column has one offset even across a
  daylight saving change and pandas reads it as ``datetime64[us, UTC]``.

Naive datetimes are written as they are, in the same shape. Times are
``HH:MM:SS.ffffff`` (and their offset, if aware). Dates keep ``str()``,
``YYYY-MM-DD``. No Django imports.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import cast

from django_streamkit._writers.csv_text import Row

LOCAL = "local"
ISO = "iso"
FORMATS = (LOCAL, ISO)

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu"})
_KINDS = (datetime.datetime, datetime.time)


def _is_utc(zone: datetime.tzinfo) -> bool:
    return zone is datetime.UTC or getattr(zone, "key", None) in _UTC_NAMES


def _has_datetimes(cells: Iterable[object]) -> bool:
    return any(issubclass(kind, _KINDS) for kind in set(map(type, cells)))


class DateTimeText:
    """How datetimes and times become CSV text, in ``style`` and ``timezone``."""

    __slots__ = ("offset", "style", "timezone", "utc")

    def __init__(
        self, style: str = LOCAL, timezone: datetime.tzinfo = datetime.UTC
    ) -> None:
        if style not in FORMATS:
            raise ValueError(
                f"Unknown CSV datetime format {style!r}; choose from "
                f"{', '.join(map(repr, FORMATS))} (STREAMKIT_CSV_DATETIME_FORMAT)."
            )
        self.style = style
        self.timezone = timezone
        #: Aware datetimes are written in UTC: the text of UTC wall-clock
        #: times (as databases send them) needs no time zone arithmetic.
        self.utc = style == ISO or _is_utc(timezone)
        self.offset = "+00:00" if style == ISO else ""

    def datetime(self, value: datetime.datetime) -> str:
        if value.utcoffset() is None:
            return value.isoformat(timespec="microseconds")
        if self.style == ISO:
            return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")
        # The offset cut off: the year always has 4 digits, so it starts at 26.
        return value.astimezone(self.timezone).isoformat(timespec="microseconds")[:26]

    def cell(self, value: object) -> object:
        """``value``'s text if it is a datetime or a time, else ``value``."""
        if isinstance(value, datetime.datetime):
            return self.datetime(value)
        if isinstance(value, datetime.time):
            return value.isoformat(timespec="microseconds")
        return value

    def rows(self, batch: list[Row]) -> list[Row]:
        """``batch`` with every datetime and time as its text.

        One C-level pass over the cells' types finds whether there is any
        (the batch comes back as it is when there is none); then only the
        columns that hold them are converted.
        """
        if not batch:
            return batch
        cell = self.cell
        if isinstance(batch[0], Mapping):
            # Every row is a dict when the first is (the writer checks).
            dicts = cast("list[Mapping[str, object]]", batch)
            if not _has_datetimes(chain.from_iterable(d.values() for d in dicts)):
                return batch
            return [{k: cell(v) for k, v in row.items()} for row in dicts]
        lists = cast("list[Sequence[object]]", batch)
        if not _has_datetimes(chain.from_iterable(lists)):
            return batch
        if len(set(map(len, lists))) != 1:
            return [list(map(cell, row)) for row in lists]
        columns: list[Sequence[object]] = list(zip(*lists, strict=True))
        for index, column in enumerate(columns):
            if _has_datetimes(column):
                columns[index] = tuple(map(cell, column))
        return list(zip(*columns, strict=True))

    def utc_texts(self, texts: Iterable[str]) -> list[str]:
        """The cells of aware datetimes given as their UTC wall-clock texts
        ``YYYY-MM-DD HH:MM:SS[.f]`` (a fraction of 1 to 6 digits); only
        where :attr:`utc` (no time zone conversion is needed)."""
        assert self.utc
        offset = self.offset
        return [f"{t[:10]}T{t[11:19]}.{t[20:]:0<6}{offset}" for t in texts]


#: The pure core's default: "local" in UTC.
DEFAULT_DATETIMES = DateTimeText()
