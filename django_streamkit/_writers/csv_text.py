"""What written CSV text holds: formula triggers, and when ``str.join`` suffices.

Pure functions and checks over :mod:`csv` output, with no Django imports; the
batching writer in :mod:`django_streamkit._writers.csv_encoder` uses them.
"""

from __future__ import annotations

import csv
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from _csv import Dialect as WriterDialect  # a writer's .dialect

#: A row: a sequence of cells, or a dict keyed by the header's names.
Row: TypeAlias = Sequence[object] | Mapping[str, object]

#: A cell whose text starts with one of these is a formula to a spreadsheet.
TRIGGERS = "=+-@\t\r"


def escape_cell(value: object) -> object:
    """Prefix ``'`` to a non-numeric cell whose text starts with a trigger."""
    if isinstance(value, str):
        return "'" + value if value[:1] in _TRIGGER_SET else value
    if value is None or isinstance(value, numbers.Number):
        return value
    text = str(value)
    return "'" + text if text[:1] in _TRIGGER_SET else value


_TRIGGER_SET = frozenset(TRIGGERS)


def escape_row(
    row: Row | Iterator[object], keep: frozenset[int | str] = frozenset()
) -> Row:
    """``row`` with every cell escaped, but those at the positions (or, in a
    dict row, under the keys) in ``keep``."""
    if isinstance(row, Mapping):
        if keep:
            return {k: v if k in keep else escape_cell(v) for k, v in row.items()}
        return {key: escape_cell(value) for key, value in row.items()}
    if iter(row) is row:
        raise TypeError(
            f"CSV rows must be sequences (lists, tuples) or dicts, not one-shot "
            f"iterators such as {type(row).__name__}; formula escaping may need "
            f"to read a row twice. Yield list(row) instead."
        )
    if keep:
        return [v if i in keep else escape_cell(v) for i, v in enumerate(row)]
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

    def __init__(self, dialect: WriterDialect) -> None:
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

    def __init__(self, dialect: WriterDialect) -> None:
        terminator = dialect.lineterminator
        self.usable = (
            dialect.quoting == csv.QUOTE_MINIMAL
            and not dialect.skipinitialspace
            and bool(terminator)
            and dialect.delimiter not in terminator + "\r\n"
        )
        self.delimiter = dialect.delimiter
        self.terminator = terminator
        # A cell that is not a str makes it raise TypeError (see _join).
        self.join_cells: Callable[[Row], str] = dialect.delimiter.join  # type: ignore[assignment]
        self.join_rows = terminator.join
        self.forbidden = [c for c in (dialect.quotechar, dialect.escapechar) if c]
        self.line_chars = [
            (c, terminator.count(c)) for c in sorted({*terminator, "\r", "\n"})
        ]
        self.misses = 0
        self.skip = 0

    def __call__(self, batch: Sequence[Row]) -> str | None:
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

    def _join(self, batch: Sequence[Row]) -> str | None:
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

    def __init__(self, dialect: WriterDialect) -> None:
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
