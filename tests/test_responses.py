"""StreamingResponse under Django's test client, WSGI and a bare ASGI handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.http import StreamingHttpResponse
from django.test import Client, override_settings

from django_streamkit import StreamingResponse


class Source:
    """An iterator that records what was done to it."""

    def __init__(self, pieces: list[Any], fail_at: int = -1) -> None:
        self.pieces = pieces
        self.fail_at = fail_at
        self.position = 0
        self.close_calls = 0

    def __iter__(self) -> Source:
        return self

    def __next__(self) -> Any:
        if self.position == self.fail_at:
            raise ValueError(f"source failed at {self.position}")
        if self.position >= len(self.pieces):
            raise StopIteration
        self.position += 1
        return self.pieces[self.position - 1]

    def close(self) -> None:
        self.close_calls += 1


def test_joins_small_pieces_into_chunks_first_piece_alone() -> None:
    response = StreamingResponse((f"{i:09d}\n" for i in range(10_000)), chunk_size=1000)
    chunks = list(response)
    assert chunks[0] == b"000000000\n"
    # Each chunk is as full as whole pieces allow, and never over chunk_size.
    assert all(990 <= len(chunk) <= 1000 for chunk in chunks[1:-1])
    assert len(chunks[-1]) <= 1000
    assert b"".join(chunks) == "".join(f"{i:09d}\n" for i in range(10_000)).encode()


def test_mixed_str_bytes_memoryview_and_encoding() -> None:
    response = StreamingResponse(
        ["é", b"\xc3\xa9", memoryview(b"!"), ""], content_type="text/plain"
    )
    assert b"".join(response) == "éé!".encode()
    latin = StreamingResponse(["é"], content_type="text/plain; charset=latin-1")
    assert b"".join(latin) == b"\xe9"


def test_defaults_come_from_settings_read_live() -> None:
    with override_settings(STREAMKIT_CHUNK_SIZE=10):
        response = StreamingResponse([b"a"] + [b"12345"] * 10)
    assert response.chunk_size == 10
    assert [len(c) for c in response] == [1, 10, 10, 10, 10, 10]


def test_latency_flushes_a_slow_but_steady_source() -> None:
    import time

    def slow() -> Iterator[bytes]:
        for _ in range(6):
            time.sleep(0.03)
            yield b"x"

    with override_settings(STREAMKIT_MAX_LATENCY=0.05):
        response = StreamingResponse(slow(), chunk_size=1 << 20)
    chunks = list(response)
    # Without the latency bound the five pieces after the first would be one chunk.
    assert len(chunks) > 2
    assert b"".join(chunks) == b"x" * 6


def test_sends_x_accel_buffering_and_keeps_user_headers() -> None:
    response = StreamingResponse([b"x"], headers={"X-Accel-Buffering": "yes", "A": "b"})
    assert response["X-Accel-Buffering"] == "yes"
    assert StreamingResponse([b"x"])["X-Accel-Buffering"] == "no"
    assert response["A"] == "b"


@pytest.mark.parametrize("bad", [0, -5, 1.5, "64k", True])
def test_bad_chunk_size_is_named(bad: object) -> None:
    with pytest.raises(
        ValueError, match=r"chunk_size must be a positive number"
    ) as info:
        StreamingResponse([b"x"], chunk_size=bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [42, None, "text", b"bytes"])
def test_non_iterable_content_is_a_type_error_naming_it(bad: object) -> None:
    with pytest.raises(TypeError, match="must be an iterable") as info:
        StreamingResponse(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)


def test_sync_source_is_primed_so_early_errors_raise_from_the_view() -> None:
    source = Source([b"a"], fail_at=0)
    with pytest.raises(ValueError, match="source failed at 0"):
        StreamingResponse(source)
    assert source.close_calls == 1


def test_primed_first_piece_is_not_lost_or_repeated() -> None:
    source = Source([b"a", b"b", b"c"])
    response = StreamingResponse(source)
    assert source.position == 1
    assert b"".join(response) == b"abc"


def test_close_runs_once_on_completion_and_on_abandon() -> None:
    done = Source([b"a", b"b"])
    response = StreamingResponse(done)
    list(response)
    response.close()
    response.close()
    assert done.close_calls == 1

    abandoned = Source([b"a", b"b", b"c"])
    response = StreamingResponse(abandoned)
    iterator = iter(response)
    next(iterator)
    response.close()
    assert abandoned.close_calls == 1


def test_generator_finally_runs_on_close() -> None:
    events: list[str] = []

    def gen() -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            events.append("finally")

    response = StreamingResponse(gen())
    response.close()
    assert events == ["finally"]


def test_mid_stream_error_is_logged_and_reraised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Source([b"a", b"b", b"c"], fail_at=2)
    response = StreamingResponse(source)
    with (
        caplog.at_level(logging.ERROR, logger="django_streamkit"),
        pytest.raises(ValueError, match="source failed at 2"),
    ):
        list(response)
    (record,) = caplog.records
    assert record.name == "django_streamkit"
    assert record.exc_info is not None
    assert "after the response started" in record.getMessage()


def test_async_source_under_wsgi_is_driven_chunk_by_chunk() -> None:
    events: list[str] = []
    loops: set[int] = set()

    async def agen() -> AsyncIterator[str]:
        try:
            for i in range(5):
                loops.add(id(asyncio.get_running_loop()))
                await asyncio.sleep(0)
                yield f"{i};"
        finally:
            events.append("finally")

    response = StreamingResponse(agen())
    assert response.is_async
    iterator = iter(response)
    assert next(iterator) == b"0;"
    assert events == []
    assert b"".join(iterator) == b"1;2;3;4;"
    response.close()
    assert events == ["finally"]
    assert len(loops) == 1  # one event loop for the generator's whole life


def test_async_source_closed_when_abandoned_under_wsgi() -> None:
    events: list[str] = []

    async def agen() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
                await asyncio.sleep(0)
        finally:
            events.append("finally")

    response = StreamingResponse(agen())
    iterator = iter(response)
    next(iterator)
    response.close()
    assert events == ["finally"]


def test_async_source_error_under_wsgi_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def agen() -> AsyncIterator[bytes]:
        yield b"a"
        raise KeyError("late")

    response = StreamingResponse(agen())
    with (
        caplog.at_level(logging.ERROR, logger="django_streamkit"),
        pytest.raises(KeyError),
    ):
        list(response)
    assert caplog.records


def test_test_client_streams_sync_sources(client: Client) -> None:
    response = client.get("/core/rows?n=2000")
    assert isinstance(response, StreamingResponse)
    body = b"".join(response.streaming_content)
    assert body.count(b"\n") == 2000
    assert body.startswith(b"row 0000000,")


def test_error_in_the_first_piece_is_a_500(client: Client) -> None:
    client.raise_request_exception = False
    assert client.get("/core/early-fail?n=10").status_code == 500


def test_no_django_mismatch_warnings_are_emitted() -> None:
    # filterwarnings=error turns Django's "must consume ... iterators" warnings
    # into failures; iterate both kinds both ways.
    async def agen() -> AsyncIterator[bytes]:
        yield b"a"

    async def consume(response: StreamingHttpResponse) -> bytes:
        return b"".join([part async for part in response])

    assert b"".join(StreamingResponse(agen())) == b"a"
    assert asyncio.run(consume(StreamingResponse(iter([b"a"])))) == b"a"
    assert asyncio.run(consume(StreamingResponse(agen()))) == b"a"


# -- a bare ASGI handler, as uvicorn would drive it --------------------------


async def asgi_get(
    path: str, *, disconnect_after: int | None = None
) -> tuple[list[dict[str, Any]], BaseException | None]:
    """Run one request through Django's ASGIHandler; optionally disconnect
    after ``disconnect_after`` body messages."""
    messages: list[dict[str, Any]] = []
    disconnected = asyncio.Event()
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        bodies = [m for m in messages if m["type"] == "http.response.body"]
        if disconnect_after is not None and len(bodies) >= disconnect_after:
            disconnected.set()
        await asyncio.sleep(0)

    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    error: BaseException | None = None
    handler = _Handler()
    try:
        await asyncio.wait_for(handler(scope, receive, send), timeout=30)
    except Exception as exc:
        error = exc
    finally:
        for body in handler.bodies:
            body.close()
    return messages, error


class _Handler(ASGIHandler):
    """Django 5.2's handler leaves the request body file open when the response
    raises (6.0 closes it); close it here so the warning doesn't fail the suite."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[Any] = []

    async def read_body(self, receive: Any) -> Any:
        body = await super().read_body(receive)
        self.bodies.append(body)
        return body


def _body(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(
        m.get("body", b"") for m in messages if m["type"] == "http.response.body"
    )


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_asgi_streams_in_chunks_and_ends_cleanly(kind: str) -> None:
    messages, error = asyncio.run(asgi_get(f"/core/rows?kind={kind}&n=20000"))
    assert error is None
    body = _body(messages)
    assert body.count(b"\n") == 20000
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    # Coalesced: a few 64 KiB chunks, not one message per row.
    assert len(bodies) < 20
    assert bodies[-1].get("more_body", False) is False


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_asgi_mid_stream_error_is_raised_to_the_server(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django_streamkit"):
        messages, error = asyncio.run(asgi_get(f"/core/fail?kind={kind}&n=20000"))
    assert isinstance(error, RuntimeError)
    assert "boom mid-stream" in str(error)
    # No final, empty body message: the server sees no clean end.
    assert messages[-1].get("more_body") is True
    assert any(r.name == "django_streamkit" and r.exc_info for r in caplog.records)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_asgi_disconnect_runs_the_sources_finally(
    kind: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMKIT_TEST_MARKERS", str(tmp_path))
    with override_settings(STREAMKIT_MAX_LATENCY=0.01):
        messages, error = asyncio.run(
            asgi_get(f"/core/endless?kind={kind}&token=t", disconnect_after=3)
        )
    assert error is None
    assert (tmp_path / "t").read_text() == "closed"
    assert len([m for m in messages if m["type"] == "http.response.body"]) < 10


@pytest.mark.django_db
def test_a_queryset_is_read_in_chunks_not_through_its_cache() -> None:
    from tests.support.testapp.models import Row

    Row.objects.bulk_create(Row(name=f"n{i}", value=i) for i in range(50))
    queryset = Row.objects.order_by("value").values_list("name", flat=True)
    with override_settings(STREAMKIT_QUERYSET_CHUNK_SIZE=7):
        response = StreamingResponse(queryset)
    assert not response.is_async
    assert b"".join(response) == "".join(f"n{i}" for i in range(50)).encode()
    assert queryset._result_cache is None


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("text/plain", "text/plain; charset=utf-8"),
        ("text/csv", "text/csv; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        ("text/plain; charset=latin-1", "text/plain; charset=latin-1"),
        ("text/plain;Charset=UTF-8", "text/plain;Charset=UTF-8"),
        ("application/octet-stream", "application/octet-stream"),
        (None, "text/html; charset=utf-8"),
    ],
)
def test_text_says_its_charset(given: str | None, sent: str) -> None:
    response = StreamingResponse(["José"], content_type=given)
    assert response["Content-Type"] == sent
    assert b"".join(response) == "José".encode(response.charset)


def test_a_content_type_given_as_a_header_is_sent_as_it_is() -> None:
    response = StreamingResponse(["x"], headers={"Content-Type": "text/plain"})
    assert response["Content-Type"] == "text/plain"
