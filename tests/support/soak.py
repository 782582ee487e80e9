"""A soak against a real server: many streamed requests of mixed kinds, some
disconnected at a random point, then a look for anything left behind.

The server runs ``tests.support.soak_settings`` (views in
``tests.support.soak_views``, whose docstring says how each kind proves its
clean-up ran). Each request carries an ``X-Soak-Token`` header and must leave
a marker file of that name reading ``closed`` (or ``closed early``, when it
was cut off mid-source). Every body,
whole or cut off, must match the reference body byte for byte. Afterwards
the serving process's file descriptors and threads, and its sessions in
``pg_stat_activity``, are compared with the baseline taken after a warm-up;
its peak RSS over the run is recorded.

Used by ``bench/soak.py`` (10,000 requests) and ``tests/test_soak.py`` (a
shortened run). Bounded in count and time: it stops by itself.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.servers import Server

# kind -> path; every kind's body is the same on every request.
KINDS: dict[str, str] = {
    "core-sync": "/soak/core/sync",
    "core-async": "/soak/core/async",
    "csv-gen": "/soak/csv/gen",
    "csv-agen": "/soak/csv/agen",
    "csv-queryset": "/soak/csv/queryset",
    "template-gen": "/soak/template/gen",
    "template-agen": "/soak/template/agen",
    "template-queryset": "/soak/template/queryset",
    # The registered export, mounted from django_streamkit.urls, filtered to
    # the ids the other QuerySet kinds read (tests.support.soak_views.RECORDS).
    "export": "/exports/soak-records.csv?id__lte=1000",
}

# (state, in a transaction) of each of the server's database sessions.
Sessions = Callable[[], list[tuple[str, bool]]]


@dataclass
class Resources:
    fds: int
    threads: int
    rss: int
    db_connections: int
    db_in_transaction: int

    def __str__(self) -> str:
        return (
            f"{self.fds} fds, {self.threads} threads, {self.rss / 2**20:.1f} MiB RSS, "
            f"{self.db_connections} database connections "
            f"({self.db_in_transaction} in a transaction)"
        )


@dataclass
class SoakResult:
    requests: int = 0
    completed: int = 0
    disconnected: int = 0
    corrupt: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing_finally: list[str] = field(default_factory=list)
    left_open: list[str] = field(default_factory=list)
    # kind -> requests whose source the server closed before its last row
    cut_mid_source: Counter[str] = field(default_factory=Counter)
    logged_errors: list[str] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    ttfb_by_kind: dict[str, list[float]] = field(default_factory=dict)
    requests_by_kind: Counter[str] = field(default_factory=Counter)
    disconnected_by_kind: Counter[str] = field(default_factory=Counter)
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
        if self.after.db_in_transaction:
            found.append(
                f"{self.after.db_in_transaction} database sessions in a transaction"
            )
        return found

    def problems(self) -> list[str]:
        """Everything that went wrong, one line each; empty when all is well."""
        return [
            *self.leaks(),
            *(f"finally never ran: {m}" for m in self.missing_finally),
            *(f"clean-up left something: {m}" for m in self.left_open),
            *(f"body differs: {c}" for c in self.corrupt),
            *(f"error: {e}" for e in self.errors),
            *(f"server logged: {e}" for e in self.logged_errors),
        ]

    @property
    def peak_rss_growth(self) -> int:
        return self.peak_rss - (self.before.rss if self.before else 0)

    @property
    def rss_after_growth(self) -> int:
        """RSS after the run above the baseline (memory the allocator kept)."""
        assert self.before
        assert self.after
        return self.after.rss - self.before.rss

    def kind_rows(self) -> list[list[str]]:
        return [
            [
                kind,
                f"{self.requests_by_kind[kind]:,}",
                f"{self.disconnected_by_kind[kind]:,}",
                f"{self.cut_mid_source[kind]:,}",
                f"{self.percentile(0.5, kind) * 1000:.0f} ms",
                f"{self.percentile(0.99, kind) * 1000:.0f} ms",
            ]
            for kind in KINDS
            if self.ttfb_by_kind.get(kind)
        ]

    def percentile(self, q: float, kind: str | None = None) -> float:
        ordered = sorted(self.ttfb if kind is None else self.ttfb_by_kind[kind])
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary_row(self, label: str) -> list[str]:
        leaks = (
            len(self.leaks())
            + len(self.missing_finally)
            + len(self.left_open)
            + len(self.corrupt)
        )
        growth = self.peak_rss_growth
        return [
            label,
            f"{self.requests:,}",
            f"{self.disconnected:,}",
            f"{sum(self.cut_mid_source.values()):,}",
            f"{len(self.errors) + len(self.logged_errors)}",
            f"{leaks}",
            f"{self.percentile(0.5) * 1000:.0f} ms",
            f"{self.percentile(0.99) * 1000:.0f} ms",
            f"{growth / 2**20:+.1f} MiB",
            f"{self.rss_after_growth / 2**20:+.1f} MiB",
            f"{self.seconds:.0f} s",
        ]


TOKEN = "X-Soak-Token"

HEADERS = [
    "server",
    "requests",
    "disconnected",
    "cut mid-source",
    "errors",
    "leaks found",
    "p50 first byte",
    "p99 first byte",
    "peak RSS growth",
    "RSS after",
    "time",
]

KIND_HEADERS = [
    "kind",
    "requests",
    "disconnected",
    "cut mid-source",
    "p50 first byte",
    "p99 first byte",
]


def resources(server: Server, sessions: Sessions) -> Resources:
    pid = server.serving_pid
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    held = sessions()
    return Resources(
        fds=len(list(Path(f"/proc/{pid}/fd").iterdir())),
        threads=int(fields["Threads"]),
        rss=int(fields["VmRSS"].split()[0]) * 1024,
        db_connections=len(held),
        db_in_transaction=sum(in_transaction for _, in_transaction in held),
    )


async def _one(
    client: httpx.AsyncClient,
    server: Server,
    kind: str,
    cut: float | None,
    references: dict[str, bytes],
    result: SoakResult,
    tokens: dict[str, str],
) -> None:
    token = uuid.uuid4().hex
    tokens[token] = kind
    url = server.url + KINDS[kind]
    reference = references[kind]
    differs = False
    size = 0
    start = time.monotonic()
    first = None
    try:
        async with client.stream("GET", url, headers={TOKEN: token}) as response:
            if response.status_code != 200:
                result.errors.append(f"{kind}: HTTP {response.status_code}")
                return
            async for chunk in response.aiter_raw():
                if first is None and chunk:
                    first = time.monotonic() - start
                differs = differs or chunk != reference[size : size + len(chunk)]
                size += len(chunk)
                if cut is not None and size >= cut:
                    result.disconnected += 1
                    result.disconnected_by_kind[kind] += 1
                    if differs:
                        result.corrupt.append(f"{kind}: the first {size} bytes")
                    return  # leaving the block drops the connection mid-body
    except httpx.HTTPError as exc:
        result.errors.append(f"{kind}: {exc!r}")
        return
    finally:
        if first is not None:
            result.ttfb.append(first)
            result.ttfb_by_kind.setdefault(kind, []).append(first)
    result.completed += 1
    if differs or size != len(reference):
        result.corrupt.append(f"{kind}: {size} bytes of {len(reference)}")


async def _reference(client: httpx.AsyncClient, server: Server, kind: str) -> bytes:
    response = await client.get(server.url + KINDS[kind])
    response.raise_for_status()
    return response.content


async def _settled(server: Server, sessions: Sessions) -> Resources:
    """The server's resources once they stop falling (for at most 10 s)."""
    now = resources(server, sessions)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        previous, now = now, resources(server, sessions)
        if (now.fds, now.threads, now.db_connections) == (
            previous.fds,
            previous.threads,
            previous.db_connections,
        ):
            break
    return now


def soak(
    server: Server,
    *,
    requests: int,
    concurrency: int = 50,
    disconnect_every: int = 3,
    seed: int = 2026,
    sessions: Sessions = lambda: [],
    time_limit: float = 600,
) -> SoakResult:
    """Run the soak against ``server``; returns what it saw and left behind.

    ``requests`` go out ``concurrency`` at a time, kinds in turn; every
    ``disconnect_every``-th request of each kind is cut off after a random
    number of bytes.
    No request starts after ``time_limit`` seconds, and the whole run is
    cancelled (raising ``TimeoutError``) if it is still going a minute later.
    ``sessions`` lists the server's database sessions.
    """
    return asyncio.run(
        asyncio.wait_for(
            _soak(
                server,
                requests,
                concurrency,
                disconnect_every,
                seed,
                sessions,
                time_limit,
            ),
            time_limit + 60 + 60,  # + the per-request timeout + the checks after
        )
    )


async def _soak(
    server: Server,
    requests: int,
    concurrency: int,
    disconnect_every: int,
    seed: int,
    sessions: Sessions,
    time_limit: float,
) -> SoakResult:
    rng = random.Random(seed)
    result = SoakResult()
    tokens: dict[str, str] = {}  # token -> kind
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency
    )
    timeout = httpx.Timeout(60)
    references: dict[str, bytes] = {}
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        for kind in KINDS:
            references[kind] = await _reference(client, server, kind)
        # Warm up: fill the server's thread pools before taking the baseline.
        await asyncio.gather(
            *(
                client.get(server.url + KINDS[k])
                for k in KINDS
                for _ in range(concurrency // len(KINDS) + 1)
            )
        )
    # The baseline, once the server has dropped the warm-up's connections.
    result.before = await _settled(server, sessions)
    server.reset_peak_rss()
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        semaphore = asyncio.Semaphore(concurrency)
        kinds = list(KINDS)
        start = time.monotonic()

        async def run(i: int) -> None:
            kind = kinds[i % len(kinds)]
            cut = (
                rng.uniform(1, len(references[kind]) - 1)
                if (i // len(kinds)) % disconnect_every == disconnect_every - 1
                else None
            )
            async with semaphore:
                if time.monotonic() - start > time_limit:
                    return
                result.requests += 1
                result.requests_by_kind[kind] += 1
                await _one(client, server, kind, cut, references, result, tokens)

        await asyncio.gather(*(run(i) for i in range(requests)))
        result.seconds = time.monotonic() - start
    result.peak_rss = server.peak_rss()
    # Every request's clean-up, completed or cut off, leaves its marker.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        missing = [t for t in tokens if not (server.markers / t).exists()]
        if not missing:
            break
        await asyncio.sleep(0.2)
    result.missing_finally = [f"{tokens[t]} {t}" for t in missing]
    for token, kind in tokens.items():
        marker = server.markers / token
        if not marker.exists():
            continue
        state = marker.read_text()
        if state == "closed early":
            result.cut_mid_source[kind] += 1
        elif state != "closed":
            result.left_open.append(f"{kind} {token}: {state}")
    # Give the server a moment to drop closed sockets, then compare.
    after = resources(server, sessions)
    deadline = time.monotonic() + 10
    while (
        after.fds > result.before.fds
        or after.threads > result.before.threads
        or after.db_connections > result.before.db_connections
        or after.db_in_transaction
    ) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        after = resources(server, sessions)
    result.after = after
    # The library logs an error after the first byte on django_streamkit.
    result.logged_errors = [
        line for line in server.log_text().splitlines() if line.startswith("ERROR")
    ]
    return result
