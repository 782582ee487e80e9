"""COPY exports for the real-server tests (mounted at copy/)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import F, QuerySet, Value
from django.urls import path

from tests.support.csv_views import RecordExport
from tests.support.testapp.models import Record


class PythonRecordExport(RecordExport):
    """The same export through the Python writer: its rows in a generator."""

    def get_rows(self) -> Iterable[Sequence[object]]:
        return (row for row in super().get_rows())


class FailingRecordExport(RecordExport):
    """Divides by zero in PostgreSQL at id ``?at=``, mid-COPY."""

    fields = [*RecordExport.fields, "boom"]  # type: ignore[misc]

    def get_queryset(self) -> QuerySet[Record]:
        at = int(self.request.GET.get("at", "50000"))
        # No ORDER BY: a sort would compute every row before the first.
        return (
            Record.objects.annotate(boom=Value(1) / (F("id") - at))
            .filter(id__lte=at + 10)
            .order_by()
        )


urlpatterns = [
    path("records.csv", RecordExport.as_view()),
    path("records-python.csv", PythonRecordExport.as_view()),
    path("failing.csv", FailingRecordExport.as_view()),
]
