"""Server-Sent Events: django-streamkit's ``EventStreamResponse`` against
Starlette with sse-starlette's ``EventSourceResponse``, each on one uvicorn
worker, with async generators doing the same work (bench/sse_views.py and
bench.sse_rival/asgi.py):

- events per second to one client, 20,000 small (16-byte) events read to
  the end (target: at least 0.7x sse-starlette's);
- memory per idle open stream (heartbeats only): RSS growth of the server
  with 1,000 streams open, over 1,000 (target: at most 2x sse-starlette's);
- the time from an event being yielded to the client receiving it (its data
  is the time it was made), p50 and p99 of 200 events 10 ms apart on one
  more stream, while those 1,000 are open.

Each round starts both servers afresh (so memory starts from the same
place) and runs the two in turn; rounds (``--repeat``, 5) give medians, and
the last column says how far the ratio to sse-starlette moved between them.

Then gunicorn gthread: RSS and threads per open idle stream, 100 streams,
for a sync source (it polls: one request thread and one producer thread
each) and an async one (driven on the request's thread).

    .venv/django52/bin/python -m bench.bench_sse
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from httpx_sse import aconnect_sse

from bench._harness import table
from tests.support.servers import Server, serve

EVENTS = 20_000
VARIANTS = {
    "django-streamkit": {"project": "tests.support", "settings": "bench.sse_settings"},
    "Starlette + sse-starlette": {"project": "bench.sse_rival"},
}


def rss(server: Server) -> int:
    return Server._status_kb(server.serving_pid, "VmRSS") * 1024


def threads(server: Server) -> int:
    return Server._status_kb(server.serving_pid, "Threads")


def events_per_second(server: Server) -> float:
    start = time.perf_counter()
    with httpx.stream("GET", f"{server.url}/events?n={EVENTS}", timeout=120) as r:
        body = b"".join(r.iter_raw())
    elapsed = time.perf_counter() - start
    seen = body.count(b"data: ")
    assert seen == EVENTS, seen
    return EVENTS / elapsed


async def open_streams(
    server: Server, path: str, count: int
) -> list[asyncio.StreamWriter]:
    """``count`` raw connections, each with its response headers read."""
    address = urlsplit(server.url)
    gate = asyncio.Semaphore(50)

    async def one() -> asyncio.StreamWriter:
        async with gate:
            reader, writer = await asyncio.open_connection(
                address.hostname, address.port
            )
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            assert head.startswith(b"HTTP/1.1 200"), head
            writer.reader = reader  # type: ignore[attr-defined]
            return writer

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def latencies(server: Server) -> list[float]:
    waits = []
    async with (
        httpx.AsyncClient(timeout=60) as client,
        aconnect_sse(client, "GET", f"{server.url}/tick?n=200&every=0.01") as source,
    ):
        async for event in source.aiter_sse():
            if event.data:
                waits.append(time.time() - float(event.data))
    return waits


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def under_load(server: Server, count: int) -> tuple[int, list[float]]:
    before = rss(server)
    writers = await open_streams(server, "/idle", count)
    await asyncio.sleep(2)
    grown = rss(server) - before
    waits = await latencies(server)
    for writer in writers:
        writer.close()
    return grown // count, waits


def one_round(label: str, connections: int) -> dict[str, float]:
    with serve("uvicorn", **VARIANTS[label]) as server:  # type: ignore[arg-type]
        events_per_second(server)  # warm up
        rate = events_per_second(server)
        per_stream, waits = asyncio.run(under_load(server, connections))
    return {
        "rate": rate,
        "memory": per_stream,
        "p50": percentile(waits, 0.5),
        "p99": percentile(waits, 0.99),
    }


def gthread_table(streams: int) -> str:
    rows = []
    for source, path in (("sync (polls)", "/idle-sync"), ("async", "/idle")):
        with serve(
            "gthread", settings="bench.sse_settings", extra_args=["--threads", "128"]
        ) as server:
            httpx.get(server.url + "/healthz", timeout=10)
            before, before_threads = rss(server), threads(server)

            async def hold(
                server: Server = server, path: str = path
            ) -> tuple[int, int]:
                writers = await open_streams(server, path, streams)
                await asyncio.sleep(3)
                seen = rss(server), threads(server)
                for writer in writers:
                    writer.close()
                return seen

            after, after_threads = asyncio.run(hold())
        rows.append(
            [
                source,
                f"{(after - before) / streams / 1024:.0f} KiB",
                f"{(after_threads - before_threads) / streams:.2f}",
            ]
        )
    return table(["gthread, idle stream", "RSS per stream", "threads per stream"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--gthread-streams", type=int, default=100)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {label: [] for label in VARIANTS}
    for n in range(args.repeat):
        for label in VARIANTS:
            results[label].append(one_round(label, args.connections))
            print(f"  round {n + 1}, {label}: {results[label][-1]}", file=sys.stderr)
    ours, theirs = (results[label] for label in VARIANTS)
    rows = []
    for metric, name, show in (
        ("rate", "events/s, one client", lambda v: f"{v:,.0f}"),
        (
            "memory",
            f"RSS per idle stream ({args.connections:,} open)",
            lambda v: f"{v / 1024:.1f} KiB",
        ),
        (
            "p50",
            "yield-to-receive p50, under that load",
            lambda v: f"{v * 1000:.2f} ms",
        ),
        (
            "p99",
            "yield-to-receive p99, under that load",
            lambda v: f"{v * 1000:.2f} ms",
        ),
    ):
        mine = statistics.median(r[metric] for r in ours)
        other = statistics.median(r[metric] for r in theirs)
        ratios = [a[metric] / b[metric] for a, b in zip(ours, theirs, strict=True)]
        rows.append(
            [
                name,
                show(mine),
                show(other),
                f"{mine / other:.2f}x",
                f"{min(ratios):.2f}-{max(ratios):.2f}x",
            ]
        )
    print(
        table(
            [
                "one uvicorn worker",
                "django-streamkit",
                "Starlette + sse-starlette",
                "ratio",
                "ratio moved",
            ],
            rows,
        )
    )
    print()
    print(gthread_table(args.gthread_streams))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
