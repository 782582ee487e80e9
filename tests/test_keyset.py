"""QuerySets read in keyset pages behind a real PgBouncer (transaction pooling).

With ``DISABLE_SERVER_SIDE_CURSORS`` the tests' PostgreSQL alias connects
through the bouncer of ``tests/support/pgbouncer.py``; every streamed QuerySet
must give the rows ``list(queryset)`` gives, in the same order, however the
ordering ties, mixes directions or holds NULLs, while each statement returns
at most a page.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.db.models import Count, F, QuerySet
from django.db.models.functions import Lower
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from django_streamkit import StreamingResponse, stream_csv, stream_json
from django_streamkit._db import keyset
from django_streamkit._db.queryset import QuerySetRows
from django_streamkit.exports import CSVExport, register, registry
from tests.support.pgbouncer import Bouncer, pgbouncer  # noqa: F401 (a fixture)
from tests.support.testapp.models import Author, Book, Customer, Order, Pair

pytestmark = pytest.mark.postgres
DATABASES = pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
CHUNK = 1
PAGE = CHUNK * keyset.PAGE_CHUNKS
UTC = datetime.UTC


@pytest.fixture
def bounced(pgbouncer: Bouncer) -> Iterator[str]:  # noqa: F811
    """The ``postgres`` alias through the bouncer, server-side cursors off."""
    connection = connections["postgres"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(pgbouncer.database(saved))
    try:
        with override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=CHUNK):
            yield "postgres"
    finally:
        connection.close()
        pgbouncer.release(saved["NAME"])  # else the test database can't be dropped
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture
def books(bounced: str) -> QuerySet[Book]:
    authors = [Author.objects.using(bounced).create(name=f"a{i}") for i in range(3)]
    prices = [None, Decimal("5.00"), Decimal("5.00"), Decimal("1.50"), None]
    days = [None, 3, 3, 1, None, 2]
    for i in range(23):
        day = days[i % len(days)]
        Book.objects.using(bounced).create(
            title=f"t{i % 7}",
            author=authors[i % 3],
            genre="novel" if i % 2 else "poetry",
            rating=1 + i % 3,
            price=prices[i % len(prices)],
            published=None
            if day is None
            else datetime.datetime(2026, 1, day, tzinfo=UTC),
        )
    return Book.objects.using(bounced).all()


ORDERINGS: list[tuple[Any, ...]] = [
    (),
    ("rating",),
    ("-rating", "title"),
    ("price",),
    ("-price",),
    (F("price").asc(nulls_first=True),),
    (F("price").desc(nulls_last=True), "-title"),
    ("published", "-price", "genre"),
    ("author__name", "-id"),
    ("title", "pk"),
]


@DATABASES
@pytest.mark.parametrize("ordering", ORDERINGS, ids=str)
def test_pages_give_every_row_once_in_the_querysets_order(
    books: QuerySet[Book], ordering: tuple[Any, ...]
) -> None:
    queryset = books.order_by(*ordering).values_list(
        "id", "title", "rating", "price", "published"
    )
    # Rows that tie on the ordering come in primary key order (the order
    # among ties is otherwise the database's choice).
    expected = list(queryset.order_by(*ordering, "pk"))
    assert sorted(expected, key=str) == sorted(queryset, key=str)
    assert len(expected) == 23
    with CaptureQueriesContext(connections["postgres"]) as queries:
        got = [row for batch in _batches(queryset) for row in batch]
    assert got == expected
    # Two statements a page (its end key, its rows), and never all at once.
    assert len(queries) >= 2 * (23 // PAGE)
    assert all("OFFSET" in q["sql"] or "LIMIT" not in q["sql"] for q in queries)


def _batches(queryset: QuerySet[Any, Any]) -> list[list[Any]]:
    return [list(batch) for batch in keyset.read(queryset, CHUNK, _one_batch)]


def _one_batch(page: QuerySet[Any, Any]) -> Iterator[list[Any]]:
    fetched = list(page)
    assert len(fetched) <= PAGE, "a page holds at most a page of rows"
    yield fetched


@DATABASES
def test_the_csv_of_a_paged_queryset_is_the_csv_of_its_rows(
    books: QuerySet[Book],
) -> None:
    queryset = books.order_by("-price", "title").values_list("title", "price")
    paged = b"".join(stream_csv(queryset))  # type: ignore[arg-type]
    whole = b"".join(stream_csv(list(queryset)))  # type: ignore[arg-type]
    assert paged == whole
    assert paged.count(b"\r\n") == 23


@DATABASES
def test_json_of_a_paged_queryset_is_the_json_of_its_rows(
    books: QuerySet[Book],
) -> None:
    queryset = books.order_by("-price", "title").values("title", "price")
    with CaptureQueriesContext(connections["postgres"]) as queries:
        paged = b"".join(stream_json(queryset))  # type: ignore[arg-type]
    assert json.loads(paged) == json.loads(
        json.dumps(list(queryset), cls=DjangoJSONEncoder)
    )
    assert len(json.loads(paged)) == 23
    # Read page by page (its end key, its rows), never in one statement.
    assert len(queries) >= 2 * (23 // PAGE)


@DATABASES
def test_model_instances_and_default_ordering_are_paged(bounced: str) -> None:
    created = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    customer = Customer.objects.using(bounced).create(name="c")
    for i in range(11):
        Order.objects.using(bounced).create(
            number=f"n{i % 4}",
            customer=customer,
            status="new",
            total=Decimal(i),
            created=created,
        )
    queryset = Order.objects.using(bounced).all()  # Meta.ordering = ["number"]
    expected = [order.pk for order in queryset.order_by("number", "pk")]
    got = [order.pk for order in QuerySetRows(queryset, CHUNK)]
    assert got == expected


@DATABASES
def test_a_grouped_queryset_is_read_whole_and_says_why(
    books: QuerySet[Book], caplog: pytest.LogCaptureFixture
) -> None:
    queryset = books.values("rating").annotate(n=Count("id")).order_by("rating")
    assert keyset.unpageable(queryset) is not None
    with caplog.at_level(logging.WARNING, logger="django_streamkit"):
        rows = list(QuerySetRows(queryset, CHUNK))
    assert rows == list(queryset)
    assert "can't be read in keyset pages because it is grouped" in caplog.text
    assert "DISABLE_SERVER_SIDE_CURSORS" in caplog.text


@DATABASES
def test_where_cursors_stream_nothing_is_paged(books: QuerySet[Book]) -> None:
    connection = connections["postgres"]
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = False
    assert not keyset.needs_pages(books)


# -- the system check (streamkit.W065) ----------------------------------------


@pytest.fixture
def bouncer_settings() -> Iterator[None]:
    """The ``postgres`` alias flagged as behind PgBouncer (no connection made)."""
    connection = connections["postgres"]
    saved = connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS", False)
    connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
    saved_exports = dict(registry._registry)
    registry._registry.clear()
    try:
        yield
    finally:
        connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = saved
        registry._registry.clear()
        registry._registry.update(saved_exports)


@pytest.mark.django_db(databases=[])
@pytest.mark.usefixtures("bouncer_settings")
def test_the_check_warns_of_an_export_that_cant_be_paged() -> None:
    class Grouped(CSVExport):
        queryset = (
            Book.objects.using("postgres").values("rating").annotate(n=Count("id"))
        )
        fields = ["rating", "n"]

    class Paged(CSVExport):
        queryset = Book.objects.using("postgres").order_by("-rating")
        fields = ["title", "rating"]

    class Direct(CSVExport):  # SQLite: cursors stream there
        queryset = Book.objects.values("rating").annotate(n=Count("id"))
        fields = ["rating", "n"]

    for export in (Grouped, Paged, Direct):
        register(export)
    warnings = [w for w in run_checks() if w.id == "streamkit.W065"]
    assert [w.obj for w in warnings] == [Grouped]
    assert "'postgres'" in warnings[0].msg
    assert "it is grouped" in warnings[0].msg
    assert "Order it by unique columns" in (warnings[0].hint or "")


@pytest.mark.django_db(databases=[])
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: Book.objects.order_by("?"), "at random"),
        (lambda: Book.objects.all()[:10], "sliced"),
        (lambda: Book.objects.values("rating").distinct(), "distinct"),
        (lambda: Book.objects.all().union(Book.objects.all()), "union"),
        (lambda: Order.objects.order_by("customer"), "Customer.Meta.ordering"),
        (lambda: Author.objects.order_by("books__title"), "to-many relation 'books'"),
        (
            lambda: Customer.objects.order_by(Lower("orders__number").desc()),
            "to-many relation 'orders'",
        ),
    ],
    ids=[
        "random",
        "sliced",
        "distinct",
        "union",
        "ordered-relation",
        "to-many",
        "to-many-expression",
    ],
)
def test_what_cant_be_paged_says_why(make: Any, reason: str) -> None:
    found = keyset.unpageable(make())
    assert found is not None
    assert reason in found
    assert keyset.unpageable(Book.objects.order_by("author", "-price")) is None
    assert keyset.unpageable(Book.objects.order_by("author__name", "-pk")) is None
    assert keyset.unpageable(Book.objects.order_by("published__year")) is None


@DATABASES
def test_a_streaming_response_over_a_queryset_is_paged(books: QuerySet[Book]) -> None:
    queryset = books.order_by("-title", "pk").values_list("title", flat=True)
    expected = "".join(queryset).encode()
    with CaptureQueriesContext(connections["postgres"]) as queries:
        body = b"".join(StreamingResponse(queryset))
    assert body == expected
    assert len(queries) >= 2 * (23 // PAGE)


@DATABASES
@pytest.mark.parametrize("ordering", [("rating", "title"), ("price",), ()], ids=str)
def test_a_reversed_queryset_is_paged_in_its_reversed_order(
    books: QuerySet[Book], ordering: tuple[str, ...]
) -> None:
    # .reverse() flips the ordering in the compiler, not in query.order_by.
    queryset = books.order_by(*ordering).reverse().values_list("id", "price")
    expected = list(
        books.order_by(*ordering, "pk").reverse().values_list("id", "price")
    )
    got = [row for batch in _batches(queryset) for row in batch]
    assert got == expected


@DATABASES
def test_an_ordering_across_a_to_many_relation_is_read_whole(bounced: str) -> None:
    # Its rows repeat per related row, and a page's filter would join the
    # relation again: paged, the pages never ended (bounded here by islice).
    for i in range(4):
        author = Author.objects.using(bounced).create(name=f"a{i}")
        for j in range(3):
            Book.objects.using(bounced).create(
                title=f"t{j}", author=author, genre="novel", rating=1
            )
    queryset = (
        Author.objects.using(bounced)
        .order_by("books__title", "pk")
        .values_list("id", "books__title")
    )
    got = list(islice(QuerySetRows(queryset, CHUNK), 100))
    assert got == list(queryset)
    assert len(got) == 12


@DATABASES
@pytest.mark.parametrize("copy", [True, False], ids=["copy", "python"])
def test_the_check_leaves_out_an_export_that_copy_writes(
    bounced: str, bouncer_settings: None, copy: bool
) -> None:
    # COPY is one statement, which PgBouncer streams: no pages needed.
    class Distinct(CSVExport):
        queryset = Book.objects.using("postgres").order_by("title").distinct()
        fields = ["title", "rating"]

    class Displayed(CSVExport):  # a callable's cells are Python's to write
        queryset = Book.objects.using("postgres").distinct()
        fields = ["title", "rating"]
        formats = ("csv",)

        def get_view_kwargs(self, request: Any) -> dict[str, object]:
            raise RuntimeError("needs a request")

    register(Distinct)
    register(Displayed)
    with override_settings(STREAMKIT_CSV_COPY=copy):
        warned = [w.obj for w in run_checks() if w.id == "streamkit.W065"]
    assert warned == ([Displayed] if copy else [Distinct, Displayed])


@DATABASES
@pytest.mark.parametrize("ordering", [("name",), ("-name", "pk"), ()], ids=str)
def test_a_composite_primary_key_breaks_ties_by_its_columns(
    bounced: str, ordering: tuple[str, ...]
) -> None:
    # F("pk") is a pair of columns there: compared as one, the bounds were
    # invalid SQL.
    Pair.objects.using(bounced).bulk_create(
        Pair(left=i % 3, right=i, name=f"n{i % 4}") for i in range(17)
    )
    queryset = Pair.objects.using(bounced).order_by(*ordering)
    expected = list(queryset.order_by(*ordering, "left", "right").values_list())
    got = [row for batch in _batches(queryset.values_list()) for row in batch]
    assert got == expected
