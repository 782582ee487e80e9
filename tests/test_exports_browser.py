"""Headless Chromium uses the exports as a person would, against gunicorn.

It signs in to the admin, filters and searches the orders changelist, clicks
"Export CSV" and reads the downloaded file; runs the export action on ticked
rows; then opens the export index, fills an export's filter form and
downloads it. The files must hold exactly the rows asked for, across every
changelist page.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Download, Page

from tests.support.browser import chromium
from tests.support.servers import ROOT, Server, serve

pytestmark = pytest.mark.server

TIMEOUT = 20_000  # ms, for every wait

# 1,200 orders over 4 customers; the admin shows 2 per page.
SEED = """
import datetime
from django.contrib.auth.models import User
from tests.support.testapp.models import Customer, Order
User.objects.create_superuser("admin", password="pw")
names = ["Ann", "Bob", "Cy", "Di"]
customers = [Customer.objects.create(name=n) for n in names]
statuses = ["new", "paid", "shipped"]
Order.objects.bulk_create(
    Order(
        number=f"N-{i:04}",
        customer=customers[i % 4],
        status=statuses[i % 3],
        total=i,
        created=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
        + datetime.timedelta(hours=i),
        secret="never",
    )
    for i in range(1200)
)
"""


def expected(
    status: str, customer: str | None = None, since_hour: int = 0
) -> list[str]:
    names = ["Ann", "Bob", "Cy", "Di"]
    statuses = ["new", "paid", "shipped"]
    return [
        f"N-{i:04}"
        for i in range(1200)
        if statuses[i % 3] == status
        and (customer is None or names[i % 4] == customer)
        and i >= since_hour
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database = tmp_path_factory.mktemp("exports-browser") / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.server_settings",
        "STREAMKIT_TEST_SQLITE": str(database),
        "PYTHONPATH": str(ROOT),
    }
    for command in (
        ["migrate", "--run-syncdb", "--verbosity", "0"],
        ["shell", "-c", SEED],
    ):
        subprocess.run(
            [sys.executable, "-m", "django", *command],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=120,
        )
    with serve("gunicorn", extra_env={"STREAMKIT_TEST_SQLITE": str(database)}) as up:
        yield up


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, base_url=server.url)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    try:
        yield page
    finally:
        context.close()


def read(download: Download) -> list[list[str]]:
    path = download.path()
    assert path is not None, download.failure()
    # The BOM Excel needs, which csv.reader would read into the first cell.
    text = Path(path).read_text(encoding="utf-8-sig")
    assert Path(path).read_bytes().startswith(b"\xef\xbb\xbf")
    assert "never" not in text
    return list(csv.reader(text.splitlines()))


def test_the_changelist_button_downloads_the_filtered_search(page: Page) -> None:
    page.goto("/admin/testapp/order/")
    page.click("#changelist-filter a:text-is('Paid')")
    page.wait_for_url("**status__exact=paid**")
    page.fill("#searchbar", "Bob")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=Bob**")
    assert page.locator("#result_list tbody tr").count() == 2  # one page of many
    button = page.locator("a.streamkit-export-csv")
    assert button.inner_text().strip() == "Export CSV"
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "orders.csv"
    rows = read(download)
    # The changelist's columns, as it shows them.
    assert rows[0] == ["Number", "Customer", "Status", "Total", "Gift", "Summary"]
    assert [row[0] for row in rows[1:]] == expected("paid", "Bob")
    assert {(row[1], row[2]) for row in rows[1:]} == {("Bob", "Paid")}
    assert rows[1][5] == f"{rows[1][0]}: {rows[1][3]}"


def test_the_action_downloads_the_ticked_rows(page: Page) -> None:
    page.goto("/admin/testapp/order/?status__exact=shipped")
    boxes = page.locator("#result_list input.action-select")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.select_option("select[name=action]", "export_as_csv")
    with page.expect_download() as info:
        page.click("button[name=index]")
    rows = read(info.value)
    assert [row[0] for row in rows[1:]] == expected("shipped")[:2]


def test_the_export_index_offers_and_downloads_a_filtered_export(
    page: Page, server: Server
) -> None:
    page.goto("/exports/")
    assert page.title() == "Exports"
    card = page.locator("#export-testapp-order")
    assert card.locator("h2").inner_text() == "Orders"
    assert page.locator("#export-paid-orders h2").inner_text() == "Paid orders"
    card.locator("select[name=status]").select_option("new")
    card.locator("input[name=created__gte]").fill("2024-02-01")
    with page.expect_download() as info:
        card.locator("button.download-csv").click()
    download = info.value
    assert download.suggested_filename == "orders.csv"
    assert "status=new" in download.url
    assert "created__gte=2024-02-01" in download.url
    rows = read(download)
    assert rows[0] == ["Number", "Customer", "Status", "Total", "Created"]
    # 2024-02-01 is hour 744 after New Year.
    assert [row[0] for row in rows[1:]] == expected("new", since_hour=744)
