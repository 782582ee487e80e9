"""Every streamed response streams: what the PgBouncer pages and the ASGI
middleware buy, against what users get without them, on the same data.

1. A QuerySet CSV export of the seeded Record table on PostgreSQL, gunicorn
   (one sync worker): streamkit through a server-side cursor (direct), and
   through a real pgbouncer in transaction mode (``DISABLE_SERVER_SIDE_CURSORS``:
   keyset pages), against Django's documented pattern (``Echo`` over
   ``values_list().iterator()``) through the same pgbouncer, which fetches
   every row first.
2. A 100 MiB ``FileResponse`` under uvicorn, with and without
   ``ASGIStreamingMiddleware``.

Variants interleaved round by round, medians of ``--repeat`` rounds, and the
lowest and highest ratio to the first variant seen in a round.

    PYTHONPATH=$PWD .venv/django52/bin/python bench/bench_servers.py
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench._harness import Measure, measure, mib, table
from bench.bench_csv import interleaved, moved
from tests.support.pgbouncer import run_pgbouncer
from tests.support.pgserver import seed
from tests.support.servers import serve


def _rows(
    results: dict[str, Measure], spread: dict[str, tuple[float, float]]
) -> list[list[str]]:
    first = next(iter(results.values()))
    return [
        [
            label,
            f"{m.first_byte * 1000:.0f} ms",
            f"{m.total:.2f} s",
            mib(m.rss_growth),
            f"{m.total / first.total:.2f}x",
            moved(spread[label]),
        ]
        for label, m in results.items()
    ]


HEADERS = [
    "variant",
    "first byte",
    "total",
    "peak RSS growth",
    "time vs first",
    "ratio in a round",
]


def pgbouncer_table(rows: int, repeat: int) -> None:
    seed()
    with run_pgbouncer() as bouncer:
        env = {"STREAMKIT_TEST_PGBOUNCER_PORT": str(bouncer.port)}
        with (
            serve(
                "gunicorn", settings="bench.csv_settings_pg", extra_env=env
            ) as direct,
            serve(
                "gunicorn", settings="bench.csv_settings_pgbouncer", extra_env=env
            ) as bounced,
        ):

            def run(server: object, url: str) -> Callable[[], Measure]:
                return lambda: measure(
                    server, f"{url}?n={rows}", warmup=f"{url}?n=1000"
                )  # type: ignore[arg-type]

            runs = {
                "streamkit, direct (server-side cursor)": run(
                    direct, "/bench/qs/streamkit"
                ),
                "streamkit, through pgbouncer (keyset pages)": run(
                    bounced, "/bench/qs/streamkit"
                ),
                "Django docs' Echo over .iterator(), through pgbouncer": run(
                    bounced, "/bench/qs/django"
                ),
            }
            results, spread = interleaved(runs, repeat)
    print(
        f"\nCSV of {rows:,} Record rows x 8 columns on PostgreSQL, gunicorn (1 sync "
        f"worker), pgbouncer in transaction mode; median of {repeat} rounds\n"
    )
    print(table(HEADERS, _rows(results, spread)))


def file_table(repeat: int) -> None:
    with (
        serve("uvicorn", settings="tests.support.matrix_settings") as with_middleware,
        serve("uvicorn") as without,
    ):
        runs = {
            "FileResponse + ASGIStreamingMiddleware": lambda: measure(
                with_middleware, "/matrix/file/100", warmup="/matrix/file/1"
            ),
            "FileResponse alone (Django collects it)": lambda: measure(
                without, "/matrix/file/100", warmup="/matrix/file/1"
            ),
        }
        results, spread = interleaved(runs, repeat)
    print(f"\n100 MiB FileResponse, uvicorn; median of {repeat} rounds\n")
    print(table(HEADERS, _rows(results, spread)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pgbouncer_table(args.rows, args.repeat)
    file_table(args.repeat)


if __name__ == "__main__":
    main()
