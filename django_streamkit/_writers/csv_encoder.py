"""Batches of rows to CSV bytes: one C-level ``writerows`` call per batch.

Values keep :mod:`csv`'s own conversion, which is already the one a
spreadsheet user expects: ``None`` is empty, floats are ``repr()``,
everything else is ``str()`` (so dates are ISO 8601, UUIDs are hyphenated and
lazy strings are resolved), but datetimes and times, which
:class:`~django_streamkit._writers.datetimes.DateTimeText` writes in one shape.

Rows of plain text are joined with ``str.join`` instead when that gives the
same bytes (see :class:`~django_streamkit._writers.csv_text.PlainJoin`).
Formula escaping (OWASP "CSV injection") costs a few ``memchr``-speed scans
of each written batch (see
:class:`~django_streamkit._writers.csv_text.FormulaCheck`): only when they
find a field that *could* start with a formula trigger is the batch written
again with each cell checked in Python. No Django imports.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Mapping, Sequence

from django_streamkit._writers.csv_errors import extra_keys, unencodable, unwritable
from django_streamkit._writers.csv_format import SELF_MARKING, CSVFormat
from django_streamkit._writers.csv_text import (
    BareLineBreaks,
    FormulaCheck,
    PlainJoin,
    Row,
    Sink,
    escape_cell,
    escape_row,
)

#: Writes rows (a csv writer's ``writerows``).
WriteRows = Callable[[Iterable[Row]], object]


class Encoder:
    """Writes batches of rows to text, escapes formulas, encodes to bytes."""

    def __init__(self, fmt: CSVFormat) -> None:
        self.fmt = fmt
        self.sink = sink = Sink()
        self.writer = writer = csv.writer(sink, fmt.dialect, **fmt.fmtparams)  # type: ignore[arg-type]
        self.writerows: WriteRows = writer.writerows
        self.dicts = False
        self.risky = FormulaCheck(writer.dialect) if fmt.escape_formulas else None
        plain = PlainJoin(writer.dialect)
        self.plain: PlainJoin | None = plain if plain.usable else None
        self.bare = BareLineBreaks(writer.dialect)
        self.encode = codecs.getincrementalencoder(fmt.encoding)().encode
        self.rows = 0  # data rows written so far

    def _writer(self, sink: Sink, **fmtparams: object) -> WriteRows:
        params = {**self.fmt.fmtparams, **fmtparams}
        if self.dicts:
            assert self.fmt.header is not None
            # Every row is a dict once the first one is (see bind()).
            return csv.DictWriter(  # type: ignore[return-value]
                sink,
                self.fmt.header,
                dialect=self.fmt.dialect,
                **params,  # type: ignore[arg-type]
            ).writerows
        return csv.writer(sink, self.fmt.dialect, **params).writerows  # type: ignore[arg-type]

    def bind(self, first_row: object) -> Callable[[Iterable[object]], Row] | None:
        """Choose how rows are written from the first one.

        Returns ``None`` when rows are written as they are, or the function
        that copies each row (one-shot iterators would be read twice by the
        checked rewrite, so anything but a sequence or a dict becomes a tuple).
        """
        if isinstance(first_row, Mapping):
            if self.fmt.header is None:
                raise TypeError(
                    "The rows are dicts, so header= must list their keys in "
                    f"column order, e.g. header={list(first_row)!r}."
                )
            self.plain = None
            self.dicts = True
            self.writerows = self._writer(self.sink)
            return None
        if isinstance(first_row, str | bytes):
            raise TypeError(
                "Each CSV row must be a sequence of cells, not a string "
                f"({first_row!r}); yield [value, ...] or a tuple."
            )
        if isinstance(first_row, list | tuple):
            return None
        if not hasattr(first_row, "__iter__"):
            raise TypeError(
                f"Each CSV row must be a sequence of cells or a dict, not "
                f"{first_row!r} ({type(first_row).__name__}); yield [value, ...] "
                "or a tuple."
            )
        return tuple

    def start(self) -> str:
        """The byte order mark and the header line, as text."""
        text = (
            "\ufeff" if self.fmt.bom and self.fmt.encoding not in SELF_MARKING else ""
        )
        if self.fmt.header is not None:
            header = self.fmt.header
            if self.fmt.escape_formulas:
                header = [escape_cell(cell) for cell in header]
            # Before bind(): written as a list, whatever the rows are.
            text += self._write([header], self.writer.writerows, header=True)
        return text

    def write(self, batch: list[Row], prefix: str = "") -> bytes:
        text = None if self.plain is None else self.plain(batch)
        if text is None:
            batch = self.fmt.datetimes.rows(batch)
            text = self._write(batch, self.writerows)
        if self.risky is not None and self.risky(text):
            keep = self.fmt.verbatim
            text = self._write([escape_row(row, keep) for row in batch], self.writerows)
        first = self.rows + 1
        self.rows += len(batch)
        try:
            return self.encode(prefix + text)
        except UnicodeEncodeError as exc:
            raise unencodable(
                exc, batch, self.fmt.header, first, self.fmt.encoding
            ) from exc

    def _write(
        self, rows: Sequence[Row], writerows: WriteRows, *, header: bool = False
    ) -> str:
        try:
            writerows(rows)
        except csv.Error as exc:
            self.sink.take()
            number = None if header else self.rows + 1
            raise unwritable(exc, rows, self._writer(Sink()), number) from exc
        except ValueError as exc:  # DictWriter's, for keys not in the header
            self.sink.take()
            if not self.dicts:
                raise
            dicts = [row for row in rows if isinstance(row, Mapping)]
            raise extra_keys(exc, dicts, self.fmt.header, self.rows + 1) from exc
        text = self.sink.take()
        if self.bare.found(text):
            # Written again as newer Pythons write it: quoted or escaped.
            sink = self.bare.sink()
            self._writer(sink, **self.bare.fmtparams)(rows)
            text = sink.take()
        return text
