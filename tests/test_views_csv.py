"""CSVStreamView on SQLite and PostgreSQL, and QuerySets in stream_csv."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.db.models import Count, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.test import RequestFactory, override_settings
from django.utils import translation
from django.utils.translation import gettext_lazy

from django_streamkit import StreamingCSVResponse, stream_csv
from django_streamkit.views import CSVStreamView
from tests.support.csv_views import BookExport
from tests.support.testapp.models import Author, Book, Record

UTC = datetime.UTC


def seed(using: str = "default") -> None:
    ann = Author.objects.using(using).create(name="Ann", born=datetime.date(1970, 5, 6))
    bob = Author.objects.using(using).create(name="=Bob")
    Book.objects.using(using).bulk_create(
        [
            Book(
                title="First",
                author=ann,
                genre="novel",
                rating=3,
                price=Decimal("9.50"),
                published=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            ),
            Book(title="Second", author=ann, genre="poetry", rating=1),
            Book(
                title="-Third", author=bob, genre="novel", rating=2, price=Decimal("-1")
            ),
        ]
    )


def export(
    view: type[CSVStreamView], query: str = "", **initkwargs: Any
) -> tuple[Any, list[list[str]]]:
    request = RequestFactory().get("/export.csv" + query)
    response = view.as_view(**initkwargs)(request)
    response.body = b"".join(response)
    return response, list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))


pytestmark = pytest.mark.django_db


def test_book_export() -> None:
    seed()
    response, rows = export(BookExport)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="books.csv"'
    )
    assert rows == [
        ["Title", "Author", "Genre", "Rating", "Price", "Published"],
        ["First", "Ann", "Novel", "3", "9.50", "2024-01-02T03:04:05.000000"],
        ["Second", "Ann", "Poetry", "1", "", ""],
        ["'-Third", "'=Bob", "Novel", "2", "-1.00", ""],
    ]


class AllBooks(CSVStreamView):
    model = Book
    fields = "__all__"


def test_all_fields_and_labels_from_verbose_names() -> None:
    seed()
    _, rows = export(AllBooks)
    assert rows[0] == ["ID", "Title", "Author", "Genre", "Rating", "Price", "Published"]
    assert rows[1][3:5] == ["novel", "3"]  # stored values unless asked


def test_relations_reverse_relations_transforms_and_annotations() -> None:
    seed()

    class Export(CSVStreamView):
        fields = ["name", "born", "born__year", "books__title", "n_books"]
        labels = {"n_books": "Books"}

        def get_queryset(self) -> QuerySet[Author]:
            return Author.objects.annotate(n_books=Count("books")).order_by("pk")

    _, rows = export(Export)
    assert rows[0] == [
        "Name",
        "Date of birth",
        "Date of birth year",
        "Book title",
        "Books",
    ]
    assert ["Ann", "1970-05-06", "1970", "First", "1"] in rows  # one row per book
    assert len(rows) == 4


def test_choices_as_labels_everywhere_and_in_the_request_language() -> None:
    seed()

    class Export(CSVStreamView):
        model = Book
        fields = ["title", "genre", "rating"]
        choices_as_labels = True
        labels = {"title": gettext_lazy("Yes")}

    with translation.override("de"):
        _, rows = export(Export)
    assert rows[0] == ["Ja", "Genre", "Rating"]
    assert rows[1] == ["First", "Novel", "great"]


def test_options_header_filename_and_dialect() -> None:
    seed()

    class Export(CSVStreamView):
        queryset = Book.objects.filter(title="First")
        fields = ["title", "price"]
        include_header = False
        filename = "mine.csv"
        dialect = "excel-tab"
        bom = True

    response, _ = export(Export)
    assert response["Content-Disposition"].startswith('attachment; filename="mine.csv"')
    assert response.body == b"\xef\xbb\xbfFirst\t9.50\r\n"


def test_get_filename_none_streams_inline_and_get_rows_can_be_overridden() -> None:
    class Export(CSVStreamView):
        model = Book
        fields = ["title"]

        def get_filename(self) -> None:
            return None

        def get_rows(self) -> Iterator[list[str]]:
            yield ["made up"]

    response, rows = export(Export)
    assert "Content-Disposition" not in response
    assert rows == [["Title"], ["made up"]]


def test_head_and_post() -> None:
    factory = RequestFactory()
    assert BookExport.as_view()(factory.head("/x")).status_code == 200
    assert BookExport.as_view()(factory.post("/x")).status_code == 405


def test_rows_are_values_list_rows_read_in_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed()
    calls = []
    execute_sql = SQLCompiler.execute_sql

    def spy(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        calls.append((kwargs.get("chunked_fetch"), kwargs.get("chunk_size")))
        return execute_sql(self, *args, **kwargs)

    def no_instances(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model instance was built")

    monkeypatch.setattr(SQLCompiler, "execute_sql", spy)
    monkeypatch.setattr(Book, "from_db", classmethod(no_instances))
    monkeypatch.setattr(QuerySet, "_fetch_all", no_instances)
    with override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=7):
        _, rows = export(BookExport)
    assert len(rows) == 4
    assert calls == [(True, 7)]


def test_stream_csv_reads_a_queryset_without_its_cache() -> None:
    seed()
    queryset = Book.objects.order_by("pk").values_list("title", "rating")
    assert b"".join(stream_csv(queryset)) == b"First,3\r\nSecond,1\r\n'-Third,2\r\n"  # type: ignore[arg-type]
    assert queryset._result_cache is None
    values = Book.objects.order_by("pk").values("title")
    assert b"".join(stream_csv(values, header=["title"])).count(b"\r\n") == 4  # type: ignore[arg-type]


def test_a_queryset_of_instances_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"QuerySet of Book instances.*values_list"):
        stream_csv(Book.objects.all())


# -- configuration errors ---------------------------------------------------------


def configured(**attrs: Any) -> type[CSVStreamView]:
    return type("Export", (CSVStreamView,), attrs)


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"fields": ["title"]}, r"Export is missing a QuerySet. Define Export.model"),
        ({"model": Book}, r"Export.fields is missing.*'__all__'"),
        (
            {"model": Book, "fields": "title"},
            r"not the string 'title'; write \['title'\]",
        ),
        (
            {"model": Book, "fields": ["title", "nmae"]},
            r"unknown field 'nmae' in 'nmae' on testapp.Book; choose from: author, "
            r"genre, id, price, published, rating, title\.",
        ),
        (
            {"model": Book, "fields": ["author__nmae"]},
            r"unknown field 'nmae' in 'author__nmae' on testapp.Author; "
            r"choose from: books, born, id, name\.",
        ),
        ({"model": Book, "fields": ["published__nope"]}, r"'published__nope'.*nope"),
        (
            {"model": Book, "fields": ["title"], "labels": {"titel": "T"}},
            r"labels names \['titel'\].*choose from \['title'\]",
        ),
        (
            {
                "model": Book,
                "fields": ["title", "genre"],
                "choices_as_labels": ["title"],
            },
            r"choices_as_labels names 'title'.*choose from \['genre'\]",
        ),
    ],
)
def test_misconfiguration_names_the_fix(attrs: dict[str, Any], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        export(configured(**attrs))


# -- PostgreSQL ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
def test_book_export_on_postgres() -> None:
    seed("postgres")

    class Export(BookExport):
        queryset = Book.objects.using("postgres").order_by("pk")

    _, rows = export(Export)
    assert rows[1:] == [
        ["First", "Ann", "Novel", "3", "9.50", "2024-01-02T03:04:05.000000"],
        ["Second", "Ann", "Poetry", "1", "", ""],
        ["'-Third", "'=Bob", "Novel", "2", "-1.00", ""],
    ]


def _records(using: str, n: int) -> None:
    Record.objects.using(using).bulk_create(
        Record(
            name=f"Customer {i}",
            email=f"user{i}@example.com",
            city="City",
            status="paid",
            quantity=i,
            amount=Decimal(i),
            note="",
            created=datetime.datetime(2024, 1, 1, tzinfo=UTC),
        )
        for i in range(n)
    )


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
@override_settings(STREAMKIT_CSV_COPY=False)  # the server-side cursor's reader
def test_postgres_reads_in_its_own_transaction_and_ends_it_on_close() -> None:
    _records("postgres", 5000)
    connection = connections["postgres"]
    queryset = Record.objects.using("postgres").values_list("id", "name")
    response = StreamingCSVResponse(queryset, chunk_size=4096)
    # Primed in the "view": the server-side cursor lives in a transaction, so
    # PostgreSQL streams it instead of materialising a WITH HOLD cursor.
    assert connection.in_atomic_block
    chunks = iter(response)
    next(chunks)
    next(chunks)
    response.close()  # the client went away
    assert not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone() == (0,)
    # Read to the end, the transaction ends too.
    response = StreamingCSVResponse(queryset)
    assert b"".join(response).count(b"\r\n") == 5000
    assert not connection.in_atomic_block


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
@pytest.mark.parametrize("header", [["id", "name"], None])
def test_postgres_export_survives_the_views_transaction(
    header: list[str] | None,
) -> None:
    """As under ATOMIC_REQUESTS: the view's transaction commits before streaming."""
    _records("postgres", 5000)
    queryset = Record.objects.using("postgres").values_list("id", "name")
    with transaction.atomic(using="postgres"):
        response = StreamingCSVResponse(queryset, header=header, chunk_size=4096)
    body = b"".join(response)
    assert body.count(b"\r\n") == 5000 + (header is not None)
