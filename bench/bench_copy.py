"""PostgreSQL CSV exports: COPY ... TO STDOUT against the Python paths.

1,000,000 rows x 8 columns of the ``Record`` table (two integers, three
texts, a text with a comma that every row quotes, a decimal, a date), on
PostgreSQL, four ways (see ``bench/copy_views.py``):

- streamkit (COPY): ``stream_csv()`` of the QuerySet / ``CSVStreamView``;
- streamkit (Python path): the same with ``STREAMKIT_CSV_COPY = False``;
- Django's documented pattern: ``Echo`` + ``csv.writer`` over
  ``values_list().iterator()``;
- raw COPY: a hand-written generator over psycopg's ``cursor.copy()``
  yielding 64 KiB (no escaping, no shaping: the floor).

Table 1 reads the chunks in process; table 2 through gunicorn (one sync
worker) with httpx reading to the end. The variants run in turn, ``--repeat``
rounds (5); each total is the median, first byte and peak RSS growth the
worst, and the last column the lowest and highest ratio to streamkit (COPY)
seen in one round. The two streamkit variants must give the same bytes.

    flock /tmp/streamkit-heavy.lock .venv/django52/bin/python -m bench.bench_copy
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bench._harness import Measure, measure, mib, table
from bench.bench_csv import interleaved, moved, seed
from tests.support.servers import serve

SETTINGS = "bench.copy_settings"


class Digest:
    """Bytes read: their count and hash."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0


def _read(chunks: Iterable[bytes | str], digest: Digest | None = None) -> Measure:
    start = time.perf_counter()
    first = None
    size = 0
    for chunk in chunks:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        if first is None:
            first = time.perf_counter() - start
        size += len(data)
        if digest is not None:
            digest.hash.update(data)
    total = time.perf_counter() - start
    if digest is not None:
        digest.size = size
    return Measure(first or total, total, size, 0)


def in_process_table(rows: int, repeat: int) -> None:
    import django

    django.setup()
    from django.test import override_settings

    from bench.copy_views import FIELDS, raw_copy_chunks, records
    from bench.csv_views import Echo
    from django_streamkit import stream_csv

    class Request:
        GET = {"n": str(rows)}

    def queryset():  # type: ignore[no-untyped-def]
        return records(Request()).values_list(*FIELDS)  # type: ignore[arg-type]

    digests = {"copy": Digest(), "python": Digest()}

    def copy() -> Measure:
        return _read(stream_csv(queryset(), header=FIELDS), digests["copy"])  # type: ignore[arg-type]

    def python() -> Measure:
        with override_settings(STREAMKIT_CSV_COPY=False):
            chunks = stream_csv(queryset(), header=FIELDS)
        return _read(chunks, digests["python"])  # type: ignore[arg-type]

    def documented() -> Measure:
        writer = csv.writer(Echo())
        lines = (writer.writerow(row) for row in queryset().iterator())
        return _read(lines)

    def raw() -> Measure:
        return _read(raw_copy_chunks(rows))

    runs: dict[str, Callable[[], Measure]] = {
        "streamkit stream_csv (COPY)": copy,
        "streamkit stream_csv (Python path)": python,
        "Django docs: Echo + csv.writer over .iterator()": documented,
        "raw COPY generator, 64 KiB": raw,
    }
    results, spread = interleaved(runs, repeat)
    assert digests["copy"].hash.digest() == digests["python"].hash.digest(), (
        "COPY and the Python path wrote different bytes"
    )
    _print(
        f"{rows:,} rows x 8 columns on PostgreSQL, chunks read in process",
        results,
        spread,
        repeat,
        rss=False,
    )


def server_table(rows: int, repeat: int) -> None:
    variants = {
        "CSVStreamView (COPY)": "/bench/copy",
        "CSVStreamView (Python path)": "/bench/python",
        "Django docs: Echo + csv.writer over .iterator()": "/bench/django",
        "raw COPY view, 64 KiB chunks": "/bench/raw",
    }
    with serve("gunicorn", settings=SETTINGS, extra_env=_env(rows)) as server:
        runs: dict[str, Callable[[], Measure]] = {
            label: lambda u=url: measure(server, f"{u}?n={rows}", warmup=f"{u}?n=1000")
            for label, url in variants.items()
        }
        results, spread = interleaved(runs, repeat)
    sizes = {results[label].size for label in list(variants)[:2]}
    assert len(sizes) == 1, f"the two streamkit paths differ in size: {sizes}"
    _print(
        f"{rows:,} rows x 8 columns on PostgreSQL through gunicorn "
        "(1 sync worker), httpx reading to the end",
        results,
        spread,
        repeat,
        rss=True,
    )


def _print(
    title: str,
    results: dict[str, Measure],
    spread: dict[str, tuple[float, float]],
    repeat: int,
    *,
    rss: bool,
) -> None:
    labels = list(results)
    ours, raw = results[labels[0]], results[labels[-1]]
    headers = ["variant", "first byte", "total"]
    headers += ["peak RSS growth"] if rss else []
    headers += ["vs streamkit (COPY)", "ratio in a round", "vs raw COPY"]
    lines = []
    for label, m in results.items():
        line = [label, f"{m.first_byte * 1000:.0f} ms", f"{m.total:.2f} s"]
        line += [mib(m.rss_growth)] if rss else []
        line += [
            f"{m.total / ours.total:.2f}x",
            moved(spread[label]),
            f"{m.total / raw.total:.2f}x",
        ]
        lines.append(line)
    print(f"\n{title}; variants interleaved, median of {repeat} rounds\n")
    print(table(headers, lines))
    python, django = results[labels[1]], results[labels[2]]
    print(
        f"\nCOPY takes {ours.total / raw.total:.2f}x raw COPY's time "
        f"(target <= 1.5x), is {python.total / ours.total:.1f}x faster than the "
        f"Python path and {django.total / ours.total:.1f}x faster than Django's "
        "pattern (target >= 10x)."
    )


def _env(rows: int) -> dict[str, str]:
    return {"STREAMKIT_TEST_PGSERVERDB": f"streamkit_bench_{rows}"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["process", "server"])
    args = parser.parse_args()
    env = _env(args.rows)
    seed(SETTINGS, args.rows, env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    if args.only != "server":
        in_process_table(args.rows, args.repeat)
    if args.only != "process":
        server_table(args.rows, args.repeat)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
