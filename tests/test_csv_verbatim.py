"""Formula escaping turned off for one column (``verbatim``): a phone number
stays ``+44 …`` while every other column is still escaped, through
``stream_csv``, a ``CSVStreamView``, a registered export and the admin."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from django_streamkit import stream_csv
from django_streamkit.admin import StreamingCSVExportMixin
from django_streamkit.exports import CSVExport, csv_view_response
from django_streamkit.views import CSVStreamView
from tests.support.testapp.models import Customer, Order

ROWS = [["+44 20 7946 0000", "=HYPERLINK(1)", "-5"], ["-1 555", "+1", "@x"]]


def read(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize("verbatim", [["phone"], [0], ("phone", 0)])
def test_a_verbatim_column_is_written_as_it_is(verbatim: Any) -> None:
    body = b"".join(
        stream_csv(ROWS, header=["phone", "note", "n"], verbatim=verbatim)  # type: ignore[arg-type]
    )
    assert read(body)[1:] == [
        ["+44 20 7946 0000", "'=HYPERLINK(1)", "'-5"],
        ["-1 555", "'+1", "'@x"],
    ]


def test_dict_rows_keep_their_verbatim_key() -> None:
    rows = [{"phone": "+44 1", "note": "=x"}]
    body = b"".join(stream_csv(rows, header=["phone", "note"], verbatim=["phone"]))  # type: ignore[arg-type]
    assert read(body) == [["phone", "note"], ["+44 1", "'=x"]]


def test_without_verbatim_everything_is_escaped() -> None:
    body = b"".join(stream_csv(ROWS, header=["phone", "note", "n"]))  # type: ignore[arg-type]
    assert read(body)[1][0] == "'+44 20 7946 0000"


@pytest.mark.parametrize(
    ("verbatim", "error", "message"),
    [
        ("phone", TypeError, "write verbatim=['phone']"),
        (["fax"], ValueError, "'fax', which is not in the header; choose from"),
        ([1.5], TypeError, "not 1.5"),
        ([-1], TypeError, "not -1"),
    ],
)
def test_bad_verbatim_columns_are_named(
    verbatim: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("[", r"\[").replace("(", r"\(")):
        stream_csv(ROWS, header=["phone", "note", "n"], verbatim=verbatim)  # type: ignore[arg-type]


def test_a_name_needs_a_header() -> None:
    with pytest.raises(ValueError, match="there is no header"):
        stream_csv(ROWS, verbatim=["phone"])  # type: ignore[arg-type]


@pytest.fixture
def orders() -> None:
    customer = Customer.objects.create(name="+Ann")
    when = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    Order.objects.create(
        number="+44 20",
        customer=customer,
        status="paid",
        total=Decimal(1),
        created=when,
    )


def view_rows(view_class: type[CSVStreamView], **attrs: Any) -> list[list[str]]:
    request = RequestFactory().get("/")
    response = csv_view_response(view_class, request, **attrs)
    return read(b"".join(response))  # type: ignore[arg-type]


@pytest.mark.django_db
@pytest.mark.usefixtures("orders")
def test_a_views_verbatim_fields() -> None:
    got = view_rows(
        CSVStreamView,
        model=Order,
        fields=["number", "customer__name"],
        verbatim_fields=["number"],
    )
    assert got[1] == ["+44 20", "'+Ann"]


@pytest.mark.django_db
@pytest.mark.usefixtures("orders")
def test_an_unknown_verbatim_field_names_the_fix() -> None:
    with pytest.raises(ImproperlyConfigured, match="verbatim_fields names 'phone'"):
        view_rows(
            CSVStreamView, model=Order, fields=["number"], verbatim_fields=["phone"]
        )


@pytest.mark.django_db
@pytest.mark.usefixtures("orders")
def test_an_exports_verbatim_fields() -> None:
    class PhoneExport(CSVExport):
        model = Order
        fields = ["number", "customer__name"]
        verbatim_fields = ["number"]

    request = RequestFactory().get("/")
    response = PhoneExport().response(request)
    assert read(b"".join(response))[1] == ["+44 20", "'+Ann"]  # type: ignore[arg-type]


@pytest.mark.django_db
@pytest.mark.usefixtures("orders")
@pytest.mark.parametrize("raw", [False, True])
def test_the_admins_verbatim_columns(raw: bool) -> None:
    attrs = {
        "list_display": ["number", "customer"],
        "csv_export_verbatim": ["number"],
        "csv_export_raw": raw,
    }
    cls = type("PhoneAdmin", (StreamingCSVExportMixin, admin.ModelAdmin), attrs)
    request = RequestFactory().get("/admin/export.csv")
    request.user = User(is_superuser=True, is_active=True)
    response = cls(Order, admin.site).export_csv_view(request)
    got = read(b"".join(response))  # type: ignore[arg-type]
    assert got[1][0] == "+44 20"
    assert got[1][1] in ("'+Ann", str(Customer.objects.get().pk))
