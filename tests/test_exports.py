"""The mountable exports: registry, permissions, filters and the index page."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import django
import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import include, path

from django_streamkit._exports.filters import FilterError, filter_queryset
from django_streamkit.exports import CSVExport, register, registry
from django_streamkit.views import CSVStreamView
from tests.support.people import user_with
from tests.support.registry import registry_restored
from tests.support.testapp.exports import CustomerExport, OrderExport, PaidOrderExport
from tests.support.testapp.models import Book, Customer, Order, Sample

UTC = datetime.UTC
pytestmark = pytest.mark.django_db

ORDERS = "/exports/testapp-order.csv"


@pytest.fixture
def orders() -> list[Order]:
    ann = Customer.objects.create(name="Ann")
    bob = Customer.objects.create(name="=Bob")
    made = [
        Order(
            number="A-1",
            customer=ann,
            status="paid",
            total=Decimal("10.50"),
            gift=True,
            created=datetime.datetime(2023, 12, 31, 14, 0, tzinfo=UTC),
            secret="s3cret-1",
        ),
        Order(
            number="A-2",
            customer=ann,
            status="shipped",
            total=Decimal("99.00"),
            created=datetime.datetime(2023, 12, 31, 16, 0, tzinfo=UTC),
            shipped=datetime.date(2024, 1, 3),
            secret="s3cret-2",
        ),
        Order(
            number="B-1",
            customer=bob,
            status="new",
            total=Decimal("5.00"),
            created=datetime.datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
            secret="s3cret-3",
        ),
    ]
    return Order.objects.bulk_create(made)


@pytest.fixture
def clerk(client: Client) -> Client:
    """A signed-in user who may view orders (but not authors)."""
    client.force_login(user_with("view_order"))
    return client


def body(response: Any) -> str:
    assert response.streaming, "exports are streamed"
    return b"".join(response.streaming_content).decode()


def rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response
    text = body(response)
    assert text.startswith("\ufeff"), "a human download, for Excel"
    return list(csv.reader(io.StringIO(text[1:])))


def numbers(response: Any) -> list[str]:
    return [row[0] for row in rows(response)[1:]]


@pytest.fixture
def isolated_registry() -> Iterator[None]:
    with registry_restored():
        yield


# -- registry ----------------------------------------------------------------


def test_apps_exports_modules_are_discovered() -> None:
    found = [type(export) for export in registry]
    assert found == [OrderExport, PaidOrderExport, CustomerExport]
    assert [e.get_slug() for e in registry] == [
        "testapp-order",
        "paid-orders",
        "testapp-customer",
    ]


def test_permission_defaults_to_the_models_view_permission() -> None:
    assert registry.get("testapp-order").get_permission_required() == (  # type: ignore[union-attr]
        "testapp.view_order",
    )
    assert registry.get("paid-orders").get_permission_required() == ()  # type: ignore[union-attr]


@pytest.mark.usefixtures("isolated_registry")
def test_register_rejects_what_it_cannot_serve() -> None:
    with pytest.raises(TypeError, match="takes a CSVExport subclass, not"):
        register(Order)  # type: ignore[type-var]

    class NoModel(CSVExport):
        fields = ["name"]

    with pytest.raises(ImproperlyConfigured, match=r"NoModel has no model\. Set"):
        register(NoModel)

    class BadSlug(CSVExport):
        model = Order
        fields = ["number"]
        slug = "orders/all"

    with pytest.raises(ImproperlyConfigured, match="'orders/all'; a slug is made"):
        register(BadSlug)
    assert NoModel not in registry._registry
    assert BadSlug not in registry._registry


# -- access ------------------------------------------------------------------


def urlconf(*patterns: Any) -> ModuleType:
    module = ModuleType("urlconf")
    module.urlpatterns = [  # type: ignore[attr-defined]
        *patterns,
        path("exports/", include("django_streamkit.urls")),
    ]
    return module


ACCOUNTS = path("accounts/", include("django.contrib.auth.urls"))
ADMIN = path("admin/", admin.site.urls)
SSO = "https://login.example.test/sign-in"


@pytest.mark.parametrize("url", ["/exports/", ORDERS, "/exports/nope.csv"])
@pytest.mark.parametrize(
    ("login_url", "patterns", "location"),
    [
        ("admin:login", [ADMIN], "/admin/login/?next={url}"),  # tests.support.settings
        ("/accounts/login/", [ACCOUNTS, ADMIN], "/accounts/login/?next={url}"),
        ("login", [ACCOUNTS], "/accounts/login/?next={url}"),  # a URL name
        (SSO, [ADMIN], SSO + "?next=http%3A//testserver{url}"),
        # No such page: the admin's login instead (streamkit.W050 says so) ...
        ("/accounts/login/", [ADMIN], "/admin/login/?next={url}"),
        ("accounts:login", [ADMIN], "/admin/login/?next={url}"),
        # ... or, without an admin, the 404 that W050 warns of.
        ("/accounts/login/", [], "/accounts/login/?next={url}"),
    ],
)
def test_anonymous_users_get_the_login_redirect(
    client: Client, url: str, login_url: str, patterns: list[Any], location: str
) -> None:
    with override_settings(LOGIN_URL=login_url, ROOT_URLCONF=urlconf(*patterns)):
        response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == location.format(url=url)


def test_users_without_the_permission_get_403(client: Client, orders: Any) -> None:
    client.force_login(user_with("view_customer"))
    assert client.get(ORDERS).status_code == 403
    # permission_required = () lets any signed-in user in.
    assert numbers(client.get("/exports/paid-orders.csv")) == ["A-1"]


def test_inactive_users_and_unknown_slugs(client: Client, orders: Any) -> None:
    client.force_login(user_with("view_order"))
    assert client.get("/exports/testapp-orders.csv").status_code == 404
    superuser = User.objects.create_superuser("root", password="pw")
    client.force_login(superuser)
    assert client.get("/exports/testapp-customer.csv").status_code == 200
    assert client.get("/exports/nope.csv").status_code == 404


def test_only_get_and_head(clerk: Client, orders: Any) -> None:
    assert clerk.post(ORDERS).status_code == 405
    head = clerk.head(ORDERS)
    assert head.status_code == 200
    assert head["Content-Type"] == "text/csv; charset=utf-8"


# -- the CSV -----------------------------------------------------------------


def test_an_export_streams_its_declared_fields_only(clerk: Client, orders: Any) -> None:
    response = clerk.get(ORDERS)
    assert response["Content-Disposition"].startswith(
        'attachment; filename="orders.csv"'
    )
    assert response["X-Accel-Buffering"] == "no"
    text = body(response)
    assert "s3cret" not in text
    assert list(csv.reader(io.StringIO(text.removeprefix("\ufeff")))) == [
        ["Number", "Customer", "Status", "Total", "Created"],
        ["A-1", "Ann", "paid", "10.50", "2023-12-31T14:00:00.000000"],
        ["A-2", "Ann", "shipped", "99.00", "2023-12-31T16:00:00.000000"],
        ["B-1", "'=Bob", "new", "5.00", "2024-06-01T12:00:00.000000"],
    ]


def test_exports_start_with_a_bom_unless_told_not_to(
    clerk: Client, orders: Any, isolated_registry: None
) -> None:
    start = b"".join(clerk.get(ORDERS).streaming_content)[:9]
    assert start == b"\xef\xbb\xbfNumber"  # Excel then reads it as UTF-8
    with override_settings(STREAMKIT_EXPORT_BOM=False):
        assert b"".join(clerk.get(ORDERS).streaming_content)[:6] == b"Number"
        # An export's own bom wins over the setting, either way.
        register(type("Marked", (OrderExport,), {"slug": "marked", "bom": True}))
        marked = b"".join(clerk.get("/exports/marked.csv").streaming_content)
        assert marked.startswith(b"\xef\xbb\xbfNumber")
    register(type("Bare", (OrderExport,), {"slug": "bare", "bom": False}))
    assert b"".join(clerk.get("/exports/bare.csv").streaming_content)[:6] == b"Number"
    # An encoding without a byte order mark gets none by default (no error).
    latin = type("Latin", (CSVStreamView,), {"encoding": "cp1252"})
    register(type("Old", (OrderExport,), {"slug": "old", "view_class": latin}))
    response = clerk.get("/exports/old.csv")
    assert response["Content-Type"] == "text/csv; charset=cp1252"
    assert b"".join(response.streaming_content)[:6] == b"Number"


def test_an_export_may_turn_formula_escaping_off(
    clerk: Client, orders: Any, isolated_registry: None
) -> None:
    assert rows(clerk.get(ORDERS))[3][1] == "'=Bob"
    register(type("Raw", (OrderExport,), {"slug": "raw", "escape_formulas": False}))
    assert rows(clerk.get("/exports/raw.csv"))[3][1] == "=Bob"
    # Left unset, the view class's own choice holds.
    trusting = type("Trusting", (CSVStreamView,), {"escape_formulas": False})
    register(type("Own", (OrderExport,), {"slug": "own", "view_class": trusting}))
    assert rows(clerk.get("/exports/own.csv"))[3][1] == "=Bob"


def test_a_queryset_export_with_its_own_filename(clerk: Client, orders: Any) -> None:
    response = clerk.get("/exports/paid-orders.csv")
    assert response["Content-Disposition"].startswith('attachment; filename="paid.csv"')
    assert rows(response) == [["Number", "Total"], ["A-1", "10.50"]]


def test_get_queryset_and_its_annotations(client: Client, orders: Any) -> None:
    client.force_login(user_with("view_customer"))
    response = client.get("/exports/testapp-customer.csv")
    assert rows(response) == [["Name", "Orders"], ["'=Bob", "1"], ["Ann", "2"]]
    assert numbers(client.get("/exports/testapp-customer.csv?n_orders__gte=2")) == [
        "Ann"
    ]


# -- filters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=paid", ["A-1"]),
        ("status__in=paid,shipped", ["A-1", "A-2"]),
        ("status=", ["A-1", "A-2", "B-1"]),  # empty form fields are ignored
        ("created__gte=2024-01-01", ["B-1"]),
        ("created__lt=2024-01-01T00:00", ["A-1", "A-2"]),
        ("created__year=2023", ["A-1", "A-2"]),
        ("customer__name__icontains=bo", ["B-1"]),
        ("gift=true", ["A-1"]),
        ("gift=0", ["A-2", "B-1"]),
        ("total__gte=10.5", ["A-1", "A-2"]),
        ("shipped__isnull=false", ["A-2"]),
        ("status=paid&gift=no", []),
    ],
)
def test_declared_filters(
    clerk: Client, orders: Any, query: str, expected: Any
) -> None:
    assert numbers(clerk.get(f"{ORDERS}?{query}")) == expected


def test_a_foreign_key_filter_takes_the_related_key(clerk: Client, orders: Any) -> None:
    bob = Customer.objects.get(name="=Bob")
    assert numbers(clerk.get(f"{ORDERS}?customer={bob.pk}")) == ["B-1"]


@override_settings(TIME_ZONE="Asia/Tokyo")
def test_dates_are_read_in_the_current_time_zone(clerk: Client, orders: Any) -> None:
    # 2023-12-31 16:00 UTC is 2024-01-01 01:00 in Tokyo; 14:00 UTC is 23:00.
    assert numbers(clerk.get(f"{ORDERS}?created__gte=2024-01-01")) == ["A-2", "B-1"]


def bad(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 400, response
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return response.content.decode()


ALLOWED = (
    "Allowed filters: status, status__in, created__gte, created__lt, created__year, "
    "customer, customer__name__icontains, gift, total__gte, shipped__isnull."
)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("secret=x", f"Unknown filter 'secret'. {ALLOWED}"),
        ("status__icontains=pa", f"Unknown filter 'status__icontains'. {ALLOWED}"),
        (
            "status=bogus",
            "Bad value 'bogus' for filter 'status': Select a valid choice. bogus is "
            f"not one of the available choices. Choices: new, paid, shipped. {ALLOWED}",
        ),
        (
            "created__gte=yesterday",
            "Bad value 'yesterday' for filter 'created__gte': Enter a valid "
            f"date/time. {ALLOWED}",
        ),
        ("total__gte=ten", "for filter 'total__gte': Enter a number."),
        ("total__gte=1e999999", "no more than 8 digits in total"),
        ("created__year=twenty", "for filter 'created__year': Enter a whole number."),
        ("gift=maybe", "for filter 'gift': Give true or false (or 1 or 0)."),
        ("shipped__isnull=2", "'shipped__isnull': Give true or false"),
        ("customer=ann", "for filter 'customer':"),
        ("status__in=paid,,new", "for filter 'status__in': Give a value, not an empty"),
        ("status=paid&status=new", "Filter 'status' is given 2 times; give it once"),
        # Values the field takes but the database could not (a 500 before).
        (
            "customer=99999999999999999999",
            "for filter 'customer': Give a number of at most 9223372036854775807.",
        ),
        (
            "created__year=0",
            f"Bad value '0' for filter 'created__year': year 0 is out of range. "
            f"{ALLOWED}",
        ),
        ("created__year=10000", "year 10000 is out of range"),
        ("created__gte=0001-01-01T00:00%2B05:00", "for filter 'created__gte': date"),
        (
            "customer__name__icontains=a%00b",
            "for filter 'customer__name__icontains': Null characters are not allowed.",
        ),
        (
            "customer__name__icontains=" + "x" * 2001,
            "Bad value '"
            + "x" * 76
            + "... for filter 'customer__name__icontains': Give at most 2000 "
            "characters, not 2001.",
        ),
        ("x" * 100 + "=1", "Unknown filter 'xxxxxxxxxxx"),
    ],
)
def test_bad_filters_get_400_naming_the_allowed_ones(
    clerk: Client, orders: Any, query: str, message: str
) -> None:
    assert message in bad(clerk, f"{ORDERS}?{query}")


def test_an_export_without_filters_says_so(clerk: Client, orders: Any) -> None:
    text = bad(clerk, "/exports/paid-orders.csv?status=new")
    assert text == "Unknown filter 'status'. This export takes no filters."


def test_filter_values_are_never_markup(clerk: Client, orders: Any) -> None:
    text = bad(clerk, f"{ORDERS}?%3Cscript%3E=1")
    assert text.startswith("Unknown filter '<script>'.")  # as text/plain only


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "postgres"])
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1e131072", "at most 131072 digits before the decimal point"),
        ("-1e-16384", "at most 16383 digits after the decimal point"),
    ],
)
def test_decimals_postgresql_cannot_hold_are_bad_filter_values(
    raw: str, message: str
) -> None:
    # Django 6.1's DecimalField() (Sample.loose) takes any decimal; before
    # it, the field's max_digits refuses these first.
    samples = Sample.objects.using("postgres").all()
    with pytest.raises(FilterError, match=f"Bad value {raw!r} for filter") as error:
        filter_queryset(samples, {"loose__gte": [raw]}, ["loose__gte"])
    if django.VERSION < (6, 1):
        assert "no more than 40 digits in total" in str(error.value)
        return
    assert message in str(error.value)
    edge = raw.replace("131072", "131071").replace("16384", "16383")
    assert list(filter_queryset(samples, {"loose__gte": [edge]}, ["loose__gte"])) == []


# -- the index page -------------------------------------------------------------


def test_the_index_lists_what_the_user_may_download(clerk: Client) -> None:
    response = clerk.get("/exports/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = body(response)
    assert 'href="/exports/testapp-order.csv"' in page
    assert 'href="/exports/paid-orders.csv"' in page
    assert "testapp-customer" not in page  # no view_customer permission
    assert "Every order, with its customer." in page
    # Each filter is offered as a form field of its kind.
    assert '<select name="status">' in page
    assert '<option value="paid">Paid</option>' in page
    assert '<input name="created__gte" type="date">' in page
    assert '<input name="total__gte" type="number" step="any">' in page
    assert '<input name="customer__name__icontains" type="text">' in page
    assert '<select name="shipped__isnull">' in page


def test_the_index_without_any_export(client: Client) -> None:
    client.force_login(User.objects.create_user("nobody"))
    page = body(client.get("/exports/"))
    assert "Paid orders" in page  # permission_required = ()
    assert "testapp-order" not in page


def test_the_index_escapes_what_exports_declare(
    clerk: Client, isolated_registry: None
) -> None:
    @register
    class Markup(CSVExport):
        model = Book
        slug = "markup"
        fields = ["title"]
        title = "<b>Books</b>"
        permission_required = ()

    page = body(clerk.get("/exports/"))
    assert "&lt;b&gt;Books&lt;/b&gt;" in page
    assert "<b>Books</b>" not in page


JINJA2 = "django.template.backends.jinja2.Jinja2"
DJANGO = "django.template.backends.django.DjangoTemplates"


@override_settings(TEMPLATES=[{"BACKEND": DJANGO, "APP_DIRS": True}])
def test_the_index_works_without_a_jinja2_engine(clerk: Client) -> None:
    page = body(clerk.get("/exports/"))
    assert 'href="/exports/testapp-order.csv"' in page
    assert '<select name="status">' in page


def test_a_project_may_override_the_index_template(
    clerk: Client, tmp_path: Path
) -> None:
    (tmp_path / "streamkit").mkdir()
    (tmp_path / "streamkit" / "index.html").write_text(
        "{% for item in exports %}[{{ item.title }}]{% endfor %}"
    )
    engine = {"BACKEND": JINJA2, "DIRS": [tmp_path], "APP_DIRS": True}
    with override_settings(TEMPLATES=[engine]):
        assert body(clerk.get("/exports/")) == "[Orders][Paid orders]"


@override_settings(ROOT_URLCONF="tests.support.exports_urls")
def test_the_index_links_where_the_exports_are_mounted(clerk: Client) -> None:
    page = body(clerk.get("/downloads/"))
    assert 'href="/downloads/testapp-order.csv"' in page
    assert clerk.get("/downloads/paid-orders.csv").status_code == 200
