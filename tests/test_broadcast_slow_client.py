"""A client that stops reading its event stream, on real servers (uvicorn,
gunicorn gthread) on Redis: its queue fills, the hub ends its subscription
instead of holding events for it (or skipping some behind a reset), the
stream ends, and the client's reconnection with Last-Event-ID replays what
it missed from retention: every event once, in order."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from django.test import override_settings

from django_streamkit.broadcast import publish
from tests.support.broadcast_site import SETTINGS
from tests.support.redisserver import drop, private_prefix, redis_url
from tests.support.servers import Server, serve

pytestmark = [pytest.mark.server]

# 12 MB: far more than the kernel buffers (4 MB at most here) and the
# response's 256 events between them.
COUNT, PENDING, SIZE = 1500, 20, 8000


@pytest.fixture(scope="module", params=["uvicorn", "gthread"])
def site(request: pytest.FixtureRequest) -> Iterator[tuple[Server, dict[str, str]]]:
    url, prefix = redis_url(), private_prefix()
    config = {"BACKEND": "redis", "URL": url, "PREFIX": prefix, "RETENTION": COUNT}
    env = {
        "STREAMKIT_TEST_BROADCAST": "redis",
        "STREAMKIT_TEST_REDIS_URL": url,
        "STREAMKIT_TEST_REDIS_PREFIX": prefix,
        "STREAMKIT_TEST_RETENTION": str(COUNT),
        "STREAMKIT_TEST_MAX_PENDING": str(PENDING),
    }
    try:
        with (
            serve(request.param, settings=SETTINGS, extra_env=env) as server,
            override_settings(STREAMKIT_BROADCAST=config),
        ):
            yield server, config
    finally:
        drop(url, prefix)


def connect(server: Server, path: str, last: str | None) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    # A small window: the server's writes stop soon once it stops reading.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    header = f"Last-Event-ID: {last}\r\n" if last else ""
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{header}"
        "Accept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
    )
    return sock


def read_ids(sock: socket.socket, until: str, timeout: float) -> tuple[list[str], bool]:
    """The ids of the events read, and whether the stream ended (else it
    reached ``until`` first)."""
    ids: list[str] = []
    pending = b""
    deadline = time.monotonic() + timeout
    with sock:
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(1 << 20)
            except TimeoutError:
                break
            tail = pending[-8:]
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            ids.extend(line[4:].decode() for line in lines if line.startswith(b"id: "))
            # The end of the connection (asked for), or of a chunked body.
            if not chunk or b"\r\n0\r\n\r\n" in tail + chunk:
                return ids, True
            if ids and ids[-1] == until:
                return ids, False
    raise AssertionError(f"the stream neither ended nor reached {until}")


def test_a_client_that_stops_reading_is_ended_and_resumes_without_loss(
    site: tuple[Server, dict[str, str]],
) -> None:
    server, _ = site
    channel = f"slow-{server.kind}"
    path = f"/broadcast/{channel}"
    first = publish(channel, "before")
    assert first is not None
    stalled = connect(server, path, first)
    time.sleep(1)  # subscribed (nothing to replay), then not reading
    ids = [publish(channel, "x" * SIZE) for _ in range(COUNT - 1)]
    assert all(ids)
    got, ended = read_ids(stalled, str(ids[-1]), timeout=20)
    # It fell behind by far more than its queue: the server ended it rather
    # than keep feeding it (or skip events behind a reset).
    assert ended, f"the stalled stream got all {len(got)} events"
    assert got == ids[: len(got)]
    assert "fell more than 20 events behind" in server.log_text()
    # An EventSource reconnects with the last id it got: the rest, once.
    rest, _ = read_ids(
        connect(server, path, got[-1] if got else first), str(ids[-1]), timeout=20
    )
    assert got + rest == ids
