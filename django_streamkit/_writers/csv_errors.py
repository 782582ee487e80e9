"""The errors of CSV writing: which row and cell, and the fix.

:mod:`csv` and the codecs say what failed; these name where (the row, the
column) and what to change. No Django imports.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence

from django_streamkit._writers.csv_text import Row


def unwritable(
    exc: csv.Error,
    rows: Sequence[Row],
    writerows: Callable[[list[Row]], object],
    number: int | None,
) -> csv.Error:
    """``exc``, naming the row :mod:`csv` cannot write and the fix.

    ``rows`` are those of the failed call, the first of them row ``number``
    (``None`` for the header); ``writerows`` writes them one by one (to a
    scratch sink) to find the culprit.
    """
    for index, row in enumerate(rows):
        try:
            writerows([row])
        except csv.Error:
            where = "The header" if number is None else f"Row {number + index}"
            return csv.Error(
                f"{where} {_short_repr(row)} cannot be written in this CSV "
                f"format ({exc}); {_fix(str(exc))}."
            )
    return exc


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _fix(message: str) -> str:
    if "escapechar" in message:
        return "pass escapechar= (e.g. '\\\\') or use a quoting that quotes it"
    if "must be quoted" in message:
        return "use a quoting other than csv.QUOTE_NONE, or leave such rows out"
    return "change the cell or the CSV format"


def cell_text(value: object) -> str:
    """A cell's text as :mod:`csv` writes it."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def unencodable(
    exc: UnicodeEncodeError,
    rows: Sequence[Row],
    header: Sequence[object] | None,
    number: int | None,
    encoding: str,
) -> UnicodeEncodeError:
    """``exc``, naming the row and column of the cell ``encoding`` cannot hold.

    ``rows`` are those encoded, the first of them row ``number`` (``None``:
    ``rows`` is ``[header]``). The error is the cell's own: its ``object`` is
    the cell's text and ``start``/``end`` the character's place in it.
    """
    char = exc.object[exc.start]
    for index, row in enumerate(rows):
        for column, value in _cells(row, header):
            text = cell_text(value)
            if char not in text:
                continue
            if number is None:
                where = f"the header, column {column}"
            else:
                where = f"row {number + index}, column {column}"
            at = text.index(char)
            return UnicodeEncodeError(
                encoding, text, at, at + 1, f"{where} {_encoding_fix(char, encoding)}"
            )
    return exc


def _cells(row: Row, header: Sequence[object] | None) -> Iterable[tuple[str, object]]:
    """Each cell of ``row`` and how its column is named: a dict's key, the
    header's name, else its number."""
    if isinstance(row, Mapping):
        return [(repr(key), value) for key, value in row.items()]
    names = [repr(name) for name in header or ()]
    return [
        (names[i] if i < len(names) else str(i + 1), value)
        for i, value in enumerate(row)
    ]


def _encoding_fix(char: str, encoding: str) -> str:
    if "\ud800" <= char <= "\udfff":
        return (
            "has a lone surrogate, which is no character and no encoding "
            "writes; replace it in the data: "
            "text.encode('utf-8', 'replace').decode('utf-8')."
        )
    return (
        f"has a character that {encoding!r} cannot write; pass encoding='utf-8' "
        "(bom=True for Excel), or replace such characters in the data: "
        f"text.encode({encoding!r}, 'replace').decode({encoding!r})."
    )


def check_header_encodes(header: Sequence[object] | None, encoding: str) -> None:
    """Raise :func:`unencodable`'s error for a header cell ``encoding`` lacks."""
    if header is None:
        return
    for cell in header:
        try:
            cell_text(cell).encode(encoding)
        except UnicodeEncodeError as exc:
            raise unencodable(exc, [header], None, None, encoding) from None


def extra_keys(
    exc: ValueError,
    rows: Sequence[Mapping[str, object]],
    header: Sequence[object] | None,
    number: int,
) -> ValueError:
    """``exc``, naming the first dict row (row ``number`` on) with keys not in
    ``header``, the keys and the fix."""
    fields = set(header or ())
    for index, row in enumerate(rows):
        extra = [key for key in row if key not in fields]
        if extra:
            return ValueError(
                f"Row {number + index} {_short_repr(row)} has keys that are not "
                f"in header: {', '.join(map(repr, extra))}; header is "
                f"{list(header or ())!r}. Add them to header= (in column order), or "
                "leave them out of the rows."
            )
    return exc
