"""``.xlsx`` in the export registry and the admin: ``formats = ("csv",
"xlsx")`` and ``export_formats``, the same columns as the CSV, as typed cells."""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from django.contrib import admin
from django.test import Client, override_settings
from django.urls import include, path

from django_streamkit.admin import StreamingCSVExportMixin
from django_streamkit.exports import CSVExport, register
from django_streamkit.xlsx import CONTENT_TYPE
from tests.support.people import WHEN, signed_in_staff, three_orders
from tests.support.registry import registry_restored
from tests.support.testapp.models import Order

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


class WorkbookAdmin(StreamingCSVExportMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["number", "customer", "status", "total", "created"]
    list_filter = ["status"]
    export_formats = ("csv", "xlsx")


site = admin.AdminSite(name="xlsx_admin")


def __getattr__(name: str) -> object:
    if name == "urlpatterns":
        site._registry.clear()
        site.register(Order, WorkbookAdmin)
        return [
            path("admin/", site.urls),
            path("exports/", include("django_streamkit.urls")),
        ]
    raise AttributeError(name)


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    with registry_restored():
        yield
    site._registry.clear()


@pytest.fixture
def orders() -> list[Order]:
    return three_orders("=N-{}")


@pytest.fixture
def staff(client: Client) -> Client:
    return signed_in_staff(client)


def sheet_rows(response: Any) -> list[tuple[Any, ...]]:
    assert response.status_code == 200, response
    assert response["Content-Type"] == CONTENT_TYPE
    data = b"".join(response.streaming_content)
    book = openpyxl.load_workbook(io.BytesIO(data))
    return list(book.active.iter_rows(values_only=True))


@override_settings(ROOT_URLCONF=__name__)
def test_an_export_serves_its_xlsx_with_the_csvs_columns_and_filters(
    staff: Client, orders: Any
) -> None:
    register(
        type(
            "Orders",
            (CSVExport,),
            {
                "model": Order,
                "slug": "orders",
                "fields": ["number", "status", "total", "created"],
                "choices_as_labels": True,
                "filter_fields": ["status"],
                "formats": ("csv", "xlsx"),
                "filename": "orders.csv",
            },
        )
    )
    response = staff.get("/exports/orders.xlsx?status=paid")
    assert 'filename="orders.xlsx"' in response["Content-Disposition"]
    when = WHEN.replace(tzinfo=None)  # the test settings' time zone is UTC
    assert sheet_rows(response) == [
        ("Number", "Status", "Total", "Created"),
        ("=N-1", "Paid", 1, when),
        ("=N-3", "Paid", 3, when),
    ]
    assert staff.get("/exports/orders.xlsx?colour=red").status_code == 400
    assert Client().get("/exports/orders.xlsx").status_code == 302
    index = b"".join(staff.get("/exports/").streaming_content).decode()
    assert 'formaction="/exports/orders.xlsx"' in index
    assert "Download XLSX" in index


@override_settings(ROOT_URLCONF=__name__)
def test_the_admin_exports_what_it_shows_as_a_workbook(
    staff: Client, orders: Any
) -> None:
    page = staff.get("/admin/testapp/order/?status__exact=paid").content.decode()
    assert 'href="/admin/testapp/order/export.xlsx?status__exact=paid"' in page
    assert "Export XLSX" in page
    assert '<option value="export_as_xlsx">' in page
    when = WHEN.replace(tzinfo=None)
    got = sheet_rows(staff.get("/admin/testapp/order/export.xlsx?status__exact=paid"))
    assert got == [
        ("Number", "Customer", "Status", "Total", "Created"),
        ("=N-1", "Ann", "Paid", 1, when),
        ("=N-3", "Ann", "Paid", 3, when),
    ]
    ids = [str(o.pk) for o in Order.objects.filter(number__in=["=N-2", "=N-3"])]
    response = staff.post(
        "/admin/testapp/order/",
        {"action": "export_as_xlsx", "_selected_action": ids, "index": 0},
    )
    assert sorted(row[0] for row in sheet_rows(response)[1:]) == ["=N-2", "=N-3"]
