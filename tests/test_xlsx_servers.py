"""Streamed workbooks through real servers: latency through the ZIP
compressor, errors after the first byte, and clients that leave.

gunicorn (sync worker) and uvicorn serve ``tests.support.server_settings_pg``
(the seeded 1,000,000-row Record table on PostgreSQL). The client inflates the
worksheet as its bytes arrive, so it sees each row when the server's deflate
stream gives it up, which is what a held-back compressor would delay.
"""

from __future__ import annotations

import io
import re
import time
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import openpyxl
import pytest

from tests.support.pgserver import leave_mid_stream, pg_server
from tests.support.servers import Server
from tests.support.views import PAUSE

pytestmark = [pytest.mark.server, pytest.mark.postgres]

ROW = re.compile(
    rb"<row><c><v>(\d+)</v></c><c t=\"inlineStr\"><is><t[^>]*>([\d.]+)</t>"
)
SHEET = b"xl/worksheets/sheet1.xml"
SLACK = 1.0  # as in tests/test_latency_servers.py


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, str]]:
    with pg_server(request.param, "streamkit-xlsx") as running:
        yield running


class SheetReader:
    """The first worksheet's rows as its ZIP bytes arrive (deflated, after its
    local header; each chunk inflated as far as it goes)."""

    def __init__(self) -> None:
        self.data = b""
        self.xml = b""
        self._inflate: Any = None

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        if self._inflate is None:
            start = self.data.find(b"PK\x03\x04")
            while start != -1 and not self.data[start + 30 :].startswith(SHEET):
                start = self.data.find(b"PK\x03\x04", start + 4)
            if start == -1 or len(self.data) < start + 30 + len(SHEET):
                return
            name = int.from_bytes(self.data[start + 26 : start + 28], "little")
            extra = int.from_bytes(self.data[start + 28 : start + 30], "little")
            if len(self.data) < start + 30 + name + extra:
                return
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            chunk = self.data[start + 30 + name + extra :]
        self.xml += self._inflate.decompress(chunk)


def read_rows(url: str) -> list[tuple[int, float, float]]:
    """(row, when the server made it, when its bytes arrived) for each row."""
    reader, rows, seen = SheetReader(), [], set()
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            arrived = time.time()
            reader.feed(chunk)
            for n, made in ROW.findall(reader.xml):
                if int(n) not in seen:
                    seen.add(int(n))
                    rows.append((int(n), float(made), arrived))
    book = openpyxl.load_workbook(io.BytesIO(reader.data))
    assert [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)] == [
        n for n, _, _ in rows
    ]
    return rows


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_slow_rows_leave_the_compressor_as_they_are_made(
    server: tuple[Server, str], kind: str
) -> None:
    running, _ = server
    rows = read_rows(f"{running.url}/xlsx/paced.xlsx?kind={kind}&mode=slow")
    assert [row for row, _, _ in rows] == list(range(40))
    waits = [arrived - made for _, made, arrived in rows]
    assert max(waits) < SLACK, f"a row waited {max(waits):.2f}s"
    assert len({arrived for _, _, arrived in rows}) >= 8


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_rows_made_before_a_pause_arrive_during_it(
    server: tuple[Server, str], kind: str
) -> None:
    running, _ = server
    rows = read_rows(f"{running.url}/xlsx/paced.xlsx?kind={kind}&mode=pause")
    assert [row for row, _, _ in rows] == list(range(8))
    before = [(made, arrived) for row, made, arrived in rows if row < 3]
    resumed = min(made for row, made, _ in rows if row >= 3)
    assert resumed - max(made for made, _ in before) >= PAUSE - 0.1, "it paused"
    for made, arrived in before:
        assert arrived - made < SLACK
        assert arrived < resumed, "a row made before the pause waited for its end"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_client_that_leaves_closes_the_source(
    server: tuple[Server, str], kind: str
) -> None:
    running, _ = server
    token = uuid.uuid4().hex
    url = f"{running.url}/xlsx/paced.xlsx?kind={kind}&mode=endless&token={token}"
    reader = SheetReader()
    with httpx.stream("GET", url, timeout=30) as response:
        for chunk in response.iter_raw():
            reader.feed(chunk)
            if reader.xml.count(b"</row>") >= 3:
                break
    assert running.wait_for_marker(token, timeout=5), "the source still runs"


def test_an_error_after_the_first_byte_aborts_the_transfer(
    server: tuple[Server, str],
) -> None:
    running, _ = server
    token = uuid.uuid4().hex
    url = f"{running.url}/xlsx/failing.xlsx?at=3000&token={token}"
    received = bytearray()

    def download() -> None:
        with httpx.stream("GET", url, timeout=30) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received.extend(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        download()
    assert received.startswith(b"PK\x03\x04")
    # What arrived has no central directory: no client takes it for a file.
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bytes(received)))
    assert running.wait_for_marker(token, timeout=5)
    deadline = time.monotonic() + 5
    while "ValueError: bad row 3000" not in running.log_text():
        assert time.monotonic() < deadline, "the error was not logged"
        time.sleep(0.1)


def test_an_error_in_the_first_row_is_a_500(server: tuple[Server, str]) -> None:
    running, _ = server
    response = httpx.get(f"{running.url}/xlsx/too-long.xlsx?at=0", timeout=30)
    assert response.status_code == 500


def test_a_client_that_leaves_a_queryset_export_releases_its_cursor(
    server: tuple[Server, str],
) -> None:
    running, app = server
    leave_mid_stream(f"{running.url}/xlsx/records.xlsx", app)
    after = httpx.get(f"{running.url}/xlsx/records.xlsx?n=10", timeout=30)
    book = openpyxl.load_workbook(io.BytesIO(after.content))
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 11
    assert [row[0] for row in rows[1:]] == list(range(1, 11))


def test_a_large_workbook_streams_with_flat_memory(server: tuple[Server, str]) -> None:
    running, _ = server
    url = f"{running.url}/xlsx/records.xlsx?n=150000"
    httpx.get(f"{running.url}/xlsx/records.xlsx?n=3", timeout=60)  # warm up
    baseline = running.reset_peak_rss()
    data = bytearray()
    with httpx.stream("GET", url, timeout=120) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            data.extend(chunk)
    growth = running.peak_rss() - baseline
    # The file itself (several MiB) is held by the client, not the server.
    assert growth < 30 * 1024 * 1024, f"peak RSS grew {growth / 2**20:.1f} MiB"
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    sheet = archive.read("xl/worksheets/sheet1.xml")
    assert sheet.count(b"</row>") == 150_001
