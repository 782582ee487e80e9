from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.core import checks
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.test import override_settings
from django.urls import include, path

from django_streamkit.admin import StreamingCSVExportMixin
from django_streamkit.checks import (
    check_csv_views,
    check_exports,
    check_exports_urls,
    check_request_context_middleware,
    check_settings,
    check_template_views,
)
from django_streamkit.exports import CSVExport, register, registry
from django_streamkit.middleware import RequestContextMiddleware
from django_streamkit.views import CSVStreamView, TemplateStreamView
from tests.support.registry import registry_restored
from tests.support.template_views import AsyncTableView, TableView
from tests.support.testapp.models import Book, Customer, Order


def test_defaults_pass() -> None:
    assert check_settings() == []


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("STREAMKIT_CHUNK_SIZE", 0, "streamkit.E001"),
        ("STREAMKIT_CHUNK_SIZE", "64k", "streamkit.E001"),
        ("STREAMKIT_MAX_LATENCY", -1, "streamkit.E002"),
        ("STREAMKIT_MAX_LATENCY", float("nan"), "streamkit.E002"),
        ("STREAMKIT_CSV_ESCAPE_FORMULAS", "yes", "streamkit.E003"),
        ("STREAMKIT_QUERYSET_CHUNK_SIZE", 0, "streamkit.E004"),
        ("STREAMKIT_TEMPLATE_BUFFER_SIZE", None, "streamkit.E005"),
        ("STREAMKIT_CSV_DATETIME_FORMAT", "utc", "streamkit.E006"),
        ("STREAMKIT_CSV_DATETIME_FORMAT", None, "streamkit.E006"),
        ("STREAMKIT_EXPORT_BOM", "no", "streamkit.E007"),
        ("STREAMKIT_EXPORT_BOM", 0, "streamkit.E007"),
    ],
)
def test_bad_values_are_reported_with_stable_ids(
    setting: str, value: object, check_id: str
) -> None:
    with override_settings(**{setting: value}):
        errors = check_settings()
        registered = [e for e in checks.run_checks() if e.id == check_id]
    assert [e.id for e in errors] == [check_id]
    assert setting in errors[0].msg
    assert repr(value) in errors[0].msg
    assert registered, "the check is registered with Django's framework"


# -- exports and the admin mixin (streamkit.E040-E045, W045) -------------------


@pytest.fixture
def only() -> Iterator[None]:
    """An empty export registry for the test; the app's exports come back after."""
    with registry_restored(empty=True):
        yield


def test_the_apps_exports_and_admins_pass() -> None:
    assert len(registry) == 3
    assert check_exports() == []
    assert [m for m in checks.run_checks() if m.id.startswith("streamkit.")] == []


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [m.id for m in messages]


@pytest.mark.usefixtures("only")
@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        (
            {"fields": ["number", "totl"]},
            "Export.fields: unknown field 'totl' in 'totl' on testapp.Order; "
            "choose from: created, customer, gift, id, number, secret, shipped, "
            "status, total.",
        ),
        (
            {"fields": ["customer__nmae"]},
            "unknown field 'nmae' in 'customer__nmae' on testapp.Customer",
        ),
        ({"fields": None}, "Export.fields is missing."),
        ({"fields": "number"}, "not the string 'number'; write ['number']"),
        (
            {"fields": ["number"], "labels": {"total": "Sum"}},
            "Export.labels names ['total'], which are not in fields",
        ),
    ],
)
def test_e040_unknown_fields(attrs: dict[str, object], message: str) -> None:
    register(type("Export", (CSVExport,), {"model": Order, **attrs}))
    [error] = check_exports()
    assert error.id == "streamkit.E040"
    assert message in error.msg
    assert error.obj.__name__ == "Export"


@pytest.mark.usefixtures("only")
def test_e040_leaves_get_queryset_annotations_to_the_request() -> None:
    @register
    class Annotated(CSVExport):
        model = Customer
        fields = ["name", "n_orders", "orders__nmae"]
        labels = {"n_orders": "Orders"}

        def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
            return Customer.objects.annotate(n_orders=Count("orders"))

    [error] = check_exports()  # n_orders may be an annotation; nmae may not
    assert error.id == "streamkit.E040"
    assert "unknown field 'nmae' in 'orders__nmae' on testapp.Order" in error.msg


@pytest.mark.usefixtures("only")
@pytest.mark.parametrize(
    ("filter_fields", "message"),
    [
        (["status", "colour"], "'colour' is not a filter of testapp.Order: Cannot"),
        (["created__after"], "Unsupported lookup 'after' for DateTimeField"),
        (["customer__nmae"], "'customer__nmae' is not a filter of testapp.Order"),
        ("status", "filter_fields is the string 'status'"),
    ],
)
def test_e041_unknown_filters(filter_fields: object, message: str) -> None:
    register(
        type(
            "Export",
            (CSVExport,),
            {"model": Order, "fields": ["number"], "filter_fields": filter_fields},
        )
    )
    [error] = check_exports()
    assert error.id == "streamkit.E041"
    assert message in error.msg


@pytest.mark.usefixtures("only")
def test_e042_duplicate_slugs() -> None:
    @register
    class First(CSVExport):
        model = Order
        fields = ["number"]

    @register
    class Second(CSVExport):
        queryset = Order.objects.filter(gift=True)
        fields = ["number"]

    [error] = check_exports()
    assert error.id == "streamkit.E042"
    assert error.msg.startswith("tests.test_checks.test_e042_duplicate_slugs.<locals>")
    assert "Second and tests.test_checks" in error.msg
    assert "First can be reached at testapp-order.csv." in error.msg
    assert "the same slug 'testapp-order'" in error.msg
    assert error.obj is Second


@pytest.mark.usefixtures("only")
@pytest.mark.parametrize("perm", ["view_order", "shop.view_order", "testapp."])
def test_e043_permissions_no_user_can_have(perm: str) -> None:
    register(
        type(
            "Export",
            (CSVExport,),
            {"model": Order, "fields": ["number"], "permission_required": [perm]},
        )
    )
    [error] = check_exports()
    assert error.id == "streamkit.E043"
    assert repr(perm) in error.msg


AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def test_e044_mounted_without_authentication() -> None:
    assert check_exports_urls() == []
    middleware = [m for m in settings.MIDDLEWARE if m != AUTH_MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware):
        [error] = check_exports_urls()
        assert error.id == "streamkit.E044"
        assert f"{AUTH_MIDDLEWARE!r} in MIDDLEWARE" in error.msg
        assert "streamkit.E044" in ids(checks.run_checks(tags=[checks.Tags.urls]))
        with override_settings(ROOT_URLCONF="tests.support.exports_urls"):
            assert ids(check_exports_urls()) == ["streamkit.E044"]
        with override_settings(ROOT_URLCONF="tests.support.csv_views"):
            assert check_exports_urls() == []  # not mounted


def exports_urlconf(*patterns: Any) -> ModuleType:
    urlconf = ModuleType("urlconf")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        *patterns,
        path("exports/", include("django_streamkit.urls")),
    ]
    return urlconf


ACCOUNTS = path("accounts/", include("django.contrib.auth.urls"))
ADMIN = path("admin/", admin.site.urls)


@pytest.mark.parametrize(
    ("login_url", "patterns", "instead"),
    [
        (
            "/accounts/login/",
            [ADMIN],
            "to the admin's login page, /admin/login/, instead",
        ),
        (
            "accounts:login",
            [ADMIN],
            "to the admin's login page, /admin/login/, instead",
        ),
        ("/accounts/login/", [], "there, to a page that does not exist (404)"),
        ("/accounts/login/", [ACCOUNTS, ADMIN], None),
        ("/accounts/login", [ACCOUNTS], None),  # APPEND_SLASH redirects it
        ("login", [ACCOUNTS], None),
        ("admin:login", [ADMIN], None),
        ("https://login.example.test/", [], None),  # another site's
    ],
)
def test_w050_login_url_is_no_url_of_the_site(
    login_url: str, patterns: list[Any], instead: str | None
) -> None:
    with override_settings(
        LOGIN_URL=login_url, ROOT_URLCONF=exports_urlconf(*patterns)
    ):
        messages = check_exports_urls()
        registered = ids(checks.run_checks(tags=[checks.Tags.urls]))
    if instead is None:
        assert messages == []
        assert "streamkit.W050" not in registered
        return
    [warning] = messages
    assert warning.id == "streamkit.W050"
    assert "streamkit.W050" in registered
    assert warning.msg == (
        f"LOGIN_URL is {login_url!r}, which is no URL of this site, so "
        f"django_streamkit.urls sends anonymous users {instead}."
    )
    assert warning.hint is not None
    assert "include('django.contrib.auth.urls')" in warning.hint


def test_w050_only_when_mounted() -> None:
    with override_settings(
        LOGIN_URL="/nowhere/", ROOT_URLCONF="tests.support.csv_views"
    ):
        assert check_exports_urls() == []


def make_admin(**attrs: object) -> admin.ModelAdmin[Order]:
    cls = type("OrderAdmin", (StreamingCSVExportMixin, admin.ModelAdmin), attrs)
    return cls(Order, admin.AdminSite())  # type: ignore[no-any-return]


def test_e045_and_w045_admin_export_columns() -> None:
    assert make_admin(list_display=["number", "customer__name"]).check() == []
    [error] = make_admin(csv_export_fields=["number", "totl"]).check()
    assert error.id == "streamkit.E045"
    assert error.msg.startswith(
        "OrderAdmin.csv_export_fields: unknown field 'totl' in 'totl' on testapp.Order"
    )
    [error] = make_admin(
        csv_export_fields=["number"], csv_export_labels={"total": "Sum"}
    ).check()
    assert error.id == "streamkit.E045"
    assert "OrderAdmin.csv_export_labels names ['total']" in error.msg
    # The raw export of list_display's model fields.
    [warning] = make_admin(list_display=["__str__"], csv_export_raw=True).check()
    assert warning.id == "streamkit.W045"
    assert "exports only the primary key" in warning.msg
    # The primary key on display is a choice, not an accident.
    assert make_admin(list_display=["id", "__str__"], csv_export_raw=True).check() == []
    # What the changelist shows: its column, whatever it is.
    assert make_admin(list_display=["__str__"]).check() == []
    [error] = make_admin(
        list_display=["number", "summary"],
        summary=lambda self, obj: obj.number,
        csv_export_labels={"number": "No.", "totl": "Sum"},
    ).check()
    assert error.id == "streamkit.E045"
    assert error.msg == (
        "OrderAdmin.csv_export_labels names ['totl'], which are not in "
        "list_display; choose from ['number', 'summary']."
    )


# -- streamed template views (streamkit.E046) ----------------------------------


def test_e046_template_views_without_a_jinja2_engine() -> None:
    assert check_template_views() == []  # tests.support.template_views, with engines
    django_only = [{"BACKEND": "django.template.backends.django.DjangoTemplates"}]
    with override_settings(TEMPLATES=django_only):
        errors = check_template_views()
        assert "streamkit.E046" in ids(checks.run_checks(tags=[checks.Tags.urls]))
    assert [e.obj for e in errors] == [AsyncTableView, TableView]
    assert {e.id for e in errors} == {"streamkit.E046"}
    assert errors[1].msg == (
        "A URL routes to tests.support.template_views.TableView, which streams a "
        "Jinja2 template, but TEMPLATES has no Jinja2 engine: every request to it "
        "would fail."
    )
    assert "its template_engine 'jinja2_async' is no Jinja2 engine" in errors[0].msg


def test_e046_names_a_template_engine_alias_that_is_not_jinja2() -> None:
    class Page(TemplateStreamView):
        template_name = "page.html"
        template_engine = "django"

    urlconf = ModuleType("urlconf")
    urlconf.urlpatterns = [path("deep/", include([path("page", Page.as_view())]))]  # type: ignore[attr-defined]
    with override_settings(ROOT_URLCONF=urlconf):
        [error] = check_template_views()
    assert error.id == "streamkit.E046"
    assert "its template_engine 'django' is no Jinja2 engine" in error.msg
    assert error.hint is not None
    assert "'jinja2'" in error.hint


# -- routed CSV views (streamkit.E048) -------------------------------------------


class MisspeltBooks(CSVStreamView):
    model = Book
    fields = ["title", "autor__name"]


class MislabelledBooks(CSVStreamView):
    queryset = Book.objects.filter(rating=3)
    fields = ["title"]
    labels = {"price": "Price"}


class UnchosenBooks(CSVStreamView):
    model = Book
    fields = ["title", "genre"]
    choices_as_labels = ["title"]


class AnnotatedBooks(CSVStreamView):
    """Annotations of get_queryset() are the request's to check."""

    model = Book
    fields = ["title", "n_words", "author__nmae"]

    def get_queryset(self) -> QuerySet[Book]:
        return Book.objects.annotate(n_words=Count("title"))


class ComputedBooks(CSVStreamView):
    """Fields computed per request are the request's to check."""

    model = Book

    def get_fields(self) -> list[str]:
        return ["title"]


def csv_urlconf() -> ModuleType:
    urlconf = ModuleType("urlconf")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        path("a.csv", MisspeltBooks.as_view()),
        path("b/", include([path("b.csv", MislabelledBooks.as_view())])),
        path("c.csv", UnchosenBooks.as_view()),
        path("d.csv", AnnotatedBooks.as_view()),
        path("e.csv", ComputedBooks.as_view()),
        path("f.csv", CSVStreamView.as_view(model=Book, fields=["price", "pirce"])),
        path("g.csv", CSVStreamView.as_view(fields=["title"])),
        path("ok.csv", CSVStreamView.as_view(model=Book, fields="__all__")),
    ]
    return urlconf


def test_e048_routed_csv_views_with_unknown_fields() -> None:
    assert check_csv_views() == []  # tests.support.csv_views
    with override_settings(ROOT_URLCONF=csv_urlconf()):
        errors = check_csv_views()
        assert "streamkit.E048" in ids(checks.run_checks(tags=[checks.Tags.urls]))
    assert {e.id for e in errors} == {"streamkit.E048"}
    found = {e.msg.split(". A URL routes to ")[0]: e.obj for e in errors}
    assert found == {
        "MisspeltBooks.fields: unknown field 'autor' in 'autor__name' on "
        "testapp.Book; choose from: author, genre, id, price, published, "
        "rating, title": MisspeltBooks,
        "MislabelledBooks.labels names ['price'], which are not in fields; "
        "choose from ['title']": MislabelledBooks,
        "UnchosenBooks.choices_as_labels names 'title', which is not a field "
        "with choices in fields; choose from ['genre']": UnchosenBooks,
        "AnnotatedBooks.fields: unknown field 'nmae' in 'author__nmae' on "
        "testapp.Author; choose from: books, born, id, name": AnnotatedBooks,
        "CSVStreamView.fields: unknown field 'pirce' in 'pirce' on "
        "testapp.Book; choose from: author, genre, id, price, published, "
        "rating, title": CSVStreamView,
        "CSVStreamView is missing a QuerySet. Define CSVStreamView.model, "
        "CSVStreamView.queryset, or override CSVStreamView.get_queryset()": (
            CSVStreamView
        ),
    }
    [misspelt] = [e for e in errors if e.obj is MisspeltBooks]
    assert misspelt.msg.endswith(
        ". A URL routes to tests.test_checks.MisspeltBooks: every request to "
        "it would fail."
    )


# -- RequestContextMiddleware's place (streamkit.W047) ---------------------------

REQUEST_CONTEXT = "django_streamkit.middleware.RequestContextMiddleware"
STATE = "tests.support.context_views.RequestStateMiddleware"


class LateContext(RequestContextMiddleware):
    """A project's subclass counts as the middleware."""


@pytest.mark.parametrize(
    ("middleware", "warned"),
    [
        ([], False),  # not used: nothing to say
        ([REQUEST_CONTEXT, *settings.MIDDLEWARE, STATE], False),  # the docs' order
        ([*settings.MIDDLEWARE, REQUEST_CONTEXT], False),  # only Django's before
        ([STATE, REQUEST_CONTEXT], True),
        ([*settings.MIDDLEWARE, STATE, "tests.test_checks.LateContext"], True),
    ],
)
def test_w047_request_context_middleware_after_other_middleware(
    middleware: list[str], warned: bool
) -> None:
    with override_settings(MIDDLEWARE=middleware):
        messages = check_request_context_middleware()
        registered = ids(checks.run_checks())
    assert ids(messages) == (["streamkit.W047"] if warned else [])
    assert ("streamkit.W047" in registered) is warned
    if warned:
        assert f"comes after {STATE} in MIDDLEWARE" in messages[0].msg
        assert "current_request raises RuntimeError" in messages[0].msg
