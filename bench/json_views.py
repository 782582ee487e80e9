"""The JSON benchmark's variants (served with bench.json_settings*).

- ``streamkit``: ``JSONStreamView`` with its defaults.
- ``django``: ``JsonResponse(list(qs.values()), safe=False)``, the usual way.
- ``drf``: DRF's ``ListAPIView`` with a ``ModelSerializer``, unpaginated.
- ``drf-streaming``: the same view with ``StreamingListMixin``.
- ``drf-per-row``: a ``ModelSerializer`` made for every row, the slow way
  to serialise rows one at a time (what ``StreamingListMixin`` avoids).

``?n=`` limits the rows to ids 1..n.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import include, path
from rest_framework import generics, serializers

from django_streamkit import StreamingJSONResponse
from django_streamkit.contrib.rest_framework import StreamingListMixin
from tests.support.csv_views import RECORD_FIELDS
from tests.support.json_urls import RecordJSON
from tests.support.testapp.models import Record


def _n(request: HttpRequest) -> int:
    return int(request.GET.get("n", "1000"))


def _records(request: HttpRequest) -> QuerySet[Record]:
    return Record.objects.filter(id__lte=_n(request))


def django_values(request: HttpRequest) -> JsonResponse:
    return JsonResponse(list(_records(request).values(*RECORD_FIELDS)), safe=False)


class RecordSerializer(serializers.ModelSerializer):  # type: ignore[misc]
    class Meta:
        model = Record
        fields = RECORD_FIELDS


class DRFRecords(generics.ListAPIView):  # type: ignore[misc]
    serializer_class = RecordSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Record]:
        return _records(self.request)


class StreamedRecords(StreamingListMixin, DRFRecords):
    pass


def drf_per_row(request: HttpRequest) -> StreamingHttpResponse:
    def rows() -> Iterator[Any]:
        for record in _records(request).iterator(chunk_size=2000):
            yield RecordSerializer(record).data

    return StreamingJSONResponse(rows())


urlpatterns = [
    path("", include("tests.support.urls")),
    path("bench/json/streamkit", RecordJSON.as_view()),
    path("bench/json/django", django_values),
    path("bench/json/drf", DRFRecords.as_view()),
    path("bench/json/drf-streaming", StreamedRecords.as_view()),
    path("bench/json/drf-per-row", drf_per_row),
]
