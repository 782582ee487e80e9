"""QuerySets read a column at a time write the same bytes as Django's rows.

``stream_csv(queryset)`` (and ``CSVStreamView``) read the raw rows and convert
each fetched chunk a column at a time; the reference is the same QuerySet's
``.iterator()`` rows written by the same writer. Random rows of every value
type, on SQLite and PostgreSQL, through several dialects.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import re
from collections.abc import Callable, Generator
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.db.models import Count, DateTimeField, F, Max, Value
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_streamkit import StreamingJSONResponse, stream_csv
from django_streamkit._db import columns_reader
from django_streamkit._db import postgres as _cells_postgres
from django_streamkit._db import sqlite as _cells_sqlite
from django_streamkit.csv import queryset_rows
from tests.support.databases import each_database
from tests.support.testapp.models import Pair, Sample

FIELDS = [f.name for f in Sample._meta.concrete_fields]
DATABASES = each_database()


@pytest.fixture(autouse=True)
def _column_reader(settings: Any) -> None:
    # The column reader, here on PostgreSQL too; tests/test_copy.py holds
    # COPY to the same strategies.
    settings.STREAMKIT_CSV_COPY = False


DIALECTS: list[dict[str, Any]] = [
    {},
    {"dialect": "excel-tab"},
    {"quoting": csv.QUOTE_NONNUMERIC},
    {"quoting": csv.QUOTE_ALL, "delimiter": ";"},
    {"lineterminator": "\n"},
]


def decimals(digits: int, places: int) -> st.SearchStrategy[decimal.Decimal]:
    limit = decimal.Decimal(10) ** (digits - places) - decimal.Decimal(10) ** -places
    return st.decimals(
        min_value=-limit, max_value=limit, places=places, allow_nan=False
    )


def loose_decimals() -> st.SearchStrategy[decimal.Decimal]:
    """Decimals for a ``DecimalField`` of no fixed precision (``Sample.loose``).

    At most 15 significant digits (what SQLite keeps) at any scale from
    1e-25 to 1e19: tiny ones that ``str()`` writes with an exponent, whole
    ones, zeros with places. Within the Django 5.2 stand-in's
    ``max_digits=40, decimal_places=20`` too.
    """
    return st.builds(
        decimal.Decimal.scaleb,
        st.integers(-(10**15) + 1, 10**15 - 1).map(decimal.Decimal),
        st.integers(-25, 4),
    )


text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "text": text,
    "size": st.sampled_from(["s", "l", "x"]),
    "count": st.integers(-(2**63), 2**63 - 1),
    "ratio": st.floats(allow_nan=False, allow_infinity=False),
    "price": decimals(8, 2),
    "fine": decimals(15, 6),
    "wide": decimals(15, 9),  # SQLite keeps 15 digits; Django raises beyond
    "loose": loose_decimals(),
    "flag": st.booleans(),
    "day": st.dates(),
    "moment": st.datetimes(
        min_value=datetime.datetime(1, 1, 2),
        max_value=datetime.datetime(9999, 12, 30),
        timezones=st.just(datetime.UTC),
    ),
    "hour": st.times(),
    "key": st.uuids(),
}
# Whole columns of values (the fast shapes), or values and NULLs mixed.
full = st.builds(Sample, **VALUES)
sparse = st.builds(Sample, **{name: st.none() | s for name, s in VALUES.items()})


# Zones with summer time, a negative offset and a quarter-hour offset.
ZONES = ["UTC", "Europe/Paris", "America/Sao_Paulo", "Asia/Kathmandu"]
MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")
MOMENT_ISO = re.compile(MOMENT.pattern + r"\+00:00")
HOUR = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")


def _reading(options: dict[str, Any]) -> dict[str, Any]:
    # The reader's options; numbers stay text.
    return {k: v for k, v in options.items() if k in ("dialect", "delimiter")}


def both(queryset: Any, **options: Any) -> tuple[bytes, bytes]:
    """The column-wise bytes and the reference bytes of ``queryset``."""
    fast = b"".join(stream_csv(queryset, **options))
    reference = b"".join(stream_csv((row for row in queryset.iterator()), **options))
    return fast, reference


@pytest.mark.parametrize("db", DATABASES)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(full, max_size=12) | st.lists(sparse, max_size=12),
    options=st.sampled_from(DIALECTS),
    escape=st.booleans(),
    zone=st.sampled_from(ZONES),
    style=st.sampled_from(["local", "iso"]),
)
def test_same_bytes_as_the_rows_django_reads(
    db: str,
    rows: list[Sample],
    options: dict[str, Any],
    escape: bool,
    zone: str,
    style: str,
) -> None:
    Sample.objects.using(db).all().delete()
    Sample.objects.using(db).bulk_create(rows)
    queryset = Sample.objects.using(db).order_by("pk").values_list(*FIELDS)
    with (
        timezone.override(zone),
        override_settings(STREAMKIT_CSV_DATETIME_FORMAT=style),
    ):
        fast, reference = both(queryset, escape_formulas=escape, **options)
    assert fast == reference
    assert fast.count(b"\n") >= len(rows)
    # Every datetime and time of a column in one shape.
    reader = csv.reader(io.StringIO(fast.decode(), newline=""), **_reading(options))
    cells = [row for row in reader if row]
    moments = {row[FIELDS.index("moment")] for row in cells} - {""}
    hours = {row[FIELDS.index("hour")] for row in cells} - {""}
    shape = MOMENT if style == "local" else MOMENT_ISO
    assert all(shape.fullmatch(cell) for cell in moments), moments
    assert all(HOUR.fullmatch(cell) for cell in hours), hours


@pytest.mark.parametrize("db", DATABASES)
def test_the_column_reader_is_what_runs(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Sample.objects.using(db).bulk_create(
        [Sample(count=i, price=decimal.Decimal(i) / 4, text=f"t{i}") for i in range(50)]
    )
    chunks = []
    convert = columns_reader.convert

    def spy(chunk: list[Any], columns: Any) -> Any:
        chunks.append(len(chunk))
        return convert(chunk, columns)

    monkeypatch.setattr(columns_reader, "convert", spy)
    as_text = []
    text_init = _cells_postgres.Text.__init__

    def text_spy(self: Any, *args: Any) -> None:
        as_text.append(self)
        text_init(self, *args)

    monkeypatch.setattr(_cells_postgres.Text, "__init__", text_spy)
    queryset = Sample.objects.using(db).order_by("pk").values_list("count", "price")
    fast, reference = both(queryset)
    assert fast == reference
    assert chunks == [50]
    # On PostgreSQL both columns arrive as their text.
    assert len(as_text) == (2 if db == "postgres" else 0)


@pytest.mark.parametrize("db", DATABASES)
def test_a_decimal_field_of_any_precision(db: str) -> None:
    # Django 6.1's DecimalField() has no max_digits/decimal_places (before
    # it, Sample.loose is a precision beyond SQLite's 15 digits): no fast
    # shape, Django's converter, and the same bytes.
    values = ["0.1", "1E-20", "12345", "-3.5", None, "1.50", "1.23456789E+18", "0E-7"]
    Sample.objects.using(db).bulk_create(
        Sample(loose=None if value is None else decimal.Decimal(value), price=1)
        for value in values
    )
    queryset = Sample.objects.using(db).order_by("pk").values_list("loose", "price")
    for options in DIALECTS:
        fast, reference = both(queryset, **options)
        assert fast == reference
        assert fast.count(b"\n") == len(values)


@pytest.mark.django_db(databases=["default"])
def test_sqlite_values_outside_the_fast_shapes_take_djangos_converters() -> None:
    # Written behind the ORM's back: a float with more decimals than the
    # field's, text in a datetime column with an offset, a huge number.
    Sample.objects.bulk_create([Sample(text="a"), Sample(text="b"), Sample(text="c")])
    with connections["default"].cursor() as cursor:
        table = Sample._meta.db_table
        cursor.execute(
            f"UPDATE {table} SET price = 1.015, moment = "
            f"'2024-01-01 10:00:00+02:00' WHERE text = 'a'"
        )
        cursor.execute(
            f"UPDATE {table} SET price = 5, moment = "
            f"'2024-01-01 10:00:00.000000' WHERE text = 'b'"
        )
        cursor.execute(f"UPDATE {table} SET price = 1e20 WHERE text = 'c'")
    queryset = Sample.objects.order_by("pk").values_list("text", "price", "moment")
    fast, reference = both(queryset.filter(text__in=["a", "b"]))
    assert fast == reference
    assert b"1.02," in fast  # Django's 15-digit rounding, then quantize
    assert b"a,1.02,2024-01-01T08:00:00.000000\r\n" in fast  # the offset applied
    with pytest.raises(decimal.InvalidOperation):
        both(queryset.filter(text="c"))


@pytest.mark.django_db(databases=["default"])
def test_sqlite_dates_and_decimals_skip_djangos_converters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow: list[int] = []
    django_converters = _cells_sqlite.django_converters

    def spy(*args: Any) -> Any:
        cells = django_converters(*args)

        def counted(column: Any) -> Any:
            slow.append(len(column))
            return cells(column)

        return counted

    monkeypatch.setattr(_cells_sqlite, "django_converters", spy)
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    Sample.objects.bulk_create(
        Sample(
            price=decimal.Decimal(i) / 4 - 3,
            moment=None if i % 3 else moment + datetime.timedelta(microseconds=i),
        )
        for i in range(30)
    )
    queryset = Sample.objects.order_by("pk").values_list("price", "moment")
    fast, reference = both(queryset)
    assert fast == reference
    assert b"-3.00,2024-05-01T12:30:00.000000\r\n" in fast
    assert slow == []


@pytest.mark.parametrize("db", DATABASES)
def test_labels_and_expressions_see_djangos_values(db: str) -> None:
    Sample.objects.using(db).bulk_create(
        Sample(count=i % 3, size="sl"[i % 2], price=decimal.Decimal(i))
        for i in range(9)
    )
    queryset = (
        Sample.objects.using(db)
        .annotate(double=F("price") * 2, later=F("count") - 1)
        .order_by("pk")
        .values_list("count", "size", "double", "later")
    )
    labels = {0: {1: "one", 2: "two"}, 1: {"s": "Small"}}
    fast = b"".join(stream_csv(queryset_rows(queryset, labels)))
    reference = b"".join(stream_csv(iter(list(queryset_rows(queryset, labels)))))
    assert fast == reference
    lines = [line.split(b",") for line in fast.splitlines()]
    assert [line[:2] for line in lines[:3]] == [
        [b"0", b"Small"],
        [b"one", b"l"],
        [b"two", b"Small"],
    ]
    assert [line[3] for line in lines[:3]] == [b"-1", b"0", b"1"]


@pytest.mark.parametrize("db", DATABASES)
def test_grouped_and_distinct_dates(db: str) -> None:
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    Sample.objects.using(db).bulk_create(
        Sample(day=datetime.date(2024, 1, 1 + i % 3), moment=moment, count=i)
        for i in range(9)
    )
    samples = Sample.objects.using(db)
    grouped = (
        samples.values("day", "moment")
        .annotate(n=Count("id"), top=Max("count"))
        .order_by("day")
        .values_list("day", "moment", "n", "top")
    )
    fast, reference = both(grouped)
    assert fast == reference
    assert fast.splitlines()[0] == b"2024-01-01,2024-05-01T12:30:00.000000,3,6"
    distinct = samples.order_by("-day").values_list("day").distinct()
    fast, reference = both(distinct)
    assert fast == reference == b"2024-01-03\r\n2024-01-02\r\n2024-01-01\r\n"


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_rows_are_a_generator_whose_close_ends_the_transaction() -> None:
    Sample.objects.using("postgres").bulk_create(
        Sample(count=i, size="s") for i in range(20)
    )
    connection = connections["postgres"]
    queryset = Sample.objects.using("postgres").values_list("count", "size")
    for labels in ({}, {1: {"s": "Small"}}):
        rows = queryset_rows(queryset, labels)
        assert isinstance(rows, Generator)
        assert next(rows)[1] == ("Small" if labels else "s")
        assert connection.in_atomic_block, "read inside a transaction"
        rows.close()
        assert not connection.in_atomic_block, "closing ended it"
    with pytest.raises(ValueError, match="stop"):
        queryset_rows(queryset).throw(ValueError("stop"))


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_no_server_side_cursor_where_they_are_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DISABLE_SERVER_SIDE_CURSORS (a transaction-mode pooler): the column
    # reader, like .iterator(), must not declare a cursor.
    import psycopg

    connection = connections["postgres"]
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    Sample.objects.using("postgres").bulk_create(Sample(count=i) for i in range(5))
    cursors: list[object] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        cursors.append(context["cursor"].cursor)
        return execute(sql, params, many, context)

    queryset = Sample.objects.using("postgres").order_by("pk").values_list("count")
    with connection.execute_wrapper(spy):
        fast, reference = both(queryset)
    assert fast == reference == b"0\r\n1\r\n2\r\n3\r\n4\r\n"
    # The column reader reads keyset pages there: the page's end key (none:
    # one page holds the five rows), then the page; the reference, one query.
    assert len(cursors) == 3
    assert not any(isinstance(c, psycopg.ServerCursor) for c in cursors)


@pytest.mark.django_db
def test_an_aggregates_dates_stay_dates_where_the_quoting_tells_them_apart() -> None:
    Sample.objects.bulk_create([Sample(text="a", day=datetime.date(2020, 1, 2))])
    latest = Sample.objects.values_list("text").annotate(day=Max("day"))
    # Python 3.12's QUOTE_STRINGS quotes str and not dates; on 3.11, whose
    # modes all treat them alike, QUOTE_NONNUMERIC shows the same bytes.
    quoting = getattr(csv, "QUOTE_STRINGS", csv.QUOTE_NONNUMERIC)
    ours = b"".join(stream_csv(latest, quoting=quoting, escape_formulas=False))
    out = io.StringIO()
    csv.writer(out, quoting=quoting).writerows(list(latest))
    assert ours == out.getvalue().encode()
    assert ours.startswith(b'"a",')


@pytest.mark.parametrize("db", DATABASES)
def test_a_composite_primary_key_is_written_as_its_values(db: str) -> None:
    # A composite primary key is read row by row through Django's
    # results_iter(): on PostgreSQL its integers and the other columns must
    # be the values (a tuple of ints, a datetime), not the text they arrive
    # as for the column reader.
    Pair.objects.using(db).bulk_create(
        Pair(left=i, right=i % 2, name=f"n{i}") for i in range(3)
    )
    seen = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC)
    queryset = (
        Pair.objects.using(db)
        .annotate(seen=Value(seen, output_field=DateTimeField()))
        .order_by("name")
        .values_list("pk", "left", "name", "seen")
    )
    for options in DIALECTS:
        fast, reference = both(queryset, **options)
        assert fast == reference
    fast, _ = both(queryset)
    assert fast.splitlines()[1] == b'"(1, 1)",1,n1,2024-01-01T12:00:00.000000'


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("day", "0044-03-15 BC"),
        ("day", "12345-01-01"),
        ("moment", "10000-01-01 00:00:00+00"),
        ("moment", "infinity"),
    ],
)
def test_values_python_cannot_hold_raise_djangos_error(column: str, value: str) -> None:
    # Read as text, they are loaded by psycopg outside Django's cursor: the
    # error must still be Django's, as the rows Django reads raise it.
    from django.db import DataError, transaction

    Sample.objects.using("postgres").create(count=1, day=datetime.date(2024, 1, 2))
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Sample._meta.db_table} (count, {column}) VALUES (2, %s)",
            [value],
        )
    queryset = (
        Sample.objects.using("postgres").order_by("pk").values_list(column, "count")
    )
    with pytest.raises(DataError), transaction.atomic(using="postgres"):
        list(queryset.iterator())
    with pytest.raises(DataError, match="year"), transaction.atomic(using="postgres"):
        b"".join(stream_csv(queryset))


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_instants_in_a_session_zone_psycopg_cannot_name() -> None:
    # Set behind Django's back, a zone psycopg doesn't know ("<+05>-05"):
    # PostgreSQL writes "17:00:00+05", psycopg reads it in UTC (12:00), and
    # the fixed-width text must not pass for UTC's "+00".
    moment = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC)
    Sample.objects.using("postgres").bulk_create(
        Sample(moment=moment + datetime.timedelta(days=i), count=i) for i in range(3)
    )
    with connections["postgres"].cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE INTERVAL '+05:00' HOUR TO MINUTE")
    queryset = (
        Sample.objects.using("postgres").order_by("pk").values_list("moment", "count")
    )
    fast, reference = both(queryset)
    assert fast == reference
    assert fast.startswith(b"2024-01-01T12:00:00.000000,0\r\n")


def _outcome(write: Callable[[], bytes]) -> bytes | type[BaseException]:
    try:
        return write()
    except (decimal.InvalidOperation, ValueError, OverflowError) as error:
        return type(error)


@pytest.mark.django_db(databases=["default"])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    numbers=st.lists(
        st.floats()  # -0.0, inf; SQLite stores NaN as NULL
        | st.integers(-(2**63), 2**63 - 1)
        | st.integers(-(10**9), 10**9).map(lambda n: n / 1000)
        | st.sampled_from([5e-7, 1e-6, 0.5, 2.675, 1.005, 1e15, 999999.995]),
        min_size=1,
        max_size=6,
    ),
    field=st.sampled_from(["price", "fine", "wide"]),
)
def test_sqlite_numbers_written_behind_the_orms_back(
    numbers: list[float | int], field: str
) -> None:
    # Any REAL or INTEGER a DecimalField column may hold on SQLite: the
    # column reader's float round trip gives Django's decimals, or falls
    # back to Django's converter, which raises where Django's read raises.
    Sample.objects.all().delete()
    table = Sample._meta.db_table
    with connections["default"].cursor() as cursor:
        for number in numbers:
            cursor.execute(f"INSERT INTO {table} ({field}) VALUES (%s)", [number])
    queryset = Sample.objects.order_by("pk").values_list(field, "count")
    for options in DIALECTS:
        fast = _outcome(lambda o=options: b"".join(stream_csv(queryset, **o)))
        reference = _outcome(
            lambda o=options: b"".join(stream_csv(iter(list(queryset.iterator())), **o))
        )
        assert fast == reference
    values = queryset.values(field)
    body = _outcome(lambda: b"".join(StreamingJSONResponse(values)))
    document = _outcome(
        lambda: json.dumps(
            list(values),
            cls=DjangoJSONEncoder,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    )
    assert body == document


@pytest.mark.parametrize("db", DATABASES)
@pytest.mark.parametrize("style", ["iso", "local"])
def test_labels_of_datetimes_are_looked_up_by_the_datetime(db: str, style: str) -> None:
    # Written in UTC, SQLite's datetimes become their text without Python
    # parsing them; a labelled column's labels are keyed by datetimes.
    noon = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC)
    Sample.objects.using(db).bulk_create(
        Sample(moment=noon + datetime.timedelta(hours=i % 2), count=i) for i in range(4)
    )
    queryset = Sample.objects.using(db).order_by("pk").values_list("moment", "count")
    labels = {0: {noon: "noon"}}
    with override_settings(STREAMKIT_CSV_DATETIME_FORMAT=style):
        fast = b"".join(stream_csv(queryset_rows(queryset, labels)))
        reference = b"".join(stream_csv(iter(list(queryset_rows(queryset, labels)))))
    assert fast == reference
    assert fast.startswith(b"noon,0\r\n")
