"""What written CSV text holds: formula triggers, and when ``str.join`` suffices.

Pure functions and checks over :mod:`csv` output, with no Django imports; the
batching writer in :mod:`django_streamkit._writers.csv` uses them.
"""

from __future__ import annotations

import csv
import difflib
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: A cell whose text starts with one of these is a formula to a spreadsheet.
TRIGGERS = "=+-@\t\r"


def escape_cell(value: Any) -> Any:
    """Prefix ``'`` to a non-numeric cell whose text starts with a trigger."""
    if isinstance(value, str):
        return "'" + value if value[:1] in _TRIGGER_SET else value
    if value is None or isinstance(value, numbers.Number):
        return value
    text = str(value)
    return "'" + text if text[:1] in _TRIGGER_SET else value


_TRIGGER_SET = frozenset(TRIGGERS)


def escape_row(row: Any) -> Any:
    if isinstance(row, Mapping):
        return {key: escape_cell(value) for key, value in row.items()}
    if iter(row) is row:
        raise TypeError(
            f"CSV rows must be sequences (lists, tuples) or dicts, not one-shot "
            f"iterators such as {type(row).__name__}; formula escaping may need "
            f"to read a row twice. Yield list(row) instead."
        )
    return [escape_cell(value) for value in row]


class FormulaCheck:
    """A cheap test of written CSV for fields that *may* start with a trigger.

    A field starts after a delimiter or a line terminator (or at the start of
    a batch), bare or behind the dialect's quote or escape character. A
    trigger that is itself structural (the delimiter, or part of the line
    terminator, like ``\\r`` in ``\\r\\n`` or tab in ``excel-tab``) is only
    a cell's first character when quoted or escaped, as :mod:`csv` always
    quotes or escapes it inside a cell.

    The test costs one ``memchr``-speed ``in`` per trigger; only characters
    that occur are looked at further, by patterns with a literal first
    character (which :mod:`re` also scans for quickly). A false positive only
    costs a checked rewrite of the batch; a false negative cannot happen.
    """

    def __init__(self, dialect: Any) -> None:
        terminator = dialect.lineterminator
        structural = {dialect.delimiter, *terminator}
        self.free = "".join(t for t in TRIGGERS if t not in structural)
        self.wrappers = "".join(c for c in (dialect.quotechar, dialect.escapechar) if c)
        self.exhaustive = not terminator  # no row boundary to look for
        starts = f"[{re.escape(dialect.delimiter)}{re.escape(terminator[-1:])}]"
        anywhere = f"[{re.escape(TRIGGERS)}]"
        self.patterns: list[tuple[str, re.Pattern[str]]] = [
            (t, re.compile(f"{re.escape(t)}(?<={starts}{re.escape(t)})"))
            for t in self.free
        ] + [
            (
                w,
                re.compile(
                    f"{re.escape(w)}{anywhere}(?<={starts}{re.escape(w)}{anywhere})"
                ),
            )
            for w in self.wrappers
        ]

    def __call__(self, text: str) -> bool:
        if self.exhaustive:
            return True
        first = text[:1]
        if first in self.free or (first in self.wrappers and text[1:2] in TRIGGERS):
            return bool(first)
        return any(c in text and p.search(text) is not None for c, p in self.patterns)


class PlainJoin:
    """Write rows of plain text with ``str.join``, several times faster than
    ``csv.writer``, when the result is byte for byte what ``csv.writer`` makes.

    That is when every cell is a ``str`` and none needs quoting: no cell holds
    the delimiter, the quote or escape character, CR or LF, and no row is a
    single empty cell. Counting those characters in the joined text (C-speed
    ``str.count``) proves it: each count must equal what the row separators
    alone account for. Otherwise the batch goes to ``csv.writer``. Rows that
    rarely fit (numbers, dates, quoted text) are tried less and less often.
    """

    def __init__(self, dialect: Any) -> None:
        terminator = dialect.lineterminator
        self.usable = (
            dialect.quoting == csv.QUOTE_MINIMAL
            and not dialect.skipinitialspace
            and bool(terminator)
            and dialect.delimiter not in terminator + "\r\n"
        )
        self.delimiter = dialect.delimiter
        self.terminator = terminator
        self.join_cells = dialect.delimiter.join
        self.join_rows = terminator.join
        self.forbidden = [c for c in (dialect.quotechar, dialect.escapechar) if c]
        self.line_chars = [
            (c, terminator.count(c)) for c in sorted({*terminator, "\r", "\n"})
        ]
        self.misses = 0
        self.skip = 0

    def __call__(self, batch: list[Any]) -> str | None:
        if self.skip:
            self.skip -= 1
            return None
        text = self._join(batch)
        if text is None:
            self.misses += 1
            self.skip = 2 ** min(self.misses, 6) - 1
        else:
            self.misses = 0
        return text

    def _join(self, batch: list[Any]) -> str | None:
        try:
            text: str = self.join_rows(map(self.join_cells, batch)) + self.terminator
        except TypeError:  # a cell that is not a str
            return None
        rows = len(batch)
        lengths = list(map(len, batch))
        if text.count(self.delimiter) != sum(lengths) - rows:
            return None
        for char, per_row in self.line_chars:
            if text.count(char) != rows * per_row:
                return None
        if any(c in text for c in self.forbidden):
            return None
        if min(lengths) < 2 and (
            text.startswith(self.terminator) or self.terminator * 2 in text
        ):
            return None  # csv.writer writes a lone empty cell as ""
        return text


class Sink:
    """A file-like target for ``csv.writer``: collects each written line."""

    __slots__ = ("lines", "write")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write = self.lines.append

    def take(self) -> str:
        text = "".join(self.lines)
        self.lines.clear()
        return text


def _quotes_line_breaks() -> bool:
    sink = Sink()
    csv.writer(sink, lineterminator="\n").writerow(["\r"])
    return sink.take() == '"\r"\n'


#: Whether :mod:`csv` quotes (or escapes) CR and LF in a cell whatever the
#: line terminator: since Python 3.11.9 and 3.12.3 (older versions wrote it bare).
QUOTES_LINE_BREAKS = _quotes_line_breaks()


class BareLineBreaks:
    """Cells whose CR or LF an older :mod:`csv` writes bare.

    Before Python 3.11.9 and 3.12.3, ``csv.writer`` quoted or escaped only the line
    break characters its ``lineterminator`` holds: with ``"\\n"`` a cell
    ``"a\\rb"`` is written bare and reads back as two rows. Such text holds
    a CR (or LF) that the terminator does not, which one ``memchr``-speed
    ``in`` finds. The batch is then written again by a writer whose line
    terminator holds both (so it quotes or escapes them), and the extra
    ``\\r\\n`` is cut from the end of each line: the bytes newer Pythons
    write.
    """

    def __init__(self, dialect: Any) -> None:
        terminator = dialect.lineterminator
        self.strays = (
            ""
            if QUOTES_LINE_BREAKS
            else "".join(c for c in "\r\n" if c not in terminator)
        )
        self.fmtparams = {"lineterminator": terminator + "\r\n"}

    def found(self, text: str) -> bool:
        return bool(self.strays) and any(c in text for c in self.strays)

    @staticmethod
    def sink() -> Sink:
        sink = Sink()
        append = sink.lines.append
        sink.write = lambda line: append(line[:-2])
        return sink


def unwritable(
    exc: csv.Error,
    rows: list[Any],
    writerows: Callable[[list[Any]], Any],
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


#: csv.writer's format parameters, the only keywords fmtparams may hold.
FORMAT_PARAMETERS = (
    "delimiter",
    "doublequote",
    "escapechar",
    "lineterminator",
    "quotechar",
    "quoting",
    "skipinitialspace",
    "strict",
)
# Keywords of stream_csv() and StreamingCSVResponse, which a misspelt one
# lands among the format parameters as well.
_KEYWORDS = (
    "header",
    "dialect",
    "escape_formulas",
    "encoding",
    "bom",
    "chunk_size",
    "filename",
    "status",
    "headers",
)


def unknown_option(fmtparams: Mapping[str, Any]) -> ValueError | None:
    """The error for the first key of ``fmtparams`` csv has no option for."""
    for name, value in fmtparams.items():
        if name in FORMAT_PARAMETERS:
            continue
        close = difflib.get_close_matches(
            name.lower(), FORMAT_PARAMETERS + _KEYWORDS, n=1
        )
        guess = (
            f"; did you mean {close[0]!r}? Write {close[0]}={value!r}" if close else ""
        )
        return ValueError(
            f"Unknown CSV format option {name}={value!r}{guess}. csv.writer's "
            f"options are: {', '.join(FORMAT_PARAMETERS)}."
        )
    return None


def options(fmtparams: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in fmtparams.items())


def cell_text(value: Any) -> str:
    """A cell's text as :mod:`csv` writes it."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def unencodable(
    exc: UnicodeEncodeError,
    rows: Sequence[Any],
    header: Sequence[Any] | None,
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
        cells = row.items() if isinstance(row, Mapping) else enumerate(row)
        for key, value in cells:
            text = cell_text(value)
            if char not in text:
                continue
            if number is None:
                where = f"the header, column {key + 1}"
            else:
                if isinstance(row, Mapping):
                    column = repr(key)
                elif header is not None and key < len(header):
                    column = repr(header[key])
                else:
                    column = str(key + 1)
                where = f"row {number + index}, column {column}"
            at = text.index(char)
            return UnicodeEncodeError(
                encoding, text, at, at + 1, f"{where} {_encoding_fix(char, encoding)}"
            )
    return exc


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


def check_header_encodes(header: Sequence[Any] | None, encoding: str) -> None:
    """Raise :func:`unencodable`'s error for a header cell ``encoding`` lacks."""
    for cell in header or ():
        try:
            cell_text(cell).encode(encoding)
        except UnicodeEncodeError as exc:
            raise unencodable(exc, [header], None, None, encoding) from None


def extra_keys(
    exc: ValueError, rows: Sequence[Any], header: Sequence[Any] | None, number: int
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
