"""Through Debian's nginx, with its default proxy buffering on."""

from __future__ import annotations

import gzip as gzip_module
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import Server, nginx_in_front, serve
from tests.support.views import PAUSE

pytestmark = [pytest.mark.server, pytest.mark.matrix]


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def upstream(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(request.param) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(upstream: Server) -> Iterator[str]:
    with nginx_in_front(upstream) as url:
        yield url


@pytest.fixture(scope="module")
def gzip_proxy(upstream: Server) -> Iterator[str]:
    with nginx_in_front(upstream, gzip=True) as url:
        yield url


def first_byte_and_body(
    url: str, **headers: str
) -> tuple[float, float, bytes, httpx.Headers]:
    """Read the whole body (so a one-worker server is free for the next test)."""
    start = time.monotonic()
    first = None
    body = b""
    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            if chunk and first is None:
                first = time.monotonic() - start
            body += chunk
    return first or float("inf"), time.monotonic() - start, body, response.headers


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_first_bytes_pass_through_nginx_early(proxy: str, kind: str) -> None:
    first, total, body, _ = first_byte_and_body(f"{proxy}/core/slow?kind={kind}")
    assert first < 1.5, f"first bytes after {first:.2f}s through nginx"
    assert total >= PAUSE
    assert body.count(b"\n") == 20


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_nginx_gzip_does_not_hold_chunks_back(gzip_proxy: str, kind: str) -> None:
    url = f"{gzip_proxy}/core/slow?kind={kind}"
    first, total, body, headers = first_byte_and_body(
        url, **{"Accept-Encoding": "gzip"}
    )
    assert headers["content-encoding"] == "gzip"
    assert first < 1.5, f"first gzip bytes after {first:.2f}s through nginx"
    assert total >= PAUSE
    assert gzip_module.decompress(body).count(b"\n") == 20


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_mid_stream_error_is_still_an_incomplete_transfer(
    proxy: str, kind: str
) -> None:
    received: list[int] = []
    with httpx.stream(
        "GET", f"{proxy}/core/fail?kind={kind}&n=200000", timeout=30
    ) as r:
        assert r.status_code == 200
        chunks = r.iter_raw()
        with pytest.raises(httpx.RemoteProtocolError):
            received.extend(len(chunk) for chunk in chunks)
    assert sum(received) > 65536
