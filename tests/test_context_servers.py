"""stream_with_context under real servers: 500 concurrent streamed requests.

gunicorn (gthread, 8 threads) and uvicorn each serve 500 requests, 50 at a
time. Every request gets its own language, time zone and ``TAG`` context
variable from ``RequestStateMiddleware`` and is answered by a slow generator
(3 steps, 10 ms apart) that echoes, at each step, what it sees inside its
scope, while a probe around it reports what the code iterating the body sees
after each step: the server's own state, which must be the defaults. The
generators run interleaved (each step also reports how many were in flight),
so a value leaking from one request into another, or into the server's
thread or task, shows up as a mismatch.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.servers import Server, serve

pytestmark = pytest.mark.server

REQUESTS = 500
CONCURRENCY = 50
STEPS = 3
LANGUAGES = ["fr", "de", "es", "it", "nl", "pt", "ja"]
ZONES = ["Europe/Paris", "Asia/Tokyo", "America/New_York", "Australia/Sydney"]
OUTSIDE = "lang=en tz=UTC tag=None req=None"  # the server's own state

# (path, source, response): every way a body can be served on each server.
VARIANTS = {
    "gthread": [
        ("echo", "sync", "streamkit"),
        ("echo", "sync", "plain"),
        ("aecho", "async", "streamkit"),  # async view on WSGI, async body
        ("echo", "async", "streamkit"),
        ("echo-view", "sync", "streamkit"),  # StreamingView binds the request
    ],
    "uvicorn": [
        ("echo", "sync", "streamkit"),
        ("aecho", "sync", "streamkit"),  # made on the loop, stepped in a thread
        ("echo", "async", "streamkit"),  # made in a thread, run on the loop
        ("aecho", "async", "streamkit"),
        ("aecho", "async", "plain"),
        ("aecho-view", "async", "streamkit"),
    ],
}

LINE = re.compile(
    r"step=(?P<step>\d+) active=(?P<active>\d+) inside: (?P<inside>.*) "
    r"\| (?P<phase>view|server): (?P<outside>.*)"
)


@pytest.fixture(scope="module", params=["gthread", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with serve(
        request.param, settings="tests.support.context_server_settings"
    ) as running:
        yield running


def expected_inside(i: int) -> str:
    return f"lang={LANGUAGES[i % 7]} tz={ZONES[i % 4]} tag=t{i} req={i}"


async def fetch_all(server: Server) -> list[tuple[int, str, int, str]]:
    variants = VARIANTS[server.kind]
    limit = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY)

    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as c:

        async def one(i: int) -> tuple[int, str, int, str]:
            path, source, response = variants[i % len(variants)]
            params = {
                "id": str(i),
                "lang": LANGUAGES[i % 7],
                "tz": ZONES[i % 4],
                "tag": f"t{i}",
                "source": source,
                "response": response,
                "steps": str(STEPS),
                "delay": "0.01",
            }
            async with limit:
                r = await c.get(f"/context/{path}", params=params)
            return i, f"{path}/{source}/{response}", r.status_code, r.text

        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))


def test_500_concurrent_streams_keep_their_own_state(server: Server) -> None:
    results = asyncio.run(fetch_all(server))
    mismatches: list[str] = []
    most_in_flight = 0
    for i, variant, status, text in results:
        lines = text.splitlines()
        if status != 200 or len(lines) != STEPS:
            mismatches.append(f"#{i} {variant}: HTTP {status}, {text[:200]!r}")
            continue
        for step, line in enumerate(lines):
            match = LINE.fullmatch(line)
            if match is None or int(match["step"]) != step:
                mismatches.append(f"#{i} {variant}: unexpected line {line!r}")
                continue
            most_in_flight = max(most_in_flight, int(match["active"]))
            if match["inside"] != expected_inside(i):
                mismatches.append(
                    f"#{i} {variant} step {step}: inside {match['inside']!r}, "
                    f"expected {expected_inside(i)!r}"
                )
            # After each step the caller has its own state back: the view's
            # while the view runs, the server's once it has returned.
            caller = expected_inside(i) if match["phase"] == "view" else OUTSIDE
            if match["outside"] != caller:
                mismatches.append(
                    f"#{i} {variant} step {step}: the {match['phase']}'s state "
                    f"after the step is {match['outside']!r}, expected {caller!r}"
                )
            if step == STEPS - 1 and match["phase"] != "server":
                mismatches.append(f"#{i} {variant}: the body ended in the view")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(
        mismatches[:20]
    )
    # The generators really ran interleaved with one another.
    assert most_in_flight > 1
    assert "Traceback" not in server.log_text()
