"""The SQL of a COPY export: each column shaped as the Python writer writes it.

:func:`copy_statement` wraps a ``values_list()`` query, compiled by Django,
in ``COPY (SELECT <cells> FROM (<query>) ...) TO STDOUT (FORMAT csv, ...)``,
where every cell is the text ``csv.writer`` would write for Django's value:
``True``/``False``, integers, decimals as ``str(Decimal)`` writes them
(exponents below 1e-6 included), floats as ``repr()`` writes them, dates,
datetimes and times in the one shape of
:class:`~django_streamkit._writers.datetimes.DateTimeText`, UUIDs, choice
labels as a ``CASE``, formula escaping as a ``CASE`` on the first character.
NULL and the empty string are told apart as the writer's quoting rules tell
``None`` and ``""`` apart. What can't be written exactly raises
:class:`Inexact`, whose message says why; the export then takes the Python
path. See ``docs/csv.md``, "PostgreSQL: COPY".
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django_streamkit._writers.csv_text import TRIGGERS, escape_cell
from django_streamkit._writers.datetimes import ISO, DateTimeText

INTEGERS = frozenset({"int2", "int4", "int8"})
TEXTS = frozenset({"text", "varchar"})
#: Types whose Python values csv.writer's QUOTE_NONNUMERIC sees as numbers
#: (``PyNumber_Check``: a ``bool`` is an ``int``, a ``UUID`` has ``__int__``).
FLOATS = frozenset({"float4", "float8"})
NUMBERS = INTEGERS | FLOATS | {"numeric", "bool", "uuid"}
SHAPED = NUMBERS | TEXTS | {"date", "timestamptz", "timestamp", "time", "uuid"}
QUOTINGS = (csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC)

_TIMESTAMP = "'YYYY-MM-DD\"T\"HH24:MI:SS.US'"
# The triggers' code points: ascii() of the first character, no string made.
_ESCAPED = ", ".join(str(ord(t)) for t in TRIGGERS)
# Above every trigger: most text starts there (letters, any non-ASCII).
_ABOVE = max(map(ord, TRIGGERS)) + 1


class Inexact(Exception):
    """COPY can't write this export byte for byte as the Python writer does."""


@dataclass(frozen=True)
class Column:
    """One exported column: its PostgreSQL type and how it is written."""

    kind: str
    labels: Mapping[object, str] | None = None
    escape: bool = False
    #: A numeric column's declared scale: at most 6, str() writes no exponent.
    scale: int | None = None


def writer_options(dialect: Any) -> tuple[str, str, int]:
    """The delimiter, quote character and quoting of a ``csv.writer``'s
    dialect, where COPY writes the same; else :class:`Inexact`."""
    delimiter, quote = dialect.delimiter, dialect.quotechar
    if dialect.quoting not in QUOTINGS:
        raise Inexact(f"quoting={dialect.quoting!r} has no COPY equivalent")
    if quote is None or not dialect.doublequote or dialect.escapechar is not None:
        raise Inexact("COPY doubles quote characters; no escapechar")
    if delimiter == quote:  # Python before 3.12 allows it
        raise Inexact("COPY's delimiter and quote character must differ")
    if dialect.skipinitialspace:
        raise Inexact("skipinitialspace=True quotes cells COPY leaves bare")
    for name, char in (("delimiter", delimiter), ("quotechar", quote)):
        if not ((char.isascii() and char.isprintable()) or char == "\t"):
            raise Inexact(f"{name}={char!r} is not one printable ASCII character")
    if dialect.lineterminator not in ("\r\n", "\n", "\r"):
        raise Inexact(
            f"lineterminator={dialect.lineterminator!r}: COPY ends rows with "
            "a line break, and quotes no other terminator's characters"
        )
    return delimiter, quote, dialect.quoting


def column(
    kind: str,
    labels: Mapping[object, str] | None,
    escape: bool,
    quoting: int,
    single: bool,
    scale: int | None = None,
) -> Column:
    """How one column is written, or :class:`Inexact`."""
    if kind not in SHAPED:
        raise Inexact(f"a {kind} column (Django's value is written by Python)")
    if single and (kind in TEXTS or labels):
        raise Inexact("a lone text column: COPY quotes a cell \\. alone on a line")
    if labels:
        wanted = str if kind in TEXTS else int
        if kind not in TEXTS | INTEGERS or not all(
            type(key) is wanted or key is None for key in labels
        ):
            raise Inexact(f"choice labels keyed by values a {kind} column can't hold")
        if not all(isinstance(label, str) for label in labels.values()):
            raise Inexact("choice labels that are not text (csv.writer's str())")
        if quoting == csv.QUOTE_NONNUMERIC and kind in NUMBERS:
            raise Inexact("labelled numbers: QUOTE_NONNUMERIC quotes labels only")
    return Column(kind, labels, escape and (kind in TEXTS or bool(labels)), scale)


def cell(
    ref: str,
    col: Column,
    datetimes: DateTimeText,
    params: list[object],
    iso_dates: bool = False,
    *,
    empty_null: bool = False,
) -> str:
    """The SQL of ``col``'s text (NULL for ``None``), adding its ``params``;
    with ``empty_null``, NULL for ``""`` too where :func:`nulls_empty` says
    it costs nothing (an escaped text column's ``CASE`` tells "" apart)."""
    shaped: list[object] = []
    if col.kind == "numeric" and col.scale is not None and col.scale <= 6:
        value = f"{ref}::text"  # never below 1e-6 but 0, never with an exponent
    else:
        kind = "date ISO" if col.kind == "date" and iso_dates else col.kind
        value = _shaped(ref, kind, datetimes, shaped)
        if col.kind in _RANGES:
            local = col.kind == "timestamptz" and not datetimes.utc
            value = _in_range(ref, col.kind, value, local)
            if local:  # the value's, the guard's zone, the value's again
                shaped[:] = [*shaped, _zone_name(datetimes), *shaped]
    if col.escape and col.kind in TEXTS:
        value = _escaped(value, empty_null and nulls_empty(col))
    if col.labels is None:
        params.extend(shaped)
        return value
    # labels.get(value, value): a label where the value has one, else the value.
    branches: list[str] = []
    for key, label in col.labels.items():
        text = str(escape_cell(label)) if col.escape else label
        if key is None:
            branches.insert(0, f"WHEN {ref} IS NULL THEN %s")
            params.insert(len(params) - 2 * (len(branches) - 1), text)
        else:
            branches.append(f"WHEN {ref} = %s THEN %s")
            params.extend((key, text))
    params.extend(shaped)
    return f"(CASE {' '.join(branches)} ELSE {value} END)"


# What Python's date, datetime and time hold; PostgreSQL also holds BC and
# years after 9999, 'infinity' (whose to_char() is NULL) and 24:00.
_RANGES = {
    "date": ("0001-01-01", "9999-12-31", "dates (years 1 to 9999)"),
    "timestamp": (
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59.999999",
        "datetimes (years 1 to 9999)",
    ),
    "timestamptz": (
        "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00",
        "datetimes (years 1 to 9999 in UTC)",
    ),
    "time": ("00:00:00", "23:59:59.999999", "times (up to 23:59:59.999999)"),
}


def _in_range(ref: str, kind: str, value: str, local: bool = False) -> str:
    # Out of range, the Python path's read raises naming the value; here a
    # cast of a message naming it raises as the row is made (never at
    # planning: it depends on the row). ``local``: the wall-clock time in
    # the zone of the next parameter must be in range too (as astimezone()
    # raises OverflowError beyond it).
    low, high, what = _RANGES[kind]
    outside = f"{ref} < '{low}' OR {ref} > '{high}'"
    inside = ""
    if local:
        low, high, _ = _RANGES["timestamp"]
        wall = f"({ref} AT TIME ZONE %s)"
        outside += f" OR {wall} NOT BETWEEN '{low}' AND '{high}'"
        what = f"{what} and in the current time zone"
        # Two days from either end no zone's offset reaches: no conversion.
        inside = (
            f"WHEN {ref} BETWEEN '0001-01-03 00:00:00+00'"
            f" AND '9999-12-29 23:59:59.999999+00' THEN {value} "
        )
    message = (
        f"'CSV export: ' || {ref}::text || ' is outside Python''s {what}; "
        "filter it out or export the column as text'"
    )
    return (
        f"(CASE {inside}WHEN {outside} THEN ({message})::{kind}::text ELSE {value} END)"
    )


def nulls_empty(col: Column) -> bool:
    """Whether :func:`cell` with ``empty_null`` already writes ``""`` as NULL."""
    return col.escape and col.kind in TEXTS and col.labels is None


def _escaped(value: str, empty_null: bool) -> str:
    # One comparison for most cells (a letter or any non-ASCII first), the
    # triggers' list only below them; ascii('') is 0.
    first = f"ascii({value})"
    quote = "''''"  # SQL for one '
    empty = f"WHEN {first} = 0 THEN NULL " if empty_null else ""
    return (
        f"(CASE WHEN {first} >= {_ABOVE} THEN {value}"
        f" WHEN {first} IN ({_ESCAPED}) THEN {quote} || {value}"
        f" {empty}ELSE {value} END)"
    )


def _shaped(ref: str, kind: str, datetimes: DateTimeText, params: list[object]) -> str:
    if kind == "bool":
        return f"(CASE WHEN {ref} THEN 'True' WHEN NOT {ref} THEN 'False' END)"
    if kind == "numeric":
        return _decimal(ref)
    if kind == "float8":
        return _float(ref)
    if kind == "float4":
        return _real(ref)
    if kind == "date":
        return f"to_char({ref}, 'YYYY-MM-DD')"
    if kind == "date ISO":  # a date's text where DateStyle is ISO
        return f"{ref}::text"
    if kind == "time":
        return f"to_char({ref}::interval, 'HH24:MI:SS.US')"
    if kind == "timestamp":
        return f"to_char({ref}, {_TIMESTAMP})"
    if kind == "timestamptz":
        zone = "UTC" if datetimes.style == ISO else _zone_name(datetimes)
        params.append(zone)
        text = f"to_char({ref} AT TIME ZONE %s, {_TIMESTAMP})"
        return f"({text} || '{datetimes.offset}')" if datetimes.offset else text
    return f"{ref}::text"  # integers, text, UUIDs: PostgreSQL's text is str()'s


def _decimal(ref: str) -> str:
    # str(Decimal) writes an exponent when it is below -6 ("1E-7",
    # "1.20E-8", "0E-7"); PostgreSQL's text never does.
    digits = f"ltrim(replace(abs({ref})::text, '.', ''), '0')"
    return (
        f"(CASE WHEN {ref} = 'NaN' OR abs({ref}) >= 0.000001"
        f" OR ({ref} = 0 AND scale({ref}) <= 6) THEN {ref}::text"
        f" WHEN {ref} = 0 THEN '0E-' || scale({ref})"
        f" ELSE (CASE WHEN {ref} < 0 THEN '-' ELSE '' END) || left({digits}, 1)"
        f" || (CASE WHEN length({digits}) > 1 THEN '.' || substr({digits}, 2)"
        f" ELSE '' END) || 'E' || (length({digits}) - 1 - scale({ref}))::text END)"
    )


def _float(ref: str) -> str:
    # repr() writes fixed notation from 1e-4 to below 1e16, with ".0" when
    # integral, and 'nan', 'inf'. PostgreSQL's shortest text (with
    # extra_float_digits > 0) has the same scientific form ("1e-05",
    # "1.5e+300"), but is scientific from 1e15, writes whole numbers bare
    # and 'NaN', 'Infinity'. 1e15 and 1e16 are doubles, so no value below
    # either has digits that round up to it. From 1e15 to 1e16 the digits'
    # numeric writes them in fixed notation (a fraction has one digit
    # there). NaN is above every number, so above 1e15.
    text = f"{ref}::text"
    return (
        f"(CASE WHEN abs({ref}) >= '1e15' THEN (CASE"
        f" WHEN abs({ref}) < '1e16' THEN {text}::numeric::text"
        f" || (CASE WHEN {ref} = trunc({ref}) THEN '.0' ELSE '' END)"
        f" WHEN {ref} = 'NaN' THEN 'nan'"
        f" WHEN {ref} = 'Infinity' THEN 'inf'"
        f" WHEN {ref} = '-Infinity' THEN '-inf'"
        f" WHEN abs({ref}) < '1e300' THEN {_large_float(ref)}"
        f" ELSE {text} END)"
        f" WHEN {ref} = trunc({ref}) THEN {text} || '.0'"
        f" ELSE {text} END)"
    )


def _real(ref: str) -> str:
    # psycopg reads a real's text into a double, whose repr() has the same
    # digits: any other decimal that reads back as that double is within one
    # of its units in the last place (about 1e-16 of it) of the text, and
    # two decimals of at most 9 digits are 1e-9 of it apart. PostgreSQL
    # writes reals in scientific notation from 1e6 (a real, as 1e16 is not),
    # so from 1e6 the text's exponent says which notation repr() writes, and
    # the text's numeric writes the fixed one. A real's text is integral
    # when the real is (integers below 2**24 are reals; above, all are).
    text = f"{ref}::text"
    return (
        f"(CASE WHEN abs({ref}) >= '1e6' THEN (CASE"
        f" WHEN {ref} = 'NaN' THEN 'nan'"
        f" WHEN {ref} = 'Infinity' THEN 'inf'"
        f" WHEN {ref} = '-Infinity' THEN '-inf'"
        f" WHEN split_part({text}, 'e', 2)::int < 16 THEN {text}::numeric::text"
        f" || (CASE WHEN {ref} = trunc({ref}) THEN '.0' ELSE '' END)"
        f" ELSE {text} END)"
        f" WHEN {ref} = trunc({ref}) THEN {text} || '.0'"
        f" ELSE {text} END)"
    )


def _large_float(ref: str) -> str:
    # PostgreSQL's digits are the shortest strictly inside the interval that
    # reads back as the value; repr()'s may be its bound, which reads back
    # as the value when the mantissa is even (round half to even): from
    # 2**54 (where the bounds are integers) such a bound can be shorter
    # ("5.476759872973222e+16" against "5.4767598729732224e+16"; "1e+23").
    # A shorter string that reads back is, in n - 1 digits, one of the two
    # neighbours of PostgreSQL's n digits (a point between would be inside),
    # and at most one of them reads back; without one, the digits are the
    # same. A bound is (2m + 1) * 2**k with 2m + 1 < 2**54, so its trailing
    # zeros are fewer than 24 and it is below 1e39: the check stops at
    # 1e300, where the neighbour above can't overflow. Nor can PostgreSQL's
    # digits be fewer than 16 there: two decimals of 15 digits are further
    # apart (1e-15 of the value) than the interval is wide (2.2e-16), so
    # texts shorter than "d.ddddddddddddddde+XX" (21 characters) are kept.
    value = f"abs({ref})"
    digits = f"replace(split_part({value}::text, 'e', 1), '.', '')"
    step = f"(split_part({value}::text, 'e', 2)::int - length({digits}) + 2)"
    low = f"trunc({value}::text::numeric, -{step})"
    high = f"({low} + ('1e' || {step})::numeric)"

    def written(number: str) -> str:  # an integer's text as repr() writes it
        kept = f"rtrim({number}::text, '0')"
        return (
            f"left({kept}, 1) || (CASE WHEN length({kept}) > 1 THEN '.'"
            f" || substr({kept}, 2) ELSE '' END) || 'e+'"
            f" || (length({number}::text) - 1)::text"
        )

    return (
        f"(CASE WHEN {ref} < 0 THEN '-' ELSE '' END) || (CASE"
        f" WHEN length({value}::text) < 21 THEN {value}::text"
        f" WHEN {low}::float8 = {value} THEN {written(low)}"
        f" WHEN {high}::float8 = {value} THEN {written(high)}"
        f" ELSE {value}::text END)"
    )


def _zone_name(datetimes: DateTimeText) -> str:
    if datetimes.utc:
        return "UTC"
    key = getattr(datetimes.timezone, "key", None)
    if not isinstance(key, str):
        raise Inexact(
            f"the time zone {datetimes.timezone!r} has no IANA name for PostgreSQL"
        )
    return key


def copy_statement(
    query_sql: str,
    query_params: Sequence[object],
    width: int,
    columns: Sequence[Column],
    dialect: Any,
    datetimes: DateTimeText,
    *,
    iso_dates: bool = False,
) -> tuple[str, list[object]]:
    """``COPY (...) TO STDOUT`` of the ``columns`` (the first of the query's
    ``width`` columns) and its parameters, merged client-side by psycopg.
    ``iso_dates``: the session's DateStyle writes dates as ``YYYY-MM-DD``."""
    delimiter, quote, quoting = writer_options(dialect)
    params: list[object] = []
    cells = []
    forced = []
    single = len(columns) == 1
    guarded = False
    for index, col in enumerate(columns):
        # csv.writer writes None as "" where it quotes every cell of the
        # column (and in a lone cell); COPY quotes an empty string, never NULL.
        quoted = quoting == csv.QUOTE_ALL or (
            quoting == csv.QUOTE_NONNUMERIC and col.kind not in NUMBERS
        )
        coalesced = quoted or single or quoting == csv.QUOTE_NONNUMERIC
        # Elsewhere "" is written bare, as None is.
        empty_null = not coalesced and (col.kind in TEXTS or bool(col.labels))
        ref = f'_sk."c{index}"'
        sql = cell(ref, col, datetimes, params, iso_dates, empty_null=empty_null)
        if col.kind in FLOATS and not guarded:
            sql = _digits_guard(sql)
            guarded = True
        if coalesced:
            sql = f"COALESCE({sql}, '')"
        elif empty_null and not nulls_empty(col):
            sql = f"NULLIF({sql}, '')"
        if quoted:
            forced.append(f'"c{index}"')
        cells.append(f'{sql} AS "c{index}"')
    names = ", ".join(f'"c{i}"' for i in range(width))
    options = [
        "FORMAT csv",
        f"DELIMITER {_literal(delimiter)}",
        f"QUOTE {_literal(quote)}",
    ]
    if forced:
        options.append(f"FORCE_QUOTE ({', '.join(forced)})")
    statement = (
        f"COPY (SELECT {', '.join(cells)} FROM ({query_sql}) AS _sk ({names}))"
        f" TO STDOUT ({', '.join(options)})"
    )
    return statement, [*params, *query_params]


def _digits_guard(sql: str) -> str:
    # The floats' shapes need the shortest text (extra_float_digits > 0),
    # which the query that learned the types saw; a statement of its own,
    # the COPY may run where another session's SET left it otherwise (a
    # pooler in transaction mode). The setting is read once (an InitPlan);
    # the error's text is not a constant, so it is not raised at planning.
    setting = "current_setting('extra_float_digits')"
    message = (
        f"('CSV export: extra_float_digits is ' || {setting} || ', so PostgreSQL "
        "writes floats with fewer digits than repr(); set it to 1 or more')"
    )
    return (
        f"(CASE WHEN (SELECT {setting}::int > 0) THEN {sql}"
        f" ELSE {message}::int::text END)"
    )


def _literal(char: str) -> str:
    if char == "\t":
        return "E'\\t'"
    return "'" + char.replace("'", "''").replace("%", "%%") + "'"
