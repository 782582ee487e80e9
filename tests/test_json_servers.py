"""Streamed JSON through real servers: gunicorn (sync worker) and uvicorn.

Only a real client on a real server shows what a mid-stream encoding error
looks like on the wire (an incomplete transfer, never a closed array), that
an error in the first item is a 500, that a client going away closes the
source, and that a slow source's JSON Lines arrive as they are made.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import Server, serve

pytestmark = pytest.mark.server

KINDS = ["sync", "async"]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as running:
        yield running


@pytest.mark.parametrize("lines", ["", "1"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_item_after_the_first_byte_aborts_the_transfer(
    server: Server, kind: str, lines: str
) -> None:
    url = f"{server.url}/json/{kind}/items.json?n=300000&at=200000&lines={lines}"
    pieces: list[bytes] = []
    with httpx.stream("GET", url, timeout=60) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        with pytest.raises(httpx.RemoteProtocolError):
            pieces.extend(chunks)
    received = b"".join(pieces)
    assert received.startswith(b'[{"id":0,' if not lines else b'{"id":0,')
    assert len(received) > 100_000, "the first items were sent"
    # Never a document that ends as a whole one would.
    assert not received.rstrip().endswith(b"]")
    if lines:
        complete = received[: received.rfind(b"\n")].split(b"\n")
        assert [json.loads(line)["id"] for line in complete] == list(
            range(len(complete))
        )
    deadline = time.monotonic() + 5
    while "Item 200000 of the JSON stream" not in server.log_text():
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.05)
    assert "Error while streaming" in server.log_text()


@pytest.mark.parametrize("path", ["sync/items.json", "async-view/items.json"])
def test_a_bad_first_item_is_a_500(server: Server, path: str) -> None:
    if path.startswith("async") and server.kind != "uvicorn":
        # Under WSGI an async view's loop ends when it returns, so its async
        # source can't be primed there: that case aborts instead (above).
        path = "sync/items.json"
    response = httpx.get(f"{server.url}/json/{path}?at=0", timeout=30)
    assert response.status_code == 500
    assert "Unencodable" not in response.text  # DEBUG is off


@pytest.mark.parametrize("lines", ["", "1"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_client_that_leaves_closes_the_source(
    server: Server, kind: str, lines: str
) -> None:
    token = uuid.uuid4().hex
    url = f"{server.url}/json/{kind}/endless.json?token={token}&lines={lines}"
    with httpx.stream("GET", url, timeout=30) as response:
        seen = b""
        for chunk in response.iter_raw():
            seen += chunk
            if seen.count(b"}") >= 3:
                break
    assert server.wait_for_marker(token, timeout=5), "the source still runs"


@pytest.mark.parametrize("kind", [*KINDS, "drf"])
def test_slow_json_lines_arrive_as_they_are_made(server: Server, kind: str) -> None:
    url = f"{server.url}/paced/ndjson?kind={kind}&mode=slow"
    if kind == "drf":  # DRF's list, serialised slowly, streamed by the mixin
        url = f"{server.url}/json/drf/slow?format=ndjson"
    waits = []
    arrivals = set()
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        pending = b""
        for chunk in response.iter_raw():
            arrived = time.time()
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                value = json.loads(line)
                row, made = (value["n"], value["made"]) if kind == "drf" else value
                waits.append((row, arrived - float(made)))
                arrivals.add(arrived)
    assert [row for row, _ in waits] == list(range(40))
    assert max(wait for _, wait in waits) < 1.0
    assert len(arrivals) >= 8, "sent in many chunks over two seconds"
