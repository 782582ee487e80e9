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
