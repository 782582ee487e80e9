"""ASGIStreamingMiddleware: other apps' streamed responses stream under ASGI.

Real servers: uvicorn serves a 100 MiB ``FileResponse`` with flat memory and
early first bytes (and, without the middleware, the same response is
collected whole, which is what the middleware fixes); gunicorn shows the one
case that can't stream logged with the view's name and the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from django_streamkit import StreamingResponse
from django_streamkit.middleware import ASGIStreamingMiddleware
from tests.support.servers import Server, serve

MIB = 1 << 20
SETTINGS = "tests.support.matrix_settings"


@pytest.fixture(scope="module")
def uvicorn() -> Iterator[Server]:
    with serve("uvicorn", settings=SETTINGS) as running:
        yield running


def _download(url: str) -> tuple[int, float]:
    start = time.monotonic()
    first_at = 0.0
    size = 0
    with httpx.stream("GET", url, timeout=60) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            if chunk and not size:
                first_at = time.monotonic() - start
            size += len(chunk)
    return size, first_at


@pytest.mark.server
def test_a_large_file_response_streams_with_flat_memory(uvicorn: Server) -> None:
    _download(f"{uvicorn.url}/matrix/file/1")  # warm up: imports, the file
    before = uvicorn.reset_peak_rss()
    size, first_at = _download(f"{uvicorn.url}/matrix/file/100")
    growth = uvicorn.peak_rss() - before
    assert size == 100 * MIB
    assert first_at < 1.0, f"first bytes after {first_at:.2f}s"
    assert growth < 30 * MIB, f"RSS grew {growth / MIB:.0f} MiB"


@pytest.mark.server
def test_without_the_middleware_django_collects_the_file_whole() -> None:
    # What the middleware fixes, on the same server: the check above can fail.
    with serve("uvicorn") as bare:
        _download(f"{bare.url}/matrix/file/1")
        before = bare.reset_peak_rss()
        size, _ = _download(f"{bare.url}/matrix/file/100")
        growth = bare.peak_rss() - before
    assert size == 100 * MIB
    assert growth > 90 * MIB, f"RSS grew only {growth / MIB:.0f} MiB"


@pytest.mark.server
def test_a_stepped_response_is_closed_when_the_client_leaves(uvicorn: Server) -> None:
    token = uuid.uuid4().hex
    url = f"{uvicorn.url}/matrix/plain/endless?token={token}"
    with httpx.stream("GET", url, timeout=10) as response:
        for chunk in response.iter_raw():
            if chunk:
                break
    assert uvicorn.wait_for_marker(token, 5), "the generator's finally never ran"


@pytest.mark.server
@pytest.mark.parametrize("mode", ["slow", "pause"])
def test_a_slow_sync_source_arrives_as_it_is_made(uvicorn: Server, mode: str) -> None:
    # Django's own StreamingHttpResponse over a generator making a row every
    # 50 ms, or 3 rows then a 2 s pause: without the middleware, Django's
    # ASGI handler collects it whole, so every row waits for the end.
    url = f"{uvicorn.url}/paced/plain?kind=sync&mode={mode}"
    rows = []
    with httpx.stream("GET", url, timeout=30) as response:
        pending = b""
        for chunk in response.iter_raw():
            arrived = time.time()
            *lines, pending = (pending + chunk).split(b"\n")
            rows += [(int(n), float(made), arrived) for n, made in map(_row, lines)]
    assert [n for n, _, _ in rows] == list(range(40 if mode == "slow" else 8))
    if mode == "slow":
        assert max(arrived - made for _, made, arrived in rows) < 1.0
        assert len({arrived for _, _, arrived in rows}) >= 8
    else:
        resumed = min(made for n, made, _ in rows if n >= 3)
        assert all(arrived < resumed for n, _, arrived in rows if n < 3)


def _row(line: bytes) -> tuple[str, str]:
    n, made = line.decode().split(",")
    return n, made


@pytest.mark.server
def test_an_async_source_forced_whole_under_wsgi_names_the_view() -> None:
    with serve("gunicorn", settings=SETTINGS) as gunicorn:
        response = httpx.get(f"{gunicorn.url}/matrix/plain-async", timeout=20)
        log = gunicorn.log_text() + gunicorn.output.read_text()
    assert response.status_code == 200
    assert response.text.count("\n") == 1000  # collected, as Django does
    assert "'tests.support.matrix_views.plain_async' (GET /matrix/plain-async)" in log
    assert "ASGI server" in log
    assert "StreamingResponse" in log
    # Instead of Django's anonymous warning, not as well as it.
    assert "must consume asynchronous iterators" not in log


# -- what it leaves alone -----------------------------------------------------


def _through(response: HttpResponse | StreamingHttpResponse) -> object:
    request = RequestFactory().get("/")
    middleware = ASGIStreamingMiddleware(lambda request: response)
    return middleware(request)


def test_under_wsgi_a_sync_stream_is_left_as_it_is() -> None:
    source = iter([b"a", b"b"])
    response = StreamingHttpResponse(source)
    assert _through(response) is response
    assert response._iterator is source  # type: ignore[attr-defined]
    assert not response.is_async
    assert b"".join(response) == b"ab"


def test_ordinary_and_streamkit_responses_are_left_alone() -> None:
    plain = HttpResponse(b"x")
    assert _through(plain) is plain
    ours = StreamingResponse([b"x"])
    assert _through(ours) is ours
    assert not ours.is_async


def test_under_asgi_a_file_response_becomes_async_and_keeps_its_bytes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 1000)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 80),
    }
    response = FileResponse(path.open("rb"))

    async def get_response(request: HttpRequest) -> FileResponse:
        return response

    async def serve_it() -> bytes:
        request = ASGIRequest(scope, io.BytesIO())
        result = await ASGIStreamingMiddleware(get_response)(request)  # type: ignore[misc]
        assert result is response
        assert response.is_async
        return b"".join([part async for part in response])

    body = asyncio.run(serve_it())
    response.close()
    assert body == path.read_bytes()
    assert response["Content-Length"] == str(len(body))


def test_under_asgi_str_pieces_keep_the_responses_charset() -> None:
    response = StreamingHttpResponse(iter(["café ", "déjà"]), charset="latin-1")

    async def get_response(request: HttpRequest) -> StreamingHttpResponse:
        return response

    async def serve_it() -> bytes:
        request = ASGIRequest(_scope(), io.BytesIO())
        await ASGIStreamingMiddleware(get_response)(request)  # type: ignore[misc]
        return b"".join([part async for part in response])

    assert asyncio.run(serve_it()) == "café déjà".encode("latin-1")
    assert response["Content-Type"] == "text/html; charset=latin-1"


def _scope() -> dict[str, object]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [],
        "server": ("127.0.0.1", 80),
    }


@pytest.mark.server
def test_a_file_response_left_mid_body_closes_its_file(uvicorn: Server) -> None:
    _download(f"{uvicorn.url}/matrix/file/100")  # the file exists
    path = "streamkit-big-100.bin"
    with httpx.stream("GET", f"{uvicorn.url}/matrix/file/100", timeout=10) as r:
        for chunk in r.iter_raw():
            if chunk:
                break
        assert _open_files(uvicorn, path), "the file is open while it is sent"
    deadline = time.monotonic() + 5
    while _open_files(uvicorn, path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _open_files(uvicorn, path), "the file stayed open after the client left"


def _open_files(server: Server, name: str) -> list[str]:
    found = []
    for fd in Path(f"/proc/{server.serving_pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.endswith(name):
            found.append(target)
    return found


def test_a_stepped_file_response_closes_its_file_when_left(tmp_path: Path) -> None:
    # As on a disconnect: the body is left after its first chunk, and
    # Django's ASGI handler doesn't call response.close(). Holding the file
    # here keeps the garbage collector from closing it instead.
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * (4 * MIB))
    file = path.open("rb")
    response = FileResponse(file)

    async def get_response(request: HttpRequest) -> FileResponse:
        return response

    async def leave_it() -> int:
        request = ASGIRequest(_scope(), io.BytesIO())
        await ASGIStreamingMiddleware(get_response)(request)  # type: ignore[misc]
        first = asyncio.Event()
        sent = 0

        async def send() -> None:  # Django's handler cancels this on a disconnect
            nonlocal sent
            async for part in response:
                sent += len(part)
                first.set()
                await asyncio.sleep(10)

        task = asyncio.create_task(send())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return sent

    assert 0 < asyncio.run(leave_it()) < 4 * MIB
    deadline = time.monotonic() + 5
    while not file.closed and time.monotonic() < deadline:
        time.sleep(0.01)  # the relay closes it on its producer thread
    assert file.closed
