"""The demo site as a newcomer meets it: its own manage.py, then a real server."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import ROOT, Server, serve

PROJECT = ROOT / "testproject"

pytestmark = pytest.mark.server


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), *args],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "testproject.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "DEMO_DB": str(tmp_path_factory.mktemp("demo") / "db.sqlite3"),
        "DEMO_DEBUG": "0",
    }
    manage("migrate", "--verbosity", "0", env=env)
    start = time.monotonic()
    out = manage(
        "seed", "--orders", "120000", "--books", "20000", "--authors", "500", env=env
    )
    seconds = time.monotonic() - start
    assert "Seeded 500 authors, 20,000 books and 120,000 orders" in out
    assert seconds < 60  # bounded; the speed itself is the seed's own report
    assert "already there" in manage("seed", "--if-empty", env=env)
    assert "password 'streamkit-demo'" in manage("demo_user", env=env)
    with serve(
        "gunicorn",
        project="testproject",
        settings="testproject.settings",
        pythonpath=PROJECT,
        extra_env=env,
    ) as server:
        yield server


def signed_in(demo: Server) -> httpx.Client:
    """A client signed in as the demo superuser, through the admin's login form."""
    client = httpx.Client(base_url=demo.url, timeout=60)  # closed by the caller
    form = client.get("/admin/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token
    response = client.post(
        "/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": "demo",
            "password": "streamkit-demo",
            "next": "/admin/",
        },
    )
    assert response.status_code == 302, response.text[:500]
    return client


def test_index_links_every_feature_and_each_link_works(demo: Server) -> None:
    page = httpx.get(demo.url + "/", timeout=30)
    assert page.status_code == 200
    assert "120,000" in page.text
    links = re.findall(r'<li><a href="([^"]+)"', page.text.replace("&amp;", "&"))
    for expected in (
        "/large.csv",
        "/my-large-page.html",
        "/stream?name=World",
        "/exports/",
        "/admin/demo/order/",
        "/orders.csv",
    ):
        assert expected in links
    client = signed_in(demo)
    try:
        for link in links:
            with client.stream("GET", link) as response:
                assert response.status_code == 200, link
                assert next(response.iter_raw(), b""), f"{link} sent no body"
    finally:
        client.close()


def test_exports_need_a_sign_in_and_list_what_the_user_may_use(demo: Server) -> None:
    anonymous = httpx.get(demo.url + "/exports/demo-order.csv", timeout=30)
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous.headers["location"]
    client = signed_in(demo)
    try:
        index = client.get("/exports/").text
        assert "demo-order.csv" in index
        assert "demo-book.csv" in index
        paid = client.get("/exports/demo-order.csv?status=paid")
        rows = list(csv.reader(io.StringIO(paid.text)))
        assert {row[7] for row in rows[1:]} == {"Paid"}
        bad = client.get("/exports/demo-order.csv?email=x")
        assert bad.status_code == 400
        assert "status" in bad.text
        changelist = client.get("/admin/demo/order/?status__exact=paid").text
        assert "export.csv" in changelist
    finally:
        client.close()


def test_the_books_admin_exports_what_it_shows(demo: Server) -> None:
    client = signed_in(demo)
    try:
        page = client.get("/admin/demo/book/?genre__exact=fic").text
        response = client.get("/admin/demo/book/export.csv?genre__exact=fic")
    finally:
        client.close()
    assert response.content.startswith(b"\xef\xbb\xbfTitle,"), "a BOM, for Excel"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header = ["Title", "Author", "Country", "Genre", "Published", "Price"]
    assert rows[0] == [*header, "In stock"]
    assert len(rows) > 1000
    assert {row[3] for row in rows[1:]} == {"Fiction"}
    author = rows[1][1]
    assert f">{author}</td>" in page, "the author's name, as on the changelist"
    assert not author.isdigit()


def test_large_csv_streams_every_order(demo: Server) -> None:
    response = httpx.get(demo.url + "/large.csv", timeout=60)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "content-length" not in response.headers
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["id", "created", "customer"]
    assert len(rows) == 120_001
    assert [int(r[0]) for r in rows[1:4]] == [1, 2, 3]
    # Every row as wide as the header, however the notes are written, and no
    # cell a spreadsheet would run as a formula.
    assert {len(row) for row in rows} == {len(rows[0])}
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    notes = {row[-1] for row in rows[1:]}
    assert {"'=SUM(A1:A9)", "'+44 20 7946 0000", "deliver, after 6 pm"} <= notes


def test_large_naive_csv_shows_what_hand_joined_csv_breaks(demo: Server) -> None:
    page = httpx.get(demo.url + "/", timeout=30).text
    caption = re.search(r'href="/large-naive.csv">[^<]*</a><code>([^<]*)<', page)
    assert caption
    assert "naive" in caption.group(1)
    assert "broken rows, live formulas" in caption.group(1)
    response = httpx.get(demo.url + "/large-naive.csv", timeout=60)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert len(rows) == 120_001  # the same orders as /large.csv ...
    widths = {len(row) for row in rows}
    assert len(widths) > 1, "... but a note with a comma changes a row's width"
    formulas = {row[-1] for row in rows[1:] if row[-1].startswith("=")}
    assert formulas == {"=SUM(A1:A9)"}, "... and a note is a live formula"


def test_index_shows_the_demo_login_and_speaks_to_the_user(demo: Server) -> None:
    page = httpx.get(demo.url + "/", timeout=30).text
    assert "<kbd>demo</kbd>" in page
    assert "<kbd>streamkit-demo</kbd>" in page
    assert 'href="/admin/login/?next=/exports/"' in page
    assert "seed" not in page.lower()


def test_the_exports_index_links_back_to_the_site(demo: Server) -> None:
    client = signed_in(demo)
    try:
        index = client.get("/exports/").text
    finally:
        client.close()
    assert re.search(r'<a class="back" href="/">[^<]*Back to the site</a>', index)


def test_demo_project_passes_checks() -> None:
    env = {"DEMO_DB": str(Path(os.devnull))}
    assert "no issues" in manage("check", env=env)


def test_large_page_streams_a_table_of_orders(demo: Server) -> None:
    with httpx.stream(
        "GET", demo.url + "/my-large-page.html?rows=20000", timeout=60
    ) as r:
        assert r.headers["content-type"].startswith("text/html")
        assert "content-length" not in r.headers
        page = b"".join(r.iter_bytes()).decode()
    assert "20,000 orders, streamed" in page
    assert page.count('<tr><td class="num">') == 20_000
    assert page.rstrip().endswith("</html>")


def test_stream_with_context_greets_by_name(demo: Server) -> None:
    response = httpx.get(demo.url + "/stream?name=World", timeout=30)
    assert response.text == "Hello World!\n"
    assert httpx.get(demo.url + "/stream?name=Zoë", timeout=30).text == "Hello Zoë!\n"


def test_clock_streams_ticks_as_they_happen(demo: Server) -> None:
    start = time.monotonic()
    with httpx.stream("GET", demo.url + "/clock", timeout=30) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("Streaming to 127.0.0.1")
        assert next(lines).lstrip().startswith("1  ")
        assert time.monotonic() - start < 3, "the first tick came at once"


def test_order_export_is_a_safe_labelled_download(demo: Server) -> None:
    response = httpx.get(demo.url + "/orders.csv", timeout=60)
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="bookshop-orders.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "ID",
        "Created",
        "Customer",
        "Email",
        "Book",
        "Author",
        "Quantity",
        "Total",
        "Status",
        "Note",
    ]
    assert len(rows) == 120_001
    statuses = {row[8] for row in rows[1:]}
    assert statuses <= {"New", "Paid", "Shipped", "Returned"}
    notes = {row[9] for row in rows[1:]}
    assert "'=SUM(A1:A9)" in notes
    assert not any(note.startswith(("=", "+")) for note in notes)


def test_books_csv_has_a_bom_and_a_unicode_filename(demo: Server) -> None:
    response = httpx.get(demo.url + "/books.csv", timeout=60)
    assert response.content.startswith(b"\xef\xbb\xbfISBN,Title,Author")
    assert (
        "filename*=utf-8''bookshop-books-%E2%82%AC.csv"
        in (response.headers["content-disposition"])
    )
    assert response.text.count("\n") == 20_001


@pytest.fixture(scope="module")
def orders_exports(demo: Server) -> tuple[bytes, str]:
    """The orders as the demo's workbook and as its CSV export."""
    workbook = httpx.get(demo.url + "/orders.xlsx", timeout=120)
    assert workbook.headers["content-disposition"].startswith(
        'attachment; filename="bookshop-orders.xlsx"'
    )
    return workbook.content, httpx.get(demo.url + "/orders.csv", timeout=120).text


def read_orders(exports: tuple[bytes, str], rows: int | None) -> tuple[Any, Any]:
    """The workbook and the CSV as pandas reads them (their first ``rows``)."""
    import pandas as pd

    workbook, text = exports
    frame = pd.read_excel(io.BytesIO(workbook), sheet_name="Orders", nrows=rows)
    reference = pd.read_csv(io.StringIO(text), parse_dates=["Created"], nrows=rows)
    return frame, reference


def assert_same_orders(frame: Any, reference: Any) -> None:
    import pandas as pd

    assert list(frame.columns) == list(reference.columns)
    assert len(frame) == len(reference)
    assert str(frame["Created"].dtype).startswith("datetime64")
    # A spreadsheet keeps a date-time as a fraction of days; openpyxl reads
    # it to the millisecond.
    drift = (frame["Created"] - reference["Created"]).abs().max()
    assert drift < pd.Timedelta(milliseconds=1)
    for column in ("ID", "Quantity"):
        assert frame[column].dtype == "int64"
        assert frame[column].equals(reference[column])
    assert (frame["Total"] - reference["Total"]).abs().max() < 1e-9
    for column in ("Customer", "Email", "Book", "Author", "Status"):
        assert frame[column].equals(reference[column]), column
    # The CSV escapes formulas with "'"; the workbook's notes are plain text.
    notes = frame["Note"].fillna("")
    escaped = notes.where(~notes.str.match(r"[=+\-@\t\r]"), "'" + notes)
    assert escaped.equals(reference["Note"].fillna(""))
    assert (notes == "=SUM(A1:A9)").any()


def test_pandas_reads_the_workbooks_first_orders_as_the_csv_export(
    orders_exports: tuple[bytes, str],
) -> None:
    # On every Django: the workbook Django's rows make is read as the CSV,
    # every type and every kind of note (all are among the first 2,000).
    frame, reference = read_orders(orders_exports, 2000)
    assert len(frame) == 2000
    assert set(frame["Note"].fillna("")) == {
        "",
        "gift wrap",
        "leave at the door",
        "=SUM(A1:A9)",
        "call before delivery",
        "+44 20 7946 0000",
        "deliver, after 6 pm",
    }
    assert set(frame["Status"]) == {"New", "Paid", "Returned", "Shipped"}
    assert_same_orders(frame, reference)


@pytest.mark.matrix
def test_pandas_reads_the_orders_workbook_as_the_csv_export(
    orders_exports: tuple[bytes, str],
) -> None:
    # Every order (15 s of openpyxl): what pandas makes of the rest of the
    # same file, on one Django; the file is the same on both (only its ZIP
    # timestamps differ), the test above reads its first rows on each.
    frame, reference = read_orders(orders_exports, None)
    assert len(frame) == len(reference) == 120_000
    assert_same_orders(frame, reference)


def test_the_orders_export_and_admin_offer_a_workbook(demo: Server) -> None:
    import openpyxl

    client = signed_in(demo)
    try:
        index = client.get("/exports/").text
        assert 'formaction="/exports/demo-order.xlsx"' in index
        response = client.get("/exports/demo-order.xlsx?status=paid")
        assert response.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        statuses = {
            row[0]
            for row in sheet.iter_rows(
                min_row=2, min_col=8, max_col=8, values_only=True
            )
        }
        assert statuses == {"Paid"}
        changelist = client.get("/admin/demo/order/").text
        assert 'href="/admin/demo/order/export.xlsx' in changelist
    finally:
        client.close()


def test_the_orders_feed_is_json_and_json_lines(demo: Server) -> None:
    feed = httpx.get(demo.url + "/orders.json", timeout=120)
    assert feed.headers["content-type"].startswith("application/json")
    document = json.loads(feed.content)
    assert document["count"] == len(document["results"]) == 120_000
    first = document["results"][0]
    assert list(first) == [
        "id",
        "created",
        "customer",
        "book",
        "quantity",
        "total",
        "status",
    ]
    lines = httpx.get(demo.url + "/orders.json?format=ndjson", timeout=120)
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in lines.text.splitlines()]
    assert rows == document["results"]
    client = signed_in(demo)
    try:
        index = client.get("/exports/").text
        assert 'formaction="/exports/demo-order.ndjson"' in index
        paid = client.get("/exports/demo-order.json?status=paid")
        assert paid.status_code == 200
        assert {row["status"] for row in json.loads(paid.content)} == {"Paid"}
        changelist = client.get("/admin/demo/order/").text
        assert 'href="/admin/demo/order/export.json' in changelist
    finally:
        client.close()
