"""Sources for the soak (``tests.support.soak_urls``): deterministic bodies of every
kind, each of which leaves evidence that its clean-up ran.

The client names each request with an ``X-Soak-Token`` header, and every
request leaves a marker file of that name in ``STREAMKIT_TEST_MARKERS``:

- every source is read through :func:`paced` (or :func:`apaced`), whose
  ``finally`` closes the source and writes ``closed`` after the last row, or
  ``closed early`` when the library closed it on a disconnect. Until then the
  source is held in :data:`HELD`, so one the library never closes is never
  collected either (which would run its ``finally`` too): its marker is
  missing;
- for the QuerySet kinds (``CSVStreamView`` over the library's QuerySet
  reader, a QuerySet in a template's context, the registered export) the
  source ``paced`` closes is Django's server-side cursor iterator (inside
  the library's own transaction, for CSV). Once it is closed, the marker
  says what is still open on the request's PostgreSQL connection instead,
  if anything: ``left in a transaction``, or ``left N open cursors`` from
  ``pg_cursors``. This runs on the thread that read the rows, while its
  connection is still open (Django closes it at ``request_finished``, which
  would hide both). After the run, the soak also counts the server's
  sessions in ``pg_stat_activity``.

Every body is the same on every request: rows come from fixed generators or
from the seeded ``Record`` table ordered by id, and the template prints no
CSRF token or time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.contrib.auth.models import User
from django.db import connections
from django.db.models import F, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.decorators import sync_and_async_middleware

from django_streamkit import StreamingCSVResponse, StreamingResponse
from django_streamkit.exports import CSVExport, register
from django_streamkit.views import (
    AsyncTemplateStreamView,
    CSVStreamView,
    TemplateStreamView,
)
from tests.support.csv_views import RECORD_FIELDS
from tests.support.testapp.models import Record
from tests.support.views import ROW, _mark

ROWS = 2000  # generator rows: 76 KB of core body, 30 KB of CSV
RECORDS = 1000  # Record rows of the QuerySet kinds: 100 KB of CSV, 40 KB of HTML
TEMPLATE_ROWS = 2000  # 80 KB of HTML
# Every source pauses PAUSES times, evenly, so that it lasts longer than the
# client takes to read what has been sent: a cut then lands mid-source.
PAUSES = 20
PAUSE = 0.005

T = TypeVar("T")


def token(request: HttpRequest) -> str:
    return request.headers.get("X-Soak-Token", "")


# -- a signed-in user without a database ---------------------------------------

SOAK_USER = User(username="soak", is_active=True, is_superuser=True)


@sync_and_async_middleware
def soak_user(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Every request is the soak's superuser (never saved: no query for it)."""
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> Any:
            request.user = SOAK_USER
            return await get_response(request)

        return amiddleware

    def middleware(request: HttpRequest) -> Any:
        request.user = SOAK_USER
        return get_response(request)

    return middleware


# -- paced sources whose finally leaves the marker ------------------------------

# Every source until its finally has run. Held here, a source that nobody
# closes is never collected either, so its finally cannot run by accident
# (CPython finalises an unreachable generator at once): only the library's
# close() (or aclose()) runs it, or the last row.
HELD: dict[str, object] = {}


def paced(
    rows: Iterable[T], n: int, token: str, *, database: bool = False
) -> Iterator[T]:
    """``rows`` (``n`` of them), paused; its ``finally`` closes ``rows``
    and leaves the marker: ``closed`` after the last row, ``closed early``
    when cut off, or, for a ``database`` source, what is left on the
    connection."""
    source = _paced(rows, n, token, database)
    HELD[token] = source
    return source


def _paced(rows: Iterable[T], n: int, token: str, database: bool) -> Iterator[T]:
    source = iter(rows)
    every = max(1, n // PAUSES)
    finished = False
    try:
        for i, row in enumerate(source):
            if i and i % every == 0:
                time.sleep(PAUSE)
            yield row
        finished = True
    finally:
        if isinstance(source, Generator):
            source.close()
        state = "closed" if finished else "closed early"
        if database:
            state = left_on_connection() or state
        _mark(token, state)
        HELD.pop(token, None)


def apaced(rows: AsyncIterable[T], n: int, token: str) -> AsyncIterator[T]:
    """The async twin of :func:`paced` (for sources without a database)."""
    source = _apaced(rows, n, token)
    HELD[token] = source
    return source


async def _apaced(rows: AsyncIterable[T], n: int, token: str) -> AsyncIterator[T]:
    source = aiter(rows)
    every = max(1, n // PAUSES)
    finished = False
    i = 0
    try:
        async for row in source:
            if i and i % every == 0:
                await asyncio.sleep(PAUSE)
            i += 1
            yield row
        finished = True
    finally:
        if isinstance(source, AsyncGenerator):
            await source.aclose()
        _mark(token, "closed" if finished else "closed early")
        HELD.pop(token, None)


def left_on_connection() -> str:
    """What a closed QuerySet source left on this thread's connection, if any."""
    connection = connections["default"]
    if connection.in_atomic_block:
        return "left in a transaction"
    if connection.connection is None:
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        (open_cursors,) = cursor.fetchone()
    return f"left {open_cursors} open cursors" if open_cursors else ""


def numbers(n: int, row: Callable[[int], T]) -> Iterator[T]:
    return (row(i) for i in range(n))


async def anumbers(n: int, row: Callable[[int], T]) -> AsyncIterator[T]:
    for i in range(n):
        yield row(i)


def csv_row(i: int) -> list[Any]:
    return [i, f"name {i}", f"=formula {i}" if i % 7 == 0 else "", i * 0.25]


def template_row(i: int) -> dict[str, Any]:
    return {"name": f"row {i:07d}", "value": i}


# -- core ----------------------------------------------------------------------


def core(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    if kind == "async":
        source: Any = apaced(anumbers(ROWS, ROW.format), ROWS, token(request))
    else:
        source = paced(numbers(ROWS, ROW.format), ROWS, token(request))
    return StreamingResponse(source, content_type="text/plain")


# -- CSV -----------------------------------------------------------------------

CSV_HEADER = ["n", "name", "note", "quarter"]


def csv_gen(request: HttpRequest) -> StreamingCSVResponse:
    rows = paced(numbers(ROWS, csv_row), ROWS, token(request))
    return StreamingCSVResponse(rows, header=CSV_HEADER)


async def csv_agen(request: HttpRequest) -> StreamingCSVResponse:
    rows = apaced(anumbers(ROWS, csv_row), ROWS, token(request))
    return StreamingCSVResponse(rows, header=CSV_HEADER)


class PacedQuerySet(QuerySet[Record]):
    """A QuerySet whose ``iterator()`` (Django's own, in a server-side cursor)
    is read through :func:`paced`."""

    token = ""

    def iterator(self, chunk_size: int | None = None) -> Iterator[Record]:
        rows = super().iterator(chunk_size=chunk_size)
        return paced(rows, RECORDS, self.token, database=True)


def records() -> QuerySet[Record]:
    return Record.objects.filter(id__lte=RECORDS).order_by("id")


class RecordsCSV(CSVStreamView):
    """The library's QuerySet reader (``queryset_rows``: a server-side cursor
    in a transaction of its own), read through :func:`paced`."""

    fields = RECORD_FIELDS

    def get_queryset(self) -> QuerySet[Record]:
        return records()

    def get_rows(self) -> Iterable[Sequence[Any]]:
        return paced(super().get_rows(), RECORDS, token(self.request), database=True)


@register
class SoakRecordExport(CSVExport):
    """Served by django_streamkit.urls at ``/exports/soak-records.csv``."""

    model = Record
    slug = "soak-records"
    fields = RECORD_FIELDS
    filter_fields = ["id__lte"]
    view_class = RecordsCSV

    def get_queryset(self, request: HttpRequest) -> QuerySet[Record]:
        return Record.objects.order_by("id")


# -- templates -----------------------------------------------------------------


class TemplateGen(TemplateStreamView):
    template_name = "soak/table.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        rows = paced(
            numbers(TEMPLATE_ROWS, template_row), TEMPLATE_ROWS, token(self.request)
        )
        return {**super().get_context_data(**kwargs), "title": "Soak", "rows": rows}


class TemplateAgen(AsyncTemplateStreamView):
    template_name = "soak/table.html"
    template_engine = "jinja2_async"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        rows = apaced(
            anumbers(TEMPLATE_ROWS, template_row), TEMPLATE_ROWS, token(self.request)
        )
        return {**super().get_context_data(**kwargs), "title": "Soak", "rows": rows}


class TemplateQuerySet(TemplateStreamView):
    """A QuerySet in the context: the library reads it with ``iterator()``
    (``LazyQuerySet``) and closes that when the stream ends."""

    template_name = "soak/table.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        rows = PacedQuerySet(Record).filter(id__lte=RECORDS).order_by("id")
        rows = rows.annotate(value=F("quantity"))
        rows.token = token(self.request)
        return {**super().get_context_data(**kwargs), "title": "Soak", "rows": rows}
