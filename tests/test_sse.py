"""EventStreamResponse and last_event_id, in process: the wire format of a
whole stream, heartbeats while a sync or async source is silent, None never
sent, the source closed between its waits, and errors naming the bad value."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from django.test import RequestFactory, override_settings
from httpx_sse._decoders import SSEDecoder

from django_streamkit import EventStreamResponse, ServerSentEvent, last_event_id
from django_streamkit._core.bridge import AsyncDriver


def parse(data: bytes) -> list[tuple[str, str, str]]:
    decoder = SSEDecoder()
    events = []
    for line in re.split(r"\r\n|\r|\n", data.decode())[:-1]:
        sse = decoder.decode(line)
        # httpx-sse dispatches a block with only retry:, browsers don't.
        if sse is not None and sse.data:
            events.append((sse.event, sse.data, sse.id))
    return events


def test_events_strings_and_values_on_the_wire() -> None:
    response = EventStreamResponse(
        [ServerSentEvent("hi", event="greet", id=1), "plain", {"n": 1}, None, [2]],
        retry=2000,
    )
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert response["Content-Encoding"] == "identity"
    body = b"".join(response)
    assert body.startswith(b"retry: 2000\n\n")
    assert parse(body) == [
        ("greet", "hi", "1"),
        ("message", "plain", "1"),  # the id carries over, as in a browser
        ("message", '{"n": 1}', "1"),
        ("message", "[2]", "1"),
    ]


def test_without_retry_the_head_is_an_empty_comment() -> None:
    assert b"".join(EventStreamResponse(["a"])) == b":\n\ndata: a\n\n"


def test_the_view_never_waits_for_a_first_event() -> None:
    read = threading.Event()

    def events() -> Iterator[str]:
        read.set()
        yield "late"

    response = EventStreamResponse(events())
    assert not read.is_set()
    assert b"".join(response) == b":\n\ndata: late\n\n"


def test_ping_while_a_sync_source_blocks_and_none_is_never_sent() -> None:
    def events() -> Iterator[str | None]:
        yield "first"
        for _ in range(8):  # 0.8 s of nothing new, polled every 0.1 s
            time.sleep(0.1)
            yield None
        yield "second"

    body = b"".join(EventStreamResponse(events(), ping=0.3))
    assert body.startswith(b":\n\ndata: first\n\n: ping\n\n")
    assert body.endswith(b"data: second\n\n")
    assert 1 <= body.count(b": ping\n\n") <= 3
    assert b"None" not in body


def test_ping_while_a_sync_source_blocks_in_one_call() -> None:
    def events() -> Iterator[str]:
        time.sleep(0.8)
        yield "done"

    started = time.monotonic()
    chunks = iter(EventStreamResponse(events(), ping=0.2))
    assert next(chunks) == b":\n\n"
    assert next(chunks) == b": ping\n\n"
    assert time.monotonic() - started < 0.6
    assert b"".join(chunks).endswith(b"data: done\n\n")


def test_ping_while_an_async_source_waits() -> None:
    async def events() -> AsyncIterator[str]:
        await asyncio.sleep(0.7)
        yield "done"

    body = b"".join(EventStreamResponse(events(), ping=0.2))
    assert body.startswith(b":\n\n: ping\n\n")
    assert body.endswith(b"data: done\n\n")


def test_a_closed_response_closes_a_polling_source_between_waits() -> None:
    closed = threading.Event()

    def events() -> Iterator[str | None]:
        try:
            yield "one"
            while True:
                time.sleep(0.05)
                yield None
        finally:
            closed.set()

    response = EventStreamResponse(events(), ping=10)
    chunks = iter(response)
    assert next(chunks) == b":\n\n"
    assert next(chunks) == b"data: one\n\n"
    started = time.monotonic()
    response.close()
    assert closed.wait(2)
    assert time.monotonic() - started < 1


def test_events_leave_one_by_one_from_a_slow_source() -> None:
    def events() -> Iterator[str]:
        for n in range(3):
            yield str(n)
            time.sleep(0.2)

    arrivals = []
    started = time.monotonic()
    for chunk in EventStreamResponse(events()):
        arrivals.append((time.monotonic() - started, chunk))
    assert [chunk for _, chunk in arrivals] == [
        b":\n\n",
        b"data: 0\n\n",
        b"data: 1\n\n",
        b"data: 2\n\n",
    ]
    # Each left before the source's next sleep ended, not with the next one.
    assert arrivals[2][0] - arrivals[1][0] > 0.1
    assert arrivals[3][0] - arrivals[2][0] > 0.1


@override_settings(STREAMKIT_SSE_PING=0.2)
def test_ping_default_is_the_setting() -> None:
    async def events() -> AsyncIterator[str]:
        await asyncio.sleep(0.35)
        yield "x"

    response = EventStreamResponse(events())
    assert response._feed.ping == 0.2
    driver = AsyncDriver(response.streaming_content, response._aclose)  # type: ignore[arg-type]
    assert b": ping\n\n" in b"".join(driver)


@pytest.mark.parametrize("ping", [0, -1, "15", True, float("inf")])
def test_bad_ping_names_the_value(ping: object) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(f"ping must be a positive number of seconds, not {ping!r}"),
    ):
        EventStreamResponse([], ping=ping)  # type: ignore[arg-type]


@pytest.mark.parametrize("retry", [-1, 1.5, "3000", True])
def test_bad_retry_names_the_value(retry: object) -> None:
    with pytest.raises(ValueError, match=re.escape(f"retry={retry!r}")):
        EventStreamResponse([], retry=retry)  # type: ignore[arg-type]


@pytest.mark.parametrize("events", ["text", b"bytes", 3, None])
def test_events_that_are_not_an_iterable(events: object) -> None:
    with pytest.raises(TypeError, match=re.escape(repr(events))):
        EventStreamResponse(events)  # type: ignore[arg-type]


def test_a_value_that_is_not_json_fails_the_stream_naming_it() -> None:
    response = EventStreamResponse([object()])
    with pytest.raises(ValueError, match="neither a str nor a value"):
        b"".join(response)


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"HTTP_LAST_EVENT_ID": "41"}, {"lastEventId": "7"}, "41"),
        ({}, {"lastEventId": "7"}, "7"),
        ({}, {}, None),
        ({"HTTP_LAST_EVENT_ID": ""}, {}, None),
    ],
)
def test_last_event_id(
    headers: dict[str, str], query: dict[str, str], expected: str | None
) -> None:
    request = RequestFactory().get("/events", query, **headers)
    assert last_event_id(request) == expected


def test_sse_ping_check() -> None:
    from django_streamkit.checks import check_sse_settings

    with override_settings(STREAMKIT_SSE_PING=0):
        (error,) = check_sse_settings()
    assert error.id == "streamkit.E060"
    assert "STREAMKIT_SSE_PING is 0" in error.msg
    with override_settings(STREAMKIT_SSE_PING=2.5):
        assert check_sse_settings() == []


def test_the_readme_example_resumes_after_last_event_id() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (source,) = [
        block
        for block in re.findall(r"^```python\n(.*?)^```", readme, flags=re.S | re.M)
        if "def progress(request)" in block
    ]
    namespace: dict[str, object] = {}
    exec(source, namespace)
    request = RequestFactory().get("/progress", HTTP_LAST_EVENT_ID="98")
    response = namespace["progress"](request)  # type: ignore[operator]
    assert parse(b"".join(response)) == [
        ("progress", '{"done": 99}', "99"),
        ("progress", '{"done": 100}', "100"),
    ]


def test_event_stream_view_sync_and_async() -> None:
    import inspect as inspect_module

    from django.core.exceptions import ImproperlyConfigured

    from django_streamkit import current_request
    from django_streamkit.views import EventStreamView

    class Sync(EventStreamView):
        ping = 5
        retry = 1500

        def get_events(self, last_event_id: str | None) -> Iterator[str]:
            yield f"after {last_event_id} for {current_request.path}"

    class Async(EventStreamView):
        async def get_events(self, last_event_id: str | None) -> AsyncIterator[str]:
            yield f"after {last_event_id}"

    class Missing(EventStreamView):
        pass

    request = RequestFactory().get("/events", HTTP_LAST_EVENT_ID="4")
    response = Sync.as_view()(request)
    assert isinstance(response, EventStreamResponse)
    assert response._feed.ping == 5
    assert b"".join(response) == b"retry: 1500\n\ndata: after 4 for /events\n\n"
    assert inspect_module.iscoroutinefunction(Async.get)
    assert not inspect_module.iscoroutinefunction(Sync.get)
    response = asyncio.run(Async.as_view()(request))
    assert b"".join(response) == b":\n\ndata: after 4\n\n"
    with pytest.raises(ImproperlyConfigured, match="must define get_events"):
        Missing.as_view()(request)


def test_sync_and_async_sources_send_the_same_bytes() -> None:
    items: list[object] = [
        ServerSentEvent("a\nb", event="e", id=3, retry=10, comment="c"),
        "plain",
        {"k": [1, 2]},
        None,
        7,
    ]

    def sync() -> Iterator[object]:
        yield from items

    async def asynchronous() -> AsyncIterator[object]:
        for item in items:
            yield item

    sync_body = b"".join(EventStreamResponse(sync(), retry=5))
    async_body = b"".join(EventStreamResponse(asynchronous(), retry=5))
    assert sync_body == async_body
    assert sync_body.startswith(b"retry: 5\n\n: c\nevent: e\nid: 3\nretry: 10\n")


def test_client_gone_sees_the_peer_close_without_reading() -> None:
    import socket

    from django_streamkit._events.watch import client_gone

    left, right = socket.socketpair()
    with left:
        gone = client_gone({"gunicorn.socket": left})
        right.sendall(b"GET /next HTTP/1.1\r\n\r\n")  # a pipelined request
        assert not gone()
        right.close()
        assert gone()
        assert left.recv(100).startswith(b"GET /next")  # nothing was consumed
    assert not client_gone({})()
    assert not client_gone(None)()
