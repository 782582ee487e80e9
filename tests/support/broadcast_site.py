"""What the broadcast real-server tests share: four servers (two gunicorn
gthread, two uvicorn) on one backend, a publisher process, and clients that
are cut off at random and reconnect with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
from httpx_sse import aconnect_sse, connect_sse

from tests.support.servers import ROOT, Server, serve

SETTINGS = "tests.support.broadcast_settings"
KINDS = ("gthread", "gthread", "uvicorn", "uvicorn")
CHANNELS, PER_CHANNEL, CLIENTS_PER_CHANNEL = 3, 100, 4


def run_django(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "PYTHONPATH": str(ROOT),
            **env,
        },
        check=True,
        timeout=timeout,
        capture_output=True,
        text=True,
    ).stdout


class Site:
    """Four servers sharing one backend, and how to reach it."""

    def __init__(self, env: dict[str, str], servers: list[Server], apps: list[str]):
        self.env, self.servers, self.apps = env, servers, apps

    def publish(self, channels: list[str], count: int) -> dict[str, list[str]]:
        out = run_django(
            self.env,
            "-m",
            "tests.support.broadcast_publisher",
            *[f"--channel={c}" for c in channels],
            f"--count={count}",
        )
        return json.loads(out)  # type: ignore[no-any-return]


def start_site(env: dict[str, str]) -> Iterator[Site]:
    apps = [f"bc-{kind}-{uuid.uuid4().hex[:12]}" for kind in KINDS]
    with ExitStack() as stack:
        managers = [
            serve(
                kind,
                settings=SETTINGS,
                extra_env={**env, "STREAMKIT_TEST_PGAPP": app},
                extra_args=["--threads", "48"] if kind == "gthread" else [],
            )
            for kind, app in zip(KINDS, apps, strict=True)
        ]
        with ThreadPoolExecutor(len(managers)) as pool:
            servers = list(pool.map(stack.enter_context, managers))
        yield Site(env, servers, apps)


def client(
    site: Site, channel: str, expected: int, start: str, seed: int
) -> tuple[list[tuple[str, int]], int, list[str]]:
    """Read ``channel`` until ``expected`` events, cut off after a random
    number of events each time and reconnecting to a random server."""
    rng = random.Random(seed)
    got: list[tuple[str, int]] = []
    resets: list[str] = []
    last, connections = start, 0
    deadline = time.monotonic() + 60
    timeout = httpx.Timeout(10, read=8)
    while len(got) < expected and time.monotonic() < deadline:
        server = rng.choice(site.servers)
        cut_after = rng.randint(1, 25)
        connections += 1
        with (
            httpx.Client(timeout=timeout) as http,
            connect_sse(
                http,
                "GET",
                f"{server.url}/broadcast/{channel}",
                headers={"Last-Event-ID": last},
            ) as source,
        ):
            for event in source.iter_sse():
                if event.event == "reset":
                    resets.append(event.id)
                    continue
                got.append((event.id, event.json()["n"]))
                last = event.id
                cut_after -= 1
                if len(got) >= expected or cut_after == 0:
                    break  # the client goes: its connection is closed
    return got, connections, resets


def no_loss(site: Site, start: str) -> None:
    channels = [f"ch-{uuid.uuid4().hex[:8]}-{n}" for n in range(CHANNELS)]
    readers = [c for c in channels for _ in range(CLIENTS_PER_CHANNEL)]
    with ThreadPoolExecutor(len(readers) + 1) as pool:
        published = pool.submit(site.publish, channels, PER_CHANNEL)
        results = [
            pool.submit(client, site, c, PER_CHANNEL, start, seed)
            for seed, c in enumerate(readers)
        ]
        ids = published.result(timeout=120)
        outcomes = [r.result(timeout=120) for r in results]
    total_connections = 0
    for channel, (got, connections, resets) in zip(readers, outcomes, strict=True):
        total_connections += connections
        assert resets == []
        assert [n for _, n in got] == list(range(PER_CHANNEL)), channel
        assert [i for i, _ in got] == ids[channel]  # each once, in order
    # The clients were cut off and came back through every kind of server.
    assert total_connections > len(readers) * 3


async def thousand_subscribers(
    url: str, count: int, opened: Callable[[], int]
) -> tuple[int, int]:
    """Open ``count`` streams; once each has its replayed first event, call
    ``opened()`` (on a thread); then wait for the second event on all."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    first, second = asyncio.Event(), asyncio.Event()
    ready = [0, 0]

    async def one(http: httpx.AsyncClient) -> None:
        async with aconnect_sse(
            http, "GET", url, headers={"Last-Event-ID": "0"}
        ) as source:
            seen = 0
            async for _event in source.aiter_sse():
                seen += 1
                ready[seen - 1] += 1
                if ready[0] == count:
                    first.set()
                if ready[1] == count:
                    second.set()
                if seen == 2:
                    return

    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        tasks = [asyncio.ensure_future(one(http)) for _ in range(count)]
        await asyncio.wait_for(first.wait(), 60)
        held = await asyncio.get_running_loop().run_in_executor(None, opened)
        await asyncio.wait_for(second.wait(), 30)
        await asyncio.gather(*tasks)
    return held, ready[1]
