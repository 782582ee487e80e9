"""A graceful shutdown with open event streams, on real servers: after
SIGTERM (``gunicorn --graceful-timeout 20``, ``uvicorn
--timeout-graceful-shutdown 20``) each stream, silent or busy, ends cleanly (its source
closed, the body complete, so the client reconnects after ``retry``) within
a few seconds, and the server exits long before its grace period runs out."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.servers import serve

pytestmark = [pytest.mark.server]

GRACE = 20
CASES = {
    # gunicorn's sync worker serves one request at a time: one stream.
    "gunicorn": (["--graceful-timeout", str(GRACE)], ["busy-sync"]),
    "gthread": (
        ["--graceful-timeout", str(GRACE)],
        ["sync", "async", "busy-sync", "busy-async"],
    ),
    "uvicorn": (
        ["--timeout-graceful-shutdown", str(GRACE)],
        ["sync", "async", "busy-sync", "busy-async"],
    ),
}


@pytest.mark.parametrize(
    "kind",
    ["uvicorn", "gunicorn", pytest.param("gthread", marks=pytest.mark.matrix)],
)
def test_open_streams_end_at_sigterm(kind: str) -> None:
    args, sources = CASES[kind]
    with serve(kind, extra_args=args) as server:
        opened = threading.Barrier(len(sources) + 1, timeout=15)
        results: dict[str, tuple[list[str], float | None, str]] = {}

        def listen(source: str, token: str) -> None:
            url = f"{server.url}/sse/silent?kind={source}&token={token}&ping=5"
            data: list[str] = []
            try:
                with (
                    httpx.Client(timeout=30) as client,
                    connect_sse(client, "GET", url) as events,
                ):
                    for event in events.iter_sse():
                        if event.data:
                            data.append(event.data)
                            if len(data) == 1:
                                opened.wait()
                results[source] = (data, time.monotonic(), "")
            except Exception as exc:
                results[source] = (data, None, repr(exc))

        tokens = {source: uuid.uuid4().hex for source in sources}
        threads = [
            threading.Thread(target=listen, args=(source, tokens[source]))
            for source in sources
        ]
        for thread in threads:
            thread.start()
        opened.wait()
        stopped = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=GRACE)
        server.process.wait(timeout=GRACE)
        exited = time.monotonic() - stopped
        for source in sources:
            data, ended, error = results[source]
            assert error == "", (source, error)
            assert data[0] == "hello"
            assert set(data[1:]) <= {"more"}
            assert ended is not None
            assert ended - stopped < 5, source
            assert server.wait_for_marker(tokens[source], timeout=1), source
        assert exited < GRACE / 2, server.output.read_text()


def test_gunicorn_sync_keeps_a_long_stream_past_its_worker_timeout() -> None:
    # The sync worker tells the arbiter it is alive only between requests;
    # an event stream outlasting --timeout was killed (WORKER TIMEOUT) and
    # cut mid-body, silent or busy, every --timeout seconds.
    with serve("gunicorn", extra_args=["--timeout", "2"]) as server:
        for source in ["sync", "busy-async"]:
            token = uuid.uuid4().hex
            url = f"{server.url}/sse/silent?kind={source}&token={token}&limit=4&ping=1"
            data = []
            with (
                httpx.Client(timeout=15) as client,
                connect_sse(client, "GET", url) as events,
            ):
                for event in events.iter_sse():  # raises if the body is cut
                    if event.data:
                        data.append(event.data)
            assert data[0] == "hello", source
            # All 4 s of it: "bye" after the silence, or an event each 0.2 s.
            assert data[-1] == "bye" if source == "sync" else len(data) > 15, data
            assert server.wait_for_marker(token, timeout=2), source
        assert "WORKER TIMEOUT" not in server.output.read_text()
