"""StreamingListMixin against real Django REST framework and django-filter:
the view's filters, permissions and throttles, its serializer row by row,
content negotiation between JSON, JSON Lines and CSV, errors, and DRF being
optional."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import include, path
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, permissions, renderers, serializers, throttling
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.routers import SimpleRouter
from rest_framework.viewsets import ReadOnlyModelViewSet

from django_streamkit.contrib.rest_framework import StreamingListMixin
from tests.support.databases import each_database
from tests.support.servers import ROOT
from tests.support.testapp.models import Book
from tests.test_views_csv import seed

pytestmark = pytest.mark.urls(__name__)


class BookSerializer(serializers.ModelSerializer):  # type: ignore[misc]
    author = serializers.CharField(source="author.name")
    calls = 0

    class Meta:
        model = Book
        fields = ["id", "title", "author", "genre", "rating", "price", "published"]

    def to_representation(self, instance: Book) -> Any:
        type(self).calls += 1
        if instance.title == "boom":
            raise ValueError(f"can't serialise {instance.title!r}")
        return super().to_representation(instance)


class Books:
    serializer_class = BookSerializer
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_fields = ["genre", "rating"]
    search_fields = ["title"]
    ordering = ["id"]
    pagination_class = None

    def get_queryset(self) -> Any:
        db = self.request.GET.get("db", "default")  # type: ignore[attr-defined]
        return Book.objects.using(db).select_related("author")


class StreamedBooks(StreamingListMixin, Books, generics.ListAPIView):  # type: ignore[misc]
    pass


class DRFBooks(Books, generics.ListAPIView):  # type: ignore[misc]
    """DRF's own, for reference."""


class PrivateBooks(StreamedBooks):
    permission_classes = [permissions.IsAuthenticated]


class TwoPerMinute(throttling.AnonRateThrottle):  # type: ignore[misc]
    rate = "2/min"


class ThrottledBooks(StreamedBooks):
    throttle_classes = [TwoPerMinute]


class Paged(PageNumberPagination):  # type: ignore[misc]
    page_size = 2


class NotStreamed(StreamedBooks):
    """A renderer that doesn't stream: the view's own (paginated) list()."""

    renderer_classes = [renderers.JSONRenderer]
    pagination_class = Paged


class BookViewSet(StreamingListMixin, Books, ReadOnlyModelViewSet):  # type: ignore[misc]
    pass


router = SimpleRouter()
router.register("viewset", BookViewSet, basename="book")
urlpatterns = [
    path("books/", StreamedBooks.as_view()),
    path("drf/", DRFBooks.as_view()),
    path("private/", PrivateBooks.as_view()),
    path("throttled/", ThrottledBooks.as_view()),
    path("not-streamed/", NotStreamed.as_view()),
    path("", include(router.urls)),
]


def streamed(response: Any) -> bytes:
    assert response.status_code == 200, response.content
    assert response.streaming, "the list is streamed"
    return b"".join(response.streaming_content)


def add_books(db: str = "default") -> None:
    seed(db)


@pytest.mark.parametrize("db", each_database())
def test_the_same_list_as_drf_streamed(client: Client, db: str) -> None:
    add_books(db)
    ours = client.get(f"/books/?db={db}")
    assert ours["Content-Type"] == "application/json"
    reference = client.get(f"/drf/?db={db}")
    assert json.loads(streamed(ours)) == json.loads(reference.content)
    assert len(json.loads(reference.content)) == 3
    assert json.loads(streamed(client.get(f"/viewset/?db={db}"))) == json.loads(
        reference.content
    )


@pytest.mark.django_db
def test_filters_search_and_ordering_apply(client: Client) -> None:
    add_books()
    for query in ["genre=novel", "rating=1", "search=ir", "ordering=-rating"]:
        ours = json.loads(streamed(client.get(f"/books/?{query}")))
        assert ours == json.loads(client.get(f"/drf/?{query}").content), query
    assert [b["title"] for b in ours] == ["First", "-Third", "Second"]
    # django-filter's validation: a 400 naming the bad value, before any byte.
    bad = client.get("/books/?rating=lots")
    assert bad.status_code == 400
    assert "rating" in bad.json()


@pytest.mark.django_db
def test_content_negotiation_picks_json_lines_or_csv(client: Client) -> None:
    add_books()
    rows = json.loads(client.get("/drf/").content)
    lines = client.get("/books/", HTTP_ACCEPT="application/x-ndjson")
    assert lines["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line) for line in streamed(lines).splitlines()] == rows
    assert streamed(client.get("/books/?format=ndjson")) == streamed(
        client.get("/books/", HTTP_ACCEPT="application/x-ndjson")
    )
    as_csv = client.get("/books/?format=csv&genre=novel")
    assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(streamed(as_csv).decode())))
    first, third = rows[0], rows[2]
    assert table == [
        ["id", "title", "author", "genre", "rating", "price", "published"],
        [str(first["id"]), "First", "Ann", "novel", "3", "9.50", first["published"]],
        # DRF writes decimals as strings, so a negative one is escaped.
        [str(third["id"]), "'-Third", "'=Bob", "novel", "2", "'-1.00", ""],
    ]
    assert client.get("/books/", HTTP_ACCEPT="text/csv")["Content-Type"].startswith(
        "text/csv"
    )
    assert client.get("/books/", HTTP_ACCEPT="application/xml").status_code == 406


@pytest.mark.django_db
def test_permissions_and_throttles_hold(client: Client) -> None:
    add_books()
    denied = client.get("/private/?format=ndjson")
    assert denied.status_code == 403
    assert not denied.streaming
    assert json.loads(denied.content) == {
        "detail": "Authentication credentials were not provided."
    }
    denied_csv = client.get("/private/?format=csv")
    assert denied_csv.status_code == 403
    assert denied_csv.content.startswith(b"detail\r\n")
    cache.clear()
    assert [client.get("/throttled/").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db
def test_rows_are_serialised_one_at_a_time(client: Client) -> None:
    add_books()
    BookSerializer.calls = 0
    response = client.get("/books/")
    # Only the first row is made before the view returns.
    assert BookSerializer.calls == 1
    assert len(json.loads(streamed(response))) == 3
    assert BookSerializer.calls == 3


@pytest.mark.django_db
def test_a_renderer_that_does_not_stream_gets_drfs_own_list(client: Client) -> None:
    add_books()
    response = client.get("/not-streamed/")
    assert not response.streaming
    assert response.json()["count"] == 3
    assert len(response.json()["results"]) == 2


@pytest.mark.django_db
def test_a_failing_first_row_is_a_500_and_a_later_one_aborts(client: Client) -> None:
    add_books()
    Book.objects.filter(title="First").update(title="boom")
    client.raise_request_exception = False
    assert client.get("/books/").status_code == 500
    Book.objects.filter(title="boom").update(title="First")
    Book.objects.filter(title="-Third").update(title="boom")
    response = client.get("/books/?format=ndjson")
    with pytest.raises(ValueError, match="can't serialise 'boom'"):
        b"".join(response.streaming_content)


def test_streamkit_imports_without_rest_framework() -> None:
    code = """
import sys
sys.modules["rest_framework"] = None  # as if not installed
import django
django.setup()
import django_streamkit, django_streamkit.views, django_streamkit.json
import django_streamkit.exports, django_streamkit.admin
try:
    import django_streamkit.contrib.rest_framework
except ImportError as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "tests.support.settings",
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'django-streamkit[drf]'" in done.stdout


def test_the_json_lines_renderer_escapes_what_line_readers_split_on() -> None:
    from django_streamkit.contrib.rest_framework import StreamingNDJSONRenderer

    data = StreamingNDJSONRenderer().render({"detail": "a\u2028b\u2029c\x85"})
    assert data == b'{"detail":"a\\u2028b\\u2029c\\u0085"}\n'
    assert len(data.decode().splitlines()) == 1


@pytest.mark.django_db
def test_head_gets_the_headers_and_serialises_no_row(client: Client) -> None:
    add_books()
    BookSerializer.calls = 0
    head = client.head("/books/?format=ndjson")
    assert head.status_code == 200
    assert head["Content-Type"] == "application/x-ndjson"
    assert b"".join(head.streaming_content) == b""
    assert BookSerializer.calls == 0
    # Filters are still checked.
    assert client.head("/books/?rating=lots").status_code == 400


class Grouped(serializers.ListSerializer):  # type: ignore[misc]
    def to_representation(self, data: Any) -> Any:
        return {"books": super().to_representation(data)}


class GroupedBookSerializer(BookSerializer):
    class Meta(BookSerializer.Meta):
        list_serializer_class = Grouped


class GroupedBooks(StreamedBooks):
    serializer_class = GroupedBookSerializer


urlpatterns.append(path("grouped/", GroupedBooks.as_view()))


@pytest.mark.django_db
def test_a_list_serializer_with_its_own_representation_is_refused(
    client: Client,
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    add_books()
    with pytest.raises(ImproperlyConfigured, match=r"Grouped .* overrides to_repr"):
        client.get("/grouped/")
