"""The CSV benchmark's Django variants (served with bench.csv_settings*).

Each is the documented or obvious way to stream the same rows:

- ``streamkit``: django-streamkit with its default settings.
- ``django``: Django's documented pattern ("Streaming large CSV files"): a
  ``csv.writer`` over an ``Echo`` pseudo-buffer, one yield per row.
- ``hand``: a hand-chunked ``csv.writer`` into a buffer, yielding 64 KiB.
- ``import-export``: django-import-export's ``ModelResource.export()``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import include, path

from bench.csv_data import HEADER, text_rows
from django_streamkit import StreamingCSVResponse
from tests.support.csv_views import RECORD_FIELDS, RecordExport
from tests.support.testapp.models import Record

ATTACHMENT = {"Content-Disposition": 'attachment; filename="export.csv"'}


class Echo:
    """An object that implements just the write method of the file-like interface."""

    def write(self, value: str) -> str:
        """Write the value by returning it, instead of storing in a buffer."""
        return value


def _n(request: HttpRequest) -> int:
    return int(request.GET.get("n", "1000"))


def _rows(request: HttpRequest) -> Iterator[tuple[str, ...]]:
    return text_rows(_n(request), quoted=bool(request.GET.get("quoted")))


def gen_streamkit(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingCSVResponse(_rows(request), header=HEADER, filename="export.csv")


def gen_django(request: HttpRequest) -> StreamingHttpResponse:
    writer = csv.writer(Echo())
    rows = (writer.writerow(row) for row in _with_header(HEADER, _rows(request)))
    return StreamingHttpResponse(rows, content_type="text/csv", headers=ATTACHMENT)


def _with_header(header: Any, rows: Iterator[Any]) -> Iterator[Any]:
    yield header
    yield from rows


def _hand_chunked(rows: Iterator[Any], size: int = 64 * 1024) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= size:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def gen_hand(request: HttpRequest) -> StreamingHttpResponse:
    rows = _with_header(HEADER, _rows(request))
    return StreamingHttpResponse(
        _hand_chunked(rows), content_type="text/csv", headers=ATTACHMENT
    )


def qs_django(request: HttpRequest) -> StreamingHttpResponse:
    writer = csv.writer(Echo())
    queryset = Record.objects.filter(id__lte=_n(request)).values_list(*RECORD_FIELDS)
    rows = (
        writer.writerow(row) for row in _with_header(RECORD_FIELDS, queryset.iterator())
    )
    return StreamingHttpResponse(rows, content_type="text/csv", headers=ATTACHMENT)


def qs_import_export(request: HttpRequest) -> HttpResponse:
    from import_export.resources import ModelResource

    class RecordResource(ModelResource):  # type: ignore[misc]
        class Meta:
            model = Record
            fields = RECORD_FIELDS

    dataset = RecordResource().export(Record.objects.filter(id__lte=_n(request)))
    return HttpResponse(dataset.csv, content_type="text/csv", headers=ATTACHMENT)


urlpatterns = [
    path("", include("tests.support.urls")),
    path("bench/gen/streamkit", gen_streamkit),
    path("bench/gen/django", gen_django),
    path("bench/gen/hand", gen_hand),
    path("bench/qs/streamkit", RecordExport.as_view()),
    path("bench/qs/django", qs_django),
    path("bench/qs/import-export", qs_import_export),
]
