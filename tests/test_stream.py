"""The relay in process: a sync source's producer thread keeps the request's
database connection and transaction, and a blocked source's rows still leave
on time, through the sync and the async drivers alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from django.db import connections
from django.http import StreamingHttpResponse
from django.test import override_settings

from django_streamkit import StreamingCSVResponse, StreamingResponse, stream_csv
from django_streamkit._core.gate import Plan
from django_streamkit._core.stream import arelay, relay
from tests.support.databases import each_database
from tests.support.testapp.models import Author, Book


@pytest.mark.parametrize("alias", each_database(transaction=False))
def test_a_sync_source_reads_through_the_requests_own_connection(alias: str) -> None:
    # Uncommitted: only the test's own connection (and transaction) sees it.
    author = Author.objects.using(alias).create(name="Anon")
    Book.objects.using(alias).create(
        title="Unseen elsewhere", author=author, genre="novel", rating=1
    )
    mine = connections[alias]
    seen = []

    def rows() -> Iterator[list[object]]:
        yield ["title"]
        seen.append(connections[alias])
        for title in Book.objects.using(alias).values_list("title", flat=True):
            yield [title]

    response = StreamingCSVResponse(rows())
    body = b"".join(response)
    response.close()
    assert seen == [mine]
    assert b"Unseen elsewhere" in body
    assert mine.in_atomic_block, "the test's transaction is still open"


def paused_pieces() -> Iterator[str]:
    yield "first\n"
    yield "before the pause\n"
    time.sleep(2.5)
    yield "after\n"


async def apaused_pieces() -> AsyncIterator[str]:
    yield "first\n"
    yield "before the pause\n"
    await asyncio.sleep(2.5)
    yield "after\n"


def test_sync_pieces_made_before_a_pause_leave_during_it() -> None:
    arrivals = []
    start = time.monotonic()
    response = StreamingResponse(paused_pieces())
    for chunk in response:
        arrivals.append((time.monotonic() - start, chunk))
    response.close()
    assert_left_during_the_pause(arrivals)


def test_async_pieces_made_before_a_pause_leave_during_it() -> None:
    async def read() -> list[tuple[float, bytes]]:
        start = time.monotonic()
        response = StreamingResponse(apaused_pieces())
        return [(time.monotonic() - start, chunk) async for chunk in response]

    arrivals = asyncio.run(read())
    assert_left_during_the_pause(arrivals)


def assert_left_during_the_pause(arrivals: list[tuple[float, bytes]]) -> None:
    assert b"".join(chunk for _, chunk in arrivals) == (
        b"first\nbefore the pause\nafter\n"
    )
    (before,) = [at for at, chunk in arrivals if b"before the pause" in chunk]
    (after,) = [at for at, chunk in arrivals if b"after" in chunk]
    assert before < 1.5 < after, arrivals


# -- what a review of the relay found ----------------------------------------


@pytest.mark.django_db
def test_a_queryset_iterated_directly_comes_in_chunks_of_about_chunk_size() -> None:
    author = Author.objects.create(name="Anon")
    Book.objects.bulk_create(
        Book(title=f"title {i:05d}", author=author, genre="novel", rating=1)
        for i in range(6000)
    )
    rows = Book.objects.order_by("pk").values_list("title", "rating")
    with override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=500):
        chunks = list(stream_csv(rows, chunk_size=4096))  # type: ignore[arg-type]
    assert b"".join(chunks).count(b"\r\n") == 6000
    # Never the rest of the export in one chunk: fetched batches are rows.
    assert max(map(len, chunks)) < 3 * 4096


def async_rows(log: list[str]) -> AsyncIterator[list[int]]:
    async def rows() -> AsyncIterator[list[int]]:
        try:
            for i in range(5):
                yield [i]
                await asyncio.sleep(0)
        finally:
            log.append("source closed")

    return rows()


def test_stream_csv_of_async_rows_is_async_only_and_streams_in_djangos_response() -> (
    None
):
    log: list[str] = []
    chunks = stream_csv(async_rows(log))
    assert not hasattr(chunks, "__iter__")  # Django's response tries iter() first
    response = StreamingHttpResponse(chunks)

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response])

    assert asyncio.run(read()) == b"0\r\n1\r\n2\r\n3\r\n4\r\n"
    assert log == ["source closed"]
    assert not hasattr(stream_csv([[1]]), "__aiter__")


def test_leaving_a_direct_async_iteration_closes_the_source_at_aclose() -> None:
    log: list[str] = []

    async def leave() -> None:
        chunks = stream_csv(async_rows(log))
        async for _chunk in chunks:  # type: ignore[union-attr]
            break
        await chunks.aclose()  # type: ignore[union-attr]
        log.append("aclosed")

    asyncio.run(leave())
    assert log == ["source closed", "aclosed"]


def test_an_async_source_is_closed_before_the_responses_aclose_returns() -> None:
    log: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            for i in range(1000):
                yield f"{i}\n"
                await asyncio.sleep(0.001)
        finally:
            log.append("source closed")

    async def leave() -> None:
        response = StreamingResponse(source())
        chunks = response.__aiter__()
        await chunks.__anext__()
        await chunks.aclose()  # what Django does when the client leaves
        log.append("response closed")

    asyncio.run(leave())
    assert log == ["source closed", "response closed"]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_raised_limit_wakes_a_producer_waiting_for_room(driver: str) -> None:
    limits = iter([2, *[1000] * 10])
    plan: Plan[int] = Plan(
        lambda batch: b"".join(b"%d," % i for i in batch),
        lambda: next(limits),
        latency=0.5,
        fresh=False,
    )
    items = list(range(20))
    start = time.monotonic()
    if driver == "sync":
        chunks = list(relay(iter(items), plan, run=lambda body: body(), close=bool))
    else:

        async def produce() -> AsyncIterator[int]:
            for i in items:
                yield i

        async def read() -> list[bytes]:
            source = produce()
            spawn = asyncio.ensure_future
            return [
                c async for c in arelay(source, plan, spawn=spawn, aclose=source.aclose)
            ]

        chunks = asyncio.run(read())
    assert b"".join(chunks) == b"".join(b"%d," % i for i in items)
    # Everything was ready at once: no chunk waited for the latency bound.
    assert time.monotonic() - start < 0.4


def test_a_limit_of_zero_still_lets_items_go() -> None:
    plan: Plan[bytes] = Plan(b"".join, lambda: 0, latency=0.05)
    chunks = relay(iter([b"a", b"b"]), plan, run=lambda body: body(), close=bool)
    assert b"".join(chunks) == b"ab"


def test_a_producer_that_cannot_start_ends_the_stream_with_its_error() -> None:
    closed: list[str] = []

    def broken(body: object) -> None:
        raise RuntimeError("no connection to borrow")

    plan: Plan[bytes] = Plan(b"".join, lambda: 10, latency=0.05)
    chunks = relay(iter([b"a"]), plan, run=broken, close=lambda: closed.append("x"))
    with pytest.raises(RuntimeError, match="no connection to borrow"):
        list(chunks)
    assert closed == ["x"]
