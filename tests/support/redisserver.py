"""Redis for the broadcast tests: 127.0.0.1:6379 when it answers, else
Debian's ``redis-server`` started on a free loopback port (installed with
apt-get if missing, as ``scripts/services`` does); it fails loudly when
neither can be had. Each caller gets a private key prefix, so parallel runs
never read each other's streams."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
import uuid
from functools import cache

import redis

from tests.support.servers import free_port

DEFAULT = "redis://127.0.0.1:6379/0"


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@cache
def redis_url() -> str:
    """A Redis server's URL; one is started for this process if none answers."""
    if _answers(DEFAULT):
        return DEFAULT
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not shutil.which(binary):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            check=False,
            timeout=300,
        )
    if not shutil.which(binary):
        raise RuntimeError(
            "The broadcast tests need Redis: nothing answers on 127.0.0.1:6379 "
            "and redis-server is not installed (apt-get install redis-server, "
            "or run scripts/services)."
        )
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="streamkit-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    atexit.register(process.terminate)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 15
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    return url


def private_prefix() -> str:
    return f"streamkit-test-{uuid.uuid4().hex[:12]}:"


def drop(url: str, prefix: str) -> None:
    """Delete the streams under ``prefix``."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
