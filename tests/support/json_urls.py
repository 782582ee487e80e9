"""JSON views for the tests and the real servers they start (mounted at json/).

Every source is bounded: sleeps and endless loops stop by themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path
from rest_framework import generics, serializers

from django_streamkit import StreamingJSONResponse, StreamingNDJSONResponse
from django_streamkit.contrib.rest_framework import StreamingListMixin
from django_streamkit.views import JSONStreamView
from tests.support.csv_views import RECORD_FIELDS
from tests.support.testapp.models import Book, Record
from tests.support.views import _mark


class RecordJSON(JSONStreamView):
    """The Record table; ``?n=`` limits the rows."""

    model = Record
    fields = RECORD_FIELDS

    def get_queryset(self) -> QuerySet[Record]:
        queryset = super().get_queryset()
        if n := self.request.GET.get("n"):
            queryset = queryset.filter(id__lte=int(n))
        return queryset


class BookJSON(JSONStreamView):
    model = Book
    fields = ["title", "author__name", "genre", "rating", "price", "published"]
    labels = {"author__name": "author"}
    choices_as_labels = ["genre"]

    def get_queryset(self) -> QuerySet[Book]:
        return super().get_queryset().order_by("pk")


class CountedBookJSON(BookJSON):
    def get_envelope(self) -> Mapping[str, object]:
        return {"count": self.object_list.count()}


class Unencodable:
    def __repr__(self) -> str:
        return "<Unencodable>"


def _items(request: HttpRequest) -> Iterator[Any]:
    n = int(request.GET.get("n", "1000"))
    at = int(request.GET.get("at", "-1"))
    token = request.GET.get("token", "")
    try:
        for i in range(n):
            # A value no encoder writes, made after row ``at``'s bytes.
            yield Unencodable() if i == at else {"id": i, "name": f"row {i}"}
    finally:
        _mark(token)


async def _aitems(request: HttpRequest) -> AsyncIterator[Any]:
    for item in _items(request):
        yield item
        await asyncio.sleep(0)


def _endless(request: HttpRequest) -> Iterator[Any]:
    token = request.GET.get("token", "")
    try:
        for i in range(2400):  # two minutes at most
            yield {"id": i, "name": f"row {i}"}
            time.sleep(0.05)
    finally:
        _mark(token)


async def _aendless(request: HttpRequest) -> AsyncIterator[Any]:
    token = request.GET.get("token", "")
    try:
        for i in range(2400):
            yield {"id": i, "name": f"row {i}"}
            await asyncio.sleep(0.05)
    finally:
        _mark(token)


def items(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    """``/json/<kind>/items.json?n=&at=&lines=&token=``: ``kind`` sync or
    async; ``at`` puts an item no encoder writes at that position."""
    source = _aitems(request) if kind == "async" else _items(request)
    if request.GET.get("lines"):
        return StreamingNDJSONResponse(source)
    return StreamingJSONResponse(source)


async def async_items(request: HttpRequest) -> StreamingHttpResponse:
    """``/json/async-view/items.json``: async items from an async view, primed
    before it returns where the server's loop will send the rest (ASGI)."""
    source = _aitems(request)
    response: StreamingJSONResponse | StreamingNDJSONResponse
    if request.GET.get("lines"):
        response = StreamingNDJSONResponse(source)
    else:
        response = StreamingJSONResponse(source)
    if isinstance(request, ASGIRequest):
        await response.aprime()
    return response


def endless(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    source = _aendless(request) if kind == "async" else _endless(request)
    if request.GET.get("lines"):
        return StreamingNDJSONResponse(source)
    return StreamingJSONResponse(source)


class SlowRowSerializer(serializers.Serializer):  # type: ignore[misc]
    """A row every 50 ms, stamped with when it was made."""

    def to_representation(self, instance: int) -> dict[str, object]:
        time.sleep(0.05)
        return {"n": instance, "made": f"{time.time():.6f}"}


class SlowDRFList(StreamingListMixin, generics.ListAPIView):  # type: ignore[misc]
    """``/json/drf/slow``: 40 rows serialised slowly, streamed by DRF."""

    serializer_class = SlowRowSerializer
    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    pagination_class = None

    def get_queryset(self) -> range:
        return range(40)


urlpatterns = [
    path("records.json", RecordJSON.as_view()),
    path("books.json", BookJSON.as_view()),
    path("counted-books.json", CountedBookJSON.as_view()),
    path("async-view/items.json", async_items),
    path("<slug:kind>/items.json", items),
    path("<slug:kind>/endless.json", endless),
    path("drf/slow", SlowDRFList.as_view()),
]
