"""stream_json, StreamingJSONResponse, stream_ndjson, StreamingNDJSONResponse:
documents, envelopes, headers, bad arguments, errors before and after the
first byte, cleanup, and QuerySets (the byte-for-byte proofs are in
tests/test_json_fuzz.py)."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy

from django_streamkit import (
    StreamingJSONResponse,
    StreamingNDJSONResponse,
    stream_json,
    stream_ndjson,
)
from django_streamkit._db import columns_reader
from tests.support.databases import each_database
from tests.support.testapp.models import Author, Book
from tests.test_views_csv import seed

UTC = datetime.UTC


def body(chunks: Any) -> bytes:
    return b"".join(chunks)


def test_a_document_and_its_lines() -> None:
    items = [1, "é", None, {"a": [Decimal("1.50"), gettext_lazy("Yes")]}]
    assert body(stream_json(items)) == '[1,"é",null,{"a":["1.50","Yes"]}]'.encode()
    assert body(stream_ndjson(items)) == '1\n"é"\nnull\n{"a":["1.50","Yes"]}\n'.encode()
    assert body(stream_json([])) == b"[]"
    assert body(stream_ndjson([])) == b""
    assert body(stream_json(iter(range(3)))) == b"[0,1,2]"


def test_no_items_as_json_lines_are_no_chunks_sync_or_async() -> None:
    async def none() -> AsyncIterator[Any]:
        for item in ():
            yield item

    async def read(chunks: Any) -> list[bytes]:
        return [chunk async for chunk in chunks]

    assert list(stream_ndjson([])) == []  # type: ignore[arg-type]
    assert asyncio.run(read(stream_ndjson(none()))) == []


def test_an_envelope_holds_the_array_where_its_key_is() -> None:
    assert body(stream_json([1, 2], envelope={"count": 2})) == (
        b'{"count":2,"results":[1,2]}'
    )
    # The key already there keeps its place; another name for it.
    envelope = {"items": None, "next": "é"}
    assert body(stream_json([], envelope=envelope, key="items")) == (
        '{"items":[],"next":"é"}'.encode()
    )
    assert body(stream_json([1], envelope={})) == b'{"results":[1]}'


def test_the_responses_headers() -> None:
    response = StreamingJSONResponse([1])
    assert response["Content-Type"] == "application/json"
    assert response["X-Accel-Buffering"] == "no"
    assert StreamingNDJSONResponse([1])["Content-Type"] == "application/x-ndjson"
    given = StreamingJSONResponse(
        [1], status=201, headers={"content-type": "application/vnd.api+json"}
    )
    assert given["Content-Type"] == "application/vnd.api+json"
    assert given.status_code == 201


def test_a_custom_encoder() -> None:
    class Money(DjangoJSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, Decimal):
                return float(o)
            return super().default(o)

    assert body(stream_json([Decimal("1.5")], encoder=Money)) == b"[1.5]"
    assert body(stream_ndjson([Decimal("1.5")], encoder=Money)) == b"1.5\n"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stream_json({"a": 1}), r"not \{'a': 1\} \(dict\).*wrap one dict"),
        (lambda: stream_json(5), r"not 5 \(int\)"),
        (lambda: stream_ndjson("text"), r"stream_ndjson\(\) items.*'text' \(str\)"),
        (lambda: StreamingJSONResponse(None), r"StreamingJSONResponse items"),
        (lambda: stream_json([1], encoder=json.dumps), r"JSONEncoder subclass"),
        (lambda: stream_json([1], envelope=[1]), r"envelope must be a dict"),
        (lambda: stream_json([1], envelope={}, key=3), r"key must be a str"),
        (
            lambda: stream_json([1], envelope={"count": len}),
            r"The envelope \{'count': <built-in function len>\} can't be encoded",
        ),
        (lambda: stream_json(Book.objects.all()), r"QuerySet of Book instances"),
    ],
)
def test_bad_arguments_raise_at_once(call: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call()


def test_a_bad_first_item_raises_from_the_view() -> None:
    closed = []

    def items() -> Iterator[Any]:
        try:
            yield object()
        finally:
            closed.append(True)

    with pytest.raises(TypeError, match=r"Item 0 of the JSON stream can't be"):
        StreamingJSONResponse(items())
    assert closed == [True]


def test_a_bad_later_item_aborts_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = []

    def items() -> Iterator[Any]:
        try:
            yield from range(5)
            yield {"when": datetime.time(1, tzinfo=UTC)}
            yield 6
        finally:
            closed.append(True)

    response = StreamingJSONResponse(items())
    sent = []
    chunks = iter(response)
    with (
        caplog.at_level(logging.ERROR, logger="django_streamkit"),
        pytest.raises(ValueError, match=r"Item 5 .*timezone-aware times"),
    ):
        sent.extend(chunks)
    assert sent[0].startswith(b"[0")
    assert not b"".join(sent).endswith(b"]")  # never a complete-looking document
    assert "aborting the connection" in caplog.text
    response.close()
    assert closed == [True]


def test_closing_early_closes_the_source() -> None:
    closed = []

    def items() -> Iterator[int]:
        try:
            yield from range(10**6)
        finally:
            closed.append(True)

    response = StreamingNDJSONResponse(items())
    chunks = iter(response)
    assert next(chunks).startswith(b"0\n")
    response.close()
    assert closed == [True]


def test_django_streaming_response_iterates_the_chunks_itself() -> None:
    response = StreamingHttpResponse(stream_json(range(5)))
    assert b"".join(response) == b"[0,1,2,3,4]"


def test_async_items() -> None:
    async def items() -> AsyncIterator[Any]:
        for i in range(3):
            yield {"i": i}
            await asyncio.sleep(0)

    async def read(chunks: Any) -> bytes:
        return b"".join([chunk async for chunk in chunks])

    assert asyncio.run(read(stream_json(items()))) == b'[{"i":0},{"i":1},{"i":2}]'
    response = StreamingNDJSONResponse(items())
    assert response.is_async
    assert asyncio.run(read(response)) == b'{"i":0}\n{"i":1}\n{"i":2}\n'


# -- QuerySets ------------------------------------------------------------------


@pytest.mark.parametrize("db", each_database())
def test_querysets_are_read_a_column_at_a_time(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db)
    chunks = []
    convert = columns_reader.columns_of

    def spy(chunk: list[Any], columns: Any) -> Any:
        chunks.append(len(chunk))
        return convert(chunk, columns)

    monkeypatch.setattr(columns_reader, "columns_of", spy)
    books = Book.objects.using(db).order_by("pk")
    values = books.values("title", "price", "published")
    assert json.loads(body(StreamingJSONResponse(values))) == [
        {"title": "First", "price": "9.50", "published": "2024-01-02T03:04:05Z"},
        {"title": "Second", "price": None, "published": None},
        {"title": "-Third", "price": "-1.00", "published": None},
    ]
    assert chunks == [3]
    lines = body(StreamingNDJSONResponse(books.values_list("title", "rating")))
    assert lines == b'["First",3]\n["Second",1]\n["-Third",2]\n'
    flat = books.values_list("author__name", flat=True)
    assert body(stream_json(flat)) == b'["Ann","Ann","=Bob"]'
    counted = Author.objects.using(db).annotate(n=Count("books")).order_by("name")
    assert body(stream_json(counted.values("name", "n"))) == (
        b'[{"name":"=Bob","n":1},{"name":"Ann","n":2}]'
    )
    assert chunks == [3, 3, 3, 2]


@pytest.mark.parametrize("db", each_database())
def test_a_querysets_values_go_through_a_custom_encoder(db: str) -> None:
    class Numbers(DjangoJSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, Decimal | datetime.datetime):
                return f"<{o}>"
            return super().default(o)

    seed(db)
    values = Book.objects.using(db).order_by("pk").values("title", "price", "published")
    expected = json.dumps(
        list(values), cls=Numbers, separators=(",", ":"), ensure_ascii=False
    )
    assert body(stream_json(values, encoder=Numbers)) == expected.encode()
    assert b"<9.50>" in body(stream_json(values, encoder=Numbers))


@pytest.mark.parametrize("db", each_database())
@pytest.mark.parametrize("micro", [0, 500, 123456])
def test_a_column_of_utc_datetimes(db: str, micro: int) -> None:
    from tests.support.testapp.models import Sample

    moments = [
        datetime.datetime(2024, 1, 2, 3, 4, 5, micro, tzinfo=UTC),
        datetime.datetime(1, 1, 2, tzinfo=UTC),
        datetime.datetime(9999, 12, 30, 23, 59, 59, micro, tzinfo=UTC),
    ]
    Sample.objects.using(db).bulk_create(Sample(moment=m) for m in moments)
    values = Sample.objects.using(db).order_by("pk").values("moment")
    expected = json.dumps(list(values), cls=DjangoJSONEncoder, separators=(",", ":"))
    assert body(stream_json(values)) == expected.encode()


# U+2028, U+2029 and U+0085 are line breaks to str.splitlines() and to
# httpx's iter_lines(); JSON leaves them raw inside strings.
SPLITTERS = ["a\u2028b", "c\u2029d", "e\x85f", "\u2028\u2029\x85"]


def lines_of(data: bytes) -> list[Any]:
    return [json.loads(line) for line in data.decode().splitlines()]


@pytest.mark.parametrize("db", each_database())
def test_json_lines_escape_what_line_readers_split_on(db: str) -> None:
    from httpx._decoders import LineDecoder

    from tests.support.testapp.models import Sample

    items = [{"text": text} for text in SPLITTERS]
    data = body(stream_ndjson(iter(items)))
    assert lines_of(data) == items
    decoder = LineDecoder()
    assert [*map(json.loads, decoder.decode(data.decode()) + decoder.flush())] == items
    Sample.objects.using(db).bulk_create(Sample(text=text) for text in SPLITTERS)
    values = Sample.objects.using(db).order_by("pk").values("text")
    assert lines_of(body(StreamingNDJSONResponse(values))) == items
    flat = values.values_list("text", flat=True)
    assert lines_of(body(StreamingNDJSONResponse(flat))) == SPLITTERS
    # One document: nothing changes.
    assert json.loads(body(stream_json(iter(items)))) == items


@pytest.mark.django_db
def test_a_querysets_chunks_iterated_directly_stay_their_size() -> None:
    from django.test import override_settings

    from tests.support.testapp.models import Sample

    Sample.objects.bulk_create(Sample(text=f"row {i}", count=i) for i in range(6000))
    values = Sample.objects.order_by("pk").values("text", "count")
    with override_settings(
        STREAMKIT_QUERYSET_CHUNK_SIZE=100, STREAMKIT_CHUNK_SIZE=2000
    ):
        direct = list(stream_json(values))
        relayed = list(StreamingJSONResponse(values))
    # A fetched chunk of 100 rows is about 3 KB: a chunk is one or two of
    # them, never dozens (the rows of every fetched chunk held at once).
    assert max(map(len, direct)) <= 2 * max(map(len, relayed)) < 8000
    assert b"".join(direct) == b"".join(relayed)
    assert len(json.loads(b"".join(direct))) == 6000


@pytest.mark.parametrize("db", each_database())
def test_another_encoder_sees_the_dates_of_aggregates(db: str) -> None:
    from django.db.models import Max

    from tests.support.testapp.models import Sample

    class Dates(DjangoJSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, datetime.date):
                return f"<{o}>"
            return super().default(o)

    days = [datetime.date(2020, 1, 2), datetime.date(2021, 3, 4)]
    Sample.objects.using(db).bulk_create(Sample(text="a", day=day) for day in days)
    latest = Sample.objects.using(db).values("text").annotate(day=Max("day"))
    assert (
        body(stream_json(latest, encoder=Dates))
        == b'[{"text":"a","day":"<2021-03-04>"}]'
    )
    # Django's encoder still gets the text.
    assert body(stream_json(latest)) == b'[{"text":"a","day":"2021-03-04"}]'
