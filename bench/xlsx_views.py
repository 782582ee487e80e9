"""The XLSX benchmark's variants (served with bench.xlsx_settings).

Each writes the same ``values_list()`` rows of the Record table (8 columns:
integers, text, a choice, a decimal and an aware datetime) as a workbook,
the way its documentation shows:

- ``streamkit``: ``XLSXStreamView`` with its defaults.
- ``openpyxl``: a write-only workbook, rows appended, saved to a buffer that
  becomes the response (openpyxl refuses aware datetimes: they are made
  naive, as its users must).
- ``xlsxwriter``: ``constant_memory`` mode, rows written one by one, the
  file closed into a buffer that becomes the response.
- ``import-export``: django-import-export's ``ModelResource.export()`` as
  XLSX (tablib, openpyxl underneath).
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from django_streamkit.views import XLSXStreamView
from django_streamkit.xlsx import CONTENT_TYPE
from tests.support.csv_views import RECORD_FIELDS
from tests.support.testapp.models import Record

ATTACHMENT = {"Content-Disposition": 'attachment; filename="export.xlsx"'}


def _n(request: HttpRequest) -> int:
    return int(request.GET.get("n", "1000"))


def _rows(request: HttpRequest) -> Iterator[tuple[Any, ...]]:
    queryset = Record.objects.filter(id__lte=_n(request)).values_list(*RECORD_FIELDS)
    return queryset.iterator(chunk_size=2000)


class StreamkitWorkbook(XLSXStreamView):
    model = Record
    fields = RECORD_FIELDS

    def get_queryset(self) -> Any:
        return super().get_queryset().filter(id__lte=_n(self.request))


def _naive(value: datetime.datetime) -> datetime.datetime:
    return value.replace(tzinfo=None)


def xlsx_openpyxl(request: HttpRequest) -> HttpResponse:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Records")
    sheet.append(RECORD_FIELDS)
    for row in _rows(request):
        sheet.append([*row[:7], _naive(row[7])])
    buffer = io.BytesIO()
    book.save(buffer)
    return HttpResponse(
        buffer.getvalue(), content_type=CONTENT_TYPE, headers=ATTACHMENT
    )


def xlsx_xlsxwriter(request: HttpRequest) -> HttpResponse:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": True,
            "remove_timezone": True,
            "default_date_format": "yyyy-mm-dd hh:mm:ss",
        },
    )
    sheet = book.add_worksheet("Records")
    sheet.write_row(0, 0, RECORD_FIELDS)
    for number, row in enumerate(_rows(request), 1):
        sheet.write_row(number, 0, row)
    book.close()
    return HttpResponse(
        buffer.getvalue(), content_type=CONTENT_TYPE, headers=ATTACHMENT
    )


def xlsx_import_export(request: HttpRequest) -> HttpResponse:
    from import_export.resources import ModelResource

    class RecordResource(ModelResource):  # type: ignore[misc]
        class Meta:
            model = Record
            fields = RECORD_FIELDS

    dataset = RecordResource().export(Record.objects.filter(id__lte=_n(request)))
    return HttpResponse(
        dataset.export("xlsx"), content_type=CONTENT_TYPE, headers=ATTACHMENT
    )


urlpatterns = [
    path("", include("tests.support.urls")),
    path("bench/xlsx/streamkit", StreamkitWorkbook.as_view()),
    path("bench/xlsx/openpyxl", xlsx_openpyxl),
    path("bench/xlsx/xlsxwriter", xlsx_xlsxwriter),
    path("bench/xlsx/import-export", xlsx_import_export),
]
