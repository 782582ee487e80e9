"""Broadcast: publish-to-receive latency and fan-out with 1,000 subscribers
on one uvicorn worker, streamkit's PostgreSQL and Redis backends against
polling the table every second (what users write by hand).

Each variant gets a fresh channel, a uvicorn server (one worker) and 1,000
event streams opened by a client process on raw sockets. Then:

- latency: 20 events, 4 a second, each carrying the time it was published;
  p50 and p99 of (received - published) over every stream's copy;
- burst: 200 events published as fast as one publisher can (the sustained
  publish rate), then how many of them reached every one of the 1,000
  streams (the fewest any stream got, waiting until none moves for 5 s),
  how long until every stream had them all, and their p99 latency.

The variants run in turn, ``--repeat`` rounds (5); the table gives medians,
and the last column how far each variant's p50 ratio to streamkit on
PostgreSQL moved between rounds.

    .venv/django52/bin/python -m bench.bench_broadcast
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from typing import Any

import psycopg

DB = "streamkit_bench_broadcast"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.broadcast_settings")
os.environ.update(STREAMKIT_TEST_BROADCAST="database", STREAMKIT_TEST_BROADCAST_DB=DB)

from bench._harness import table  # noqa: E402
from tests.support.redisserver import drop, private_prefix, redis_url  # noqa: E402
from tests.support.servers import ROOT, serve  # noqa: E402

#: The latency phase: STEADY events at STEADY_RATE a second (well below what
#: 1,000 streams on one worker can carry, so it measures latency, not a queue).
STEADY, STEADY_RATE = 20, 4
#: The burst: BURST events published as fast as one publisher can.
BURST = 200

VARIANTS = {
    "streamkit, PostgreSQL LISTEN/NOTIFY": ("database", "/broadcast/"),
    "streamkit, Redis Streams": ("redis", "/broadcast/"),
    "polling the table every second": ("database", "/poll/"),
}


def prepare_database() -> None:
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "streamkit", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )


def run_variant(
    url: str, path: str, config: dict[str, Any], subscribers: int
) -> dict[str, float]:
    from django.test import override_settings

    from django_streamkit.broadcast import publish

    channel = f"bench-{uuid.uuid4().hex[:8]}"
    host, port = url.removeprefix("http://").split(":")
    with override_settings(STREAMKIT_BROADCAST=config):
        publish(channel, {"hello": 1})  # replayed to each stream: it is open
        clients = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.broadcast_clients",
                host,
                port,
                path + channel,
                str(subscribers),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert clients.stdin is not None
        assert clients.stdout is not None

        def report() -> dict[str, float]:
            clients.stdin.write("report\n")  # type: ignore[union-attr]
            clients.stdin.flush()  # type: ignore[union-attr]
            return json.loads(clients.stdout.readline())  # type: ignore[union-attr]

        try:
            assert clients.stdout.readline().strip() == "ready"
            report()
            for _ in range(STEADY):
                publish(channel, {"t": time.time()})
                time.sleep(1 / STEADY_RATE)
            time.sleep(2.5)
            steady = report()
            start = time.perf_counter()
            for _ in range(BURST):
                publish(channel, {"t": time.time()})
            rate = BURST / (time.perf_counter() - start)
            # Until every stream has the whole burst, or nothing moves for 5 s.
            fewest, moved = 0, time.perf_counter()
            while fewest < BURST and time.perf_counter() - moved < 5:
                time.sleep(0.25)
                clients.stdin.write("peek\n")
                clients.stdin.flush()
                now = json.loads(clients.stdout.readline())["fewest"]
                if now > fewest:
                    fewest, moved = now, time.perf_counter()
            drained = time.perf_counter() - start
            burst = report()
        finally:
            clients.stdin.write("quit\n")
            clients.stdin.flush()
            clients.wait(timeout=30)
    return {
        "p50": steady["p50"],
        "p99": steady["p99"],
        "steady_all": steady["fewest"],
        "rate": rate,
        "drained": drained,
        "burst_all": burst["fewest"],
        "burst_p99": burst["p99"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    import django

    prepare_database()
    django.setup()
    redis, prefix = redis_url(), private_prefix()
    redis_config = {"BACKEND": "redis", "URL": redis, "PREFIX": prefix}
    configs = {"database": {"BACKEND": "database"}, "redis": redis_config}
    env = {
        "database": {"STREAMKIT_TEST_BROADCAST": "database"},
        "redis": {
            "STREAMKIT_TEST_BROADCAST": "redis",
            "STREAMKIT_TEST_REDIS_URL": redis,
            "STREAMKIT_TEST_REDIS_PREFIX": prefix,
        },
    }
    results: dict[str, list[dict[str, float]]] = {label: [] for label in VARIANTS}
    try:
        with ExitStack() as stack:
            servers = {
                label: stack.enter_context(
                    serve(
                        "uvicorn",
                        settings="bench.broadcast_settings",
                        extra_env=env[backend],
                    )
                )
                for label, (backend, _) in VARIANTS.items()
            }
            for round_ in range(args.repeat):
                for label, (backend, path) in VARIANTS.items():
                    results[label].append(
                        run_variant(
                            servers[label].url, path, configs[backend], args.subscribers
                        )
                    )
                    print(
                        f"round {round_ + 1} {label}: {results[label][-1]}",
                        file=sys.stderr,
                    )
    finally:
        drop(redis, prefix)
    base = results[next(iter(VARIANTS))]
    rows = []
    for label, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        ratios = [r["p50"] / b["p50"] for r, b in zip(runs, base, strict=True)]
        rows.append(
            [
                label,
                f"{med['p50']:.1f}",
                f"{med['p99']:.1f}",
                f"{int(min(r['steady_all'] for r in runs))} / {STEADY}",
                f"{med['rate']:.0f}",
                f"{int(min(r['burst_all'] for r in runs))} / {BURST}",
                f"{med['drained']:.1f}",
                f"{med['burst_p99']:.0f}",
                f"{min(ratios):.2f}x-{max(ratios):.2f}x",
            ]
        )
    print(
        f"\n{args.subscribers} subscribers on one uvicorn worker, "
        f"medians of {args.repeat} rounds\n"
    )
    print(
        table(
            [
                "variant",
                "p50 ms",
                "p99 ms",
                f"reached all ({STEADY_RATE}/s)",
                "publish/s",
                "reached all (burst)",
                "burst to all, s",
                "burst p99 ms",
                "p50 ratio range",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
