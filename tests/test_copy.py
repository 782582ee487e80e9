"""PostgreSQL exports through COPY ... TO STDOUT write the Python writer's bytes.

Each case is written twice: with ``STREAMKIT_CSV_COPY`` on (the COPY path,
asserted to run) and off (today's column reader), and compared with the
reference, the same QuerySet's ``.iterator()`` rows written by the Python
writer. The fallbacks are asserted to fall back, with their reasons.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import random
import re
import struct
import sys
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections, transaction
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Concat, Upper
from django.test import RequestFactory, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_streamkit import stream_csv
from django_streamkit._db import copy as _copy
from django_streamkit.csv import queryset_rows
from django_streamkit.views import CSVStreamView
from tests.support.testapp.models import Author, Book, Sample
from tests.test_queryset_csv import DIALECTS, VALUES, ZONES

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["default", "postgres"]),
]

DB = "postgres"
# Every value type COPY writes exactly.
EXACT = [f.name for f in Sample._meta.concrete_fields]
MORE_DIALECTS: list[dict[str, Any]] = [
    *DIALECTS,
    {"quoting": csv.QUOTE_NONNUMERIC, "lineterminator": "\r"},
    {"delimiter": "|", "quotechar": "'"},
]


def _signed(floats: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return st.tuples(floats, st.booleans()).map(lambda p: -p[0] if p[1] else p[0])


# Where repr() and PostgreSQL's text part: integral values (".0"), exponents
# 15 (PostgreSQL's scientific, Python's fixed) and 16, the -4/-5 boundary,
# 17 significant digits, subnormals, NaN, the infinities, -0.0.
SPECIAL_FLOATS = [0.0, 1.0, 1e15, 1e15 + 0.25, 1e16, 9999999999999998.0, 1e-4]
SPECIAL_FLOATS += [
    1e-5,
    9.999999999999999e-05,
    0.00011,
    5e-324,
    2.2250738585072014e-308,
]
SPECIAL_FLOATS += [1.7976931348623157e308, 123456789012345.6, 0.1, 1 / 3, 2.0**53]
# From 2**54 to 1e39 repr()'s digits may be shorter than PostgreSQL's (a
# bound of the interval, which reads back by rounding half to even):
# "5.4767598729732224e+16", "9.999999999999999e+22", "7.0000000000000004e+22".
SPECIAL_FLOATS += [5.476759872973222e16, 1e23, 7e22, 2.0**54, 2.0**54 + 4]
SPECIAL_FLOATS += [float("nan"), float("inf")]
FLOATS = st.floats() | _signed(
    st.sampled_from(SPECIAL_FLOATS)
    | st.floats(1e14, 1e17)
    | st.floats(1e-6, 1e-3)
    | st.integers(0, 2**54).map(float)
    | st.builds(
        lambda digits, exponent: float(f"{digits}e{exponent}"),
        st.integers(10**16, 10**17 - 1),
        st.integers(-340, 300),
    )
)
COPY_VALUES = {**VALUES, "ratio": FLOATS}
full = st.builds(Sample, **COPY_VALUES)
sparse = st.builds(Sample, **{name: st.none() | s for name, s in COPY_VALUES.items()})


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[_copy.CopyFeed]:
    """Every COPY feed made, in order."""
    made: list[_copy.CopyFeed] = []
    build = _copy.copy_feed

    def spy(*args: Any) -> Any:
        feed = build(*args)
        if feed is not None:
            made.append(feed)
        return feed

    monkeypatch.setattr(_copy, "copy_feed", spy)
    monkeypatch.setattr("django_streamkit.csv.copy_feed", spy)
    return made


def three(
    queryset: Any, labels: Any = None, **options: Any
) -> tuple[bytes, bytes, bytes]:
    """COPY's bytes, the column reader's and the reference writer's."""
    copied = b"".join(stream_csv(queryset_rows(queryset, labels), **options))
    with override_settings(STREAMKIT_CSV_COPY=False):
        column = b"".join(stream_csv(queryset_rows(queryset, labels), **options))
    reference = b"".join(
        stream_csv(iter(list(queryset_rows(queryset, labels))), **options)
    )
    return copied, column, reference


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(full, max_size=10) | st.lists(sparse, max_size=10),
    options=st.sampled_from(MORE_DIALECTS),
    escape=st.booleans(),
    zone=st.sampled_from(ZONES),
    style=st.sampled_from(["local", "iso"]),
    verbatim=st.sets(st.sampled_from(EXACT), max_size=2),
    header=st.booleans(),
    bom=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]),
)
def test_every_value_type_and_dialect_writes_the_python_bytes(
    copies: list[_copy.CopyFeed],
    rows: list[Sample],
    options: dict[str, Any],
    escape: bool,
    zone: str,
    style: str,
    verbatim: set[str],
    header: bool,
    bom: bool,
    encoding: str,
) -> None:
    Sample.objects.using(DB).all().delete()
    Sample.objects.using(DB).bulk_create(rows)
    queryset = Sample.objects.using(DB).order_by("pk").values_list(*EXACT)
    copies.clear()
    with (
        timezone.override(zone),
        override_settings(STREAMKIT_CSV_DATETIME_FORMAT=style),
    ):
        copied, column, reference = three(
            queryset,
            escape_formulas=escape,
            header=EXACT if header else None,
            verbatim=[EXACT.index(name) for name in verbatim],
            bom=bom,
            encoding=encoding,
            **options,
        )
    assert len(copies) == 1, "written by COPY"
    assert copied == column == reference


@settings(max_examples=25, deadline=None)
@given(
    texts=st.lists(VALUES["text"] | st.none(), min_size=1, max_size=8),
    options=st.sampled_from(MORE_DIALECTS),
)
def test_any_text_with_labels_and_expressions(
    texts: list[str | None], options: dict[str, Any]
) -> None:
    Sample.objects.using(DB).all().delete()
    Sample.objects.using(DB).bulk_create(
        Sample(text=text, size="sl"[i % 2] if i % 3 else None, count=i)
        for i, text in enumerate(texts)
    )
    queryset = (
        Sample.objects.using(DB)
        .annotate(
            shout=Upper("text"),
            joined=Concat("size", Value("=,"), output_field=CharField()),
            later=F("count") - 1,
            kind=Case(When(count__gt=2, then=Value(1)), output_field=IntegerField()),
        )
        .order_by("pk")
        .values_list("text", "size", "shout", "joined", "later", "kind", "count")
    )
    labels = {1: {"s": "Small", "l": "=Large", None: "none"}, 6: {1: "one", 2: ""}}
    if options.get("quoting") == csv.QUOTE_NONNUMERIC:
        del labels[6]  # labelled numbers: Python's (see the fallbacks below)
    assert _copy.inexact(queryset_rows(queryset, labels), _fmt(options)) is None
    copied, column, reference = three(queryset, labels, **options)
    assert copied == column == reference


def _fmt(options: dict[str, Any]) -> Any:
    from django_streamkit.csv import _feed

    return _feed(iter(()), options).fmt  # type: ignore[arg-type]


def test_decimals_str_writes_with_an_exponent() -> None:
    values = ["0.1", "1E-20", "12345", "-3.5", "1.50", "1.23456789E+18", "0E-7"]
    values += ["0.000000", "-0.0000001", "0.00000100", "1.2300E-9"]
    Sample.objects.using(DB).bulk_create(
        Sample(loose=decimal.Decimal(value), fine=decimal.Decimal("0.000001"))
        for value in values
    )
    # Values the ORM won't save, but a column may hold.
    specials = ["NaN"]
    loose = Sample._meta.get_field("loose")
    if loose.max_digits is None and connections[DB].pg_version >= 140000:  # type: ignore[attr-defined]
        specials += ["Infinity", "-Infinity"]  # only in a numeric of no precision
    with connections[DB].cursor() as cursor:
        for special in specials:
            cursor.execute(
                f"INSERT INTO {Sample._meta.db_table} (loose) VALUES (%s::numeric)",
                [special],
            )
    queryset = Sample.objects.using(DB).order_by("pk").values_list("loose", "fine")
    copied, column, reference = three(queryset)
    assert copied == column == reference
    assert b"1E-20,0.000001\r\n" in copied
    assert copied.count(b"E-") >= 4  # str()'s exponents


def _random_doubles(count: int) -> list[float]:
    # Any bit pattern (every exponent, every digit count, NaN payloads), and
    # as many from 2**54 to 2**90, where the digits part (about 1 in 250).
    rng = random.Random(20261201)
    bits = [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(count)]
    large = [rng.getrandbits(53) * 2.0 ** rng.randint(2, 37) for _ in range(count)]
    return bits + large


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    floats=st.lists(st.none() | FLOATS, min_size=1, max_size=12),
    fields=st.sampled_from([("ratio", "count"), ("count", "ratio"), ("ratio",)]),
    options=st.sampled_from(MORE_DIALECTS),
    escape=st.booleans(),
)
def test_any_float_in_any_dialect_is_written_as_repr_writes_it(
    copies: list[_copy.CopyFeed],
    floats: list[float | None],
    fields: tuple[str, ...],
    options: dict[str, Any],
    escape: bool,
) -> None:
    Sample.objects.using(DB).all().delete()
    Sample.objects.using(DB).bulk_create(
        Sample(ratio=ratio, count=i) for i, ratio in enumerate(floats)
    )
    queryset = Sample.objects.using(DB).order_by("pk").values_list(*fields)
    copies.clear()
    copied, column, reference = three(queryset, escape_formulas=escape, **options)
    assert len(copies) == 1, "written by COPY"
    assert copied == column == reference


# Reals: their text, read into a double by psycopg, written by repr().
REALS = st.floats(width=32) | _signed(
    st.sampled_from([1e6, 999999.9375, 1e6 + 0.0625, 2.0**24, 2.0**24 + 2, 1e-45])
    | st.sampled_from([1e-5, 1e-4, 9999999562023526.0, 1.0000000272564224e16])
    | st.floats(1e5, 9.999999843067494e16, width=32)
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    reals=st.lists(st.none() | REALS, min_size=1, max_size=12),
    options=st.sampled_from(MORE_DIALECTS),
    escape=st.booleans(),
)
def test_any_real_is_written_as_repr_writes_the_double_psycopg_reads(
    copies: list[_copy.CopyFeed],
    reals: list[float | None],
    options: dict[str, Any],
    escape: bool,
) -> None:
    Sample.objects.using(DB).all().delete()
    Sample.objects.using(DB).bulk_create(
        Sample(ratio=ratio, count=i) for i, ratio in enumerate(reals)
    )
    queryset = (
        Sample.objects.using(DB)
        .annotate(real=RawSQL("ratio::real", [], output_field=FloatField()))
        .order_by("pk")
        .values_list("real", "count")
    )
    copies.clear()
    copied, column, reference = three(queryset, escape_formulas=escape, **options)
    assert len(copies) == 1, "written by COPY"
    assert copied == column == reference


def test_floats_and_float_expressions_are_written_as_repr_writes_them(
    copies: list[_copy.CopyFeed],
) -> None:
    values = [*SPECIAL_FLOATS, *(-value for value in SPECIAL_FLOATS), -0.0]
    values += [float("-inf"), *_random_doubles(2000)]
    Sample.objects.using(DB).bulk_create(
        Sample(ratio=ratio, count=i - 2000) for i, ratio in enumerate(values)
    )
    queryset = (
        Sample.objects.using(DB)
        .annotate(
            more=F("ratio") + 1,  # / 2 of a subnormal raises underflow
            cast=Cast("count", FloatField()),
            scaled=ExpressionWrapper(
                Cast("count", FloatField()) * Value(1e14), output_field=FloatField()
            ),
        )
        .order_by("pk")
        .values_list("ratio", "more", "cast", "scaled", "count")
    )
    for options in MORE_DIALECTS:
        for escape in (False, True):
            copies.clear()
            copied, column, reference = three(
                queryset, escape_formulas=escape, **options
            )
            assert len(copies) == 1, "written by COPY"
            assert copied == column == reference, options
    plain = b"".join(stream_csv(queryset.values_list("ratio")))  # type: ignore[arg-type]
    written = plain.decode().split()
    assert written[: len(SPECIAL_FLOATS)] == [repr(v) for v in SPECIAL_FLOATS]
    assert "1000000000000000.2" in written
    assert {"1e+16", "-0.0", "-inf", "nan", "1e-05", "1e+23"} <= set(written)


@pytest.mark.parametrize(
    ("digits", "copied"), [("0", False), ("-15", False), ("3", True)]
)
def test_floats_fall_back_where_the_session_writes_fewer_digits(
    copies: list[_copy.CopyFeed], digits: str, copied: bool
) -> None:
    # extra_float_digits <= 0 writes %.15g (and fewer) digits: not repr()'s.
    Sample.objects.using(DB).bulk_create(
        Sample(ratio=ratio, count=i) for i, ratio in enumerate([0.1, 1 / 3, 1e15, 2.5])
    )
    samples = Sample.objects.using(DB).order_by("pk")
    with connections[DB].cursor() as cursor:
        cursor.execute(f"SET extra_float_digits = {digits}")
    try:
        floats = samples.values_list("ratio", "count")
        reals = samples.annotate(
            real=RawSQL("ratio::real", [], output_field=FloatField())
        ).values_list("real")
        for rows in (floats, reals):
            why = _copy.inexact(queryset_rows(rows), _fmt({}))
            if copied:
                assert why is None
            else:
                assert "extra_float_digits" in (why or "")
        written, column, reference = three(floats)
        assert written == column == reference
        assert len(copies) == copied
        # Without a float column the setting changes nothing.
        written, column, reference = three(samples.values_list("count", "text"))
        assert written == column == reference
        assert len(copies) == copied + 1
    finally:
        with connections[DB].cursor() as cursor:
            cursor.execute("RESET extra_float_digits")


def test_a_copy_run_where_the_setting_changed_raises_instead_of_writing_digits() -> (
    None
):
    # The setting is learned before the COPY, which is a statement of its own
    # (behind a pooler in transaction mode, maybe in another session).
    from django.db import DataError

    Sample.objects.using(DB).bulk_create(Sample(ratio=1 / 3, count=i) for i in range(3))
    queryset = Sample.objects.using(DB).order_by("pk").values_list("count", "ratio")
    feed = _copy.copy_feed(queryset_rows(queryset), _fmt({}))
    assert feed is not None

    def read_after_a_set(feed: _copy.CopyFeed) -> bytes:
        # In a savepoint, whose rollback undoes the SET.
        with transaction.atomic(using=DB), connections[DB].cursor() as cursor:
            cursor.execute("SET extra_float_digits = 0")
            return b"".join(feed.chunks())

    with pytest.raises(DataError, match="extra_float_digits is 0"):
        read_after_a_set(feed)
    feed = _copy.copy_feed(queryset_rows(queryset), _fmt({}))
    assert feed is not None
    assert b"".join(feed.chunks()).startswith(b"0,0.3333333333333333\r\n")


def test_relations_annotations_and_filters_of_a_view(
    copies: list[_copy.CopyFeed],
) -> None:
    ann = Author.objects.using(DB).create(name="Ann", born=datetime.date(1970, 5, 6))
    bob = Author.objects.using(DB).create(name="=Bob, Jr.")
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    Book.objects.using(DB).bulk_create(
        Book(
            title=f'Title "{i}"\nline',
            author=(ann, bob)[i % 2],
            genre=("novel", "poetry")[i % 2],
            rating=1 + i % 3,
            price=decimal.Decimal(i) / 4 if i % 4 else None,
            published=moment if i % 3 else None,
        )
        for i in range(30)
    )

    class Export(CSVStreamView):
        queryset = Book.objects.using(DB).filter(rating__gte=2).order_by("-pk")
        fields = [
            *("title", "author__name", "author__born", "genre", "rating", "price"),
            "published__date",  # a truncation, whose converter changes nothing
        ]
        choices_as_labels = True
        bom = True

    response = Export.as_view()(RequestFactory().get("/"))
    body = b"".join(response)
    assert len(copies) == 1
    with override_settings(STREAMKIT_CSV_COPY=False):
        python = b"".join(Export.as_view()(RequestFactory().get("/")))
    assert body == python
    assert body.startswith("\ufeffTitle,Author name,".encode())
    assert all(cell in body for cell in (b"'=Bob, Jr.", b",Poetry,", b",great,"))


# -- the fallbacks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "options", "reason"),
    [
        (["address", "count"], {}, "a inet column"),
        (["text"], {}, "a lone text column"),
        (["count", "text"], {"lineterminator": ";\n"}, "lineterminator"),
        (["count"], {"escapechar": "\\", "doublequote": False}, "escapechar"),
        (["count"], {"quoting": csv.QUOTE_NONE, "escapechar": "\\"}, "quoting"),
        (["count"], {"delimiter": "é"}, "delimiter"),
        # Python before 3.12 writes it; COPY refuses it.
        *(
            [(["count", "text"], {"quotechar": ","}, "quote character")]
            if sys.version_info < (3, 12)
            else []
        ),
    ],
)
def test_what_copy_cannot_write_exactly_falls_back(
    copies: list[_copy.CopyFeed],
    fields: list[str],
    options: dict[str, Any],
    reason: str,
) -> None:
    Sample.objects.using(DB).bulk_create(
        Sample(ratio=i / 3, count=i, text=f"\\.{i}" if i else "\\.") for i in range(5)
    )
    queryset = (
        Sample.objects.using(DB)
        .annotate(address=RawSQL("'::1'::inet", [], output_field=CharField()))
        .order_by("pk")
        .values_list(*fields)
    )
    why = _copy.inexact(queryset_rows(queryset), _fmt(options))
    assert reason in (why or "")
    copied, column, reference = three(queryset, **options)
    assert copies == []
    assert copied == column == reference


def test_other_fallbacks_name_their_reason(copies: list[_copy.CopyFeed]) -> None:
    Sample.objects.using(DB).bulk_create(Sample(count=i, size="s") for i in range(3))
    samples = Sample.objects.using(DB).order_by("pk")
    fmt = _fmt({})
    cases = {
        "not a values_list() QuerySet": queryset_rows(samples.values("count")),
        "labelled numbers": queryset_rows(
            samples.values_list("count", "size"), {0: {1: "one"}}
        ),
        "choice labels keyed": queryset_rows(
            samples.values_list("count", "size"), {0: {"1": "one"}}
        ),
        "choice labels keyed by values a float8": queryset_rows(
            samples.values_list("ratio", "size"), {0: {0.5: "half"}}
        ),
        "rows made by Python": _copy.QuerySetRows(samples, 10, row=lambda o: [o.pk]),
    }
    # An expression whose output_field is not what PostgreSQL returns.
    decimal_count = samples.annotate(
        n=ExpressionWrapper(F("count") * 2, output_field=DecimalField())
    )
    cases["Django converts in Python"] = queryset_rows(decimal_count.values_list("n"))
    # PostgreSQL's avg() of integers is a numeric, which Django makes a float.
    average = samples.values("size").annotate(mean=Avg("count"))
    cases["Django converts in Python (Avg"] = queryset_rows(
        average.values_list("size", "mean")
    )
    # An integer times a float literal: a numeric too (the query's literal).
    literal = samples.annotate(
        half=ExpressionWrapper(F("count") * Value(0.5), output_field=FloatField())
    )
    cases["Django converts in Python (ExpressionWrapper"] = queryset_rows(
        literal.values_list("half")
    )
    nonnumeric = _fmt({"quoting": csv.QUOTE_NONNUMERIC})
    for reason, rows in cases.items():
        why = _copy.inexact(rows, nonnumeric if reason == "labelled numbers" else fmt)
        assert reason in (why or ""), (reason, why)
    fixed = datetime.timezone(datetime.timedelta(hours=5))
    with timezone.override(fixed):
        rows = queryset_rows(samples.values_list("moment", "count"))
        why = _copy.inexact(rows, _fmt({}))
        assert "no IANA name" in (why or "")
        copied, column, reference = three(samples.values_list("moment", "count"))
        assert copied == column == reference
    with override_settings(USE_TZ=False):
        why = _copy.inexact(queryset_rows(samples.values_list("count")), fmt)
        assert "USE_TZ" in (why or "")
    assert copies == []


# -- streaming -------------------------------------------------------------------


def _activity(pid: int) -> tuple[str, bool, str]:
    with connections["default"].cursor():
        pass
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        row = conn.execute(
            "SELECT state, xact_start IS NOT NULL, query FROM pg_stat_activity "
            "WHERE pid = %s",
            [pid],
        ).fetchone()
    assert row is not None
    return row


@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_closing_early_cancels_the_copy_and_leaves_the_connection_clean(
    copies: list[_copy.CopyFeed],
) -> None:
    Sample.objects.using(DB).bulk_create(
        Sample(text="x" * 200, count=i) for i in range(20_000)
    )
    connection = connections[DB]
    queryset = Sample.objects.using(DB).order_by("pk").values_list("count", "text")
    chunks: Iterator[bytes] = iter(stream_csv(queryset, chunk_size=4096))
    assert next(chunks).startswith(b"0,xxx")
    assert len(next(chunks)) >= 4096
    pid = connection.connection.info.backend_pid
    state, _, query = _activity(pid)
    assert query.startswith("COPY (SELECT")
    chunks.close()  # type: ignore[attr-defined]
    state, in_transaction, _ = _activity(pid)
    assert (state, in_transaction) == ("idle", False)
    assert Sample.objects.using(DB).count() == 20_000  # the connection works
    assert len(copies) == 1


@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
def test_an_error_after_the_first_rows_is_raised_while_streaming() -> None:
    Sample.objects.using(DB).bulk_create(Sample(count=i) for i in range(5000))
    first = Sample.objects.using(DB).order_by("pk").first()
    assert first is not None
    queryset = (
        Sample.objects.using(DB)
        .annotate(boom=Value(1) / (F("pk") - first.pk - 4000))
        .order_by()  # no sort, which would compute every row before the first
        .values_list("count", "boom")
    )
    chunks = iter(stream_csv(queryset, chunk_size=1024))
    assert next(chunks) == b"0,0\r\n"
    import psycopg
    from django.db import DataError

    # Django's error, as the Python path raises (and as middleware catches).
    with pytest.raises(DataError) as raised:
        for _ in chunks:
            pass
    assert isinstance(raised.value.__cause__, psycopg.errors.DivisionByZero)
    assert Sample.objects.using(DB).count() == 5000


def test_zones_with_summer_time_match_python(copies: list[_copy.CopyFeed]) -> None:
    start = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)
    Sample.objects.using(DB).bulk_create(
        Sample(moment=start + datetime.timedelta(hours=7919 * i + 0.37 * i))
        for i in range(400)
    )
    queryset = Sample.objects.using(DB).order_by("pk").values_list("moment", "count")
    for zone in [*ZONES, "America/New_York", "Australia/Lord_Howe"]:
        with timezone.override(zoneinfo.ZoneInfo(zone)):
            copied, column, reference = three(queryset)
        assert copied == column == reference, zone
    assert len(copies) == 6


def test_other_encodings_are_re_encoded_and_what_they_cannot_hold_is_an_error(
    copies: list[_copy.CopyFeed],
) -> None:
    Sample.objects.using(DB).bulk_create(
        [Sample(text="café, crème", count=1), Sample(text="東京", count=2)]
    )
    samples = Sample.objects.using(DB).order_by("pk")
    latin = samples.values_list("count", "text").filter(count=1)
    copied, column, reference = three(latin, encoding="cp1252", bom=False)
    assert copied == column == reference == '1,"café, crème"\r\n'.encode("cp1252")
    with pytest.raises(UnicodeEncodeError, match="pass encoding='utf-8'"):
        b"".join(stream_csv(samples.values_list("count", "text"), encoding="cp1252"))
    assert len(copies) == 2


def test_the_admins_export_of_its_fields_is_a_copy(
    copies: list[_copy.CopyFeed],
) -> None:
    from django.contrib import admin
    from django.contrib.auth.models import User

    from django_streamkit.admin import StreamingCSVExportMixin
    from tests.support.testapp.models import Customer, Order

    ann = Customer.objects.using(DB).create(name="=Ann, Jr.")
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=datetime.UTC)
    Order.objects.using(DB).bulk_create(
        Order(
            number=f"+{i}",
            customer=ann,
            status=("new", "paid", "shipped")[i % 3],
            total=decimal.Decimal(i) / 4,
            gift=i % 2 == 0,
            created=when,
            shipped=datetime.date(2024, 2, 1) if i % 2 else None,
        )
        for i in range(50)
    )
    cls = type(
        "CopyAdmin",
        (StreamingCSVExportMixin, admin.ModelAdmin),
        {"list_display": ["number", "customer__name", "status", "total", "gift"]},
    )
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_active=True)
    queryset = Order.objects.using(DB).order_by("pk")
    model_admin = cls(Order, admin.site)
    body = b"".join(model_admin.csv_export_response(request, queryset))
    assert len(copies) == 1
    with override_settings(STREAMKIT_CSV_COPY=False):
        python = b"".join(model_admin.csv_export_response(request, queryset))
    assert body == python
    assert b"'+1,\"'=Ann, Jr.\",Paid,0.25,False\r\n" in body


def test_distinct_rows_ordered_by_a_column_not_exported(
    copies: list[_copy.CopyFeed],
) -> None:
    # DISTINCT selects the ordering column too: COPY writes only the exported.
    Sample.objects.using(DB).bulk_create(
        Sample(text=f"t{i % 4}", size="sl"[i % 2], count=i % 4) for i in range(20)
    )
    queryset = (
        Sample.objects.using(DB)
        .order_by("-count")
        .values_list("text", "size")
        .distinct()
    )
    copied, column, reference = three(queryset)
    assert len(copies) == 1
    assert copied == column == reference
    assert copied.splitlines() == [b"t3,l", b"t2,s", b"t1,l", b"t0,s"]


def test_an_empty_query_writes_what_the_python_path_writes() -> None:
    # Django compiles no SQL for a query it knows is empty: the Python path
    # writes the header alone, running no query.
    Sample.objects.using(DB).bulk_create(Sample(count=i) for i in range(3))
    samples = Sample.objects.using(DB).order_by("pk")
    for queryset in (
        samples.none().values_list("count", "text"),
        samples.filter(pk__in=[]).values_list("count", "text"),
        samples.values_list("count", "text")[:0],
    ):
        copied, column, reference = three(queryset, header=["n", "t"])
        assert copied == column == reference == b"n,t\r\n"
        why = _copy.inexact(queryset_rows(queryset), _fmt({}))
        assert "empty" in (why or "")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("moment", "infinity"),  # to_char() of it is NULL: an empty cell
        ("moment", "-infinity"),
        ("moment", "10000-01-01 00:00:00+00"),
        ("day", "infinity"),
        ("day", "0044-03-15 BC"),
        ("day", "12345-01-01"),
        ("hour", "24:00"),
    ],
)
def test_values_python_cannot_hold_raise_on_both_paths_naming_them(
    copies: list[_copy.CopyFeed], column: str, value: str
) -> None:
    from django.db import DatabaseError

    Sample.objects.using(DB).create(count=1, day=datetime.date(2024, 1, 2))
    with connections[DB].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Sample._meta.db_table} (count, {column}) VALUES (2, %s)",
            [value],
        )
    queryset = Sample.objects.using(DB).order_by("pk").values_list(column, "count")
    with pytest.raises(DatabaseError), transaction.atomic(using=DB):
        list(queryset)  # what the Python path reads
    with pytest.raises(DatabaseError) as raised:
        b"".join(stream_csv(queryset))  # type: ignore[arg-type]
    shown = value.split("+")[0].split(" BC")[0].replace("24:00", "24:00:00")
    assert shown in str(raised.value)
    assert "outside Python's" in str(raised.value)
    assert len(copies) == 1


def test_labels_that_are_lazy_or_not_text(copies: list[_copy.CopyFeed]) -> None:
    from django.utils.translation import gettext_lazy

    Sample.objects.using(DB).bulk_create(
        Sample(size="sl"[i % 2], count=i) for i in range(4)
    )
    queryset = Sample.objects.using(DB).order_by("pk").values_list("count", "size")
    lazy = {1: {"s": gettext_lazy("=Small"), "l": "Large"}}
    for escape in (True, False):
        copied, column, reference = three(queryset, lazy, escape_formulas=escape)
        assert copied == column == reference
        assert (b"0,'=Small\r\n" if escape else b"0,=Small\r\n") in copied
    assert len(copies) == 2
    for options in ({}, {"quoting": csv.QUOTE_NONNUMERIC}):
        numbered = {1: {"s": 1, "l": None}}  # written as Python writes 1 and None
        copied, column, reference = three(queryset, numbered, **options)
        assert copied == column == reference
        assert "not text" in (
            _copy.inexact(queryset_rows(queryset, numbered), _fmt(options)) or ""
        )
    assert len(copies) == 2


def _plan(sql: str, params: list[object]) -> Any:
    # The plan's nodes, less the projections (a subquery scan, a result)
    # that pass their input's rows on in their order.
    with connections[DB].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON, COSTS OFF) {sql}", params)
        (plan,) = cursor.fetchone()[0]

    def nodes(node: dict[str, Any]) -> Any:
        children = [nodes(child) for child in node.get("Plans", [])]
        if node["Node Type"] in ("Subquery Scan", "Result") and len(children) == 1:
            return children[0]
        keys = [re.sub(r"\b\w+\.", "", key) for key in node.get("Sort Key", [])]
        return (node["Node Type"], keys, children)

    return nodes(plan["Plan"])


def test_the_rows_come_in_the_querysets_order(copies: list[_copy.CopyFeed]) -> None:
    # The COPY's SELECT only projects the query's rows: PostgreSQL never
    # flattens a subquery with an ORDER BY or LIMIT, and the outer level has
    # no join, filter, grouping or sort of its own, so its plan is the
    # query's plan under a projection, and the rows keep the query's order.
    Sample.objects.using(DB).bulk_create(
        Sample(text=f"t{i % 7}", count=(i * 7919) % 101, size="sl"[i % 2])
        for i in range(300)
    )
    samples = Sample.objects.using(DB)
    querysets = [
        samples.order_by("-count", "text").values_list("count", "text"),
        samples.order_by("text", "-pk").values_list("size", "count")[5:40],
        samples.values("size")
        .annotate(n=Count("pk"))
        .order_by("-n", "size")
        .values_list("size", "n"),
        samples.filter(count__lt=20)
        .values_list("count", "text")
        .union(samples.filter(count__gt=90).values_list("count", "text"))
        .order_by("-count", "text"),
    ]
    for queryset in querysets:
        copies.clear()
        copied, column, reference = three(queryset)
        assert copied == column == reference
        (feed,) = copies
        select = feed._statement[len("COPY (") : feed._statement.rindex(") TO STDOUT")]
        inner = queryset.query.get_compiler(DB).as_sql()
        assert _plan(select, feed._params) == _plan(*inner)


@pytest.mark.parametrize(
    ("zone", "moment"),
    [
        ("Asia/Kathmandu", datetime.datetime(9999, 12, 31, 23, tzinfo=datetime.UTC)),
        ("America/Sao_Paulo", datetime.datetime(1, 1, 1, 0, 30, tzinfo=datetime.UTC)),
    ],
)
def test_a_datetime_whose_local_time_python_cannot_hold_raises(
    copies: list[_copy.CopyFeed], zone: str, moment: datetime.datetime
) -> None:
    # In UTC it is a Python datetime; in the current time zone it is not.
    Sample.objects.using(DB).create(moment=moment, count=1)
    queryset = Sample.objects.using(DB).values_list("moment", "count")
    from django.db import DatabaseError

    with timezone.override(zone):
        with override_settings(STREAMKIT_CSV_COPY=False), pytest.raises(OverflowError):
            b"".join(stream_csv(queryset))  # type: ignore[arg-type]
        with (
            pytest.raises(DatabaseError, match="outside Python's"),
            transaction.atomic(using=DB),
        ):
            b"".join(stream_csv(queryset))  # type: ignore[arg-type]
        with override_settings(STREAMKIT_CSV_DATETIME_FORMAT="iso"):
            copied, column, reference = three(queryset)  # in UTC: written
    assert copied == column == reference
    assert len(copies) == 2


@pytest.mark.parametrize("terminator", ["\r\n", "\r"])
def test_row_ends_are_rewritten_and_line_breaks_in_cells_kept(
    copies: list[_copy.CopyFeed], terminator: str
) -> None:
    # Most chunks hold no line break in a cell (each row's end is rewritten
    # at once); some do (only the breaks outside quotes are rows' ends).
    texts = ["plain", "two\nlines", "a, comma", 'a "quote"', "cr\r\nlf", "end\n"]
    Sample.objects.using(DB).bulk_create(
        Sample(count=i, text=texts[i % len(texts)] if i % 7 == 0 else f"row {i}")
        for i in range(500)
    )
    queryset = Sample.objects.using(DB).order_by("pk").values_list("count", "text")
    copied, column, reference = three(
        queryset, lineterminator=terminator, chunk_size=256
    )
    assert copies, "written by COPY"
    assert copied == column == reference
    assert copied.count(b"two\nlines") == 1 + 500 // 7 // len(texts)


# First characters around the triggers ("\t" 9, "\r" 13, "+" 43, "-" 45,
# "=" 61, "@" 64): the CASE asks ascii() >= 65 first, then the triggers, then
# "" (ascii() 0), which is NULL where None and "" are both written bare.
EDGES = ["", "=1", "+", "-x", "@", "\tx", "\rx", "A", "?", "<", " =", "0"]
EDGES += ["\x01", "\x7f", "é", "\u20ac=", "'=", "\n=", None]


@pytest.mark.parametrize("escape", [True, False])
def test_first_characters_around_the_triggers_and_empty_text(
    copies: list[_copy.CopyFeed], escape: bool
) -> None:
    Sample.objects.using(DB).bulk_create(
        Sample(text=text, size=text and text[:1], count=i)
        for i, text in enumerate(EDGES)
    )
    queryset = (
        Sample.objects.using(DB).order_by("pk").values_list("text", "size", "count")
    )
    labels = {1: {"@": "", "A": "=A"}}
    for options in MORE_DIALECTS:
        for with_labels in (None, labels):
            copies.clear()
            copied, column, reference = three(
                queryset, with_labels, escape_formulas=escape, **options
            )
            assert copies, "COPY ran"
            assert copied == column == reference, (options, with_labels)
