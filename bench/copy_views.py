"""The COPY benchmark's variants (served with bench.copy_settings).

The same 8 columns of the ``Record`` table (two integers, three texts, a text
with a comma that every row quotes, a decimal, a date), each the way a user
would stream them:

- ``copy``: ``CSVStreamView``, which PostgreSQL writes through COPY;
- ``python``: the same view on today's Python path (``STREAMKIT_CSV_COPY``
  off while the response is made, which is when the path is chosen);
- ``django``: Django's documented ``Echo`` + ``csv.writer``, one yield per row;
- ``raw``: a hand-written view over psycopg's ``cursor.copy()``, 64 KiB chunks.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Concat
from django.http import HttpRequest, StreamingHttpResponse
from django.test import override_settings
from django.urls import include, path

from bench.csv_views import ATTACHMENT, Echo, _with_header
from django_streamkit import StreamingCSVResponse
from django_streamkit.views import CSVStreamView
from tests.support.testapp.models import Record

FIELDS = ["id", "name", "email", "place", "status", "quantity", "amount", "day"]
RAW = (
    "COPY (SELECT id, name, email, city || ', ' || status, status, quantity, "
    "amount, created::date FROM testapp_record WHERE id <= %s ORDER BY id) "
    "TO STDOUT (FORMAT csv, HEADER)"
)


def records(request: HttpRequest) -> QuerySet[Record, Any]:
    n = int(request.GET.get("n", "1000"))
    # Ordered, as exports are: an unordered scan of a big table may start
    # anywhere (PostgreSQL's synchronized scans), and the variants' bytes
    # are compared.
    return (
        Record.objects.filter(id__lte=n)
        .annotate(
            place=Concat(F("city"), Value(", "), F("status")), day=F("created__date")
        )
        .order_by("id")
    )


class CopyExport(CSVStreamView):
    fields = FIELDS
    filename = "export.csv"

    def get_queryset(self) -> QuerySet[Record, Any]:
        return records(self.request)


class PythonExport(CopyExport):
    def render_to_response(self, **kwargs: Any) -> StreamingCSVResponse:
        with override_settings(STREAMKIT_CSV_COPY=False):
            return super().render_to_response(**kwargs)


def django_pattern(request: HttpRequest) -> StreamingHttpResponse:
    writer = csv.writer(Echo())
    rows = records(request).values_list(*FIELDS).iterator()
    lines = (writer.writerow(row) for row in _with_header(FIELDS, rows))
    return StreamingHttpResponse(lines, content_type="text/csv", headers=ATTACHMENT)


def raw_copy_chunks(n: int, size: int = 64 * 1024) -> Iterator[bytes]:
    with connection.cursor() as cursor, cursor.cursor.copy(RAW, [n]) as copy:
        parts: list[bytes] = []
        held = 0
        for data in copy:
            parts.append(bytes(data))
            held += len(data)
            if held >= size:
                yield b"".join(parts)
                parts, held = [], 0
        yield b"".join(parts)


def raw_copy(request: HttpRequest) -> StreamingHttpResponse:
    chunks = raw_copy_chunks(int(request.GET.get("n", "1000")))
    return StreamingHttpResponse(chunks, content_type="text/csv", headers=ATTACHMENT)


urlpatterns = [
    path("", include("tests.support.urls")),
    path("bench/copy", CopyExport.as_view()),
    path("bench/python", PythonExport.as_view()),
    path("bench/django", django_pattern),
    path("bench/raw", raw_copy),
]
