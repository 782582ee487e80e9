"""The CSV options, named once, and the format they are validated into.

:class:`CSVOptions` types the keywords of :func:`~django_streamkit.csv.stream_csv`
and :class:`~django_streamkit.csv.StreamingCSVResponse`; :class:`CSVFormat`
is what they decide, checked once when the stream is made. No Django imports.
"""

from __future__ import annotations

import codecs
import csv
import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias, TypedDict

from django_streamkit._writers.csv_errors import check_header_encodes
from django_streamkit._writers.csv_text import PlainJoin, Row, Sink
from django_streamkit._writers.datetimes import DEFAULT_DATETIMES, DateTimeText

#: What :func:`csv.writer` takes as its dialect.
Dialect: TypeAlias = str | csv.Dialect | type[csv.Dialect]


class CSVFormatParams(TypedDict, total=False):
    """:func:`csv.writer`'s format parameters (``fmtparams``)."""

    delimiter: str
    doublequote: bool
    escapechar: str | None
    lineterminator: str
    quotechar: str | None
    quoting: int
    skipinitialspace: bool
    strict: bool


class CSVOptions(CSVFormatParams, total=False):
    """The keywords of ``stream_csv()`` and ``StreamingCSVResponse``.

    Defaults: ``header=None``, ``dialect="excel"``, ``escape_formulas=None``
    (the ``STREAMKIT_CSV_ESCAPE_FORMULAS`` setting), ``encoding="utf-8"``,
    ``bom=False``, ``chunk_size=None`` (``STREAMKIT_CHUNK_SIZE``).
    """

    header: Iterable[object] | None
    dialect: Dialect
    escape_formulas: bool | None
    #: Columns never escaped, even with escaping on (text you trust, such as
    #: phone numbers): header names, or 0-based positions.
    verbatim: Collection[str | int]
    encoding: str
    bom: bool
    chunk_size: int | None


#: csv.writer's format parameters, the only other keywords options may hold.
FORMAT_PARAMETERS = tuple(sorted(CSVFormatParams.__optional_keys__))
_OWN = CSVOptions.__optional_keys__ - CSVFormatParams.__optional_keys__
# The keywords of stream_csv() and StreamingCSVResponse, among which a
# misspelt one is looked for as well.
_KEYWORDS = (*sorted(_OWN), "filename", "status", "headers")

__all__ = ["CSVFormat", "CSVFormatParams", "CSVOptions", "Dialect", "Row"]

# Encodings whose encoder writes its own byte order mark.
SELF_MARKING = {"utf-16", "utf-32", "utf-8-sig"}


def format_params(options: Mapping[str, object]) -> dict[str, object]:
    """The keys of ``options`` that are not stream_csv()'s own: csv.writer's."""
    return {k: v for k, v in options.items() if k not in _OWN}


def unknown_option(fmtparams: Mapping[str, object]) -> ValueError | None:
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


def _listed(fmtparams: Mapping[str, object]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in fmtparams.items())


@dataclass(frozen=True)
class CSVFormat:
    """Everything that decides how rows become bytes, validated once."""

    header: list[object] | None
    dialect: Dialect
    fmtparams: Mapping[str, object]
    escape_formulas: bool
    encoding: str
    bom: bool
    chunk_size: int
    max_latency: float
    #: Cells that are text already write as csv.writer would write them
    #: (the dialect quotes minimally), so rows may be joined as text.
    joins_text: bool = False
    datetimes: DateTimeText = DEFAULT_DATETIMES
    #: Columns written as they are with escaping on: positions, and for dict
    #: rows their keys.
    verbatim: frozenset[int | str] = frozenset()
    #: The encoding as a Content-Type names it (utf-8-sig's BOM is no charset).
    charset: str = "utf-8"

    @classmethod
    def build(
        cls,
        options: CSVOptions,
        *,
        header: Iterable[object] | None,
        escape_formulas: bool,
        chunk_size: int,
        max_latency: float,
        datetimes: DateTimeText | None = None,
    ) -> CSVFormat:
        """The format of ``options``; ``header``, ``escape_formulas`` and
        ``chunk_size`` as the caller resolved them (from its settings)."""
        dialect = options.get("dialect", "excel")
        encoding = options.get("encoding", "utf-8")
        bom = options.get("bom", False)
        fmtparams = format_params(options)
        if isinstance(header, str | bytes):
            raise TypeError(
                f"header must be a sequence of column names, not the string "
                f"{header!r}; pass a list such as [{header!r}]."
            )
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"Unknown encoding {encoding!r}; pass a Python codec name such "
                f"as 'utf-8', 'utf-16' or 'cp1252'."
            ) from None
        if bom and codec.name not in SELF_MARKING:
            try:
                "\ufeff".encode(codec.name)
            except UnicodeEncodeError:
                raise ValueError(
                    f"bom=True needs a Unicode encoding such as 'utf-8'; "
                    f"{encoding!r} has no byte order mark."
                ) from None
        if (unknown := unknown_option(fmtparams)) is not None:
            raise unknown
        try:
            writer = csv.writer(Sink(), dialect, **fmtparams)  # type: ignore[arg-type]
        except (csv.Error, TypeError) as exc:
            if isinstance(dialect, str) and dialect not in csv.list_dialects():
                raise ValueError(
                    f"Unknown CSV dialect {dialect!r}; choose from "
                    f"{sorted(csv.list_dialects())} or pass a csv.Dialect "
                    "subclass."
                ) from None
            raise ValueError(
                f"Bad CSV format options ({_listed(fmtparams)}): {exc}"
            ) from None
        cells = None if header is None else list(header)
        check_header_encodes(cells, codec.name)
        verbatim = _verbatim(options.get("verbatim", ()), cells)
        return cls(
            header=cells,
            dialect=dialect,
            fmtparams=fmtparams,
            escape_formulas=escape_formulas,
            encoding=codec.name,
            bom=bom,
            chunk_size=chunk_size,
            max_latency=max_latency,
            joins_text=PlainJoin(writer.dialect).usable,
            datetimes=datetimes or DEFAULT_DATETIMES,
            verbatim=verbatim,
            charset="utf-8" if codec.name == "utf-8-sig" else encoding,
        )


def _verbatim(
    columns: Collection[str | int], header: list[object] | None
) -> frozenset[int | str]:
    """The positions (and header names, the keys of dict rows) of
    ``verbatim`` columns; a name must be in ``header``."""
    if isinstance(columns, str | bytes):
        raise TypeError(
            f"verbatim must be a list of columns, not the string {columns!r}; "
            f"write verbatim=[{columns!r}]."
        )
    kept: set[int | str] = set()
    for column in columns:
        if isinstance(column, int) and not isinstance(column, bool) and column >= 0:
            kept.add(column)
            if header is not None and column < len(header):
                kept.add(str(header[column]))
        elif isinstance(column, str) and header is not None:
            names = [str(cell) for cell in header]
            if column not in names:
                raise ValueError(
                    f"verbatim names the column {column!r}, which is not in the "
                    f"header; choose from {names} (or give 0-based positions)."
                )
            kept.update((names.index(column), column))
        elif isinstance(column, str):
            raise ValueError(
                f"verbatim names the column {column!r}, but there is no header "
                f"to find it in; pass header=[...] or its 0-based position."
            )
        else:
            raise TypeError(
                f"verbatim columns are header names or 0-based positions, not "
                f"{column!r}."
            )
    return frozenset(kept)
