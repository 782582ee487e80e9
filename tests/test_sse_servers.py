"""Event streams on real servers (gunicorn sync and gthread, uvicorn,
runserver), sync and async sources, through a real SSE client (httpx-sse):

- an event leaves when it is made, the first one included (a slow source is
  not waited for, nor are its events held for coalescing);
- ``: ping`` comments go out while a sync source is blocked in one call (and
  while an async one awaits);
- a client that leaves during silence gets its source closed within 5 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.servers import Server, serve

pytestmark = [pytest.mark.server]

KINDS = ["sync", "async"]
# Generous for a loaded 2-core machine, far below a held event (0.3 s apart).
SLACK = 0.25


@pytest.fixture(
    scope="module",
    params=[
        "gunicorn",
        "uvicorn",
        pytest.param("gthread", marks=pytest.mark.matrix),
        pytest.param("runserver", marks=pytest.mark.matrix),
    ],
)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as running:
        yield running


@pytest.mark.parametrize("kind", KINDS)
def test_each_event_arrives_when_it_is_made(server: Server, kind: str) -> None:
    url = f"{server.url}/sse/slow?kind={kind}&count=3&every=0.3"
    started = time.time()
    arrivals = []
    with httpx.Client(timeout=10) as client, connect_sse(client, "GET", url) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for event in source.iter_sse():
            arrivals.append((float(event.data), time.time(), event.id))
    assert [event_id for _, _, event_id in arrivals] == ["0", "1", "2"]
    for made, arrived, _ in arrivals:
        assert arrived - made < SLACK
    # The first event was made 0.3 s in, the last 0.9 s: not sent together.
    assert arrivals[0][1] - started < 0.3 + SLACK + 0.5
    assert arrivals[2][1] - arrivals[0][1] > 0.4


@pytest.mark.parametrize("kind", KINDS)
def test_pings_while_the_source_is_blocked(server: Server, kind: str) -> None:
    token = uuid.uuid4().hex
    url = f"{server.url}/sse/blocked?kind={kind}&seconds=1.6&token={token}"
    started = time.monotonic()
    pings = []
    seen = b""
    with httpx.stream("GET", url, timeout=10) as response:
        for chunk in response.iter_raw():
            seen += chunk
            if b": ping" in chunk:
                pings.append(time.monotonic() - started)
            if b"after the block" in seen:
                break
    # ping=0.3: a ping each 0.3-0.45 s during the 1.6 s block, not after it.
    assert len(pings) >= 2, seen
    assert pings[0] < 1.0
    assert seen.endswith(b"data: after the block\n\n")


@pytest.mark.parametrize("kind", KINDS)
def test_a_client_that_leaves_during_silence_closes_the_source(
    server: Server, kind: str
) -> None:
    token = uuid.uuid4().hex
    url = f"{server.url}/sse/silent?kind={kind}&token={token}"
    with httpx.Client(timeout=10) as client, connect_sse(client, "GET", url) as source:
        for event in source.iter_sse():
            if event.data:  # httpx-sse dispatches the retry: block, browsers don't
                assert event.data == "hello"
                # Stay through a silent second, so the server is waiting for
                # the source when the client goes (under ASGI a sync source's
                # step is then in flight on the request's worker thread).
                time.sleep(1)
                break
    left = time.monotonic()
    assert server.wait_for_marker(token, timeout=5), "the source still runs"
    # Nothing was written meanwhile (ping=30): the server found out by itself.
    assert time.monotonic() - left < 5


def test_a_non_ascii_last_event_id_comes_back_as_sent(server: Server) -> None:
    sent = "commande-é-東京"
    # As a browser sends it: the id's UTF-8 bytes.
    headers = {"Last-Event-ID": sent.encode()}
    with (
        httpx.Client(timeout=10) as client,
        connect_sse(
            client, "GET", f"{server.url}/sse/echo-id", headers=headers
        ) as source,
    ):
        data = [event.data for event in source.iter_sse() if event.data]
    assert data == [sent]


@pytest.mark.parametrize("kind", KINDS)
def test_head_to_a_function_view_never_starts_the_source(
    server: Server, kind: str
) -> None:
    token = uuid.uuid4().hex
    url = f"{server.url}/sse/probed?kind={kind}&token={token}"
    with httpx.Client(timeout=10) as client:
        got = client.get(f"{url}x")
        head = client.head(url)
    assert server.wait_for_marker(f"{token}x", timeout=5), "GET starts it"
    assert head.status_code == 200
    assert head.content == b""
    # The GET's headers, the framing header aside (no body, so no chunks).
    for name in ("content-type", "cache-control", "content-encoding"):
        assert head.headers[name] == got.headers[name]
    # Servers read a HEAD body to its end: the source would have run (and
    # held the worker for as long as it runs) had it been started.
    time.sleep(0.5)
    assert not (server.markers / token).exists(), "HEAD started the source"
