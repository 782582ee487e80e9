"""Soak: 10,000 streamed requests of mixed kinds, 50 at a time, a third of them
cut off at a random point, against gunicorn (gthread) and uvicorn on 127.0.0.1.
Afterwards: file descriptors, threads and database connections back to their
baseline, every completed body byte-exact, every cut-off source's finally run.

    .venv/django52/bin/python -m bench.soak [--requests N]
"""

from __future__ import annotations

import argparse
import sys

from bench._harness import table
from tests.servers import serve
from tests.soak import HEADERS, KINDS, soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    rows = []
    problems = []
    for kind in ("gthread", "uvicorn"):
        with serve(kind) as server:
            result = soak(
                server,
                requests=args.requests,
                concurrency=args.concurrency,
                time_limit=900,
            )
        rows.append(result.summary_row(kind))
        problems += [f"{kind}: {p}" for p in result.leaks()]
        problems += [f"{kind}: finally missing for {t}" for t in result.missing_finally]
        problems += [f"{kind}: {c}" for c in result.corrupt]
        problems += [f"{kind}: {e}" for e in result.errors[:20]]
        print(
            f"done {kind}: before {result.before}; after {result.after}",
            file=sys.stderr,
        )
    print(f"\nkinds: {', '.join(KINDS)}; concurrency {args.concurrency}\n")
    print(table(HEADERS, rows))
    for problem in problems:
        print("PROBLEM", problem)


if __name__ == "__main__":
    main()
