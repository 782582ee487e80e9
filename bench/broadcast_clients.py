"""Many event-stream subscribers in one process, on raw asyncio sockets (an
HTTP client library would cost more than the server being measured).

``python -m bench.broadcast_clients HOST PORT PATH COUNT``: opens COUNT
streams with ``Last-Event-ID: 0`` and prints ``ready`` once each has read
one event. Each ``data:`` holding ``{"t": <time.time() at publish>}`` is a
latency sample. On ``report`` from stdin it prints, as JSON, the p50 and
p99 latency (ms) of the samples since the last report and the fewest and
most events any one stream received in that time (``peek``: the fewest,
without starting over); ``quit`` ends it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def stream(
    host: str,
    port: int,
    path: str,
    counts: list[int],
    index: int,
    samples: list[float],
    first: asyncio.Event,
    ready: list[int],
    total: int,
) -> None:
    reader, writer = await asyncio.open_connection(host, port, limit=2**20)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nLast-Event-ID: 0\r\n"
        f"Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    seen = False
    while line := await reader.readline():
        if line.startswith(b"data: {"):
            now = time.time()
            data = json.loads(line[6:])
            if "t" in data:
                samples.append(now - data["t"])
            counts[index] += 1
            if not seen:
                seen = True
                ready[0] += 1
                if ready[0] == total:
                    first.set()


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted seconds, in milliseconds."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main() -> None:
    host, port, path, count = (
        sys.argv[1],
        int(sys.argv[2]),
        sys.argv[3],
        int(sys.argv[4]),
    )
    counts = [0] * count
    samples: list[float] = []
    first = asyncio.Event()
    ready = [0]
    tasks = []
    for i in range(count):
        tasks.append(
            asyncio.ensure_future(
                stream(host, port, path, counts, i, samples, first, ready, count)
            )
        )
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # don't overflow the server's backlog
    await asyncio.wait_for(first.wait(), 120)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        command = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if command == "peek":
            print(json.dumps({"fewest": min(counts)}), flush=True)
            continue
        if command != "report":
            break
        ordered = sorted(samples)
        print(
            json.dumps(
                {
                    "p50": percentile(ordered, 0.5),
                    "p99": percentile(ordered, 0.99),
                    "samples": len(ordered),
                    "fewest": min(counts),
                    "most": max(counts),
                }
            ),
            flush=True,
        )
        samples.clear()
        counts[:] = [0] * count
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
