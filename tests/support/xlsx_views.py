"""Workbook views for the tests and the real servers they start (mounted at xlsx/)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path

from django_streamkit import StreamingXLSXResponse
from django_streamkit.views import XLSXStreamView
from tests.support.csv_views import RECORD_FIELDS
from tests.support.paced_views import async_source, sync_source
from tests.support.testapp.models import Record
from tests.support.views import _mark


class RecordWorkbook(XLSXStreamView):
    """The Record table; ``?n=`` limits the rows."""

    model = Record
    fields = RECORD_FIELDS
    choices_as_labels = ["status"]

    def get_queryset(self) -> QuerySet[Record]:
        queryset = super().get_queryset()
        if n := self.request.GET.get("n"):
            queryset = queryset.filter(id__lte=int(n))
        return queryset


def paced(request: HttpRequest) -> StreamingXLSXResponse:
    """``?kind=sync|async&mode=slow|pause|endless&token=``, as in paced_views."""
    is_async = request.GET.get("kind") == "async"
    rows = async_source(request) if is_async else sync_source(request)
    return StreamingXLSXResponse(rows, header=["n", "made"], filename="paced.xlsx")


def failing(request: HttpRequest) -> StreamingXLSXResponse:
    """Rows of 200 characters that fail at row ``?at=``; ``?token=`` marks the
    source's close."""
    at = int(request.GET.get("at", "0"))
    token = request.GET.get("token", "")

    def rows() -> Iterator[list[Any]]:
        try:
            for i in range(at + 10):
                if i == at:
                    raise ValueError(f"bad row {i}")
                yield [i, f"{i:0>200}"]
                if i > 100:
                    time.sleep(0.001)  # past the first chunks, but quickly
        finally:
            _mark(token)

    return StreamingXLSXResponse(rows(), header=["n", "text"])


def too_long(request: HttpRequest) -> StreamingXLSXResponse:
    """A cell longer than Excel takes in row ``?at=``."""
    at = int(request.GET.get("at", "0"))
    rows = ([i, "x" * (40_000 if i == at else 10)] for i in range(at + 10))
    return StreamingXLSXResponse(rows, header=["n", "text"])


urlpatterns = [
    path("records.xlsx", RecordWorkbook.as_view()),
    path("paced.xlsx", paced),
    path("failing.xlsx", failing),
    path("too-long.xlsx", too_long),
]
