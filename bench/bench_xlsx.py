"""Excel exports: XLSXStreamView vs the workbook writers Django projects use.

A QuerySet of the 1,000,000-row Record table (8 columns: integers, text, a
choice, a decimal, an aware datetime) on SQLite, served by gunicorn (one
sync worker) and read to the end by a real HTTP client:

- django-streamkit: ``XLSXStreamView`` with its defaults;
- openpyxl: a write-only workbook saved to a buffer, the buffer the response;
- xlsxwriter: ``constant_memory`` mode, closed into a buffer, the response;
- django-import-export: ``ModelResource.export()`` as XLSX.

The variants that build the whole file before the first byte can be given
fewer rows (``--import-export-rows``, default 100,000: a million rows of
django-import-export's in-memory dataset would take minutes and gigabytes);
the table says how many each wrote, and compares per-row times.

The variants run in turn, ``--repeat`` rounds (5), so load on the shared
machine hits them alike; each total is the median, each first byte and peak
RSS growth the worst (and the first byte's median), and the last column says
how far the per-row ratio to streamkit moved between rounds
(django-import-export runs ``--ie-repeat`` times, default 1). Before timing,
each variant's first 300 rows are read back with openpyxl and must hold the
same values.

    flock /tmp/streamkit-heavy.lock .venv/django52/bin/python -m bench.bench_xlsx
"""

from __future__ import annotations

import argparse
import datetime
import io
import statistics
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl

from bench._harness import Measure, measure, mib, table
from bench.bench_csv import CACHE, seed
from tests.support.servers import Server, serve


@dataclass(frozen=True)
class Variant:
    label: str
    url: str
    rows: int
    repeat: int


def read_back(server: Server, url: str) -> list[tuple[Any, ...]]:
    data = httpx.get(f"{server.url}{url}?n=300", timeout=120).content
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = []
    for row in sheet.iter_rows(min_row=2, values_only=True):
        cells = []
        for value in row:
            if isinstance(value, Decimal | float) and not isinstance(value, bool):
                value = round(float(value), 6)
            if isinstance(value, datetime.datetime):
                value = value.replace(tzinfo=None)
            cells.append(value)
        rows.append(tuple(cells))
    return rows


def run_all(
    server: Server, variants: list[Variant]
) -> tuple[dict[str, Measure], dict[str, tuple[float, float]], dict[str, float]]:
    rounds: dict[str, list[Measure]] = {v.label: [] for v in variants}
    for round_ in range(max(v.repeat for v in variants)):
        for v in variants:
            if round_ >= v.repeat:
                continue
            result = measure(server, f"{v.url}?n={v.rows}", warmup=f"{v.url}?n=1000")
            rounds[v.label].append(result)
            print(f"  {v.label}: {result.total:.2f} s", file=sys.stderr)
    ours = variants[0]
    medians: dict[str, Measure] = {}
    spread: dict[str, tuple[float, float]] = {}
    first_bytes: dict[str, float] = {}
    for v in variants:
        results = rounds[v.label]
        first_bytes[v.label] = statistics.median(m.first_byte for m in results)
        middle = sorted(results, key=lambda m: m.total)[len(results) // 2]
        medians[v.label] = Measure(
            first_byte=max(m.first_byte for m in results),
            total=statistics.median(m.total for m in results),
            size=middle.size,
            rss_growth=max(m.rss_growth for m in results),
        )
        ratios = [
            (m.total / v.rows) / (base.total / ours.rows)
            for m, base in zip(results, rounds[ours.label], strict=False)
        ]
        spread[v.label] = (min(ratios), max(ratios))
    return medians, spread, first_bytes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--import-export-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ie-repeat", type=int, default=1)
    args = parser.parse_args()
    rows, ie_rows = args.rows, min(args.import_export_rows, args.rows)
    repeat = args.repeat
    variants = [
        Variant(
            "XLSXStreamView (defaults)", "/bench/xlsx/streamkit", rows, args.repeat
        ),
        Variant(
            "openpyxl write-only, saved", "/bench/xlsx/openpyxl", rows, args.repeat
        ),
        Variant("xlsxwriter constant_memory", "/bench/xlsx/xlsxwriter", rows, repeat),
        Variant(
            "django-import-export XLSX",
            "/bench/xlsx/import-export",
            ie_rows,
            args.ie_repeat,
        ),
    ]
    CACHE.mkdir(exist_ok=True)
    env = {"STREAMKIT_TEST_SQLITE": str(CACHE / f"records-{rows}.sqlite3")}
    settings = "bench.xlsx_settings"
    seed(settings, rows, env)
    with serve("gunicorn", settings=settings, extra_env=env) as server:
        reference = read_back(server, variants[0].url)
        assert len(reference) == 300, len(reference)
        for v in variants[1:3]:
            assert read_back(server, v.url) == reference, f"{v.label}: other values"
        results, spread, first_bytes = run_all(server, variants)
    ours = results[variants[0].label]
    per_row = {v.label: results[v.label].total / v.rows for v in variants}
    print(
        f"\nQuerySet of Record (8 columns: int, 3 text, a choice, int, decimal, "
        f"aware datetime) on SQLite, gunicorn (1 sync worker), httpx reading to "
        f"the end; variants interleaved, median of {args.repeat} rounds "
        f"(import-export: {args.ie_repeat}); the last column is the lowest and "
        f"highest per-row ratio seen in a round\n"
    )
    print(
        table(
            [
                "variant",
                "rows",
                "first byte, median (worst)",
                "total",
                "µs/row",
                "peak RSS growth",
                "file",
                "per-row time vs streamkit",
                "ratio in a round",
            ],
            [
                [
                    v.label,
                    f"{v.rows:,}",
                    f"{first_bytes[v.label] * 1000:,.0f} ms "
                    f"({results[v.label].first_byte * 1000:,.0f} ms)",
                    f"{results[v.label].total:.2f} s",
                    f"{per_row[v.label] * 1e6:.1f}",
                    mib(results[v.label].rss_growth),
                    f"{results[v.label].size / 2**20:.1f} MiB",
                    f"{per_row[v.label] / per_row[variants[0].label]:.2f}x",
                    f"{spread[v.label][0]:.2f}-{spread[v.label][1]:.2f}x",
                ]
                for v in variants
            ],
        )
    )
    fastest = min(per_row[v.label] for v in variants[1:])
    print(
        f"\nXLSXStreamView: first byte {first_bytes[variants[0].label] * 1000:.0f} "
        f"ms, worst {ours.first_byte * 1000:.0f} ms (target < 100 ms), peak RSS "
        f"growth {mib(ours.rss_growth)} (target < 30 MiB), "
        f"{fastest / per_row[variants[0].label]:.1f}x faster per row than the "
        f"fastest other (target >= 2x)."
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
