"""Export formats: one export or admin changelist offered in several formats,
each with the same columns, filters and permissions (here a tab-separated
format registered for the test, so the machinery is checked on its own)."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from django_streamkit._exports import formats
from django_streamkit._exports.checks import check_registry
from django_streamkit._exports.formats import ExportFormat, filename_for, get_format
from django_streamkit.admin import StreamingCSVExportMixin
from django_streamkit.exports import CSVExport, register
from django_streamkit.views import CSVStreamView
from tests.support.people import signed_in_staff, three_orders
from tests.support.registry import registry_restored
from tests.support.testapp.models import Order

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


class TSVStreamView(CSVStreamView):
    """A second format with CSVStreamView's hooks: tab-separated values."""

    dialect = "excel-tab"

    def get_filename(self) -> str | None:
        if self.filename is not None:
            return self.filename
        return str(super().get_filename()).removesuffix(".csv") + ".tsv"


TSV = ExportFormat("tsv", "TSV", f"{__name__}.TSVStreamView")


@pytest.fixture(autouse=True)
def tsv(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(formats.FORMATS, "tsv", TSV)
    with registry_restored():
        yield
    # Not left for the system checks of later tests, without the format.
    site._registry.clear()


class TwoFormatAdmin(StreamingCSVExportMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["number", "customer", "status", "total"]
    list_filter = ["status"]
    export_formats = ("csv", "tsv")


site = admin.AdminSite(name="formats_admin")


def __getattr__(name: str) -> object:
    # The admin's URLs are read when the URLconf is, so build them in the
    # test (with the TSV format registered), not at import.
    if name == "urlpatterns":
        site._registry.clear()
        site.register(Order, TwoFormatAdmin)
        return [
            path("admin/", site.urls),
            path("exports/", include("django_streamkit.urls")),
        ]
    raise AttributeError(name)


@pytest.fixture
def orders() -> list[Order]:
    return three_orders()


@pytest.fixture
def staff(client: Client) -> Client:
    return signed_in_staff(client)


def table(response: Any, delimiter: str) -> list[list[str]]:
    assert response.status_code == 200, response
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def register_orders(**attrs: Any) -> type[CSVExport]:
    attrs = {
        "model": Order,
        "slug": "two-formats",
        "fields": ["number", "status", "total"],
        "filter_fields": ["status"],
        "formats": ("csv", "tsv"),
        **attrs,
    }
    return register(type("TwoFormats", (CSVExport,), attrs))


@override_settings(ROOT_URLCONF=__name__)
def test_an_export_in_each_of_its_formats(staff: Client, orders: Any) -> None:
    register_orders(filename="orders.csv")
    as_csv = staff.get("/exports/two-formats.csv?status=paid")
    as_tsv = staff.get("/exports/two-formats.tsv?status=paid")
    assert table(as_csv, ",") == table(as_tsv, "\t")
    assert table(as_tsv := staff.get("/exports/two-formats.tsv"), "\t")[1:] == [
        ["N-1", "paid", "1.00"],
        ["N-2", "new", "2.00"],
        ["N-3", "paid", "3.00"],
    ]
    assert 'filename="orders.tsv"' in as_tsv["Content-Disposition"]
    assert 'filename="orders.csv"' in as_csv["Content-Disposition"]


@override_settings(ROOT_URLCONF=__name__)
def test_a_format_the_export_does_not_offer_is_404(staff: Client, orders: Any) -> None:
    register_orders(formats=("csv",))
    response = staff.get("/exports/two-formats.tsv")
    assert response.status_code == 404
    assert staff.get("/exports/two-formats.pdf").status_code == 404
    assert staff.get("/exports/two-formats.csv").status_code == 200


@override_settings(ROOT_URLCONF=__name__)
def test_permissions_and_filters_hold_in_every_format(
    client: Client, staff: Client, orders: Any
) -> None:
    register_orders()
    bad = staff.get("/exports/two-formats.tsv?colour=red")
    assert bad.status_code == 400
    assert "status" in bad.content.decode()
    assert Client().get("/exports/two-formats.tsv").status_code == 302
    other = Client()
    other.force_login(User.objects.create_user("nobody", password="pw"))
    assert other.get("/exports/two-formats.tsv").status_code == 403


@override_settings(ROOT_URLCONF=__name__)
def test_the_index_offers_every_format(staff: Client, orders: Any) -> None:
    register_orders()
    page = staff.get("/exports/")
    text = b"".join(page.streaming_content).decode()
    assert 'formaction="/exports/two-formats.csv"' in text
    assert 'formaction="/exports/two-formats.tsv"' in text
    assert "Download TSV" in text


@override_settings(ROOT_URLCONF=__name__)
def test_the_admin_has_a_button_and_an_action_per_format(
    staff: Client, orders: Any
) -> None:
    page = staff.get("/admin/testapp/order/?status__exact=paid").content.decode()
    assert 'href="/admin/testapp/order/export.tsv?status__exact=paid"' in page
    assert 'href="/admin/testapp/order/export.csv?status__exact=paid"' in page
    assert "Export TSV" in page
    assert '<option value="export_as_tsv">Export selected orders as TSV</option>' in (
        page
    )
    # The button: the filtered changelist, the changelist's own columns.
    got = table(staff.get("/admin/testapp/order/export.tsv?status__exact=paid"), "\t")
    assert got == [
        ["Number", "Customer", "Status", "Total"],
        ["N-1", "Ann", "Paid", "1.00"],
        ["N-3", "Ann", "Paid", "3.00"],
    ]
    # The action: the ticked rows.
    ids = [str(o.pk) for o in Order.objects.filter(number__in=["N-2", "N-3"])]
    response = staff.post(
        "/admin/testapp/order/",
        {"action": "export_as_tsv", "_selected_action": ids, "index": 0},
    )
    assert sorted(row[0] for row in table(response, "\t")[1:]) == ["N-2", "N-3"]


def test_the_admin_action_needs_the_view_permission(client: Client) -> None:
    model_admin = TwoFormatAdmin(Order, admin.AdminSite())
    request = RequestFactory().get("/")
    request.user = User.objects.create_user("nobody")  # no permission at all
    assert list(model_admin.get_actions(request)) == []
    request.user = User(is_superuser=True, is_active=True)
    assert list(model_admin.get_actions(request)) == [
        "delete_selected",
        "export_as_csv",
        "export_as_tsv",
    ]


def test_unknown_or_malformed_formats_are_reported_by_the_checks() -> None:
    register_orders(formats=("csv", "pdf"))
    (error,) = [e for e in check_registry() if e.id == "streamkit.E051"]
    assert "'pdf'" in error.msg
    assert str(sorted(formats.FORMATS)) in error.msg

    class Bad(StreamingCSVExportMixin, admin.ModelAdmin):  # type: ignore[type-arg]
        list_display = ["number"]
        export_formats = "xlsx"

    errors = [
        e for e in Bad(Order, admin.AdminSite()).check() if e.id == "streamkit.E051"
    ]
    assert len(errors) == 1
    assert "'xlsx'" in errors[0].msg
    assert "tuple of format names" in errors[0].msg


def test_format_helpers() -> None:
    assert filename_for("orders.csv", TSV) == "orders.tsv"
    assert filename_for("orders.CSV", TSV) == "orders.tsv"
    assert filename_for("report.2024", TSV) == "report.2024.tsv"
    assert filename_for(None, TSV) is None
    with pytest.raises(ImproperlyConfigured, match=r"'pdf'; choose from"):
        get_format("pdf", "X.formats")


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(
    "url", ["/exports/two-formats.tsv", "/exports/two-formats.csv"]
)
def test_head_gets_the_headers_and_reads_no_row(
    staff: Client, orders: Any, url: str
) -> None:
    register_orders()
    get = staff.get(url)
    with CaptureQueriesContext(connection) as queries:
        head = staff.head(url)
    assert head.status_code == 200
    assert head["Content-Type"] == get["Content-Type"]
    assert head["Content-Disposition"] == get["Content-Disposition"]
    orders_read = [q for q in queries if "testapp_order" in q["sql"]]
    assert orders_read == []
