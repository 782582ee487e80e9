"""The relay in process: a sync source's producer thread keeps the request's
database connection and transaction, and a blocked source's rows still leave
on time, through the sync and the async drivers alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from django.db import connections

from django_streamkit import StreamingCSVResponse, StreamingResponse
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
