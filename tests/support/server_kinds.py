"""The server matrix's kinds for :func:`tests.support.servers.serve`: how
each server beyond gunicorn, gthread, uvicorn and runserver is started (the
``servers`` extra, installed on the Django 5.2 venv only)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

MATRIX_SERVERS = {
    "gunicorn-uvicorn": [
        "-m",
        "gunicorn",
        "--worker-class",
        "uvicorn_worker.UvicornWorker",
        "--workers",
        "1",
    ],
    # One process serves both HTTP/1.1 (h11) and cleartext HTTP/2 (h2c, with
    # prior knowledge): the client picks (see Server.client).
    "hypercorn": ["-m", "hypercorn", "--workers", "1"],
    # A failed HTTP/2 stream ends only when the idle connection is closed
    # (--keep-alive, 5 s by default): 2 s keeps the matrix quick.
    "hypercorn-h2c": ["-m", "hypercorn", "--workers", "1", "--keep-alive", "2"],
    "granian-asgi": ["-m", "granian", "--interface", "asgi", "--workers", "1"],
    "granian-wsgi": [
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--workers",
        "1",
        "--blocking-threads",
        "24",
    ],
    # 24 threads, so 20 slow clients at once are served at once.
    "waitress": ["-m", "waitress", "--threads=24"],
    # waitress with its output buffer's high-water mark lowered from 16 MiB.
    "waitress-lowwater": [
        "-m",
        "waitress",
        "--threads=24",
        "--outbuf-high-watermark=262144",
    ],
    "daphne": ["-m", "daphne"],
    # uWSGI's own binary, one process, threads for the 20 concurrent clients.
    "uwsgi": ["--threads", "24", "--die-on-term", "--disable-logging"],
    # No --threads, no --enable-threads: the relay's helper thread still runs
    # (uWSGI 2.0.31 enables Python threads by default).
    "uwsgi-bare": ["--die-on-term", "--disable-logging"],
    "uwsgi-chunked": [
        "--threads",
        "24",
        "--die-on-term",
        "--disable-logging",
        "--master",
        "--auto-procname",
        "--http-auto-chunked",
        "--http-keepalive",
    ],
}

#: The kinds the server matrix runs, in the order it runs them.
MATRIX = [
    "gunicorn",
    "gthread",
    "gunicorn-uvicorn",
    "uvicorn",
    "hypercorn",
    "hypercorn-h2c",
    "granian-asgi",
    "granian-wsgi",
    "waitress",
    "daphne",
    "uwsgi",
    "uwsgi-chunked",
    "runserver",
]
ASGI_KINDS = {
    "uvicorn",
    "gunicorn-uvicorn",
    "hypercorn",
    "hypercorn-h2c",
    "granian-asgi",
    "daphne",
}
#: Kinds whose serving process is a child of the one started.
FORKING_KINDS = {
    "hypercorn",
    "hypercorn-h2c",
    "gunicorn",
    "gthread",
    "gunicorn-uvicorn",
    "granian-asgi",
    "granian-wsgi",
    "uwsgi-chunked",
}


def address(kind: str, port: int) -> list[str]:
    host = "127.0.0.1"
    if kind == "uvicorn":
        return ["--host", host, "--port", str(port)]
    if kind == "runserver":
        return [f"{host}:{port}"]
    if kind.startswith("gunicorn") or kind == "gthread":
        return ["--bind", f"{host}:{port}", "--timeout", "300"]
    if kind.startswith("hypercorn"):
        return ["--bind", f"{host}:{port}"]
    if kind.startswith("granian"):
        return ["--host", host, "--port", str(port)]
    if kind.startswith("waitress"):
        return [f"--listen={host}:{port}"]
    if kind == "daphne":
        return ["-b", host, "-p", str(port)]
    if kind == "uwsgi-chunked":
        # uWSGI's HTTP router in front of its worker, as most deployments
        # run it (--http-auto-chunked applies to the router).
        return ["--http", f"{host}:{port}"]
    return ["--http-socket", f"{host}:{port}"]  # uwsgi


def command(
    servers: dict[str, list[str]],
    kind: str,
    app: str,
    port: int,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line that serves ``app`` as ``kind`` on ``port``, with the
    ``extra`` options of a test (``--graceful-timeout 20``)."""
    if kind.startswith("uwsgi"):
        binary = str(Path(sys.executable).with_name("uwsgi"))
        return [binary, *servers[kind], *address(kind, port), *extra, "--module", app]
    tail = [] if kind == "runserver" else [app]
    return [sys.executable, *servers[kind], *address(kind, port), *extra, *tail]
