"""A soak against a real server: many streamed requests of mixed kinds, some
disconnected at a random point, then a look for anything left behind.

Used by ``bench/soak.py`` (10,000 requests) and ``tests/test_soak.py`` (a
shortened run). Bounded in count and time: it stops by itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.servers import Server

# kind -> path (with a {token} placeholder); every kind's body is deterministic.
KINDS: dict[str, str] = {
    "core-sync": "/soak/core/sync?token={token}",
    "core-async": "/soak/core/async?token={token}",
}


@dataclass
class Resources:
    fds: int
    threads: int
    rss: int
    db_connections: int

    def __str__(self) -> str:
        return (
            f"{self.fds} fds, {self.threads} threads, {self.rss / 2**20:.1f} MiB RSS, "
            f"{self.db_connections} database connections"
        )


@dataclass
class SoakResult:
    requests: int = 0
    completed: int = 0
    disconnected: int = 0
    corrupt: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing_finally: list[str] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    peak_rss: int = 0
    before: Resources | None = None
    after: Resources | None = None
    seconds: float = 0.0

    def leaks(self) -> list[str]:
        assert self.before
        assert self.after
        found = []
        if self.after.fds > self.before.fds:
            found.append(f"file descriptors {self.before.fds} -> {self.after.fds}")
        if self.after.threads > self.before.threads:
            found.append(f"threads {self.before.threads} -> {self.after.threads}")
        if self.after.db_connections > self.before.db_connections:
            found.append(
                f"database connections {self.before.db_connections} -> "
                f"{self.after.db_connections}"
            )
        return found

    def percentile(self, q: float) -> float:
        ordered = sorted(self.ttfb)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary_row(self, label: str) -> list[str]:
        leaks = len(self.leaks()) + len(self.missing_finally) + len(self.corrupt)
        growth = self.peak_rss - (self.before.rss if self.before else 0)
        return [
            label,
            f"{self.requests:,}",
            f"{self.disconnected:,}",
            f"{len(self.errors)}",
            f"{leaks}",
            f"{self.percentile(0.5) * 1000:.0f} ms",
            f"{self.percentile(0.99) * 1000:.0f} ms",
            f"{growth / 2**20:+.1f} MiB",
            f"{self.seconds:.0f} s",
        ]


HEADERS = [
    "server",
    "requests",
    "disconnected",
    "errors",
    "leaks found",
    "p50 first byte",
    "p99 first byte",
    "peak RSS growth",
    "time",
]


def resources(server: Server, count_db: Callable[[], int]) -> Resources:
    pid = server.serving_pid
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return Resources(
        fds=len(list(Path(f"/proc/{pid}/fd").iterdir())),
        threads=int(fields["Threads"]),
        rss=int(fields["VmRSS"].split()[0]) * 1024,
        db_connections=count_db(),
    )


async def _one(
    client: httpx.AsyncClient,
    server: Server,
    kind: str,
    cut: float | None,
    references: dict[str, str],
    result: SoakResult,
    tokens: list[str],
) -> None:
    token = uuid.uuid4().hex
    tokens.append(token)
    url = server.url + KINDS[kind].format(token=token)
    digest = hashlib.sha256()
    size = 0
    start = time.monotonic()
    first = None
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                result.errors.append(f"{kind}: HTTP {response.status_code}")
                return
            async for chunk in response.aiter_raw():
                if first is None and chunk:
                    first = time.monotonic() - start
                digest.update(chunk)
                size += len(chunk)
                if cut is not None and size >= cut:
                    result.disconnected += 1
                    return  # leaving the block drops the connection mid-body
    except httpx.HTTPError as exc:
        result.errors.append(f"{kind}: {exc!r}")
        return
    finally:
        if first is not None:
            result.ttfb.append(first)
    result.completed += 1
    if digest.hexdigest() != references[kind]:
        result.corrupt.append(f"{kind}: {size} bytes, digest differs")


async def _reference(
    client: httpx.AsyncClient, server: Server, kind: str
) -> tuple[str, int]:
    url = server.url + KINDS[kind].format(token="reference")
    response = await client.get(url)
    response.raise_for_status()
    return hashlib.sha256(response.content).hexdigest(), len(response.content)


def soak(
    server: Server,
    *,
    requests: int,
    concurrency: int = 50,
    disconnect_ratio: float = 1 / 3,
    seed: int = 2026,
    count_db: Callable[[], int] = lambda: 0,
    time_limit: float = 600,
) -> SoakResult:
    """Run the soak against ``server``; returns what it saw and left behind."""
    return asyncio.run(
        _soak(
            server, requests, concurrency, disconnect_ratio, seed, count_db, time_limit
        )
    )


async def _soak(
    server: Server,
    requests: int,
    concurrency: int,
    disconnect_ratio: float,
    seed: int,
    count_db: Callable[[], int],
    time_limit: float,
) -> SoakResult:
    rng = random.Random(seed)
    result = SoakResult()
    tokens: list[str] = []
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    timeout = httpx.Timeout(60)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        references = {}
        sizes = {}
        for kind in KINDS:
            references[kind], sizes[kind] = await _reference(client, server, kind)
        # Warm up: fill the server's thread pools before taking the baseline.
        await asyncio.gather(
            *(
                client.get(server.url + KINDS[k].format(token="warm"))
                for k in KINDS
                for _ in range(concurrency // len(KINDS) + 1)
            )
        )
        result.before = resources(server, count_db)
        server.reset_peak_rss()
        semaphore = asyncio.Semaphore(concurrency)
        kinds = list(KINDS)
        start = time.monotonic()

        async def run(i: int) -> None:
            kind = kinds[i % len(kinds)]
            cut = (
                rng.uniform(1, sizes[kind] - 1)
                if rng.random() < disconnect_ratio
                else None
            )
            async with semaphore:
                if time.monotonic() - start > time_limit:
                    return
                result.requests += 1
                await _one(client, server, kind, cut, references, result, tokens)

        await asyncio.gather(*(run(i) for i in range(requests)))
        result.seconds = time.monotonic() - start
    result.peak_rss = server.peak_rss()
    # Every source's finally, completed or cut off, leaves its marker.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        missing = [t for t in tokens if not (server.markers / t).exists()]
        if not missing:
            break
        await asyncio.sleep(0.2)
    result.missing_finally = missing
    # Give the server a moment to drop closed sockets, then compare.
    after = resources(server, count_db)
    deadline = time.monotonic() + 10
    while (
        after.fds > result.before.fds
        or after.threads > result.before.threads
        or after.db_connections > result.before.db_connections
    ) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        after = resources(server, count_db)
    result.after = after
    return result
