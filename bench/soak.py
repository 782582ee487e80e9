"""Soak: 10,000 streamed requests per server of every kind (core, CSV over
generators and PostgreSQL QuerySets, streamed templates, the registered
export), 50 at a time, a third of them cut off at a random point, against
gunicorn (gthread) and uvicorn on 127.0.0.1. Afterwards: file descriptors,
threads and PostgreSQL sessions back to their baseline, every completed body
byte-exact, every source's finally run by the library, nothing left open on
a database connection. Each server stops taking new requests after
``--time-limit`` seconds, so the run ends by itself.

    .venv/django52/bin/python -m bench.soak [--requests N] [--time-limit S]

Needs PostgreSQL on 127.0.0.1:5432 (the table is seeded once by tests.support.seed).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

from bench._harness import table
from tests.support.pgserver import app_name, seed, sessions
from tests.support.servers import serve
from tests.support.soak import HEADERS, KIND_HEADERS, KINDS, soak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=900,
        help="seconds per server after which no request starts (default 900)",
    )
    args = parser.parse_args()
    seed()
    rows = []
    problems = []
    details = []
    for kind in ("gthread", "uvicorn"):
        app = app_name("streamkit-soak")
        print(f"soaking {kind}...", file=sys.stderr)
        with serve(
            kind,
            settings="tests.support.soak_settings",
            extra_env={"STREAMKIT_TEST_PGAPP": app},
        ) as server:
            result = soak(
                server,
                requests=args.requests,
                concurrency=args.concurrency,
                sessions=partial(sessions, app),
                time_limit=args.time_limit,
            )
        rows.append(result.summary_row(kind))
        problems += [f"{kind}: {p}" for p in result.problems()]
        if result.requests < args.requests:
            problems.append(
                f"{kind}: stopped by the time limit after {result.requests:,} "
                f"of {args.requests:,} requests"
            )
        details.append(f"\n{kind}: before {result.before}; after {result.after}\n")
        details.append(table(KIND_HEADERS, result.kind_rows()))
        print(f"done {kind} in {result.seconds:.0f} s", file=sys.stderr)
    print(
        f"\n{args.requests:,} requests per server, {args.concurrency} at a time, "
        f"kinds in turn: {', '.join(KINDS)}\n"
    )
    print(table(HEADERS, rows))
    print("\n".join(details))
    for problem in problems[:50]:
        print("PROBLEM", problem)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
