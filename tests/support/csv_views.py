"""CSV views for the tests and the real servers they start (mounted at csv/)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path

from django_streamkit import StreamingCSVResponse
from django_streamkit.views import CSVStreamView
from tests.support.testapp.models import Book, Record

RECORD_FIELDS = [
    "id",
    "name",
    "email",
    "city",
    "status",
    "quantity",
    "amount",
    "created",
]


class RecordExport(CSVStreamView):
    """The Record table; ``?n=`` limits the rows."""

    model = Record
    fields = RECORD_FIELDS
    filename = "records.csv"

    def get_queryset(self) -> QuerySet[Record]:
        queryset = super().get_queryset()
        if n := self.request.GET.get("n"):
            queryset = queryset.filter(id__lte=int(n))
        return queryset


class BookExport(CSVStreamView):
    model = Book
    fields = ["title", "author__name", "genre", "rating", "price", "published"]
    labels = {"author__name": "Author"}
    choices_as_labels = ["genre"]


def lines(request: HttpRequest) -> StreamingCSVResponse:
    """``?n=`` rows of two columns from a generator, as a download."""
    n = int(request.GET.get("n", "1000"))
    rows = ([f"row {i}", i] for i in range(n))
    return StreamingCSVResponse(rows, header=["name", "number"], filename="lines.csv")


def failing(request: HttpRequest) -> StreamingCSVResponse:
    """A generator that fails at row ``?at=``."""
    at = int(request.GET.get("at", "0"))

    def rows() -> Any:
        for i in range(at + 10):
            if i == at:
                raise ValueError(f"bad row {i}")
            yield [i]

    return StreamingCSVResponse(rows(), header=["n"])


urlpatterns = [
    path("records.csv", RecordExport.as_view()),
    path("books.csv", BookExport.as_view()),
    path("lines.csv", lines),
    path("failing.csv", failing),
]
