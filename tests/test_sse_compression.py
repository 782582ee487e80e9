"""No compression holds an event back, on real servers, for a client that
accepts gzip: Django's GZipMiddleware (whose sync compressor never flushes
before Django 6.1), streamkit's, and nginx in front with its default proxy
buffering and ``gzip on`` for ``text/event-stream``. A slow source's events
each arrive when made, uncompressed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.servers import Server, nginx_in_front, serve

pytestmark = [pytest.mark.server]

SLACK = 0.25


@pytest.fixture(
    scope="module",
    params=[
        ("gunicorn", "django"),
        ("uvicorn", "streamkit"),
        ("gunicorn", "streamkit"),
    ],
    ids=lambda param: "-".join(param),
)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    kind, middleware = request.param
    with serve(kind, extra_env={"STREAMKIT_TEST_GZIP": middleware}) as running:
        yield running


def arrivals(url: str) -> list[float]:
    """How long after it was made each event arrived."""
    waits = []
    with (
        httpx.Client(timeout=10, headers={"Accept-Encoding": "gzip"}) as client,
        connect_sse(client, "GET", url) as source,
    ):
        assert source.response.headers["content-encoding"] == "identity"
        for event in source.iter_sse():
            waits.append(time.time() - float(event.data))
    return waits


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_no_gzip_middleware_holds_an_event(server: Server, kind: str) -> None:
    # Without the identity encoding, Django's sync compressor (before 6.1)
    # keeps these three small events in zlib's buffer until the end.
    waits = arrivals(f"{server.url}/sse/slow?kind={kind}&count=3&every=0.3")
    assert len(waits) == 3
    assert max(waits) < SLACK


def test_nginx_with_gzip_and_buffering_holds_no_event(server: Server) -> None:
    with nginx_in_front(server, gzip=True) as url:
        waits = arrivals(f"{url}/sse/slow?kind=sync&count=3&every=0.3")
    assert len(waits) == 3
    assert max(waits) < SLACK
