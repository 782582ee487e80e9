"""Streamed JSON is ``json.dumps(list(items), cls=DjangoJSONEncoder)``, exactly.

Any value Django's encoder encodes (any Unicode, lone surrogates included,
decimals, dates, datetimes aware and naive, times, UUIDs, lazy strings,
nested lists and dicts), through every path that writes it: direct
iteration and the relay, sync and async, any chunk size; JSON Lines line by
line; and QuerySets read a column at a time against ``list(qs.values())``
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import DateTimeField, F, TextField, Value
from django.db.models.functions import Concat
from django.test import override_settings
from django.utils.functional import lazy
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_streamkit import (
    StreamingJSONResponse,
    StreamingNDJSONResponse,
    stream_json,
    stream_ndjson,
)
from tests.support.databases import each_database
from tests.support.testapp.models import Pair, Sample
from tests.test_queryset_csv import FIELDS, full, sparse

as_lazy = lazy(str, str)
UTC = datetime.UTC
ZONES = st.sampled_from(
    [None, UTC, datetime.timezone(datetime.timedelta(hours=-9, minutes=-30))]
)
# Every code point, lone surrogates too.
any_text = st.text(st.characters(exclude_categories=()))

scalars = st.one_of(
    any_text,
    any_text.map(as_lazy),
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(),  # nan, inf, -0.0
    st.decimals(),  # NaN, sNaN, Infinity, exponents
    st.dates(),
    st.datetimes(timezones=ZONES),
    st.times(),  # naive: DjangoJSONEncoder refuses aware times
    st.timedeltas(),
    st.uuids(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(any_text, inner, max_size=4),
    ),
    max_leaves=12,
)
item_lists = st.lists(values, max_size=12)


def expected(items: Any, encoder: type[Any] | None = None) -> bytes:
    text = json.dumps(
        items,
        cls=encoder or DjangoJSONEncoder,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return text.encode("utf-8", "backslashreplace")


def expected_lines(items: list[Any], encoder: type[Any] | None = None) -> bytes:
    # What str.splitlines() splits on besides what JSON escapes, escaped.
    text = b"".join(expected(item, encoder) + b"\n" for item in items)
    for char in "\u2028\u2029\x85":
        text = text.replace(char.encode(), f"\\u{ord(char):04x}".encode())
    return text


def same_document(ours: bytes, items: list[Any]) -> None:
    """Equal to the default json.dumps() once parsed (NaN compared by text)."""
    default = json.dumps(list(items), cls=DjangoJSONEncoder)
    assert json.dumps(json.loads(ours)) == json.dumps(json.loads(default))


async def agen(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item
        await asyncio.sleep(0)


def collect(chunks: Any) -> bytes:
    if hasattr(chunks, "__aiter__"):

        async def read() -> bytes:
            return b"".join([chunk async for chunk in chunks])

        return asyncio.run(read())
    return b"".join(chunks)


def relayed(response: Any) -> bytes:
    if response.is_async:
        return collect(response)
    try:
        return b"".join(response)
    finally:
        response.close()


# Generating nested values of any text is slow on a loaded shared machine.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=item_lists,
    chunk_size=st.sampled_from([1, 16, 65536]),
    path=st.sampled_from(["direct", "relay"]),
    kind=st.sampled_from(["sync", "async"]),
    envelope=st.none() | st.dictionaries(any_text, values, max_size=3),
    key=st.sampled_from(["results", "items"]),
)
@example(
    items=["\ud800", "é\x00\u2028"], chunk_size=1, path="relay", kind="sync",
    envelope=None, key="results",
)  # fmt: skip
def test_any_items_give_exactly_the_stdlib_document(
    items: list[Any],
    chunk_size: int,
    path: str,
    kind: str,
    envelope: dict[str, Any] | None,
    key: str,
) -> None:
    source: Any = agen(items) if kind == "async" else iter(items)
    with override_settings(STREAMKIT_CHUNK_SIZE=chunk_size):
        if path == "direct":
            body = collect(stream_json(source, envelope=envelope, key=key))
        else:
            body = relayed(StreamingJSONResponse(source, envelope=envelope, key=key))
    if envelope is None:
        assert body == expected(items)
        same_document(body, items)
    else:
        assert body == expected({**envelope, key: items})  # type: ignore[arg-type]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=item_lists,
    path=st.sampled_from(["direct", "relay"]),
    kind=st.sampled_from(["sync", "async"]),
)
def test_any_items_give_one_stdlib_line_each(
    items: list[Any], path: str, kind: str
) -> None:
    source: Any = agen(items) if kind == "async" else iter(items)
    with override_settings(STREAMKIT_CHUNK_SIZE=8):
        if path == "direct":
            body = collect(stream_ndjson(source))
        else:
            body = relayed(StreamingNDJSONResponse(source))
    assert body == expected_lines(items)
    assert body.count(b"\n") == len(items)  # no line break inside an item
    assert len(body.decode("utf-8").splitlines()) == len(items)


# -- QuerySets, a column at a time ----------------------------------------------

DATABASES = each_database()


class Tagged(DjangoJSONEncoder):
    """Another encoder: it must see the values, never their text."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal | datetime.date | datetime.time | uuid.UUID):
            return f"<{type(o).__name__} {o}>"
        return super().default(o)


def reference(queryset: Any) -> list[Any]:
    return list(queryset)


@pytest.mark.parametrize("db", DATABASES)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(full, max_size=12) | st.lists(sparse, max_size=12),
    shape=st.sampled_from(["values", "values_list", "flat", "named", "annotated"]),
    lines=st.booleans(),
    chunk=st.sampled_from([1, 5, 2000]),
    encoder=st.sampled_from([None, Tagged]),
)
def test_querysets_give_what_encoding_their_rows_gives(
    db: str,
    rows: list[Sample],
    shape: str,
    lines: bool,
    chunk: int,
    encoder: type[DjangoJSONEncoder] | None,
) -> None:
    Sample.objects.using(db).all().delete()
    Sample.objects.using(db).bulk_create(rows)
    queryset: Any = Sample.objects.using(db).order_by("pk")
    if shape == "values":
        queryset = queryset.values(*FIELDS)
    elif shape == "values_list":
        queryset = queryset.values_list(*FIELDS)
    elif shape == "flat":
        queryset = queryset.values_list("moment", flat=True)
    elif shape == "named":
        queryset = queryset.values_list("text", "price", "day", named=True)
    else:
        queryset = queryset.annotate(
            label=Concat(F("text"), Value("%s"), output_field=TextField()),
            twice=F("count") / 3,
        ).values_list("twice", "key", "label", "moment")
    with override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=chunk):
        if lines:
            body = b"".join(StreamingNDJSONResponse(queryset, encoder=encoder))
            assert body == expected_lines(reference(queryset), encoder)
        else:
            body = b"".join(StreamingJSONResponse(queryset, encoder=encoder))
            assert body == expected(reference(queryset), encoder)


def test_a_lone_surrogate_is_escaped_as_the_stdlib_escapes_it() -> None:
    body = b"".join(stream_json(["a\udc80b"]))
    assert body == b'["a\\udc80b"]'
    assert json.loads(body) == ["a\udc80b"]


def test_a_naive_and_an_aware_datetime() -> None:
    items = [
        datetime.datetime(2024, 1, 1, 12, 0, 0, 500),
        datetime.datetime(2024, 1, 1, 12, tzinfo=UTC),
        datetime.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
    ]
    body = b"".join(stream_json(items))
    assert body == b'["2024-01-01T12:00:00.000","2024-01-01T12:00:00Z",' + (
        b'"2024-01-01T12:00:00.123Z"]'
    )


@pytest.mark.parametrize("db", DATABASES)
def test_numbers_dates_and_instants_at_the_edges_of_their_text(db: str) -> None:
    # On PostgreSQL decimals, dates and instants arrive as the database's
    # text, kept where it is what Django's encoder writes: tiny decimals
    # (exponents in str()), negative ones, trailing zeros, instants with one
    # microsecond, the first and last years.
    moments = [
        datetime.datetime(1, 1, 2, tzinfo=UTC),
        datetime.datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime.datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=UTC),
        datetime.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    wides = ["0.000000001", "-0.000000100", "0E-9", "-12.500000000", "100"]
    rows = [
        Sample(
            wide=decimal.Decimal(wides[i % len(wides)]),
            price=decimal.Decimal("-1.50") if i % 2 else decimal.Decimal("0.00"),
            day=datetime.date(1, 1, 1) if i % 3 else datetime.date(9999, 12, 31),
            moment=moments[i % len(moments)],
        )
        for i in range(12)
    ]
    Sample.objects.using(db).bulk_create(rows)
    queryset = (
        Sample.objects.using(db).order_by("pk").values("wide", "price", "day", "moment")
    )
    body = b"".join(StreamingJSONResponse(queryset))
    assert body == expected(reference(queryset))
    for text in (b'"1E-9"', b'"-1.50"', b'"0001-01-01"', b'"2024-01-01T12:00:00.000Z"'):
        assert text in body


@pytest.mark.parametrize("db", DATABASES)
def test_a_composite_primary_key_with_instants_and_dates(db: str) -> None:
    # A composite primary key is read row by row through Django's
    # results_iter(): on PostgreSQL the instants and dates there must be
    # the values, not the text they arrive as for the column reader.
    Pair.objects.using(db).bulk_create(
        Pair(left=i, right=i % 2, name=f"n{i}") for i in range(3)
    )
    queryset = (
        Pair.objects.using(db)
        .annotate(
            seen=Value(
                datetime.datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=UTC),
                output_field=DateTimeField(),
            ),
            day=Value(datetime.date(2024, 1, 2)),
        )
        .order_by("name")
        .values("pk", "name", "seen", "day")
    )
    body = b"".join(StreamingJSONResponse(queryset))
    assert body == expected(reference(queryset))
    assert body.startswith(
        b'[{"pk":[0,0],"name":"n0","seen":"2024-01-01T12:00:00.000Z",'
        b'"day":"2024-01-02"}'
    )


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("day", "0044-03-15 BC"),
        ("day", "12345-01-01"),
        ("day", "infinity"),
        ("moment", "10000-01-01 00:00:00+00"),
        ("moment", "-infinity"),
    ],
)
def test_values_python_cannot_hold_raise_djangos_error(column: str, value: str) -> None:
    # Read as text, they are loaded by psycopg outside Django's cursor: the
    # error must still be Django's, as the rows Django reads raise it.
    from django.db import DataError, connections, transaction

    Sample.objects.using("postgres").create(count=1, day=datetime.date(2024, 1, 2))
    with connections["postgres"].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Sample._meta.db_table} (count, {column}) VALUES (2, %s)",
            [value],
        )
    queryset = Sample.objects.using("postgres").order_by("pk").values(column, "count")
    with pytest.raises(DataError), transaction.atomic(using="postgres"):
        reference(queryset)
    with pytest.raises(DataError, match="year"), transaction.atomic(using="postgres"):
        b"".join(StreamingJSONResponse(queryset))


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_instants_in_a_session_zone_psycopg_cannot_name() -> None:
    # Set behind Django's back, a zone psycopg doesn't know ("<+05>-05"):
    # PostgreSQL writes "17:00:00+05", psycopg reads it in UTC (12:00), and
    # the fixed-width text must not pass for UTC's "+00".
    from django.db import connections

    moment = datetime.datetime(2024, 1, 1, 12, tzinfo=UTC)
    Sample.objects.using("postgres").bulk_create(
        Sample(moment=moment + datetime.timedelta(days=i)) for i in range(3)
    )
    with connections["postgres"].cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE INTERVAL '+05:00' HOUR TO MINUTE")
    queryset = Sample.objects.using("postgres").order_by("pk").values("moment")
    body = b"".join(StreamingJSONResponse(queryset))
    assert body == expected(reference(queryset))
    assert body.startswith(b'[{"moment":"2024-01-01T12:00:00Z"}')


@settings(max_examples=300)
@given(text=any_text | st.text(st.sampled_from('\x00\x1f "\\\x7f\u2028\ud800é')))
def test_what_needs_escaping_is_what_the_encoder_escapes(text: str) -> None:
    # The byte translation that tells a column of strings needs no escaping
    # (lone surrogates too) against the encoder's own string escaper.
    from json.encoder import encode_basestring

    from django_streamkit._writers.json_cells import needs_escaping

    assert needs_escaping(text) == (encode_basestring(text) != f'"{text}"')


@pytest.mark.parametrize("db", DATABASES)
def test_labels_of_datetimes_are_looked_up_by_the_datetime(db: str) -> None:
    # SQLite's UTC datetimes become their text without Python parsing them;
    # a labelled column's labels are keyed by datetimes.
    from django_streamkit._db.queryset import QuerySetRows

    noon = datetime.datetime(2024, 1, 1, 12, tzinfo=UTC)
    Sample.objects.using(db).bulk_create(
        Sample(moment=noon + datetime.timedelta(hours=i % 2), count=i) for i in range(4)
    )
    queryset = Sample.objects.using(db).order_by("pk").values_list("moment", "count")
    labels = {0: {noon: "noon"}}
    body = b"".join(StreamingJSONResponse(QuerySetRows(queryset, 100, labels)))
    rows = [[labels[0].get(moment, moment), count] for moment, count in queryset]
    assert body == expected(rows)
    assert body.startswith(b'[["noon",0],')
