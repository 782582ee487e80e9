"""Streamed JSON: django-streamkit vs what Django and DRF users write today.

A 1,000,000-row table of 8 columns (``Record``), on SQLite and on PostgreSQL,
served by gunicorn (one sync worker) and read to the end by a real HTTP
client:

- ``JSONStreamView`` with its defaults;
- ``JsonResponse(list(qs.values()), safe=False)``, the usual Django way;
- DRF's ``ListAPIView`` with a ``ModelSerializer`` (no pagination);
- the same view with ``StreamingListMixin``;
- a ``ModelSerializer`` made for every row (``Serializer(obj).data`` in a
  generator), the obvious way to serialise rows one at a time, which
  ``StreamingListMixin`` avoids by reusing one serializer (run once, on
  ``--per-row-rows`` rows, 20,000 by default).

DRF serialises a row in Python, field by field, about 8x slower than the
rest, so the DRF variants read ``--drf-rows`` rows (200,000 by default); the
table gives every variant's time per row so they compare across row counts.

The variants of each group run in turn, ``--repeat`` rounds (5), so load on
the shared machine hits them alike; each total is the median, each first
byte and peak RSS growth the worst, and the last column is the lowest and
highest ratio to the group's first variant seen in a round.

    flock /tmp/streamkit-heavy.lock .venv/django52/bin/python -m bench.bench_json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bench._harness import Measure, measure, mib, table
from bench.bench_csv import CACHE, interleaved, moved, seed
from tests.support.servers import serve

STREAMKIT = "JSONStreamView (defaults)"
DJANGO = "JsonResponse(list(qs.values()), safe=False)"
DRF = "DRF ListAPIView + ModelSerializer"
MIXIN = "DRF + StreamingListMixin"
PER_ROW = "a ModelSerializer per row, streamed"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--drf-rows", type=int, default=200_000)
    parser.add_argument("--per-row-rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["SQLite", "PostgreSQL"])
    args = parser.parse_args()
    rows, drf_rows = args.rows, min(args.drf_rows, args.rows)
    per_row_rows = min(args.per_row_rows, drf_rows)
    CACHE.mkdir(exist_ok=True)
    databases = [
        (
            "SQLite",
            "bench.json_settings",
            {"STREAMKIT_TEST_SQLITE": str(CACHE / f"records-{rows}.sqlite3")},
        ),
        (
            "PostgreSQL",
            "bench.json_settings_pg",
            {"STREAMKIT_TEST_PGSERVERDB": f"streamkit_bench_{rows}"},
        ),
    ]
    lines, summary = [], []
    for db, settings, env in databases:
        if args.only and db != args.only:
            continue
        seed(settings, rows, env)
        with serve("gunicorn", settings=settings, extra_env=env) as server:

            def run(url: str, n: int) -> Callable[[], Measure]:
                return lambda: measure(server, f"{url}?n={n}", warmup=f"{url}?n=1000")

            ours, ours_spread = interleaved(
                {
                    STREAMKIT: run("/bench/json/streamkit", rows),
                    DJANGO: run("/bench/json/django", rows),
                },
                args.repeat,
            )
            drf, drf_spread = interleaved(
                {
                    DRF: run("/bench/json/drf", drf_rows),
                    MIXIN: run("/bench/json/drf-streaming", drf_rows),
                    PER_ROW: run("/bench/json/drf-per-row", per_row_rows),
                },
                args.repeat,
                once={PER_ROW},
            )
        counts = {STREAMKIT: rows, DJANGO: rows, PER_ROW: per_row_rows}
        for results, spread in [(ours, ours_spread), (drf, drf_spread)]:
            first = next(iter(results.values()))
            first_n = counts.get(next(iter(results)), drf_rows)
            for label, m in results.items():
                n = counts.get(label, drf_rows)
                lines.append(
                    [
                        db,
                        label,
                        f"{n:,}",
                        f"{m.first_byte * 1000:.0f} ms",
                        f"{m.total:.2f} s",
                        f"{m.total / n * 1e6:.2f} us",
                        mib(m.rss_growth),
                        f"{m.total / first.total:.2f}x" if n == first_n else "",
                        moved(spread[label]) if n == first_n else "",
                    ]
                )
        sk, dj, own, mixin = ours[STREAMKIT], ours[DJANGO], drf[DRF], drf[MIXIN]
        summary.append(
            f"{db}: JSONStreamView is {dj.total / sk.total:.1f}x faster than "
            f"JsonResponse(list(...)) (target >= 3x), first byte "
            f"{sk.first_byte * 1000:.0f} ms, peak RSS growth {mib(sk.rss_growth)} "
            f"(< 30 MiB; JsonResponse: {mib(dj.rss_growth)}). StreamingListMixin: "
            f"first byte {mixin.first_byte * 1000:.0f} ms (target < 100 ms), "
            f"{mixin.total / own.total:.2f}x DRF's own total (target <= 1.1x), "
            f"peak RSS growth {mib(mixin.rss_growth)} (< 30 MiB; DRF's "
            f"ListAPIView: {mib(own.rss_growth)} for {drf_rows:,} rows); a "
            f"serializer per row takes "
            f"{drf[PER_ROW].total / per_row_rows / (mixin.total / drf_rows):.1f}x "
            f"the mixin's time per row."
        )
    print(
        f"\nRecord table (8 columns), gunicorn (1 sync worker), httpx reading to "
        f"the end; variants interleaved, median of {args.repeat} rounds (a "
        f"serializer per row: 1 run, {per_row_rows:,} rows); the DRF group "
        f"reads {drf_rows:,} rows\n"
    )
    print(
        table(
            [
                "database",
                "variant",
                "rows",
                "first byte",
                "total",
                "per row",
                "peak RSS growth",
                "time vs group's first",
                "ratio in a round",
            ],
            lines,
        )
    )
    print()
    print("\n".join(summary))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
