"""Rows into worksheets: the header, column widths, and new sheets at the limit.

:class:`Workbook` writes batches of rows as worksheet XML into its
:class:`~django_streamkit._writers.xlsx_zip.Zipper` and returns the ZIP bytes
each batch made. The first batch decides the column widths (with the
header); a sheet that reaches ``rows_per_sheet`` rows ends, and the next one
starts with the same header and widths; so does one whose XML would grow
past ``max_sheet_bytes`` (a plain ZIP member's 4 GiB). Nothing here imports Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any, Final

from django_streamkit._writers.xlsx_cells import (
    CellError,
    Cells,
    display_width,
    header_cells,
)
from django_streamkit._writers.xlsx_parts import (
    DECLARATION,
    SHEET_END,
    final_parts,
    first_parts,
    sheet_name_for,
    sheet_path,
    sheet_start,
)
from django_streamkit._writers.xlsx_zip import MAX_SHEET_BYTES, Zipper

__all__ = ["MAX_COLUMNS", "Workbook"]

#: Excel's columns per sheet (A to XFD): a wider row makes a file it refuses.
MAX_COLUMNS: Final = 16_384

_ROW: Final = "<row>{}</row>".format
_MIN_WIDTH, _MAX_WIDTH, _SAMPLE = 6, 60, 100


class Workbook:
    """One streamed workbook; see the module's docstring."""

    def __init__(
        self,
        header: Sequence[str] | None,
        sheet_name: str,
        rows_per_sheet: int,
        cells: Cells,
        keys: Sequence[object] | None = None,
    ) -> None:
        self.header = header
        #: What dict rows are read by: the header's own values.
        self.header_keys: Sequence[object] = keys or header or ()
        self.sheet_name = sheet_name
        self.cells = cells
        self._capacity = rows_per_sheet - (header is not None)
        self._zip = Zipper(first_parts(), final_parts)
        self._sheets = 0
        self._names: set[str] = set()  # the sheets' names, casefolded
        self._room = 0  # rows the open sheet still takes
        self._rows = 0  # rows written, across sheets
        self._sheet_bytes = 0
        #: The open sheet's XML ends before it would grow past this.
        self.max_sheet_bytes = MAX_SHEET_BYTES
        self._widths: list[int] | None = None
        self._keys: list[Any] | None = None  # a dict row's keys, in header order
        self._iterables = False

    def head(self) -> bytes:
        """The bytes before the first row: every part up to the first sheet's."""
        self._open_sheet()
        return self._zip.push(DECLARATION.encode())

    def write(self, rows: Sequence[Any]) -> bytes:
        """``rows`` as ZIP bytes, every one of them out of the compressor."""
        if not rows:
            return b""
        if self._widths is None:
            self._bind(rows[0])
            rows = self._as_lists(rows)
            self._widths = self._measure(rows)
            self._zip.write(self._start().encode())
        else:
            rows = self._as_lists(rows)
        rows = list(rows)
        if max(map(len, rows)) > MAX_COLUMNS:
            raise self._too_wide(rows)
        while rows:
            if not self._room:
                self._next_sheet()
            part, rows = rows[: self._room], rows[self._room :]
            xml = self._rows_xml(part).encode()
            if self._sheet_bytes + len(xml) > self.max_sheet_bytes:
                self._next_sheet()  # before the sheet outgrows a ZIP member
            self._zip.write(xml)
            self._sheet_bytes += len(xml)
            self._room -= len(part)
            self._rows += len(part)
        return self._zip.push()

    def tail(self) -> bytes:
        """The last bytes: the open sheet's end, the workbook, the directory."""
        if self._widths is None:
            self._widths = self._measure([])
            self._zip.write(self._start().encode())
        self._zip.write(SHEET_END.encode())
        self._zip.end_sheet()
        return self._zip.finish()

    # -- sheets ------------------------------------------------------------

    def _next_sheet(self) -> None:
        self._zip.write(SHEET_END.encode())
        self._zip.end_sheet()
        self._open_sheet()
        start = (DECLARATION + self._start()).encode()
        self._zip.write(start)
        self._sheet_bytes = len(start)

    def _open_sheet(self) -> None:
        self._sheets += 1
        self._room = self._capacity
        name = sheet_name_for(self.sheet_name, self._sheets, self._names)
        self._names.add(name.casefold())
        self._zip.open_sheet(sheet_path(self._sheets), name)

    def _start(self) -> str:
        assert self._widths is not None
        xml = sheet_start(self._widths, frozen=self.header is not None)
        if self.header is not None:
            xml += _ROW(header_cells(self.header))
        return xml

    def _measure(self, rows: Sequence[Sequence[object]]) -> list[int]:
        columns: list[list[int]] = []
        for row in [*([self.header] if self.header else []), *islice(rows, _SAMPLE)]:
            for index, value in enumerate(row):
                if index == len(columns):
                    columns.append([])
                columns[index].append(display_width(value))
        return [max(_MIN_WIDTH, min(_MAX_WIDTH, max(widths) + 2)) for widths in columns]

    # -- rows --------------------------------------------------------------

    def _bind(self, first: object) -> None:
        if isinstance(first, str | bytes) or not hasattr(first, "__iter__"):
            raise TypeError(
                f"Each row must be a sequence of cells or a dict, not {first!r} "
                f"({type(first).__name__}); wrap a single value as [value]."
            )
        if isinstance(first, Mapping):
            if self.header is None:
                raise ValueError(
                    "Rows are dicts but there is no header to order their keys: "
                    "pass header=[...] with the keys, in column order."
                )
            self._keys = list(self.header_keys)
        elif not isinstance(first, Sequence):
            self._iterables = True  # rows without a length, made into tuples

    def _as_lists(self, rows: Sequence[Any]) -> Sequence[Sequence[object]]:
        keys = self._keys
        if keys is None:
            if self._iterables:
                return [r if isinstance(r, Sequence) else tuple(r) for r in rows]
            return rows
        try:
            return [[row[key] for key in keys] for row in rows]
        except (KeyError, TypeError, IndexError):
            for row in rows:
                if not isinstance(row, Mapping):
                    raise TypeError(
                        f"Row {row!r} is not a dict, as the first row was; give "
                        f"every row the same shape."
                    ) from None
                if missing := [key for key in keys if key not in row]:
                    raise ValueError(
                        f"Row {row!r} has no value for {missing!r}; each dict "
                        f"row needs every header key: {keys!r}."
                    ) from None
            raise

    def _rows_xml(self, rows: Sequence[Sequence[object]]) -> str:
        cells = self.cells
        if len(set(map(len, rows))) == 1 and rows[0]:
            written = []
            for column, values in enumerate(zip(*rows, strict=True)):
                try:
                    written.append(cells.column(values))
                except CellError as error:
                    raise self._error(error, error.index, column) from None
            return "".join(map(_ROW, map("".join, zip(*written, strict=True))))
        out = []
        for index, row in enumerate(rows):
            for column, value in enumerate(row):
                try:
                    cells.cell(value)
                except CellError as error:
                    raise self._error(error, index, column) from None
            out.append(_ROW("".join(map(cells.cell, row))))
        return "".join(out)

    def _too_wide(self, rows: Sequence[Sequence[object]]) -> ValueError:
        index = next(i for i, row in enumerate(rows) if len(row) > MAX_COLUMNS)
        return ValueError(
            f"Row {self._rows + index + 1} has {len(rows[index]):,} cells; a sheet "
            f"holds at most {MAX_COLUMNS:,} columns (Excel's XFD): split the "
            f"columns."
        )

    def _error(self, error: CellError, index: int, column: int) -> ValueError:
        label = (
            f" ({self.header[column]!r})"
            if self.header and column < len(self.header)
            else ""
        )
        return ValueError(
            f"Row {self._rows + index + 1}, column {column + 1}{label}: {error}."
        )
