"""The latency bound and the end of a stream, through every layer that can
hold bytes back (the core, CSV, templates, JSON), on real servers (gunicorn's
sync worker, uvicorn, runserver).

A row made slowly, or just before the source blocks, must reach the client
within about ``STREAMKIT_MAX_LATENCY`` (0.1 s here), not when a chunk fills
or the pause ends; a client that leaves must close the source within 5 s;
and an async source of any shape must end in a complete body.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import Server, serve
from tests.support.views import PAUSE

pytestmark = [pytest.mark.server, pytest.mark.matrix]

LAYERS = ["core", "csv", "template", "json"]
KINDS = ["sync", "async"]
ROW = re.compile(rb"^(\d+),(\d+\.\d+)\r?$")
# An item of the JSON array [[0,"<made>"],[1,"<made>"], cut at each "]".
JSON_ROW = re.compile(rb'^[\[,]?\[(\d+),"(\d+\.\d+)"$')
# Generous for a loaded 2-core machine, and far below what a held chunk costs
# (a row every 50 ms fills a 64 KiB chunk in minutes; the pause is PAUSE, 2 s).
SLACK = 1.0


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn", "runserver"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as running:
        yield running


def row_end(layer: str) -> bytes:
    return b"]" if layer == "json" else b"\n"


def read_rows(url: str, layer: str) -> list[tuple[int, float, float]]:
    """(row, when the server made it, when it arrived) for each row."""
    rows = []
    end, pattern = row_end(layer), JSON_ROW if layer == "json" else ROW
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        pending = b""
        for chunk in response.iter_raw():
            arrived = time.time()
            *lines, pending = (pending + chunk).split(end)
            for line in lines:
                if match := pattern.match(line):
                    rows.append((int(match[1]), float(match[2]), arrived))
    return rows


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layer", LAYERS)
def test_slow_rows_arrive_as_they_are_made(
    server: Server, layer: str, kind: str
) -> None:
    rows = read_rows(f"{server.url}/paced/{layer}?kind={kind}&mode=slow", layer)
    assert [row for row, _, _ in rows] == list(range(40))
    waits = [arrived - made for _, made, arrived in rows]
    assert max(waits) < SLACK, f"a row waited {max(waits):.2f}s"
    # Sent in many small chunks over the two seconds, not in one at the end.
    assert len({arrived for _, _, arrived in rows}) >= 8


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layer", LAYERS)
def test_rows_made_before_a_pause_arrive_during_it(
    server: Server, layer: str, kind: str
) -> None:
    rows = read_rows(f"{server.url}/paced/{layer}?kind={kind}&mode=pause", layer)
    assert [row for row, _, _ in rows] == list(range(8))
    before = [(made, arrived) for row, made, arrived in rows if row < 3]
    resumed = min(made for row, made, _ in rows if row >= 3)
    assert resumed - max(made for made, _ in before) >= PAUSE - 0.1, "it paused"
    for made, arrived in before:
        assert arrived - made < SLACK
        assert arrived < resumed, "a row made before the pause waited for its end"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layer", LAYERS)
def test_a_client_that_leaves_a_slow_stream_closes_the_source(
    server: Server, layer: str, kind: str
) -> None:
    token = uuid.uuid4().hex
    url = f"{server.url}/paced/{layer}?kind={kind}&mode=endless&token={token}"
    with httpx.stream("GET", url, timeout=30) as response:
        seen = b""
        for chunk in response.iter_raw():
            seen += chunk
            if seen.count(row_end(layer)) >= 3:
                break
    assert server.wait_for_marker(token, timeout=5), "the source still runs"


SHAPES = ["await-after-last-yield", "early-return", "await-in-finally"]
SHAPES += ["iterator-class"]


@pytest.mark.parametrize("wrap", ["", "1"])
@pytest.mark.parametrize("view", ["function", "async-function", "view"])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_async_source_shape_ends_in_a_complete_body(
    server: Server, shape: str, view: str, wrap: str
) -> None:
    url = f"{server.url}/paced/shape/{view}/{shape}?wrap={wrap}"
    # A body cut short raises RemoteProtocolError here.
    response = httpx.get(url, timeout=20)
    assert response.status_code == 200
    assert response.text == "0\n1\n2\n"
    assert "Error while streaming" not in server.log_text()
