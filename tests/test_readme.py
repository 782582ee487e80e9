"""Every Python snippet in README.md runs as written, and does what it says.

Settings snippets are merged into the test settings (a ``...`` in a list
stands for the test settings' own entries), views are mounted on a URLconf of
their own and called through the test client, and ``myapp.models`` is the
test app's models.
"""

from __future__ import annotations

import ast
import csv
import io
import re
import sys
import types
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import sites
from django.contrib.auth.models import User
from django.core import checks
from django.test import Client, override_settings
from django.urls import path

from django_streamkit.exports import registry
from tests.support.testapp.models import Author, Book, Customer, Order

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def is_settings(source: str) -> bool:
    """A block that only imports and assigns UPPERCASE names is settings."""
    body = ast.parse(source).body
    return all(
        isinstance(node, ast.Import | ast.ImportFrom)
        or (
            isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)
        )
        for node in body
    )


def merged(name: str, value: Any) -> Any:
    """The snippet's ``name`` with ``...`` standing for the test settings'."""
    if not isinstance(value, list) or Ellipsis not in value:
        return value
    own = [item for item in value if item is not Ellipsis]
    backends = {item["BACKEND"] for item in own if isinstance(item, dict)}
    rest = [
        item
        for item in getattr(settings, name)
        if item not in own
        and not (isinstance(item, dict) and item["BACKEND"] in backends)
    ]
    at = value.index(Ellipsis)
    return [*value[:at], *rest, *value[at + 1 :]]


def run_settings(source: str, base_dir: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__file__": str(base_dir / "mysite" / "settings.py")}
    exec(source, namespace)
    return {
        key: merged(key, value) for key, value in namespace.items() if key.isupper()
    }


def run_code(source: str, namespace: dict[str, Any]) -> None:
    exec(source.replace("myapp.models", "tests.support.testapp.models"), namespace)


@pytest.fixture
def snippets(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Every non-settings snippet run in one namespace, as a project's modules
    would be: exports into an emptied registry, the admin into a new site."""
    monkeypatch.setattr(sites, "site", admin.AdminSite())
    saved = dict(registry._registry)
    registry._registry.clear()
    namespace: dict[str, Any] = {"__name__": "myapp.views"}
    try:
        for source in blocks("python"):
            if not is_settings(source):
                run_code(source, namespace)
        namespace["admin_site"] = sites.site
        yield namespace
    finally:
        registry._registry.clear()
        registry._registry.update(saved)


@pytest.fixture
def site(
    snippets: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Client]:
    """The Quick start's settings and the snippets' views, served."""
    quick_start = blocks("python")[0]
    assert quick_start.startswith("# settings.py\n")
    project = run_settings(quick_start, tmp_path)
    (template,) = blocks("jinja")
    where = re.match(r"\{# ([\w/.]+)", template)
    assert where, "the template says where it lives"
    (tmp_path / where.group(1)).parent.mkdir(parents=True)
    (tmp_path / where.group(1)).write_text(template)

    urls = types.ModuleType("readme_urls")
    urls.urlpatterns = [  # type: ignore[attr-defined]
        *snippets["urlpatterns"],
        path("admin/", snippets["admin_site"].urls),
        path("numbers", snippets["numbers"]),
        path("report.csv", snippets["report"]),
        path("books.csv", snippets["BookExport"].as_view()),
        path("orders", snippets["orders"]),
        path("orders-view", snippets["OrdersView"].as_view()),
        path("hello", snippets["hello"]),
    ]
    monkeypatch.setitem(sys.modules, "readme_urls", urls)
    assert set(project["INSTALLED_APPS"]) == set(settings.INSTALLED_APPS)
    with override_settings(
        MIDDLEWARE=project["MIDDLEWARE"],
        TEMPLATES=project["TEMPLATES"],
        ROOT_URLCONF="readme_urls",
    ):
        yield Client()


def head(response: Any, size: int = 100) -> bytes:
    """The first ``size`` bytes or more of a stream, which is then closed."""
    assert response.status_code == 200
    data = b""
    try:
        for chunk in response.streaming_content:
            data += chunk
            if len(data) >= size:
                return data
        return data
    finally:
        response.close()


def body(response: Any) -> str:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize(
    "source", blocks("python"), ids=lambda s: s.splitlines()[0][:40]
)
def test_every_snippet_runs_as_written(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sites, "site", admin.AdminSite())
    monkeypatch.setattr(registry, "_registry", {})
    if is_settings(source):
        run_settings(source, tmp_path)
    else:
        run_code(source, {"__name__": "myapp.views"})


def test_the_quick_start_settings_pass_the_checks(site: Client, tmp_path: Path) -> None:
    project = run_settings(blocks("python")[0], tmp_path)
    first = "django_streamkit.middleware.RequestContextMiddleware"
    assert project["MIDDLEWARE"][0] == first
    assert project["TEMPLATES"][0]["DIRS"] == [tmp_path / "jinja2"]
    ours = "myapp.middleware.AuditMiddleware"  # a project's own, reading the request
    with override_settings(MIDDLEWARE=[*project["MIDDLEWARE"], ours]):
        ids = {message.id for message in checks.run_checks()}
    assert not ids & {"streamkit.W047", "streamkit.E046"}, ids
    with override_settings(MIDDLEWARE=[ours, *project["MIDDLEWARE"]]):
        ids = {message.id for message in checks.run_checks()}
    assert "streamkit.W047" in ids  # where the README says not to put it


@pytest.mark.django_db
def test_the_views_answer_through_the_quick_start_settings(site: Client) -> None:
    assert head(site.get("/numbers")).startswith(b"0\n1\n2\n")
    report = site.get("/report.csv")
    assert report["Content-Disposition"].startswith('attachment; filename="report.csv"')
    assert head(report).startswith(b"n,label,half\r\n0,row 0,0.0\r\n")

    author = Author.objects.create(name="Ann")
    Book.objects.create(title="First", author=author, genre="novel", rating=3)
    assert body(site.get("/books.csv")) == (
        "Title,Author name,Genre,Price,Published\r\nFirst,Ann,Novel,,\r\n"
    )

    assert body(site.get("/hello?name=Zoë")) == "Hello Zoë"


@pytest.mark.django_db
def test_the_orders_template_streams_from_the_jinja2_folder(site: Client) -> None:
    ann = Customer.objects.create(name="ann")
    for number, day in [("1", "2024-01-01"), ("2", "2024-02-01")]:
        Order.objects.create(
            number=number, customer=ann, status="paid", total=3, created=day + "T00:00Z"
        )
    for url in ("/orders", "/orders-view"):
        page = body(site.get(url))
        assert re.findall(r"<tr><td>(\d+)</td><td>3\.00</td></tr>", page) == [
            "2",
            "1",
        ], url


@pytest.mark.django_db
def test_the_export_and_the_admin_button_stream_orders(site: Client) -> None:
    ann = Customer.objects.create(name="ann")
    Order.objects.create(
        number="7", customer=ann, status="paid", total=3, created="2024-03-01T00:00Z"
    )
    Order.objects.create(
        number="8", customer=ann, status="new", total=3, created="2024-03-01T00:00Z"
    )
    anonymous = site.get("/exports/testapp-order.csv")
    assert anonymous.status_code == 302
    site.force_login(User.objects.create_superuser("root"))
    export = body(site.get("/exports/testapp-order.csv?status=paid"))
    rows = list(csv.reader(io.StringIO(export)))
    assert [row[0] for row in rows[1:]] == ["7"]
    button = body(site.get("/admin/testapp/order/export.csv"))
    assert {row[0] for row in list(csv.reader(io.StringIO(button)))[1:]} == {"7", "8"}


@pytest.mark.django_db
def test_the_compression_settings_compress_a_stream(
    tmp_path: Path, snippets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (compression,) = [s for s in blocks("python") if "GZipMiddleware" in s]
    project = run_settings(compression, tmp_path)
    urls = types.ModuleType("readme_gzip_urls")
    urls.urlpatterns = [path("numbers", snippets["numbers"])]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "readme_gzip_urls", urls)
    with override_settings(
        MIDDLEWARE=project["MIDDLEWARE"], ROOT_URLCONF="readme_gzip_urls"
    ):
        response = Client().get("/numbers", headers={"accept-encoding": "gzip"})
    assert response["Content-Encoding"] == "gzip"
    # One gzip stream flushed per chunk: its start decompresses alone, long
    # before the 10,000,000 numbers end. (The header carries a random-length
    # file name, Django's BREACH mitigation, so it may come in a chunk alone.)
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = b""
    try:
        for _, chunk in zip(range(10), response.streaming_content, strict=False):
            text += decompressor.decompress(chunk)
            if len(text) >= 4:
                break
    finally:
        response.close()
    assert text.startswith(b"0\n1\n"), text[:20]
