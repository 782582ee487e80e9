"""Real servers on 127.0.0.1 for the tests that only a server can answer.

Each server is a subprocess (gunicorn or uvicorn) serving ``tests.support.wsgi``
or ``tests.support.asgi`` with ``tests.support.server_settings``; startup and
every wait are bounded, and the process is stopped when the ``with`` block
ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

SERVERS = {
    "gunicorn": ["-m", "gunicorn", "--worker-class", "sync", "--workers", "1"],
    "gthread": [
        "-m",
        "gunicorn",
        "--worker-class",
        "gthread",
        "--workers",
        "1",
        "--threads",
        "8",
    ],
    "uvicorn": ["-m", "uvicorn", "--no-access-log", "--lifespan", "off"],
    # Django's development server, as the demo and new projects run it.
    "runserver": ["-m", "django", "runserver", "--noreload", "--skip-checks"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    kind: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    output: Path
    markers: Path

    @property
    def serving_pid(self) -> int:
        """The process that runs the app: gunicorn's worker, or the server itself."""
        if self.kind in ("uvicorn", "runserver"):
            return self.process.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = Path(
                f"/proc/{self.process.pid}/task/{self.process.pid}/children"
            ).read_text()
            if children.split():
                return int(children.split()[0])
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn {self.process.pid} has no worker")

    def reset_peak_rss(self) -> int:
        """Reset the kernel's peak RSS mark; return the current RSS in bytes."""
        pid = self.serving_pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return self._status_kb(pid, "VmRSS") * 1024

    def peak_rss(self) -> int:
        return self._status_kb(self.serving_pid, "VmHWM") * 1024

    @staticmethod
    def _status_kb(pid: int, field: str) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} for process {pid}")

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for_marker(self, token: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.markers / token).exists():
                return True
            time.sleep(0.05)
        return False


@contextmanager
def serve(
    kind: str,
    *,
    project: str = "tests.support",
    settings: str = "tests.support.server_settings",
    pythonpath: Path = ROOT,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> Iterator[Server]:
    """Serve ``<project>.wsgi`` (gunicorn) or ``<project>.asgi`` (uvicorn)."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"streamkit-{kind}-"))
    markers = workdir / "markers"
    markers.mkdir()
    log = workdir / "streamkit.log"
    output = workdir / "server.out"
    app = (
        f"{project}.asgi:application"
        if kind == "uvicorn"
        else f"{project}.wsgi:application"
    )
    if kind == "uvicorn":
        address = ["--host", "127.0.0.1", "--port", str(port)]
    elif kind == "runserver":
        address = [f"127.0.0.1:{port}"]
    else:
        address = ["--bind", f"127.0.0.1:{port}", "--timeout", "300"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "STREAMKIT_TEST_LOG": str(log),
        "STREAMKIT_TEST_MARKERS": str(markers),
        "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(pythonpath), str(ROOT)])),
        **(extra_env or {}),
    }
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *SERVERS[kind], *address, *(extra_args or [])]
            + ([] if kind == "runserver" else [app]),
            cwd=pythonpath,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(kind, f"http://127.0.0.1:{port}", process, log, output, markers)
    try:
        _wait_until_up(server, "/healthz" if project == "tests.support" else "/")
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_up(server: Server, health: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if httpx.get(server.url + health, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(
        f"{server.kind} did not start at {server.url}:\n"
        + server.output.read_text(errors="replace")[-4000:]
    )


NGINX_CONF = """
worker_processes 1;
daemon off;
user root;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    gzip {gzip};
    gzip_proxied any;
    gzip_min_length 0;
    gzip_types text/plain text/csv text/html text/event-stream;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            # nginx's defaults otherwise: proxy_buffering stays on, so only
            # the response's X-Accel-Buffering header lets chunks through.
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@contextmanager
def nginx_in_front(upstream: Server, *, gzip: bool = False) -> Iterator[str]:
    """Debian's nginx on a loopback port, proxying to ``upstream``; yields its URL."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="streamkit-nginx-"))
    conf = workdir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=workdir,
            port=port,
            upstream=upstream.url,
            gzip="on" if gzip else "off",
        )
    )
    process = subprocess.Popen(
        [
            shutil.which("nginx") or "/usr/sbin/nginx",
            "-c",
            str(conf),
            "-p",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                error_log = workdir / "error.log"
                raise RuntimeError(
                    "nginx did not start: "
                    + (error_log.read_text() if error_log.exists() else "")
                )
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
