"""StreamingCSVExportMixin in Django's admin, through the test client."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client, RequestFactory, override_settings

from django_streamkit.admin import StreamingCSVExportMixin
from tests.testapp.models import Author, Book, Customer, Order

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


def staff(*codenames: str) -> User:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(client: Client) -> Client:
    """Staff who may only view orders."""
    client.force_login(staff("view_order"))
    return client


def rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    assert "hidden" not in text
    return list(csv.reader(io.StringIO(text)))


HEADER = ["Number", "Customer", "Status", "Total", "Gift"]


def test_default_columns_are_list_displays_model_fields(
    viewer: Client, orders: list[Order]
) -> None:
    # list_display: number, customer, status, total, gift and a method.
    ann = orders[0].customer_id
    assert rows(viewer.get(EXPORT))[:2] == [
        HEADER,
        ["N-1", str(ann), "paid", "1.00", "False"],
    ]


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
