"""django_streamkit.urls: the exports' routes, mountable under the ``streamkit``
namespace or an instance namespace of the project's choosing."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import Resolver404, include, path, resolve, reverse

from django_streamkit import urls
from django_streamkit.exports import ExportIndexView, ExportView

# Mounted twice: under the application namespace and an instance namespace.
urlpatterns = [
    path("reports/", include("django_streamkit.urls")),
    path("archive/", include("django_streamkit.urls", namespace="archive")),
]


def test_the_routes_reverse_under_the_streamkit_namespace() -> None:
    assert urls.app_name == "streamkit"
    # tests.support.urls mounts them at exports/.
    assert reverse("streamkit:index") == "/exports/"
    assert (
        reverse("streamkit:export", kwargs={"slug": "testapp-order"})
        == "/exports/testapp-order.csv"
    )


def test_the_routes_resolve_to_the_export_views() -> None:
    index = resolve("/exports/")
    assert index.func.view_class is ExportIndexView  # type: ignore[attr-defined]
    assert (index.namespace, index.url_name, index.kwargs) == ("streamkit", "index", {})
    export = resolve("/exports/testapp-order.csv")
    assert export.func.view_class is ExportView  # type: ignore[attr-defined]
    assert (export.namespace, export.url_name) == ("streamkit", "export")
    assert export.kwargs == {"slug": "testapp-order"}


@pytest.mark.parametrize(
    "url",
    [
        "/exports/.csv",
        "/exports/testapp-order.c.sv",
        "/exports/testapp-order.",
        "/exports/testapp-order.csv/",
        "/exports/testapp.order.csv",
        "/exports/a/b.csv",
        "/exports/caf%C3%A9.csv",
        "/exports/testapp-order",
    ],
)
def test_only_a_slug_and_a_format_route_to_an_export(url: str) -> None:
    with pytest.raises(Resolver404):
        resolve(url)


def test_other_formats_route_to_the_same_view() -> None:
    match = resolve("/exports/testapp-order.xlsx")
    assert match.func.view_class is ExportView  # type: ignore[attr-defined]
    assert (match.url_name, match.kwargs) == (
        "export_format",
        {"slug": "testapp-order", "format": "xlsx"},
    )
    assert (
        reverse("streamkit:export_format", kwargs={"slug": "s", "format": "json"})
        == "/exports/s.json"
    )


@pytest.mark.django_db
def test_a_format_the_export_does_not_offer_is_404(admin_client: Client) -> None:
    response = admin_client.get("/exports/testapp-order.tsv")
    assert response.status_code == 404


@override_settings(ROOT_URLCONF=__name__)
def test_mounted_twice_each_instance_reverses_to_its_own_prefix() -> None:
    assert reverse("streamkit:index") == "/reports/"
    assert reverse("archive:export", kwargs={"slug": "x"}) == "/archive/x.csv"
    match = resolve("/archive/x.csv")
    assert (match.app_name, match.namespace) == ("streamkit", "archive")
    assert reverse("streamkit:index", current_app="archive") == "/archive/"


@pytest.mark.django_db
def test_a_reversed_export_url_streams_the_csv(admin_client: Client) -> None:
    response = admin_client.get(
        reverse("streamkit:export", kwargs={"slug": "testapp-order"})
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert b"".join(response.streaming_content).startswith(b"\xef\xbb\xbf")
