"""What ``stream_with_context`` costs: a 1,000,000-row CSV-like stream.

Each response is built inside a request scope (a request bound, French
active) and then iterated to the end outside it, as the server does: under
WSGI (``for chunk in response``) and, for streamkit, under ASGI (``async for``,
the sync source stepped on a worker thread one chunk per hop). One row
(``"row 0000001,lorem ipsum dolor sit amet\\n"``, 39 bytes) is one piece.
Timings are in process, best of --repeat runs, so the table shows the
wrapper's own cost without network noise; Flask's ``stream_with_context``
over the same rows is measured in the same run.

``StreamingResponse`` runs its chunk coalescer inside the scope, so the scope
is entered once per ~64 KiB chunk; Django's response (and a wrapped source
hidden inside another generator, the "scope per row" line) enters it once
per row.

    .venv/django52/bin/python -m bench.bench_context [--rows N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.settings")

import django

django.setup()

import flask  # noqa: E402
from django.http import StreamingHttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.utils import translation  # noqa: E402

from bench._harness import table  # noqa: E402
from django_streamkit import StreamingResponse, stream_with_context  # noqa: E402
from django_streamkit.context import request_scope  # noqa: E402

ROW = "row {:07d},lorem ipsum dolor sit amet\n"


def rows(n: int) -> Iterator[str]:
    for i in range(n):
        yield ROW.format(i)


async def arows(n: int) -> AsyncIterator[str]:
    for i in range(n):
        yield ROW.format(i)


def in_request(build: Callable[[], Any]) -> Any:
    """Build the response as a view would: request bound, French active."""
    with request_scope(RequestFactory().get("/export")), translation.override("fr"):
        return build()


def wsgi(response: Any) -> int:
    size = 0
    for chunk in response:
        size += len(chunk)
    response.close()
    return size


def asgi(response: Any) -> int:
    async def read() -> int:
        size = 0
        async for chunk in response:
            size += len(chunk)
        return size

    return asyncio.run(read())


def flask_wsgi(n: int, wrapped: bool) -> int:
    app = flask.Flask(__name__)
    with app.test_request_context("/export"):
        source = flask.stream_with_context(rows(n)) if wrapped else rows(n)
        response = flask.Response(source, mimetype="text/csv")
    size = 0
    for chunk in response.iter_encoded():
        size += len(chunk)
    response.close()
    return size


def cases(n: int) -> list[tuple[str, str, Callable[[bool], int]]]:
    def django(serve: Callable[[Any], int], make: Callable[[int], Any]) -> Any:
        def run(wrapped: bool) -> int:
            def build() -> Any:
                source = stream_with_context(make(n)) if wrapped else make(n)
                return StreamingHttpResponse(source, content_type="text/csv")

            return serve(in_request(build))

        return run

    def streamkit(
        serve: Callable[[Any], int], make: Callable[[int], Any], per_piece: bool = False
    ) -> Any:
        def run(wrapped: bool) -> int:
            def build() -> Any:
                source = stream_with_context(make(n)) if wrapped else make(n)
                if per_piece:  # hidden from the response: scope entered per row
                    source = (piece for piece in source)
                return StreamingResponse(source, content_type="text/csv")

            return serve(in_request(build))

        return run

    return [
        ("Flask Response", "WSGI, sync", lambda w: flask_wsgi(n, w)),
        ("Django StreamingHttpResponse", "WSGI, sync", django(wsgi, rows)),
        ("Django StreamingHttpResponse", "ASGI, async", django(asgi, arows)),
        ("streamkit StreamingResponse", "WSGI, sync", streamkit(wsgi, rows)),
        (
            "streamkit, scope per row",
            "WSGI, sync",
            streamkit(wsgi, rows, per_piece=True),
        ),
        ("streamkit StreamingResponse", "ASGI, sync", streamkit(asgi, rows)),
        ("streamkit StreamingResponse", "ASGI, async", streamkit(asgi, arows)),
    ]


def best(run: Callable[[bool], int], repeat: int, size: int) -> tuple[float, float]:
    """Best bare and wrapped times, the runs alternating so both see the same
    load on a shared machine."""
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for wrapped in (False, True):
            start = time.perf_counter()
            got = run(wrapped)
            times[wrapped].append(time.perf_counter() - start)
            assert got == size, (got, size)
    return min(times[False]), min(times[True])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    n, size = options.rows, options.rows * len(ROW.format(0))
    results = []
    for response, served, run in cases(n):
        bare, wrapped = best(run, options.repeat, size)
        results.append(
            [
                response,
                served,
                f"{bare:.3f} s",
                f"{wrapped:.3f} s",
                f"{(wrapped / bare - 1) * 100:+.0f}%",
            ]
        )
    print(f"\n{n:,} rows of {len(ROW.format(0))} bytes, best of {options.repeat}\n")
    print(
        table(
            ["response", "served", "bare generator", "stream_with_context", "cost"],
            results,
        )
    )


if __name__ == "__main__":
    main()
