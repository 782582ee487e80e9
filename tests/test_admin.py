"""StreamingCSVExportMixin in Django's admin, through the test client."""

from __future__ import annotations

import codecs
import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection, connections
from django.db.models import Count, QuerySet
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.html import format_html

from django_streamkit import StreamingCSVResponse
from django_streamkit._exports.display import str_field
from django_streamkit.admin import StreamingCSVExportMixin
from django_streamkit.views import CSVStreamView
from tests.support.people import user_with
from tests.support.testapp.admin import OrderAdmin
from tests.support.testapp.models import Author, Book, Customer, Order, Sample

UTC = datetime.UTC
pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/testapp/order/"
EXPORT = "/admin/testapp/order/export.csv"


@pytest.fixture
def orders() -> list[Order]:
    ann = Customer.objects.create(name="Ann")
    bob = Customer.objects.create(name="Bob")
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Order.objects.bulk_create(
        [
            Order(
                number=f"N-{i}",
                customer=customer,
                status=status,
                total=Decimal(i),
                gift=i == 2,
                created=when,
                secret="hidden",
            )
            for i, (customer, status) in enumerate(
                [(ann, "paid"), (bob, "new"), (ann, "shipped"), (bob, "paid")], 1
            )
        ]
    )


def export(model: type[Any] = Order, query: str = "", **attrs: Any) -> list[list[str]]:
    """The export.csv of a ModelAdmin of ``model`` made with ``attrs``."""
    return rows(export_response(model, query, **attrs))


def export_response(model: type[Any] = Order, query: str = "", **attrs: Any) -> Any:
    cls = type("TestAdmin", (StreamingCSVExportMixin, admin.ModelAdmin), attrs)
    model_admin = cls(model, admin.site)
    request = RequestFactory().get(f"/admin/export.csv?{query}")
    request.user = User(is_superuser=True, is_active=True)
    return model_admin.export_csv_view(request)


def export_sql(**attrs: Any) -> tuple[list[list[str]], list[str]]:
    """The export's rows and the SQL of the queries that read them (the
    changelist's own COUNT and first page aside)."""
    with CaptureQueriesContext(connection) as queries:
        got = export(**attrs)
    sqls = [q["sql"] for q in queries.captured_queries]
    return got, [sql for sql in sqls if "COUNT(" not in sql and " LIMIT " not in sql]


def staff(*codenames: str) -> User:
    return user_with(*codenames, name="staff", is_staff=True)


@pytest.fixture
def viewer(client: Client) -> Client:
    """Staff who may only view orders."""
    client.force_login(staff("view_order"))
    return client


def rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body.startswith(codecs.BOM_UTF8), "a human download, for Excel"
    text = body.decode("utf-8-sig")
    assert "hidden" not in text
    return list(csv.reader(io.StringIO(text)))


HEADER = ["Number", "Customer", "Status", "Total", "Gift"]


def test_default_columns_are_what_the_changelist_shows(
    viewer: Client, orders: list[Order]
) -> None:
    # list_display: number, customer, status, total, gift and a method.
    page = viewer.get(CHANGELIST).content.decode()
    assert ">Ann</td>" in page
    assert ">Paid</td>" in page
    assert rows(viewer.get(EXPORT))[:3] == [
        [*HEADER, "Summary"],
        ["N-1", "Ann", "Paid", "1.00", "False", "N-1: 1.00"],
        ["N-2", "Bob", "New", "2.00", "True", "N-2: 2.00"],
    ]


def test_raw_values_are_one_attribute_away(orders: list[Order]) -> None:
    # csv_export_raw: list_display's model fields, as stored.
    ann = orders[0].customer_id
    assert export(list_display=OrderAdmin.list_display, csv_export_raw=True)[:2] == [
        HEADER,
        ["N-1", str(ann), "paid", "1.00", "False"],
    ]
    # So does naming the fields.
    assert export(
        list_display=OrderAdmin.list_display, csv_export_fields=["number", "status"]
    )[:2] == [["Number", "Status"], ["N-1", "paid"]]


def test_the_export_spans_every_page_of_the_filtered_changelist(
    viewer: Client, orders: list[Order]
) -> None:
    # list_per_page is 2: the export is the whole changelist, not a page.
    assert [r[0] for r in rows(viewer.get(EXPORT))[1:]] == ["N-1", "N-2", "N-3", "N-4"]
    assert [r[0] for r in rows(viewer.get(EXPORT + "?p=2"))[1:]] == [
        "N-1",
        "N-2",
        "N-3",
        "N-4",
    ]
    filtered = rows(viewer.get(EXPORT + "?status__exact=paid"))
    assert [r[0] for r in filtered[1:]] == ["N-1", "N-4"]
    searched = rows(viewer.get(EXPORT + "?q=bob&gift__exact=0"))
    assert [r[0] for r in searched[1:]] == ["N-4"]
    ordered = rows(viewer.get(EXPORT + "?o=-4"))  # by total, descending
    assert [r[0] for r in ordered[1:]] == ["N-4", "N-3", "N-2", "N-1"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("total__gte=abc", "value must be a decimal number"),
        # Values that only fail as SQL (a 500 once the rows were read, before).
        ("total__range=1", "tuple index out of range"),
        ("created__year=0", "year 0 is out of range"),
        ("created__gte=0001-01-01T00:00%2B05:00", "date value out of range"),
        ("gift__exact=" + "x" * 500, "['“" + "x" * 294 + "..."),
    ],
)
def test_bad_changelist_filters_get_400(
    viewer: Client, orders: list[Order], query: str, detail: str
) -> None:
    response = viewer.get(f"{EXPORT}?{query}")
    assert response.status_code == 400
    text = response.content.decode()
    assert text.startswith("These changelist filters are not valid: ")
    assert detail in text
    assert len(text) <= 40 + 300, "a long value is cut, not echoed whole"


def test_the_action_streams_the_selected_rows(
    viewer: Client, orders: list[Order]
) -> None:
    picked = [str(orders[1].pk), str(orders[3].pk)]
    response = viewer.post(
        CHANGELIST,
        {"action": "export_as_csv", "_selected_action": picked, "index": "0"},
    )
    assert response["Content-Disposition"].startswith(
        'attachment; filename="orders.csv"'
    )
    assert [r[0] for r in rows(response)] == ["Number", "N-2", "N-4"]


def test_the_action_across_the_filtered_changelist(
    viewer: Client, orders: list[Order]
) -> None:
    response = viewer.post(
        CHANGELIST + "?status__exact=paid",
        {
            "action": "export_as_csv",
            "_selected_action": [str(orders[0].pk)],
            "select_across": "1",
            "index": "0",
        },
    )
    assert [r[0] for r in rows(response)] == ["Number", "N-1", "N-4"]


def test_the_changelist_has_the_action_and_a_button_keeping_its_filters(
    viewer: Client, orders: list[Order]
) -> None:
    page = viewer.get(CHANGELIST + "?status__exact=paid&q=a").content.decode()
    assert (
        '<option value="export_as_csv">Export selected orders as CSV</option>' in page
    )
    assert 'href="/admin/testapp/order/export.csv?q=a&amp;status__exact=paid"' in page
    assert "Add order" not in page  # a viewer may not add


def test_the_button_keeps_the_add_link_and_per_model_templates(
    client: Client, orders: list[Order], tmp_path: Path
) -> None:
    client.force_login(staff("view_order", "add_order"))
    override = tmp_path / "admin" / "testapp" / "order" / "change_list.html"
    override.parent.mkdir(parents=True)
    override.write_text(
        '{% extends "admin/change_list.html" %}'
        "{% block content_title %}<h1>Project override</h1>{% endblock %}"
    )
    templates = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [tmp_path],
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ]
    with override_settings(TEMPLATES=templates):
        page = client.get(CHANGELIST).content.decode()
    assert "<h1>Project override</h1>" in page
    assert 'class="streamkit-export-csv"' in page
    assert "Add order" in page


def test_permissions(client: Client, orders: list[Order]) -> None:
    assert client.get(EXPORT).status_code == 302  # to the admin's login
    assert client.get(EXPORT)["Location"].startswith("/admin/login/")
    client.force_login(staff("view_customer"))
    assert client.get(EXPORT).status_code == 403
    response = client.post(
        CHANGELIST,
        {"action": "export_as_csv", "_selected_action": ["1"], "index": "0"},
    )
    assert response.status_code == 403
    User.objects.filter(username="staff").delete()
    client.force_login(staff("change_order"))  # change implies view
    assert len(rows(client.get(EXPORT))) == 5


def test_admin_exports_start_with_a_bom_unless_told_not_to(
    orders: list[Order],
) -> None:
    def start(**attrs: Any) -> bytes:
        response = export_response(list_display=["number"], **attrs)
        return b"".join(response.streaming_content)[:9]

    assert start() == b"\xef\xbb\xbfNumber"  # Excel then reads it as UTF-8
    assert start(csv_export_raw=True) == b"\xef\xbb\xbfNumber"
    assert start(csv_export_bom=False)[:6] == b"Number"
    with override_settings(STREAMKIT_EXPORT_BOM=False):
        assert start()[:6] == b"Number"
        assert start(csv_export_raw=True)[:6] == b"Number"
        assert start(csv_export_bom=True) == b"\xef\xbb\xbfNumber"
    # Streamed CSV of one's own keeps bom=False: it is not always for Excel.
    response = StreamingCSVResponse([["Number"]], filename="n.csv")
    assert b"".join(response.streaming_content) == b"Number\r\n"
    view = CSVStreamView.as_view(model=Order, fields=["number"])
    request = RequestFactory().get("/")
    assert b"".join(view(request).streaming_content)[:6] == b"Number"


def test_phone_numbers_and_minus_strings_are_escaped_unless_turned_off() -> None:
    # The README's example: text starting with "+" or "-" is a formula to a
    # spreadsheet ("-2+3+cmd|..."), a number is not.
    minus = Customer.objects.create(name="-5")
    Order.objects.create(
        number="+44 20 7946 0000",
        customer=minus,
        status="new",
        total=Decimal("-5"),
        created=datetime.datetime(2024, 1, 2, tzinfo=UTC),
    )
    display = ["number", "customer", "total"]
    assert export(list_display=display)[1] == ["'+44 20 7946 0000", "'-5", "-5.00"]
    for attrs in ({}, {"csv_export_raw": True}):
        got = export(list_display=display, csv_export_escape_formulas=False, **attrs)
        assert got[1][::2] == ["+44 20 7946 0000", "-5.00"]


def test_explicit_fields_labels_and_filename(client: Client) -> None:
    author = Author.objects.create(name="Ann")
    Book.objects.create(
        title="=SUM(A1)", author=author, genre="novel", rating=1, price=Decimal("2")
    )
    client.force_login(staff("view_book"))
    response = client.get("/admin/testapp/book/export.csv")
    assert response["Content-Disposition"].startswith(
        'attachment; filename="books.csv"'
    )
    assert rows(response) == [
        ["Title", "Author", "Price"],
        ["'=SUM(A1)", "Ann", "2.00"],
    ]


def test_the_action_joins_the_admins_own_actions() -> None:
    class WithActions(StreamingCSVExportMixin, admin.ModelAdmin):
        actions = ["make_paid"]
        list_display = ["number"]

        @admin.action(description="Mark paid")
        def make_paid(self, request: Any, queryset: Any) -> None:
            queryset.update(status="paid")

    model_admin = WithActions(Order, admin.AdminSite())
    assert model_admin.actions == ["make_paid", "export_as_csv"]
    assert WithActions.actions == ["make_paid"]  # the class is left alone
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_active=True)
    assert list(model_admin.get_actions(request)) == [
        "delete_selected",
        "make_paid",
        "export_as_csv",
    ]
    assert model_admin.check() == []


def test_no_action_in_popups_or_when_actions_are_off() -> None:
    model_admin = admin.site._registry[Order]
    request = RequestFactory().get("/", {"_popup": "1"})
    request.user = User(is_superuser=True, is_active=True)
    assert model_admin.get_actions(request) == {}
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_active=True)
    assert "export_as_csv" in model_admin.get_actions(request)
    actions = model_admin.actions
    model_admin.actions = None
    try:
        assert model_admin.get_actions(request) == {}
    finally:
        model_admin.actions = actions


# -- the default export: what the changelist shows ------------------------------


def test_lookups_choices_and_foreign_keys_through_the_values_reader(
    orders: list[Order],
) -> None:
    got, [sql] = export_sql(
        list_display=["number", "customer", "customer__name", "status", "customer_id"],
        csv_export_labels={"customer__name": "Name"},
    )
    assert got[:2] == [
        ["Number", "Customer", "Name", "Status", "Customer id"],
        ["N-1", "Ann", "Ann", "Paid", str(orders[0].customer_id)],
    ]
    # Every column is a value: one values_list() query of those columns.
    assert "secret" not in sql
    assert '"testapp_order"."created"' not in sql


def test_str_and_methods_of_the_admin_and_the_model(orders: list[Order]) -> None:
    @admin.display(description="customer (bold)")
    def bold(obj: Order) -> str:
        return format_html("<b>{}</b> &amp; co", obj.customer.name)

    def shipped_late(self: Any, obj: Order) -> bool:
        return obj.gift

    got = export(
        list_display=["__str__", bold, "shipped_late", "shipped"],
        shipped_late=shipped_late,
    )
    assert got[:3] == [
        ["Order", "Customer (bold)", "Shipped late", "Shipped"],
        ["N-1", "Ann & co", "False", ""],  # HTML as its text; None empty
        ["N-2", "Bob & co", "True", ""],
    ]


def test_a_foreign_key_whose_str_is_not_a_field_is_read_from_instances(
    orders: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    def __str__(self: Customer) -> str:
        return f"<{self.name}>"

    monkeypatch.setattr(Customer, "__str__", __str__)
    assert str_field(Customer) is None
    got, [sql] = export_sql(list_display=["number", "customer"])
    assert got[1:3] == [["N-1", "<Ann>"], ["N-2", "<Bob>"]]
    assert '"testapp_order"."secret"' in sql  # instances
    assert "JOIN" in sql  # with select_related, not a query per row


def test_the_admins_view_class_still_writes_the_display_export(
    orders: list[Order],
) -> None:
    tabs = type("TabView", (CSVStreamView,), {"dialect": "excel-tab"})
    response = export_response(
        list_display=["number", "status"], csv_export_view_class=tabs
    )
    assert b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[
        :2
    ] == [
        "Number\tStatus",
        "N-1\tPaid",
    ]


def test_which_str_is_read_as_a_field() -> None:
    assert str_field(Customer) == "name"  # return self.name
    assert str_field(Order) == "number"
    assert str_field(Sample) is None  # f"sample {self.pk}"
    assert str_field(User) is None  # return self.get_username()


def make_orders(count: int) -> None:
    ann = Customer.objects.create(name="Ann")
    when = datetime.datetime(2024, 1, 2, tzinfo=UTC)
    Order.objects.bulk_create(
        Order(number=f"N-{i:04}", customer=ann, status="paid", total=i, created=when)
        for i in range(count)
    )


def export_queries(**attrs: Any) -> tuple[int, int]:
    """Queries of the export of the orders, for 5 and for 500 of them."""
    counts = []
    for count in (5, 500):
        Order.objects.all().delete()
        make_orders(count)
        got, sqls = export_sql(**attrs)
        assert len(got) == count + 1
        counts.append(len(sqls))
    return counts[0], counts[1]


@override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=100)
def test_no_query_per_row_with_a_foreign_key_and_a_method() -> None:
    # The test app's OrderAdmin: a foreign key and an @admin.display method.
    assert export_queries(
        list_display=OrderAdmin.list_display, summary=OrderAdmin.summary
    ) == (1, 1)

    # Prefetches the admin asks for run once per chunk of 100 rows.
    def get_queryset(self: Any, request: Any) -> QuerySet[Order, Order]:
        return Order.objects.prefetch_related("customer__orders")

    def orders_of_customer(self: Any, obj: Order) -> int:
        return len(obj.customer.orders.all())

    small, large = export_queries(
        list_display=["number", "orders_of_customer"],
        get_queryset=get_queryset,
        orders_of_customer=orders_of_customer,
    )
    assert (small, large) == (1 + 2, 1 + 2 * 5)  # customers, their orders


def test_an_annotation_shown_by_a_method(orders: list[Order]) -> None:
    def get_queryset(self: Any, request: Any) -> QuerySet[Customer, Customer]:
        return Customer.objects.annotate(n=Count("orders"))

    @admin.display(description="orders")
    def n_orders(obj: Any) -> int:
        return int(obj.n)

    got = export(Customer, list_display=["name", n_orders], get_queryset=get_queryset)
    assert got == [["Name", "Orders"], ["Ann", "2"], ["Bob", "2"]]


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"], transaction=True)
@override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=100)
def test_the_display_export_on_postgres_reads_instances_in_chunks() -> None:
    ann = Customer.objects.using("postgres").create(name="Ann")
    when = datetime.datetime(2024, 1, 2, tzinfo=UTC)
    Order.objects.using("postgres").bulk_create(
        Order(number=f"N-{i:04}", customer=ann, status="paid", total=i, created=when)
        for i in range(500)
    )
    cls = type(
        "TestAdmin",
        (StreamingCSVExportMixin, admin.ModelAdmin),
        {"list_display": OrderAdmin.list_display, "summary": OrderAdmin.summary},
    )
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_active=True)
    queryset = Order.objects.using("postgres").select_related("customer")
    with CaptureQueriesContext(connections["postgres"]) as queries:
        got = rows(cls(Order, admin.site).csv_export_response(request, queryset))
    assert got[1] == ["N-0000", "Ann", "Paid", "0.00", "False", "N-0000: 0.00"]
    assert len(got) == 501
    # One server-side cursor, in a transaction of its own, joined to the
    # customers: not a query per row.
    first, sql, last = [q["sql"] for q in queries.captured_queries]
    assert (first, last) == ("BEGIN", "COMMIT")
    assert sql.startswith("DECLARE ")
    assert '"testapp_customer"."name"' in sql
    assert not connections["postgres"].in_atomic_block  # its transaction ended
