"""JSONStreamView, and JSON and JSON Lines as export and admin formats."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path
from django.utils import translation

from django_streamkit.admin import StreamingCSVExportMixin
from django_streamkit.exports import CSVExport, register, registry
from django_streamkit.views import JSONStreamView
from tests.support.json_urls import BookJSON, CountedBookJSON
from tests.support.people import signed_in_staff, three_orders
from tests.support.testapp.models import Book, Order
from tests.test_views_csv import seed

pytestmark = pytest.mark.django_db
UTC = datetime.UTC

BOOKS = [
    {
        "title": "First",
        "author": "Ann",
        "genre": "Novel",
        "rating": 3,
        "price": "9.50",
        "published": "2024-01-02T03:04:05Z",
    },
    {
        "title": "Second",
        "author": "Ann",
        "genre": "Poetry",
        "rating": 1,
        "price": None,
        "published": None,
    },
    {
        "title": "-Third",
        "author": "=Bob",
        "genre": "Novel",
        "rating": 2,
        "price": "-1.00",
        "published": None,
    },
]


def get(view: Any, query: str = "", **initkwargs: Any) -> Any:
    response = view.as_view(**initkwargs)(RequestFactory().get("/books" + query))
    response.body = b"".join(response)
    return response


def test_rows_are_objects_keyed_by_field_name_or_label() -> None:
    seed()
    response = get(BookJSON)
    assert response["Content-Type"] == "application/json"
    assert "Content-Disposition" not in response  # inline, as an API
    assert json.loads(response.body) == BOOKS
    # Keys in the fields' order, choices as their labels in the language.
    assert response.body.startswith(b'[{"title":"First","author":"Ann","genre":')
    with translation.override("fr"):
        assert json.loads(get(BookJSON).body)[1]["genre"] == "Poetry"


def test_format_ndjson() -> None:
    seed()
    response = get(BookJSON, "?format=ndjson")
    assert response["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line) for line in response.body.splitlines()] == BOOKS
    assert get(BookJSON, format="ndjson").body == response.body
    bad = BookJSON.as_view()(RequestFactory().get("/books?format=xml"))
    assert bad.status_code == 400
    assert (
        bad.content == b"Unknown format 'xml'; choose from json, ndjson (?format=...)."
    )


def test_envelope_filename_and_encoder() -> None:
    seed()
    response = get(CountedBookJSON)
    assert json.loads(response.body) == {"count": 3, "results": BOOKS}
    assert response.body.startswith(b'{"count":3,"results":[{')
    download = get(BookJSON, filename="books.json")
    assert download["Content-Disposition"].startswith(
        'attachment; filename="books.json"'
    )
    # ``fields = "__all__"`` and a labelled key, in JSON Lines.
    every = get(JSONStreamView, "?format=ndjson", model=Book, fields="__all__")
    first = json.loads(every.body.splitlines()[0])
    assert list(first) == [
        "id",
        "title",
        "author",
        "genre",
        "rating",
        "price",
        "published",
    ]


def test_bad_declarations_name_the_fix() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"unknown field 'nope'"):
        get(JSONStreamView, model=Book, fields=["nope"])
    with pytest.raises(ImproperlyConfigured, match=r"labels names \['rating'\]"):
        get(JSONStreamView, model=Book, fields=["title"], labels={"rating": "r"})
    with pytest.raises(ImproperlyConfigured, match=r"missing a QuerySet"):
        get(JSONStreamView, fields=["title"])
    with pytest.raises(ImproperlyConfigured, match=r"choices_as_labels names 'title'"):
        get(JSONStreamView, model=Book, fields=["title"], choices_as_labels=["title"])
    # Two columns under one key: a JSON object would keep only one of them.
    with pytest.raises(ImproperlyConfigured, match=r"the key 'genre' twice"):
        get(
            JSONStreamView,
            model=Book,
            fields=["title", "genre"],
            labels={"title": "genre"},
        )
    with pytest.raises(ImproperlyConfigured, match=r"the key 'x' twice"):
        get(
            JSONStreamView,
            model=Book,
            fields=["title", "genre"],
            labels=dict.fromkeys(["title", "genre"], "x"),
        )


# -- exports and the admin ----------------------------------------------------


class OrderAdmin(StreamingCSVExportMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["number", "customer", "status", "total"]
    list_filter = ["status"]
    export_formats = ("csv", "json", "ndjson")


site = admin.AdminSite(name="json_admin")
site.register(Order, OrderAdmin)
urlpatterns = [
    path("admin/", site.urls),
    path("exports/", include("django_streamkit.urls")),
]


@pytest.fixture
def orders() -> None:
    three_orders()


@pytest.fixture
def staff(client: Client) -> Client:
    return signed_in_staff(client)


@pytest.fixture
def json_export() -> Any:
    saved = dict(registry._registry)
    export = register(
        type(
            "OrderJSON",
            (CSVExport,),
            {
                "model": Order,
                "slug": "orders",
                "fields": ["number", "status", "total", "created"],
                "labels": {"number": "no"},
                "filter_fields": ["status"],
                "formats": ("csv", "json", "ndjson"),
            },
        )
    )
    yield export
    registry._registry.clear()
    registry._registry.update(saved)


def streamed(response: Any) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


@override_settings(ROOT_URLCONF=__name__)
def test_an_export_as_json_and_json_lines(
    staff: Client, orders: None, json_export: Any
) -> None:
    as_json = staff.get("/exports/orders.json?status=paid")
    assert as_json["Content-Type"] == "application/json"
    assert as_json["Content-Disposition"].startswith(
        'attachment; filename="orders.json"'
    )
    when = "2024-01-02T03:04:05Z"
    paid = [
        {"no": "N-1", "status": "paid", "total": "1.00", "created": when},
        {"no": "N-3", "status": "paid", "total": "3.00", "created": when},
    ]
    assert json.loads(streamed(as_json)) == paid
    lines = streamed(staff.get("/exports/orders.ndjson?status=paid"))
    assert [json.loads(line) for line in lines.splitlines()] == paid
    # The same permissions and filters as the CSV.
    assert staff.get("/exports/orders.json?colour=red").status_code == 400
    assert Client().get("/exports/orders.ndjson").status_code == 302
    index = b"".join(staff.get("/exports/").streaming_content).decode()
    assert 'formaction="/exports/orders.json"' in index
    assert 'formaction="/exports/orders.ndjson"' in index
    assert "Download JSON Lines" in index


@override_settings(ROOT_URLCONF=__name__)
def test_the_admin_button_and_action_in_json(staff: Client, orders: None) -> None:
    page = staff.get("/admin/testapp/order/?status__exact=paid").content.decode()
    assert 'href="/admin/testapp/order/export.json?status__exact=paid"' in page
    assert 'href="/admin/testapp/order/export.ndjson?status__exact=paid"' in page
    got = streamed(staff.get("/admin/testapp/order/export.json?status__exact=paid"))
    # The changelist's columns: the customer as the changelist shows it.
    assert json.loads(got) == [
        {"number": "N-1", "customer": "Ann", "status": "Paid", "total": "1.00"},
        {"number": "N-3", "customer": "Ann", "status": "Paid", "total": "3.00"},
    ]
    ids = [str(o.pk) for o in Order.objects.filter(number__in=["N-2", "N-3"])]
    response = staff.post(
        "/admin/testapp/order/",
        {"action": "export_as_ndjson", "_selected_action": ids, "index": 0},
    )
    assert response["Content-Disposition"].startswith(
        'attachment; filename="orders.ndjson"'
    )
    numbers = [json.loads(line)["number"] for line in streamed(response).splitlines()]
    assert sorted(numbers) == ["N-2", "N-3"]


def test_decimal_is_a_string_as_django_encodes_it() -> None:
    seed()
    price = json.loads(get(JSONStreamView, model=Book, fields=["price"]).body)[0]
    assert price == {"price": str(Decimal("9.50"))}


def test_head_gets_the_headers_and_reads_no_row(
    django_assert_num_queries: Any,
) -> None:
    seed()
    got = get(BookJSON, "?format=ndjson")
    with django_assert_num_queries(0):
        head = BookJSON.as_view()(RequestFactory().head("/books?format=ndjson"))
        assert b"".join(head) == b""
    assert head.status_code == 200
    assert head["Content-Type"] == got["Content-Type"] == "application/x-ndjson"
